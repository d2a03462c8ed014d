//! Cairn's consensus: 2-chain HotStuff (Jolteon / DiemBFT v4 family) as a
//! deterministic state machine with no clock, randomness or I/O.
//!
//! The node feeds [`Input`]s to [`Consensus::handle`] and performs the
//! returned [`Output`]s in order; a [`Output::Persist`] must be durable before
//! any output after it is sent. See `DESIGN.md` §4.
//!
//! - [`safety`]: what may be signed (voting and timeout rules) and [`SafetyData`].
//! - [`pacemaker`]: rounds, timeouts and back-off.
//! - [`votes`]: aggregating votes and timeouts into certificates.
//! - [`block_tree`]: pending blocks and the 2-chain commit rule.
//! - [`leader`]: who leads a round (reputation from the chain's certificates).

pub mod block_tree;
pub mod config;
mod core;
pub mod error;
pub mod input;
pub mod leader;
pub mod message;
pub mod output;
pub mod pacemaker;
pub mod safety;
pub mod votes;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod testutil;

pub use crate::core::Consensus;
pub use config::{Config, PlantedBug};
pub use error::{ConsensusError, Result};
pub use input::Input;
pub use message::Message;
pub use output::{Evidence, Output, PayloadRequest};
pub use safety::SafetyData;
