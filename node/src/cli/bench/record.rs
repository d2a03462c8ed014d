//! `--record FILE`: the run's per-transaction record as JSON lines, written
//! at the end (format in `docs/BENCH.md`, read by the chaos checker, so the
//! field names are a contract): one `run` line, then one `tx` line per
//! signed transfer in signing order. Times are ms since `base_unix_ms`.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::Context;
use cairn_ledger::Address;
use serde_json::{json, Value};

use super::load::Run;
use super::submit::TxLog;
use super::Plan;

/// A time in µs-plus-one (0: never) as ms since the base, or null.
fn ms(us: u64) -> Value {
    if us == 0 {
        Value::Null
    } else {
        json!((us - 1) as f64 / 1_000.0)
    }
}

/// The `run` line.
pub(crate) fn run_line(plan: &Plan, run: &Run, nodes: &[String]) -> Value {
    json!({
        "kind": "run",
        "base_unix_ms": run.base_unix_ms,
        "nodes": nodes,
        "seed": plan.seed,
        "rate": plan.rate,
        "duration": plan.duration.as_secs(),
    })
}

/// The `tx` line of transaction `i`, sent by `sender` with `nonce`.
pub(crate) fn tx_line(run: &Run, i: usize, log: &TxLog, sender: &Address, nonce: u64) -> Value {
    let height = run.height[i].load(Ordering::Relaxed);
    let acked_by: Vec<u32> = (0..64)
        .filter(|n| log.acked_by & (1u64 << n) != 0)
        .collect();
    json!({
        "kind": "tx",
        "hash": run.hashes[i].to_string(),
        "sender": sender.to_string(),
        "nonce": nonce,
        "first_sent_ms": ms(log.first_sent_us),
        "acked_by": acked_by,
        "first_acked_ms": ms(log.first_acked_us),
        "committed_ms": ms(run.committed_us[i].load(Ordering::Relaxed)),
        "height": if height == 0 { Value::Null } else { json!(height) },
        "submissions": log.submissions,
        "last_error": log.last_error.as_deref(),
    })
}

/// Writes the record of the run to `path`. `senders[j]` is sender `j`'s
/// address and first nonce.
pub(crate) fn write(
    path: &Path,
    plan: &Plan,
    run: &Run,
    nodes: &[String],
    txs: &[TxLog],
    senders: &[(Address, u64)],
) -> anyhow::Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("creating --record {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let k = senders.len().max(1);
    writeln!(out, "{}", run_line(plan, run, nodes))?;
    for (i, log) in txs.iter().enumerate() {
        let (sender, first) = senders[i % k];
        let line = tx_line(run, i, log, &sender, first + (i / k) as u64);
        writeln!(out, "{line}")?;
    }
    out.flush()
        .with_context(|| format!("writing --record {}", path.display()))?;
    Ok(())
}
