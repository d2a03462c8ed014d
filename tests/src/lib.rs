//! Cairn's integration-test support. Test entry points live in `tests/tests/`.
//!
//! - [`sim`]: the seeded, deterministic simulation of validators running the
//!   real consensus core over a faulty network, with Byzantine peers.

pub mod sim;
