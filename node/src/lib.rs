//! The Cairn node: the `cairn` binary's library. Its seams are crates of
//! their own, under `node/`: `cairn_driver` (the consensus driver, block
//! sync, metrics), `cairn_network` (libp2p), `cairn_mempool` (pending
//! transactions and admission) and `cairn_audit` (the chain audit and proof
//! checks, linkable by a light client); this crate wires them.
//!
//! - [`cli`]: the command line (`init`, `testnet`, `start`, `dev`, `keys`).
//! - [`config`]: the `config.toml` file.
//! - [`node`]: startup: store, network, mempool, RPC, metrics and the driver.
//! - [`rpc`]: the JSON-RPC server.
//! - [`metrics`] (the `/metrics` endpoint), [`logging`]: operations.

pub mod cli;
pub mod config;
pub mod logging;
pub mod metrics;
pub mod node;
pub mod rpc;
