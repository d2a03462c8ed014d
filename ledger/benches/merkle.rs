//! The RFC 6962 transaction root over 1,000 and 10,000 transaction hashes,
//! and an audit path in the larger tree.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use cairn_ledger::{merkle, Hash};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn tx_root(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle");
    for n in [1_000usize, 10_000] {
        let leaves: Vec<Hash> = (0..n as u64)
            .map(|i| Hash::digest(&i.to_le_bytes()))
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("tx_root", n), &leaves, |b, l| {
            b.iter(|| merkle::root(black_box(l)))
        });
        g.bench_with_input(BenchmarkId::new("audit_path", n), &leaves, |b, l| {
            b.iter(|| merkle::audit_path(black_box(l), n / 3).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = tx_root
}
criterion_main!(benches);
