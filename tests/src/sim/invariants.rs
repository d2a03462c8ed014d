//! Invariants checked on every run, over honest validators only:
//!
//! - agreement: no two honest nodes commit different blocks at one height;
//! - no double signing: an honest validator never signs two different votes or
//!   two different timeouts for one round, nor votes in a round after timing
//!   out of it — across restarts (observed on every signed output and persist);
//! - each node's committed chain links by parent hash, each block's QC
//!   verifies and certifies it, every committed transaction is validly signed,
//!   and each committed state root is the one the node's own state gives;
//! - liveness after healing is checked by the driver (see `mod.rs`);
//! - the protocol's rules themselves (2-chain commits, persist before send,
//!   the safety data encoding, certificates that verify): [`Rules`].

use std::collections::{BTreeMap, BTreeSet};

use cairn_consensus::SafetyData;
use cairn_ledger::{Block, Committee, Hash, Height, QuorumCertificate, Round, Timeout, Vote};

use super::rules::Rules;

/// Records what honest validators signed and committed; collects violations.
#[derive(Debug)]
pub struct Checker {
    committee: Committee,
    honest: Vec<bool>,
    commits: BTreeMap<Height, Hash>,
    votes: BTreeMap<(u16, Round), Hash>,
    timeouts: BTreeMap<(u16, Round), Round>,
    checked_blocks: BTreeSet<Hash>,
    /// The rule checks and the global commit oracle.
    pub rules: Rules,
    /// Every invariant broken so far.
    pub violations: Vec<String>,
}

impl Checker {
    /// A checker; `honest[v]` says whether validator `v` is held to the invariants.
    pub fn new(committee: Committee, honest: Vec<bool>) -> Checker {
        Checker {
            rules: Rules::new(committee.clone()),
            committee,
            honest,
            commits: BTreeMap::new(),
            votes: BTreeMap::new(),
            timeouts: BTreeMap::new(),
            checked_blocks: BTreeSet::new(),
            violations: Vec::new(),
        }
    }

    fn is_honest(&self, v: u16) -> bool {
        self.honest.get(v as usize).copied().unwrap_or(false)
    }

    /// A vote an honest node signed (sent, or in persisted safety data).
    pub fn observe_vote(&mut self, vote: &Vote) {
        if !self.is_honest(vote.signer) {
            return;
        }
        let key = (vote.signer, vote.round);
        match self.votes.get(&key) {
            Some(h) if *h != vote.block_hash => self.violations.push(format!(
                "validator {} signed two votes in round {}: {} and {}",
                vote.signer, vote.round, h, vote.block_hash
            )),
            Some(_) => {}
            None => {
                if self.timeouts.contains_key(&key) {
                    self.violations.push(format!(
                        "validator {} voted in round {} after timing out of it",
                        vote.signer, vote.round
                    ));
                }
                self.votes.insert(key, vote.block_hash);
            }
        }
    }

    /// A timeout an honest node signed.
    pub fn observe_timeout(&mut self, t: &Timeout) {
        if !self.is_honest(t.signer) {
            return;
        }
        let key = (t.signer, t.round);
        match self.timeouts.get(&key) {
            Some(hq) if *hq != t.high_qc.round => self.violations.push(format!(
                "validator {} signed two timeouts for round {} (high QC rounds {} and {})",
                t.signer, t.round, hq, t.high_qc.round
            )),
            Some(_) => {}
            None => {
                self.timeouts.insert(key, t.high_qc.round);
            }
        }
    }

    /// Safety data an honest node persisted.
    pub fn observe_persist(&mut self, data: &SafetyData) {
        if let Some(v) = &data.last_vote {
            self.observe_vote(v);
        }
        if let Some(t) = &data.last_timeout {
            self.observe_timeout(t);
        }
    }

    /// A block an honest node committed, after `prev` (its previous commit).
    pub fn observe_commit(
        &mut self,
        node: usize,
        prev: &Block,
        block: &Block,
        cert: &QuorumCertificate,
        expected_state_root: Option<Hash>,
    ) {
        let h = &block.header;
        let hash = block.hash();
        let mut fail = |what: String| {
            self.violations
                .push(format!("node {node} committed height {}: {what}", h.height))
        };
        if h.height != prev.header.height.next() || h.parent_hash != prev.hash() {
            fail(format!(
                "does not extend its previous commit at height {}",
                prev.header.height
            ));
        }
        if expected_state_root != Some(h.state_root) {
            fail("state root differs from the node's executed state".into());
        }
        if !self.checked_blocks.contains(&hash) {
            if cert.block_hash != hash || cert.height != h.height || cert.round != h.round {
                fail("certificate is for another block".into());
            } else if let Err(e) = cert.verify(&self.committee) {
                fail(format!("certificate does not verify: {e}"));
            }
            if block.txs.iter().any(|t| t.verify().is_err()) {
                fail("holds a badly signed transaction".into());
            }
            self.checked_blocks.insert(hash);
        }
        match self.commits.get(&h.height) {
            Some(other) if *other != hash => self.violations.push(format!(
                "agreement broken at height {}: {} and {} (node {node})",
                h.height, other, hash
            )),
            Some(_) => {}
            None => {
                self.commits.insert(h.height, hash);
            }
        }
    }

    /// Highest height any honest node committed.
    pub fn max_committed(&self) -> Height {
        self.commits.keys().next_back().copied().unwrap_or_default()
    }
}
