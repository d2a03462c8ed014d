//! `scripts/testnet.sh` run as a user runs it, every step bounded in time.
//!
//! A [`Script`] owns a temporary testnet directory. Each step runs in its own
//! process group, killed whole when it outlives its timeout (bash, `cairn
//! bench`/`cairn audit`, and any node that step started), and dropping the
//! `Script` runs `down`, SIGKILLs any node whose pid file is left and removes
//! any network namespace, veth or bridge named for the testnet, so nothing
//! outlives the test.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::cairn_bin;

/// One bounded run of a command.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code; `None` if killed at its timeout (or by a signal).
    pub code: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Outcome {
    /// Panics, printing both streams, unless the command exited 0.
    pub fn ok(&self, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "`{what}` failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `cmd` in its own process group with output to files in `scratch`,
/// killing the whole group after `timeout`.
pub fn run_bounded(mut cmd: Command, scratch: &Path, timeout: Duration) -> Outcome {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let out = scratch.join(format!("out-{n}.txt"));
    let err = scratch.join(format!("err-{n}.txt"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .process_group(0)
        .spawn()
        .expect("spawning a bounded command");
    let deadline = Instant::now() + timeout;
    let code = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            break status.code();
        }
        if Instant::now() > deadline {
            // The group id is the child's pid (`process_group(0)`); it has
            // not been reaped yet, so the id cannot have been reused.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let outcome = Outcome {
        code,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&err);
    outcome
}

/// A testnet directory driven by `scripts/testnet.sh`.
#[derive(Debug)]
pub struct Script {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Script {
    /// A new, empty testnet directory; `env` is set for every run.
    pub fn new(env: &[(&str, &str)]) -> Script {
        Script {
            dir: tempfile::Builder::new()
                .prefix("cairn-testnet-sh-")
                .tempdir()
                .expect("temp dir"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Where the script keeps the testnet (`CAIRN_TESTNET_DIR`).
    pub fn testnet_dir(&self) -> PathBuf {
        self.dir.path().join("testnet")
    }

    /// Runs `scripts/testnet.sh ARGS` with the test's `cairn` binary on free
    /// ports, killing its process group after `timeout`.
    pub fn run(&self, args: &[&str], timeout: Duration) -> Outcome {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/testnet.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .args(args)
            .env("CAIRN_TESTNET_DIR", self.testnet_dir())
            .env("CAIRN_BIN", cairn_bin())
            .env("CAIRN_TESTNET_BASE_PORT", "0");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        run_bounded(cmd, self.dir.path(), timeout)
    }

    /// Runs the `cairn` binary with `args`, bounded like [`Script::run`].
    pub fn cairn(&self, args: &[&str], timeout: Duration) -> Outcome {
        let mut cmd = Command::new(cairn_bin());
        cmd.args(args);
        run_bounded(cmd, self.dir.path(), timeout)
    }

    /// Pids of the nodes whose pid files exist, with their homes.
    pub fn pids(&self) -> Vec<(PathBuf, String)> {
        (0..64)
            .map(|i| self.testnet_dir().join(format!("node{i}")))
            .take_while(|home| home.exists())
            .filter_map(|home| {
                let pid = std::fs::read_to_string(home.join("node.pid")).ok()?;
                Some((home, pid.trim().to_string()))
            })
            .collect()
    }

    /// The id in the names of the testnet's namespaces, veths and bridge
    /// (`netns.conf`), if it is namespaced.
    pub fn net_id(&self) -> Option<String> {
        let conf = std::fs::read_to_string(self.testnet_dir().join("netns.conf")).ok()?;
        conf.lines()
            .find_map(|l| l.strip_prefix("id="))
            .map(str::to_string)
    }

    /// The `status` table's node rows, split on whitespace (columns: node
    /// pid state height round peers mempool rpc faults).
    pub fn status_rows(&self) -> Vec<Vec<String>> {
        let out = self.run(&["status"], Duration::from_secs(60));
        out.ok("testnet.sh status");
        out.stdout
            .lines()
            .skip(1)
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    }
}

/// Whether process `pid` is `cairn start --home HOME` (its pid file may be
/// stale and the pid reused by an unrelated process).
pub fn is_node(pid: &str, home: &Path) -> bool {
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

/// Names of the network namespaces and links named for `id` that exist now.
pub fn net_leftovers(id: &str) -> Vec<String> {
    let list = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let mut left: Vec<String> = list(&["netns", "list"])
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("cairn-{id}-")))
        .map(String::from)
        .collect();
    left.extend(
        list(&["-o", "link", "show"])
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n))
            .filter(|n| n.starts_with(&format!("cn{id}")))
            .map(String::from),
    );
    left
}

impl Drop for Script {
    fn drop(&mut self) {
        let id = self.net_id();
        let _ = self.run(&["down"], Duration::from_secs(90));
        for (home, pid) in self.pids() {
            if is_node(&pid, &home) {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
        if let Some(id) = id {
            for name in net_leftovers(&id) {
                if name.starts_with("cairn-") {
                    let _ = Command::new("ip").args(["netns", "del", &name]).status();
                } else {
                    let _ = Command::new("ip").args(["link", "del", &name]).status();
                }
            }
        }
        if std::thread::panicking() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
            eprintln!("testnet kept for inspection: {}", dir.keep().display());
        }
    }
}
