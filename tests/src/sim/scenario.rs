//! The scenarios a seed can run: how many validators, which faults, how long.

use super::network::NetConfig;
use super::twins::TwinsRounds;

/// Chance of a crash aimed just after each signed send, in crash scenarios:
/// a few such crashes per run.
const CRASH_AFTER_SEND: f64 = 0.01;

/// A named family of runs; the seed picks the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// 4 honest validators, mild delays, reordering, duplication, a little
    /// loss; ends with an idle period that must not spin, then one transaction.
    Calm4,
    /// 4 validators, one Byzantine, loss, partitions, crashes and restarts.
    Faults4,
    /// 7 validators, two Byzantine, loss, partitions, crashes and restarts.
    Faults7,
    /// 4 validators, one of them run as Twins (two nodes, one key), partitions.
    Twins4,
    /// 7 honest validators crashing (also mid-output) and restarting, partitions.
    Crashes7,
    /// Hunting ground for planted bugs: 4 validators, one forking Byzantine
    /// leader, and an adversarial scheduler that cuts honest leaders off right
    /// after they propose.
    Adversarial4,
    /// 5 validators of unequal power drawn per seed (see `power.rs`), one
    /// Byzantine, with the faults of `Faults4`.
    Unequal5,
    /// 6 validators of unequal power, two Byzantine (a third of the
    /// validators, less than a third of the power), faults as `Faults4`.
    Unequal6,
    /// 10 validators of unequal power, three Byzantine, faults as `Faults7`.
    Power10,
    /// 4 validators, one run as Twins, under a Twins schedule: per-round
    /// partitions laid out around the round's or the next round's leader
    /// (see `twins.rs`), then healing.
    TwinsRounds4,
    /// 7 validators, two run as Twins, under a Twins schedule.
    TwinsRounds7,
}

impl Scenario {
    /// The scenarios of the default campaign, in rotation.
    pub const ALL: [Scenario; 11] = [
        Scenario::Calm4,
        Scenario::Faults4,
        Scenario::Faults7,
        Scenario::Twins4,
        Scenario::Crashes7,
        Scenario::Adversarial4,
        Scenario::Unequal5,
        Scenario::Unequal6,
        Scenario::Power10,
        Scenario::TwinsRounds4,
        Scenario::TwinsRounds7,
    ];

    /// Parses a name as printed by `{:?}`.
    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|s| format!("{s:?}").eq_ignore_ascii_case(name))
    }

    /// The parameters of this scenario.
    pub fn params(self) -> Params {
        let calm = NetConfig {
            min_delay_ms: 2,
            max_delay_ms: 40,
            loss: 0.02,
            dup: 0.05,
        };
        let rough = NetConfig {
            loss: 0.12,
            dup: 0.1,
            max_delay_ms: 80,
            ..calm.clone()
        };
        let base = Params {
            validators: 4,
            byzantine: 0,
            twins: false,
            chaos: calm.clone(),
            healed: calm.clone(),
            partitions: false,
            crashes: false,
            chaos_ms: 2_500,
            heal_ms: 5_000,
            idle_tail: false,
            forker: false,
            isolate_leader: 0.0,
            unequal_power: false,
            crash_after_send: 0.0,
            twins_rounds: None,
        };
        // Faults4's faults, for the committees of unequal power.
        let faults = Params {
            heal_ms: 8_000,
            chaos: rough.clone(),
            partitions: true,
            crashes: true,
            unequal_power: true,
            crash_after_send: CRASH_AFTER_SEND,
            ..base.clone()
        };
        match self {
            Scenario::Calm4 => Params {
                idle_tail: true,
                ..base
            },
            // With f silent or lying leaders in the rotation, a commit needs
            // three honest leaders in a row; give the healed phase time for
            // several rotations at the back-off ceiling.
            Scenario::Faults4 => Params {
                byzantine: 1,
                unequal_power: false,
                ..faults
            },
            Scenario::Faults7 => Params {
                validators: 7,
                byzantine: 2,
                unequal_power: false,
                ..faults
            },
            Scenario::Twins4 => Params {
                twins: true,
                chaos: rough,
                partitions: true,
                ..base
            },
            Scenario::Crashes7 => Params {
                validators: 7,
                chaos: rough,
                partitions: true,
                crashes: true,
                crash_after_send: CRASH_AFTER_SEND,
                ..base
            },
            Scenario::Adversarial4 => Params {
                byzantine: 1,
                forker: true,
                isolate_leader: 0.3,
                chaos_ms: 5_000,
                chaos: NetConfig {
                    loss: 0.03,
                    ..rough
                },
                ..base
            },
            Scenario::Unequal5 => Params {
                validators: 5,
                byzantine: 1,
                ..faults
            },
            Scenario::Unequal6 => Params {
                validators: 6,
                byzantine: 2,
                ..faults
            },
            Scenario::Power10 => Params {
                validators: 10,
                byzantine: 3,
                ..faults
            },
            Scenario::TwinsRounds4 => Params {
                twins_rounds: Some(TwinsRounds {
                    pairs: 1,
                    rounds: 8,
                }),
                chaos_ms: 6_000,
                ..base
            },
            Scenario::TwinsRounds7 => Params {
                validators: 7,
                twins_rounds: Some(TwinsRounds {
                    pairs: 2,
                    rounds: 8,
                }),
                chaos_ms: 6_000,
                heal_ms: 8_000,
                ..base
            },
        }
    }
}

/// What a scenario runs.
#[derive(Clone, Debug)]
pub struct Params {
    /// Number of validators.
    pub validators: usize,
    /// How many of them are Byzantine (at most f).
    pub byzantine: usize,
    /// Whether one validator runs as two nodes with one key.
    pub twins: bool,
    /// Links during the chaos phase.
    pub chaos: NetConfig,
    /// Links after healing.
    pub healed: NetConfig,
    /// Partitions during the chaos phase.
    pub partitions: bool,
    /// Crashes and restarts of honest validators during the chaos phase.
    pub crashes: bool,
    /// Length of the chaos phase.
    pub chaos_ms: u64,
    /// Length of the healed phase, at the end of which liveness is checked.
    pub heal_ms: u64,
    /// Check the idle rule after the healed phase.
    pub idle_tail: bool,
    /// The Byzantine validator always forks after timeouts and equivocates.
    pub forker: bool,
    /// During the chaos phase, the probability that an adversarial scheduler
    /// cuts a proposing leader off from everyone for a few rounds: it alone
    /// learns the QC its proposal carries, the rest time out without it.
    pub isolate_leader: f64,
    /// Voting power drawn per seed so quorums sit at and around exactly 2/3
    /// (see `power.rs`); otherwise every validator holds power 1.
    pub unequal_power: bool,
    /// During the chaos phase, the probability that an honest node crashes
    /// right after each vote or timeout it sends (restarting soon after).
    pub crash_after_send: f64,
    /// Validators run as twin pairs under a round-by-round Twins schedule
    /// during the chaos phase (see `twins.rs`).
    pub twins_rounds: Option<TwinsRounds>,
}
