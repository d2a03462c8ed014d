//! Committing a block of 1,000 transfers to RocksDB: execution, state-tree
//! update and one fsynced atomic write batch.
#![allow(clippy::unwrap_used, missing_docs)]

use cairn_ledger::store::Store;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::SeedableRng;

#[path = "../tests/common/mod.rs"]
mod common;

fn commit_1000(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (g, accounts) = common::genesis();
    store.init_genesis(&g, &accounts).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    group.bench_function("commit_block_1000_transfers", |b| {
        b.iter_batched(
            || common::next_block_with(&store, &mut rng, 1000),
            |(block, qc)| store.commit_block(&block, &qc).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, commit_1000);
criterion_main!(benches);
