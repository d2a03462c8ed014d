//! Cairn's integration-test support. Test entry points live in `tests/tests/`.
//!
//! - [`sim`]: the seeded, deterministic simulation of validators running the
//!   real consensus core over a faulty network, with Byzantine peers.
//! - [`testnet`]: real `cairn` processes on 127.0.0.1, driven over JSON-RPC.

pub mod sim;
pub mod testnet;
