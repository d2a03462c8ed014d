//! The checks at the end of a run, on top of those made as it went
//! (`observe`): every transfer committed (none lost, whatever crashed);
//! every node's store holds the same chain, passes the ledger audit from
//! genesis, and its mempool drained; after
//! the faults healed, transfers commit promptly; and while one validator was
//! cut off, the other three kept committing the load at speed.

use std::time::Duration;

use cairn_ledger::Height;
use tokio::time::Instant;

use super::load::Load;
use super::node::{Shared, SimNode};
use super::Stats;

/// After the faults heal, allow this long for the chain to settle...
const SETTLE: Duration = Duration::from_secs(5);
/// ...after which every transfer must commit within this long (honest
/// validators only: see [`healed_latency`]).
const HEALED_LATENCY: Duration = Duration::from_secs(3);
/// After the last transfer commits, the chain must be quiet this long after
/// (the blocks that certify and commit the last ones).
const IDLE_AFTER: Duration = Duration::from_secs(3);
/// While one validator is cut off, transfers sent to the others must commit
/// within this long (the faults issue: it was seconds per block).
const QUORUM_SIDE_LATENCY: Duration = Duration::from_millis(2_500);

/// The longest stall `byzantine` Byzantine validators (or twin pairs, see
/// `Scenario::faulty`) can force on a
/// chain with this round timeout, while following the protocol's timing.
///
/// A Byzantine validator that is the vote collector of round `r` (the
/// leader of `r + 1` after `r`'s block) can withhold the QC, and the round
/// times out; with every validator active (a Byzantine validator signs
/// everything, so it stays active), the leader of `r + 1`, entered by the
/// TC, is elected from the same active set for the same round number: the
/// same validator, which fails it too, with the timeout doubled. Byzantine
/// validators next to each other in the rotation chain these pairs: seed
/// 146 of `Byzantine7` times out four rounds in a row (collector, leader,
/// leader, collector: 1 + 2 + 4 + 8 s). So up to `2 * byzantine` rounds in a
/// row, `2^(2 * byzantine) - 1` round timeouts with the back-off
/// (docs/DECISIONS.md, "One Byzantine adversary for both simulators").
pub fn byzantine_stall(byzantine: usize, round_timeout: Duration) -> Duration {
    let rounds = 2 * byzantine as u32;
    round_timeout * ((1u32 << rounds) - 1)
}

/// The bound on a transfer's commit latency once the faults have healed:
/// the honest bound plus the stall Byzantine validators can force.
pub fn healed_latency(byzantine: usize, round_timeout: Duration) -> Duration {
    HEALED_LATENCY + byzantine_stall(byzantine, round_timeout)
}

/// A window during which validator `.0` was cut off.
pub type Isolation = (usize, Instant, Instant);

/// Final checks; the run's figures if they all pass.
pub fn finish(
    sh: &Shared,
    nodes: &[SimNode],
    load: &Load,
    isolation: Option<Isolation>,
    healed_at: Instant,
    healed_bound: Duration,
    expect_stop: Option<usize>,
) -> Result<Stats, Vec<String>> {
    sh.observer.finish_rules();
    let mut v = sh.observer.violations();
    crash_policy(sh, expect_stop, &mut v);
    let latencies = transfers(sh, load, &mut v);
    // Byzantine nodes and twins are held to nothing.
    let honest: Vec<&SimNode> = nodes.iter().filter(|n| n.held_to_rules()).collect();
    stores_agree(&honest, sh.observer.last_tx_height(), &mut v);
    audit_stores(sh, &honest, &mut v);
    prompt_after_heal(sh, load, healed_at, healed_bound, &mut v);
    if let Some(iso) = isolation {
        quorum_side_keeps_up(sh, load, iso, &mut v);
    }
    if honest.len() == nodes.len() {
        idle_rule(sh, load, &mut v);
    }
    if !v.is_empty() {
        return Err(v);
    }
    let pct = |p: usize| {
        latencies
            .get(latencies.len() * p / 100)
            .copied()
            .unwrap_or(0)
    };
    Ok(Stats {
        height: sh.observer.max_height().0,
        transfers: load.sent.len(),
        p50_ms: pct(50),
        p99_ms: pct(99),
        resubmissions: load.sent.iter().map(|s| u64::from(s.attempts - 1)).sum(),
        adversary_messages: nodes
            .iter()
            .filter_map(|n| n.byzantine.as_ref())
            .map(|b| b.lock().sent())
            .sum(),
        equivocations: sh.observer.equivocations(),
        chain: sh.observer.chain_digest(),
        // Counted by the run, which fills them in.
        aimed_crashes: 0,
        isolated_leaders: 0,
    })
}

/// A driver stops by itself only on a storage failure, and then must.
fn crash_policy(sh: &Shared, expect_stop: Option<usize>, v: &mut Vec<String>) {
    let stops = sh.observer.stops();
    for (node, why) in &stops {
        if Some(*node) != expect_stop || !why.contains("storage failure") {
            v.push(format!("node {node}: the driver stopped: {why}"));
        }
    }
    if let Some(victim) = expect_stop {
        if !stops.iter().any(|(n, _)| *n == victim) {
            v.push(format!(
                "node {victim}'s disk failed every write, yet its driver kept running"
            ));
        }
    }
}

/// Every transfer committed; returns the sorted latencies (ms).
fn transfers(sh: &Shared, load: &Load, v: &mut Vec<String>) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(load.sent.len());
    let mut lost = Vec::new();
    for s in &load.sent {
        match sh.observer.committed_at(&s.hash) {
            Some(at) => latencies.push(at.duration_since(s.first).as_millis() as u64),
            None => lost.push(s),
        }
    }
    if let Some(s) = lost.first() {
        v.push(format!(
            "{} of {} transfers never committed; the first: {} (home node {}, {} attempts, admitted: {}, first sent at {} ms)",
            lost.len(),
            load.sent.len(),
            s.hash,
            s.home,
            s.attempts,
            s.acked,
            s.first.duration_since(sh.start).as_millis()
        ));
    }
    latencies.sort_unstable();
    latencies
}

/// Every node is up with the same blocks, holds every block with
/// transactions, and its mempool is empty. Tips may differ by the idle tail:
/// the empty blocks whose commit only the last QC's collector has seen.
fn stores_agree(nodes: &[&SimNode], last_tx: Height, v: &mut Vec<String>) {
    let mut tips = Vec::new();
    for n in nodes {
        let Some(up) = &n.up else {
            v.push(format!("node {} is down at the end", n.index));
            continue;
        };
        let tip = up
            .store
            .tip()
            .ok()
            .flatten()
            .map_or(Height(0), |t| t.height);
        tips.push((n.index, tip, up));
        if !up.mempool.is_empty() {
            v.push(format!(
                "node {}: {} transactions left in its mempool at the end",
                n.index,
                up.mempool.len()
            ));
        }
    }
    let Some(max) = tips.iter().map(|t| t.1).max() else {
        return;
    };
    for (i, tip, _) in &tips {
        if *tip < last_tx {
            v.push(format!(
                "node {i} ended at height {tip}, below the last block with transactions ({last_tx}; the highest tip is {max}): it did not catch up"
            ));
        }
    }
    let low = tips.iter().map(|t| t.1).min().unwrap_or_default();
    for h in 1..=low.0 {
        let hashes: Vec<_> = tips
            .iter()
            .map(|(_, _, up)| up.store.block_hash_at(Height(h)).ok().flatten())
            .collect();
        if hashes.iter().any(|x| *x != hashes[0] || x.is_none()) {
            v.push(format!("stores differ at height {h}: {hashes:?}"));
            return;
        }
    }
}

/// Every honest node's store passes the ledger audit from genesis, as
/// `cairn audit` would run it (the auditor's library: hash links, heights,
/// leaders, every certificate, every transaction signature and `tx_root`,
/// every state root recomputed by re-executing every block, and the store's
/// own receipts, index and state tree). The nodes' tasks are parked while it
/// runs (it blocks the simulation's only thread), so nothing writes.
fn audit_stores(sh: &Shared, nodes: &[&SimNode], v: &mut Vec<String>) {
    let trusted = match cairn_audit::Trusted::from_genesis(&sh.genesis) {
        Ok(t) => t,
        Err(e) => {
            v.push(format!("the audit cannot trust the genesis: {e}"));
            return;
        }
    };
    for n in nodes.iter().filter(|n| n.up.is_some()) {
        let audit = cairn_audit::StoreSource::open(n.dir()).and_then(|source| {
            cairn_audit::run(&source, &trusted, &cairn_audit::AuditOptions::default())
        });
        if let Err(e) = audit {
            v.push(format!(
                "node {}: the audit of its store failed: {e}",
                n.index
            ));
        }
    }
}

/// Once the faults have healed and the chain settled, transfers commit promptly.
fn prompt_after_heal(
    sh: &Shared,
    load: &Load,
    healed_at: Instant,
    bound: Duration,
    v: &mut Vec<String>,
) {
    let from = healed_at + SETTLE;
    let slow = load.sent.iter().filter(|s| s.first >= from).find(|s| {
        sh.observer
            .committed_at(&s.hash)
            .is_some_and(|at| at.duration_since(s.first) > bound)
    });
    if let Some(s) = slow {
        let took = sh
            .observer
            .committed_at(&s.hash)
            .map(|at| at.duration_since(s.first));
        v.push(format!(
            "after healing, transfer {} sent at {} ms took {took:?} to commit (bound {bound:?})",
            s.hash,
            s.first.duration_since(sh.start).as_millis()
        ));
    }
}

/// While one validator is cut off, the others are a quorum and must commit
/// what is sent to them at speed.
fn quorum_side_keeps_up(sh: &Shared, load: &Load, iso: Isolation, v: &mut Vec<String>) {
    let (victim, from, until) = iso;
    let window = (from + Duration::from_secs(2))..(until - QUORUM_SIDE_LATENCY);
    let mut checked = 0;
    let mut slow = Vec::new();
    for s in load
        .sent
        .iter()
        .filter(|s| s.home != victim && window.contains(&s.first))
    {
        checked += 1;
        let took = sh
            .observer
            .committed_at(&s.hash)
            .map(|at| at.duration_since(s.first));
        if took.is_none_or(|t| t > QUORUM_SIDE_LATENCY) {
            slow.push((s, took));
        }
    }
    if let Some((s, took)) = slow.first() {
        v.push(format!(
            "with node {victim} cut off, {} of {checked} transfers sent to the other three took over {QUORUM_SIDE_LATENCY:?} to commit; the first sent at {} ms took {took:?}",
            slow.len(),
            s.first.duration_since(sh.start).as_millis()
        ));
    }
}

/// The idle rule: once every transfer has committed and the chain has had
/// [`IDLE_AFTER`] to certify what it committed last, honest validators
/// neither propose nor time out (no spinning on an idle chain). Checked when
/// the run leaves at least a second of such quiet; Byzantine validators may
/// keep an idle chain busy, so runs with them are exempt.
fn idle_rule(sh: &Shared, load: &Load, v: &mut Vec<String>) {
    let Some(last) = load
        .sent
        .iter()
        .map(|s| sh.observer.committed_at(&s.hash))
        .collect::<Option<Vec<Instant>>>()
        .and_then(|at| at.into_iter().max())
    else {
        return; // a transfer never committed: reported already
    };
    let quiet_from = last + IDLE_AFTER;
    if quiet_from + Duration::from_secs(1) > Instant::now() {
        return;
    }
    let busy = sh.observer.busy_since(quiet_from);
    if busy > 0 {
        v.push(format!(
            "idle rule: honest validators sent {busy} proposals and timeouts from {} ms on, \
             {IDLE_AFTER:?} after the last transfer committed, on an idle chain",
            quiet_from.duration_since(sh.start).as_millis()
        ));
    }
}
