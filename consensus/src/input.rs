//! Everything that can happen to a core: peer messages, timers, and the
//! node's answers to the core's requests.

use cairn_ledger::{Block, Hash, Round};

use crate::message::Message;

/// One event for [`crate::Consensus::handle`].
#[derive(Clone, Debug)]
pub enum Input {
    /// Start (or restart): schedules the first timer and, for the leader, asks for a payload.
    Start,
    /// A message from a peer, not yet verified.
    Message(Message),
    /// The timer from the last [`crate::Output::ScheduleTimeout`] fired.
    Timer {
        /// The round it was scheduled for.
        round: Round,
    },
    /// The block built for a [`crate::Output::RequestPayload`].
    Payload(Block),
    /// The application's verdict on a [`crate::Output::ValidateBlock`].
    BlockValidated {
        /// The block.
        hash: Hash,
        /// True if its transactions and state root check out.
        valid: bool,
    },
    /// A block returned for a [`crate::Output::FetchBlock`] (unverified).
    FetchedBlock(Block),
    /// Whether the mempool holds transactions not yet in a block (send on every change).
    TxsAvailable(bool),
}
