//! Transaction hot paths: encode, decode (which hashes), sign, and signature
//! verification single, batched on one core, and batched on all cores
//! (`verify_all`). Throughput is per transaction, so the batched per-signature
//! cost reads directly off the report.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use cairn_ledger::crypto::BatchVerifier;
use cairn_ledger::types::tx::verify_all;
use cairn_ledger::{Amount, ChainId, Decode, Encode, SecretKey, SignedTransaction, Transaction};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn txs(n: usize) -> Vec<SignedTransaction> {
    let chain = ChainId::new("cairn-bench").unwrap();
    (0..n)
        .map(|i| {
            let key = SecretKey::from_seed([(i % 251) as u8 + 1; 32]);
            Transaction {
                chain_id: chain.clone(),
                from: key.address(),
                to: SecretKey::from_seed([0xee; 32]).address(),
                amount: Amount(1 + i as u64),
                nonce: (i / 251) as u64,
                memo: Vec::new(),
            }
            .sign(&key)
        })
        .collect()
}

fn single(c: &mut Criterion) {
    let tx = txs(1).remove(0);
    let bytes = tx.to_bytes();
    let key = SecretKey::from_seed([1; 32]);
    let mut g = c.benchmark_group("tx");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode", |b| b.iter(|| black_box(&tx).to_bytes()));
    g.bench_function("decode_and_hash", |b| {
        b.iter(|| SignedTransaction::from_bytes(black_box(&bytes)).unwrap())
    });
    g.bench_function("sign", |b| b.iter(|| black_box(tx.tx().clone()).sign(&key)));
    g.bench_function("verify_single", |b| b.iter(|| tx.verify().unwrap()));
    g.bench_function("decode_hash_verify_single", |b| {
        b.iter(|| {
            let t = SignedTransaction::from_bytes(black_box(&bytes)).unwrap();
            t.verify().unwrap();
            t.hash()
        })
    });
    g.finish();
}

fn batched(c: &mut Criterion) {
    const N: usize = 256;
    let txs = txs(N);
    let msgs: Vec<Vec<u8>> = txs.iter().map(|t| t.tx().signing_bytes()).collect();
    let mut g = c.benchmark_group("tx");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("verify_batch_256_one_core", |b| {
        b.iter(|| {
            let mut batch = BatchVerifier::with_capacity(N);
            for (t, m) in txs.iter().zip(&msgs) {
                batch.push(t.tx().from, m, *t.signature());
            }
            batch.verify().unwrap()
        })
    });
    let many = self::txs(4 * N);
    g.throughput(Throughput::Elements(many.len() as u64));
    g.bench_function("verify_all_1024_all_cores", |b| {
        b.iter(|| assert!(verify_all(black_box(&many)).is_empty()))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = single, batched
}
criterion_main!(benches);
