//! The two files a chaos run leaves: the load's per-transaction record
//! (`cairn bench --record`, `docs/BENCH.md`) and the nemesis' fault log
//! (`scripts/testnet.sh chaos`, `docs/FAULTS.md`). Both are JSON lines.
//! Every time is turned into milliseconds since the record's `base_unix_ms`.

use std::path::Path;

use anyhow::{bail, Context};
use serde::Deserialize;

/// The first line of a bench record.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RunHeader {
    pub base_unix_ms: u64,
    pub nodes: Vec<String>,
    #[serde(default)]
    pub rate: Option<u64>,
    #[serde(default)]
    pub duration: Option<u64>,
}

/// One transaction of the load.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TxRecord {
    pub hash: String,
    #[serde(default)]
    pub first_sent_ms: Option<f64>,
    #[serde(default)]
    pub acked_by: Vec<usize>,
    #[serde(default)]
    pub first_acked_ms: Option<f64>,
    #[serde(default)]
    pub committed_ms: Option<f64>,
    #[serde(default)]
    pub submissions: u64,
}

/// A whole bench record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub run: RunHeader,
    pub txs: Vec<TxRecord>,
}

/// One fault of the schedule, as it was applied. `end_ms` is `None` for a
/// fault still in force when the log was read (a run cut short).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    /// `partition`, `bridge`, `isolate`, `flap`, `kill`, `pause`, `loss`,
    /// `throttle`, `skew`.
    pub kind: String,
    /// What it was applied with, as the script's command line has it
    /// (e.g. `0,1 2,3`, or `2 30`).
    pub args: String,
    /// The nodes it took out or slowed (for `kill`: the killed node).
    pub nodes: Vec<usize>,
    /// Whether the nodes it leaves untouched still form a quorum (so the
    /// chain should keep committing while it lasts).
    pub keeps_quorum: bool,
    pub start_ms: f64,
    pub end_ms: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct FaultLine {
    kind: String,
    #[serde(default)]
    args: String,
    #[serde(default)]
    nodes: Vec<usize>,
    #[serde(default)]
    keeps_quorum: bool,
    start_unix_ms: u64,
    #[serde(default)]
    end_unix_ms: Option<u64>,
}

fn lines(path: &Path, what: &str) -> anyhow::Result<Vec<(usize, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} {}", path.display()))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect())
}

/// Reads a bench record written by `cairn bench --record`.
pub(crate) fn read_record(path: &Path) -> anyhow::Result<Record> {
    let mut run = None;
    let mut txs = Vec::new();
    for (n, line) in lines(path, "bench record")? {
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{n}: not a JSON line", path.display()))?;
        match v["kind"].as_str() {
            Some("run") => {
                run = Some(serde_json::from_value(v).with_context(|| {
                    format!("{}:{n}: a malformed \"run\" line", path.display())
                })?)
            }
            Some("tx") => txs.push(serde_json::from_value(v).with_context(|| {
                format!("{}:{n}: a malformed \"tx\" line", path.display())
            })?),
            other => bail!(
                "{}:{n}: unknown line kind {other:?} (expected \"run\" or \"tx\"; is this a `cairn bench --record` file?)",
                path.display()
            ),
        }
    }
    let Some(run) = run else {
        bail!(
            "{} has no \"run\" line; it is not a complete `cairn bench --record` file",
            path.display()
        );
    };
    Ok(Record { run, txs })
}

/// Reads the fault log, with times relative to `base_unix_ms`.
pub(crate) fn read_faults(path: &Path, base_unix_ms: u64) -> anyhow::Result<Vec<Fault>> {
    let rel = |t: u64| t as f64 - base_unix_ms as f64;
    let mut out = Vec::new();
    for (n, line) in lines(path, "fault log")? {
        let f: FaultLine = serde_json::from_str(&line)
            .with_context(|| format!("{}:{n}: not a fault line", path.display()))?;
        out.push(Fault {
            kind: f.kind,
            args: f.args,
            nodes: f.nodes,
            keeps_quorum: f.keeps_quorum,
            start_ms: rel(f.start_unix_ms),
            end_ms: f.end_unix_ms.map(rel),
        });
    }
    out.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_record_and_a_fault_log() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("r.jsonl");
        std::fs::write(
            &rec,
            "{\"kind\":\"run\",\"base_unix_ms\":1000,\"nodes\":[\"http://a\"],\"seed\":1,\"rate\":10,\"duration\":2}\n\
             {\"kind\":\"tx\",\"hash\":\"0xab\",\"sender\":\"0x01\",\"nonce\":0,\"first_sent_ms\":1.5,\"acked_by\":[0],\"first_acked_ms\":2.0,\"committed_ms\":null,\"height\":null,\"submissions\":3,\"last_error\":null}\n",
        )
        .unwrap();
        let r = read_record(&rec).unwrap();
        assert_eq!(r.run.base_unix_ms, 1000);
        assert_eq!(r.txs.len(), 1);
        assert_eq!(r.txs[0].acked_by, vec![0]);
        assert_eq!(r.txs[0].submissions, 3);
        assert!(r.txs[0].committed_ms.is_none());

        let faults = dir.path().join("f.jsonl");
        std::fs::write(
            &faults,
            "{\"kind\":\"kill\",\"args\":\"2\",\"nodes\":[2],\"keeps_quorum\":true,\"start_unix_ms\":3000,\"end_unix_ms\":4500}\n\
             {\"kind\":\"partition\",\"args\":\"0,1 2,3\",\"nodes\":[0,1,2,3],\"start_unix_ms\":2000}\n",
        )
        .unwrap();
        let f = read_faults(&faults, 1000).unwrap();
        assert_eq!(f[0].kind, "partition");
        assert_eq!(f[0].start_ms, 1000.0);
        assert_eq!(f[0].end_ms, None);
        assert!(!f[0].keeps_quorum);
        assert_eq!(f[1].end_ms, Some(3500.0));
    }

    #[test]
    fn a_file_that_is_not_a_record_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("r.jsonl");
        std::fs::write(&rec, "{\"kind\":\"tx\",\"hash\":\"0xab\"}\n").unwrap();
        let e = format!("{:#}", read_record(&rec).unwrap_err());
        assert!(e.contains("no \"run\" line"), "{e}");
        std::fs::write(&rec, "{\"kind\":\"block\"}\n").unwrap();
        let e = format!("{:#}", read_record(&rec).unwrap_err());
        assert!(e.contains("unknown line kind"), "{e}");
    }
}
