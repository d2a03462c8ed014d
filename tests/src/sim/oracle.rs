//! The global commit oracle: it sees every certificate that exists anywhere
//! in a run and judges each honest commit by the 2-chain commit rule, so a
//! core that commits too early is caught at that commit, not only if a fork
//! follows.
//!
//! A block counts as certified once the oracle has seen a valid QC for it in
//! any message sent by anyone (proposals, timeouts, TCs, fetch replies), or
//! votes from more than 2/3 of the power for it (sent by anyone, or persisted
//! by a core before it counts its own vote): a QC a leader forms and uses at
//! once is certified before any message carries it. Headers come from every
//! block sent, fetched, stored or committed. A commit of B is justified if B
//! has a certified child C with `C.parent == B` and `C.round == B.round + 1`.

use std::collections::{BTreeMap, BTreeSet};

use cairn_ledger::{BlockHeader, Committee, Encode, Hash, Height, QuorumCertificate, Round, Vote};

/// What a certified block is known by: the triple its votes sign.
type Certified = (Hash, Height, Round);

/// What the rules need of a block header.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    /// Its parent's hash.
    pub parent: Hash,
    /// Its height.
    pub height: Height,
    /// Its round.
    pub round: Round,
    /// The round of the QC it extends.
    pub qc_round: Round,
    /// The round of the TC it carries, and the highest high-QC round in it.
    pub tc: Option<(Round, Round)>,
}

/// Headers, certificates and vote tallies seen anywhere in a run.
#[derive(Debug)]
pub struct CommitOracle {
    committee: Committee,
    headers: BTreeMap<Hash, Seen>,
    /// Parent hash -> children seen.
    children: BTreeMap<Hash, BTreeSet<Hash>>,
    certified: BTreeSet<Certified>,
    /// Signers and their power per voted triple, until it is certified.
    tallies: BTreeMap<Certified, (BTreeSet<u16>, u64)>,
    /// QCs already judged, by the hash of their bytes: forged ones recur.
    judged_qcs: BTreeSet<Hash>,
}

impl CommitOracle {
    /// An oracle for one committee.
    pub fn new(committee: Committee) -> CommitOracle {
        let genesis = committee.genesis_hash;
        let mut certified = BTreeSet::new();
        certified.insert((genesis, Height(0), Round(0)));
        CommitOracle {
            committee,
            headers: BTreeMap::new(),
            children: BTreeMap::new(),
            certified,
            tallies: BTreeMap::new(),
            judged_qcs: BTreeSet::new(),
        }
    }

    /// A block header seen anywhere; its QC and TC's QC are certificates too.
    pub fn observe_header(&mut self, h: &BlockHeader) {
        let hash = h.hash();
        let seen = Seen {
            parent: h.parent_hash,
            height: h.height,
            round: h.round,
            qc_round: h.justify.round,
            tc: h
                .timeout_cert
                .as_ref()
                .map(|tc| (tc.round, tc.max_high_qc_round())),
        };
        if self.headers.insert(hash, seen).is_none() {
            self.children.entry(h.parent_hash).or_default().insert(hash);
            self.observe_qc(&h.justify);
            if let Some(tc) = &h.timeout_cert {
                self.observe_qc(&tc.high_qc);
            }
        }
    }

    /// A QC seen anywhere; it counts only if it verifies.
    pub fn observe_qc(&mut self, qc: &QuorumCertificate) {
        let key = (qc.block_hash, qc.height, qc.round);
        if self.certified.contains(&key) {
            return;
        }
        if !self.judged_qcs.insert(Hash::digest(&qc.to_bytes())) {
            return;
        }
        if qc.verify(&self.committee).is_ok() {
            self.certified.insert(key);
        }
    }

    /// A vote seen anywhere. `trusted` marks one an honest core just signed
    /// (no need to check its signature); others count only if they verify.
    pub fn observe_vote(&mut self, vote: &Vote, trusted: bool) {
        let key = (vote.block_hash, vote.height, vote.round);
        if self.certified.contains(&key)
            || self
                .tallies
                .get(&key)
                .is_some_and(|(s, _)| s.contains(&vote.signer))
        {
            return;
        }
        if !trusted && vote.verify(&self.committee).is_err() {
            return;
        }
        let vals = &self.committee.validators;
        let Some(power) = vals.get(vote.signer).map(|v| v.power) else {
            return;
        };
        let quorum = vals.quorum_power();
        let (signers, total) = self.tallies.entry(key).or_default();
        signers.insert(vote.signer);
        *total += power;
        if *total >= quorum {
            self.tallies.remove(&key);
            self.certified.insert(key);
        }
    }

    /// A header seen anywhere, by block hash.
    pub fn header(&self, block: &Hash) -> Option<&Seen> {
        self.headers.get(block)
    }

    /// Why committing `block` breaks the 2-chain commit rule, if it does.
    pub fn unjustified(&self, block: &Hash) -> Option<String> {
        let Some(b) = self.headers.get(block) else {
            return Some("its header was never seen in any message".into());
        };
        let children = self.children.get(block).into_iter().flatten();
        let mut next_round = Vec::new();
        for c in children {
            let Some(child) = self.headers.get(c) else {
                continue;
            };
            if child.round == b.round.next() {
                if self.certified.contains(&(*c, child.height, child.round)) {
                    return None;
                }
                next_round.push(*c);
            }
        }
        Some(format!(
            "no certified child in round {} ({} uncertified child(ren) in that round)",
            b.round.next(),
            next_round.len()
        ))
    }
}
