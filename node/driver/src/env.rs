//! What the node needs from the world besides the network and the store:
//! the wall clock, somewhere to run CPU-heavy and blocking work, randomness,
//! and background tasks.
//!
//! [`Env::production`] is the real thing: `SystemTime`, tokio's blocking
//! pool, `block_in_place`, entropy. [`Env::simulated`] is what the
//! deterministic simulator runs the same node code on: a single-threaded
//! tokio runtime with a paused clock, where the wall clock is derived from
//! virtual time, CPU and blocking work run inline (a thread finishing at a
//! real-time moment would make the order of events depend on the machine),
//! randomness comes from the seed, and every task a node spawns is recorded
//! so that a simulated crash can abort all of them at once.
//!
//! Timers use `tokio::time::Instant` throughout, which follows the paused
//! clock in simulation and is the monotonic clock otherwise.

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::{AbortHandle, JoinHandle};

/// The node's environment (clock, executors, randomness, tasks).
#[derive(Debug)]
pub struct Env {
    mode: Mode,
    rng: Mutex<ChaCha8Rng>,
    /// Tasks spawned through [`Env::spawn`] (simulation only; pruned as they finish).
    tasks: Mutex<Vec<AbortHandle>>,
}

#[derive(Debug)]
enum Mode {
    Production,
    Simulated {
        /// Wall-clock milliseconds at `start`.
        epoch_ms: u64,
        /// The virtual instant the simulation started.
        start: tokio::time::Instant,
    },
}

impl Env {
    /// The real environment.
    pub fn production() -> Env {
        Env {
            mode: Mode::Production,
            rng: Mutex::new(ChaCha8Rng::from_entropy()),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// A deterministic environment for the simulator: must be created inside
    /// a current-thread runtime with a paused clock. The wall clock reads
    /// `epoch_ms` at creation and advances with virtual time.
    pub fn simulated(seed: u64, epoch_ms: u64) -> Env {
        Env {
            mode: Mode::Simulated {
                epoch_ms,
                start: tokio::time::Instant::now(),
            },
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// True under the simulator.
    pub fn is_simulated(&self) -> bool {
        matches!(self.mode, Mode::Simulated { .. })
    }

    /// Milliseconds since the Unix epoch (block timestamps, latency metrics).
    pub fn now_ms(&self) -> u64 {
        match &self.mode {
            Mode::Production => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            Mode::Simulated { epoch_ms, start } => epoch_ms + start.elapsed().as_millis() as u64,
        }
    }

    /// Runs CPU-heavy work (signature batches, block checks, disk reads)
    /// off the async tasks: on tokio's blocking pool, or inline when simulated.
    pub async fn cpu<T, F>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.mode {
            Mode::Production => match tokio::task::spawn_blocking(f).await {
                Ok(v) => v,
                // The closure panicked: surface it where it was awaited.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            },
            Mode::Simulated { .. } => f(),
        }
    }

    /// Runs blocking work (an fsynced write) from an async task without
    /// stalling the runtime's other tasks (`block_in_place`), or inline when
    /// simulated.
    pub fn blocking<T>(&self, f: impl FnOnce() -> T) -> T {
        match self.mode {
            Mode::Production => tokio::task::block_in_place(f),
            Mode::Simulated { .. } => f(),
        }
    }

    /// Spawns a background task of this node.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Tasks log under the span they were spawned in (the simulator's
        // per-node span; in production there is none).
        let handle = tokio::spawn(tracing::Instrument::in_current_span(fut));
        if self.is_simulated() {
            let mut tasks = self.tasks.lock();
            tasks.retain(|t| !t.is_finished());
            tasks.push(handle.abort_handle());
        }
        handle
    }

    /// Spawns CPU-heavy or blocking work whose result nobody awaits (e.g. it
    /// reports through a channel): the blocking pool, or a task when simulated.
    pub fn spawn_cpu<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        match self.mode {
            Mode::Production => {
                tokio::task::spawn_blocking(f);
            }
            Mode::Simulated { .. } => {
                self.spawn(async move { f() });
            }
        }
    }

    /// Aborts every task spawned through [`Env::spawn`] (a simulated crash).
    pub fn abort_all(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }

    /// A random `u64` (seeded in simulation).
    pub fn random_u64(&self) -> u64 {
        self.rng.lock().next_u64()
    }

    /// A random index below `n` (`n > 0`).
    pub fn random_index(&self, n: usize) -> usize {
        (self.random_u64() % n.max(1) as u64) as usize
    }
}

/// The mempool verifies its signature batches where the node runs CPU work.
impl cairn_mempool::Executor for Env {
    fn cpu(&self, job: cairn_mempool::CpuJob) -> cairn_mempool::CpuFuture<'_> {
        Box::pin(Env::cpu(self, job))
    }
}
