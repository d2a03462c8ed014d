//! `cairn bench` as a client that gets every transfer committed despite
//! faults, against real 4-validator testnets (`cairn_tests::testnet`):
//!
//! - `mempool.max_per_sender = 4`: `senderLimit` refusals and nonce gaps are
//!   everyday; with resubmission (and the mempool's gap rule) every transfer
//!   commits, and without resubmission some never do;
//! - one node with a submission rate limit far below its share: its calls
//!   are refused `rateLimited`, the bench backs off, resubmits, finishes,
//!   and the node still answers `cairn_status`;
//! - one validator SIGKILLed mid-run: its senders move to the other nodes,
//!   what the failed calls carried is resubmitted there, and every transfer
//!   commits; the `--record` file shows it.
//!
//! The tests share the machine's two cores, so they run one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cairn_tests::testnet::{cairn_bin, Testnet};
use serde_json::{json, Value};

/// One testnet at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Sets `key = value` in node `i`'s config.toml (the key must be there once).
fn set_key(net: &Testnet, i: usize, key: &str, value: &str) {
    let path = net.nodes[i].home.join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let prefix = format!("{key} = ");
    assert_eq!(
        config.lines().filter(|l| l.starts_with(&prefix)).count(),
        1,
        "{key} in {}",
        path.display()
    );
    let edited: Vec<String> = config
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, edited.join("\n") + "\n").unwrap();
}

fn wait_live(net: &Testnet, nodes: &[usize]) {
    net.wait_for("every node to commit", Duration::from_secs(60), |net| {
        nodes
            .iter()
            .all(|&i| {
                net.call(i, "cairn_status", json!([]))
                    .ok()
                    .and_then(|s| s["committedHeight"].as_u64())
                    .is_some()
            })
            .then_some(())
    });
}

/// A `cairn bench` run in the background, killed if dropped.
struct Bench {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    record: PathBuf,
}

impl Bench {
    fn start(net: &Testnet, name: &str, args: &[&str]) -> Bench {
        let dir = net.dir.path();
        let (stdout, stderr) = (
            dir.join(format!("{name}.json")),
            dir.join(format!("{name}.err")),
        );
        let record = dir.join(format!("{name}.record.jsonl"));
        let rpc: Vec<&str> = net.nodes.iter().map(|n| n.rpc.as_str()).collect();
        let child = Command::new(cairn_bin())
            .arg("bench")
            .args(["--rpc", &rpc.join(",")])
            .arg("--key")
            .arg(&net.accounts[0])
            .arg("--record")
            .arg(&record)
            .args(["--json", "--tick-ms", "20"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("starting cairn bench");
        Bench {
            child,
            stdout,
            stderr,
            record,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until its progress shows `what`.
    fn wait_progress(&self, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stderr().contains(what) {
            assert!(
                Instant::now() < deadline,
                "bench never printed {what:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (bounded) for it to exit; returns its exit code, report and record.
    fn finish(mut self, timeout: Duration) -> (Option<i32>, Value, Vec<Value>) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("cairn bench outlived {timeout:?}:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| {
            panic!(
                "cairn bench --json printed no report ({e}):\n{out}\n{}",
                self.stderr()
            )
        });
        (status.code(), report, read_record(&self.record))
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_record(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each record line is JSON"))
        .collect()
}

/// The record's `tx` lines, after checking its `run` line.
fn txs(record: &[Value], nodes: usize) -> &[Value] {
    let (run, txs) = record.split_first().expect("a record");
    assert_eq!(run["kind"], "run");
    assert!(run["base_unix_ms"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(run["nodes"].as_array().unwrap().len(), nodes);
    assert!(txs.iter().all(|t| t["kind"] == "tx"));
    txs
}

fn uncommitted(txs: &[Value]) -> Vec<&Value> {
    txs.iter()
        .filter(|t| t["committed_ms"].is_null() || t["height"].is_null())
        .collect()
}

/// Every transfer of `report` committed, and the record says so line by line.
fn assert_all_committed(report: &Value, txs: &[Value]) {
    let signed = report["signed"].as_u64().unwrap();
    assert_eq!(txs.len() as u64, signed);
    let missing = uncommitted(txs);
    assert!(
        missing.is_empty(),
        "{} of {signed} transfers never committed, e.g. {}\nreport: {report:#}",
        missing.len(),
        missing[0]
    );
    assert_eq!(report["committed"].as_u64(), Some(signed), "{report:#}");
    for t in txs {
        let sent = t["first_sent_ms"].as_f64().expect("sent");
        assert!(t["committed_ms"].as_f64().unwrap() >= sent, "{t}");
        assert!(!t["acked_by"].as_array().unwrap().is_empty(), "{t}");
    }
}

#[test]
fn a_tiny_sender_cap_refuses_often_and_still_everything_commits() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::generate(4, 1_000);
    for i in 0..4 {
        set_key(&net, i, "max_per_sender", "4");
    }
    net.start_all();
    wait_live(&net, &[0, 1, 2, 3]);
    let common = ["--rate", "600", "--duration", "5", "--accounts", "2"];

    // Without resubmission, refused nonces leave gaps that never fill.
    let seed = ["--seed", "1", "--drain-secs", "10", "--no-resubmit"];
    let args: Vec<&str> = common.iter().chain(&seed).copied().collect();
    let (_, report, record) = Bench::start(&net, "once", &args).finish(Duration::from_secs(120));
    let lost = uncommitted(txs(&record, 4)).len();
    assert!(
        report["rejected"]["senderLimit"].as_u64() > Some(0) && lost > 0,
        "the cap of 4 should refuse transfers and, without resubmission, lose some: {report:#}"
    );
    eprintln!("--no-resubmit: {lost} never committed; {report}");

    // With it, every transfer commits.
    let seed = ["--seed", "2", "--drain-secs", "60"];
    let args: Vec<&str> = common.iter().chain(&seed).copied().collect();
    let (code, report, record) =
        Bench::start(&net, "retry", &args).finish(Duration::from_secs(150));
    assert_eq!(code, Some(0), "{report:#}");
    let txs = txs(&record, 4);
    assert_all_committed(&report, txs);
    assert!(
        report["rejected"]["senderLimit"].as_u64() > Some(0),
        "{report:#}"
    );
    assert!(report["resubmitted"].as_u64() > Some(0), "{report:#}");
    assert!(
        txs.iter().any(|t| t["submissions"].as_u64() > Some(1)
            && t["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("senderLimit"))),
        "the record shows no senderLimit resubmission"
    );
    eprintln!("resubmission: {report}");
}

#[test]
fn a_rate_limited_node_is_backed_off_from_and_everything_commits() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::generate(4, 1_000);
    // Node 1 takes 10 tx/s in bursts of 20; its share of the load is 15 tx/s.
    set_key(&net, 1, "max_submit_batch", "20");
    set_key(&net, 1, "submit_burst_per_ip", "20");
    set_key(&net, 1, "submit_rate_per_ip", "10");
    net.start_all();
    wait_live(&net, &[0, 1, 2, 3]);
    let args = [
        "--rate",
        "60",
        "--duration",
        "8",
        "--accounts",
        "8",
        "--seed",
        "3",
        "--drain-secs",
        "60",
    ];
    let (code, report, record) =
        Bench::start(&net, "limited", &args).finish(Duration::from_secs(150));
    assert_eq!(code, Some(0), "{report:#}");
    let txs = txs(&record, 4);
    assert_all_committed(&report, txs);
    assert!(
        report["rejected"]["rateLimited"].as_u64() > Some(0),
        "{report:#}"
    );
    // The limited node took its share in the end, through resubmission.
    let by_1 = txs
        .iter()
        .filter(|t| t["acked_by"].as_array().unwrap().contains(&json!(1)))
        .count();
    assert!(by_1 > 0, "node 1 accepted nothing");
    // And it still answers reads at once.
    let started = Instant::now();
    net.call(1, "cairn_status", json!([]))
        .expect("cairn_status on node 1");
    assert!(started.elapsed() < Duration::from_secs(5));
    eprintln!("rate limited: {report}");
}

#[test]
fn a_validator_killed_mid_run_loses_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut net = Testnet::generate(4, 1_000);
    net.start_all();
    wait_live(&net, &[0, 1, 2, 3]);
    let args = [
        "--rate",
        "100",
        "--duration",
        "16",
        "--accounts",
        "8",
        "--seed",
        "4",
        "--resubmit-after-secs",
        "4",
        "--drain-secs",
        "60",
    ];
    let bench = Bench::start(&net, "kill", &args);
    bench.wait_progress("signed", Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(5));
    net.kill(3);
    let (code, report, record) = bench.finish(Duration::from_secs(150));
    assert_eq!(code, Some(0), "{report:#}");
    let txs = txs(&record, 4);
    assert_all_committed(&report, txs);
    assert!(
        report["rejected"]["transportError"].as_u64() > Some(0),
        "{report:#}"
    );
    // Node 3 had accepted transfers before it died, and they committed
    // (gossiped before it died, or resubmitted elsewhere after).
    let by_3 = txs
        .iter()
        .filter(|t| t["acked_by"].as_array().unwrap().contains(&json!(3)))
        .count();
    assert!(by_3 > 0, "node 3 accepted nothing before it died");
    // Its senders' calls failed once it was gone; what those calls carried
    // was resubmitted to the other nodes and committed.
    let moved: Vec<&Value> = txs
        .iter()
        .filter(|t| {
            t["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("transportError: node 3"))
        })
        .collect();
    assert!(!moved.is_empty(), "no call to node 3 failed: {report:#}");
    for t in &moved {
        assert!(t["submissions"].as_u64() > Some(1), "{t}");
        let acked = t["acked_by"].as_array().unwrap();
        assert!(acked.iter().any(|n| n != &json!(3)), "{t}");
    }
    // The follower saw node 3's subscription fail.
    assert!(
        report["followerErrors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("node 3")),
        "{report:#}"
    );
    eprintln!(
        "killed: {by_3} accepted by node 3; {} refused by its death, resubmitted elsewhere; {report}",
        moved.len()
    );
}
