//! Why the core refused an input. Refusals are outputs ([`crate::Output::Rejected`]),
//! never panics: the node uses them to log and to lower the sending peer's score.

use cairn_ledger::{Hash, Round, VerifyError};

/// A message or answer the core refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// A signature, signer or certificate did not verify.
    #[error("{what} failed verification: {source}; drop it and lower the sender's score")]
    Invalid {
        /// Which message part.
        what: &'static str,
        /// The verification failure.
        source: VerifyError,
    },
    /// A certificate this node formed from messages it had verified one by
    /// one failed verification as a whole: a bug here, not the last sender's
    /// fault (so it never counts against a peer).
    #[error("{what} failed verification: {source}; this is a bug in the node, please report it")]
    FormedInvalid {
        /// Which certificate.
        what: &'static str,
        /// The verification failure.
        source: VerifyError,
    },
    /// The message is for a round too far beyond ours to buffer.
    #[error("round {round} is more than {max_ahead} rounds beyond our round {current}; dropped")]
    TooFarAhead {
        /// The message's round.
        round: Round,
        /// Our round.
        current: Round,
        /// The buffering window.
        max_ahead: u64,
    },
    /// The block was proposed by someone other than the round's leader.
    #[error(
        "proposal for round {round} is signed by validator {proposer:?}, not the leader {leader}"
    )]
    NotLeader {
        /// The round.
        round: Round,
        /// The proposer's index, if a validator at all.
        proposer: Option<u16>,
        /// The leader's index.
        leader: u16,
    },
    /// A vote sent to us although we do not lead the next round.
    #[error("vote for round {round} belongs to the leader of round {next}, which is not us")]
    NotNextLeader {
        /// The vote's round.
        round: Round,
        /// The round whose leader collects it.
        next: Round,
    },
    /// A field inconsistent with the protocol (wrong chain, bad height, ...).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// What is inconsistent.
        reason: &'static str,
    },
    /// A block that forks below our committed height.
    #[error("block {hash} at height {height} conflicts with the committed chain; ignored")]
    ConflictsWithCommitted {
        /// The block.
        hash: Hash,
        /// Its height.
        height: cairn_ledger::Height,
    },
    /// A bounded buffer is full; the message was dropped and will be re-fetched if needed.
    #[error("{buffer} is full ({cap} entries); dropped")]
    BufferFull {
        /// Which buffer.
        buffer: &'static str,
        /// Its cap.
        cap: usize,
    },
    /// The application's payload does not extend what the core asked for.
    #[error("payload does not match the request: {reason}; the node's block builder has a bug")]
    BadPayload {
        /// What differs.
        reason: &'static str,
    },
}

impl ConsensusError {
    /// True if the message itself proves its sender misbehaved: a signature,
    /// signer or certificate that does not verify. Every honest node reaches
    /// the same verdict on the same bytes (the committee is fixed), so an
    /// honest peer never relays such a message and the node may penalise
    /// whoever sent it. Stale, early, out-of-turn or unplaceable messages
    /// are not proof: an honest peer at another round may send them.
    pub fn blames_sender(&self) -> bool {
        matches!(self, ConsensusError::Invalid { .. })
    }
}

/// Result with [`ConsensusError`].
pub type Result<T> = std::result::Result<T, ConsensusError>;
