//! The deterministic simulation: a seed campaign over every scenario, and
//! proof that the simulator finds planted safety bugs.
//!
//! - `SIM_SEEDS=N` runs N seeds (default 330, spread over the scenarios).
//! - `SIM_SEED=S` (with optional `SIM_SCENARIO=Name`) replays one seed.
//! - `SIM_FIRST_SEED=S` starts the campaign at seed S.
//!
//! A failing seed prints the exact command that replays it.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use cairn_consensus::{Config, PlantedBug};
use cairn_tests::sim::{run, Failure, Scenario, Stats, Tweak};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

fn scenario_for(seed: u64) -> Scenario {
    Scenario::ALL[(seed % Scenario::ALL.len() as u64) as usize]
}

/// Runs seeds `first..first + count` on all cores; returns failures and stats.
fn campaign(
    first: u64,
    count: u64,
    scenario: Option<Scenario>,
    tweak: Option<Tweak>,
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
                let sc = scenario.unwrap_or_else(|| scenario_for(seed));
                match run(seed, sc, tweak) {
                    Ok(st) => stats.lock().unwrap().push((sc, st)),
                    Err(f) => {
                        eprintln!("{f}");
                        failures.lock().unwrap().push(f)
                    }
                }
                if count >= 2_000 && (seed - first + 1) % 1_000 == 0 {
                    eprintln!("... {} seeds started", seed - first + 1);
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|f| f.seed);
    (failures, stats.into_inner().unwrap())
}

#[test]
fn simulation_campaign() {
    let started = Instant::now();
    let (failures, stats) = if let Some(seed) = env_u64("SIM_SEED") {
        let sc = std::env::var("SIM_SCENARIO")
            .ok()
            .and_then(|n| Scenario::from_name(&n))
            .unwrap_or_else(|| scenario_for(seed));
        campaign(seed, 1, Some(sc), bug_from_env())
    } else {
        let first = env_u64("SIM_FIRST_SEED").unwrap_or(0);
        let count = env_u64("SIM_SEEDS").unwrap_or(330);
        campaign(first, count, None, None)
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
            "{sc:?}: {n} seeds ok, avg committed height {}, avg round {}, avg equivocations {}, avg rejected {}, avg crashes {}, avg scheduled rounds {}",
            avg(|s| s.committed_height),
            avg(|s| s.max_round),
            avg(|s| s.equivocations),
            avg(|s| s.rejected),
            avg(|s| s.crashes),
            avg(|s| s.scheduled_rounds),
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

fn tweak_a(c: &mut Config) {
    c.plant_bug(PlantedBug::VoteWithoutLock);
}
fn tweak_b(c: &mut Config) {
    c.plant_bug(PlantedBug::VoteTwice);
}
fn tweak_c(c: &mut Config) {
    c.plant_bug(PlantedBug::CommitOneChain);
}

fn tweak_for(bug: PlantedBug) -> Tweak {
    match bug {
        PlantedBug::VoteWithoutLock => tweak_a,
        PlantedBug::VoteTwice => tweak_b,
        PlantedBug::CommitOneChain => tweak_c,
    }
}

/// `SIM_BUG=a|b|c` replays a seed with a planted bug.
fn bug_from_env() -> Option<Tweak> {
    match std::env::var("SIM_BUG").ok()?.as_str() {
        "a" => Some(tweak_a),
        "b" => Some(tweak_b),
        "c" => Some(tweak_c),
        _ => None,
    }
}

/// Seeds each planted-bug hunt may use before the test fails.
const HUNT_SEEDS: u64 = 200;

/// True if a run broke a safety invariant (not merely liveness).
fn is_safety(f: &Failure) -> bool {
    f.violations.iter().any(|v| {
        v.contains("agreement")
            || v.contains("signed two")
            || v.contains("after timing out")
            || v.contains("does not extend")
    })
}

fn hunt(bug: PlantedBug, scenarios: &[Scenario]) {
    let tweak = tweak_for(bug);
    let started = Instant::now();
    let per = HUNT_SEEDS / scenarios.len() as u64;
    for (k, sc) in scenarios.iter().enumerate() {
        let first = 1_000 * (k as u64 + 1);
        // In chunks, so the hunt stops soon after the first safety violation.
        for chunk in (0..per).step_by(10) {
            let (failures, _) =
                campaign(first + chunk, 10.min(per - chunk), Some(*sc), Some(tweak));
            if let Some(f) = failures.iter().find(|f| is_safety(f)) {
                println!(
                    "planted bug {bug:?} found by seed {} ({} seeds into {sc:?}) in {:.1}s \
                     (replay: add SIM_BUG={}):\n{f}",
                    f.seed,
                    f.seed - first + 1,
                    started.elapsed().as_secs_f64(),
                    match bug {
                        PlantedBug::VoteWithoutLock => "a",
                        PlantedBug::VoteTwice => "b",
                        PlantedBug::CommitOneChain => "c",
                    }
                );
                return;
            }
        }
    }
    panic!("planted bug {bug:?} was not found within {HUNT_SEEDS} seeds");
}

#[test]
fn finds_planted_bug_voting_without_lock() {
    hunt(PlantedBug::VoteWithoutLock, &[Scenario::Adversarial4]);
}

#[test]
fn finds_planted_bug_voting_twice() {
    hunt(
        PlantedBug::VoteTwice,
        // A twin leader's two proposals reach one voter: every seed finds it.
        &[
            Scenario::TwinsRounds4,
            Scenario::Faults4,
            Scenario::Adversarial4,
        ],
    );
}

#[test]
fn finds_planted_bug_one_chain_commit() {
    hunt(
        PlantedBug::CommitOneChain,
        &[Scenario::Adversarial4, Scenario::Crashes7],
    );
}

/// Measures how often a planted bug breaks safety under one scenario:
/// `SIM_BUG=a|b|c SIM_SCENARIO=Name [SIM_SEEDS=100] [SIM_FIRST_SEED=0]
/// cargo test -p cairn-tests --test simulation planted_bug_fractions -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, run by hand"]
fn planted_bug_fractions() {
    let (Some(tweak), Some(sc)) = (
        bug_from_env(),
        std::env::var("SIM_SCENARIO")
            .ok()
            .and_then(|n| Scenario::from_name(&n)),
    ) else {
        panic!("set SIM_BUG=a|b|c and SIM_SCENARIO=<scenario>");
    };
    let first = env_u64("SIM_FIRST_SEED").unwrap_or(0);
    let count = env_u64("SIM_SEEDS").unwrap_or(100);
    let started = Instant::now();
    let (failures, _) = campaign(first, count, Some(sc), Some(tweak));
    let found: Vec<u64> = failures
        .iter()
        .filter(|f| is_safety(f))
        .map(|f| f.seed)
        .collect();
    println!(
        "{sc:?}: {} of {count} seeds broke safety ({} other failures), first seeds {:?}, in {:.1}s",
        found.len(),
        failures.len() - found.len(),
        &found[..found.len().min(10)],
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn a_seed_replays_exactly() {
    let a = run(7, Scenario::Faults4, None);
    let b = run(7, Scenario::Faults4, None);
    let key = |r: &Result<Stats, Failure>| match r {
        Ok(s) => format!("{s:?}"),
        Err(f) => format!("{f}"),
    };
    assert_eq!(key(&a), key(&b));
}
