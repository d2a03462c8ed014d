//! Clients: signed transfers submitted to the nodes' mempools the way the
//! RPC server submits them, at a steady rate, each account sending to its
//! home node. Like a real client, a transfer not committed within a while is
//! resubmitted (the same bytes) to some running node, so a crash or a
//! partition delays the load rather than losing it; at the end every
//! transfer must have committed.

use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::store::Store;
use cairn_ledger::{Amount, ChainId, Encode, Hash, SecretKey, Transaction};
use cairn_mempool::Mempool;
use parking_lot::Mutex;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::observe::Observer;

/// Where a running node takes submissions; `None` while it is down.
pub type Endpoints = Arc<Mutex<Vec<Option<(Arc<Mempool>, Arc<Store>)>>>>;

/// A transfer and what happened to it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its hash.
    pub hash: Hash,
    raw: Vec<u8>,
    /// The node it was first given to.
    pub home: usize,
    /// When it was first submitted.
    pub first: Instant,
    last: Instant,
    /// Submissions so far.
    pub attempts: u32,
    /// Whether some node admitted it.
    pub acked: bool,
}

/// The load generator's state.
#[derive(Debug)]
pub struct Load {
    chain: ChainId,
    accounts: Vec<(SecretKey, u64)>,
    /// Every transfer made, in order.
    pub sent: Vec<Sent>,
    rng: ChaCha8Rng,
    next_account: usize,
}

/// Resubmit a transfer not committed this long after its last submission.
const RESUBMIT_AFTER: Duration = Duration::from_secs(3);

impl Load {
    /// Clients for these funded accounts.
    pub fn new(chain: ChainId, keys: Vec<SecretKey>, rng: ChaCha8Rng) -> Load {
        Load {
            chain,
            accounts: keys.into_iter().map(|k| (k, 0)).collect(),
            sent: Vec::new(),
            rng,
            next_account: 0,
        }
    }

    /// Signs the next transfer (round-robin over accounts) for node `home`.
    fn make(&mut self, nodes: usize) -> (usize, Vec<u8>, Hash) {
        let a = self.next_account;
        self.next_account = (a + 1) % self.accounts.len();
        let to = self.accounts[(a + 1) % self.accounts.len()].0.address();
        let (key, nonce) = &mut self.accounts[a];
        let tx = Transaction {
            chain_id: self.chain.clone(),
            from: key.address(),
            to,
            amount: Amount(1),
            nonce: *nonce,
            memo: Vec::new(),
        }
        .sign(key);
        *nonce += 1;
        (a % nodes, tx.to_bytes(), tx.hash())
    }
}

/// Offers one transfer every `every` until `until`, then keeps resubmitting
/// what has not committed until `drain_until`.
pub async fn run(
    load: Arc<Mutex<Load>>,
    endpoints: Endpoints,
    observer: Arc<Observer>,
    every: Duration,
    until: Instant,
    drain_until: Instant,
) {
    let mut tick = tokio::time::interval(every);
    let mut last_scan = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        if now >= drain_until {
            return;
        }
        if now < until {
            let n = endpoints.lock().len();
            let (home, raw, hash) = load.lock().make(n);
            let acked = submit(&endpoints, home, &raw).await;
            load.lock().sent.push(Sent {
                hash,
                raw,
                home,
                first: now,
                last: now,
                attempts: 1,
                acked,
            });
        }
        if now.duration_since(last_scan) >= Duration::from_millis(500) {
            last_scan = now;
            resubmit(&load, &endpoints, &observer).await;
        }
    }
}

/// Gives every transfer that has waited too long to a running node again.
async fn resubmit(load: &Arc<Mutex<Load>>, endpoints: &Endpoints, observer: &Observer) {
    let now = Instant::now();
    let due: Vec<(usize, Vec<u8>)> = {
        let mut l = load.lock();
        let n = endpoints.lock().len();
        let mut due = Vec::new();
        for i in 0..l.sent.len() {
            let s = &l.sent[i];
            if now.duration_since(s.last) < RESUBMIT_AFTER
                || observer.committed_at(&s.hash).is_some()
            {
                continue;
            }
            let node = l.rng.gen_range(0..n);
            let s = &mut l.sent[i];
            s.last = now;
            s.attempts += 1;
            due.push((node, s.raw.clone()));
        }
        due
    };
    for (node, raw) in due {
        submit(endpoints, node, &raw).await;
    }
}

/// Submits `raw` to node `preferred`, or the next running node; true if admitted.
async fn submit(endpoints: &Endpoints, preferred: usize, raw: &[u8]) -> bool {
    let target = {
        let e = endpoints.lock();
        let n = e.len();
        (0..n)
            .map(|k| (preferred + k) % n)
            .find_map(|i| e[i].clone())
    };
    let Some((mempool, store)) = target else {
        return false;
    };
    let results = mempool.submit(vec![raw.to_vec()], &*store).await;
    results.first().is_some_and(|r| r.is_ok())
}
