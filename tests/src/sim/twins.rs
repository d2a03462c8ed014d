//! A targeted, round-by-round network scheduler in the style of Twins (Bano
//! et al., "Twins: BFT Systems Made Robust").
//!
//! Why: random partitions on a wall clock seldom line up with the rounds in
//! which a safety rule matters, and Byzantine code tests only the attacks
//! someone thought of writing. The Twins method needs neither: up to f
//! validators run as two nodes holding the same key, both with honest cores,
//! and the network alone does the attacking. A twin pair split across groups
//! proposes two blocks and votes twice per round, exactly as an equivocating
//! validator would; cutting a round's leader, or the next leader (who collects
//! the round's votes), off with a minority leaves a QC or a proposal known to
//! a few nodes only. Whatever the cores do next is real protocol code.
//!
//! What is enumerated: a [`RoundConfig`] is a partition of all nodes into 2 or
//! 3 groups (every one, [`partitions`]) laid out around one round leader, the
//! round's own or the next one's ([`Target`]): slot 0 of the partition is a
//! node of that leader, slots 1.. the other nodes in index order. So the set
//! holds every split of every twin pair, and every placement of the leader:
//! alone, with a minority, with a quorum. Leaders come from the cores' own
//! view (leader reputation: the leader of a round depends on the parent's
//! recent QCs), read when the step is applied.
//!
//! A schedule is a sequence of configurations, one per round the honest nodes
//! enter (as their cores report), from a start round on; a step whose round
//! does not end within [`STALL_MS`] (no group has a quorum) gives way to the
//! next one. After the last step the network heals and the run's usual checks
//! follow (every safety invariant throughout, then liveness). The seed picks
//! the schedule: its first [`DEPTH`] steps are the seed's entry in a
//! deterministic enumeration of all `M^DEPTH` prefixes ([`enumerated`]: any
//! `M^DEPTH` consecutive seeds run each prefix once), the rest, the start
//! round and which twin stands for a twinned leader come from the seeded rng.

use cairn_consensus::leader;
use cairn_ledger::Round;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::network::NodeId;
use super::{Params, Sim, BASE_TIMEOUT_MS};
use crate::adversary::ByzState;

/// Steps of a schedule taken from the enumeration; the rest are random.
pub const DEPTH: usize = 2;
/// A step whose round has not ended after this long gives way to the next.
pub const STALL_MS: u64 = 6 * BASE_TIMEOUT_MS;
/// Multiplier mapping seeds to enumeration indices: a prime larger than any
/// configuration count, hence a unit modulo `M^DEPTH`, so the map is a bijection.
const SPREAD: u128 = 1_000_000_007;

/// The knobs of a Twins schedule (see [`Params::twins_rounds`]).
#[derive(Clone, Copy, Debug)]
pub struct TwinsRounds {
    /// Validators run as twin pairs (at most f).
    pub pairs: usize,
    /// Scheduled rounds before healing.
    pub rounds: usize,
}

/// Which leader a round's partition is laid out around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The leader of the round entered: where its proposal reaches.
    Current,
    /// The leader of the next round, to whom the round's votes go: who forms its QC.
    Next,
}

/// One round's network: `groups[s]` is the group of slot `s`; slot 0 is a
/// node of the target leader, slots 1.. the other nodes in index order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundConfig {
    /// Group per slot.
    pub groups: Vec<u8>,
    /// The leader in slot 0.
    pub target: Target,
}

impl RoundConfig {
    /// True if slot 0 (the target leader) is alone in its group.
    pub fn leader_alone(&self) -> bool {
        self.groups.iter().filter(|g| **g == self.groups[0]).count() == 1
    }
}

/// Every partition of `n` nodes into 2 or 3 non-empty groups, as restricted
/// growth strings (group numbers in order of first appearance), in
/// lexicographic order: S(n,2) + S(n,3) of them.
pub fn partitions(n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = vec![0u8; n];
    grow(&mut cur, 1, 0, &mut out);
    out
}

fn grow(cur: &mut Vec<u8>, at: usize, max: u8, out: &mut Vec<Vec<u8>>) {
    if at == cur.len() {
        if max >= 1 {
            out.push(cur.clone());
        }
        return;
    }
    for g in 0..=(max + 1).min(2) {
        cur[at] = g;
        grow(cur, at + 1, max.max(g), out);
    }
}

/// Every round configuration for `n` nodes: each partition with each target.
pub fn configs(n: usize) -> Vec<RoundConfig> {
    partitions(n)
        .into_iter()
        .flat_map(|groups| {
            [Target::Current, Target::Next].map(|target| RoundConfig {
                groups: groups.clone(),
                target,
            })
        })
        .collect()
}

/// The `depth` configuration indices (each below `m`) of schedule `seed`.
///
/// The seed is multiplied by a unit modulo `m^depth` (a bijection of
/// `0..m^depth`), read as `depth` base-`m` digits, and the first digit is
/// replaced by the sum of all digits modulo `m` (still a bijection). So
/// `m^depth` consecutive seeds visit every prefix exactly once, and seeds a
/// fixed stride apart (the campaign's rotation) still vary every step.
pub fn enumerated(seed: u64, m: usize, depth: u32) -> Vec<usize> {
    let m = m as u128;
    let space = m.pow(depth);
    let mut rest = (seed as u128 % space) * (SPREAD % space) % space;
    let mut digits: Vec<usize> = (0..depth)
        .map(|_| {
            let d = rest % m;
            rest /= m;
            d as usize
        })
        .collect();
    let sum: usize = digits.iter().sum();
    digits[0] = sum % m as usize;
    digits
}

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
        let all = configs(nodes);
        let depth = DEPTH.min(knobs.rounds) as u32;
        let mut picks = enumerated(seed, all.len(), depth);
        while picks.len() < knobs.rounds {
            picks.push(rng.gen_range(0..all.len()));
        }
        Schedule {
            steps: picks.into_iter().map(|k| all[k].clone()).collect(),
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
        let order = std::iter::once(first).chain((0..self.nodes.len()).filter(|&i| i != first));
        let mut groups = vec![0u8; self.nodes.len()];
        for (slot, i) in order.enumerate() {
            groups[i] = step.groups[slot];
        }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn partitions_are_all_splits_into_two_or_three_groups() {
        // Stirling numbers of the second kind: S(n,2) + S(n,3).
        for (n, want) in [(3, 3 + 1), (5, 15 + 25), (9, 255 + 3025)] {
            let ps = partitions(n);
            assert_eq!(ps.len(), want, "n = {n}");
            let distinct: BTreeSet<&Vec<u8>> = ps.iter().collect();
            assert_eq!(distinct.len(), want, "n = {n}: duplicates");
            for p in &ps {
                let groups: BTreeSet<u8> = p.iter().copied().collect();
                assert!((2..=3).contains(&groups.len()), "{p:?}");
            }
        }
    }

    #[test]
    fn configs_split_twins_and_isolate_leaders() {
        let all = configs(5);
        assert_eq!(all.len(), 2 * 40);
        // Slot 0 alone (the leader isolated), for both targets.
        for target in [Target::Current, Target::Next] {
            assert!(all.iter().any(|c| c.target == target && c.leader_alone()));
            // The leader with one other node (a minority of 5), the rest together.
            assert!(all
                .iter()
                .any(|c| c.target == target && c.groups == [0, 0, 1, 1, 1]));
        }
        // Any two slots (say, a twin pair) split, and together.
        for a in 0..5 {
            for b in a + 1..5 {
                assert!(all.iter().any(|c| c.groups[a] != c.groups[b]));
                assert!(all.iter().any(|c| c.groups[a] == c.groups[b]));
            }
        }
    }

    #[test]
    fn consecutive_seeds_run_every_prefix_once() {
        let m = configs(5).len();
        let space = (m * m) as u64;
        let prefixes: BTreeSet<Vec<usize>> = (0..space).map(|s| enumerated(s, m, 2)).collect();
        assert_eq!(prefixes.len() as u64, space);
        assert!(prefixes.iter().all(|p| p.iter().all(|d| *d < m)));
        // The campaign runs every 8th seed per scenario: steps still vary.
        let firsts: BTreeSet<usize> = (0..40).map(|k| enumerated(3 + 8 * k, m, 2)[0]).collect();
        let seconds: BTreeSet<usize> = (0..40).map(|k| enumerated(3 + 8 * k, m, 2)[1]).collect();
        assert!(
            firsts.len() > 20 && seconds.len() > 20,
            "{firsts:?} {seconds:?}"
        );
    }
}
