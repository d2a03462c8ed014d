//! Cairn's integration-test support. Test entry points live in `tests/tests/`.
//!
//! - [`sim`]: the seeded, deterministic simulation of validators running the
//!   real consensus core over a faulty network, with Byzantine peers.
//! - [`nodesim`]: the seeded, deterministic simulation of the production node
//!   (driver, mempool, block sync, RocksDB store) over a simulated network.
//! - [`testnet`]: real `cairn` processes on 127.0.0.1, driven over JSON-RPC.

pub mod nodesim;
pub mod sim;
pub mod testnet;
