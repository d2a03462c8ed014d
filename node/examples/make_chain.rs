//! Builds a node home with a long chain for measuring `cairn audit`:
//! a 4-validator genesis, `--accounts` funded accounts and `--blocks`
//! blocks of `--txs` signed transfers each, committed to a real store with
//! QCs by three validators (the same builder the audit tests use).
//!
//! ```sh
//! cargo run -p cairn-node --example make_chain -- /tmp/chain 100 1000 5000
//! cairn audit --home /tmp/chain
//! ```
#![allow(clippy::unwrap_used)]

#[path = "../tests/audit_common/mod.rs"]
mod audit_common;

use std::time::Instant;

use rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: make_chain HOME BLOCKS TXS_PER_BLOCK ACCOUNTS";
    let home = std::path::PathBuf::from(args.first().expect(usage));
    let num = |i: usize| -> usize { args.get(i).expect(usage).parse().expect(usage) };
    let (blocks, per_block, accounts) = (num(1), num(2), num(3));
    assert!(
        !home.exists(),
        "{} exists; pick a new directory",
        home.display()
    );
    let started = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut c = audit_common::ChainBuilder::new(&home, accounts);
    for h in 1..=blocks {
        let txs = c.transfers(per_block, &mut rng);
        c.commit(txs, h % 50 == 0);
        if h % 10 == 0 {
            eprintln!(
                "height {h}/{blocks} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "{}: {blocks} blocks, {} transactions, {accounts} accounts in {:.0} s",
        home.display(),
        blocks * per_block,
        started.elapsed().as_secs_f64()
    );
}
