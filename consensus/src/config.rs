//! What a core needs to run: the committee, its key (if a validator), timing
//! and the bounds on every buffer.

use cairn_ledger::{Committee, SecretKey};

/// Consensus configuration. Build with [`Config::new`], then adjust fields.
#[derive(Clone, Debug)]
pub struct Config {
    /// Chain id, genesis hash and validators.
    pub committee: Committee,
    /// This validator's key; `None` runs a follower that never signs.
    pub key: Option<SecretKey>,
    /// Round timeout with no failed rounds behind it.
    pub base_timeout_ms: u64,
    /// Ceiling of the exponential back-off.
    pub max_timeout_ms: u64,
    /// Messages for rounds more than this beyond ours are dropped.
    pub max_rounds_ahead: u64,
    /// Proposals held while their ancestors are fetched.
    pub max_pending_proposals: usize,
    /// Fetched blocks held until they connect to the tree.
    pub max_orphans: usize,
    /// Uncommitted blocks held in the block tree.
    pub max_tree_blocks: usize,
    #[allow(dead_code)]
    planted: Planted,
}

impl Config {
    /// Defaults suited to a LAN or a simulation: 1 s base timeout, 60 s ceiling.
    pub fn new(committee: Committee, key: Option<SecretKey>) -> Config {
        Config {
            committee,
            key,
            base_timeout_ms: 1_000,
            max_timeout_ms: 60_000,
            max_rounds_ahead: 100,
            max_pending_proposals: 32,
            max_orphans: 512,
            max_tree_blocks: 4_096,
            planted: Planted::default(),
        }
    }

    /// Rejects nonsense, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.base_timeout_ms == 0 {
            return Err("base_timeout_ms must be greater than 0".into());
        }
        if self.max_timeout_ms < self.base_timeout_ms {
            return Err(format!(
                "max_timeout_ms ({}) must be at least base_timeout_ms ({})",
                self.max_timeout_ms, self.base_timeout_ms
            ));
        }
        if self.max_rounds_ahead == 0 || self.max_pending_proposals == 0 || self.max_orphans == 0 {
            return Err(
                "max_rounds_ahead, max_pending_proposals and max_orphans must be > 0".into(),
            );
        }
        if self.max_tree_blocks < 16 {
            return Err("max_tree_blocks must be at least 16".into());
        }
        if let Some(key) = &self.key {
            if self.committee.validators.index_of(&key.address()).is_none() {
                return Err(format!(
                    "key {} is not in the validator set; run without a key to follow",
                    key.address()
                ));
            }
        }
        Ok(())
    }

    /// True if the planted `bug` is switched on (always false without the feature).
    #[allow(unused_variables)]
    pub(crate) fn has_bug(&self, bug: PlantedBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.planted.0 == Some(bug)
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            false
        }
    }

    /// Plants a known safety bug (test builds only) so the simulator can show it finds it.
    #[cfg(feature = "planted-bugs")]
    pub fn plant_bug(&mut self, bug: PlantedBug) {
        self.planted.0 = Some(bug);
    }
}

/// The planted bug, if any. Private so [`Config`] is only built through
/// [`Config::new`] whether or not the feature is on.
#[derive(Clone, Copy, Debug, Default)]
struct Planted(#[allow(dead_code)] Option<PlantedBug>);

/// Known bugs the simulator must detect (safety for a-c, liveness for d-e).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedBug {
    /// Vote for a block carrying a TC without checking it extends the TC's highest QC.
    VoteWithoutLock,
    /// Vote again in a round already voted (or timed out) in.
    VoteTwice,
    /// Commit a block as soon as it is certified (1-chain) instead of on a 2-chain.
    CommitOneChain,
    /// The old poisoned-vote weakness: tally votes by (round, block hash)
    /// only, the QC taking the height of the vote that completed it, and use
    /// the QC formed without verifying it. One vote for the right hash at a
    /// wrong height makes a QC that verifies for nobody (a liveness bug).
    TallyByHash,
    /// The old inflated-TC weakness: accept a TC whose entries are validly
    /// signed without checking its high QC is for the highest round they
    /// report, so one Byzantine entry claiming a round no QC backs leaves the
    /// next leader unable to propose (a liveness bug).
    TrustTcEntries,
}
