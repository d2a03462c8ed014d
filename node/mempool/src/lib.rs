//! The mempool: signed transactions waiting to be proposed (DESIGN §5).
//!
//! Admission runs in two phases so signature checks never hold the lock:
//! stateless checks (size, decoding, chain id, duplicates) and a batched
//! ZIP-215 signature check on the rayon pool, then, under the lock, the
//! stateful checks against committed state plus the sender's pending
//! transactions (nonce window, balance, capacity, per-sender cap).
//!
//! Invariants of the pool (checked in tests): every pooled transaction's
//! signature verified; per sender, nonces are unique and at least the
//! sender's committed nonce as last seen; `len()`/`bytes()` equal the sums
//! over the pooled transactions and never exceed the configured capacity.
//!
//! - [`config`] holds the limits;
//! - [`error`] has one [`MempoolError`] variant per rejection reason;
//! - [`view`] defines [`AccountView`], the committed state admission reads;
//! - [`pool`] is the data structure (no locks, no I/O);
//! - [`service`] is [`Mempool`], the shared, thread-safe face;
//! - [`executor`] is where it verifies signature batches ([`Executor`]);
//! - [`rejections`] counts refusals by reason.

pub mod config;
pub mod error;
pub mod executor;
pub mod pool;
pub mod rejections;
pub mod service;
pub mod view;

pub use config::{InvalidLimit, MempoolConfig};
pub use error::{MempoolError, RejectReason};
pub use executor::{Blocking, CpuFuture, CpuJob, Executor};
pub use rejections::Rejections;
pub use service::{Mempool, Origin};
pub use view::AccountView;

#[cfg(test)]
mod tests;
