//! The account state tree on the in-memory node store: 1,000 accounts
//! written into an empty tree, 1,000 accounts updated in a tree of 10,000,
//! and a proof read; plus executing a block of 1,000 transfers.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_ledger::execute::execute_block;
use cairn_ledger::state::{MemTreeStore, StateTree};
use cairn_ledger::{
    Account, Address, Amount, ChainId, Hash, Height, SecretKey, SignedTransaction, Transaction,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn address(i: u64) -> Address {
    Address(Hash::digest(&i.to_le_bytes()).0)
}

fn accounts(range: std::ops::Range<u64>, balance: u64) -> Vec<(Address, Account)> {
    range
        .map(|i| {
            (
                address(i),
                Account {
                    balance: Amount(balance),
                    nonce: i % 7,
                },
            )
        })
        .collect()
}

fn tree(c: &mut Criterion) {
    let mut g = c.benchmark_group("state");
    g.throughput(Throughput::Elements(1_000));

    let empty = MemTreeStore::new();
    let fresh = accounts(0..1_000, 100);
    g.bench_function("insert_1000_into_empty_tree", |b| {
        b.iter(|| {
            StateTree::new(&empty)
                .update(black_box(&fresh), Height(0))
                .unwrap()
        })
    });

    let mut store = MemTreeStore::new();
    let (_, batch) = StateTree::new(&store)
        .update(&accounts(0..10_000, 100), Height(0))
        .unwrap();
    store.apply(batch);
    // Every tenth account changes: spread over the whole tree, like a block's senders.
    let changed: Vec<(Address, Account)> =
        accounts(0..10_000, 99).into_iter().step_by(10).collect();
    g.bench_function("update_1000_in_tree_of_10000", |b| {
        b.iter(|| {
            StateTree::new(&store)
                .update(black_box(&changed), Height(1))
                .unwrap()
        })
    });
    g.throughput(Throughput::Elements(1));
    let probe = address(4_321);
    g.bench_function("get_with_proof_in_tree_of_10000", |b| {
        b.iter(|| {
            StateTree::new(&store)
                .get_with_proof(&probe, Height(0))
                .unwrap()
        })
    });
    g.finish();
}

fn execution(c: &mut Criterion) {
    let chain = ChainId::new("cairn-bench").unwrap();
    let keys: Vec<SecretKey> = (0..100u8).map(|i| SecretKey::from_seed([i; 32])).collect();
    let state: BTreeMap<Address, Account> = keys
        .iter()
        .map(|k| {
            (
                k.address(),
                Account {
                    balance: Amount(1_000_000),
                    nonce: 0,
                },
            )
        })
        .collect();
    let txs: Vec<SignedTransaction> = (0..1_000usize)
        .map(|i| {
            let from = &keys[i % 100];
            Transaction {
                chain_id: chain.clone(),
                from: from.address(),
                to: keys[(i * 7 + 3) % 100].address(),
                amount: Amount(10),
                nonce: (i / 100) as u64,
                memo: Vec::new(),
            }
            .sign(from)
        })
        .collect();
    let mut g = c.benchmark_group("execute");
    g.throughput(Throughput::Elements(txs.len() as u64));
    g.bench_function("block_of_1000_transfers", |b| {
        b.iter(|| execute_block(&state, black_box(&txs)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = tree, execution
}
criterion_main!(benches);
