//! Catching up: when a peer reports a committed height above ours, fetch the
//! missing blocks in verified batches (see `node::sync`), then restart the
//! core from the new tip with the safety data it already persisted.

use std::time::Duration;

use cairn_consensus::{Consensus, Input, SafetyData};
use cairn_ledger::store::Store;
use cairn_ledger::Decode;
use rand::seq::SliceRandom;

use super::Driver;
use crate::network::{Request, Response};
use crate::node::sync::{self, MAX_SYNC_BLOCKS};

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
    Ok(Consensus::restore(
        config.clone(),
        safety,
        block,
        cert,
        pending,
    ))
}

impl Driver {
    /// Asks a random peer how far it is; if ahead of us, syncs from it.
    pub(super) async fn maybe_catch_up(&mut self) {
        let mut peers = self.net.connected_peers();
        peers.shuffle(&mut rand::thread_rng());
        let Some(&peer) = peers.first() else { return };
        let Ok(Response::Status(status)) = self.net.request(peer, Request::Status).await else {
            return;
        };
        let ours = match self.store.tip() {
            Ok(Some(t)) => t.height,
            _ => return,
        };
        // One block behind is normal in flight; more, with no recent commit, is lag.
        let behind = status.committed_height.0 > ours.0 + 1
            || (status.committed_height > ours
                && self.last_commit.elapsed() > Duration::from_secs(3));
        if !behind {
            return;
        }
        self.syncing = true;
        self.publish_status();
        tracing::info!(ours = %ours, theirs = %status.committed_height, %peer, "behind a peer; syncing blocks");
        let mut applied_total = 0usize;
        while let Ok(Some(tip)) = self.store.tip() {
            if tip.height >= status.committed_height {
                break;
            }
            let req = Request::SyncBlocks {
                from: tip.height.next(),
                max: MAX_SYNC_BLOCKS as u16,
            };
            let batch = match self.net.request(peer, req).await {
                Ok(Response::Blocks(batch)) => batch,
                other => {
                    tracing::debug!(?other, "sync request failed");
                    break;
                }
            };
            let store = self.store.clone();
            let committee = self.committee.clone();
            let result =
                tokio::task::spawn_blocking(move || sync::apply(&store, &committee, &batch)).await;
            match result {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => applied_total += n,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, %peer, "peer sent an invalid sync batch");
                    let _ = self
                        .net
                        .penalise(peer, crate::network::Misbehaviour::Invalid)
                        .await;
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "sync task failed");
                    break;
                }
            }
        }
        if applied_total > 0 {
            match core_from_store(&self.config, &self.store) {
                Ok(core) => {
                    // Keep what this core persisted since start: it is at least as new.
                    self.core = core;
                    self.timer = None;
                    self.last_commit = std::time::Instant::now();
                    if let Ok(Some(t)) = self.store.tip() {
                        self.metrics.height.set(t.height.0 as i64);
                        tracing::info!(height = %t.height, blocks = applied_total, "caught up; rejoining consensus");
                    }
                    if let Err(e) = self.mempool.refresh(&*self.store) {
                        tracing::warn!(error = %e, "mempool refresh after sync failed");
                    }
                    self.syncing = false;
                    self.feed(Input::Start).await;
                }
                Err(e) => tracing::error!(error = %e, "cannot restart consensus after sync"),
            }
        }
        self.syncing = false;
        self.publish_status();
    }
}
