//! Where admission runs its batched signature checks: the one thing the
//! mempool needs from the node's environment. The node passes its `Env`
//! (tokio's blocking pool in production, inline under the simulator), so the
//! simulator drives the real mempool; [`Blocking`] is the production
//! behaviour for callers without an `Env`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A batch of CPU-heavy work: returns the positions of the transactions
/// whose signatures failed (`cairn_ledger::types::tx::verify_all`).
pub type CpuJob = Box<dyn FnOnce() -> Vec<usize> + Send + 'static>;

/// The result of a [`CpuJob`], awaited by the submitting task.
pub type CpuFuture<'a> = Pin<Box<dyn Future<Output = Vec<usize>> + Send + 'a>>;

/// Runs CPU-heavy work off the async tasks.
pub trait Executor: Send + Sync + fmt::Debug {
    /// Runs `job` where it does not stall the async runtime; a panic in
    /// `job` resumes where the future is awaited.
    fn cpu(&self, job: CpuJob) -> CpuFuture<'_>;
}

/// Runs jobs on tokio's blocking pool (what the node's production `Env` does).
#[derive(Clone, Copy, Debug, Default)]
pub struct Blocking;

impl Executor for Blocking {
    fn cpu(&self, job: CpuJob) -> CpuFuture<'_> {
        Box::pin(async move {
            match tokio::task::spawn_blocking(job).await {
                Ok(v) => v,
                // The job panicked: surface it where it was awaited.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        })
    }
}
