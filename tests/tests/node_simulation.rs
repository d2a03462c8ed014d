//! The production node under deterministic simulation: a seed campaign over
//! the node scenarios.
//!
//! - `NODESIM_SEEDS=N` runs N seeds (default [`CI_SEEDS`], spread over the
//!   scenarios).
//! - `NODESIM_SEED=S` (with optional `NODESIM_SCENARIO=Name`) replays one seed;
//!   add `NODESIM_BUG=inline-catch-up|vote-before-persist|a|b|b-twins|c|d|e` to
//!   replay it with a planted bug (see `BUGS`).
//! - `NODESIM_FIRST_SEED=S` starts the campaign at seed S.
//! - `NODESIM_SCENARIO=Name` without `NODESIM_SEED` runs every seed of the
//!   campaign on that scenario (any of `Scenario::ALL`).
//! - Each `NODESIM_X` may also be spelled `SIM_X` (`SIM_SEED`, `SIM_SEEDS`).
//!
//! The `finds_planted_*` tests prove the simulator finds known bugs planted
//! in the driver (`PlantedNodeBug`, feature `planted-bugs` of cairn-driver)
//! and in its consensus core (`PlantedBug`, feature `planted-bugs` of
//! cairn-consensus), both enabled only here: each hunts seeds with the bug
//! planted until one fails showing it, within the bug's budget.
//! `planted_node_bug_stats` (ignored) measures how many seeds that takes.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use cairn_consensus::PlantedBug;
use cairn_tests::nodesim::{run_planted, Failure, Plant, Planted, PlantedNodeBug, Scenario, Stats};

/// Seeds of the default (CI) campaign.
const CI_SEEDS: u64 = 300;

/// `NODESIM_<name>`, or `SIM_<name>` (the names the consensus-only
/// simulator used: `SIM_SEED`, `SIM_SEEDS`, `SIM_SCENARIO`, … still work).
fn env(name: &str) -> Option<String> {
    let name = name.trim_start_matches("NODESIM_");
    std::env::var(format!("NODESIM_{name}"))
        .or_else(|_| std::env::var(format!("SIM_{name}")))
        .ok()
}

fn env_u64(name: &str) -> Option<u64> {
    env(name).and_then(|s| s.parse().ok())
}

fn scenario_for(seed: u64) -> Scenario {
    Scenario::CI[(seed % Scenario::CI.len() as u64) as usize]
}

fn campaign(
    first: u64,
    count: u64,
    only: Option<Scenario>,
) -> (Vec<Failure>, Vec<(Scenario, Stats)>) {
    let pick = |seed| only.unwrap_or_else(|| scenario_for(seed));
    campaign_with(first, count, &pick, Plant::none())
}

/// Seeds `first..first + count` on every core, seed `s` running `pick(s)`
/// with `planted` in every node.
fn campaign_with(
    first: u64,
    count: u64,
    pick: &(dyn Fn(u64) -> Scenario + Sync),
    planted: Plant,
) -> (Vec<Failure>, Vec<(Scenario, Stats)>) {
    let next = AtomicU64::new(first);
    let failures = Mutex::new(Vec::new());
    let stats = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + count {
                    return;
                }
                let sc = pick(seed);
                match run_planted(seed, sc, planted) {
                    Ok(st) => stats.lock().unwrap().push((sc, st)),
                    Err(f) => {
                        eprintln!("{f}");
                        failures.lock().unwrap().push(f)
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|f| f.seed);
    (failures, stats.into_inner().unwrap())
}

/// The known stall with one of four validators cut off (see
/// `Scenario::CI`): fails today; run it with `-- --ignored`.
#[test]
#[ignore = "known liveness bug: the quorum side stalls with one validator cut off (issue: faults on real processes)"]
fn quorum_side_keeps_up_with_one_validator_cut_off() {
    let (failures, _) = campaign(
        0,
        env_u64("NODESIM_SEEDS").unwrap_or(10),
        Some(Scenario::Isolate4),
    );
    assert!(
        failures.is_empty(),
        "{} seeds failed (see above)",
        failures.len()
    );
}

#[test]
fn node_simulation_campaign() {
    let started = Instant::now();
    let (failures, stats) = if let Some(seed) = env_u64("NODESIM_SEED") {
        let sc = env("NODESIM_SCENARIO")
            .and_then(|n| Scenario::from_name(&n))
            .unwrap_or_else(|| scenario_for(seed));
        let planted = bug_from_env().map_or(Plant::none(), |b| (b.plant)());
        campaign_with(seed, 1, &|_| sc, planted)
    } else {
        let first = env_u64("NODESIM_FIRST_SEED").unwrap_or(0);
        let only = env("NODESIM_SCENARIO").map(|n| {
            Scenario::from_name(&n)
                .unwrap_or_else(|| panic!("NODESIM_SCENARIO={n}: no such scenario"))
        });
        campaign(first, env_u64("NODESIM_SEEDS").unwrap_or(CI_SEEDS), only)
    };
    for sc in Scenario::ALL {
        let runs: Vec<&Stats> = stats
            .iter()
            .filter(|(s, _)| *s == sc)
            .map(|(_, s)| s)
            .collect();
        if runs.is_empty() {
            continue;
        }
        let n = runs.len() as u64;
        let avg = |f: fn(&Stats) -> u64| runs.iter().map(|s| f(s)).sum::<u64>() / n;
        println!(
            "{sc:?}: {n} seeds ok, avg height {}, avg transfers {}, avg p50 {} ms, avg p99 {} ms, avg resubmissions {}, avg adversary messages {}, avg twin equivocations {}",
            avg(|s| s.height),
            avg(|s| s.transfers as u64),
            avg(|s| s.p50_ms),
            avg(|s| s.p99_ms),
            avg(|s| s.resubmissions),
            avg(|s| s.adversary_messages),
            avg(|s| s.equivocations),
        );
    }
    println!(
        "{} seeds passed, {} failed, in {:.1}s",
        stats.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    for f in &failures {
        println!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} seeds failed (see above)",
        failures.len()
    );
}

/// The scenarios with Byzantine validators, equal and unequal power.
const BYZANTINE: [Scenario; 7] = [
    Scenario::Byzantine4,
    Scenario::Byzantine7,
    Scenario::Adversarial4,
    Scenario::ByzantineFaults4,
    Scenario::Unequal5,
    Scenario::Unequal6,
    Scenario::Power10,
];

/// The shared adversary really sits on the Byzantine validators' wires: in
/// every Byzantine scenario it sends messages of its own (lies, split
/// audiences, forks), and the honest nodes pass every check regardless.
/// Fails if the adversary is bypassed (nothing sent) or an honest check trips.
/// A few fixed seeds only: the scenarios stay out of `Scenario::CI` (see
/// `byzantine_stalls_stay_within_the_bound`).
#[test]
fn byzantine_validators_run_the_shared_adversary() {
    for seed in 0..3 {
        for sc in BYZANTINE {
            let stats = run_planted(seed, sc, Plant::none()).unwrap_or_else(|f| panic!("{f}"));
            assert!(
                stats.adversary_messages > 0,
                "{sc:?} seed {seed}: the adversary sent nothing"
            );
        }
    }
}

/// The faults the old consensus-only simulator aimed are aimed on the real
/// node too: `Crashes7` crashes honest nodes right after they send a vote or
/// timeout, `Adversarial4` cuts honest leaders off as they propose (with a
/// Byzantine forker), and the runs stay correct. Fails if either fault
/// stops firing, or a check trips.
#[test]
fn aimed_faults_fire_and_honest_nodes_stay_correct() {
    for seed in 0..3 {
        let crashes =
            run_planted(seed, Scenario::Crashes7, Plant::none()).unwrap_or_else(|f| panic!("{f}"));
        assert!(
            crashes.aimed_crashes > 0,
            "Crashes7 seed {seed}: no crash after a send"
        );
        let adv = run_planted(seed, Scenario::Adversarial4, Plant::none())
            .unwrap_or_else(|f| panic!("{f}"));
        assert!(
            adv.isolated_leaders > 0,
            "Adversarial4 seed {seed}: no leader cut off"
        );
        assert!(
            adv.adversary_messages > 0,
            "Adversarial4 seed {seed}: the forker sent nothing"
        );
    }
}

/// The Byzantine scenarios' campaign (`NODESIM_SEEDS`, default 20, per
/// scenario): 1 of 400 seeds (199/200 `Byzantine4`, 200/200 `Byzantine7`) fails the liveness bound after heal
/// (the honest bound plus `2f` back-off rounds), because a Byzantine vote
/// collector that also shapes the QCs and TCs it assembles gets elected
/// collector again and again (seed 169 of `Byzantine4`: 6.8 s against 6 s;
/// docs/DECISIONS.md). Run it with `-- --ignored`.
#[test]
#[ignore = "known liveness weakness: a Byzantine collector can be re-elected round after round"]
fn byzantine_stalls_stay_within_the_bound() {
    let seeds = env_u64("NODESIM_SEEDS").unwrap_or(20);
    let mut failed = 0;
    for sc in BYZANTINE {
        failed += campaign(0, seeds, Some(sc)).0.len();
    }
    assert!(failed == 0, "{failed} seeds failed (see above)");
}

/// Twins really equivocate on the production node, and the honest nodes
/// stay safe and live regardless: a few fixed seeds of `Twins4` and
/// `TwinsRounds4` all pass every check, and between them the twin pairs
/// sign conflicting votes or proposals. Fails if a check trips, or if the
/// twins stop equivocating (the network delivering a validator's messages
/// to one node of a pair only, or a pair never split).
#[test]
fn twins_equivocate_and_honest_nodes_stay_safe() {
    let mut equivocations = 0;
    for sc in [Scenario::Twins4, Scenario::TwinsRounds4] {
        for seed in 0..3 {
            let stats = run_planted(seed, sc, Plant::none()).unwrap_or_else(|f| panic!("{f}"));
            equivocations += stats.equivocations;
        }
    }
    assert!(equivocations > 0, "no twin pair ever equivocated");
}

/// `TwinsRounds7` (two twin pairs of seven validators) over
/// `NODESIM_SEEDS` seeds (default 20): 198 of 200 pass; 2 (seeds 81 and
/// 103) exceed the liveness bound after heal, the timeout back-off of
/// rounds the schedule stalled outliving the heal (docs/DECISIONS.md,
/// "Twins on the production node"). Run it with `-- --ignored`.
#[test]
#[ignore = "known liveness weakness: the back-off of stalled rounds can outlive the heal"]
fn twins_rounds7_heals_within_the_bound() {
    let seeds = env_u64("NODESIM_SEEDS").unwrap_or(20);
    let (failures, _) = campaign(0, seeds, Some(Scenario::TwinsRounds7));
    assert!(
        failures.is_empty(),
        "{} seeds failed (see above)",
        failures.len()
    );
}

/// A planted bug: its name for `NODESIM_BUG`, how to plant it, the
/// scenarios its hunt interleaves, the seeds the hunt may use (about twice
/// what 99% of hunts need, as `planted_node_bug_stats` measures: figures in
/// docs/BENCH.md), and which violations show it.
struct Bug {
    name: &'static str,
    plant: fn() -> Plant,
    hunt: &'static [Scenario],
    budget: u64,
    shows: fn(&str) -> bool,
}

/// A violation of a safety property or a protocol rule (`rule …`, see
/// `cairn_tests::oracle`): what a safety bug must show (a liveness failure
/// alone does not pin one down).
fn unsafe_(v: &str) -> bool {
    v.starts_with("rule")
        || v.starts_with("persist before send")
        || v.contains("agreement broken")
        || v.contains("signed two")
        || v.contains("proposed two")
        || v.contains("after timing out")
        || v.contains("stores differ")
}

/// A liveness failure: a transfer that did not commit, or not in time.
fn stalled(v: &str) -> bool {
    v.contains("never committed") || v.contains("took")
}

/// Every planted bug, node-level (`PlantedNodeBug`) and consensus
/// (`PlantedBug`); a new one needs a row here and a `#[test]` hunt.
const BUGS: &[Bug] = &[
    Bug {
        name: "inline-catch-up",
        plant: || Plant::node(Planted::bug(PlantedNodeBug::InlineCatchUp)),
        hunt: &[Scenario::Calm4, Scenario::Crash4],
        budget: 10,
        // A liveness bug: the chain stalls while drivers wait on each other.
        shows: stalled,
    },
    Bug {
        name: "vote-before-persist",
        plant: || Plant::node(Planted::bug(PlantedNodeBug::VoteBeforePersist)),
        hunt: &[Scenario::Calm4, Scenario::Crash4],
        budget: 10,
        shows: unsafe_,
    },
    Bug {
        name: "a",
        plant: || Plant::consensus(|c| c.plant_bug(PlantedBug::VoteWithoutLock)),
        hunt: &[Scenario::Adversarial4, Scenario::Byzantine4],
        budget: 16,
        shows: unsafe_,
    },
    Bug {
        name: "b",
        plant: || Plant::consensus(|c| c.plant_bug(PlantedBug::VoteTwice)),
        hunt: &[Scenario::Byzantine4, Scenario::Faults7],
        budget: 20,
        shows: unsafe_,
    },
    // The same bug with no Byzantine code to provoke it: the two proposals
    // of a round come from a twin pair split by the Twins schedule, and
    // the honest cores, bug planted, vote for both.
    Bug {
        name: "b-twins",
        plant: || Plant::consensus(|c| c.plant_bug(PlantedBug::VoteTwice)),
        hunt: &[Scenario::TwinsRounds4],
        // Every one of 16 measured seeds shows it (docs/BENCH.md).
        budget: 10,
        shows: unsafe_,
    },
    Bug {
        name: "c",
        plant: || Plant::consensus(|c| c.plant_bug(PlantedBug::CommitOneChain)),
        hunt: &[Scenario::Calm4, Scenario::Faults7],
        budget: 8,
        shows: unsafe_,
    },
    Bug {
        name: "d",
        plant: || Plant::consensus(|c| c.plant_bug(PlantedBug::TallyByHash)),
        hunt: &[Scenario::Byzantine4, Scenario::Adversarial4],
        budget: 20,
        // It halts the chain; the certificates it trusts break a rule first.
        shows: |v| unsafe_(v) || stalled(v),
    },
    Bug {
        name: "e",
        plant: || Plant::consensus(|c| c.plant_bug(PlantedBug::TrustTcEntries)),
        hunt: &[Scenario::Byzantine4, Scenario::Adversarial4],
        budget: 24,
        shows: |v| unsafe_(v) || stalled(v),
    },
];

fn bug(name: &str) -> &'static Bug {
    BUGS.iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("{name}: no such planted bug (see BUGS)"))
}

/// `NODESIM_BUG=<name>` replays a seed with a planted bug.
fn bug_from_env() -> Option<&'static Bug> {
    env("NODESIM_BUG").map(|name| bug(&name))
}

fn shows(b: &Bug, f: &Failure) -> bool {
    f.violations.iter().any(|v| (b.shows)(v))
}

/// Seed `first + k` of a hunt runs `scenarios[k % len]`.
fn hunt_pick(first: u64, scenarios: &'static [Scenario]) -> impl Fn(u64) -> Scenario + Sync {
    move |seed| scenarios[((seed - first) % scenarios.len() as u64) as usize]
}

fn hunt(name: &str) {
    let b = bug(name);
    let started = Instant::now();
    let first = 1_000;
    let pick = hunt_pick(first, b.hunt);
    let step = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    // A core's worth of seeds at a time, so the hunt stops soon after a find.
    for chunk in (0..b.budget).step_by(step as usize) {
        let count = step.min(b.budget - chunk);
        let (failures, _) = campaign_with(first + chunk, count, &pick, (b.plant)());
        if let Some(f) = failures.iter().find(|f| shows(b, f)) {
            println!(
                "planted bug {name} found by seed {} ({} seeds into {:?}) in {:.1}s \
                 (replay: add NODESIM_BUG={name}):\n{f}",
                f.seed,
                f.seed - first + 1,
                b.hunt,
                started.elapsed().as_secs_f64(),
            );
            return;
        }
    }
    panic!("planted bug {name} was not found within {} seeds", b.budget);
}

/// The catch-up that awaited its probe on the driver's task (before
/// 057e8b9): nodes probing each other wait out the request timeout.
#[test]
fn finds_planted_node_bug_inline_catch_up() {
    hunt("inline-catch-up");
}

/// Votes, timeouts and proposals sent before their safety data is durable.
#[test]
fn finds_planted_node_bug_vote_before_persist() {
    hunt("vote-before-persist");
}

/// Consensus bug a: a vote for a block carrying a TC without the lock check.
#[test]
fn finds_planted_bug_voting_without_lock() {
    hunt("a");
}

/// Consensus bug b: voting twice in a round.
#[test]
fn finds_planted_bug_voting_twice() {
    hunt("b");
}

/// Consensus bug b found by the Twins schedule alone (no Byzantine
/// validator): voting twice in a round, on `TwinsRounds4`.
#[test]
fn finds_planted_bug_voting_twice_on_twins() {
    hunt("b-twins");
}

/// Consensus bug c: committing on a 1-chain.
#[test]
fn finds_planted_bug_one_chain_commit() {
    hunt("c");
}

/// Consensus bug d: votes tallied by hash only (the poisoned vote).
#[test]
fn finds_planted_bug_poisoned_vote() {
    hunt("d");
}

/// Consensus bug e: a TC's entries trusted (the inflated TC).
#[test]
fn finds_planted_bug_inflated_tc() {
    hunt("e");
}

/// A seed replays exactly: two runs of one seed commit the same chain with
/// the same figures (on faults and on a Byzantine validator), while another
/// seed commits a different one (so the comparison can fail).
#[test]
fn a_seed_replays_exactly() {
    for sc in [Scenario::Faults4, Scenario::Byzantine4] {
        let run = |seed| run_planted(seed, sc, Plant::none()).unwrap_or_else(|f| panic!("{f}"));
        let (a, b) = (run(7), run(7));
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "{sc:?} seed 7 ran twice"
        );
        assert_ne!(
            a.chain,
            run(8).chain,
            "{sc:?}: seeds 7 and 8 commit one chain"
        );
    }
}

/// Seeds needed to find a bug with 99% probability when seed `k` finds it
/// with probability `p[k % p.len()]` (independently); `None` if never.
fn seeds_for_99(p: &[f64]) -> Option<u64> {
    if p.iter().all(|x| *x <= 0.0) {
        return None;
    }
    let mut miss = 1.0;
    for k in 0..1_000_000u64 {
        miss *= 1.0 - p[(k % p.len() as u64) as usize];
        if miss <= 0.01 {
            return Some(k + 1);
        }
    }
    None
}

/// Measures each planted node bug's hunt: per scenario of its hunt (every
/// CI scenario with `NODESIM_STATS_ALL=1`), the fraction of
/// `NODESIM_STATS_SEEDS` seeds (default 20) that show it, and the seeds the
/// CI hunt needs to find it with 99% probability. `NODESIM_STATS_BUGS=a,d`
/// measures only those bugs.
/// `cargo test --workspace --test node_simulation planted_node_bug_stats -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: minutes of seeds"]
fn planted_node_bug_stats() {
    let seeds = env_u64("NODESIM_STATS_SEEDS").unwrap_or(20);
    let all = env("NODESIM_STATS_ALL").is_some();
    let only: Option<Vec<String>> =
        env("NODESIM_STATS_BUGS").map(|l| l.split(',').map(str::to_string).collect());
    let first = 500_000;
    println!(
        "{:<18} {:<11} {:>6} {:>6} {:>9} {:>7}",
        "bug", "scenario", "seeds", "found", "fraction", "99% at"
    );
    for b in BUGS {
        let name = b.name;
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        let scenarios: Vec<Scenario> = if all {
            Scenario::CI.to_vec()
        } else {
            b.hunt.to_vec()
        };
        let mut hunt_p = Vec::new();
        for sc in scenarios {
            let started = Instant::now();
            let (failures, _) = campaign_with(first, seeds, &|_| sc, (b.plant)());
            let found = failures.iter().filter(|f| shows(b, f)).count() as u64;
            let p = found as f64 / seeds as f64;
            if b.hunt.contains(&sc) {
                hunt_p.push(p);
            }
            let at = seeds_for_99(&[p]).map_or("never".to_string(), |n| n.to_string());
            let scn = format!("{sc:?}");
            println!(
                "{name:<18} {scn:<11} {seeds:>6} {found:>6} {:>8.1}% {at:>7}   ({:.0}s)",
                100.0 * p,
                started.elapsed().as_secs_f64()
            );
            if let Some(f) = failures.first() {
                println!(
                    "    e.g. {}",
                    f.violations.first().map_or("", |v| v.as_str())
                );
            }
        }
        let at = seeds_for_99(&hunt_p).map_or("never".to_string(), |n| n.to_string());
        println!(
            "{name:<18} CI hunt over {:?}: 99% of hunts find it within {at} seeds (budget {})",
            b.hunt, b.budget
        );
    }
}
