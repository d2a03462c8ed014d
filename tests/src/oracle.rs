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
//!
//! The oracle also judges each honest vote by the 2-chain voting rule
//! ([`CommitOracle::voting_rule`]), and [`Certificates`] checks that every
//! certificate an honest node sends or builds on verifies. The node
//! simulator runs these checks on what the production drivers send and
//! commit (`crate::nodesim::observe`).

use std::collections::{BTreeMap, BTreeSet};

use cairn_ledger::{
    BlockHeader, Committee, Encode, Hash, Height, QuorumCertificate, Round, TimeoutCertificate,
    Vote,
};

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

impl CommitOracle {
    /// Why an honest `vote` breaks the 2-chain voting rule, if it does: it
    /// must sign its block's own height and round, and the block must extend
    /// QC(r-1), or carry TC(r-1) and extend a QC at least as high as every
    /// high QC in it (the lock). A block never seen is someone else's
    /// problem: an honest node holds what it votes for.
    pub fn voting_rule(&self, vote: &Vote) -> Option<String> {
        let b = self.header(&vote.block_hash)?;
        let r = vote.round;
        if b.round != r || b.height != vote.height {
            return Some(format!(
                "the vote signs height {} round {r}, the block is height {} round {}",
                vote.height, b.height, b.round
            ));
        }
        if b.qc_round.next() == r {
            return None;
        }
        match b.tc {
            Some((tc_round, max)) if tc_round.next() == r && b.qc_round >= max => None,
            Some((tc_round, max)) if tc_round.next() == r => Some(format!(
                "the block extends QC round {} below its TC's highest high QC round {max}",
                b.qc_round
            )),
            _ => Some(format!(
                "the block extends QC round {} and carries no TC for round {}",
                b.qc_round,
                Round(r.0.saturating_sub(1))
            )),
        }
    }
}

/// Verifies certificates against one committee, remembering each answer
/// by the hash of the certificate's bytes (honest nodes send the same ones
/// again and again).
#[derive(Debug)]
pub struct Certificates {
    committee: Committee,
    verified: BTreeMap<Hash, Option<String>>,
}

impl Certificates {
    /// A checker for one committee.
    pub fn new(committee: Committee) -> Certificates {
        Certificates {
            committee,
            verified: BTreeMap::new(),
        }
    }

    /// Why `qc` does not verify, if it does not.
    pub fn qc(&mut self, qc: &QuorumCertificate) -> Option<String> {
        let committee = &self.committee;
        self.verified
            .entry(Hash::digest(&qc.to_bytes()))
            .or_insert_with(|| qc.verify(committee).err().map(|e| e.to_string()))
            .clone()
    }

    /// Why `tc` does not verify, if it does not.
    pub fn tc(&mut self, tc: &TimeoutCertificate) -> Option<String> {
        let committee = &self.committee;
        self.verified
            .entry(Hash::digest(&tc.to_bytes()))
            .or_insert_with(|| tc.verify(committee).err().map(|e| e.to_string()))
            .clone()
    }
}
