//! Signing every transfer ahead of time, and submitting them at the target
//! rate: every tick sends the transactions due by then, one
//! `cairn_submitTransactions` call per node, with at most `--concurrency`
//! calls in flight per node (a saturated node slows the ticks, and the next
//! tick sends the backlog).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_ledger::{Address, Amount, ChainId, Encode, Hash, Transaction};
use cairn_rpc::CairnApiClient;
use parking_lot::Mutex;
use rayon::prelude::*;
use tokio::sync::Semaphore;

use super::accounts::{Sender, TRANSFER_AMOUNT};
use super::{progress, Plan, Target, MAX_BATCH};

/// Everything about one run's transactions, shared by the submitter and the
/// commit follower. Times are microseconds since `base`, plus one (0: none).
#[derive(Debug)]
pub(crate) struct Run {
    /// Signed transactions in submission order.
    pub raws: Vec<Vec<u8>>,
    /// The node each transaction goes to.
    pub node_of: Vec<u16>,
    /// Transaction hash -> position in `raws`.
    pub index: HashMap<Hash, u32>,
    /// The instant all times count from.
    pub base: Instant,
    /// When each accepted transaction was submitted.
    pub sent_us: Vec<AtomicU64>,
    /// When each transaction's commit was notified.
    pub committed_us: Vec<AtomicU64>,
    /// Transactions the nodes accepted.
    pub accepted: AtomicU64,
    /// Transactions seen committed.
    pub committed: AtomicU64,
    /// Rejected transactions by reason (`data.reason` of the error, or the
    /// transport error).
    pub rejected: Mutex<BTreeMap<String, u64>>,
    /// When the last submission call returned.
    pub submit_end_us: AtomicU64,
}

impl Run {
    /// Microseconds since `base`, plus one.
    pub fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64 + 1
    }

    fn reject(&self, reason: String, n: u64) {
        *self.rejected.lock().entry(reason).or_default() += n;
    }
}

/// Signs the run's `rate × duration` transfers on all cores. Transaction `i`
/// is sender `i mod K`'s `(i div K)`-th, so every sender's nonces are
/// submitted in order, spread evenly over time.
pub(crate) fn sign_all(chain: &ChainId, plan: &Plan, senders: &[Sender]) -> Run {
    let k = senders.len();
    let total = plan.total() as usize;
    let memo = vec![b'x'; plan.memo_bytes];
    let signed: Vec<(Vec<u8>, Hash)> = (0..total)
        .into_par_iter()
        .map(|i| {
            let s = &senders[i % k];
            // To the next sender (to itself when there is only one).
            let to: Address = senders[(i + 1) % k].address;
            let tx = Transaction {
                chain_id: chain.clone(),
                from: s.address,
                to,
                amount: Amount(TRANSFER_AMOUNT),
                nonce: s.nonce + (i / k) as u64,
                memo: memo.clone(),
            }
            .sign(&s.key);
            (tx.to_bytes(), tx.hash())
        })
        .collect();
    let index = signed
        .iter()
        .enumerate()
        .map(|(i, (_, h))| (*h, i as u32))
        .collect();
    Run {
        node_of: (0..total).map(|i| senders[i % k].node as u16).collect(),
        raws: signed.into_iter().map(|(raw, _)| raw).collect(),
        index,
        base: Instant::now(),
        sent_us: (0..total).map(|_| AtomicU64::new(0)).collect(),
        committed_us: (0..total).map(|_| AtomicU64::new(0)).collect(),
        accepted: AtomicU64::new(0),
        committed: AtomicU64::new(0),
        rejected: Mutex::new(BTreeMap::new()),
        submit_end_us: AtomicU64::new(0),
    }
}

/// Submits every transaction of `run` at the plan's rate; returns when every
/// call has been answered.
pub(crate) async fn submit(targets: Arc<Vec<Target>>, run: Arc<Run>, plan: &Plan) {
    let total = run.raws.len();
    let permits: Vec<Arc<Semaphore>> = targets
        .iter()
        .map(|_| Arc::new(Semaphore::new(plan.concurrency)))
        .collect();
    let mut calls = tokio::task::JoinSet::new();
    let mut ticks = tokio::time::interval(plan.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = Instant::now();
    let mut next = 0usize;
    let mut last_report = Instant::now();
    while next < total {
        ticks.tick().await;
        let due = ((start.elapsed().as_secs_f64() * plan.rate as f64) as usize).min(total);
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); targets.len()];
        for i in next..due {
            groups[run.node_of[i] as usize].push(i as u32);
        }
        next = due;
        for (node, group) in groups.into_iter().enumerate() {
            for chunk in group.chunks(MAX_BATCH) {
                let Ok(permit) = permits[node].clone().acquire_owned().await else {
                    continue;
                };
                let (targets, run, chunk) = (targets.clone(), run.clone(), chunk.to_vec());
                calls.spawn(async move {
                    send(&targets[node], &run, &chunk).await;
                    drop(permit);
                });
            }
        }
        while calls.try_join_next().is_some() {}
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            progress(format!(
                "{:.0} s: {next} sent, {} accepted, {} committed",
                start.elapsed().as_secs_f64(),
                run.accepted.load(Ordering::Relaxed),
                run.committed.load(Ordering::Relaxed)
            ));
        }
    }
    while calls.join_next().await.is_some() {}
    run.submit_end_us.store(run.now_us(), Ordering::Relaxed);
}

/// One `submitTransactions` call; records submit times and outcomes.
async fn send(target: &Target, run: &Run, chunk: &[u32]) {
    let raws: Vec<String> = chunk
        .iter()
        .map(|&i| format!("0x{}", hex::encode(&run.raws[i as usize])))
        .collect();
    let at = run.now_us();
    match target.client.submit_transactions(raws).await {
        Ok(outcomes) => {
            let mut accepted = 0;
            for (&i, o) in chunk.iter().zip(&outcomes) {
                match &o.error {
                    None => {
                        accepted += 1;
                        // A commit notified before this call returned keeps its order.
                        run.sent_us[i as usize].store(at, Ordering::Relaxed);
                    }
                    Some(e) => {
                        let reason = e
                            .data
                            .as_ref()
                            .and_then(|d| d["reason"].as_str())
                            .map(String::from)
                            .unwrap_or_else(|| format!("code {}", e.code));
                        run.reject(reason, 1);
                    }
                }
            }
            if outcomes.len() < chunk.len() {
                run.reject(
                    "missing outcome".into(),
                    (chunk.len() - outcomes.len()) as u64,
                );
            }
            run.accepted.fetch_add(accepted, Ordering::Relaxed);
        }
        Err(e) => {
            let mut msg = format!("rpc error: {e}");
            msg.truncate(100);
            run.reject(msg, chunk.len() as u64);
        }
    }
}
