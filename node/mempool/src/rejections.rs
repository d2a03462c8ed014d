//! Rejection counters, by reason (the node exports them as a metric).

use std::sync::atomic::{AtomicU64, Ordering};

use super::error::RejectReason;

/// Rejections counted by reason (exported by the node as a metric).
#[derive(Debug, Default)]
pub struct Rejections {
    counts: [AtomicU64; RejectReason::ALL.len()],
}

impl Rejections {
    pub(crate) fn record(&self, reason: RejectReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// How many rejections for `reason` so far.
    pub fn get(&self, reason: RejectReason) -> u64 {
        self.counts[reason.index()].load(Ordering::Relaxed)
    }

    /// Every reason with its count.
    pub fn snapshot(&self) -> Vec<(RejectReason, u64)> {
        RejectReason::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .collect()
    }
}
