//! Following commits: `cairn_subscribeNewBlocks` on one node stamps each
//! block's arrival; a second task fetches the block's transaction hashes
//! (`cairn_getBlock`, every height in order, so a skipped notification loses
//! nothing) and marks the run's transactions committed at that instant.
//! Stamping and fetching are separate so a slow fetch does not delay stamps.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_rpc::{BlockId, BlockTransactions, CairnApiClient};
use jsonrpsee::http_client::HttpClient;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::load::Run;

/// The commit follower's tasks.
#[derive(Debug)]
pub(crate) struct Follower {
    run: Arc<Run>,
    tasks: tokio::task::JoinSet<()>,
    error: Arc<Mutex<Option<String>>>,
}

impl Follower {
    /// Subscribes on `ws` (before anything is submitted, so no commit is missed).
    pub async fn start(ws: &str, http: HttpClient, run: Arc<Run>) -> anyhow::Result<Follower> {
        let client = jsonrpsee::ws_client::WsClientBuilder::default()
            .max_response_size(64 << 20)
            .build(ws)
            .await
            .with_context(|| format!("connecting to {ws} to follow commits"))?;
        let mut sub = client
            .subscribe_new_blocks()
            .await
            .with_context(|| format!("cairn_subscribeNewBlocks on {ws}"))?;
        let from = http
            .status()
            .await
            .with_context(|| format!("cairn_status on {ws}"))?
            .committed_height;
        let error = Arc::new(Mutex::new(None));
        let (stamps, mut arrivals) = mpsc::unbounded_channel::<(u64, u64)>();
        let mut tasks = tokio::task::JoinSet::new();
        let (r, err) = (run.clone(), error.clone());
        tasks.spawn(async move {
            let _client = client;
            while let Some(item) = sub.next().await {
                match item {
                    Ok(block) => {
                        if stamps.send((block.height, r.now_us())).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        *err.lock() = Some(format!("block subscription: {e}"));
                        return;
                    }
                }
            }
            *err.lock() = Some("the node closed the block subscription".into());
        });
        let (r, err) = (run.clone(), error.clone());
        tasks.spawn(async move {
            let mut last = from;
            while let Some((height, at)) = arrivals.recv().await {
                while last < height {
                    if let Err(e) = mark_block(&http, &r, last + 1, at).await {
                        *err.lock() = Some(format!("{e:#}"));
                        return;
                    }
                    last += 1;
                }
            }
        });
        Ok(Follower { run, tasks, error })
    }

    /// Waits until every accepted transaction is committed, or `drain` has
    /// passed; stops following. Returns the follower's error, if any.
    pub async fn drain(mut self, drain: Duration) -> Option<String> {
        let deadline = Instant::now() + drain;
        while self.run.committed.load(Ordering::Relaxed) < self.run.accepted.load(Ordering::Relaxed)
            && Instant::now() < deadline
            && self.error.lock().is_none()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        let e = self.error.lock().take();
        e
    }
}

/// Marks the run's transactions in block `height` committed at `at`.
async fn mark_block(http: &HttpClient, run: &Run, height: u64, at: u64) -> anyhow::Result<()> {
    let block = http
        .get_block(BlockId::Height(height), Some(false))
        .await
        .with_context(|| format!("cairn_getBlock {height}"))?;
    let BlockTransactions::Hashes(hashes) = block.transactions else {
        anyhow::bail!("cairn_getBlock {height} returned full transactions when asked for hashes");
    };
    for h in hashes {
        if let Some(&i) = run.index.get(&h) {
            let slot = &run.committed_us[i as usize];
            if slot
                .compare_exchange(0, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                run.committed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}
