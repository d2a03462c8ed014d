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
//! - when each transaction first committed, and each node's last commit (for
//!   the latency and stall checks at the end of a run).

use std::collections::{BTreeMap, HashMap};

use cairn_consensus::{Message, SafetyData};
use cairn_driver::CommittedBlock;
use cairn_ledger::{Hash, Height, Round};
use parking_lot::Mutex;
use tokio::time::Instant;

/// Records and checks; shared by the network, the nodes and the harness.
#[derive(Debug)]
pub struct Observer {
    honest: Vec<bool>,
    inner: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
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
    /// Drivers that stopped by themselves: (node, why).
    stops: Vec<(usize, String)>,
    violations: Vec<String>,
}

impl Observer {
    /// An observer; `honest[v]` says whether validator `v` is held to the rules.
    pub fn new(honest: Vec<bool>) -> Observer {
        Observer {
            honest,
            inner: Mutex::new(Seen::default()),
        }
    }

    /// Node `from` sent `m` (gossip or direct); `durable` reads the safety
    /// data its store holds now (`None`: none yet).
    pub fn sent(&self, from: usize, m: &Message, durable: impl FnOnce() -> Option<SafetyData>) {
        if !self.honest.get(from).copied().unwrap_or(false) {
            return;
        }
        if let Some(v) = persisted_before(from, m, durable) {
            self.violation(v);
        }
        let mut s = self.inner.lock();
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

    /// Node `node` committed `c` (ignored for a node not held to the rules).
    pub fn committed(&self, node: usize, c: &CommittedBlock) {
        if !self.honest.get(node).copied().unwrap_or(false) {
            return;
        }
        let now = Instant::now();
        let h = &c.block.header;
        let hash = c.block.hash();
        let mut s = self.inner.lock();
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
    /// its first announced commit must be that block's child.
    pub fn started(&self, node: usize, height: Height, hash: Hash) {
        self.inner
            .lock()
            .tips
            .insert(node, (height, hash, Instant::now()));
    }

    /// When `tx` first committed anywhere.
    pub fn committed_at(&self, tx: &Hash) -> Option<Instant> {
        self.inner.lock().committed_txs.get(tx).copied()
    }

    /// Highest committed height holding transactions.
    pub fn last_tx_height(&self) -> Height {
        self.inner.lock().last_tx_height
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

/// Persist before send: a violation if `m`, signed by node `from`, is for a
/// round its durable safety data does not yet cover (a crash now would let
/// it sign that round again).
fn persisted_before(
    from: usize,
    m: &Message,
    durable: impl FnOnce() -> Option<SafetyData>,
) -> Option<String> {
    let (what, round) = match m {
        Message::Vote(v) if usize::from(v.signer) == from => ("vote", v.round),
        Message::Timeout(t) if usize::from(t.signer) == from => ("timeout", t.round),
        Message::Proposal(p) => ("proposal", p.block.header.round),
        _ => return None,
    };
    let (voted, timed_out) = durable().map_or((Round(0), Round(0)), |d| {
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
