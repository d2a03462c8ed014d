//! The consensus driver: the one task that owns the consensus core and
//! carries out its outputs — persisting safety data (fsynced before any vote
//! or timeout leaves), sending, arming the round timer, building and checking
//! blocks, committing through the store, and catching up by block sync.
//!
//! Inputs arrive from the network, the mempool (new transactions), the round
//! timer, and the driver's own background jobs (block checks and fetches run
//! off this task and report back through a bounded channel).
//!
//! Besides the driver: [`app`] (block building and the checks before a
//! vote), [`sync`] (block sync batches, verified and applied), [`env`] (the
//! clock, executors and tasks, production or simulated: the node simulation
//! in `tests/src/nodesim` runs this crate) and [`metrics`] (the registry the
//! node serves at `/metrics`).

pub mod app;
mod catchup;
pub mod env;
mod events;
pub mod metrics;
mod outputs;
mod planted;
pub mod sync;

pub use planted::{Planted, PlantedNodeBug};

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use cairn_consensus::{Consensus, Input};
use cairn_ledger::store::Store;
use cairn_ledger::{Block, Committee, Hash, Round, SecretKey};
use libp2p::PeerId;
use tokio::sync::{broadcast, mpsc, watch};

use crate::app::App;
use crate::env::Env;
use crate::metrics::Metrics;
use cairn_mempool::Mempool;
use cairn_network::{NetworkEvent, NetworkHandle};

/// Live facts only the consensus driver and the network know. The driver
/// publishes a new value through a `tokio::sync::watch` channel whenever one
/// changes; the RPC server reads the latest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// The consensus round the node is in.
    pub round: Round,
    /// True while the node is catching up (block sync) rather than voting.
    pub syncing: bool,
    /// Connected peers.
    pub peers: u32,
    /// The validator index of the current round's leader, for a proposal
    /// extending the node's high QC (`None`: it lacks that QC's block).
    pub leader: Option<u16>,
    /// The validator index of the next round's leader after this round's
    /// block: the vote collector, to whom this round's votes go
    /// (`cairn_consensus::Consensus::next_leader`).
    pub next_leader: Option<u16>,
}

/// Most peers' consensus messages held for the core while it is paused.
const MAX_HELD: usize = 512;

/// Most block sync requests served at once.
const MAX_SYNC_SERVING: usize = 4;

/// Results of background jobs, fed back into the core.
#[derive(Debug)]
pub(crate) enum Job {
    /// A proposed block was checked.
    Validated { hash: Hash, valid: bool },
    /// A block we asked a peer for.
    Fetched(Box<Block>),
    /// A peer's answer to our status probe (`None`: it did not answer).
    PeerStatus {
        /// The peer asked.
        peer: PeerId,
        /// Its answer.
        status: Option<cairn_network::PeerStatus>,
    },
    /// A batch of committed blocks for catching up, or why none came.
    SyncBatch {
        /// The peer asked.
        peer: PeerId,
        /// The batch, or the request's failure.
        batch: Result<Box<cairn_network::SyncBatch>, String>,
    },
}

/// What the core made of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Taken (possibly a no-op: a duplicate or a stale message).
    Accepted,
    /// Refused without blame: too early, out of turn, unplaceable.
    Refused,
    /// Refused because it does not verify (a forged or corrupted signature
    /// or certificate): whoever sent it misbehaved
    /// ([`cairn_consensus::ConsensusError::blames_sender`]).
    Forged,
}

impl Verdict {
    fn of(outputs: &[cairn_consensus::Output]) -> Verdict {
        let mut verdict = Verdict::Accepted;
        for o in outputs {
            if let cairn_consensus::Output::Rejected(e) = o {
                if e.blames_sender() {
                    return Verdict::Forged;
                }
                verdict = Verdict::Refused;
            }
        }
        verdict
    }
}

/// Why the driver stopped the node. The crash policy, in one place: a
/// storage write the node cannot make (safety data, a block it votes for, a
/// commit, a synced block) stops consensus at once -- nothing that depends
/// on the write is sent -- and the node exits non-zero. Carrying on would
/// let it sign or serve what its disk does not hold; every write is atomic
/// (one fsynced RocksDB batch), so a restart resumes from the last one.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A storage write failed.
    ///
    /// The store's error is part of the message, not a separate `source`:
    /// the operator reads it once, in the stop line, not twice in a chain.
    #[error(
        "storage failure while {what}: {cause}. The node stopped so that nothing it signs or \
         serves runs ahead of its disk; {}",
        remedy(cause)
    )]
    Storage {
        /// What the node was writing.
        what: &'static str,
        /// The store's error.
        cause: cairn_ledger::store::StoreError,
    },
}

impl DriverError {
    /// The one line the node logs when it stops for this error.
    pub fn headline(&self) -> &'static str {
        match self {
            DriverError::Storage {
                cause: cairn_ledger::store::StoreError::DiskFull { .. },
                ..
            } => "disk full: the data directory's disk has no space left; stopping the node",
            DriverError::Storage { .. } => "storage failure; stopping the node",
        }
    }
}

/// What the operator does about a failed write.
fn remedy(cause: &cairn_ledger::store::StoreError) -> &'static str {
    match cause {
        cairn_ledger::store::StoreError::DiskFull { .. } => {
            "free space on that disk (or move the data directory to a larger one), then start \
             the node again: it resumes from its last complete write, and every block and \
             transaction it reported committed is kept"
        }
        _ => {
            "check the data directory's disk (free space, permissions, the system log), then \
             start the node again: it resumes from its last complete write"
        }
    }
}

/// How many committed blocks the channel to subscribers holds; one that falls
/// further behind reads the rest from the store (see `rpc::subscribe`).
pub const COMMITTED_CAPACITY: usize = 256;

/// A block just committed (by consensus or by block sync), for subscribers
/// (RPC notifications), in height order.
#[derive(Clone, Debug)]
pub struct CommittedBlock {
    /// The block.
    pub block: Arc<Block>,
    /// State root after executing it.
    pub state_root: Hash,
}

/// Everything the driver needs.
#[derive(Debug)]
pub struct DriverParts {
    /// The consensus configuration (committee, key, timing).
    pub consensus: cairn_consensus::Config,
    /// The store.
    pub store: Arc<Store>,
    /// Block building and checking.
    pub app: App,
    /// The mempool.
    pub mempool: Arc<Mempool>,
    /// The network.
    pub net: NetworkHandle,
    /// Events from the network.
    pub net_events: mpsc::Receiver<NetworkEvent>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where the driver publishes its status.
    pub status: watch::Sender<NodeStatus>,
    /// Committed blocks, for subscribers (capacity [`COMMITTED_CAPACITY`]).
    pub committed: broadcast::Sender<CommittedBlock>,
    /// Clock, executors, randomness.
    pub env: Arc<Env>,
    /// A known bug to plant ([`Planted::none`] but in the node simulator's
    /// planted-bug hunts).
    pub planted: Planted,
}

/// The driver's state.
pub struct Driver {
    core: Consensus,
    config: cairn_consensus::Config,
    committee: Committee,
    key: Option<SecretKey>,
    peers_by_index: Vec<Option<PeerId>>,
    store: Arc<Store>,
    app: App,
    mempool: Arc<Mempool>,
    net: NetworkHandle,
    metrics: Arc<Metrics>,
    status: watch::Sender<NodeStatus>,
    committed_tx: broadcast::Sender<CommittedBlock>,
    env: Arc<Env>,
    jobs_tx: mpsc::Sender<Job>,
    timer: Option<(Round, Instant)>,
    last_commit: Instant,
    last_block_ts: Option<u64>,
    /// A status probe is in flight.
    probing: bool,
    /// A block sync under way; the core is paused meanwhile.
    sync: Option<catchup::SyncState>,
    /// Peers' consensus messages that arrived during a sync, for the core
    /// after it (at most [`MAX_HELD`], oldest dropped first).
    held: VecDeque<Input>,
    /// Block sync requests being served at once (peers choose the count).
    sync_serving: Arc<tokio::sync::Semaphore>,
    /// What the core was last told about pending transactions.
    txs_available: Option<bool>,
    /// Inputs the core's outputs addressed to ourselves (our own votes, our
    /// block); handled one per loop turn so shutdown and the network are
    /// never starved (a one-validator chain would otherwise loop forever).
    own_inputs: VecDeque<Input>,
    /// Mempool rejection counts already exported, by reason.
    rejections_exported: std::collections::HashMap<&'static str, u64>,
    /// Network counters already exported (peer penalties and bans).
    net_exported: cairn_network::NetworkStats,
    /// Set by the first storage failure: the driver stops (see [`DriverError`]).
    fatal: Option<DriverError>,
    /// The planted bug, if any ([`PlantedNodeBug`]).
    planted: Planted,
    /// Safety data not yet written (only with [`PlantedNodeBug::VoteBeforePersist`]).
    unpersisted: Option<cairn_consensus::SafetyData>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Driver(round {})", self.core.round())
    }
}

impl Driver {
    /// Builds the core from the store (restarting from persisted safety data if
    /// any) and runs until `shutdown` flips to true.
    pub async fn run(
        parts: DriverParts,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let (mut d, mut net_events, mut jobs_rx) = Driver::from_parts(parts)?;
        let mut admitted = d.mempool.subscribe_admitted();
        d.feed(Input::Start).await;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if let Some(e) = d.fatal.take() {
                // Logged once, by `stop`, when it happened.
                return Err(e.into());
            }
            let deadline = d.timer.map(|(_, at)| at);
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    if *shutdown.borrow() { break; }
                }
                ev = net_events.recv() => match ev {
                    Some(ev) => d.on_network(ev).await,
                    None => anyhow::bail!("the network task stopped"),
                },
                Some(job) = jobs_rx.recv() => d.on_job(job).await,
                // A sync pauses the core: its timer and queued inputs wait.
                _ = sleep_until(deadline), if deadline.is_some() && d.sync.is_none() => {
                    if let Some((round, _)) = d.timer.take() {
                        d.feed(Input::Timer { round }).await;
                    }
                }
                Ok(()) = admitted.changed() => d.on_admitted().await,
                _ = tick.tick() => d.on_tick().await,
                _ = std::future::ready(()), if !d.own_inputs.is_empty() && d.sync.is_none() => {
                    if let Some(input) = d.own_inputs.pop_front() {
                        d.feed(input).await;
                    }
                }
            }
        }
        tracing::info!(round = %d.core.round(), "consensus driver stopped");
        Ok(())
    }

    /// The driver over `parts`, with the network's events and the job
    /// channel's receiver for its loop.
    fn from_parts(
        parts: DriverParts,
    ) -> anyhow::Result<(Driver, mpsc::Receiver<NetworkEvent>, mpsc::Receiver<Job>)> {
        let DriverParts {
            consensus,
            store,
            app,
            mempool,
            net,
            net_events,
            metrics,
            status,
            committed,
            env,
            planted,
        } = parts;
        let committee = consensus.committee.clone();
        let core = catchup::core_from_store(&consensus, &store)?;
        let peers_by_index = committee
            .validators
            .validators()
            .iter()
            .map(|v| cairn_network::peer_id_of(&v.address))
            .collect();
        let (jobs_tx, jobs_rx) = mpsc::channel(1024);
        let d = Driver {
            core,
            key: consensus.key.clone(),
            config: consensus,
            committee,
            peers_by_index,
            store,
            app,
            mempool,
            net,
            metrics,
            status,
            committed_tx: committed,
            env,
            jobs_tx,
            timer: None,
            last_commit: Instant::now(),
            last_block_ts: None,
            probing: false,
            sync: None,
            held: VecDeque::new(),
            sync_serving: Arc::new(tokio::sync::Semaphore::new(MAX_SYNC_SERVING)),
            txs_available: None,
            own_inputs: VecDeque::new(),
            rejections_exported: std::collections::HashMap::new(),
            net_exported: cairn_network::NetworkStats::default(),
            fatal: None,
            planted,
            unpersisted: None,
        };
        Ok((d, net_events, jobs_rx))
    }

    /// Hands `input` to the core and carries out every output; inputs the
    /// outputs address to ourselves are queued for the next loop turns.
    /// Says whether the core took the input, refused it, or refused it as
    /// proof that its sender misbehaved.
    pub(crate) async fn feed(&mut self, input: Input) -> Verdict {
        if tracing::enabled!(tracing::Level::TRACE) {
            tracing::trace!(?input, round = %self.core.round(), "input");
        } else if tracing::enabled!(tracing::Level::DEBUG) {
            let kind = match &input {
                Input::Message(m) => format!("message r{}", m.round()),
                Input::Timer { round } => format!("timer r{round}"),
                Input::TxsAvailable(a) => format!("txs available {a}"),
                Input::BlockValidated { valid, .. } => format!("validated {valid}"),
                other => format!("{:.40}", format!("{other:?}")),
            };
            tracing::debug!(%kind, round = %self.core.round(), "input");
        }
        if self.fatal.is_some() {
            return Verdict::Refused; // stopping: the core gets nothing more
        }
        let outputs = self.core.handle(input);
        let verdict = Verdict::of(&outputs);
        for out in outputs {
            if let Some(next) = self.carry_out(out).await {
                self.own_inputs.push_back(next);
            }
            if self.fatal.is_some() {
                // Nothing after a failed write may leave the node.
                break;
            }
        }
        self.publish_status();
        verdict
    }

    async fn on_job(&mut self, job: Job) {
        let input = match job {
            Job::Validated { hash, valid } => Input::BlockValidated { hash, valid },
            Job::Fetched(block) => Input::FetchedBlock(*block),
            Job::PeerStatus { peer, status } => return self.on_peer_status(peer, status).await,
            Job::SyncBatch { peer, batch } => return self.on_sync_batch(peer, batch).await,
        };
        if self.sync.is_some() {
            // For the paused core, after the sync.
            self.own_inputs.push_back(input);
        } else {
            self.feed(input).await;
        }
    }

    async fn on_admitted(&mut self) {
        let fresh = self.mempool.drain_fresh(cairn_network::MAX_TX_BATCH * 8);
        if !fresh.is_empty() {
            if let Err(e) = self.net.broadcast_txs(fresh).await {
                tracing::debug!(error = %e, "gossiping transactions failed");
            }
        }
        self.metrics.mempool_size.set(self.mempool.len() as i64);
        if self.sync.is_none() {
            if let Some(input) = self.availability_change() {
                self.feed(input).await;
            }
        }
    }

    async fn on_tick(&mut self) {
        self.flush_lazy_safety();
        self.metrics.mempool_size.set(self.mempool.len() as i64);
        for (reason, count) in self.mempool.rejections().snapshot() {
            let seen = self.rejections_exported.entry(reason.as_str()).or_insert(0);
            if count > *seen {
                let label = crate::metrics::ReasonLabel {
                    reason: reason.as_str().to_string(),
                };
                self.metrics
                    .mempool_rejections
                    .get_or_create(&label)
                    .inc_by(count - *seen);
                *seen = count;
            }
        }
        self.metrics
            .peers
            .set(self.net.connected_peers().len() as i64);
        self.export_network_stats();
        self.publish_status();
        // Transactions can also leave by expiry or sync.
        if self.sync.is_none() {
            if let Some(input) = self.availability_change() {
                self.feed(input).await;
            }
        }
        if self.planted.has(PlantedNodeBug::InlineCatchUp) {
            self.catch_up_inline().await;
        } else {
            self.probe_peer();
        }
    }

    /// Adds the network's new peer penalties and bans to the metrics.
    fn export_network_stats(&mut self) {
        let now = self.net.stats();
        let seen = &self.net_exported;
        for why in cairn_network::Misbehaviour::ALL {
            let delta = now
                .penalties_for(why)
                .saturating_sub(seen.penalties_for(why));
            if delta > 0 {
                let label = crate::metrics::ReasonLabel {
                    reason: why.as_str().to_string(),
                };
                self.metrics
                    .peer_penalties
                    .get_or_create(&label)
                    .inc_by(delta);
            }
        }
        self.metrics
            .peer_bans
            .inc_by(now.bans.saturating_sub(seen.bans));
        self.net_exported = now;
    }

    /// Keeps a peer's message for the paused core, dropping the oldest
    /// beyond [`MAX_HELD`].
    fn hold(&mut self, input: Input) {
        if self.held.len() >= MAX_HELD {
            self.held.pop_front();
        }
        self.held.push_back(input);
    }

    fn publish_status(&self) {
        let status = NodeStatus {
            round: self.core.round(),
            syncing: self.sync.is_some(),
            peers: self.net.connected_peers().len() as u32,
            leader: self.core.leader(),
            next_leader: self.core.next_leader(),
        };
        self.metrics.round.set(self.core.round().0 as i64);
        self.status.send_replace(status);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
