//! Everything a core asks its node to do. The node performs outputs in order;
//! a [`Output::Persist`] must be durable (fsynced) before any later output is sent.

use cairn_ledger::{
    Block, BlockHeader, Hash, Height, QuorumCertificate, Round, Signature, Timeout,
    TimeoutCertificate, Vote,
};

use crate::error::ConsensusError;
use crate::message::Message;
use crate::safety::SafetyData;

/// One action for the node.
#[derive(Clone, Debug)]
pub enum Output {
    /// Make this safety data durable before sending anything that follows.
    Persist(SafetyData),
    /// Store this block durably (with the safety data that follows): we are
    /// about to vote for it, so it may become certified, and if every voter
    /// lost it on a crash nobody could extend the QC. Pass stored blocks above
    /// the committed height back to `Consensus::restore`.
    PersistBlock(Block),
    /// Send to every peer (proposals, timeouts).
    Broadcast(Message),
    /// Send a vote to one validator (the next round's leader).
    SendVote {
        /// Validator index of the recipient.
        to: u16,
        /// The vote.
        vote: Vote,
    },
    /// Send to one validator (helping it catch up: a proposal or TC it missed).
    Send {
        /// Validator index of the recipient.
        to: u16,
        /// The message.
        message: Message,
    },
    /// (Re)arm the single round timer, replacing any earlier one; fire `Input::Timer { round }`.
    ScheduleTimeout {
        /// The round it guards.
        round: Round,
        /// Delay from now.
        after_ms: u64,
    },
    /// We lead `round`: build a block with these fields and answer `Input::Payload`.
    RequestPayload(PayloadRequest),
    /// Check transactions, `tx_root` and the state root; answer `Input::BlockValidated`.
    ValidateBlock(Block),
    /// `block` is final (2-chain rule); commits arrive in height order.
    Commit {
        /// The committed block.
        block: Block,
        /// A QC certifying exactly this block.
        certificate: QuorumCertificate,
    },
    /// We lack this block (an ancestor of something certified); ask `from` first.
    FetchBlock {
        /// Block hash.
        hash: Hash,
        /// Validator index likely to have it.
        from: u16,
    },
    /// A validator signed two different things for one round.
    Equivocation(Evidence),
    /// An input was refused; the node may lower the sender's score.
    Rejected(ConsensusError),
}

/// The fields a leader's block must carry; the node fills in the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadRequest {
    /// The round being proposed in.
    pub round: Round,
    /// Parent height + 1.
    pub height: Height,
    /// The parent (the block `justify` certifies).
    pub parent_hash: Hash,
    /// The highest QC, certifying the parent.
    pub justify: QuorumCertificate,
    /// TC for `round - 1` when that round timed out.
    pub timeout_cert: Option<TimeoutCertificate>,
    /// The committed height the block's state root must describe.
    pub state_height: Height,
}

/// Proof that one validator signed two conflicting messages for a round.
// Rare and short-lived: size differences between variants do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Two proposals for one round by its leader.
    Proposals {
        /// First header and its proposal signature.
        first: Box<(BlockHeader, Signature)>,
        /// Second header and its proposal signature.
        second: Box<(BlockHeader, Signature)>,
    },
    /// Two votes for different blocks in one round.
    Votes {
        /// The first vote.
        first: Vote,
        /// The conflicting vote.
        second: Vote,
    },
    /// Two timeouts for one round naming different high QC rounds.
    Timeouts {
        /// The first timeout.
        first: Box<Timeout>,
        /// The conflicting timeout.
        second: Box<Timeout>,
    },
}

impl Evidence {
    /// The round both messages are for.
    pub fn round(&self) -> Round {
        match self {
            Evidence::Proposals { first, .. } => first.0.round,
            Evidence::Votes { first, .. } => first.round,
            Evidence::Timeouts { first, .. } => first.round,
        }
    }
}
