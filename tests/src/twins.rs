//! Twins (Bano et al., "Twins: BFT Systems Made Robust"): the pure part of
//! the round-by-round network scheduler the node simulation runs.
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
//! node of that leader, slots 1.. the other nodes in index order
//! ([`RoundConfig::groups_by_node`]). So the set holds every split of every
//! twin pair, and every placement of the leader: alone, with a minority,
//! with a quorum. Leaders come from the cores' own view (leader reputation:
//! the leader of a round depends on the parent's recent QCs), read by the
//! simulator when it applies the step.
//!
//! A schedule ([`steps`]) is a sequence of configurations, one per round the
//! honest nodes enter; the simulator decides when a round has ended or
//! stalled. The seed picks the schedule: its first [`DEPTH`] steps are the
//! seed's entry in a deterministic enumeration of all `M^DEPTH` prefixes
//! ([`enumerated`]: any `M^DEPTH` consecutive seeds run each prefix once),
//! the rest come from the seeded rng.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Steps of a schedule taken from the enumeration; the rest are random.
pub const DEPTH: usize = 2;
/// Multiplier mapping seeds to enumeration indices: a prime larger than any
/// configuration count, hence a unit modulo `M^DEPTH`, so the map is a bijection.
const SPREAD: u128 = 1_000_000_007;

/// The knobs of a Twins schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// The group of each node (`result[node]`) with node `first` (one of
    /// the target leader's nodes) in slot 0 and the others, in index
    /// order, in slots 1...
    pub fn groups_by_node(&self, first: usize) -> Vec<u8> {
        let nodes = self.groups.len();
        assert!(first < nodes, "node {first} of {nodes}");
        let order = std::iter::once(first).chain((0..nodes).filter(|&i| i != first));
        let mut by_node = vec![0u8; nodes];
        for (slot, i) in order.enumerate() {
            by_node[i] = self.groups[slot];
        }
        by_node
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

/// The steps of schedule `seed` for `nodes` nodes: the first [`DEPTH`]
/// enumerated, the rest drawn from `rng`.
pub fn steps(
    seed: u64,
    knobs: TwinsRounds,
    nodes: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<RoundConfig> {
    let all = configs(nodes);
    let depth = DEPTH.min(knobs.rounds) as u32;
    let mut picks = enumerated(seed, all.len(), depth);
    while picks.len() < knobs.rounds {
        picks.push(rng.gen_range(0..all.len()));
    }
    picks.into_iter().map(|k| all[k].clone()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::SeedableRng;

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

    /// The leader's node takes slot 0's group, the others follow in index
    /// order: placing twin 4 (of validator 1) first moves every other
    /// node down a slot.
    #[test]
    fn slot_zero_is_the_chosen_leader_node() {
        let step = RoundConfig {
            groups: vec![0, 1, 1, 2, 2],
            target: Target::Next,
        };
        assert_eq!(step.groups_by_node(0), [0, 1, 1, 2, 2]);
        assert_eq!(step.groups_by_node(1), [1, 0, 1, 2, 2]);
        assert_eq!(step.groups_by_node(4), [1, 1, 2, 2, 0]);
    }

    /// A schedule is as long as asked, its prefix the seed's enumerated one.
    #[test]
    fn schedules_start_with_the_enumerated_prefix() {
        let knobs = TwinsRounds {
            pairs: 1,
            rounds: 8,
        };
        let all = configs(5);
        for seed in [0, 7, 1_234] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let s = steps(seed, knobs, 5, &mut rng);
            assert_eq!(s.len(), 8);
            let prefix: Vec<RoundConfig> = enumerated(seed, all.len(), DEPTH as u32)
                .into_iter()
                .map(|k| all[k].clone())
                .collect();
            assert_eq!(s[..DEPTH], prefix[..]);
        }
    }
}
