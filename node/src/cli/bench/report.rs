//! The bench's numbers (defined in `docs/BENCH.md`): what was offered,
//! submitted and rejected, committed throughput over the measurement window
//! (from the first commit to the end of submission, when commits steadily
//! follow submissions), submit-to-commit latency percentiles (from each
//! transfer's first submission), and what resubmission did.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use serde_json::json;

use super::follow::NodeErrors;
use super::load::Run;
use super::retry::short;
use super::submit::Outcome;
use super::Plan;

/// Widest rejection reason shown in the table (longer ones are cut).
const REASON_WIDTH: usize = 40;

/// Submit-to-commit latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `micros` (sorted here).
    fn of(mut micros: Vec<u64>) -> Latency {
        if micros.is_empty() {
            return Latency::default();
        }
        micros.sort_unstable();
        let rank = |p: f64| {
            let i = ((p / 100.0) * micros.len() as f64).ceil() as usize;
            micros[i.clamp(1, micros.len()) - 1] as f64 / 1_000.0
        };
        Latency {
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: rank(100.0),
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub offered_rate: u64,
    pub duration_secs: u64,
    pub nodes: usize,
    pub accounts: u64,
    pub memo_bytes: usize,
    pub seed: u64,
    pub signed: u64,
    pub submitted: u64,
    pub submit_rate: f64,
    pub rejected: BTreeMap<String, u64>,
    pub committed: u64,
    pub committed_tps: f64,
    pub window_secs: f64,
    pub latency: Latency,
    pub uncommitted: u64,
    /// Calls that carried resubmitted transfers, and resubmitted transfers
    /// summed over calls.
    pub resubmit_calls: u64,
    pub resubmitted_txs: u64,
    /// Distinct transfers submitted more than once.
    pub resubmitted: u64,
    /// Whether resubmission was on.
    pub resubmit: bool,
    /// Per node: subscription or block-fetch failures, and the last one.
    pub follower_errors: Vec<NodeErrors>,
}

impl Report {
    pub fn new(
        plan: &Plan,
        nodes: usize,
        run: &Run,
        outcome: &Outcome,
        follower_errors: Vec<NodeErrors>,
    ) -> Report {
        let mut sent = Vec::new();
        let mut commits = Vec::new();
        let mut latencies = Vec::new();
        let (mut submitted, mut uncommitted, mut resubmitted) = (0u64, 0u64, 0u64);
        for (log, c) in outcome.txs.iter().zip(&run.committed_us) {
            let (s, c) = (log.first_sent_us, c.load(Ordering::Relaxed));
            if s > 0 {
                sent.push(s);
            }
            submitted += u64::from(log.acked_by != 0);
            resubmitted += u64::from(log.submissions > 1);
            if c > 0 {
                commits.push(c);
                if s > 0 {
                    latencies.push(c.saturating_sub(s));
                }
            } else if log.acked_by != 0 {
                uncommitted += 1;
            }
        }
        let end = outcome.submit_end_us;
        let first_sent = sent.iter().copied().min().unwrap_or(end);
        let first_commit = commits.iter().copied().min().unwrap_or(end);
        let last_commit = commits.iter().copied().max().unwrap_or(end);
        // Steady state: from the first commit to the end of submission. A run
        // too short to reach it is measured from its start to its last commit.
        let (from, to) = if first_commit < end {
            (first_commit, end)
        } else {
            (first_sent, last_commit)
        };
        let in_window = commits.iter().filter(|&&c| c >= from && c <= to).count();
        let window_secs = to.saturating_sub(from) as f64 / 1e6;
        Report {
            offered_rate: plan.rate,
            duration_secs: plan.duration.as_secs(),
            nodes,
            accounts: plan.accounts,
            memo_bytes: plan.memo_bytes,
            seed: plan.seed,
            signed: run.raws.len() as u64,
            submitted,
            submit_rate: rate(submitted as usize, end.saturating_sub(first_sent)),
            rejected: outcome.rejected.clone(),
            committed: commits.len() as u64,
            committed_tps: if window_secs > 0.0 {
                in_window as f64 / window_secs
            } else {
                0.0
            },
            window_secs,
            uncommitted,
            latency: Latency::of(latencies),
            resubmit_calls: outcome.resubmit_calls,
            resubmitted_txs: outcome.resubmitted_txs,
            resubmitted,
            resubmit: plan.resubmit_after.is_some(),
            follower_errors,
        }
    }

    fn follower_summary(&self) -> Vec<String> {
        self.follower_errors
            .iter()
            .enumerate()
            .filter(|(_, e)| e.count > 0)
            .map(|(n, e)| {
                format!(
                    "node {n}: {} failure(s), last: {}",
                    e.count,
                    e.last.as_deref().unwrap_or("")
                )
            })
            .collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "offeredRate": self.offered_rate,
            "durationSecs": self.duration_secs,
            "nodes": self.nodes,
            "accounts": self.accounts,
            "memoBytes": self.memo_bytes,
            "seed": self.seed,
            "signed": self.signed,
            "submitted": self.submitted,
            "submitRate": round1(self.submit_rate),
            "rejected": self.rejected,
            "committed": self.committed,
            "committedTps": round1(self.committed_tps),
            "windowSecs": round1(self.window_secs),
            "latencyMs": {
                "p50": round1(self.latency.p50),
                "p95": round1(self.latency.p95),
                "p99": round1(self.latency.p99),
                "max": round1(self.latency.max),
            },
            "uncommitted": self.uncommitted,
            "resubmissions": {
                "calls": self.resubmit_calls,
                "txs": self.resubmitted_txs,
            },
            "resubmitted": self.resubmitted,
            "resubmit": self.resubmit,
            "followerErrors": self.follower_summary(),
        })
    }

    pub fn to_table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            (
                "offered rate".into(),
                format!("{} tx/s for {} s", self.offered_rate, self.duration_secs),
            ),
            (
                "load".into(),
                format!(
                    "{} nodes, {} senders (seed {}), memo {} B",
                    self.nodes, self.accounts, self.seed, self.memo_bytes
                ),
            ),
            (
                "submitted".into(),
                format!(
                    "{} of {} accepted ({:.0} tx/s)",
                    self.submitted, self.signed, self.submit_rate
                ),
            ),
            (
                "committed".into(),
                format!(
                    "{} ({:.0} tx/s over {:.1} s)",
                    self.committed, self.committed_tps, self.window_secs
                ),
            ),
            (
                "latency".into(),
                format!(
                    "p50 {:.0} ms  p95 {:.0} ms  p99 {:.0} ms  max {:.0} ms",
                    self.latency.p50, self.latency.p95, self.latency.p99, self.latency.max
                ),
            ),
            ("uncommitted".into(), self.uncommitted.to_string()),
            (
                "resubmissions".into(),
                if self.resubmit {
                    format!(
                        "{} txs in {} calls; {} distinct txs resubmitted",
                        self.resubmitted_txs, self.resubmit_calls, self.resubmitted
                    )
                } else {
                    "off (--no-resubmit)".into()
                },
            ),
        ];
        for (reason, n) in &self.rejected {
            rows.push((
                format!("rejected: {}", short(reason, REASON_WIDTH)),
                n.to_string(),
            ));
        }
        if self.rejected.is_empty() {
            rows.push(("rejected".into(), "0".into()));
        }
        for e in self.follower_summary() {
            rows.push(("follower".into(), e));
        }
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<width$}  {v}");
        }
        out
    }
}

fn rate(n: usize, micros: u64) -> f64 {
    if micros == 0 {
        0.0
    } else {
        n as f64 * 1e6 / micros as f64
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latency::of((1..=100).map(|ms| ms * 1_000).collect());
        assert_eq!(
            l,
            Latency {
                p50: 50.0,
                p95: 95.0,
                p99: 99.0,
                max: 100.0
            }
        );
        assert_eq!(Latency::of(vec![]), Latency::default());
        assert_eq!(Latency::of(vec![7_000]).p50, 7.0);
    }

    #[test]
    fn a_long_rejection_reason_does_not_push_the_table_out() {
        let long = format!("rate limit: {}", "x".repeat(120));
        let report = Report {
            offered_rate: 10,
            duration_secs: 1,
            nodes: 1,
            accounts: 1,
            memo_bytes: 0,
            seed: 1,
            signed: 10,
            submitted: 10,
            submit_rate: 10.0,
            rejected: [(long, 3), ("senderLimit".to_string(), 1)].into(),
            committed: 10,
            committed_tps: 10.0,
            window_secs: 1.0,
            latency: Latency::default(),
            uncommitted: 0,
            resubmit_calls: 1,
            resubmitted_txs: 4,
            resubmitted: 4,
            resubmit: true,
            follower_errors: Vec::new(),
        };
        let table = report.to_table();
        let col = "rejected: ".len() + REASON_WIDTH + 2;
        for line in table.lines() {
            let chars: Vec<char> = line.chars().collect();
            assert!(chars.len() > col, "{line:?}");
            assert_eq!(chars[col - 2..col], [' ', ' '], "{line:?}");
            assert_ne!(chars[col], ' ', "{line:?}");
        }
        assert!(table.contains("resubmissions"));
        assert_eq!(report.to_json()["resubmissions"]["txs"], 4);
        assert_eq!(report.to_json()["resubmitted"], 4);
    }
}
