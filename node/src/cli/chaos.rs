//! `cairn chaos-check`: the verdict of a nemesis run
//! (`scripts/testnet.sh chaos`, `docs/FAULTS.md`). It reads the load's
//! per-transaction record (`cairn bench --record`) and the fault log, asks
//! the nodes about every acknowledged transaction the load did not see
//! committed, and checks that nothing acknowledged was lost and that commits
//! resumed within a bound after every heal. It writes `report.txt`,
//! `report.json` and `timeline.svg` (committed tx/s and latency with the
//! fault windows shaded) into `--out`, and exits 1 on any violation.
//! Safety checks that need the nodes' stores (every chain identical and
//! audited, no equivocation) are run by the script, which hands their
//! violations over with `--violations`.

mod check;
mod input;
mod svg;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use cairn_rpc::{CairnApiClient, TxState};
use clap::Args;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use serde_json::json;

use check::{Findings, Lookup};

/// Arguments of `cairn chaos-check`.
#[derive(Debug, Args)]
pub struct ChaosCheckArgs {
    /// The load's record (`cairn bench --record FILE`).
    #[arg(long)]
    pub record: PathBuf,
    /// The fault log (JSON lines; written by `scripts/testnet.sh chaos`).
    #[arg(long)]
    pub faults: PathBuf,
    /// RPC URLs to ask about transactions the load did not see committed
    /// (default: the nodes named in the record).
    #[arg(long, value_delimiter = ',')]
    pub rpc: Vec<String>,
    /// Commits must resume within this many seconds after every heal, and a
    /// fault that leaves a quorum untouched must not stall them longer.
    #[arg(long, default_value_t = 15.0)]
    pub bound_secs: f64,
    /// A file of violations found by other checks (one a line), added to the verdict.
    #[arg(long)]
    pub violations: Option<PathBuf>,
    /// A file of lines to print in the report's safety section.
    #[arg(long)]
    pub safety: Option<PathBuf>,
    /// The report's title (e.g. the seed).
    #[arg(long, default_value = "chaos run")]
    pub title: String,
    /// Where to write report.txt, report.json and timeline.svg.
    #[arg(long)]
    pub out: PathBuf,
}

pub(crate) fn run(args: ChaosCheckArgs) -> anyhow::Result<i32> {
    if args.bound_secs.is_nan() || args.bound_secs <= 0.0 {
        bail!("--bound-secs must be above 0, got {}", args.bound_secs);
    }
    let record = input::read_record(&args.record)?;
    let faults = input::read_faults(&args.faults, record.run.base_unix_ms)?;
    let urls = if args.rpc.is_empty() {
        record.run.nodes.clone()
    } else {
        args.rpc.clone()
    };
    let unseen: Vec<String> = record
        .txs
        .iter()
        .filter(|t| !t.acked_by.is_empty() && t.committed_ms.is_none())
        .map(|t| t.hash.clone())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let lookups = rt.block_on(look_up(&urls, &unseen))?;
    let mut findings = check::check(&record, &faults, &lookups, args.bound_secs * 1e3);
    let mut safety = Vec::new();
    if let Some(path) = &args.safety {
        safety = std::fs::read_to_string(path)
            .with_context(|| format!("reading --safety {}", path.display()))?
            .lines()
            .map(String::from)
            .collect();
    }
    if let Some(path) = &args.violations {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --violations {}", path.display()))?;
        findings.violations.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
    }
    let bins = check::timeline(&record);
    let span = record
        .txs
        .iter()
        .filter_map(|t| t.committed_ms.or(t.first_sent_ms))
        .fold(0.0_f64, f64::max)
        .max(faults.iter().filter_map(|f| f.end_ms).fold(0.0, f64::max));
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating --out {}", args.out.display()))?;
    let svg_path = args.out.join("timeline.svg");
    std::fs::write(&svg_path, svg::render(&args.title, &bins, &faults, span))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    let text = report_text(&args, &record, &findings, &safety, &svg_path);
    std::fs::write(args.out.join("report.txt"), &text)
        .with_context(|| format!("writing {}", args.out.join("report.txt").display()))?;
    let j = report_json(&args, &findings, &safety);
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&j)?,
    )
    .with_context(|| format!("writing {}", args.out.join("report.json").display()))?;
    print!("{text}");
    Ok(if findings.violations.is_empty() { 0 } else { 1 })
}

/// Asks every node about each hash; the most final answer wins.
async fn look_up(urls: &[String], hashes: &[String]) -> anyhow::Result<HashMap<String, Lookup>> {
    let mut out = HashMap::new();
    if hashes.is_empty() {
        return Ok(out);
    }
    let mut clients: Vec<(String, HttpClient)> = Vec::new();
    for u in urls {
        let url = if let Some(rest) = u.strip_prefix("ws://") {
            format!("http://{rest}")
        } else {
            u.clone()
        };
        let c = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(5))
            .build(&url)
            .with_context(|| format!("--rpc {url}"))?;
        clients.push((url, c));
    }
    let mut answered = vec![false; clients.len()];
    for h in hashes {
        let mut best = Lookup::Unknown;
        for (i, (_, c)) in clients.iter().enumerate() {
            let Ok(info) = c.get_transaction(h.clone()).await else {
                continue;
            };
            answered[i] = true;
            match info.status {
                TxState::Committed | TxState::Failed => {
                    best = Lookup::InBlock(info.height.unwrap_or_default());
                    break;
                }
                TxState::Pending => best = Lookup::Pending,
                TxState::Unknown => {}
            }
        }
        out.insert(h.clone(), best);
    }
    if !answered.iter().any(|a| *a) {
        bail!(
            "no node answered cairn_getTransaction ({}); the nodes must be up to tell a lost transaction from a committed one",
            urls.join(", ")
        );
    }
    Ok(out)
}

fn secs(ms: f64) -> String {
    format!("{:.1}", ms / 1e3)
}

fn report_text(
    args: &ChaosCheckArgs,
    record: &input::Record,
    f: &Findings,
    safety: &[String],
    svg: &std::path::Path,
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "== {} ==", args.title);
    let _ = writeln!(
        s,
        "load: {} tx/s for {} s to {} node(s); liveness bound {:.1} s",
        record.run.rate.map_or("?".into(), |r| r.to_string()),
        record.run.duration.map_or("?".into(), |d| d.to_string()),
        record.run.nodes.len(),
        args.bound_secs
    );
    let _ = writeln!(s, "\nfaults ({}):", f.faults.len());
    let _ = writeln!(
        s,
        "  {:<3} {:<10} {:<14} {:>8} {:>8} {:>7} {:>9} {:>9}",
        "#", "kind", "args", "start s", "end s", "quorum", "stall s", "resume s"
    );
    for (i, o) in f.faults.iter().enumerate() {
        let mut a = o.fault.args.clone();
        a.truncate(14);
        let _ = writeln!(
            s,
            "  {:<3} {:<10} {:<14} {:>8} {:>8} {:>7} {:>9} {:>9}",
            i + 1,
            o.fault.kind,
            a,
            secs(o.fault.start_ms),
            o.fault.end_ms.map_or("-".into(), secs),
            if o.fault.keeps_quorum { "kept" } else { "lost" },
            secs(o.longest_stall_ms),
            o.resume_ms.map_or("never".into(), secs)
        );
    }
    let _ = writeln!(s, "\ntime to resume after the heal, per fault kind:");
    let _ = writeln!(
        s,
        "  {:<10} {:>5} {:>14} {:>13} {:>7}",
        "kind", "count", "max resume s", "max stall s", "never"
    );
    for (k, v) in &f.kinds {
        let _ = writeln!(
            s,
            "  {:<10} {:>5} {:>14} {:>13} {:>7}",
            k,
            v.count,
            secs(v.max_resume_ms),
            secs(v.max_stall_ms),
            v.never_resumed
        );
    }
    let t = &f.fates;
    let _ = writeln!(
        s,
        "\ntransactions: {} in the load, {} acknowledged, {} committed ({} found only afterwards), {} unknown (taken only by a node killed afterwards), {} still pending, {} lost; {} never acknowledged; {} resubmitted ({} submissions in all)",
        t.total, t.acked, t.committed, t.committed_late, t.unknown.len(), t.pending.len(), t.lost.len(), t.never_acked, t.resubmitted, t.submissions
    );
    if !safety.is_empty() {
        let _ = writeln!(s, "\nsafety:");
        for l in safety {
            let _ = writeln!(s, "  {l}");
        }
    }
    let _ = writeln!(s, "\ntimeline: {}", svg.display());
    if f.violations.is_empty() {
        let _ = writeln!(s, "\nverdict: PASS (no violation)");
    } else {
        let _ = writeln!(s, "\nverdict: FAIL, {} violation(s):", f.violations.len());
        for v in &f.violations {
            let _ = writeln!(s, "  - {v}");
        }
    }
    s
}

fn report_json(args: &ChaosCheckArgs, f: &Findings, safety: &[String]) -> serde_json::Value {
    let t = &f.fates;
    json!({
        "title": args.title,
        "boundSecs": args.bound_secs,
        "pass": f.violations.is_empty(),
        "violations": f.violations,
        "transactions": {
            "total": t.total,
            "acknowledged": t.acked,
            "committed": t.committed,
            "committedFoundAfterwards": t.committed_late,
            "unknown": t.unknown.len(),
            "pending": t.pending.len(),
            "lost": t.lost.len(),
            "neverAcknowledged": t.never_acked,
            "resubmitted": t.resubmitted,
            "submissions": t.submissions,
        },
        "faults": f.faults.iter().map(|o| json!({
            "kind": o.fault.kind,
            "args": o.fault.args,
            "nodes": o.fault.nodes,
            "keepsQuorum": o.fault.keeps_quorum,
            "startSecs": o.fault.start_ms / 1e3,
            "endSecs": o.fault.end_ms.map(|e| e / 1e3),
            "longestStallSecs": o.longest_stall_ms / 1e3,
            "resumeSecs": o.resume_ms.map(|r| r / 1e3),
        })).collect::<Vec<_>>(),
        "kinds": f.kinds.iter().map(|(k, v)| (k.clone(), json!({
            "count": v.count,
            "maxResumeSecs": v.max_resume_ms / 1e3,
            "maxStallSecs": v.max_stall_ms / 1e3,
            "neverResumed": v.never_resumed,
        }))).collect::<serde_json::Map<_, _>>(),
        "safety": safety,
    })
}
