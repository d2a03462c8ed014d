//! The production node under deterministic simulation: a seed campaign over
//! the node scenarios.
//!
//! - `NODESIM_SEEDS=N` runs N seeds (default 30, spread over the scenarios).
//! - `NODESIM_SEED=S` (with optional `NODESIM_SCENARIO=Name`) replays one seed.
//! - `NODESIM_FIRST_SEED=S` starts the campaign at seed S.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use cairn_tests::nodesim::{run, Failure, Scenario, Stats};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

fn scenario_for(seed: u64) -> Scenario {
    Scenario::CI[(seed % Scenario::CI.len() as u64) as usize]
}

fn campaign(
    first: u64,
    count: u64,
    only: Option<Scenario>,
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
                let sc = only.unwrap_or_else(|| scenario_for(seed));
                match run(seed, sc) {
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
        let sc = std::env::var("NODESIM_SCENARIO")
            .ok()
            .and_then(|n| Scenario::from_name(&n))
            .unwrap_or_else(|| scenario_for(seed));
        campaign(seed, 1, Some(sc))
    } else {
        let first = env_u64("NODESIM_FIRST_SEED").unwrap_or(0);
        campaign(first, env_u64("NODESIM_SEEDS").unwrap_or(30), None)
    };
    for sc in Scenario::CI {
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
            "{sc:?}: {n} seeds ok, avg height {}, avg transfers {}, avg p50 {} ms, avg p99 {} ms, avg resubmissions {}",
            avg(|s| s.height),
            avg(|s| s.transfers as u64),
            avg(|s| s.p50_ms),
            avg(|s| s.p99_ms),
            avg(|s| s.resubmissions),
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
