//! `scripts/testnet.sh` end to end, as a user runs it: `up 4`, `status`,
//! `load` (through `cairn bench`), `kill 2`, `restart 2`, `audit`, `down`,
//! plus its refusals (a second `up`, a node that does not exist, an unknown
//! command). The testnet lives in a temporary directory on free ports, runs
//! the `cairn` binary this build made (`CAIRN_BIN`), and every node is
//! stopped at the end even if a step fails. A step that times out is killed
//! with its whole process group (bash, `cairn bench`/`cairn audit`, and any
//! node that step started), so nothing outlives the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::testnet::cairn_bin;
use serde_json::Value;

/// One run of the script.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn ok(&self, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "`testnet.sh {what}` failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The testnet directory; dropping it runs `down` and then SIGKILLs any node
/// whose pid file is left, so no process outlives the test.
struct Script {
    dir: tempfile::TempDir,
}

impl Script {
    fn new() -> Script {
        Script {
            dir: tempfile::Builder::new()
                .prefix("cairn-testnet-sh-")
                .tempdir()
                .unwrap(),
        }
    }

    fn testnet_dir(&self) -> PathBuf {
        self.dir.path().join("testnet")
    }

    /// Runs `scripts/testnet.sh ARGS` in its own process group, killing the
    /// group after `timeout`.
    fn run(&self, args: &[&str], timeout: Duration) -> Outcome {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/testnet.sh");
        let out = self.dir.path().join("out.txt");
        let err = self.dir.path().join("err.txt");
        let mut child = Command::new("bash")
            .arg(&script)
            .args(args)
            .env("CAIRN_TESTNET_DIR", self.testnet_dir())
            .env("CAIRN_BIN", cairn_bin())
            .env("CAIRN_TESTNET_BASE_PORT", "0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .process_group(0)
            .spawn()
            .expect("running bash");
        let deadline = Instant::now() + timeout;
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() > deadline {
                // The group id is bash's pid (`process_group(0)`); bash has
                // not been reaped yet, so the id cannot have been reused.
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        Outcome {
            code,
            stdout: std::fs::read_to_string(&out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        }
    }

    /// Pids of the nodes whose pid files exist, with their homes.
    fn pids(&self) -> Vec<(PathBuf, String)> {
        (0..4)
            .map(|i| self.testnet_dir().join(format!("node{i}")))
            .filter_map(|home| {
                let pid = std::fs::read_to_string(home.join("node.pid")).ok()?;
                Some((home, pid.trim().to_string()))
            })
            .collect()
    }
}

/// Whether process `pid` is `cairn start --home HOME` (its pid file may be
/// stale and the pid reused by an unrelated process).
fn is_node(pid: &str, home: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let home = home.to_string_lossy();
    args.first().is_some_and(|a| a.contains("cairn"))
        && args.iter().any(|a| a == "start")
        && args.iter().any(|a| *a == home)
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.run(&["down"], Duration::from_secs(60));
        for (home, pid) in self.pids() {
            if is_node(&pid, &home) {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
        if std::thread::panicking() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            eprintln!("testnet kept for inspection: {}", dir.keep().display());
        }
    }
}

fn status_rows(s: &Script) -> Vec<Vec<String>> {
    let out = s.run(&["status"], Duration::from_secs(30));
    out.ok("status");
    out.stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[test]
fn testnet_script_up_load_kill_restart_audit_down() {
    let s = Script::new();
    let min = Duration::from_secs(60);

    let up = s.run(&["up", "4"], Duration::from_secs(240));
    up.ok("up 4");
    assert!(
        up.stdout.contains("live: the transfer committed"),
        "{}",
        up.stdout
    );
    assert_eq!(
        up.stdout.matches("rpc http://127.0.0.1:").count(),
        4,
        "{}",
        up.stdout
    );
    assert!(up.stdout.contains("account-0.json"), "{}", up.stdout);
    // A log written to a file is for reading with less/grep: no colour codes.
    let log = std::fs::read_to_string(s.testnet_dir().join("node0/node.log")).unwrap();
    assert!(log.contains("INFO"), "node 0 logged nothing: {log}");
    assert!(
        !log.contains('\x1b'),
        "node.log carries ANSI escape codes: {}",
        &log[..log.len().min(400)]
    );

    let rows = status_rows(&s);
    assert_eq!(rows.len(), 4, "one status row per node");
    for row in &rows {
        assert_eq!(row[2], "running", "status row {row:?}");
        assert!(row[3].parse::<u64>().unwrap() >= 1, "height in {row:?}");
        assert_eq!(row[5], "3", "peers in {row:?}");
    }

    let again = s.run(&["up", "4"], min);
    assert_eq!(again.code, Some(1), "a second up must refuse");
    assert!(again.stderr.contains("already running"), "{}", again.stderr);
    let bad = s.run(&["kill", "9"], min);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("no node 9"), "{}", bad.stderr);
    let unknown = s.run(&["frobnicate"], min);
    assert_eq!(unknown.code, Some(2));
    assert!(unknown.stderr.contains("usage:"), "{}", unknown.stderr);

    let load = s.run(
        // The drain ends as soon as every transfer has committed; 60 s is
        // generous for a chain woken from idle on a busy machine.
        &[
            "load",
            "--rate",
            "200",
            "--duration",
            "4",
            "--drain-secs",
            "60",
            "--json",
        ],
        Duration::from_secs(150),
    );
    load.ok("load");
    let report: Value = serde_json::from_str(&load.stdout).expect("cairn bench --json prints JSON");
    assert_eq!(report["nodes"], 4, "{report}");
    assert_eq!(report["signed"], 800, "{report}");
    assert_eq!(
        report["submitted"], 800,
        "every transfer admitted: {report}"
    );
    assert_eq!(
        report["committed"], 800,
        "every transfer committed: {report}"
    );
    assert_eq!(report["uncommitted"], 0, "{report}");
    assert!(
        report["latencyMs"]["p50"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(report["committedTps"].as_f64().unwrap() > 0.0, "{report}");

    s.run(&["kill", "2"], min).ok("kill 2");
    let rows = status_rows(&s);
    assert_eq!(rows[2][2], "stopped", "node 2 after kill: {:?}", rows[2]);
    assert_eq!(rows[0][2], "running");
    let restart = s.run(&["restart", "2"], Duration::from_secs(120));
    restart.ok("restart 2");
    assert!(
        restart.stdout.contains("node 2 is running"),
        "{}",
        restart.stdout
    );
    // The script says "running" also when the node did not catch up.
    assert!(
        !restart.stdout.contains("below the others"),
        "node 2 did not catch up after its restart: {}",
        restart.stdout
    );

    let audit = s.run(&["audit"], Duration::from_secs(180));
    audit.ok("audit");
    assert!(
        audit.stdout.contains("all 4 nodes agree"),
        "{}",
        audit.stdout
    );

    let down = s.run(&["down"], min);
    down.ok("down");
    assert!(down.stdout.contains("stopped 4 node(s)"), "{}", down.stdout);
    assert!(s.pids().is_empty(), "pid files left after down");
    let rows = status_rows(&s);
    assert!(rows.iter().all(|r| r[2] == "stopped"), "{rows:?}");
}
