//! `cairn explore --rpc URL <command> [--json]`: a block explorer in the
//! terminal. What it shows as verified it checked itself with ledger code:
//! transaction inclusion proofs against the block's `tx_root`, the block's
//! QC against the validator set, account proofs against a certified state
//! root. The validator set comes from the node's genesis file, after checking
//! it hashes to the node's genesis hash (or from `--genesis FILE`, pinned).
//! An answer about another transaction or account than the one asked for
//! is rejected; what no proof covers (receipts, mempool counts) is labelled
//! as reported by the node.

use std::path::PathBuf;

use anyhow::Context;
use cairn_genesis::{Genesis, GenesisTime};
use cairn_ledger::{Address, Hash};
use cairn_rpc::{
    BlockId, BlockTransactions, BlockView, CairnApiClient, TransactionInfo, ValidatorsInfo,
};
use clap::{Args, Subcommand};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::json;

use cairn_audit::proofs::{verify_account_proof, verify_tx_answer, CheckedTx};
use cairn_audit::rpc_source::{genesis_state, MAX_RESPONSE_BYTES};
use cairn_audit::Trusted;
use cairn_rpc::convert::tx_view;

/// Arguments of `cairn explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The node's RPC URL (http://; `follow` switches to ws:// on the same port).
    #[arg(long, global = true, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Verify against this genesis file instead of the node's own.
    #[arg(long, global = true)]
    pub genesis: Option<PathBuf>,
    /// What to show.
    #[command(subcommand)]
    pub command: ExploreCommand,
}

/// Explorer commands.
#[derive(Debug, Subcommand)]
pub enum ExploreCommand {
    /// Chain id, heights, round, peers, mempool.
    Status,
    /// One block: a height, a block hash or `latest`.
    Block {
        /// Height, 0x-hash or `latest`.
        id: String,
    },
    /// A table of blocks (height, time, proposer, transactions, hash).
    Blocks {
        /// First height (default: 19 below `--to`).
        #[arg(long)]
        from: Option<u64>,
        /// Last height (default: the latest).
        #[arg(long)]
        to: Option<u64>,
    },
    /// A transaction, its receipt, and its inclusion proof checked locally.
    Tx {
        /// Transaction hash.
        hash: String,
    },
    /// An account's balance and nonce, its proof checked against the certified state root.
    Account {
        /// Address (0x + 64 hex).
        address: String,
    },
    /// The validator set.
    Validators,
    /// New blocks as they commit (WebSocket subscription); Ctrl-C to stop.
    Follow {
        /// Stop after this many blocks.
        #[arg(long)]
        count: Option<u64>,
    },
}

pub(crate) fn run(args: ExploreArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(explore(args))
}

fn client(url: &str) -> anyhow::Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(std::time::Duration::from_secs(60))
        .max_response_size(MAX_RESPONSE_BYTES)
        .build(url)
        .with_context(|| format!("--rpc {url}"))
}

async fn explore(args: ExploreArgs) -> anyhow::Result<()> {
    let c = client(&args.rpc)?;
    let (json, url) = (args.json, args.rpc.as_str());
    match &args.command {
        ExploreCommand::Status => status(&c, url, json).await,
        ExploreCommand::Block { id } => {
            let id: BlockId = serde_json::from_value(parse_block_id(id))
                .map_err(|e| anyhow::anyhow!("block id {id:?}: {e}"))?;
            let b = c
                .get_block(id, Some(false))
                .await
                .map_err(rpc_error("cairn_getBlock", url))?;
            if json {
                return print_json(&b);
            }
            print_block(&b);
            Ok(())
        }
        ExploreCommand::Blocks { from, to } => {
            let blocks = fetch_range(&c, *from, *to)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({url})"))?;
            let vals = c
                .get_validators()
                .await
                .map_err(rpc_error("cairn_getValidators", url))?;
            if json {
                return print_json(&blocks);
            }
            print!("{}", blocks_table(&blocks, &vals));
            Ok(())
        }
        ExploreCommand::Tx { hash } => tx(&c, &args, hash).await,
        ExploreCommand::Account { address } => account(&c, &args, address).await,
        ExploreCommand::Validators => {
            let v = c
                .get_validators()
                .await
                .map_err(rpc_error("cairn_getValidators", url))?;
            if json {
                return print_json(&v);
            }
            print!("{}", validators_table(&v));
            Ok(())
        }
        ExploreCommand::Follow { count } => follow(url, json, *count).await,
    }
}

/// Turns a failed call of `what` to the node at `url` into an error naming both.
fn rpc_error<'a>(
    what: &'static str,
    url: &'a str,
) -> impl Fn(jsonrpsee::core::client::Error) -> anyhow::Error + 'a {
    move |e| anyhow::anyhow!("{what} from {url}: {e}")
}

/// `explore status`.
async fn status(c: &HttpClient, url: &str, json: bool) -> anyhow::Result<()> {
    let s = c.status().await.map_err(rpc_error("cairn_status", url))?;
    if json {
        return print_json(&s);
    }
    println!("chain        {}", s.chain_id);
    println!("genesis      {}", s.genesis_hash);
    println!("height       {}", s.committed_height);
    println!("latest block {}", s.latest_block_hash);
    println!("state root   {}", s.latest_state_root);
    println!("round        {}", s.round);
    println!("syncing      {}", s.syncing);
    println!("peers        {}", s.peers);
    println!(
        "mempool      {} transactions, {} bytes",
        s.mempool_size, s.mempool_bytes
    );
    println!("version      {}", s.version);
    Ok(())
}

/// `explore tx`: the transaction and its inclusion proof, checked.
async fn tx(c: &HttpClient, args: &ExploreArgs, hash: &str) -> anyhow::Result<()> {
    let url = args.rpc.as_str();
    let requested: Hash = hash
        .parse()
        .map_err(|e| anyhow::anyhow!("transaction hash {hash:?}: {e}"))?;
    let info = c
        .get_transaction(hash.to_string())
        .await
        .map_err(rpc_error("cairn_getTransaction", url))?;
    let committee = committee(c, args.genesis.as_deref(), url).await?;
    let proof = match info.height {
        Some(_) => Some(
            c.get_transaction_proof(hash.to_string())
                .await
                .map_err(rpc_error("cairn_getTransactionProof", url))?,
        ),
        None => None,
    };
    let checked = verify_tx_answer(
        &requested,
        &info,
        proof.as_ref(),
        &committee.state.committee,
    )
    .map_err(|e| anyhow::anyhow!("the node's answer for {hash} is REJECTED: {e}"))?;
    print_tx(args.json, info, &checked)
}

/// `explore account`: balance and nonce, the proof checked against the
/// certified state root.
async fn account(c: &HttpClient, args: &ExploreArgs, address: &str) -> anyhow::Result<()> {
    let url = args.rpc.as_str();
    let requested: Address = address
        .parse()
        .map_err(|e| anyhow::anyhow!("address {address:?}: {e}"))?;
    let info = c
        .get_account(address.to_string(), Some(true))
        .await
        .map_err(rpc_error("cairn_getAccount", url))?;
    let committee = committee(c, args.genesis.as_deref(), url).await?;
    let by = info
        .certified_by
        .context("the node sent no certifying block")?;
    let block = c
        .get_block(BlockId::Hash(by), Some(false))
        .await
        .map_err(rpc_error("cairn_getBlock", url))?;
    let raw = c
        .get_raw_blocks(Some(block.header.height), Some(1))
        .await
        .map_err(rpc_error("cairn_getRawBlocks", url))?
        .blocks
        .into_iter()
        .next()
        .context("the node did not return the certifying block")?;
    verify_account_proof(&requested, &info, &raw, &committee.state.committee)
        .map_err(|e| anyhow::anyhow!("the node's proof for {address} is REJECTED: {e}"))?;
    if args.json {
        return print_json(
            &json!({"account": info, "verified": true, "certifiedHeight": block.header.height}),
        );
    }
    println!("address   {}", info.address);
    println!("balance   {}", info.balance);
    println!("nonce     {}", info.nonce);
    println!("exists    {}", info.exists);
    println!(
        "pending   {} (in this node's mempool, reported by the node, not verified)",
        info.pending
    );
    println!(
        "proof     verified: state root {} (state after height {}) certified by block {} at height {} and its QC",
        info.state_root, info.height, by, block.header.height
    );
    Ok(())
}

/// Prints a checked transaction: its fields from the bytes that hash to the
/// requested hash, never from the node's decoded view.
fn print_tx(json: bool, mut info: TransactionInfo, checked: &CheckedTx) -> anyhow::Result<()> {
    info.transaction = checked.transaction.as_ref().map(tx_view);
    let v = checked.proof.as_ref();
    if json {
        let proof = v.map(|v| {
            json!({"verified": true, "blockHash": v.block_hash, "height": v.height.0, "qcSigners": v.signers})
        });
        return print_json(&json!({"transaction": info, "proof": proof, "receiptVerified": false}));
    }
    let status = serde_json::to_value(info.status)?;
    let status = status.as_str().unwrap_or("?");
    println!("hash      {}", info.hash);
    match v {
        Some(_) => println!("status    {status}"),
        None => println!("status    {status} (reported by the node)"),
    }
    if let Some(t) = &checked.transaction {
        let t = t.tx();
        println!("from      {}", t.from);
        println!("to        {}", t.to);
        println!("amount    {}", t.amount);
        println!("nonce     {}", t.nonce);
        println!("memo      0x{}", hex::encode(&t.memo));
    }
    if let Some(v) = v {
        println!(
            "block     {} (height {}, index {})",
            v.block_hash,
            v.height,
            info.index.unwrap_or_default()
        );
    }
    if let Some(r) = &info.receipt {
        println!(
            "receipt   {} ({}) (reported by the node, not verified)",
            r.status, r.description
        );
    }
    if let Some(v) = v {
        println!(
            "proof     verified: audit path to tx_root of block {} and its QC ({} signers) against the validator set",
            v.height, v.signers
        );
    }
    Ok(())
}

fn parse_block_id(id: &str) -> serde_json::Value {
    match id.parse::<u64>() {
        Ok(h) => json!(h),
        Err(_) => json!(id),
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

async fn committee(
    c: &HttpClient,
    pinned: Option<&std::path::Path>,
    url: &str,
) -> anyhow::Result<Trusted> {
    let pinned = pinned
        .map(|p| Genesis::load(p).map_err(|e| anyhow::anyhow!("{e}")))
        .transpose()?;
    let info = c
        .get_genesis()
        .await
        .map_err(|e| anyhow::anyhow!("cairn_getGenesis from {url}: {e}"))?;
    genesis_state(info, pinned.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))
}

async fn fetch_range(
    c: &HttpClient,
    from: Option<u64>,
    to: Option<u64>,
) -> anyhow::Result<Vec<BlockView>> {
    let to = match to {
        Some(t) => t,
        None => {
            c.status()
                .await
                .map_err(|e| anyhow::anyhow!("cairn_status: {e}"))?
                .committed_height
        }
    };
    let from = from.unwrap_or(to.saturating_sub(19));
    anyhow::ensure!(from <= to, "--from {from} is above --to {to}");
    anyhow::ensure!(
        to - from < 10_000,
        "at most 10000 blocks at a time; narrow --from/--to"
    );
    let mut out = Vec::new();
    let heights: Vec<u64> = (from..=to).collect();
    // Eight answers in flight, each at most MAX_RESPONSE_BYTES.
    for chunk in heights.chunks(8) {
        let calls = chunk
            .iter()
            .map(|h| c.get_block(BlockId::Height(*h), Some(false)));
        for (h, r) in chunk.iter().zip(futures::future::join_all(calls).await) {
            out.push(r.map_err(|e| anyhow::anyhow!("cairn_getBlock({h}): {e}"))?);
        }
    }
    Ok(out)
}

fn time(ms: u64) -> String {
    GenesisTime::from_unix_ms(ms).to_string()
}

fn print_block(b: &BlockView) {
    let h = &b.header;
    println!("height       {}", h.height);
    println!("hash         {}", h.hash);
    println!("parent       {}", h.parent_hash);
    println!("round        {}", h.round);
    println!(
        "time         {} ({} ms)",
        time(h.timestamp_ms),
        h.timestamp_ms
    );
    println!("proposer     {}", h.proposer);
    println!("transactions {}", h.tx_count);
    println!("tx root      {}", h.tx_root);
    println!(
        "state root   {} (after height {})",
        h.state_root, h.state_height
    );
    println!(
        "justify      QC for {} (height {}, round {}, {} signers)",
        h.justify.block_hash,
        h.justify.height,
        h.justify.round,
        h.justify.signatures.len()
    );
    if let Some(tc) = &h.timeout_cert {
        println!(
            "timeout cert round {} ({} signers)",
            tc.round,
            tc.signatures.len()
        );
    }
    println!(
        "certified by QC round {} ({} signers)",
        b.qc.round,
        b.qc.signatures.len()
    );
    if let BlockTransactions::Hashes(hs) = &b.transactions {
        for (i, t) in hs.iter().enumerate() {
            println!("  tx {i:>5} {t}");
        }
    }
}

/// An aligned table: height, time, proposer, transactions, hash.
pub fn blocks_table(blocks: &[BlockView], vals: &ValidatorsInfo) -> String {
    let name = |a: &cairn_ledger::Address| {
        vals.validators
            .iter()
            .find(|v| v.address == *a)
            .map(|v| v.name.clone())
            .unwrap_or_else(|| a.to_string()[..10].to_string())
    };
    let rows: Vec<[String; 5]> = blocks
        .iter()
        .map(|b| {
            let h = &b.header;
            [
                h.height.to_string(),
                time(h.timestamp_ms),
                name(&h.proposer),
                h.tx_count.to_string(),
                h.hash.to_string(),
            ]
        })
        .collect();
    table(
        &["HEIGHT", "TIME", "PROPOSER", "TXS", "HASH"],
        &rows,
        &[true, false, false, true, false],
    )
}

fn validators_table(v: &ValidatorsInfo) -> String {
    let rows: Vec<[String; 4]> = v
        .validators
        .iter()
        .map(|x| {
            [
                x.index.to_string(),
                x.name.clone(),
                x.power.to_string(),
                x.address.to_string(),
            ]
        })
        .collect();
    let mut s = table(
        &["INDEX", "NAME", "POWER", "ADDRESS"],
        &rows,
        &[true, false, true, false],
    );
    s.push_str(&format!(
        "total power {}, quorum {}\n",
        v.total_power, v.quorum_power
    ));
    s
}

/// Columns padded to their widest cell; `right` aligns numbers right.
fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]], right: &[bool; N]) -> String {
    let mut width = head.map(str::len);
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if right[i] {
                    format!("{c:>w$}", w = width[i])
                } else {
                    format!("{c:<w$}", w = width[i])
                }
            })
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut s = line(head.to_vec());
    for r in rows {
        s.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    s
}

async fn follow(url: &str, json: bool, count: Option<u64>) -> anyhow::Result<()> {
    let ws = super::ws_url(url)?;
    let client = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(&ws)
        .await
        .with_context(|| format!("connecting to {ws}"))?;
    let mut sub = client
        .subscribe_new_blocks()
        .await
        .context("cairn_subscribeNewBlocks")?;
    if !json {
        println!(
            "{:>8}  {:<24}  {:>6}  {:>5}  HASH",
            "HEIGHT", "TIME", "ROUND", "TXS"
        );
    }
    let mut seen = 0u64;
    while count.is_none_or(|c| seen < c) {
        let Some(b) = sub.next().await else {
            anyhow::bail!("the node closed the subscription");
        };
        let b = b.context("reading a block notification")?;
        if json {
            println!("{}", serde_json::to_string(&b)?);
        } else {
            println!(
                "{:>8}  {:<24}  {:>6}  {:>5}  {}",
                b.height,
                time(b.timestamp_ms),
                b.round,
                b.tx_count,
                b.hash
            );
        }
        seen += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            ["7".to_string(), "a".to_string()],
            ["1234".to_string(), "longer".to_string()],
        ];
        let t = table(&["H", "NAME"], &rows, &[true, false]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "   H  NAME");
        assert_eq!(lines[1], "   7  a");
        assert_eq!(lines[2], "1234  longer");
    }
}
