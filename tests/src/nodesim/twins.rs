//! The Twins round scheduler on the production node (Bano et al., "Twins:
//! BFT Systems Made Robust"; the pure part, shared with the consensus
//! simulator, is [`crate::twins`]).
//!
//! During the fault phase it applies one [`RoundConfig`] per round the
//! honest nodes enter, from a start round on: it polls every running honest
//! node's `NodeStatus` (the round, its leader and the next round's leader,
//! as the production driver publishes them) on the paused tokio clock, and
//! when the leading honest node (the highest round, the lowest index among
//! ties) enters a new round, partitions the network as the next step says,
//! around the leader the step targets as that node sees it. A step whose
//! round does not end within [`STALL_TIMEOUTS`] round timeouts (no group
//! holds a quorum) gives way to the next. After the last step, or at the end
//! of the fault phase, the network heals.
//!
//! A step is applied when the leading node reports the new round, which is
//! after it entered it: a leader that enters a round and proposes in one
//! step has already sent its proposal to the old groups (the network decides
//! a message's recipients when it is sent), as in the consensus-only
//! simulator this scheduler came from, which ran it after every event.

use std::time::Duration;

use cairn_driver::NodeStatus;
use cairn_ledger::{Round, ValidatorSet};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::net::Net;
use super::node::SimNode;
use crate::twins::{RoundConfig, Target, TwinsRounds};

/// A step whose round has not ended after this many round timeouts gives
/// way to the next: long enough for a group holding a quorum to time out
/// into a TC (one timeout) and for the round after to be tried.
pub const STALL_TIMEOUTS: u32 = 3;
/// How often the scheduler reads the nodes' status (virtual time).
const POLL: Duration = Duration::from_millis(1);

/// A Twins schedule for one run.
#[derive(Debug)]
pub struct Schedule {
    steps: Vec<RoundConfig>,
    /// Honest nodes must reach this round before the first step.
    start: Round,
    /// Picks which node of a twin pair stands for a twinned leader.
    rng: ChaCha8Rng,
}

impl Schedule {
    /// Schedule `seed` for `nodes` nodes; its random parts from `rng`.
    pub fn new(seed: u64, knobs: TwinsRounds, nodes: usize, mut rng: ChaCha8Rng) -> Schedule {
        let steps = crate::twins::steps(seed, knobs, nodes, &mut rng);
        let start = Round(rng.gen_range(1..=4));
        Schedule { steps, start, rng }
    }

    /// Runs the schedule on `nodes` until its last step is done or `until`,
    /// then heals the network. `round_timeout` sets the stall bound;
    /// `validators` gives the leaders of a node that cannot name them.
    pub async fn run(
        mut self,
        nodes: &[SimNode],
        net: &Net,
        validators: &ValidatorSet,
        round_timeout: Duration,
        until: Instant,
    ) {
        let stall = round_timeout * STALL_TIMEOUTS;
        let mut next = 0;
        let mut applied: Option<(Round, Instant)> = None;
        while Instant::now() < until {
            if let Some(status) = leading_honest(nodes) {
                let now = Instant::now();
                let round = status.round;
                let due = match applied {
                    None => round >= self.start,
                    Some((r, at)) => round > r || now >= at + stall,
                };
                if due {
                    let Some(step) = self.steps.get(next).cloned() else {
                        break;
                    };
                    self.apply(&step, &status, nodes, net, validators);
                    next += 1;
                    applied = Some((round, now));
                }
            }
            tokio::time::sleep(POLL).await;
        }
        tracing::info!(target: "cairn_tests::twins", steps = next, "twins: heal");
        net.heal();
    }

    /// Partitions the network for `status.round` as `step` says.
    fn apply(
        &mut self,
        step: &RoundConfig,
        status: &NodeStatus,
        nodes: &[SimNode],
        net: &Net,
        validators: &ValidatorSet,
    ) {
        let round = status.round;
        let leader = match step.target {
            Target::Current => status.leader.unwrap_or_else(|| validators.leader(round)),
            Target::Next => status
                .next_leader
                .unwrap_or_else(|| validators.leader(round.next())),
        };
        let holders: Vec<usize> = nodes
            .iter()
            .filter(|n| n.validator == usize::from(leader))
            .map(|n| n.index)
            .collect();
        assert!(!holders.is_empty(), "no node holds validator {leader}");
        let first = holders[self.rng.gen_range(0..holders.len())];
        let groups = step.groups_by_node(first);
        tracing::info!(
            target: "cairn_tests::twins",
            "twins: round {round}: {:?} leader {leader} (node {first}), groups by node {groups:?}",
            step.target
        );
        net.partition(groups);
    }
}

/// `pairs` distinct validators of `n` run as twins, none of `byzantine`,
/// drawn from their own rng so the other scenarios draw as before.
pub fn pick(seed: u64, n: usize, pairs: usize, byzantine: &[usize]) -> Vec<usize> {
    assert!(
        pairs + byzantine.len() < n,
        "{pairs} twin pairs of {n} validators"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a1e_5000);
    let mut picked = Vec::new();
    while picked.len() < pairs {
        let v = rng.gen_range(0..n);
        if !picked.contains(&v) && !byzantine.contains(&v) {
            picked.push(v);
        }
    }
    picked
}

/// The status of the running honest node in the highest round (the lowest
/// index among ties).
fn leading_honest(nodes: &[SimNode]) -> Option<NodeStatus> {
    let mut best: Option<NodeStatus> = None;
    for n in nodes.iter().filter(|n| n.held_to_rules()) {
        let Some(up) = &n.up else { continue };
        let status = up.status.borrow().clone();
        if best.as_ref().is_none_or(|b| status.round > b.round) {
            best = Some(status);
        }
    }
    best
}
