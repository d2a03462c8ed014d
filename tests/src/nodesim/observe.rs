//! What the simulator sees happen, checked as it happens:
//!
//! - no double signing: an honest validator never sends two different votes,
//!   two timeouts with different high-QC rounds, or two different proposals
//!   for one round (across crashes and restarts), nor votes in a round after
//!   timing out of it;
//! - persist before send: every vote, timeout and proposal an honest node
//!   signs is covered, when it leaves the node, by the safety data its store
//!   holds (what a restart would read back), so a crash can never make it
//!   sign again what it already signed;
//! - agreement: no two nodes commit different blocks at one height, and each
//!   node's commits extend its previous one;
//! - the protocol's rules (`crate::oracle`):
//!   every honest vote obeys the 2-chain voting rule, every certificate an
//!   honest node sends verifies, and every honest commit is justified by a
//!   certified child in the next round, judged by a global oracle that sees
//!   every header, vote and certificate anyone sends (and each node's own
//!   votes, from its durable safety data); a commit of an ancestor is
//!   justified by the 2-chain commit that follows it;
//! - when each transaction first committed, and each node's last commit (for
//!   the latency and stall checks at the end of a run);
//! - the equivocations of twin pairs (held to no rule): two different votes
//!   or proposals for one round under one validator key, counted so a test
//!   can show the twins really equivocated.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cairn_consensus::{Message, SafetyData};
use cairn_driver::CommittedBlock;
use cairn_ledger::store::Store;
use cairn_ledger::Decode;
use cairn_ledger::{Committee, Hash, Height, Round};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::oracle::{Certificates, CommitOracle};

/// Records and checks; shared by the network, the nodes and the harness.
#[derive(Debug)]
pub struct Observer {
    honest: Vec<bool>,
    /// Per node: the validator whose key it holds, if it is one of a twin pair.
    twins: Vec<Option<u16>>,
    committee: Committee,
    inner: Mutex<Seen>,
}

#[derive(Debug)]
struct Seen {
    /// Every header, vote and certificate seen; judges honest commits.
    oracle: CommitOracle,
    /// Certificates honest nodes send must verify.
    certificates: Certificates,
    /// Per node: its commits since its last justified one, (height, round,
    /// hash), oldest first; a later justified commit covers them.
    unjustified: HashMap<usize, Vec<(Height, Round, Hash, String)>>,
    votes: BTreeMap<(u16, Round), Hash>,
    timeouts: BTreeMap<(u16, Round), Round>,
    proposals: BTreeMap<(u16, Round), Hash>,
    commits: BTreeMap<Height, Hash>,
    /// Per node: (height, hash, when) of its latest commit.
    tips: HashMap<usize, (Height, Hash, Instant)>,
    /// Transaction hash -> when it first committed.
    committed_txs: HashMap<Hash, Instant>,
    /// Highest committed height holding transactions.
    last_tx_height: Height,
    /// When honest nodes sent proposals and timeouts (the idle rule).
    busy: Vec<Instant>,
    /// Drivers that stopped by themselves: (node, why).
    stops: Vec<(usize, String)>,
    /// What twin pairs signed: (validator, round, is a vote) -> the votes'
    /// or proposals' block hashes.
    twin_signed: BTreeMap<(u16, Round, bool), BTreeSet<Hash>>,
    /// Twin messages that conflict with one signed before in their round.
    equivocations: u64,
    violations: Vec<String>,
}

impl Observer {
    /// An observer of validators `committee`; `honest[i]` says whether
    /// node `i` is held to the rules, `twins[i]` whose key it holds if it
    /// is one of a twin pair.
    pub fn new(honest: Vec<bool>, twins: Vec<Option<u16>>, committee: Committee) -> Observer {
        Observer {
            honest,
            twins,
            committee: committee.clone(),
            inner: Mutex::new(Seen {
                oracle: CommitOracle::new(committee.clone()),
                certificates: Certificates::new(committee),
                unjustified: HashMap::new(),
                votes: BTreeMap::new(),
                timeouts: BTreeMap::new(),
                proposals: BTreeMap::new(),
                commits: BTreeMap::new(),
                tips: HashMap::new(),
                committed_txs: HashMap::new(),
                last_tx_height: Height::default(),
                busy: Vec::new(),
                stops: Vec::new(),
                twin_signed: BTreeMap::new(),
                equivocations: 0,
                violations: Vec::new(),
            }),
        }
    }

    /// Whether node `node` is held to the rules.
    pub fn is_honest(&self, node: usize) -> bool {
        self.honest.get(node).copied().unwrap_or(false)
    }

    /// Node `from` sent `m` (gossip or direct); `durable` reads the safety
    /// data its store holds now (`None`: none yet).
    pub fn sent(&self, from: usize, m: &Message, durable: impl FnOnce() -> Option<SafetyData>) {
        let honest = self.is_honest(from);
        let mut s = self.inner.lock();
        s.see(m);
        if let Some(v) = self.twins.get(from).copied().flatten() {
            self.twin_sent(&mut s, v, m);
        }
        if !honest {
            return;
        }
        let durable = durable();
        if let Some(v) = persisted_before(from, m, durable.as_ref()) {
            s.violations.push(v);
        }
        if let Some(d) = &durable {
            s.see_durable(d);
        }
        s.rules(from, m);
        if matches!(m, Message::Proposal(_) | Message::Timeout(_)) {
            s.busy.push(Instant::now());
        }
        match m {
            Message::Vote(v) => {
                let key = (v.signer, v.round);
                if s.timeouts.contains_key(&key) && !s.votes.contains_key(&key) {
                    s.violations.push(format!(
                        "validator {} voted in round {} after timing out of it",
                        v.signer, v.round
                    ));
                }
                let first = *s.votes.entry(key).or_insert(v.block_hash);
                if first != v.block_hash {
                    s.violations.push(format!(
                        "validator {} signed two votes in round {}: {first} and {}",
                        v.signer, v.round, v.block_hash
                    ));
                }
            }
            Message::Timeout(t) => {
                let first = *s
                    .timeouts
                    .entry((t.signer, t.round))
                    .or_insert(t.high_qc.round);
                if first != t.high_qc.round {
                    s.violations.push(format!(
                        "validator {} signed two timeouts for round {} (high QC rounds {first} and {})",
                        t.signer, t.round, t.high_qc.round
                    ));
                }
            }
            Message::Proposal(p) => {
                let h = &p.block.header;
                let hash = p.block.hash();
                let first = *s.proposals.entry((from as u16, h.round)).or_insert(hash);
                if first != hash {
                    s.violations.push(format!(
                        "validator {from} proposed two blocks in round {}: {first} and {hash}",
                        h.round
                    ));
                }
            }
            Message::TimeoutCertificate(_) => {}
        }
    }

    /// A node of validator `v`'s twin pair sent `m`: counts it if it
    /// conflicts with what the pair signed before in that round (messages
    /// it relays, signed by others, do not count).
    fn twin_sent(&self, s: &mut Seen, v: u16, m: &Message) {
        let (round, hash, vote) = match m {
            Message::Vote(vote) if vote.signer == v => (vote.round, vote.block_hash, true),
            Message::Proposal(p)
                if self.committee.validators.get(v).map(|x| x.address)
                    == Some(p.block.header.proposer) =>
            {
                (p.block.header.round, p.block.hash(), false)
            }
            _ => return,
        };
        let signed = s.twin_signed.entry((v, round, vote)).or_default();
        if signed.insert(hash) && signed.len() > 1 {
            s.equivocations += 1;
        }
    }

    /// Twin messages seen that conflict with one their pair signed before
    /// in the same round (two votes, or two proposals).
    pub fn equivocations(&self) -> u64 {
        self.inner.lock().equivocations
    }

    /// Node `node` committed `c` (ignored for a node not held to the rules);
    /// `durable` is the safety data its store holds now.
    pub fn committed(&self, node: usize, c: &CommittedBlock, durable: Option<SafetyData>) {
        if !self.is_honest(node) {
            return;
        }
        let now = Instant::now();
        let h = &c.block.header;
        let hash = c.block.hash();
        let mut s = self.inner.lock();
        // What the node holds but may not have sent yet: a collector's own
        // vote and the QC it just formed from it.
        if let Some(d) = &durable {
            s.see_durable(d);
        }
        s.oracle.observe_header(h);
        s.judge_commit(node, h.height, h.round, hash);
        // Consensus and block sync both announce every block they commit
        // (RPC subscriptions are fed from this channel), so within one life
        // of a node each commit is the child of the last: a gap, a repeat,
        // a step back or a block that does not extend the last is a violation.
        if let Some((height, prev, _)) = s.tips.get(&node).copied() {
            if h.height != height.next() || h.parent_hash != prev {
                s.violations.push(format!(
                    "node {node} announced height {} ({hash}) after height {height} ({prev})",
                    h.height
                ));
            }
        }
        s.tips.insert(node, (h.height, hash, now));
        let first = *s.commits.entry(h.height).or_insert(hash);
        if first != hash {
            s.violations.push(format!(
                "agreement broken at height {}: {first} and {hash} (node {node})",
                h.height
            ));
        }
        for tx in &c.block.txs {
            s.committed_txs.entry(tx.hash()).or_insert(now);
        }
        if !c.block.txs.is_empty() {
            s.last_tx_height = s.last_tx_height.max(h.height);
        }
    }

    /// A node crashed: its next life starts from whatever its store holds.
    pub fn restarted(&self, node: usize) {
        self.inner.lock().tips.remove(&node);
    }

    /// Node `node` (re)started on a store whose tip is `height` (`hash`):
    /// its first announced commit must be that block's child. Commits it
    /// announced before are covered if that tip is justified (it crashed
    /// between committing a 2-chain and announcing its top).
    pub fn started(&self, node: usize, height: Height, hash: Hash) {
        let mut s = self.inner.lock();
        if height == Height(0) || s.oracle.unjustified(&hash).is_none() {
            s.unjustified.remove(&node);
        }
        s.tips.insert(node, (height, hash, Instant::now()));
    }

    /// The end of a run: a commit no justified commit of its node covered
    /// broke the 2-chain commit rule.
    pub fn finish_rules(&self) {
        let mut s = self.inner.lock();
        let mut left: Vec<_> = s.unjustified.drain().collect();
        left.sort_by_key(|(n, _)| *n);
        for (node, commits) in left {
            let Some((height, round, _, why)) = commits.last() else {
                continue;
            };
            let v = format!(
                "rule (2-chain commit): node {node} committed height {height} (round {round}) \
                 without a 2-chain ({} such commits not followed by a 2-chain commit): {why}",
                commits.len()
            );
            s.violations.push(v);
        }
    }

    /// When `tx` first committed anywhere.
    pub fn committed_at(&self, tx: &Hash) -> Option<Instant> {
        self.inner.lock().committed_txs.get(tx).copied()
    }

    /// How many proposals and timeouts honest nodes sent since `from`.
    pub fn busy_since(&self, from: Instant) -> usize {
        self.inner
            .lock()
            .busy
            .iter()
            .filter(|t| **t >= from)
            .count()
    }

    /// Highest committed height holding transactions.
    pub fn last_tx_height(&self) -> Height {
        self.inner.lock().last_tx_height
    }

    /// A digest of the chain committed anywhere (every height's block
    /// hash, in order): two runs of one seed must agree on it.
    pub fn chain_digest(&self) -> Hash {
        let s = self.inner.lock();
        let parts: Vec<&[u8]> = s.commits.values().map(|h| h.0.as_slice()).collect();
        Hash::tagged(b"nodesim-chain", &parts)
    }

    /// Highest height committed anywhere.
    pub fn max_height(&self) -> Height {
        let s = self.inner.lock();
        s.commits.keys().next_back().copied().unwrap_or_default()
    }

    /// Node `node`'s driver stopped with `why` (the crash policy).
    pub fn driver_stopped(&self, node: usize, why: String) {
        self.inner.lock().stops.push((node, why));
    }

    /// Drivers that stopped by themselves so far.
    pub fn stops(&self) -> Vec<(usize, String)> {
        self.inner.lock().stops.clone()
    }

    /// Records a violation found elsewhere.
    pub fn violation(&self, v: String) {
        self.inner.lock().violations.push(v);
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<String> {
        self.inner.lock().violations.clone()
    }
}

impl Seen {
    /// Feeds the oracle with an honest node's durable safety data: its last
    /// vote (a collector counts its own without sending it) and its high QC
    /// and TC (a QC it formed and committed on before sending it on).
    fn see_durable(&mut self, d: &SafetyData) {
        if let Some(vote) = &d.last_vote {
            self.oracle.observe_vote(vote, true);
        }
        self.oracle.observe_qc(&d.high_qc);
        if let Some(tc) = &d.high_tc {
            self.oracle.observe_qc(&tc.high_qc);
        }
    }

    /// Feeds the oracle with what a message carries (any sender).
    fn see(&mut self, m: &Message) {
        match m {
            Message::Proposal(p) => self.oracle.observe_header(&p.block.header),
            Message::Vote(v) => self.oracle.observe_vote(v, false),
            Message::Timeout(t) => self.oracle.observe_qc(&t.high_qc),
            Message::TimeoutCertificate(tc) => self.oracle.observe_qc(&tc.high_qc),
        }
    }

    /// The rules an honest node's message must obey: its vote the voting
    /// rule, every certificate in it verification.
    fn rules(&mut self, from: usize, m: &Message) {
        let mut bad = Vec::new();
        match m {
            Message::Vote(v) if usize::from(v.signer) == from => {
                if let Some(why) = self.oracle.voting_rule(v) {
                    bad.push(format!(
                        "rule (2-chain voting rule): node {from} votes in round {}: {why}",
                        v.round
                    ));
                }
            }
            Message::Vote(_) => {}
            Message::Proposal(p) => {
                let h = &p.block.header;
                if let Some(e) = self.certificates.qc(&h.justify) {
                    bad.push(format!(
                        "sends a proposal whose QC (round {}): {e}",
                        h.justify.round
                    ));
                }
                if let Some(e) = h
                    .timeout_cert
                    .as_ref()
                    .and_then(|tc| self.certificates.tc(tc))
                {
                    bad.push(format!("sends a proposal whose TC: {e}"));
                }
            }
            Message::Timeout(t) => {
                if let Some(e) = self.certificates.qc(&t.high_qc) {
                    bad.push(format!(
                        "sends a timeout whose high QC (round {}): {e}",
                        t.high_qc.round
                    ));
                }
            }
            Message::TimeoutCertificate(tc) => {
                if let Some(e) = self.certificates.tc(tc) {
                    bad.push(format!("sends a TC (round {}) that: {e}", tc.round));
                }
            }
        }
        for b in bad {
            let v = if b.starts_with("rule") {
                b
            } else {
                format!("rule (certificates verify): node {from} {b} does not verify")
            };
            self.violations.push(v);
        }
    }

    /// An honest commit: justified now by a certified child in the next
    /// round (and then covering the node's earlier commits, its ancestors),
    /// or left for a later justified commit of the node to cover.
    fn judge_commit(&mut self, node: usize, height: Height, round: Round, hash: Hash) {
        match self.oracle.unjustified(&hash) {
            None => {
                self.unjustified.remove(&node);
            }
            Some(why) => self
                .unjustified
                .entry(node)
                .or_default()
                .push((height, round, hash, why)),
        }
    }
}

/// The safety data `store` holds now (`None`: none yet, or unreadable).
pub fn durable(store: &Store) -> Option<SafetyData> {
    let bytes = store.safety().ok()??;
    SafetyData::from_bytes(&bytes).ok()
}

/// Persist before send: a violation if `m`, signed by node `from`, is for a
/// round its durable safety data does not yet cover (a crash now would let
/// it sign that round again).
fn persisted_before(from: usize, m: &Message, durable: Option<&SafetyData>) -> Option<String> {
    let (what, round) = match m {
        Message::Vote(v) if usize::from(v.signer) == from => ("vote", v.round),
        Message::Timeout(t) if usize::from(t.signer) == from => ("timeout", t.round),
        Message::Proposal(p) => ("proposal", p.block.header.round),
        _ => return None,
    };
    let (voted, timed_out) = durable.map_or((Round(0), Round(0)), |d| {
        (d.last_voted_round, d.highest_timeout_round())
    });
    let covered = match m {
        Message::Timeout(_) => timed_out >= round,
        _ => voted >= round,
    };
    (!covered).then(|| {
        format!(
            "persist before send: node {from} sent a {what} for round {round} before its \
             store held it (durable last voted round {voted}, highest timeout round {timed_out})"
        )
    })
}
