//! WebSocket subscriptions, fed by one task that follows the store's tip.
//!
//! The follower polls the tip (a single small read) and publishes its height
//! through a `watch` channel; each subscription reads the blocks it has not
//! seen yet. A slow subscriber therefore never holds up others or grows a
//! queue: it catches up from the store, skipping to the most recent
//! [`MAX_CATCH_UP`] blocks if it fell further behind.

use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::store::Store;
use cairn_ledger::{Hash, Height};
use cairn_rpc::TxState;
use jsonrpsee::core::{to_json_raw_value, SubscriptionResult};
use jsonrpsee::server::{PendingSubscriptionSink, ServerHandle};
use tokio::sync::watch;

use super::convert::new_block;
use super::errors::parse_hash;
use super::query::get_transaction;
use super::RpcContext;

/// Most blocks one notification round sends to a subscriber that fell behind.
pub const MAX_CATCH_UP: u64 = 256;

/// Spawns the tip follower, publishing into `tx`; it stops with the server.
pub fn follow_tip(
    store: Arc<Store>,
    every: Duration,
    server: ServerHandle,
    tx: watch::Sender<Height>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stopped = server.stopped();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tick.tick() => {}
            }
            match store.tip() {
                Ok(Some(t)) => {
                    tx.send_if_modified(|h| {
                        let moved = *h != t.height;
                        *h = t.height;
                        moved
                    });
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "rpc: could not read the tip"),
            }
        }
    });
}

/// `subscribeNewBlocks`: one notification per committed block, in order.
pub async fn new_blocks(
    pending: PendingSubscriptionSink,
    store: Arc<Store>,
    mut tip: watch::Receiver<Height>,
) -> SubscriptionResult {
    let sink = pending.accept().await?;
    let mut last = *tip.borrow_and_update();
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            changed = tip.changed() => if changed.is_err() { return Ok(()) },
        }
        let now = *tip.borrow_and_update();
        let from = last
            .0
            .saturating_add(1)
            .max(now.0.saturating_sub(MAX_CATCH_UP - 1));
        for h in from..=now.0 {
            let (block, root) = match (store.block_at(Height(h)), store.state_root_at(Height(h))) {
                (Ok(Some(b)), Ok(root)) => (b, root),
                _ => {
                    tracing::warn!(
                        height = h,
                        "rpc: committed block unreadable for subscription"
                    );
                    continue;
                }
            };
            sink.send(to_json_raw_value(&new_block(&block, root))?)
                .await?;
        }
        last = now;
    }
}

/// `subscribeTransaction`: one notification when the transaction is
/// committed (or failed), then the subscription ends.
pub async fn transaction(
    pending: PendingSubscriptionSink,
    ctx: RpcContext,
    mut tip: watch::Receiver<Height>,
    hash: String,
) -> SubscriptionResult {
    let hash: Hash = match parse_hash(&hash, "hash") {
        Ok(h) => h,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    loop {
        let info = get_transaction(&ctx, hash).map_err(|e| e.message().to_string())?;
        if matches!(info.status, TxState::Committed | TxState::Failed) {
            sink.send(to_json_raw_value(&info)?).await?;
            return Ok(());
        }
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            changed = tip.changed() => if changed.is_err() { return Ok(()) },
        }
    }
}
