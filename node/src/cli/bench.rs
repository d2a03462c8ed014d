//! `cairn bench`: a load generator. It derives `--accounts` sender keys from
//! `--seed`, funds them from the `--key` account, signs every transfer of the
//! run ahead of time on all cores, submits them at `--rate` per second in
//! `cairn_submitTransactions` batches (each sender always to the same node,
//! senders spread round-robin over the nodes), follows commits over a
//! WebSocket subscription on the first node, and reports throughput and
//! submit-to-commit latency (`docs/BENCH.md`).
//!
//! Admissibility: a node holds at most `mempool.max_per_sender` (default 512)
//! pending transactions per sender and accepts nonces at most
//! `mempool.nonce_window` (1024) above the committed one. The default number
//! of senders keeps each one at [`IN_FLIGHT_PER_SENDER`] transactions in
//! flight for every [`LATENCY_BUDGET_MS`] of commit latency, well inside both.

mod accounts;
mod follow;
mod load;
mod report;

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

/// Arguments of `cairn bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// RPC URLs of the nodes to submit to, comma-separated (http://HOST:PORT).
    /// Commits are followed on the first.
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
    client: HttpClient,
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

async fn bench(args: &BenchArgs, plan: &Plan, funder: &KeyFile) -> anyhow::Result<report::Report> {
    let mut targets = Vec::new();
    for url in &args.rpc {
        let url = http_url(url)?;
        let client = HttpClientBuilder::default()
            .max_request_size(64 << 20)
            .max_response_size(64 << 20)
            .request_timeout(Duration::from_secs(60))
            .build(&url)
            .with_context(|| format!("connecting to {url}"))?;
        targets.push(Target { url, client });
    }
    let status = targets[0]
        .client
        .status()
        .await
        .with_context(|| format!("cairn_status on {}", targets[0].url))?;
    let chain = ChainId::new(status.chain_id.clone())
        .map_err(|e| anyhow::anyhow!("the node's chain id: {e}"))?;
    for t in &targets[1..] {
        let s = t
            .client
            .status()
            .await
            .with_context(|| format!("cairn_status on {}", t.url))?;
        if s.genesis_hash != status.genesis_hash {
            bail!(
                "{} and {} run different chains (genesis {} vs {}); give nodes of one chain",
                targets[0].url,
                t.url,
                status.genesis_hash,
                s.genesis_hash
            );
        }
    }
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
    let ws = super::ws_url(&targets[0].url)?;
    let follower = follow::Follower::start(&ws, targets[0].client.clone(), run.clone()).await?;
    let targets = Arc::new(targets);
    load::submit(targets.clone(), run.clone(), plan).await;
    progress(format!(
        "submitted; waiting up to {} s for the rest to commit",
        plan.drain.as_secs()
    ));
    let follower_error = follower.drain(plan.drain).await;
    Ok(report::Report::new(
        plan,
        targets.len(),
        &run,
        follower_error,
    ))
}
