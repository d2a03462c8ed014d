//! The scenarios a seed runs on the real node, and the fault plan it draws.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::net::LinkConfig;
use crate::twins::TwinsRounds;

/// A family of runs; the seed picks the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// 4 validators under load, mild delays and a little loss; no faults.
    Calm4,
    /// 4 validators; one is cut off from the rest for most of the run: the
    /// other three (a quorum) must keep committing the load at speed.
    Isolate4,
    /// 4 validators; one crashes and comes back, mid-output if it lands there.
    Crash4,
    /// 4 validators: partitions, crashes, loss and duplication, then healing.
    Faults4,
    /// 7 validators: partitions, crashes, loss and duplication, then healing.
    Faults7,
    /// 7 validators: partitions and crashes as `Faults7`, and crashes aimed
    /// right after a node sends a vote or timeout it signed (`CRASH_AFTER_SEND`).
    Crashes7,
    /// 4 validators; one's disk starts failing every write: it must stop
    /// (the crash policy) with nothing half-written, and catch up once
    /// restarted on a good disk.
    DiskFails4,
    /// 4 validators on calm links, one Byzantine (the shared adversary of
    /// `crate::adversary` on top of a real driver): the other three must
    /// stay safe and commit the load.
    Byzantine4,
    /// 7 validators on calm links, two Byzantine.
    Byzantine7,
    /// Hunting ground for consensus bugs: 4 validators, one a Byzantine
    /// forker (it forks after timeouts and equivocates), rough links, and a
    /// network on the attacker's side that cuts honest leaders off right
    /// after they propose (`net::IsolateLeaders`) until the faults heal.
    Adversarial4,
    /// `Faults4`'s partitions, crashes and rough links, with one of the four
    /// validators Byzantine.
    ByzantineFaults4,
    /// 5 validators of unequal power drawn per seed so the quorum sits at or
    /// just around what the honest ones hold (`crate::power`), one
    /// Byzantine, calm links.
    Unequal5,
    /// 6 validators of unequal power, two Byzantine (a third of the
    /// validators, less than a third of the power), calm links.
    Unequal6,
    /// 10 validators of unequal power, three Byzantine, calm links.
    Power10,
    /// 4 validators, one run as twins (two nodes, one key, both honest
    /// drivers), random partitions of all five nodes and the links of
    /// `Faults4`, no crashes: the honest three must stay safe and commit.
    Twins4,
    /// 4 validators, one run as twins, under a Twins round schedule
    /// (`crate::twins`, `nodesim/twins.rs`): a partition per round laid
    /// out around that round's leader or the next one, 8 rounds, then heal.
    TwinsRounds4,
    /// 7 validators, two run as twins, under a Twins round schedule.
    TwinsRounds7,
}

/// Chance of a crash aimed just after each vote or timeout an honest node
/// sends, in `Crashes7`'s fault phase: a few such crashes per run.
const CRASH_AFTER_SEND: f64 = 0.01;

impl Scenario {
    /// The scenarios of a campaign, in rotation.
    pub const ALL: [Scenario; 17] = [
        Scenario::Calm4,
        Scenario::Isolate4,
        Scenario::Crash4,
        Scenario::Faults4,
        Scenario::Faults7,
        Scenario::Crashes7,
        Scenario::DiskFails4,
        Scenario::Byzantine4,
        Scenario::Byzantine7,
        Scenario::Adversarial4,
        Scenario::ByzantineFaults4,
        Scenario::Unequal5,
        Scenario::Unequal6,
        Scenario::Power10,
        Scenario::Twins4,
        Scenario::TwinsRounds4,
        Scenario::TwinsRounds7,
    ];

    /// The scenarios of the default (CI) campaign: all but `Isolate4`,
    /// which still fails about one seed in ten (3 of seeds 0..30; 11 before
    /// the first round after a timeout went by reputation, docs/DECISIONS.md):
    /// a chain already two rounds into timeouts when the validator is cut
    /// off reaches its plain-rotation turn with a 4 s back-off, and right
    /// after the heal the cut-off validator refuses transfers on its stale
    /// state until block sync catches it up. It runs in its own ignored
    /// test until fixed. `Byzantine4` and `Byzantine7` are out too: one
    /// seed in 200 of `Byzantine4` exceeds the liveness bound after heal, because a
    /// Byzantine vote collector can be elected collector again and again
    /// (docs/DECISIONS.md, "One Byzantine adversary for both simulators");
    /// the same holds for `Unequal5` and `Unequal6`, whose validators of
    /// unequal power include Byzantine ones. CI runs a few fixed seeds of
    /// each, the campaign is an ignored test. `Twins4` and `TwinsRounds4`
    /// are in (200 of 200 seeds each); `TwinsRounds7` is out: 2 seeds in
    /// 200 exceed the after-heal bound, the back-off of rounds the schedule
    /// stalled outliving the heal (docs/DECISIONS.md, "Twins on the
    /// production node"); it runs in an ignored test.
    pub const CI: [Scenario; 8] = [
        Scenario::Calm4,
        Scenario::Crash4,
        Scenario::Faults4,
        Scenario::Faults7,
        Scenario::DiskFails4,
        Scenario::Crashes7,
        Scenario::Twins4,
        Scenario::TwinsRounds4,
    ];

    /// Parses a name as printed by `{:?}`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|s| format!("{s:?}").eq_ignore_ascii_case(name))
    }

    /// Number of validators.
    pub fn validators(self) -> usize {
        match self {
            Scenario::Faults7
            | Scenario::Crashes7
            | Scenario::Byzantine7
            | Scenario::TwinsRounds7 => 7,
            Scenario::Unequal5 => 5,
            Scenario::Unequal6 => 6,
            Scenario::Power10 => 10,
            _ => 4,
        }
    }

    /// How many validators are Byzantine (at most f).
    pub fn byzantine(self) -> usize {
        match self {
            Scenario::Byzantine4
            | Scenario::Adversarial4
            | Scenario::ByzantineFaults4
            | Scenario::Unequal5 => 1,
            Scenario::Byzantine7 | Scenario::Unequal6 => 2,
            Scenario::Power10 => 3,
            _ => 0,
        }
    }

    /// How many validators run as twin pairs (at most f): each has a second
    /// node, after the validators' (node `validators() + k` is the twin of
    /// the `k`-th twinned validator), holding the same key and peer id.
    pub fn twin_pairs(self) -> usize {
        match self {
            Scenario::Twins4 | Scenario::TwinsRounds4 => 1,
            Scenario::TwinsRounds7 => 2,
            _ => 0,
        }
    }

    /// Nodes in the run: a validator's, plus a second one per twin pair.
    pub fn nodes(self) -> usize {
        self.validators() + self.twin_pairs()
    }

    /// The validators that may misbehave, for the liveness bounds: the
    /// Byzantine ones, and each twin pair, which equivocates by construction
    /// and so counts as one Byzantine validator.
    pub fn faulty(self) -> usize {
        self.byzantine() + self.twin_pairs()
    }

    /// The Twins round schedule run during the fault phase, if any.
    pub fn twins_rounds(self) -> Option<TwinsRounds> {
        let pairs = self.twin_pairs();
        match self {
            Scenario::TwinsRounds4 | Scenario::TwinsRounds7 => {
                Some(TwinsRounds { pairs, rounds: 8 })
            }
            _ => None,
        }
    }

    /// Whether voting power is drawn per seed (`crate::power`) rather than
    /// 1 for every validator.
    pub fn unequal_power(self) -> bool {
        matches!(
            self,
            Scenario::Unequal5 | Scenario::Unequal6 | Scenario::Power10
        )
    }

    /// The chance of a crash aimed right after each vote or timeout an
    /// honest node sends during the fault phase (restarting it soon).
    pub fn crash_after_send(self) -> f64 {
        match self {
            Scenario::Crashes7 => CRASH_AFTER_SEND,
            _ => 0.0,
        }
    }

    /// Whether the Byzantine validators always fork after timeouts and
    /// equivocate (`crate::adversary::ByzState::random`'s `forker`).
    pub fn forker(self) -> bool {
        self == Scenario::Adversarial4
    }

    /// The chance an honest leader is cut off as it proposes, during the
    /// fault phase (`net::IsolateLeaders`).
    pub fn isolate_leaders(self) -> f64 {
        match self {
            Scenario::Adversarial4 => 0.3,
            _ => 0.0,
        }
    }

    /// Links during the fault phase.
    pub fn links(self) -> LinkConfig {
        match self {
            Scenario::Adversarial4 => LinkConfig {
                min_delay_ms: 1,
                max_delay_ms: 80,
                loss: 0.03,
                dup: 0.1,
            },
            Scenario::Faults4
            | Scenario::Faults7
            | Scenario::Crashes7
            | Scenario::ByzantineFaults4
            | Scenario::Twins4 => LinkConfig {
                min_delay_ms: 1,
                max_delay_ms: 60,
                loss: 0.05,
                dup: 0.05,
            },
            _ => calm(),
        }
    }

    /// Draws the faults of one run: what happens when (ms from the start).
    pub fn plan(self, rng: &mut ChaCha8Rng, timing: &Timing) -> Vec<(u64, Fault)> {
        let n = self.validators();
        let mut plan = Vec::new();
        match self {
            // The Twins scheduler partitions round by round (`twins.rs`).
            Scenario::TwinsRounds4 | Scenario::TwinsRounds7 => {}
            Scenario::Twins4 => partitions(rng, self.nodes(), timing, &mut plan),
            Scenario::Calm4
            | Scenario::Byzantine4
            | Scenario::Byzantine7
            | Scenario::Adversarial4
            | Scenario::Unequal5
            | Scenario::Unequal6
            | Scenario::Power10 => {}
            Scenario::Isolate4 => {
                let victim = rng.gen_range(0..n);
                plan.push((timing.isolate_from_ms, Fault::Isolate(victim)));
            }
            Scenario::DiskFails4 => {
                let victim = rng.gen_range(0..n);
                let at = rng.gen_range(1_000..timing.chaos_ms / 2);
                plan.push((at, Fault::FailDisk(victim)));
                // Its operator replaces the disk and starts it again.
                plan.push((timing.chaos_ms - 2_000, Fault::Crash(victim)));
                plan.push((timing.chaos_ms - 1_000, Fault::Restart(victim)));
            }
            Scenario::Crash4 => {
                let victim = rng.gen_range(0..n);
                let at = rng.gen_range(500..timing.chaos_ms / 2);
                let back = rng.gen_range(at + 200..timing.chaos_ms);
                plan.push((at, Fault::Crash(victim)));
                plan.push((back, Fault::Restart(victim)));
            }
            Scenario::Faults4
            | Scenario::Faults7
            | Scenario::Crashes7
            | Scenario::ByzantineFaults4 => {
                partitions(rng, n, timing, &mut plan);
                for _ in 0..rng.gen_range(1..=2) {
                    let victim = rng.gen_range(0..n);
                    let at = rng.gen_range(0..timing.chaos_ms - 500);
                    let back = rng.gen_range(at + 100..timing.chaos_ms);
                    plan.push((at, Fault::Crash(victim)));
                    plan.push((back, Fault::Restart(victim)));
                }
            }
        }
        plan.push((timing.chaos_ms, Fault::HealAll));
        plan.sort_by_key(|(t, _)| *t);
        plan
    }
}

/// One or two random splits of `nodes` nodes into two groups, each healed
/// after a while, in the first half of the fault phase.
fn partitions(rng: &mut ChaCha8Rng, nodes: usize, timing: &Timing, plan: &mut Vec<(u64, Fault)>) {
    for _ in 0..rng.gen_range(1..=2) {
        let at = rng.gen_range(0..timing.chaos_ms / 2);
        let len = rng.gen_range(300..timing.chaos_ms / 2);
        let groups = (0..nodes).map(|_| rng.gen_range(0..2)).collect();
        plan.push((at, Fault::Partition(groups)));
        plan.push((at + len, Fault::Heal));
    }
}

/// Mild links: what a LAN does.
pub fn calm() -> LinkConfig {
    LinkConfig {
        min_delay_ms: 1,
        max_delay_ms: 20,
        loss: 0.01,
        dup: 0.02,
    }
}

/// One fault action.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Cut the network into groups.
    Partition(Vec<u8>),
    /// Cut one node off from all others.
    Isolate(usize),
    /// Reconnect everyone.
    Heal,
    /// Kill a node.
    Crash(usize),
    /// Start a killed node again.
    Restart(usize),
    /// Every later write of a node's store fails.
    FailDisk(usize),
    /// End of the fault phase: reconnect, restart everyone, calm links.
    HealAll,
}

/// The phases of a run (virtual milliseconds from its start).
#[derive(Clone, Debug)]
pub struct Timing {
    /// Faults happen before this.
    pub chaos_ms: u64,
    /// New load stops at this.
    pub load_until_ms: u64,
    /// The run ends at this (unfinished transfers are failures).
    pub end_ms: u64,
    /// When `Isolate4` cuts its victim off.
    pub isolate_from_ms: u64,
}

impl Timing {
    /// The timing of every scenario.
    pub fn standard() -> Timing {
        Timing {
            chaos_ms: 12_000,
            load_until_ms: 18_000,
            end_ms: 30_000,
            isolate_from_ms: 2_000,
        }
    }
}
