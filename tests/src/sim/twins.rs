//! The Twins scheduler of the consensus simulator (Bano et al., "Twins:
//! BFT Systems Made Robust"): the shared, pure part ([`crate::twins`]: round
//! configurations, their enumeration, the schedule of a seed) run on the
//! simulator's event loop.
//!
//! A schedule is applied one configuration per round the honest nodes
//! enter (as their cores report), from a start round on; a step whose round
//! does not end within [`STALL_MS`] (no group has a quorum) gives way to the
//! next one. After the last step the network heals and the run's usual checks
//! follow (every safety invariant throughout, then liveness). The start
//! round and which twin stands for a twinned leader come from the seeded rng.

use cairn_consensus::leader;
use cairn_ledger::Round;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::network::NodeId;
use super::{Params, Sim, BASE_TIMEOUT_MS};
use crate::adversary::ByzState;
pub use crate::twins::{RoundConfig, Target, TwinsRounds};

/// A step whose round has not ended after this long gives way to the next.
pub const STALL_MS: u64 = 6 * BASE_TIMEOUT_MS;

/// The validators run as two nodes: one for [`Params::twins`], `pairs` for a
/// Twins schedule; never a Byzantine one.
pub(super) fn pick_twins(
    rng: &mut ChaCha8Rng,
    params: &Params,
    roles: &[Option<ByzState>],
) -> Vec<usize> {
    let n = params.validators;
    let mut twins = Vec::new();
    if params.twins {
        twins.push(rng.gen_range(0..n));
    }
    let pairs = params.twins_rounds.map_or(0, |t| t.pairs);
    assert!(pairs <= roles.iter().filter(|r| r.is_none()).count());
    while twins.len() < pairs {
        let v = rng.gen_range(0..n);
        if roles[v].is_none() && !twins.contains(&v) {
            twins.push(v);
        }
    }
    twins
}

/// A schedule being run.
#[derive(Debug)]
pub(super) struct Schedule {
    steps: Vec<RoundConfig>,
    /// Honest nodes must reach this round before the first step.
    start: Round,
    /// The next step to apply.
    next: usize,
    /// The round the last step was applied in, and when.
    applied: Option<(Round, u64)>,
    done: bool,
}

impl Schedule {
    /// Schedule `seed` for `nodes` nodes.
    pub(super) fn new(seed: u64, knobs: TwinsRounds, nodes: usize, rng: &mut ChaCha8Rng) -> Self {
        let steps = crate::twins::steps(seed, knobs, nodes, rng);
        Schedule {
            steps,
            start: Round(rng.gen_range(1..=4)),
            next: 0,
            applied: None,
            done: false,
        }
    }
}

impl Sim {
    /// After every event: applies the next step when an honest node enters a
    /// new round (or the current step has stalled), heals after the last.
    pub(super) fn twins_tick(&mut self) {
        let now = self.now;
        let Some(s) = &self.twins else {
            return;
        };
        if s.done {
            return;
        }
        if now >= self.params.chaos_ms {
            self.twins_heal();
            return;
        }
        let Some((node, round)) = self.leading_honest() else {
            return;
        };
        let due = match s.applied {
            None => round >= s.start,
            Some((r, at)) => round > r || now >= at + STALL_MS,
        };
        if !due {
            return;
        }
        if s.next == s.steps.len() {
            self.twins_heal();
        } else {
            self.twins_apply(node, round);
        }
    }

    fn twins_heal(&mut self) {
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!("t={} TWINS heal", self.now);
        }
        self.net.heal();
        if let Some(s) = &mut self.twins {
            s.done = true;
        }
    }

    /// The honest node in the highest round (the lowest index among ties).
    fn leading_honest(&self) -> Option<(NodeId, Round)> {
        let mut best: Option<(NodeId, Round)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if let (true, Some(core)) = (n.is_honest(), &n.core) {
                if best.is_none_or(|(_, r)| core.round() > r) {
                    best = Some((i, core.round()));
                }
            }
        }
        best
    }

    /// Partitions the network for `round` as the next step says, placing
    /// the target leader as seen by `node` (an honest node in that round).
    fn twins_apply(&mut self, node: NodeId, round: Round) {
        let Some(s) = &mut self.twins else {
            return;
        };
        let step = s.steps[s.next].clone();
        s.next += 1;
        s.applied = Some((round, self.now));
        self.stats.scheduled_rounds += 1;
        let leader = match step.target {
            Target::Current => self.leader_seen_by(node, round),
            Target::Next => self.next_leader_seen_by(node, round),
        };
        let mut holders: Vec<NodeId> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].validator == leader)
            .collect();
        let first = holders.remove(self.rng.gen_range(0..holders.len()));
        let groups = step.groups_by_node(first);
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!(
                "t={} TWINS round {round}: {:?} leader {leader} (node {first}), groups by node {groups:?}",
                self.now, step.target
            );
        }
        self.net.partition(groups);
    }

    /// The leader of `round` after `node`'s high QC: whom a proposal
    /// extending it must come from.
    fn leader_seen_by(&self, node: NodeId, round: Round) -> u16 {
        self.nodes[node]
            .core
            .as_ref()
            .and_then(|c| c.leader_of(round, c.high_qc()))
            .unwrap_or_else(|| self.committee.validators.leader(round))
    }

    /// The leader of `round + 1` after a block of `round` carrying `node`'s
    /// high QC and, if that QC is not for `round - 1`, its TC for `round - 1`
    /// (what the node would propose): where that block's votes go. The same
    /// rule as `Consensus::leader_after` on that block, which does not exist yet.
    fn next_leader_seen_by(&self, node: NodeId, round: Round) -> u16 {
        let n = &self.nodes[node];
        let Some(core) = &n.core else {
            return self.committee.validators.leader(round.next());
        };
        let hqc = core.high_qc();
        let tc = core
            .safety_data()
            .high_tc
            .as_ref()
            .filter(|tc| hqc.round.next() != round && tc.round.next() == round);
        let mut recent = vec![leader::Signers {
            qc: hqc.signatures.iter().map(|(i, _)| *i).collect(),
            tc: tc.map(|tc| tc.signatures.iter().map(|(i, _, _)| *i).collect()),
        }];
        let mut cursor = hqc.block_hash;
        while recent.len() < leader::WINDOW {
            let Some(b) = n.find_block(&cursor) else {
                break;
            };
            recent.push(leader::signers(&b.header));
            if b.header.height.0 == 0 {
                break;
            }
            cursor = b.header.parent_hash;
        }
        leader::elect(&self.committee.validators, round.next(), &recent)
    }
}
