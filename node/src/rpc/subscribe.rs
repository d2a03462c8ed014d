//! WebSocket subscriptions, fed by the consensus driver's committed-block
//! channel ([`RpcContext::committed`], a bounded `tokio::sync::broadcast`):
//! a notification goes out as soon as a block commits, with no polling.
//!
//! The channel holds the newest blocks for every subscriber at once, so a
//! slow subscriber never holds up others or grows a queue of its own. When a
//! block arrives above the next height a subscriber expects, the heights in
//! between are read from the store (the store is the backlog): that covers a
//! subscriber that fell further behind than the channel holds (`Lagged`: the
//! channel then hands it its newest blocks, above the gap) and a block that
//! reached the store unannounced. So `subscribeNewBlocks` skips no height.

use cairn_ledger::store::Store;
use cairn_ledger::{Hash, Height};
use cairn_rpc::TxState;
use jsonrpsee::core::{to_json_raw_value, SubscriptionResult};
use jsonrpsee::server::{PendingSubscriptionSink, SubscriptionSink};
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

use super::errors::parse_hash;
use super::query::get_transaction;
use super::RpcContext;
use cairn_driver::CommittedBlock;
use cairn_rpc::convert::new_block;

/// `subscribeNewBlocks`: one notification per committed block, in order,
/// every height from the tip at subscription time on. `committed` must have
/// been subscribed before this is called (nothing is lost in between).
pub async fn new_blocks(
    pending: PendingSubscriptionSink,
    store: Arc<Store>,
    mut committed: broadcast::Receiver<CommittedBlock>,
) -> SubscriptionResult {
    let sink = pending.accept().await?;
    let mut last = tip_height(&store)?;
    loop {
        let next = tokio::select! {
            _ = sink.closed() => return Ok(()),
            next = committed.recv() => next,
        };
        match next {
            Ok(c) => {
                let height = c.block.header.height;
                if height <= last {
                    continue;
                }
                send_stored(&sink, &store, last, Height(height.0 - 1)).await?;
                sink.send(to_json_raw_value(&new_block(&c.block, c.state_root))?)
                    .await?;
                last = height;
            }
            // The channel still holds its newest blocks: the next one opens
            // a gap, and the gap is read from the store.
            Err(RecvError::Lagged(missed)) => tracing::debug!(
                missed,
                "rpc: block subscriber lagged; reading the missed blocks from the store"
            ),
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

fn tip_height(store: &Store) -> Result<Height, cairn_ledger::store::StoreError> {
    Ok(store.tip()?.map_or(Height(0), |t| t.height))
}

/// Notifies the blocks above `after` up to `to` from the store.
async fn send_stored(
    sink: &SubscriptionSink,
    store: &Store,
    after: Height,
    to: Height,
) -> SubscriptionResult {
    for h in after.0.saturating_add(1)..=to.0 {
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
    Ok(())
}

/// `subscribeTransaction`: one notification when the transaction is
/// committed (or failed), then the subscription ends. It looks again after
/// every commit (and after a lag, which may hide one). `committed` must have
/// been subscribed before this is called.
pub async fn transaction(
    pending: PendingSubscriptionSink,
    ctx: RpcContext,
    mut committed: broadcast::Receiver<CommittedBlock>,
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
            next = committed.recv() => if let Err(RecvError::Closed) = next { return Ok(()) },
        }
    }
}
