//! The Cairn node library (wired by the `cairn` binary).

pub mod mempool;
pub mod rpc;
