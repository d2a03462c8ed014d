//! A real 4-validator network: four `cairn` processes on 127.0.0.1.
//!
//! - A few hundred transfers submitted to different nodes are each committed
//!   exactly once, with identical block hashes and state roots on all four.
//! - SIGKILL one validator: the other three keep committing; the killed one
//!   restarts, catches up by block sync, ends with the same chain, and no node
//!   ever saw it sign two different votes for a round.
//! - Stop two of four: commits halt, nothing forks; restart them: commits resume.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use cairn_genesis::KeyFile;
use cairn_ledger::{Address, Amount, ChainId, Encode, Transaction};
use cairn_tests::testnet::Testnet;
use serde_json::{json, Value};

struct Wallet {
    keys: Vec<KeyFile>,
    nonces: Vec<u64>,
    chain: ChainId,
}

impl Wallet {
    fn new(net: &Testnet) -> Wallet {
        let keys: Vec<KeyFile> = net
            .accounts
            .iter()
            .map(|p| KeyFile::read(p).unwrap())
            .collect();
        Wallet {
            nonces: vec![0; keys.len()],
            keys,
            chain: ChainId::new(net.chain_id.clone()).unwrap(),
        }
    }

    /// A signed transfer from account `i` (next nonce) to account `i + 1`, as raw hex.
    fn transfer(&mut self, i: usize, amount: u64) -> (String, String) {
        let i = i % self.keys.len();
        let to: Address = self.keys[(i + 1) % self.keys.len()].address();
        let tx = Transaction {
            chain_id: self.chain.clone(),
            from: self.keys[i].address(),
            to,
            amount: Amount(amount),
            nonce: self.nonces[i],
            memo: b"testnet".to_vec(),
        }
        .sign(self.keys[i].secret());
        self.nonces[i] += 1;
        (
            format!("0x{}", hex::encode(tx.to_bytes())),
            tx.hash().to_string(),
        )
    }
}

fn height(net: &Testnet, i: usize) -> Option<u64> {
    net.call(i, "cairn_status", json!([])).ok()?["committedHeight"].as_u64()
}

fn submit(net: &Testnet, wallet: &mut Wallet, count: usize, nodes: &[usize]) -> Vec<String> {
    let mut hashes = Vec::new();
    for k in 0..count {
        let (raw, hash) = wallet.transfer(k, 1 + k as u64 % 7);
        let node = nodes[k % nodes.len()];
        let got = net
            .call(node, "cairn_submitTransaction", json!([raw]))
            .unwrap();
        assert_eq!(
            got.as_str(),
            Some(hash.as_str()),
            "submit returned another hash"
        );
        hashes.push(hash);
    }
    hashes
}

/// Waits until every hash is committed on every node in `nodes`; returns (hash -> height, index).
fn wait_committed(
    net: &Testnet,
    hashes: &[String],
    nodes: &[usize],
    timeout: Duration,
) -> BTreeMap<String, (u64, u64)> {
    net.wait_for("transactions committed on every node", timeout, |net| {
        let mut at = BTreeMap::new();
        for &i in nodes {
            for h in hashes {
                let tx = net.call(i, "cairn_getTransaction", json!([h])).ok()?;
                if tx["status"] != "committed" {
                    return None;
                }
                let loc = (tx["height"].as_u64()?, tx["index"].as_u64()?);
                if *at.entry(h.clone()).or_insert(loc) != loc {
                    panic!(
                        "transaction {h} is at {loc:?} on node {i} but {:?} elsewhere",
                        at[h]
                    );
                }
            }
        }
        Some(at)
    })
}

/// Every node in `nodes` has the same block hash and state root at every height up to `top`.
fn assert_same_chain(net: &Testnet, nodes: &[usize], top: u64) {
    for h in 0..=top {
        let blocks: Vec<Value> = nodes
            .iter()
            .map(|&i| net.call(i, "cairn_getBlock", json!([h])).unwrap())
            .collect();
        for (b, &i) in blocks.iter().zip(nodes) {
            assert_eq!(
                b["hash"], blocks[0]["hash"],
                "block hash at height {h} differs on node {i}"
            );
            assert_eq!(
                b["stateRoot"], blocks[0]["stateRoot"],
                "state root at height {h} differs on node {i}"
            );
        }
    }
}

/// Each hash appears in exactly one committed block position, and that block lists it there.
fn assert_exactly_once(net: &Testnet, at: &BTreeMap<String, (u64, u64)>) {
    let positions: HashSet<(u64, u64)> = at.values().copied().collect();
    assert_eq!(
        positions.len(),
        at.len(),
        "two transactions share a block position"
    );
    for (h, (height, index)) in at {
        let block = net.call(0, "cairn_getBlock", json!([height])).unwrap();
        let txs = block["transactions"]
            .as_array()
            .expect("block lists its transaction hashes");
        assert_eq!(txs[*index as usize].as_str(), Some(h.as_str()));
        let count = txs
            .iter()
            .filter(|t| t.as_str() == Some(h.as_str()))
            .count();
        assert_eq!(count, 1, "{h} appears {count} times in block {height}");
    }
}

fn no_equivocation(net: &Testnet, nodes: &[usize]) {
    for &i in nodes {
        assert!(
            !net.log(i).to_lowercase().contains("equivocation"),
            "node {i} logged an equivocation:\n{}",
            net.log(i)
        );
    }
}

#[test]
fn four_validators_commit_survive_a_kill_and_halt_without_quorum() {
    let mut net = Testnet::generate(4, 400);
    net.start_all();
    net.wait_for("all nodes to answer", Duration::from_secs(30), |net| {
        (0..4).all(|i| height(net, i).is_some()).then_some(())
    });
    let mut wallet = Wallet::new(&net);

    // 1. A few hundred transfers, spread over all four nodes.
    let hashes = submit(&net, &mut wallet, 300, &[0, 1, 2, 3]);
    let at = wait_committed(&net, &hashes, &[0, 1, 2, 3], Duration::from_secs(90));
    let top = at.values().map(|(h, _)| *h).max().unwrap();
    assert_same_chain(&net, &[0, 1, 2, 3], top);
    assert_exactly_once(&net, &at);
    eprintln!("phase 1: 300 transfers committed by height {top} on all four nodes");

    // 2. SIGKILL node 3; the others keep committing.
    net.kill(3);
    let mut at2 = BTreeMap::new();
    for _wave in 0..4 {
        let hashes2 = submit(&net, &mut wallet, 15, &[0, 1, 2]);
        at2.extend(wait_committed(
            &net,
            &hashes2,
            &[0, 1, 2],
            Duration::from_secs(90),
        ));
    }
    // Restart it: it catches up by block sync and joins the same chain.
    net.start(3);
    let target = at2.values().map(|(h, _)| *h).max().unwrap();
    net.wait_for("node 3 to catch up", Duration::from_secs(90), |net| {
        (height(net, 3)? >= target).then_some(())
    });
    // It catches up by block sync (several blocks behind) or, for a short
    // gap, by fetching the certified ancestors of a proposal it receives.
    let path = if net.log(3).contains("caught up") {
        "block sync"
    } else {
        "ancestor fetch"
    };
    eprintln!("phase 2: node 3 killed at height <= {target}, restarted and caught up by {path}");
    let hashes3 = submit(&net, &mut wallet, 40, &[3, 0]);
    let at3 = wait_committed(&net, &hashes3, &[0, 1, 2, 3], Duration::from_secs(90));
    let top = at3.values().map(|(h, _)| *h).max().unwrap();
    assert_same_chain(&net, &[0, 1, 2, 3], top);
    no_equivocation(&net, &[0, 1, 2, 3]);

    // 3. Stop two of four: no quorum, so no commits, and no fork.
    assert!(
        net.stop(2).is_some_and(|s| s.success()),
        "node 2 did not shut down cleanly"
    );
    assert!(
        net.stop(3).is_some_and(|s| s.success()),
        "node 3 did not shut down cleanly"
    );
    // Blocks certified before the stop may still commit as in-flight
    // messages land, and a survivor may sync the other's last committed
    // block: wait until both hold still for longer than a catch-up takes.
    let mut last = (Vec::new(), std::time::Instant::now());
    let before = net.wait_for(
        "survivors' heights to settle",
        Duration::from_secs(60),
        |net| {
            let now = vec![height(net, 0)?, height(net, 1)?];
            if now != last.0 {
                last = (now, std::time::Instant::now());
                return None;
            }
            (last.1.elapsed() > Duration::from_secs(5)).then(|| now.clone())
        },
    );
    let stalled = submit(&net, &mut wallet, 10, &[0, 1]);
    std::thread::sleep(Duration::from_secs(4));
    let after = vec![height(&net, 0).unwrap(), height(&net, 1).unwrap()];
    // A survivor one block behind may still catch up to what the other had
    // committed (block sync); nothing beyond that may commit.
    assert_eq!(
        after.iter().max(),
        before.iter().max(),
        "a block committed without a quorum: heights {before:?} -> {after:?}"
    );
    assert_same_chain(&net, &[0, 1], *before.iter().min().unwrap());
    eprintln!("phase 3: two of four stopped; survivors held at heights {before:?}");
    for h in &stalled {
        let tx = net.call(0, "cairn_getTransaction", json!([h])).unwrap();
        assert_ne!(tx["status"], "committed");
    }
    // Restart them: commits resume and every node agrees.
    net.start(2);
    net.start(3);
    let at4 = wait_committed(&net, &stalled, &[0, 1, 2, 3], Duration::from_secs(120));
    let top = at4.values().map(|(h, _)| *h).max().unwrap();
    assert_same_chain(&net, &[0, 1, 2, 3], top);
    no_equivocation(&net, &[0, 1, 2, 3]);
    eprintln!("phase 4: restarted; commits resumed to height {top}, one chain on all four");
}
