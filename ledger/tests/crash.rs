//! Crash test: a child process commits blocks to a RocksDB store in a loop and
//! is SIGKILLed at random moments. After every kill the store is reopened and
//! must be at a block boundary — every committed height complete and linked,
//! every transaction indexed — and re-executing the chain from genesis must
//! reproduce every stored receipt and state root.
//!
//! The child is this same test binary re-run with `CAIRN_CRASH_CHILD=<dir>`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cairn_ledger::execute::execute_block;
use cairn_ledger::state::{MemTreeStore, StateTree};
use cairn_ledger::store::Store;
use cairn_ledger::{Account, Address, Block, Height};
use rand::{Rng, SeedableRng};

mod common;
use common::{committee, genesis, next_block, ACCOUNTS};

fn child(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let (g, accounts) = genesis();
    store.init_genesis(&g, &accounts).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(std::process::id().into());
    loop {
        let (block, qc) = next_block(&store, &mut rng);
        store.commit_block(&block, &qc).unwrap();
    }
}

/// Checks a reopened store block by block against an independent re-execution.
fn audit(dir: &Path) -> Height {
    let store = Store::open(dir).unwrap();
    let (g, accounts) = genesis();
    let Some(tip) = store.tip().unwrap() else {
        // Killed before the genesis write (a slow start on a loaded
        // machine): that write is atomic too, so nothing of it may show.
        assert_eq!(store.genesis_hash().unwrap(), None, "half a genesis");
        return Height(0);
    };
    assert_eq!(store.genesis_hash().unwrap(), Some(g.hash()));
    let committee = committee(g.hash());

    let mut tree = MemTreeStore::new();
    let (root0, b0) = StateTree::new(&tree).update(&accounts, Height(0)).unwrap();
    tree.apply(b0);
    assert_eq!(store.state_root_at(Height(0)).unwrap(), root0);
    let mut state: BTreeMap<Address, Account> = accounts.into_iter().collect();
    let mut prev = g.hash();
    for h in 1..=tip.height.0 {
        let height = Height(h);
        let block = store
            .block_at(height)
            .unwrap()
            .unwrap_or_else(|| panic!("block {h} missing below tip {}", tip.height));
        assert_eq!(
            block.header.parent_hash, prev,
            "height {h} does not link to its parent"
        );
        assert_eq!(
            block.header.tx_root,
            Block::compute_tx_root(&block.txs),
            "tx_root at {h}"
        );
        let qc = store.qc_at(height).unwrap().unwrap();
        assert_eq!(qc.block_hash, block.hash());
        qc.verify(&committee).unwrap();
        block.header.justify.verify(&committee).unwrap();
        assert!(
            cairn_ledger::types::tx::verify_all(&block.txs).is_empty(),
            "bad signature at {h}"
        );

        let exec = execute_block(&state, &block.txs).unwrap();
        assert_eq!(
            store.receipts_at(height).unwrap().unwrap(),
            exec.receipts,
            "receipts at {h}"
        );
        let list = exec.update_list();
        state.extend(exec.updates);
        let (root, batch) = StateTree::new(&tree).update(&list, height).unwrap();
        tree.apply(batch);
        assert_eq!(
            store.state_root_at(height).unwrap(),
            root,
            "state root at {h}"
        );
        for (i, tx) in block.txs.iter().enumerate() {
            let loc = store
                .tx_location(&tx.hash())
                .unwrap()
                .unwrap_or_else(|| panic!("tx {i} of block {h} not indexed"));
            assert!(loc.height <= height);
        }
        prev = block.hash();
    }
    assert_eq!(prev, tip.hash);
    assert_eq!(
        StateTree::new(&tree).root(tip.height).unwrap(),
        tip.state_root
    );
    assert!(
        store.block_at(tip.height.next()).unwrap().is_none(),
        "a block above the tip"
    );
    let stored: BTreeMap<Address, Account> = store.accounts().unwrap().into_iter().collect();
    assert_eq!(stored, state, "account table differs from re-execution");
    let supply: u64 = state.values().map(|a| a.balance.0).sum();
    assert_eq!(
        supply,
        u64::from(ACCOUNTS) * 1_000_000,
        "supply not conserved"
    );
    tip.height
}

#[test]
fn killed_writer_leaves_a_consistent_store() {
    if let Ok(dir) = std::env::var("CAIRN_CRASH_CHILD") {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    eprintln!("crash test seed {seed} (CRASH_SEED={seed} to replay the kill times)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let exe = std::env::current_exe().unwrap();
    let mut heights = Vec::new();
    for round in 0..8 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "killed_writer_leaves_a_consistent_store",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("CAIRN_CRASH_CHILD", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(rng.gen_range(150..900)));
        assert!(
            child.try_wait().unwrap().is_none(),
            "child exited early in round {round}"
        );
        child.kill().unwrap(); // SIGKILL
        let lived = started.elapsed();
        child.wait().unwrap();
        let h = audit(dir.path());
        eprintln!("round {round}: killed after {lived:?}, store at height {h}");
        heights.push(h);
    }
    assert!(
        heights.windows(2).all(|w| w[0] <= w[1]),
        "height went backwards: {heights:?}"
    );
    assert!(
        heights.last().unwrap().0 > 3,
        "the child committed too few blocks to test anything: {heights:?}"
    );
}
