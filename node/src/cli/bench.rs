//! `cairn bench`: a load generator. It derives `--accounts` sender keys from
//! `--seed`, funds them from the `--key` account, signs every transfer of the
//! run ahead of time on all cores, submits them at `--rate` per second in
//! `cairn_submitTransactions` batches (senders spread round-robin over the
//! nodes), resubmits what is refused or not committed in time (same bytes,
//! with backoff, moving off nodes that stop answering), follows commits over
//! WebSocket subscriptions on every node, reports throughput and
//! submit-to-commit latency, and with `--record` writes what happened to
//! each transfer (`docs/BENCH.md`).
//!
//! Startup (chain check, funding, reading nonces) needs every `--rpc` node
//! up; it fails with a message, never hangs, when one is not. After that,
//! nodes may die, pause or come back.
//!
//! Admissibility: a node holds at most `mempool.max_per_sender` (default 512)
//! pending transactions per sender and accepts nonces at most
//! `mempool.nonce_window` (1024) above the committed one. The default number
//! of senders keeps each one at [`IN_FLIGHT_PER_SENDER`] transactions in
//! flight for every [`LATENCY_BUDGET_MS`] of commit latency, well inside both.

mod accounts;
mod follow;
mod load;
mod record;
mod report;
mod retry;
mod submit;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cairn_genesis::KeyFile;
use cairn_ledger::types::tx::MAX_MEMO_LEN;
use cairn_ledger::ChainId;
use cairn_rpc::CairnApiClient;
use clap::Args;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

/// Transactions in flight per sender the default `--accounts` aims at, per
/// [`LATENCY_BUDGET_MS`] of latency (a quarter of the default per-sender cap).
const IN_FLIGHT_PER_SENDER: u64 = 128;
/// The commit latency the default `--accounts` is sized for.
const LATENCY_BUDGET_MS: u64 = 1_000;
/// Fewest senders by default.
const MIN_ACCOUNTS: u64 = 8;
/// Most transactions in one `cairn_submitTransactions` (the node's default
/// `rpc.max_submit_batch`).
const MAX_BATCH: usize = 5_000;
/// How long a submission call may take before it counts as a transport
/// error (a paused node must not hold its senders for long).
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any other call may take.
const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Most `--rpc` nodes (the record keeps who accepted a transfer in 64 bits).
const MAX_NODES: usize = 64;

/// Arguments of `cairn bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// RPC URLs of the nodes to submit to, comma-separated (http://HOST:PORT).
    /// Commits are followed on all of them.
    #[arg(long, value_delimiter = ',', required = true)]
    pub rpc: Vec<String>,
    /// Offered load, transactions per second.
    #[arg(long)]
    pub rate: u64,
    /// How long to submit, in seconds.
    #[arg(long)]
    pub duration: u64,
    /// Number of sending accounts (default: enough that each has at most
    /// 128 transactions in flight per second of commit latency).
    #[arg(long)]
    pub accounts: Option<u64>,
    /// Memo bytes per transfer (0–1024): makes transactions larger.
    #[arg(long, default_value_t = 0)]
    pub memo_bytes: usize,
    /// Key file of a funded account that pays for the senders' balances.
    #[arg(long)]
    pub key: PathBuf,
    /// Seed the sender keys are derived from (default: the current time, so
    /// each run has fresh senders; give the printed seed to reuse them).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Submission tick in milliseconds: every tick sends rate×tick transactions.
    #[arg(long, default_value_t = 10)]
    pub tick_ms: u64,
    /// Most `submitTransactions` calls in flight per node.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// After submitting, wait at most this long for the rest to commit.
    #[arg(long, default_value_t = 30)]
    pub drain_secs: u64,
    /// Resubmit a transfer accepted but not committed after this many
    /// seconds (to the next node), as well as refused ones (with backoff).
    #[arg(long, default_value_t = 10)]
    pub resubmit_after_secs: u64,
    /// Never resubmit: each transfer is sent once, to its sender's node.
    #[arg(long)]
    pub no_resubmit: bool,
    /// Write what happened to every transfer to FILE as JSON lines at the
    /// end of the run (format in docs/BENCH.md).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A validated plan of the run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    rate: u64,
    duration: Duration,
    accounts: u64,
    memo_bytes: usize,
    seed: u64,
    tick: Duration,
    concurrency: usize,
    drain: Duration,
    /// `None`: `--no-resubmit`.
    resubmit_after: Option<Duration>,
}

impl Plan {
    fn new(args: &BenchArgs) -> anyhow::Result<Plan> {
        if args.rate == 0 {
            bail!("--rate must be at least 1 transaction per second");
        }
        if args.duration == 0 {
            bail!("--duration must be at least 1 second");
        }
        if args.memo_bytes > MAX_MEMO_LEN {
            bail!(
                "--memo-bytes {} is above the memo limit of {MAX_MEMO_LEN} bytes",
                args.memo_bytes
            );
        }
        if args.tick_ms == 0 || args.tick_ms > 1_000 {
            bail!("--tick-ms must be between 1 and 1000, got {}", args.tick_ms);
        }
        if args.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if args.resubmit_after_secs == 0 && !args.no_resubmit {
            bail!("--resubmit-after-secs must be at least 1 (or pass --no-resubmit)");
        }
        if args.rpc.len() > MAX_NODES {
            bail!(
                "--rpc lists {} nodes; at most {MAX_NODES} are supported",
                args.rpc.len()
            );
        }
        let total = args.rate.saturating_mul(args.duration);
        if total > 20_000_000 {
            bail!("--rate × --duration is {total} transactions; at most 20 million are signed ahead of time");
        }
        let default_accounts = (args.rate * LATENCY_BUDGET_MS / 1_000)
            .div_ceil(IN_FLIGHT_PER_SENDER)
            .max(MIN_ACCOUNTS);
        let accounts = args.accounts.unwrap_or(default_accounts).min(total);
        if accounts == 0 {
            bail!("--accounts must be at least 1");
        }
        let seed = args.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default()
        });
        Ok(Plan {
            rate: args.rate,
            duration: Duration::from_secs(args.duration),
            accounts,
            memo_bytes: args.memo_bytes,
            seed,
            tick: Duration::from_millis(args.tick_ms),
            concurrency: args.concurrency,
            drain: Duration::from_secs(args.drain_secs),
            resubmit_after: (!args.no_resubmit)
                .then(|| Duration::from_secs(args.resubmit_after_secs)),
        })
    }

    /// Transactions in the whole run.
    fn total(&self) -> u64 {
        self.rate * self.duration.as_secs()
    }
}

/// One node the bench talks to.
#[derive(Debug)]
pub(crate) struct Target {
    url: String,
    /// Its WebSocket URL (commit subscriptions).
    ws: String,
    /// For reads (status, accounts, blocks).
    client: HttpClient,
    /// For submissions, with a shorter timeout ([`SUBMIT_TIMEOUT`]).
    submit: HttpClient,
}

fn http_url(url: &str) -> anyhow::Result<String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.trim_end_matches('/').to_string())
    } else if let Some(rest) = url.strip_prefix("ws://") {
        Ok(format!("http://{}", rest.trim_end_matches('/')))
    } else if let Some(rest) = url.strip_prefix("wss://") {
        Ok(format!("https://{}", rest.trim_end_matches('/')))
    } else {
        bail!("--rpc {url:?} must start with http://, https://, ws:// or wss://")
    }
}

/// Prints a progress line on stderr (stdout carries only the report).
fn progress(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    let plan = Plan::new(&args)?;
    let funder = KeyFile::read(&args.key)
        .with_context(|| format!("reading --key {}", args.key.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(bench(&args, &plan, &funder))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_table());
    }
    if report.committed == 0 {
        bail!("no transaction committed; check the nodes' logs");
    }
    Ok(())
}

fn http_client(url: &str, timeout: Duration) -> anyhow::Result<HttpClient> {
    HttpClientBuilder::default()
        .max_request_size(64 << 20)
        .max_response_size(64 << 20)
        .request_timeout(timeout)
        .build(url)
        .with_context(|| format!("connecting to {url}"))
}

async fn bench(args: &BenchArgs, plan: &Plan, funder: &KeyFile) -> anyhow::Result<report::Report> {
    let mut targets = Vec::new();
    for url in &args.rpc {
        let url = http_url(url)?;
        targets.push(Target {
            ws: super::ws_url(&url)?,
            client: http_client(&url, READ_TIMEOUT)?,
            submit: http_client(&url, SUBMIT_TIMEOUT)?,
            url,
        });
    }
    let chain = check_chain(&targets).await?;
    progress(format!(
        "chain {chain}, {} node(s), {} senders (seed {}), {} tx/s for {} s",
        targets.len(),
        plan.accounts,
        plan.seed,
        plan.rate,
        plan.duration.as_secs()
    ));
    let senders = accounts::prepare(&targets, &chain, funder, plan).await?;
    let started = Instant::now();
    let signed = {
        let (chain, plan, senders) = (chain.clone(), plan.clone(), senders.clone());
        tokio::task::spawn_blocking(move || load::sign_all(&chain, &plan, &senders)).await?
    };
    progress(format!(
        "signed {} transfers in {:.1} s",
        signed.raws.len(),
        started.elapsed().as_secs_f64()
    ));
    let run = Arc::new(signed);
    // Nothing of this run is committed yet: follow from the highest height
    // any node has now (every node has the funding blocks).
    let mut from = 0;
    for t in &targets {
        from = from.max(t.client.status().await.map_or(0, |s| s.committed_height));
    }
    let targets = Arc::new(targets);
    let follower = follow::Follower::start(targets.clone(), run.clone(), from).await;
    let first_node: Vec<usize> = senders.iter().map(|s| s.node).collect();
    let outcome = submit::submit(targets.clone(), run.clone(), plan, &first_node).await;
    let follower_errors = follower.stop().await;
    if let Some(path) = &args.record {
        let nodes: Vec<String> = targets.iter().map(|t| t.url.clone()).collect();
        let firsts: Vec<_> = senders.iter().map(|s| (s.address, s.nonce)).collect();
        record::write(path, plan, &run, &nodes, &outcome.txs, &firsts)?;
        progress(format!("record written to {}", path.display()));
    }
    Ok(report::Report::new(
        plan,
        targets.len(),
        &run,
        &outcome,
        follower_errors,
    ))
}

/// Checks that every node answers and runs one chain; returns its id.
async fn check_chain(targets: &[Target]) -> anyhow::Result<ChainId> {
    let mut first: Option<(String, ChainId, cairn_ledger::Hash)> = None;
    for t in targets {
        let s = t.client.status().await.with_context(|| {
            format!(
                "cairn_status on {}: the bench needs every --rpc node up to start (drop the ones that are down)",
                t.url
            )
        })?;
        match &first {
            None => {
                let chain = ChainId::new(s.chain_id.clone())
                    .map_err(|e| anyhow::anyhow!("the node's chain id: {e}"))?;
                first = Some((t.url.clone(), chain, s.genesis_hash));
            }
            Some((url, _, genesis)) if *genesis != s.genesis_hash => bail!(
                "{url} and {} run different chains (genesis {genesis} vs {}); give nodes of one chain",
                t.url,
                s.genesis_hash
            ),
            Some(_) => {}
        }
    }
    first
        .map(|(_, chain, _)| chain)
        .ok_or_else(|| anyhow::anyhow!("--rpc names no node"))
}
