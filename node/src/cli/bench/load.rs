//! Signing every transfer ahead of time, and what the submitter and the
//! commit follower share about them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cairn_ledger::{Address, Amount, ChainId, Encode, Hash, Transaction};
use rayon::prelude::*;

use super::accounts::{Sender, TRANSFER_AMOUNT};
use super::Plan;

/// The run's transactions, shared by the submitter and the commit
/// follower. Times are microseconds since `base`, plus one (0: none).
#[derive(Debug)]
pub(crate) struct Run {
    /// Signed transactions: transaction `i` is sender `i mod K`'s
    /// `(i div K)`-th.
    pub raws: Vec<Vec<u8>>,
    /// Their hashes.
    pub hashes: Vec<Hash>,
    /// Transaction hash -> position in `raws`.
    pub index: HashMap<Hash, u32>,
    /// The instant all times count from.
    pub base: Instant,
    /// `base` on the wall clock, in ms since the Unix epoch.
    pub base_unix_ms: u64,
    /// When each transaction's commit was first announced (by any node).
    pub committed_us: Vec<AtomicU64>,
    /// The height each transaction committed at (0: not seen).
    pub height: Vec<AtomicU64>,
    /// Transactions seen committed.
    pub committed: AtomicU64,
    /// Transactions some node accepted at least once (progress lines).
    pub accepted: AtomicU64,
}

impl Run {
    /// Microseconds since `base`, plus one.
    pub fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64 + 1
    }

    /// Marks transaction `i` committed at `height`, announced at `at`; the
    /// first announcement wins.
    pub fn mark_committed(&self, i: usize, height: u64, at: u64) {
        if self.committed_us[i]
            .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.height[i].store(height, Ordering::Relaxed);
            self.committed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether transaction `i` was seen committed.
    pub fn is_committed(&self, i: usize) -> bool {
        self.committed_us[i].load(Ordering::Relaxed) > 0
    }
}

/// Signs the run's `rate × duration` transfers on all cores. Transaction `i`
/// is sender `i mod K`'s `(i div K)`-th, so every sender's nonces are
/// submitted in order, spread evenly over time.
pub(crate) fn sign_all(chain: &ChainId, plan: &Plan, senders: &[Sender]) -> Run {
    let k = senders.len();
    let total = plan.total() as usize;
    let memo = vec![b'x'; plan.memo_bytes];
    let signed: Vec<(Vec<u8>, Hash)> = (0..total)
        .into_par_iter()
        .map(|i| {
            let s = &senders[i % k];
            // To the next sender (to itself when there is only one).
            let to: Address = senders[(i + 1) % k].address;
            let tx = Transaction {
                chain_id: chain.clone(),
                from: s.address,
                to,
                amount: Amount(TRANSFER_AMOUNT),
                nonce: s.nonce + (i / k) as u64,
                memo: memo.clone(),
            }
            .sign(&s.key);
            (tx.to_bytes(), tx.hash())
        })
        .collect();
    let hashes: Vec<Hash> = signed.iter().map(|(_, h)| *h).collect();
    let index = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| (*h, i as u32))
        .collect();
    let base_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Run {
        raws: signed.into_iter().map(|(raw, _)| raw).collect(),
        hashes,
        index,
        base: Instant::now(),
        base_unix_ms,
        committed_us: (0..total).map(|_| AtomicU64::new(0)).collect(),
        height: (0..total).map(|_| AtomicU64::new(0)).collect(),
        committed: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
    }
}
