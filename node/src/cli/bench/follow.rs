//! Following commits on every node: one `cairn_subscribeNewBlocks` per
//! `--rpc` node stamps each announcement as it arrives, and a block's
//! commit instant is its first announcement by any node (an announcement of
//! height `h` also stamps every earlier height not yet stamped: a node
//! announcing `h` has committed everything below). A fetcher reads every
//! height in order (`cairn_getBlock`, so a skipped notification loses
//! nothing) from a node that announced it, trying the others that did when
//! one fails, and marks the run's transactions in it committed at that
//! instant. A subscription that fails is reconnected with backoff (a killed
//! node that comes back is followed again); a node that is cut off simply
//! stops announcing. Stamps live in one shared map, not in a queue, so a
//! slow fetch never delays a stamp.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_rpc::{BlockId, BlockTransactions, CairnApiClient};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;

use super::load::Run;
use super::retry::{backoff, short};
use super::Target;

/// How long a WebSocket connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `start` waits for the first subscriptions before submitting.
const FIRST_SUBSCRIBE_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Heights {
    /// Highest height any node announced.
    top: u64,
    /// Highest height each node announced.
    announced: Vec<u64>,
    /// Height -> first announcement (µs since the run's base), until fetched.
    stamps: BTreeMap<u64, u64>,
}

/// Per node: subscription failures and the last one.
#[derive(Debug, Default, Clone)]
pub(crate) struct NodeErrors {
    pub count: u64,
    pub last: Option<String>,
}

#[derive(Debug)]
struct Shared {
    heights: Mutex<Heights>,
    /// Wakes the fetcher when `top` grows.
    grew: Notify,
    /// Subscriptions currently open, and errors per node.
    subscribed: Mutex<Vec<bool>>,
    errors: Mutex<Vec<NodeErrors>>,
}

impl Shared {
    fn announce(&self, node: usize, height: u64, at: u64) {
        let mut h = self.heights.lock();
        if let Some(a) = h.announced.get_mut(node) {
            *a = (*a).max(height);
        }
        if height > h.top {
            for missed in h.top + 1..=height {
                h.stamps.insert(missed, at);
            }
            h.top = height;
            drop(h);
            self.grew.notify_one();
        }
    }

    fn fail(&self, node: usize, what: String) {
        let mut errors = self.errors.lock();
        if let Some(e) = errors.get_mut(node) {
            e.count += 1;
            e.last = Some(short(&what, 160));
        }
    }
}

/// The commit follower's tasks.
#[derive(Debug)]
pub(crate) struct Follower {
    tasks: tokio::task::JoinSet<()>,
    shared: Arc<Shared>,
}

impl Follower {
    /// Subscribes on every node and fetches blocks above `from`. Waits (a
    /// bounded time) until every node's subscription is open, so no commit
    /// is stamped late for want of a subscription; a node that cannot be
    /// reached keeps being retried in the background.
    pub async fn start(targets: Arc<Vec<Target>>, run: Arc<Run>, from: u64) -> Follower {
        let n = targets.len();
        let shared = Arc::new(Shared {
            heights: Mutex::new(Heights {
                top: from,
                announced: vec![0; n],
                stamps: BTreeMap::new(),
            }),
            grew: Notify::new(),
            subscribed: Mutex::new(vec![false; n]),
            errors: Mutex::new(vec![NodeErrors::default(); n]),
        });
        let mut tasks = tokio::task::JoinSet::new();
        for node in 0..n {
            let (targets, run, shared) = (targets.clone(), run.clone(), shared.clone());
            tasks.spawn(async move { subscribe(&targets[node], node, &run, &shared).await });
        }
        let (r, sh) = (run.clone(), shared.clone());
        tasks.spawn(async move { fetch(&targets, &r, &sh, from).await });
        let deadline = tokio::time::Instant::now() + FIRST_SUBSCRIBE_WAIT;
        while !shared.subscribed.lock().iter().all(|&s| s) && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Follower { tasks, shared }
    }

    /// Stops following; returns each node's subscription errors.
    pub async fn stop(mut self) -> Vec<NodeErrors> {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        let errors = self.shared.errors.lock().clone();
        errors
    }
}

/// Node `node`'s subscription, reconnected with backoff whenever it fails.
async fn subscribe(target: &Target, node: usize, run: &Run, shared: &Shared) {
    let mut rng = ChaCha8Rng::seed_from_u64(node as u64);
    let mut attempt = 0u32;
    loop {
        match open(&target.ws).await {
            Ok((client, mut sub)) => {
                attempt = 0;
                shared.subscribed.lock()[node] = true;
                let why = loop {
                    match sub.next().await {
                        Some(Ok(block)) => shared.announce(node, block.height, run.now_us()),
                        Some(Err(e)) => break format!("block subscription: {e}"),
                        None => break "the node closed the block subscription".to_string(),
                    }
                };
                drop(client);
                shared.subscribed.lock()[node] = false;
                shared.fail(node, why);
            }
            Err(e) => shared.fail(node, format!("{e:#}")),
        }
        attempt = attempt.saturating_add(1);
        tokio::time::sleep(backoff(attempt, rng.gen::<f64>())).await;
    }
}

async fn open(
    ws: &str,
) -> anyhow::Result<(
    jsonrpsee::ws_client::WsClient,
    jsonrpsee::core::client::Subscription<cairn_rpc::NewBlock>,
)> {
    let client = jsonrpsee::ws_client::WsClientBuilder::default()
        .max_response_size(64 << 20)
        .connection_timeout(CONNECT_TIMEOUT)
        .build(ws)
        .await
        .with_context(|| format!("connecting to {ws} to follow commits"))?;
    let sub = client
        .subscribe_new_blocks()
        .await
        .with_context(|| format!("cairn_subscribeNewBlocks on {ws}"))?;
    Ok((client, sub))
}

/// Fetches every height above `from` as soon as some node announced it.
async fn fetch(targets: &[Target], run: &Run, shared: &Shared, from: u64) {
    let mut next = from + 1;
    let mut attempt = 0u32;
    let mut rng = ChaCha8Rng::seed_from_u64(u64::MAX);
    loop {
        let (at, holders) = {
            let h = shared.heights.lock();
            let holders: Vec<usize> = (0..targets.len())
                .filter(|&n| h.announced[n] >= next)
                .collect();
            (h.stamps.get(&next).copied(), holders)
        };
        let Some(at) = at else {
            shared.grew.notified().await;
            continue;
        };
        let mut done = false;
        // Spread the reads: start at a different holder for each height.
        for k in 0..holders.len() {
            let node = holders[(next as usize + k) % holders.len()];
            match mark_block(&targets[node], run, next, at).await {
                Ok(()) => {
                    done = true;
                    break;
                }
                Err(e) => shared.fail(node, format!("{e:#}")),
            }
        }
        if done {
            shared.heights.lock().stamps.remove(&next);
            next += 1;
            attempt = 0;
        } else {
            // No holder answered (or none announced it yet though the top
            // passed it): try again after a backoff.
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(backoff(attempt, rng.gen::<f64>())).await;
        }
    }
}

/// Marks the run's transactions in block `height` committed at `at`.
async fn mark_block(t: &Target, run: &Run, height: u64, at: u64) -> anyhow::Result<()> {
    let block = t
        .client
        .get_block(BlockId::Height(height), Some(false))
        .await
        .with_context(|| format!("cairn_getBlock {height} on {}", t.url))?;
    let BlockTransactions::Hashes(hashes) = block.transactions else {
        anyhow::bail!("cairn_getBlock {height} returned full transactions when asked for hashes");
    };
    for h in hashes {
        if let Some(&i) = run.index.get(&h) {
            run.mark_committed(i as usize, height, at);
        }
    }
    Ok(())
}
