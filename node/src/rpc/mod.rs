//! The JSON-RPC server (DESIGN §6): jsonrpsee over HTTP and WebSocket on one
//! port, `GET /health`, limits from [`RpcConfig`]. It implements the
//! `cairn_rpc::CairnApiServer` trait over an [`RpcContext`]: the store for
//! committed data, the mempool for submissions and pending transactions, and
//! the [`cairn_driver::NodeStatus`] the consensus driver publishes.
//!
//! Errors: parameters are parsed here so that each fault has its own code
//! (`cairn_rpc::ErrorCode`), and mempool rejections map one-to-one to codes.

pub mod config;
pub mod context;
pub mod cors;
pub mod errors;
pub mod params;
pub mod query;
pub mod ratelimit;
pub mod server;
pub mod subscribe;

pub use config::RpcConfig;
pub use context::RpcContext;
pub use server::{start, RpcStartError};
