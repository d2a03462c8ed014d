//! Catching up: when a peer reports a committed height above ours, fetch the
//! missing blocks in verified batches (see `crate::sync`), then restart the
//! core from the new tip with the safety data it already persisted.
//!
//! Nothing here waits on the network inside the driver: the status probe and
//! each batch request run as background jobs that report back through the
//! driver's job channel. Awaiting them inline would stop this node from
//! answering its peers' requests meanwhile — and two nodes probing each
//! other at the same moment would each wait out the full request timeout
//! (10 s) for an answer the other could not give. While a sync is under way
//! the core is paused (its timer, its queued inputs and peers' consensus
//! messages wait or are dropped), so the store's tip moves only by sync.

use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::{Consensus, Input, SafetyData};
use cairn_ledger::store::Store;
use cairn_ledger::{Decode, Height};
use libp2p::PeerId;
use tokio::time::Instant;

use super::{Driver, Job, PlantedNodeBug};
use crate::sync::{self, MAX_SYNC_BLOCKS};
use cairn_network::{NetworkHandle, PeerStatus, Request, Response, SyncBatch};

/// A sync under way: from whom, up to where, how many blocks so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct SyncState {
    peer: PeerId,
    target: Height,
    applied: usize,
    started: Instant,
}

/// How long one sync may keep the core paused before it resumes and a new
/// probe decides again (a slow or lying peer cannot hold it forever).
const SYNC_BUDGET: Duration = Duration::from_secs(30);

/// A core restarted from the store's tip and persisted safety data.
pub(super) fn core_from_store(
    config: &cairn_consensus::Config,
    store: &Store,
) -> anyhow::Result<Consensus> {
    let tip = store
        .tip()?
        .ok_or_else(|| anyhow::anyhow!("the store has no genesis"))?;
    let block = store
        .block_at(tip.height)?
        .ok_or_else(|| anyhow::anyhow!("the store lacks its tip block {}", tip.height))?;
    let cert = store.qc_at(tip.height)?.ok_or_else(|| {
        anyhow::anyhow!("the store lacks the certificate of its tip {}", tip.height)
    })?;
    let safety = match store.safety()? {
        Some(bytes) => SafetyData::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("persisted consensus safety data is corrupt: {e}"))?,
        None => SafetyData::genesis(config.committee.genesis_hash),
    };
    let pending = store.pending_blocks()?;
    // Leader election reads the certificates in the tip's ancestry.
    let mut history = Vec::new();
    for h in (1..tip.height.0)
        .rev()
        .take(cairn_consensus::leader::WINDOW)
    {
        match store.block_at(Height(h))? {
            Some(b) => history.push(b.header),
            None => break,
        }
    }
    Ok(
        Consensus::restore(config.clone(), safety, block, cert, pending)
            .with_committed_history(&history),
    )
}

/// A peer this many blocks ahead is worth a block sync.
const SYNC_LAG: u64 = 8;

/// A smaller lag is worth one after this long without a commit of our own
/// while transactions wait.
const STUCK: Duration = Duration::from_secs(5);

/// How long a status probe may wait for its answer before the next tick
/// probes another peer. A peer cut off mid-request (a partition drops
/// packets; nothing resets the connection) would otherwise hold the one
/// probe for the whole request timeout, and a node healed from a partition
/// fetched hundreds of blocks one by one through consensus instead of
/// syncing them (found by the node simulation, `Isolate4`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a sync batch may take to arrive before the sync is given up
/// (consensus resumes and the next probe picks a peer again). A batch is
/// read from the peer's store and bounded in bytes, so an answer takes
/// milliseconds; a request lost to a partition would otherwise keep
/// consensus paused for the whole network request timeout (10 s; found by
/// the node simulation, `Isolate4`: a validator healed from a partition
/// sat out 10 s of the chain).
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);

/// On an idle chain no proposal comes to commit what we missed, so a lag of
/// this many blocks (more than the one-block tail an idle chain leaves
/// behind its last QC's leader) is synced after [`STUCK`] without commits,
/// work waiting or not; a node cut off while the chain went idle stayed
/// behind for good before (found on real processes: `faults_script`).
const IDLE_LAG: u64 = 3;

/// Whether a peer at `theirs` is far enough ahead of our `ours` to sync
/// from. A sync pauses consensus and restarts the core from the store, so it
/// is kept for real lags: [`SYNC_LAG`] blocks, or any lag while transactions
/// wait and we have committed nothing for [`STUCK`]. A smaller lag closes by
/// itself: the next proposal's certificates commit the missing blocks
/// (fetched if need be). On an idle chain the last blocks stay known
/// committed only to the leader that formed their QC; syncing them (as a
/// 3 s quiet lag once did) restarted the core, which proposed more empty
/// blocks, and the chain never went quiet (found by the node simulation);
/// so an idle lag is synced only from [`IDLE_LAG`] blocks.
pub(super) fn is_behind(
    ours: Height,
    theirs: Height,
    since_last_commit: Duration,
    work_waiting: bool,
) -> bool {
    let quiet = since_last_commit > STUCK;
    theirs.0 >= ours.0.saturating_add(SYNC_LAG)
        || (theirs > ours && work_waiting && quiet)
        || (theirs.0 >= ours.0.saturating_add(IDLE_LAG) && quiet)
}

impl Driver {
    /// Asks a random peer how far it is, in the background (one probe at a
    /// time); the answer comes back as [`Job::PeerStatus`].
    pub(super) fn probe_peer(&mut self) {
        if self.probing || self.sync.is_some() {
            return;
        }
        let peers = self.net.connected_peers();
        if peers.is_empty() {
            return;
        }
        let peer = peers[self.env.random_index(peers.len())];
        self.probing = true;
        let net = self.net.clone();
        let jobs = self.jobs_tx.clone();
        self.env.spawn(async move {
            let probe = tokio::time::timeout(PROBE_TIMEOUT, net.request(peer, Request::Status));
            let status = match probe.await {
                Ok(Ok(Response::Status(status))) => Some(status),
                _ => None,
            };
            let _ = jobs.send(Job::PeerStatus { peer, status }).await;
        });
    }

    /// A probe's answer: start syncing if the peer is ahead of us.
    pub(super) async fn on_peer_status(&mut self, peer: PeerId, status: Option<PeerStatus>) {
        self.probing = false;
        let Some(status) = status else { return };
        if self.sync.is_some() {
            return;
        }
        let ours = match self.store.tip() {
            Ok(Some(t)) => t.height,
            _ => return,
        };
        let waiting = self.mempool.has_ready();
        if !is_behind(
            ours,
            status.committed_height,
            self.last_commit.elapsed(),
            waiting,
        ) {
            return;
        }
        tracing::info!(ours = %ours, theirs = %status.committed_height, %peer, "behind a peer; syncing blocks");
        self.sync = Some(SyncState {
            peer,
            target: status.committed_height,
            applied: 0,
            started: Instant::now(),
        });
        self.publish_status();
        self.request_sync_batch(peer, ours.next());
    }

    fn request_sync_batch(&self, peer: PeerId, from: Height) {
        if self.planted.has(PlantedNodeBug::InlineCatchUp) {
            return; // `catch_up_inline` asks, on the driver's task
        }
        let net = self.net.clone();
        let jobs = self.jobs_tx.clone();
        self.env.spawn(async move {
            let batch = ask_sync_batch(&net, peer, from).await;
            let _ = jobs.send(Job::SyncBatch { peer, batch }).await;
        });
    }

    /// Planted bug [`PlantedNodeBug::InlineCatchUp`]: the catch-up of
    /// before 057e8b9, which probed a random peer and fetched every sync
    /// batch awaiting each answer on the driver's own task (answering no
    /// peer meanwhile). The answers go through the same handlers as the
    /// background jobs' do.
    pub(super) async fn catch_up_inline(&mut self) {
        if self.sync.is_some() {
            return;
        }
        let peers = self.net.connected_peers();
        if peers.is_empty() {
            return;
        }
        let peer = peers[self.env.random_index(peers.len())];
        let status = match self.net.request(peer, Request::Status).await {
            Ok(Response::Status(status)) => Some(status),
            _ => None,
        };
        self.on_peer_status(peer, status).await;
        while self.sync.is_some() && self.fatal.is_none() {
            let Ok(Some(tip)) = self.store.tip() else {
                break;
            };
            let batch = ask_sync_batch(&self.net, peer, tip.height.next()).await;
            self.on_sync_batch(peer, batch).await;
        }
    }

    /// A batch arrived (or its request failed): verify and apply it, then
    /// ask for the next one or finish.
    pub(super) async fn on_sync_batch(
        &mut self,
        peer: PeerId,
        batch: Result<Box<SyncBatch>, String>,
    ) {
        let Some(mut state) = self.sync.filter(|s| s.peer == peer) else {
            return;
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(why) => {
                tracing::debug!(%peer, %why, "sync request failed");
                return self.finish_sync(state).await;
            }
        };
        let store = self.store.clone();
        let committee = self.committee.clone();
        let limits = self.app.params().block_limits();
        let (result, batch) = self
            .env
            .cpu(move || (sync::apply(&store, &committee, &limits, &batch), batch))
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => {
                state.applied += n;
                self.announce_synced(*batch, n);
                self.sync = Some(state);
                if let Ok(Some(tip)) = self.store.tip() {
                    self.metrics.height.set(tip.height.0 as i64);
                    if tip.height < state.target && state.started.elapsed() < SYNC_BUDGET {
                        self.request_sync_batch(peer, tip.height.next());
                        return;
                    }
                }
            }
            // Our disk failed, not the peer: the crash policy applies.
            Err(sync::SyncError::Store(source)) => {
                return self.stop(super::DriverError::Storage {
                    what: "applying synced blocks",
                    cause: source,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, %peer, "peer sent an invalid sync batch");
                let _ = self
                    .net
                    .penalise(peer, cairn_network::Misbehaviour::Invalid)
                    .await;
            }
        }
        self.finish_sync(state).await;
    }

    /// Publishes the first `n` blocks of `batch` (just applied) to
    /// subscribers, as a consensus commit is.
    fn announce_synced(&self, batch: SyncBatch, n: usize) {
        for (block, _) in batch.blocks.into_iter().take(n) {
            match self.store.state_root_at(block.header.height) {
                Ok(state_root) => {
                    let _ = self.committed_tx.send(super::CommittedBlock {
                        block: Arc::new(block),
                        state_root,
                    });
                }
                // Subscribers fill a gap from the store; nothing more to do.
                Err(e) => tracing::warn!(error = %e, "cannot read a synced block's state root"),
            }
        }
    }

    /// Ends a sync: with blocks applied, the core restarts from the new tip;
    /// without, the paused core simply resumes.
    async fn finish_sync(&mut self, state: SyncState) {
        self.sync = None;
        if state.applied > 0 {
            match core_from_store(&self.config, &self.store) {
                Ok(core) => {
                    // Keep what this core persisted since start: it is at least as new.
                    self.core = core;
                    self.timer = None;
                    // The new core knows nothing of the mempool yet.
                    self.txs_available = None;
                    self.last_commit = Instant::now();
                    if let Ok(Some(t)) = self.store.tip() {
                        self.metrics.height.set(t.height.0 as i64);
                        tracing::info!(height = %t.height, blocks = state.applied, "caught up; rejoining consensus");
                    }
                    if let Err(e) = self.mempool.refresh(&*self.store) {
                        tracing::warn!(error = %e, "mempool refresh after sync failed");
                    }
                    self.feed(Input::Start).await;
                    if let Some(input) = self.availability_change() {
                        self.feed(input).await;
                    }
                }
                // Rebuilding reads the store and clears stale pending blocks
                // (a write): our disk failing is the crash policy's case, not
                // a reason to carry on with a core behind the store's tip.
                Err(e) => match e.downcast::<cairn_ledger::store::StoreError>() {
                    Ok(source) => {
                        return self.stop(super::DriverError::Storage {
                            what: "restarting consensus after a block sync",
                            cause: source,
                        })
                    }
                    Err(e) => tracing::error!(error = %e, "cannot restart consensus after sync"),
                },
            }
        }
        // Messages that arrived meanwhile, after anything the core queued.
        self.own_inputs.extend(self.held.drain(..));
        self.publish_status();
    }
}

/// Asks `peer` for the committed blocks from `from` on.
async fn ask_sync_batch(
    net: &NetworkHandle,
    peer: PeerId,
    from: Height,
) -> Result<Box<SyncBatch>, String> {
    let req = Request::SyncBlocks {
        from,
        max: MAX_SYNC_BLOCKS as u16,
    };
    match tokio::time::timeout(SYNC_TIMEOUT, net.request(peer, req)).await {
        Ok(Ok(Response::Blocks(batch))) => Ok(Box::new(batch)),
        Ok(Ok(other)) => Err(format!("unexpected answer {other:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {SYNC_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table: (ours, theirs, seconds since our last commit, transactions
    /// waiting, sync?).
    #[test]
    fn behind_means_a_real_lag_stuck_with_work_or_an_idle_lag() {
        let cases = [
            (10, 10, 60, true, false),  // level
            (10, 9, 60, true, false),   // ahead of them
            (10, 11, 0, true, false),   // a commit in flight
            (10, 11, 60, false, false), // idle tail: stays put
            (10, 12, 60, false, false), // idle, two behind: an idle tail
            (10, 13, 60, false, true),  // idle, three behind: nothing else closes it
            (10, 17, 4, false, false),  // idle, seven behind, not quiet yet
            (10, 18, 0, false, true),   // a real lag
            (10, 11, 6, true, true),    // stuck with work waiting
            (10, 11, 4, true, false),   // not stuck yet
        ];
        for (ours, theirs, secs, waiting, want) in cases {
            let quiet = Duration::from_secs(secs);
            assert_eq!(
                is_behind(Height(ours), Height(theirs), quiet, waiting),
                want,
                "{ours} vs {theirs}, {secs} s quiet, waiting {waiting}"
            );
        }
    }
}
