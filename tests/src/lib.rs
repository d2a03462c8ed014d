//! Cairn's integration-test support. Test entry points live in `tests/tests/`.
//!
//! - [`nodesim`]: the seeded, deterministic simulation of the production node
//!   (driver, mempool, block sync, RocksDB store) over a simulated network,
//!   with crashes, partitions and Byzantine peers.
//! - [`adversary`]: the Byzantine validator the simulation runs: a node
//!   whose messages in and out are tampered with, behind a narrow interface.
//! - [`oracle`]: the protocol's rules the simulation checks every run
//!   against: the global 2-chain commit oracle, the voting rule, and the
//!   verification of every certificate an honest node sends.
//! - [`power`]: voting powers drawn so quorums sit at and around exactly
//!   2/3 of the total, for the unequal-power scenarios.
//! - [`twins`]: the Twins round schedule (Bano et al.) the simulation runs:
//!   round configurations, their enumeration, the steps of a seed.
//! - [`testnet`]: real `cairn` processes on 127.0.0.1, driven over JSON-RPC.
//! - [`hostile`]: a libp2p peer that speaks the node's protocols but sends
//!   whatever bytes a test wants (garbage, oversized, replayed, forged).

pub mod adversary;
pub mod hostile;
pub mod nodesim;
pub mod oracle;
pub mod power;
pub mod testnet;
pub mod twins;
