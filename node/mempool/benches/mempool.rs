//! Mempool admission of 1,000 signed transfers (decode, batched ZIP-215
//! verification on all cores, stateful checks, insertion), and selection of
//! a block's worth from a full pool.

use std::collections::HashSet;

use cairn_ledger::{Account, Amount, ChainId, Encode, SecretKey, Transaction};
use cairn_mempool::view::MapView;
use cairn_mempool::{Mempool, MempoolConfig};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const SENDERS: u64 = 100;
const PER_SENDER: u64 = 10;

fn setup() -> (ChainId, MapView, Vec<Vec<u8>>) {
    let chain = ChainId::new("cairn-bench").expect("valid chain id");
    let mut view = MapView::default();
    let mut raw = Vec::new();
    let to = SecretKey::from_seed([255; 32]).address();
    for s in 0..SENDERS {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&s.to_le_bytes());
        let key = SecretKey::from_seed(seed);
        view.accounts.insert(
            key.address(),
            Account {
                balance: Amount(1_000_000),
                nonce: 0,
            },
        );
        for nonce in 0..PER_SENDER {
            let tx = Transaction {
                chain_id: chain.clone(),
                from: key.address(),
                to,
                amount: Amount(1),
                nonce,
                memo: vec![0; 64],
            }
            .sign(&key);
            raw.push(tx.to_bytes());
        }
    }
    (chain, view, raw)
}

fn admission(c: &mut Criterion) {
    let (chain, view, raw) = setup();
    let n = raw.len();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut g = c.benchmark_group("mempool");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    g.bench_function("admit_1000_transfers", |b| {
        b.iter_batched(
            || {
                (
                    Mempool::new(MempoolConfig::default(), chain.clone()),
                    raw.clone(),
                )
            },
            |(m, raw)| {
                let r = rt.block_on(m.submit(raw, &view));
                assert!(r.iter().all(|r| r.is_ok()));
                m
            },
            BatchSize::SmallInput,
        )
    });
    let full = Mempool::new(MempoolConfig::default(), chain.clone());
    full.submit_blocking(raw.clone(), &view);
    let none = HashSet::new();
    g.bench_function("select_1000_of_1000", |b| {
        b.iter(|| {
            let s = full.select(n, usize::MAX, &none);
            assert_eq!(s.len(), n);
            s
        })
    });
    g.finish();
}

criterion_group!(benches, admission);
criterion_main!(benches);
