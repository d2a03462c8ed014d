//! Vote and timeout aggregation into certificates, with equivocation detection.
//!
//! Callers verify each message before adding it. Collections are keyed by
//! round and pruned as the round advances; callers bound the rounds they accept.
//!
//! A vote counts only towards the exact (block hash, height, round) it signs:
//! a QC is made of signatures over one message, so a validly signed vote with
//! the right hash and a wrong height must not join the others (it would make
//! a QC that verifies for nobody; one Byzantine voter could halt the chain).

use std::collections::BTreeMap;

use cairn_ledger::{
    Hash, Height, QuorumCertificate, Round, Signature, Timeout, TimeoutCertificate, ValidatorSet,
    Vote,
};

use crate::output::Evidence;

/// What adding a vote or timeout produced.
#[derive(Debug)]
pub struct Added<C> {
    /// The certificate, the first time a quorum is reached.
    pub cert: Option<C>,
    /// Proof the signer equivocated.
    pub evidence: Option<Evidence>,
}

impl<C> Default for Added<C> {
    fn default() -> Self {
        Added {
            cert: None,
            evidence: None,
        }
    }
}

/// What a vote signs besides its round: the block hash and height.
type Signed = (Hash, Height);

/// Signatures per signer.
type Signers = BTreeMap<u16, Signature>;

/// Votes per round, for the rounds whose next leader we are.
#[derive(Clone, Debug, Default)]
pub struct VoteCollector {
    /// First vote per (round, signer).
    first: BTreeMap<(Round, u16), Vote>,
    /// Signatures per round and exactly what they sign (block hash, height).
    tallies: BTreeMap<Round, BTreeMap<Signed, Signers>>,
    /// Rounds that already produced a QC.
    done: BTreeMap<Round, Hash>,
    /// Planted bug d: tally by block hash alone.
    by_hash_only: bool,
}

impl VoteCollector {
    /// A collector with planted bug d (see [`crate::PlantedBug::TallyByHash`]).
    pub(crate) fn tallying_by_hash() -> VoteCollector {
        VoteCollector {
            by_hash_only: true,
            ..VoteCollector::default()
        }
    }

    /// What a vote is counted towards: exactly what it signs.
    fn tally_key(&self, block_hash: Hash, height: Height) -> Signed {
        if self.by_hash_only {
            (block_hash, Height(0))
        } else {
            (block_hash, height)
        }
    }

    /// Adds a verified vote. A second, different vote from the same signer in
    /// a round is evidence and is not counted.
    pub fn add(&mut self, vote: Vote, vals: &ValidatorSet) -> Added<QuorumCertificate> {
        let key = (vote.round, vote.signer);
        if let Some(first) = self.first.get(&key) {
            let evidence = (first.block_hash != vote.block_hash).then(|| Evidence::Votes {
                first: first.clone(),
                second: vote,
            });
            return Added {
                cert: None,
                evidence,
            };
        }
        self.first.insert(key, vote.clone());
        if self.done.contains_key(&vote.round) {
            return Added::default();
        }
        let tally = self.tally_key(vote.block_hash, vote.height);
        let signers = self
            .tallies
            .entry(vote.round)
            .or_default()
            .entry(tally)
            .or_default();
        signers.insert(vote.signer, vote.signature);
        let power: u64 = signers
            .keys()
            .filter_map(|i| vals.get(*i).map(|v| v.power))
            .sum();
        if power < vals.quorum_power() {
            return Added::default();
        }
        let qc = QuorumCertificate {
            block_hash: vote.block_hash,
            height: vote.height,
            round: vote.round,
            signatures: signers.iter().map(|(i, s)| (*i, *s)).collect(),
        };
        self.done.insert(vote.round, vote.block_hash);
        self.tallies.remove(&vote.round);
        Added {
            cert: Some(qc),
            evidence: None,
        }
    }

    /// Voting power counted for `block_hash` at `height` in `round` (zero
    /// once the round has produced its QC).
    pub fn power_for(
        &self,
        round: Round,
        block_hash: &Hash,
        height: Height,
        vals: &ValidatorSet,
    ) -> u64 {
        self.tallies
            .get(&round)
            .and_then(|t| t.get(&self.tally_key(*block_hash, height)))
            .map_or(0, |s| {
                s.keys().filter_map(|i| vals.get(*i).map(|v| v.power)).sum()
            })
    }

    /// Forgets rounds below `round`.
    pub fn prune_below(&mut self, round: Round) {
        self.first = self.first.split_off(&(round, 0));
        self.tallies = self.tallies.split_off(&round);
        self.done = self.done.split_off(&round);
    }
}

/// Timeouts per round.
#[derive(Clone, Debug, Default)]
pub struct TimeoutCollector {
    by_round: BTreeMap<Round, BTreeMap<u16, Timeout>>,
    done: BTreeMap<Round, ()>,
}

impl TimeoutCollector {
    /// Adds a verified timeout; a second one from a signer naming another
    /// high-QC round is evidence.
    pub fn add(&mut self, timeout: Timeout, vals: &ValidatorSet) -> Added<TimeoutCertificate> {
        let round = timeout.round;
        let signers = self.by_round.entry(round).or_default();
        if let Some(first) = signers.get(&timeout.signer) {
            let evidence =
                (first.high_qc.round != timeout.high_qc.round).then(|| Evidence::Timeouts {
                    first: Box::new(first.clone()),
                    second: Box::new(timeout),
                });
            return Added {
                cert: None,
                evidence,
            };
        }
        signers.insert(timeout.signer, timeout);
        let power: u64 = signers
            .keys()
            .filter_map(|i| vals.get(*i).map(|v| v.power))
            .sum();
        if self.done.contains_key(&round) || power < vals.quorum_power() {
            return Added::default();
        }
        // The highest QC the signers hold proves the highest round they signed.
        let Some(high_qc) = signers
            .values()
            .map(|t| &t.high_qc)
            .max_by_key(|qc| qc.round)
            .cloned()
        else {
            return Added::default();
        };
        self.done.insert(round, ());
        let tc = TimeoutCertificate {
            round,
            high_qc,
            signatures: signers
                .iter()
                .map(|(i, t)| (*i, t.high_qc.round, t.signature))
                .collect(),
        };
        Added {
            cert: Some(tc),
            evidence: None,
        }
    }

    /// Voting power that has timed out of `round`.
    pub fn power(&self, round: Round, vals: &ValidatorSet) -> u64 {
        self.by_round.get(&round).map_or(0, |s| {
            s.keys().filter_map(|i| vals.get(*i).map(|v| v.power)).sum()
        })
    }

    /// Forgets rounds below `round`.
    pub fn prune_below(&mut self, round: Round) {
        self.by_round = self.by_round.split_off(&round);
        self.done = self.done.split_off(&round);
    }
}
