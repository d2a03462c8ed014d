//! Submitting at the target rate, as a client that wants every transfer
//! committed would: every tick, each sender's transfers due by then go to
//! its node in one `cairn_submitTransactions` call per node (at most
//! `--concurrency` calls in flight per node, one per sender, so a sender's
//! nonces leave in order). Unless `--no-resubmit`:
//!
//! - a transfer refused for a transient reason (`retry::retryable`) is sent
//!   again, same bytes, after the sender's backoff (100 ms doubling to 2 s,
//!   jittered; refusals of fresh transfers meanwhile do not extend it), or
//!   as soon as one of the sender's transfers commits (room at the node),
//!   its lowest outstanding nonce first, at most [`MAX_RESEND`] per call;
//! - a transfer accepted but not committed `--resubmit-after-secs` later
//!   (the node may have lost it) is sent again, with everything the sender
//!   has outstanding, to the next node round-robin;
//! - a transport error (node killed, paused, unreachable) marks the node
//!   down for a backoff and moves each of the call's senders to the next
//!   live node, with everything it has outstanding;
//! - `rateLimited` holds every call to that node for its `retryAfterMs`
//!   (at least the backoff); `tooManyItems` shrinks its calls.
//!
//! The scheduler owns every transaction's log; only commits (written by the
//! follower) are shared through [`Run`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use cairn_rpc::{CairnApiClient, SubmitOutcome};
use jsonrpsee::core::ClientError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::load::Run;
use super::retry::{backoff, next_live, retryable, short};
use super::{progress, Plan, Target, MAX_BATCH};

/// Most of one sender's transfers in one call; the rest go in later calls.
const MAX_PER_SENDER_CALL: usize = 1024;
/// Most refused transfers one sender resends in one call (unless it moved
/// node): a sender at its node's cap gets only a few in per block, and
/// resending all of them each time would only burn the node's CPU.
const MAX_RESEND: usize = 256;
/// Longest error message kept per transaction.
const MAX_ERROR_LEN: usize = 200;

/// Where a transaction stands, as far as the submitter knows (a commit seen
/// by the follower overrides all of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Not submitted yet.
    Unsent,
    /// In a call not answered yet.
    InFlight,
    /// A node accepted it.
    Accepted,
    /// Refused for a transient reason: to be sent again.
    Retry,
    /// Refused for good (or, with `--no-resubmit`, refused at all).
    Dead,
}

/// What the bench knows of one transaction. Times: µs since the run's
/// base, plus one (0: never).
#[derive(Debug, Clone)]
pub(crate) struct TxLog {
    pub state: State,
    pub first_sent_us: u64,
    pub last_sent_us: u64,
    /// Bit `n`: node `n` answered it accepted at least once.
    pub acked_by: u64,
    pub first_acked_us: u64,
    /// How many calls carried it.
    pub submissions: u32,
    pub last_error: Option<Arc<str>>,
}

/// What the submission phase leaves for the report and the record.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub txs: Vec<TxLog>,
    /// Refusals by reason (every refused submission counts).
    pub rejected: BTreeMap<String, u64>,
    /// Calls that carried at least one transaction sent before.
    pub resubmit_calls: u64,
    /// Submissions of transactions sent before (summed over calls).
    pub resubmitted_txs: u64,
    /// When every transfer had been submitted once and answered.
    pub submit_end_us: u64,
}

#[derive(Debug)]
struct SenderState {
    /// Its transactions in the run: `j`, `j + K`, `j + 2K`, ...
    count: usize,
    node: usize,
    /// A call carrying its transactions is in flight.
    busy: bool,
    attempt: u32,
    retry_at: Instant,
    /// `low` when it last backed off: once commits move `low` past it,
    /// room opened up at the node and it retries without waiting.
    low_at_fail: usize,
    /// Positions below `low` are committed or dead.
    low: usize,
    /// Positions below `sent` were submitted at least once.
    sent: usize,
    /// It changed node: send everything outstanding to the new one.
    moved: bool,
}

#[derive(Debug)]
struct NodeState {
    in_flight: usize,
    failures: u32,
    down_until: Instant,
    throttled_until: Instant,
    max_batch: usize,
}

/// One call's answer, back at the scheduler.
struct Answer {
    node: usize,
    items: Vec<u32>,
    result: Result<Vec<SubmitOutcome>, ClientError>,
}

/// A whole-call failure, sorted by what it means for the node.
enum CallFailure {
    Transport(String),
    RateLimited {
        retry_ms: Option<u64>,
        message: String,
    },
    TooManyItems {
        max: Option<u64>,
        message: String,
    },
    Other {
        reason: String,
        message: String,
    },
}

fn reason_of(code: i32, data: Option<&Value>) -> String {
    data.and_then(|d| d["reason"].as_str())
        .map(String::from)
        .unwrap_or_else(|| format!("code {code}"))
}

fn classify(e: ClientError) -> CallFailure {
    match e {
        ClientError::Call(obj) => {
            let data: Option<Value> = obj.data().and_then(|d| serde_json::from_str(d.get()).ok());
            let reason = reason_of(obj.code(), data.as_ref());
            let message = obj.message().to_string();
            match reason.as_str() {
                "rateLimited" => CallFailure::RateLimited {
                    retry_ms: data.as_ref().and_then(|d| d["retryAfterMs"].as_u64()),
                    message,
                },
                "tooManyItems" => CallFailure::TooManyItems {
                    max: data.as_ref().and_then(|d| d["max"].as_u64()),
                    message,
                },
                _ => CallFailure::Other { reason, message },
            }
        }
        other => CallFailure::Transport(other.to_string()),
    }
}

struct Submitter {
    run: Arc<Run>,
    plan: Plan,
    k: usize,
    txs: Vec<TxLog>,
    senders: Vec<SenderState>,
    nodes: Vec<NodeState>,
    rejected: BTreeMap<String, u64>,
    resubmit_calls: u64,
    resubmitted_txs: u64,
    rng: ChaCha8Rng,
}

impl Submitter {
    fn new(run: Arc<Run>, plan: &Plan, first_node: &[usize], nodes: usize) -> Submitter {
        let k = first_node.len();
        let total = run.raws.len();
        let now = Instant::now();
        let log = TxLog {
            state: State::Unsent,
            first_sent_us: 0,
            last_sent_us: 0,
            acked_by: 0,
            first_acked_us: 0,
            submissions: 0,
            last_error: None,
        };
        Submitter {
            txs: vec![log; total],
            senders: first_node
                .iter()
                .enumerate()
                .map(|(j, &node)| SenderState {
                    count: if total > j {
                        (total - j).div_ceil(k)
                    } else {
                        0
                    },
                    node,
                    busy: false,
                    attempt: 0,
                    retry_at: now,
                    low_at_fail: 0,
                    low: 0,
                    sent: 0,
                    moved: false,
                })
                .collect(),
            nodes: (0..nodes)
                .map(|_| NodeState {
                    in_flight: 0,
                    failures: 0,
                    down_until: now,
                    throttled_until: now,
                    max_batch: MAX_BATCH,
                })
                .collect(),
            rejected: BTreeMap::new(),
            resubmit_calls: 0,
            resubmitted_txs: 0,
            rng: ChaCha8Rng::seed_from_u64(plan.seed),
            run,
            plan: plan.clone(),
            k,
        }
    }

    fn index(&self, j: usize, pos: usize) -> usize {
        j + pos * self.k
    }

    fn settled(&self, i: usize) -> bool {
        self.run.is_committed(i) || self.txs[i].state == State::Dead
    }

    fn jitter(&mut self) -> f64 {
        self.rng.gen::<f64>()
    }

    /// Positions of sender `j`'s transactions due once `due` of the run's
    /// are (transaction `i` is due at `i / rate` seconds).
    fn due_of(&self, j: usize, due: usize) -> usize {
        if due > j {
            (due - j).div_ceil(self.k).min(self.senders[j].count)
        } else {
            0
        }
    }

    /// The transactions sender `j` should send now, lowest nonce first:
    /// those to resubmit, then the fresh ones due.
    fn pick(&mut self, j: usize, due: usize, now: Instant, room: usize) -> Vec<u32> {
        let now_us = self.run.now_us();
        let resubmit = self.plan.resubmit_after;
        let s = &self.senders[j];
        let (low, sent) = (s.low, s.sent);
        let mut items = Vec::new();
        let room = room.min(MAX_PER_SENDER_CALL);
        let ready = now >= s.retry_at || low > s.low_at_fail;
        if let Some(after) = resubmit.filter(|_| ready) {
            let after_us = after.as_micros() as u64;
            let stale = (low..sent).any(|p| {
                let i = self.index(j, p);
                let t = &self.txs[i];
                t.state == State::Accepted
                    && !self.run.is_committed(i)
                    && now_us.saturating_sub(t.last_sent_us) >= after_us
            });
            if stale && !self.senders[j].moved {
                // Accepted long ago and still not committed: the node may
                // have lost it (killed, cut off); try the next one.
                let n = self.nodes.len();
                let next = next_live(self.senders[j].node, n, |x| self.live(x, now));
                self.senders[j].node = next;
                self.senders[j].moved = true;
            }
            let all = self.senders[j].moved;
            let cap = if all { room } else { room.min(MAX_RESEND) };
            for p in low..sent {
                let i = self.index(j, p);
                let state = self.txs[i].state;
                if self.run.is_committed(i) || state == State::Dead || state == State::InFlight {
                    continue;
                }
                if state == State::Retry || all {
                    items.push(i as u32);
                    if items.len() >= cap {
                        break;
                    }
                }
            }
        }
        if items.len() >= room {
            return items;
        }
        let fresh_to = self.due_of(j, due).min(sent + room - items.len());
        items.extend((sent..fresh_to).map(|p| self.index(j, p) as u32));
        items
    }

    fn live(&self, n: usize, now: Instant) -> bool {
        now >= self.nodes[n].down_until
    }

    fn open(&self, n: usize, now: Instant) -> bool {
        let node = &self.nodes[n];
        self.live(n, now) && now >= node.throttled_until && node.in_flight < self.plan.concurrency
    }

    /// Builds this tick's calls (one per node at most) and starts them.
    fn schedule(&mut self, due: usize, targets: &Arc<Vec<Target>>, calls: &mut JoinSet<Answer>) {
        let now = Instant::now();
        let mut batches: Vec<Vec<u32>> = vec![Vec::new(); self.nodes.len()];
        for j in 0..self.senders.len() {
            self.advance_low(j);
            if self.senders[j].busy {
                continue;
            }
            if self.plan.resubmit_after.is_some() && !self.live(self.senders[j].node, now) {
                // Its node failed another sender's call: leave it too.
                self.move_sender(j, now);
            }
            let node = self.senders[j].node;
            let room = self.nodes[node]
                .max_batch
                .saturating_sub(batches[node].len());
            if !self.open(node, now) || room == 0 {
                continue;
            }
            let items = self.pick(j, due, now, room);
            // `pick` may have moved the sender.
            let node = self.senders[j].node;
            let room = self.nodes[node]
                .max_batch
                .saturating_sub(batches[node].len());
            if items.is_empty() || !self.open(node, now) || items.len() > room {
                continue;
            }
            let s = &mut self.senders[j];
            s.busy = true;
            s.moved = false;
            let fresh_end = items
                .iter()
                .map(|&i| (i as usize - j) / self.k + 1)
                .max()
                .unwrap_or(0);
            s.sent = s.sent.max(fresh_end);
            batches[node].extend(items);
        }
        for (node, items) in batches.into_iter().enumerate() {
            if !items.is_empty() {
                self.start_call(node, items, targets, calls);
            }
        }
    }

    fn advance_low(&mut self, j: usize) {
        let mut low = self.senders[j].low;
        while low < self.senders[j].sent && self.settled(self.index(j, low)) {
            low += 1;
        }
        self.senders[j].low = low;
    }

    fn start_call(
        &mut self,
        node: usize,
        items: Vec<u32>,
        targets: &Arc<Vec<Target>>,
        calls: &mut JoinSet<Answer>,
    ) {
        let at = self.run.now_us();
        let mut resent = 0;
        for &i in &items {
            let t = &mut self.txs[i as usize];
            if t.first_sent_us == 0 {
                t.first_sent_us = at;
            } else {
                resent += 1;
            }
            t.last_sent_us = at;
            t.submissions += 1;
            t.state = State::InFlight;
        }
        if resent > 0 {
            self.resubmit_calls += 1;
            self.resubmitted_txs += resent;
        }
        self.nodes[node].in_flight += 1;
        let raws: Vec<String> = items
            .iter()
            .map(|&i| format!("0x{}", hex::encode(&self.run.raws[i as usize])))
            .collect();
        let targets = targets.clone();
        calls.spawn(async move {
            let result = targets[node].submit.submit_transactions(raws).await;
            Answer {
                node,
                items,
                result,
            }
        });
    }

    /// Records a refusal of transaction `i`.
    fn refuse(&mut self, i: usize, reason: &str, message: &str) {
        *self.rejected.entry(reason.to_string()).or_default() += 1;
        let t = &mut self.txs[i];
        t.last_error = Some(short(&format!("{reason}: {message}"), MAX_ERROR_LEN).into());
        t.state = if self.plan.resubmit_after.is_some() && retryable(reason) {
            State::Retry
        } else {
            State::Dead
        };
    }

    fn accept(&mut self, i: usize, node: usize, at: u64) {
        let t = &mut self.txs[i];
        if t.acked_by == 0 {
            self.run.accepted.fetch_add(1, Ordering::Relaxed);
        }
        t.acked_by |= 1u64 << node;
        if t.first_acked_us == 0 {
            t.first_acked_us = at;
        }
        t.state = State::Accepted;
    }

    /// Applies one call's answer.
    fn apply(&mut self, a: Answer) {
        let now = Instant::now();
        let node = a.node;
        self.nodes[node].in_flight -= 1;
        // Senders that resent something in this call, and those of them
        // that got a resent transfer in.
        let resent: BTreeSet<usize> = a
            .items
            .iter()
            .filter(|&&i| self.txs[i as usize].submissions > 1)
            .map(|&i| i as usize % self.k)
            .collect();
        let (failed, progressed) = match a.result {
            Ok(outcomes) => self.apply_outcomes(node, &a.items, &outcomes),
            Err(e) => {
                let (reason, message) = self.call_failed(node, &a.items, e, now);
                for &i in &a.items {
                    self.refuse(i as usize, &reason, &message);
                }
                let failed = a.items.iter().map(|&i| i as usize % self.k).collect();
                (failed, BTreeSet::new())
            }
        };
        let senders: BTreeSet<usize> = a.items.iter().map(|&i| i as usize % self.k).collect();
        for j in senders {
            self.settle_sender(
                j,
                failed.contains(&j),
                resent.contains(&j),
                progressed.contains(&j),
                now,
            );
        }
    }

    /// A call answered item by item: accepts and refusals. Returns the
    /// senders with a refusal, and those that got a resent transfer in.
    fn apply_outcomes(
        &mut self,
        node: usize,
        items: &[u32],
        outcomes: &[SubmitOutcome],
    ) -> (BTreeSet<usize>, BTreeSet<usize>) {
        let at = self.run.now_us();
        let (mut failed, mut progressed) = (BTreeSet::new(), BTreeSet::new());
        self.nodes[node].failures = 0;
        for (k, &i) in items.iter().enumerate() {
            let i = i as usize;
            match outcomes.get(k).map(|o| &o.error) {
                Some(None) => {
                    if self.txs[i].submissions > 1 {
                        progressed.insert(i % self.k);
                    }
                    self.accept(i, node, at);
                }
                Some(Some(e)) => {
                    let reason = reason_of(e.code, e.data.as_ref());
                    self.refuse(i, &reason, &e.message);
                    failed.insert(i % self.k);
                }
                None => {
                    self.refuse(i, "missingOutcome", "the node answered fewer items");
                    failed.insert(i % self.k);
                }
            }
        }
        (failed, progressed)
    }

    /// A whole call failed: what it does to the node (down, throttled, a
    /// smaller batch) and its senders; returns the refusal's reason and message.
    fn call_failed(
        &mut self,
        node: usize,
        items: &[u32],
        e: ClientError,
        now: Instant,
    ) -> (String, String) {
        match classify(e) {
            CallFailure::Transport(message) => {
                let jitter = self.jitter();
                let n = &mut self.nodes[node];
                n.failures += 1;
                n.down_until = now + backoff(n.failures, jitter);
                if self.plan.resubmit_after.is_some() {
                    let senders: BTreeSet<usize> =
                        items.iter().map(|&i| i as usize % self.k).collect();
                    for j in senders {
                        self.move_sender(j, now);
                    }
                }
                (
                    "transportError".to_string(),
                    format!("node {node}: {message}"),
                )
            }
            CallFailure::RateLimited { retry_ms, message } => {
                let hint = Duration::from_millis(retry_ms.unwrap_or(0));
                let jitter = self.jitter();
                self.nodes[node].throttled_until = now + hint.max(backoff(1, jitter));
                ("rateLimited".to_string(), message)
            }
            CallFailure::TooManyItems { max, message } => {
                let n = &mut self.nodes[node];
                let max = max.map_or(n.max_batch / 2, |m| m as usize);
                n.max_batch = max.clamp(1, n.max_batch.max(1));
                ("tooManyItems".to_string(), message)
            }
            CallFailure::Other { reason, message } => (reason, message),
        }
    }

    /// Sender `j`'s call is over: free to send again, backing off after a
    /// refusal.
    fn settle_sender(
        &mut self,
        j: usize,
        failed: bool,
        resent: bool,
        progressed: bool,
        now: Instant,
    ) {
        let jitter = self.jitter();
        let s = &mut self.senders[j];
        s.busy = false;
        if failed {
            if resent {
                // A retry: back off further unless it made progress.
                s.attempt = if progressed {
                    1
                } else {
                    s.attempt.saturating_add(1)
                };
                s.retry_at = now + backoff(s.attempt, jitter);
            } else if now >= s.retry_at {
                // A first refusal; refusals of fresh transfers while it
                // is backing off do not push its retry further out.
                s.attempt = s.attempt.max(1);
                s.retry_at = now + backoff(s.attempt, jitter);
            }
            s.low_at_fail = s.low;
        } else if resent {
            s.attempt = 0;
        }
    }

    /// After a transport error: sender `j` moves to the next live node and
    /// will send everything outstanding there.
    fn move_sender(&mut self, j: usize, now: Instant) {
        let next = next_live(self.senders[j].node, self.nodes.len(), |x| {
            self.live(x, now)
        });
        let s = &mut self.senders[j];
        s.node = next;
        s.moved = true;
    }

    fn all_sent(&self) -> bool {
        self.senders.iter().all(|s| s.sent == s.count && !s.busy)
    }

    fn all_settled(&self) -> bool {
        self.senders.iter().all(|s| s.low == s.count)
    }

    fn in_retry(&self) -> usize {
        self.txs.iter().filter(|t| t.state == State::Retry).count()
    }
}

/// Submits every transaction of `run` (sender `j` starting on node
/// `first_node[j]`) and, unless resubmission is off, keeps resubmitting
/// until every one is committed or refused for good, or the drain time
/// after the last first submission has passed.
pub(crate) async fn submit(
    targets: Arc<Vec<Target>>,
    run: Arc<Run>,
    plan: &Plan,
    first_node: &[usize],
) -> Outcome {
    let total = run.raws.len();
    let mut s = Submitter::new(run.clone(), plan, first_node, targets.len());
    let mut calls: JoinSet<Answer> = JoinSet::new();
    let mut ticks = tokio::time::interval(plan.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let start = Instant::now();
    let give_up = start + plan.duration + plan.drain;
    let mut submit_end: Option<(u64, Instant)> = None;
    let mut last_report = Instant::now();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            Some(done) = calls.join_next(), if !calls.is_empty() => {
                if let Ok(answer) = done {
                    s.apply(answer);
                }
                continue;
            }
        }
        let due = ((start.elapsed().as_secs_f64() * plan.rate as f64) as usize).min(total);
        s.schedule(due, &targets, &mut calls);
        let now = Instant::now();
        if submit_end.is_none() && s.all_sent() {
            submit_end = Some((run.now_us(), now));
            progress("every transfer submitted once; draining");
        }
        let deadline = submit_end.map_or(give_up, |(_, at)| at + plan.drain);
        if (submit_end.is_some() && s.all_settled() && calls.is_empty()) || now >= deadline {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            progress(format!(
                "{:.0} s: {} accepted, {} committed, {} resubmissions, {} awaiting retry",
                start.elapsed().as_secs_f64(),
                run.accepted.load(Ordering::Relaxed),
                run.committed.load(Ordering::Relaxed),
                s.resubmitted_txs,
                s.in_retry()
            ));
        }
    }
    calls.abort_all();
    while let Some(done) = calls.join_next().await {
        if let Ok(answer) = done {
            s.apply(answer);
        }
    }
    Outcome {
        submit_end_us: submit_end.map_or_else(|| run.now_us(), |(us, _)| us),
        txs: s.txs,
        rejected: s.rejected,
        resubmit_calls: s.resubmit_calls,
        resubmitted_txs: s.resubmitted_txs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use jsonrpsee::types::ErrorObjectOwned;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU64;

    fn plan(extra: &[&str]) -> Plan {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            bench: super::super::BenchArgs,
        }
        let mut argv = vec![
            "bench",
            "--rpc",
            "http://a",
            "--key",
            "k",
            "--rate",
            "10",
            "--duration",
            "1",
            "--seed",
            "9",
        ];
        argv.extend_from_slice(extra);
        Plan::new(&Cli::parse_from(argv).bench).unwrap()
    }

    /// A run of `total` transactions (no real bytes) with two senders on
    /// nodes 0 and 1 of three.
    fn submitter(total: usize, extra: &[&str]) -> Submitter {
        let run = Run {
            raws: vec![Vec::new(); total],
            hashes: vec![cairn_ledger::Hash::ZERO; total],
            index: HashMap::new(),
            base: std::time::Instant::now(),
            base_unix_ms: 0,
            committed_us: (0..total).map(|_| AtomicU64::new(0)).collect(),
            height: (0..total).map(|_| AtomicU64::new(0)).collect(),
            committed: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        };
        Submitter::new(Arc::new(run), &plan(extra), &[0, 1], 3)
    }

    fn set(s: &mut Submitter, i: usize, state: State) {
        s.txs[i].state = state;
        s.txs[i].first_sent_us = 1;
        s.txs[i].last_sent_us = s.run.now_us();
    }

    #[test]
    fn a_sender_resends_its_refused_nonces_first_then_the_fresh_ones() {
        let mut s = submitter(10, &[]);
        // Sender 0 owns transactions 0, 2, 4, 6, 8; the first three went out.
        s.senders[0].sent = 3;
        set(&mut s, 0, State::Accepted);
        set(&mut s, 2, State::Retry);
        set(&mut s, 4, State::Accepted);
        let now = Instant::now();
        assert_eq!(s.due_of(0, 8), 4);
        assert_eq!(s.due_of(1, 8), 4);
        assert_eq!(s.due_of(1, 1), 0);
        assert_eq!(s.pick(0, 8, now, 100), vec![2, 6]);
        // Room for one: the lowest outstanding nonce goes first.
        assert_eq!(s.pick(0, 8, now, 1), vec![2]);
        // Backing off: only fresh transfers leave.
        s.senders[0].retry_at = now + Duration::from_secs(1);
        assert_eq!(s.pick(0, 8, now, 100), vec![6]);
        // A committed one is never resent; after a move, everything
        // outstanding is.
        s.senders[0].retry_at = now;
        s.run.mark_committed(0, 5, 1);
        s.senders[0].moved = true;
        assert_eq!(s.pick(0, 8, now, 100), vec![2, 4, 6]);
    }

    #[test]
    fn a_backing_off_sender_retries_early_once_commits_free_room() {
        let mut s = submitter(10, &[]);
        s.senders[0].sent = 2;
        set(&mut s, 0, State::Accepted);
        set(&mut s, 2, State::Retry);
        let now = Instant::now();
        let until = now + Duration::from_secs(10);
        s.senders[0].retry_at = until;
        assert_eq!(s.pick(0, 4, now, 100), Vec::<u32>::new());
        // Its fresh transfer refused meanwhile does not push the retry out.
        s.senders[0].sent = 3;
        s.txs[4].submissions = 1;
        s.nodes[0].in_flight = 1;
        let refused = SubmitOutcome {
            hash: None,
            error: Some(cairn_rpc::ItemError {
                code: 1111,
                message: "full".into(),
                data: Some(serde_json::json!({ "reason": "senderLimit" })),
            }),
        };
        s.apply(answer(0, vec![4], Ok(vec![refused])));
        assert_eq!(s.senders[0].retry_at, until);
        // The transfer below the refused one commits: room at the node.
        s.run.mark_committed(0, 7, 1);
        s.advance_low(0);
        assert_eq!(s.pick(0, 4, now, 100), vec![2, 4]);
    }

    #[test]
    fn an_accepted_transfer_not_committed_in_time_moves_its_sender() {
        let mut s = submitter(10, &["--resubmit-after-secs", "1"]);
        s.senders[0].sent = 2;
        set(&mut s, 0, State::Accepted);
        set(&mut s, 2, State::Accepted);
        let now = Instant::now();
        assert_eq!(s.pick(0, 4, now, 100), Vec::<u32>::new());
        s.txs[0].last_sent_us = 1;
        s.txs[2].last_sent_us = 1;
        std::thread::sleep(Duration::from_millis(1_100));
        assert_eq!(s.pick(0, 4, Instant::now(), 100), vec![0, 2]);
        assert_eq!(s.senders[0].node, 1);
        assert!(s.senders[0].moved);
        // --no-resubmit never resends.
        let mut s = submitter(10, &["--no-resubmit"]);
        s.senders[0].sent = 2;
        set(&mut s, 0, State::Accepted);
        s.txs[0].last_sent_us = 1;
        assert_eq!(s.pick(0, 6, Instant::now(), 100), vec![4]);
    }

    fn answer(
        node: usize,
        items: Vec<u32>,
        result: Result<Vec<SubmitOutcome>, ClientError>,
    ) -> Answer {
        Answer {
            node,
            items,
            result,
        }
    }

    #[test]
    fn a_transport_error_backs_off_the_node_and_moves_its_senders() {
        let mut s = submitter(10, &[]);
        s.nodes[0].in_flight = 1;
        s.senders[0].busy = true;
        s.apply(answer(
            0,
            vec![0, 2],
            Err(ClientError::Transport("connection refused".into())),
        ));
        let now = Instant::now();
        assert!(!s.live(0, now) && s.live(1, now));
        // Sender 0 moves to node 1 (round-robin), sender 1 stays.
        assert_eq!((s.senders[0].node, s.senders[1].node), (1, 1));
        assert!(s.senders[0].moved && !s.senders[0].busy);
        assert_eq!(s.senders[0].attempt, 1);
        assert!(s.senders[0].retry_at > now);
        assert_eq!(s.txs[0].state, State::Retry);
        assert!(s.txs[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("transportError: node 0"));
        assert_eq!(s.rejected["transportError"], 2);
        // A second failure doubles the node's backoff; a success resets it.
        s.nodes[0].in_flight = 1;
        s.apply(answer(
            0,
            vec![1],
            Err(ClientError::Transport("refused".into())),
        ));
        assert_eq!(s.nodes[0].failures, 2);
        s.nodes[0].in_flight = 1;
        let ok = SubmitOutcome {
            hash: Some(cairn_ledger::Hash::ZERO),
            error: None,
        };
        // (Transfer 3 is a resend: its acceptance ends sender 1's backoff.)
        s.txs[3].submissions = 2;
        s.apply(answer(0, vec![3], Ok(vec![ok])));
        assert_eq!(s.nodes[0].failures, 0);
        assert_eq!(s.txs[3].state, State::Accepted);
        assert_eq!(s.txs[3].acked_by, 0b1);
        assert_eq!(s.senders[1].attempt, 0);
    }

    #[test]
    fn refusals_retry_or_die_by_reason_and_rate_limits_hold_the_node() {
        let mut s = submitter(10, &[]);
        let refusal = |reason: &str| SubmitOutcome {
            hash: None,
            error: Some(cairn_rpc::ItemError {
                code: 1111,
                message: "no".into(),
                data: Some(serde_json::json!({ "reason": reason })),
            }),
        };
        s.nodes[0].in_flight = 1;
        s.apply(answer(
            0,
            vec![0, 2],
            Ok(vec![refusal("senderLimit"), refusal("nonceTooLow")]),
        ));
        assert_eq!(s.txs[0].state, State::Retry);
        assert_eq!(s.txs[2].state, State::Dead);
        assert_eq!(s.senders[0].attempt, 1);
        // A rate limit holds every call to the node for its retryAfterMs.
        s.nodes[1].in_flight = 1;
        let limited = ErrorObjectOwned::owned(
            1004,
            "slow down",
            Some(serde_json::json!({ "reason": "rateLimited", "retryAfterMs": 5000 })),
        );
        s.apply(answer(1, vec![1], Err(ClientError::Call(limited))));
        let now = Instant::now();
        assert!(!s.open(1, now) && s.live(1, now));
        assert!(s.nodes[1].throttled_until > now + Duration::from_secs(4));
        assert_eq!(s.txs[1].state, State::Retry);
        // tooManyItems shrinks the node's calls to its limit.
        s.nodes[2].in_flight = 1;
        let too_many = ErrorObjectOwned::owned(
            1003,
            "split",
            Some(serde_json::json!({ "reason": "tooManyItems", "max": 20 })),
        );
        s.apply(answer(2, vec![3], Err(ClientError::Call(too_many))));
        assert_eq!(s.nodes[2].max_batch, 20);
        // Without resubmission, any refusal is final.
        let mut s = submitter(10, &["--no-resubmit"]);
        s.nodes[0].in_flight = 1;
        s.apply(answer(0, vec![0], Ok(vec![refusal("senderLimit")])));
        assert_eq!(s.txs[0].state, State::Dead);
    }
}
