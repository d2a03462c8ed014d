//! `cairn audit` on a chain made by four real `cairn start` processes: the
//! remote audit of a live node and the offline audit of a stopped node's
//! home, up to the same height, must both be clean and agree on every
//! figure of their summaries (blocks, transactions, accounts, tip hash,
//! recomputed state root).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use cairn_genesis::KeyFile;
use cairn_ledger::{Amount, ChainId, Encode, Transaction};
use cairn_tests::testnet::{cairn_bin, Testnet};
use serde_json::{json, Value};

fn height(net: &Testnet, i: usize) -> Option<u64> {
    net.call(i, "cairn_status", json!([])).ok()?["committedHeight"].as_u64()
}

/// `cairn audit <args> --json`: exit code and the JSON object printed.
fn audit(args: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(cairn_bin())
        .arg("audit")
        .args(args)
        .arg("--json")
        .output()
        .expect("running cairn audit");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "cairn audit {args:?} printed no JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

#[test]
fn remote_and_offline_audits_of_a_four_node_chain_agree() {
    let mut net = Testnet::generate(4, 400);
    net.start_all();
    net.wait_for("all nodes to answer", Duration::from_secs(30), |net| {
        (0..4).all(|i| height(net, i).is_some()).then_some(())
    });

    // Transfers from every account, round-robin over the nodes.
    let keys: Vec<KeyFile> = net
        .accounts
        .iter()
        .map(|p| KeyFile::read(p).unwrap())
        .collect();
    let chain = ChainId::new(net.chain_id.clone()).unwrap();
    let mut hashes = Vec::new();
    for k in 0..160u64 {
        let i = (k as usize) % keys.len();
        let tx = Transaction {
            chain_id: chain.clone(),
            from: keys[i].address(),
            to: keys[(i + 3) % keys.len()].address(),
            amount: Amount(1 + k % 9),
            nonce: k / keys.len() as u64,
            memo: b"audit".to_vec(),
        }
        .sign(keys[i].secret());
        let raw = format!("0x{}", hex::encode(tx.to_bytes()));
        net.call(k as usize % 4, "cairn_submitTransaction", json!([raw]))
            .unwrap();
        hashes.push(tx.hash().to_string());
    }
    let top = net.wait_for(
        "every transfer committed on node 0",
        Duration::from_secs(90),
        |net| {
            let mut top = 0;
            for h in &hashes {
                let t = net.call(0, "cairn_getTransaction", json!([h])).ok()?;
                if t["status"] != "committed" {
                    return None;
                }
                top = top.max(t["height"].as_u64()?);
            }
            Some(top)
        },
    );
    net.wait_for(
        "node 1 at the same height",
        Duration::from_secs(60),
        |net| (height(net, 1)? >= top).then_some(()),
    );

    let to = top.to_string();
    let (code, remote) = audit(&["--rpc", &net.nodes[0].rpc, "--to", &to]);
    assert_eq!(code, Some(0), "remote audit: {remote}");

    assert!(
        net.stop(1).is_some_and(|s| s.success()),
        "node 1 did not stop cleanly"
    );
    let home = net.nodes[1].home.to_str().unwrap().to_string();
    let (code, offline) = audit(&["--home", &home, "--to", &to]);
    assert_eq!(code, Some(0), "offline audit: {offline}");

    for k in [
        "ok",
        "fromHeight",
        "toHeight",
        "blocks",
        "transactions",
        "accounts",
        "tipHash",
        "stateRoot",
    ] {
        assert_eq!(
            remote[k], offline[k],
            "{k} differs: remote {remote} offline {offline}"
        );
    }
    assert_eq!(remote["toHeight"], top);
    assert!(remote["transactions"].as_u64().unwrap() >= 160, "{remote}");
    eprintln!("remote {remote}\noffline {offline}");

    // The whole stopped store, to its own tip, is clean too (this also
    // compares its accounts table and state tree with the recomputed state).
    let (code, full) = audit(&["--home", &home]);
    assert_eq!(code, Some(0), "offline audit to the tip: {full}");
    assert!(full["toHeight"].as_u64().unwrap() >= top);
}
