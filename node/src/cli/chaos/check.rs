//! The checks of a chaos run that need only its files: nothing lost, and
//! commits resuming after every heal (`docs/FAULTS.md`, "chaos"). Safety
//! (identical chains, no equivocation) is checked against the nodes
//! themselves by the caller.

use std::collections::{BTreeMap, HashMap};

use super::input::{Fault, Record};

/// What the nodes say of a transaction the record did not see committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// In a block (committed, or failed in execution: both are final).
    InBlock(u64),
    /// Still in some node's mempool.
    Pending,
    /// No node knows it.
    Unknown,
}

/// The fate of the load's transactions.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fates {
    /// Transactions of the load.
    pub total: u64,
    /// Never accepted by any node (the load ended first, or every attempt
    /// was refused): a client was told, nothing to check.
    pub never_acked: u64,
    /// Accepted by at least one node.
    pub acked: u64,
    /// Of those, in a block.
    pub committed: u64,
    /// Of those, in a block that the nodes know but the load never saw
    /// committed (found by looking it up afterwards).
    pub committed_late: u64,
    /// Accepted only by nodes that were killed afterwards, and in no block:
    /// the crash may have taken them before they were passed on.
    pub unknown: Vec<String>,
    /// Accepted, in no block, still pending in a mempool after the drain.
    pub pending: Vec<String>,
    /// Accepted by a node that stayed up, and in no block nor mempool.
    pub lost: Vec<String>,
    /// Transactions resubmitted at least once, and the submissions in all.
    pub resubmitted: u64,
    pub submissions: u64,
}

/// How the chain fared under one fault.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FaultOutcome {
    pub fault: Fault,
    /// The longest time without a commit while the fault was in force
    /// (from its start, or the last commit before it, to its end), in ms.
    pub longest_stall_ms: f64,
    /// From the heal to the first commit after it, in ms; 0 when nothing
    /// was waiting; `None` when nothing committed afterwards.
    pub resume_ms: Option<f64>,
}

/// Per fault kind: how many, the slowest resume and the longest stall.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct KindSummary {
    pub count: u64,
    pub max_resume_ms: f64,
    pub max_stall_ms: f64,
    pub never_resumed: u64,
}

/// Everything the file checks found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Findings {
    pub fates: Fates,
    pub faults: Vec<FaultOutcome>,
    pub kinds: BTreeMap<String, KindSummary>,
    /// Violations, one sentence each.
    pub violations: Vec<String>,
}

/// Decides each acknowledged transaction's fate. `lookups` answers for the
/// ones the record did not see committed; `kills` are the kill faults.
pub(crate) fn fates(record: &Record, lookups: &HashMap<String, Lookup>, kills: &[&Fault]) -> Fates {
    let mut f = Fates {
        total: record.txs.len() as u64,
        ..Fates::default()
    };
    for tx in &record.txs {
        f.submissions += tx.submissions;
        if tx.submissions > 1 {
            f.resubmitted += 1;
        }
        let Some(acked_at) = tx.first_acked_ms.filter(|_| !tx.acked_by.is_empty()) else {
            f.never_acked += 1;
            continue;
        };
        f.acked += 1;
        if tx.committed_ms.is_some() {
            f.committed += 1;
            continue;
        }
        match lookups.get(&tx.hash).copied().unwrap_or(Lookup::Unknown) {
            Lookup::InBlock(_) => {
                f.committed += 1;
                f.committed_late += 1;
            }
            Lookup::Pending => f.pending.push(tx.hash.clone()),
            Lookup::Unknown => {
                // Every node that took it was killed after taking it.
                let all_killed = tx.acked_by.iter().all(|n| {
                    kills
                        .iter()
                        .any(|k| k.nodes.contains(n) && k.start_ms >= acked_at)
                });
                if all_killed {
                    f.unknown.push(tx.hash.clone());
                } else {
                    f.lost.push(tx.hash.clone());
                }
            }
        }
    }
    f
}

/// Commit instants of the record, sorted (ms since base).
pub(crate) fn commit_times(record: &Record) -> Vec<f64> {
    let mut c: Vec<f64> = record.txs.iter().filter_map(|t| t.committed_ms).collect();
    c.sort_by(f64::total_cmp);
    c
}

/// Runs every file check. `bound_ms` is the stated liveness bound: commits
/// resume within it after every heal, and faults that leave a quorum
/// untouched stall commits no longer than it.
pub(crate) fn check(
    record: &Record,
    faults: &[Fault],
    lookups: &HashMap<String, Lookup>,
    bound_ms: f64,
) -> Findings {
    let kills: Vec<&Fault> = faults.iter().filter(|f| f.kind == "kill").collect();
    let fates = fates(record, lookups, &kills);
    let commits = commit_times(record);
    // First submission instants, sorted, to tell whether anything waited.
    let mut sends: Vec<(f64, Option<f64>)> = record
        .txs
        .iter()
        .filter_map(|t| t.first_sent_ms.map(|s| (s, t.committed_ms)))
        .collect();
    sends.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Findings::default();
    for fault in faults {
        let outcome = fault_outcome(fault, &commits, &sends);
        out.violations
            .extend(liveness_violations(&outcome, &sends, bound_ms));
        let k = out.kinds.entry(fault.kind.clone()).or_default();
        k.count += 1;
        k.max_stall_ms = k.max_stall_ms.max(outcome.longest_stall_ms);
        match outcome.resume_ms {
            Some(r) => k.max_resume_ms = k.max_resume_ms.max(r),
            None => k.never_resumed += 1,
        }
        out.faults.push(outcome);
    }
    if !fates.lost.is_empty() {
        out.violations.push(format!(
            "nothing lost: {} transaction(s) acknowledged by a node that stayed up are in no block and no mempool (first: {})",
            fates.lost.len(),
            fates.lost[0]
        ));
    }
    if !fates.pending.is_empty() {
        out.violations.push(format!(
            "nothing lost: {} acknowledged transaction(s) still wait in a mempool after the drain (first: {})",
            fates.pending.len(),
            fates.pending[0]
        ));
    }
    out.fates = fates;
    out
}

/// True if a transfer first sent by `end` had not committed by then.
fn waiting_at(sends: &[(f64, Option<f64>)], end: f64) -> bool {
    sends
        .iter()
        .take_while(|(s, _)| *s <= end)
        .any(|(_, c)| c.is_none_or(|c| c > end))
}

/// One fault's longest stall and the time from its heal to the next commit
/// (0 when nothing was waiting; `None` if it never healed or nothing
/// committed after).
fn fault_outcome(fault: &Fault, commits: &[f64], sends: &[(f64, Option<f64>)]) -> FaultOutcome {
    let end = fault.end_ms.unwrap_or(f64::INFINITY);
    let resume = if !end.is_finite() {
        None
    } else if !waiting_at(sends, end) {
        Some(0.0)
    } else {
        let i = commits.partition_point(|&c| c < end);
        commits.get(i).map(|c| c - end)
    };
    FaultOutcome {
        fault: fault.clone(),
        longest_stall_ms: longest_stall(commits, fault.start_ms, end),
        resume_ms: resume,
    }
}

/// The liveness bound's verdict on one fault.
fn liveness_violations(
    o: &FaultOutcome,
    sends: &[(f64, Option<f64>)],
    bound_ms: f64,
) -> Vec<String> {
    let fault = &o.fault;
    let end = fault.end_ms.unwrap_or(f64::INFINITY);
    let label = format!(
        "{} {} at {:.1} s",
        fault.kind,
        fault.args,
        fault.start_ms / 1e3
    );
    let mut v = Vec::new();
    match o.resume_ms {
        None if end.is_finite() => v.push(format!(
            "liveness: nothing committed after the heal of {label} (healed at {:.1} s)",
            end / 1e3
        )),
        None => v.push(format!("the fault {label} was never healed")),
        Some(r) if r > bound_ms => v.push(format!(
            "liveness: commits resumed {:.1} s after the heal of {label}, above the bound of {:.1} s",
            r / 1e3,
            bound_ms / 1e3
        )),
        Some(_) => {}
    }
    let stall = o.longest_stall_ms;
    if fault.keeps_quorum && end.is_finite() && stall > bound_ms && waiting_at(sends, end) {
        v.push(format!(
            "liveness: {label} left a quorum untouched, yet nothing committed for {:.1} s (bound {:.1} s)",
            stall / 1e3,
            bound_ms / 1e3
        ));
    }
    v
}

/// The longest gap between commits over `[from, to]`, counting from the
/// last commit before `from` (or `from`) and up to `to`.
fn longest_stall(commits: &[f64], from: f64, to: f64) -> f64 {
    let to = if to.is_finite() {
        to
    } else {
        commits.last().copied().unwrap_or(from).max(from)
    };
    let before = commits.partition_point(|&c| c <= from);
    let mut last = if before > 0 {
        commits[before - 1]
    } else {
        from
    };
    let mut worst: f64 = 0.0;
    for &c in commits.iter().filter(|&&c| c > from && c <= to) {
        worst = worst.max(c - last);
        last = c;
    }
    worst.max(to - last)
}

/// One second of the run, for the timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Bin {
    pub committed: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Commits per second and the latency (first submission to commit) of what
/// committed in each second.
pub(crate) fn timeline(record: &Record) -> Vec<Bin> {
    let mut per: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for t in &record.txs {
        if let (Some(c), Some(s)) = (t.committed_ms, t.first_sent_ms) {
            per.entry((c.max(0.0) / 1e3) as usize)
                .or_default()
                .push((c - s).max(0.0));
        }
    }
    let len = per.keys().next_back().map_or(0, |k| k + 1);
    let mut bins = vec![Bin::default(); len];
    for (k, mut lat) in per {
        lat.sort_by(f64::total_cmp);
        let rank = |p: f64| lat[((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1];
        bins[k] = Bin {
            committed: lat.len() as u64,
            p50_ms: Some(rank(0.5)),
            p99_ms: Some(rank(0.99)),
        };
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::super::input::{RunHeader, TxRecord};
    use super::*;

    fn tx(hash: &str, sent: f64, acked_by: &[usize], committed: Option<f64>) -> TxRecord {
        TxRecord {
            hash: hash.into(),
            first_sent_ms: Some(sent),
            acked_by: acked_by.to_vec(),
            first_acked_ms: (!acked_by.is_empty()).then_some(sent + 1.0),
            committed_ms: committed,
            submissions: 1,
        }
    }

    fn record(txs: Vec<TxRecord>) -> Record {
        Record {
            run: RunHeader {
                base_unix_ms: 0,
                nodes: vec!["a".into(), "b".into()],
                rate: None,
                duration: None,
            },
            txs,
        }
    }

    fn fault(kind: &str, nodes: &[usize], start: f64, end: f64, keeps_quorum: bool) -> Fault {
        Fault {
            kind: kind.into(),
            args: String::new(),
            nodes: nodes.to_vec(),
            keeps_quorum,
            start_ms: start,
            end_ms: Some(end),
        }
    }

    #[test]
    fn an_acknowledged_transaction_in_no_block_is_lost_unless_its_node_crashed() {
        let r = record(vec![
            tx("ok", 0.0, &[0], Some(50.0)),
            tx("late", 0.0, &[0], None),
            tx("crashed", 100.0, &[1], None),
            tx("stayed", 100.0, &[0], None),
            tx("waiting", 100.0, &[0], None),
            tx("refused", 100.0, &[], None),
            tx("after", 950.0, &[0], Some(1_000.0)),
        ]);
        let lookups = HashMap::from([
            ("late".to_string(), Lookup::InBlock(3)),
            ("waiting".to_string(), Lookup::Pending),
        ]);
        let kill = fault("kill", &[1], 500.0, 900.0, true);
        let f = check(&r, &[kill], &lookups, 10_000.0);
        assert_eq!(f.fates.acked, 6);
        assert_eq!(f.fates.never_acked, 1);
        assert_eq!(f.fates.committed, 3);
        assert_eq!(f.fates.committed_late, 1);
        assert_eq!(f.fates.unknown, vec!["crashed".to_string()]);
        assert_eq!(f.fates.lost, vec!["stayed".to_string()]);
        assert_eq!(f.fates.pending, vec!["waiting".to_string()]);
        assert_eq!(f.faults[0].resume_ms, Some(100.0));
        assert_eq!(f.violations.len(), 2, "{:?}", f.violations);
        assert!(f.violations[0].contains("stayed up"), "{:?}", f.violations);
        assert!(f.violations[1].contains("still wait"), "{:?}", f.violations);
    }

    #[test]
    fn a_kill_before_the_acknowledgement_does_not_excuse_a_loss() {
        let r = record(vec![tx("t", 1_000.0, &[1], None)]);
        let kill = fault("kill", &[1], 500.0, 900.0, true);
        let f = check(&r, &[kill], &HashMap::new(), 10_000.0);
        assert_eq!(f.fates.lost, vec!["t".to_string()]);
    }

    #[test]
    fn resume_after_heal_is_measured_and_bounded() {
        // Commits every 100 ms until 1 s, none until 4.5 s, then again.
        let mut txs: Vec<TxRecord> = (0..10)
            .map(|i| {
                tx(
                    &format!("a{i}"),
                    i as f64 * 100.0,
                    &[0],
                    Some(i as f64 * 100.0 + 50.0),
                )
            })
            .collect();
        txs.push(tx("w", 1_500.0, &[0], Some(4_500.0)));
        txs.push(tx("x", 4_600.0, &[0], Some(4_700.0)));
        let r = record(txs);
        let split = fault("partition", &[0, 1, 2, 3], 1_000.0, 3_000.0, false);
        let f = check(&r, std::slice::from_ref(&split), &HashMap::new(), 2_000.0);
        assert_eq!(f.faults[0].resume_ms, Some(1_500.0));
        assert!((f.faults[0].longest_stall_ms - 2_050.0).abs() < 1e-9);
        assert!(f.violations.is_empty(), "{:?}", f.violations);
        let f = check(&r, &[split], &HashMap::new(), 1_000.0);
        assert_eq!(f.violations.len(), 1);
        assert!(
            f.violations[0].contains("resumed 1.5 s after the heal"),
            "{:?}",
            f.violations
        );
    }

    #[test]
    fn a_stall_under_a_minority_fault_is_a_violation() {
        let r = record(vec![
            tx("a", 0.0, &[0], Some(100.0)),
            tx("b", 200.0, &[0], Some(5_000.0)),
        ]);
        let minority = fault("isolate", &[3], 150.0, 4_900.0, true);
        let f = check(
            &r,
            std::slice::from_ref(&minority),
            &HashMap::new(),
            2_000.0,
        );
        assert_eq!(f.violations.len(), 1, "{:?}", f.violations);
        assert!(f.violations[0].contains("left a quorum untouched"));
        // The same stall under a majority fault is expected.
        let majority = Fault {
            keeps_quorum: false,
            ..minority
        };
        assert!(check(&r, &[majority], &HashMap::new(), 2_000.0)
            .violations
            .is_empty());
    }

    #[test]
    fn nothing_committed_after_a_heal_is_a_violation() {
        let r = record(vec![
            tx("a", 0.0, &[0], Some(100.0)),
            tx("b", 200.0, &[0], None),
        ]);
        let split = fault("partition", &[0, 1, 2, 3], 150.0, 300.0, false);
        let lookups = HashMap::from([("b".to_string(), Lookup::Pending)]);
        let f = check(&r, &[split], &lookups, 2_000.0);
        assert_eq!(f.faults[0].resume_ms, None);
        assert!(f
            .violations
            .iter()
            .any(|v| v.contains("nothing committed after the heal")));
        assert_eq!(f.kinds["partition"].never_resumed, 1);
    }

    #[test]
    fn the_timeline_bins_commits_by_second() {
        let r = record(vec![
            tx("a", 0.0, &[0], Some(100.0)),
            tx("b", 0.0, &[0], Some(300.0)),
            tx("c", 1_900.0, &[0], Some(2_100.0)),
            tx("d", 0.0, &[0], None),
        ]);
        let t = timeline(&r);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].committed, 2);
        assert_eq!(t[0].p50_ms, Some(100.0));
        assert_eq!(t[0].p99_ms, Some(300.0));
        assert_eq!(t[1], Bin::default());
        assert_eq!(t[2].committed, 1);
    }
}
