//! Multi-process testnets: real `cairn` processes on 127.0.0.1, driven over
//! JSON-RPC. Every process started is killed when the [`Testnet`] is dropped.
//! [`script`] drives `scripts/testnet.sh` the same way; [`tmpfs`] gives a
//! node a small disk to fill.

mod rpc;
pub mod script;
pub mod tmpfs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use rpc::{rpc_call, RpcError};
use serde_json::Value;
pub use tmpfs::is_root;

/// The `cairn` binary the tests run: `$CAIRN_BIN`, or the one `cargo test`
/// built beside the test executable (`target/<profile>/cairn`).
pub fn cairn_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CAIRN_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/cairn
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = dir.join("cairn");
    assert!(
        bin.exists(),
        "{} not found: build it first (`cargo build -p cairn-node`, or run the whole workspace's tests) or set CAIRN_BIN",
        bin.display()
    );
    bin
}

/// One node of a testnet.
#[derive(Debug)]
pub struct Node {
    /// Its home directory.
    pub home: PathBuf,
    /// Its RPC URL.
    pub rpc: String,
    /// The running process, if started.
    pub child: Option<Child>,
    /// Its log file.
    pub log: PathBuf,
}

/// A testnet in a temporary directory.
#[derive(Debug)]
pub struct Testnet {
    /// The directory `cairn testnet` wrote.
    pub dir: tempfile::TempDir,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// Funded account key files.
    pub accounts: Vec<PathBuf>,
    /// Chain id.
    pub chain_id: String,
}

impl Testnet {
    /// Generates an `n`-validator testnet with free ports (does not start it).
    pub fn generate(n: usize, round_timeout_ms: u64) -> Testnet {
        let dir = tempfile::Builder::new()
            .prefix("cairn-testnet-")
            .tempdir()
            .expect("temp dir");
        let out = Command::new(cairn_bin())
            .args([
                "testnet",
                "--validators",
                &n.to_string(),
                "--base-port",
                "0",
                "--accounts",
                "16",
            ])
            .args(["--round-timeout-ms", &round_timeout_ms.to_string()])
            .arg("--out")
            .arg(dir.path())
            .output()
            .expect("running cairn testnet");
        assert!(
            out.status.success(),
            "cairn testnet failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("testnet.json"))
                .expect("testnet.json written"),
        )
        .expect("testnet.json is JSON");
        let nodes = summary["nodes"]
            .as_array()
            .expect("nodes array")
            .iter()
            .enumerate()
            .map(|(i, n)| Node {
                home: PathBuf::from(n["home"].as_str().expect("home")),
                rpc: n["rpc"].as_str().expect("rpc").to_string(),
                child: None,
                log: dir.path().join(format!("node{i}.log")),
            })
            .collect();
        let accounts = summary["accounts"]
            .as_array()
            .expect("accounts array")
            .iter()
            .map(|a| PathBuf::from(a["keyFile"].as_str().expect("keyFile")))
            .collect();
        let chain_id = summary["chainId"].as_str().expect("chainId").to_string();
        Testnet {
            dir,
            nodes,
            accounts,
            chain_id,
        }
    }

    /// Starts node `i` (appending to its log).
    pub fn start(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {i} is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("log file");
        let child = Command::new(cairn_bin())
            .args(["start", "--home"])
            .arg(&node.home)
            .env(
                "RUST_LOG",
                std::env::var("CAIRN_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::from(log.try_clone().expect("log fd")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting cairn");
        node.child = Some(child);
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// SIGKILLs node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERMs node `i` and waits (up to 20 s) for a clean exit; returns its exit status.
    pub fn stop(&mut self, i: usize) -> Option<std::process::ExitStatus> {
        let mut c = self.nodes[i].child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// A JSON-RPC call to node `i`.
    pub fn call(&self, i: usize, method: &str, params: Value) -> Result<Value, RpcError> {
        rpc_call(&self.nodes[i].rpc, method, params)
    }

    /// The node's log so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.nodes[i].log).unwrap_or_default()
    }

    /// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout`
    /// naming `what` and printing the nodes' log tails.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Testnet) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if Instant::now() > deadline {
                for i in 0..self.nodes.len() {
                    let log = self.log(i);
                    let tail: Vec<&str> = log.lines().rev().take(30).collect();
                    eprintln!("--- node{i} log tail ---");
                    for l in tail.iter().rev() {
                        eprintln!("{l}");
                    }
                }
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            // Keep the homes and logs of a failed run for inspection.
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
            eprintln!("testnet kept for inspection: {}", dir.keep().display());
        }
    }
}
