//! `cairn dev` starts a chain with one command, and a transfer signed with
//! `cairn tx sign` and submitted over plain HTTP JSON-RPC (as curl would) commits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_tests::testnet::{cairn_bin, rpc_call};
use serde_json::{json, Value};

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dev_chain_commits_a_transfer_submitted_over_http() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(cairn_bin())
        .args(["dev", "--rpc-port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    // The banner lists the dev accounts with their secrets.
    let mut accounts: Vec<(String, String)> = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["address", addr, "secret", secret] = words.as_slice() {
            accounts.push((addr.to_string(), secret.to_string()));
        }
        if line.starts_with("try:") {
            break;
        }
    }
    assert!(accounts.len() >= 2, "cairn dev printed no dev accounts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(s) = rpc_call(&url, "cairn_status", json!([])) {
            break s;
        }
        assert!(Instant::now() < deadline, "cairn dev did not serve RPC");
        std::thread::sleep(Duration::from_millis(100));
    };
    let chain = status["chainId"].as_str().unwrap().to_string();

    let out = Command::new(cairn_bin())
        .args([
            "tx",
            "sign",
            "--secret",
            &accounts[0].1,
            "--chain-id",
            &chain,
            "--to",
            &accounts[1].0,
        ])
        .args(["--amount", "25", "--nonce", "0", "--memo", "hello"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let before = rpc_call(&url, "cairn_getAccount", json!([accounts[1].0])).unwrap();
    let hash = rpc_call(&url, "cairn_submitTransaction", json!([signed["raw"]])).unwrap();
    assert_eq!(hash, signed["hash"]);
    // Idempotent: the same transaction again gets the same hash and no error.
    let again = rpc_call(&url, "cairn_submitTransaction", json!([signed["raw"]])).unwrap();
    assert_eq!(again, hash);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tx = rpc_call(&url, "cairn_getTransaction", json!([hash])).unwrap();
        if tx["status"] == "committed" {
            break;
        }
        assert!(Instant::now() < deadline, "transfer not committed: {tx}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // ... and it is committed exactly once, even when resubmitted after commit.
    let again = rpc_call(&url, "cairn_submitTransaction", json!([signed["raw"]])).unwrap();
    assert_eq!(again, hash);
    let top = rpc_call(&url, "cairn_status", json!([])).unwrap()["committedHeight"]
        .as_u64()
        .unwrap();
    let mut copies = 0;
    for h in 1..=top {
        let block = rpc_call(&url, "cairn_getBlock", json!([h])).unwrap();
        copies += block["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| **t == hash)
            .count();
    }
    assert_eq!(copies, 1, "the transaction was committed {copies} times");
    let after = rpc_call(&url, "cairn_getAccount", json!([accounts[1].0])).unwrap();
    let bal = |v: &Value| v["balance"].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(bal(&after), bal(&before) + 25);
    // `cairn tx transfer --wait`: nonce fetched, signed, submitted, receipt printed.
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("key.json");
    let seed = cairn_ledger::hash::parse_hex32(&accounts[0].1, "secret").unwrap();
    cairn_genesis::KeyFile::from_secret(cairn_ledger::SecretKey::from_seed(seed))
        .write(&key_path)
        .unwrap();
    let out = Command::new(cairn_bin())
        .args([
            "tx",
            "transfer",
            "--rpc",
            &url,
            "--to",
            &accounts[1].0,
            "--amount",
            "7",
            "--wait",
            "--json",
        ])
        .arg("--key")
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["status"], "committed", "{receipt}");
    assert_eq!(receipt["receipt"]["status"], "success", "{receipt}");
    let sent = rpc_call(&url, "cairn_getTransaction", json!([receipt["hash"]])).unwrap();
    assert_eq!(
        sent["transaction"]["nonce"], 1,
        "the second transfer should take nonce 1: {sent}"
    );
    let after2 = rpc_call(&url, "cairn_getAccount", json!([accounts[1].0])).unwrap();
    assert_eq!(bal(&after2), bal(&before) + 32);

    // The idle chain stops making blocks once the transfer's state is certified.
    std::thread::sleep(Duration::from_secs(2));
    let h1 = rpc_call(&url, "cairn_status", json!([])).unwrap()["committedHeight"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let h2 = rpc_call(&url, "cairn_status", json!([])).unwrap()["committedHeight"]
        .as_u64()
        .unwrap();
    assert_eq!(h1, h2, "an idle dev chain keeps producing blocks");
}
