//! [`Mempool`]: the pool behind a lock, with admission's signature checks
//! done in batches on the rayon pool outside the lock, a cache of verified
//! hashes, rejection counters, and a signal for newly admitted transactions.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use cairn_ledger::types::tx::verify_all;
use cairn_ledger::{Account, Address, ChainId, Hash, SignedTransaction};
use lru::LruCache;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::config::MempoolConfig;
use super::error::MempoolError;
use super::executor::{Blocking, Executor};
use super::pool::Pool;
use super::rejections::Rejections;
use super::view::AccountView;

/// Where transactions came from: local ones are handed out for gossip
/// ([`Mempool::drain_fresh`]); a peer's were gossiped already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// RPC submission on this node.
    Local,
    /// A peer's gossip.
    Peer,
}

/// The shared mempool. All methods take `&self`; wrap it in an `Arc`.
#[derive(Debug)]
pub struct Mempool {
    config: MempoolConfig,
    chain_id: ChainId,
    pool: Mutex<Pool>,
    verified: Mutex<LruCache<Hash, ()>>,
    rejections: Rejections,
    admitted: watch::Sender<u64>,
    /// Where signature batches are verified.
    env: Arc<dyn Executor>,
}

/// Admission's state between its stateless and stateful halves.
struct Batch {
    out: Vec<Option<Result<Hash, MempoolError>>>,
    /// (position in `out`, transaction) still to check.
    todo: Vec<(usize, SignedTransaction)>,
    /// Positions in `todo` whose signatures must be verified.
    unverified: Vec<usize>,
    /// (position, position of its first occurrence) of repeated items.
    repeats: Vec<(usize, usize)>,
}

impl Mempool {
    /// An empty mempool for `chain_id`. `config` should be validated.
    pub fn new(config: MempoolConfig, chain_id: ChainId) -> Mempool {
        Mempool::with_env(config, chain_id, Arc::new(Blocking))
    }

    /// An empty mempool that verifies signatures through `env` (the node's
    /// `Env`, or a simulated one).
    pub fn with_env(config: MempoolConfig, chain_id: ChainId, env: Arc<dyn Executor>) -> Mempool {
        let cache = NonZeroUsize::new(config.verified_cache).unwrap_or(NonZeroUsize::MIN);
        Mempool {
            pool: Mutex::new(Pool::new(config.clone())),
            verified: Mutex::new(LruCache::new(cache)),
            config,
            chain_id,
            rejections: Rejections::default(),
            admitted: watch::Sender::new(0),
            env,
        }
    }

    /// The limits.
    pub fn config(&self) -> &MempoolConfig {
        &self.config
    }

    /// Submits raw signed transactions (the RPC path): one result per item,
    /// in order. Decoding is done here; signatures are verified in one batch
    /// on the rayon pool (off the async tasks), never under the lock.
    pub async fn submit<V: AccountView + Sync>(
        &self,
        raw: Vec<Vec<u8>>,
        view: &V,
    ) -> Vec<Result<Hash, MempoolError>> {
        let items = raw.iter().map(|b| self.decode(b)).collect();
        self.submit_decoded(items, Origin::Local, view).await
    }

    /// Submits decoded transactions (e.g. a peer's gossiped batch, decoded
    /// with [`SignedTransaction::decode_for_chain`]); verification as in
    /// [`Mempool::submit`]. Items that are already errors are counted and
    /// passed through.
    pub async fn submit_decoded<V: AccountView + Sync>(
        &self,
        items: Vec<Result<SignedTransaction, MempoolError>>,
        origin: Origin,
        view: &V,
    ) -> Vec<Result<Hash, MempoolError>> {
        let mut batch = self.prepare(items, view);
        let bad = if batch.unverified.is_empty() {
            Vec::new()
        } else {
            let txs: Vec<SignedTransaction> = batch
                .unverified
                .iter()
                .map(|&i| batch.todo[i].1.clone())
                .collect();
            self.env.cpu(Box::new(move || verify_all(&txs))).await
        };
        self.finish(&mut batch, &bad, origin, view);
        self.collect(batch)
    }

    /// Like [`Mempool::submit`], verifying on the calling thread (which
    /// blocks while rayon works): for callers outside an async runtime.
    pub fn submit_blocking<V: AccountView>(
        &self,
        raw: Vec<Vec<u8>>,
        view: &V,
    ) -> Vec<Result<Hash, MempoolError>> {
        let items = raw.iter().map(|b| self.decode(b)).collect();
        let mut batch = self.prepare(items, view);
        let txs: Vec<SignedTransaction> = batch
            .unverified
            .iter()
            .map(|&i| batch.todo[i].1.clone())
            .collect();
        let bad = verify_all(&txs);
        self.finish(&mut batch, &bad, Origin::Local, view);
        self.collect(batch)
    }

    /// Admits transactions whose signatures the caller already verified
    /// (e.g. those of a proposal checked with `verify_all`), so they are not
    /// verified again and can be selected or excluded later.
    pub fn admit_verified<V: AccountView>(
        &self,
        txs: Vec<SignedTransaction>,
        view: &V,
    ) -> Vec<Result<Hash, MempoolError>> {
        self.mark_verified(txs.iter().map(|t| t.hash()));
        let mut batch = self.prepare(txs.into_iter().map(Ok).collect(), view);
        batch.unverified.clear();
        self.finish(&mut batch, &[], Origin::Peer, view);
        self.collect(batch)
    }

    fn decode(&self, bytes: &[u8]) -> Result<SignedTransaction, MempoolError> {
        if bytes.len() > self.config.max_tx_bytes {
            return Err(MempoolError::TooLarge {
                len: bytes.len(),
                max: self.config.max_tx_bytes,
            });
        }
        SignedTransaction::decode_for_chain(bytes, &self.chain_id)
            .map_err(MempoolError::from_decode)
    }

    /// The stateless half: decoding results in, duplicates answered, the
    /// transactions whose signatures are not known good listed.
    fn prepare<V: AccountView>(
        &self,
        items: Vec<Result<SignedTransaction, MempoolError>>,
        view: &V,
    ) -> Batch {
        let mut batch = Batch {
            out: Vec::with_capacity(items.len()),
            todo: Vec::with_capacity(items.len()),
            unverified: Vec::new(),
            repeats: Vec::new(),
        };
        let mut first_at: HashMap<Hash, usize> = HashMap::new();
        let pooled: Vec<bool> = {
            let pool = self.pool.lock();
            items
                .iter()
                .map(|i| i.as_ref().is_ok_and(|t| pool.contains(&t.hash())))
                .collect()
        };
        for (i, (item, pooled)) in items.into_iter().zip(pooled).enumerate() {
            let tx = match item {
                Ok(tx) => tx,
                Err(e) => {
                    batch.out.push(Some(Err(e)));
                    continue;
                }
            };
            let hash = tx.hash();
            // Idempotence: a pooled or committed transaction returns its hash;
            // a repeat within the batch gets the first occurrence's result.
            if pooled {
                batch.out.push(Some(Ok(hash)));
                continue;
            }
            if let Some(&first) = first_at.get(&hash) {
                batch.out.push(None);
                batch.repeats.push((i, first));
                continue;
            }
            first_at.insert(hash, i);
            match view.is_committed(&hash) {
                Ok(true) => batch.out.push(Some(Ok(hash))),
                Ok(false) => {
                    batch.out.push(None);
                    batch.todo.push((i, tx));
                }
                Err(e) => batch.out.push(Some(Err(e))),
            }
        }
        {
            let cache = self.verified.lock();
            for (k, (_, tx)) in batch.todo.iter().enumerate() {
                if !cache.contains(&tx.hash()) {
                    batch.unverified.push(k);
                }
            }
        }
        batch
    }

    /// The stateful half: drop bad signatures, read the senders' committed
    /// accounts, then admit under the lock in submission order.
    fn finish<V: AccountView>(&self, batch: &mut Batch, bad: &[usize], origin: Origin, view: &V) {
        let bad: HashSet<usize> = bad.iter().map(|&b| batch.unverified[b]).collect();
        let good_hashes = batch
            .unverified
            .iter()
            .filter(|k| !bad.contains(k))
            .map(|&k| batch.todo[k].1.hash());
        self.mark_verified(good_hashes);
        let todo = std::mem::take(&mut batch.todo);
        let mut ready = Vec::with_capacity(todo.len());
        for (k, (i, tx)) in todo.into_iter().enumerate() {
            if bad.contains(&k) {
                let e = MempoolError::BadSignature {
                    hash: tx.hash(),
                    from: tx.tx().from,
                };
                batch.out[i] = Some(Err(e));
            } else {
                ready.push((i, tx));
            }
        }
        let senders: HashSet<Address> = ready.iter().map(|(_, t)| t.tx().from).collect();
        let epoch = self.pool.lock().epoch();
        let mut accounts = read_accounts(view, &senders);
        let now = Instant::now();
        let mut pool = self.pool.lock();
        if pool.epoch() != epoch {
            // A block committed meanwhile: re-read (rare, and only point reads).
            accounts = read_accounts(view, &senders);
        }
        let mut admitted = 0u64;
        for (i, tx) in ready {
            let result = match accounts.get(&tx.tx().from) {
                Some(Ok(account)) => pool.admit(tx, *account, origin == Origin::Local, now),
                Some(Err(e)) => Err(e.clone()),
                None => Err(MempoolError::Storage("sender account not read".into())),
            };
            admitted += u64::from(result.is_ok());
            batch.out[i] = Some(result);
        }
        drop(pool);
        if admitted > 0 {
            self.admitted.send_modify(|n| *n += admitted);
        }
    }

    fn collect(&self, mut batch: Batch) -> Vec<Result<Hash, MempoolError>> {
        for (i, first) in std::mem::take(&mut batch.repeats) {
            batch.out[i] = batch.out[first].clone();
        }
        batch
            .out
            .into_iter()
            .map(|r| {
                let r = r.unwrap_or_else(|| {
                    Err(MempoolError::Storage("admission did not finish".into()))
                });
                if let Err(e) = &r {
                    self.rejections.record(e.reason());
                }
                r
            })
            .collect()
    }

    /// Remembers that these transactions' signatures verified.
    pub fn mark_verified(&self, hashes: impl IntoIterator<Item = Hash>) {
        let mut cache = self.verified.lock();
        for h in hashes {
            cache.put(h, ());
        }
    }

    /// Whether this transaction's signature is known to verify (pooled, or
    /// verified recently), so a proposal carrying it need not re-check it.
    pub fn is_verified(&self, hash: &Hash) -> bool {
        // One lock at a time: never hold the cache's while taking the pool's.
        let cached = self.verified.lock().contains(hash);
        cached || self.pool.lock().contains(hash)
    }

    /// Transactions to propose; see [`Pool::select`].
    pub fn select(
        &self,
        max_txs: usize,
        max_bytes: usize,
        exclude: &HashSet<Hash>,
    ) -> Vec<SignedTransaction> {
        self.pool.lock().select(max_txs, max_bytes, exclude)
    }

    /// After a block commits (and is in `view`): drops its transactions,
    /// those its senders' new nonces made stale, and those older than
    /// `tx_ttl_secs`. Returns how many left.
    pub fn on_commit<V: AccountView>(
        &self,
        committed: &[SignedTransaction],
        view: &V,
    ) -> Result<usize, MempoolError> {
        let mut pool = self.pool.lock();
        let expired = pool.expire(Instant::now(), self.ttl());
        Ok(expired + pool.on_commit(committed, |a| view.account(a))?)
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.config.tx_ttl_secs)
    }

    /// Drops transactions older than `tx_ttl_secs` (also done on every
    /// commit). Returns how many left.
    pub fn expire(&self) -> usize {
        self.pool.lock().expire(Instant::now(), self.ttl())
    }

    /// Re-reads every pending sender's committed account and drops what
    /// became stale: call after block sync committed blocks without
    /// [`Mempool::on_commit`]. Reads happen outside the lock. Returns how
    /// many transactions left.
    pub fn refresh<V: AccountView>(&self, view: &V) -> Result<usize, MempoolError> {
        let senders = self.pool.lock().senders();
        let mut accounts = HashMap::with_capacity(senders.len());
        for a in senders {
            accounts.insert(a, view.account(&a)?);
        }
        Ok(self.pool.lock().refresh(&accounts))
    }

    /// Up to `max` locally submitted transactions not yet gossiped.
    pub fn drain_fresh(&self, max: usize) -> Vec<SignedTransaction> {
        self.pool.lock().drain_fresh(max)
    }

    /// A receiver whose value (the count of admissions so far) changes
    /// whenever transactions are admitted: wakes gossip and consensus.
    pub fn subscribe_admitted(&self) -> watch::Receiver<u64> {
        self.admitted.subscribe()
    }

    /// Transactions held.
    pub fn len(&self) -> usize {
        self.pool.lock().len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.pool.lock().is_empty()
    }

    /// True if a block could include something now (see [`Pool::has_ready`]).
    pub fn has_ready(&self) -> bool {
        self.pool.lock().has_ready()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.pool.lock().bytes()
    }

    /// A pooled transaction.
    pub fn get(&self, hash: &Hash) -> Option<SignedTransaction> {
        self.pool.lock().get(hash).cloned()
    }

    /// Whether `hash` is pooled.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.pool.lock().contains(hash)
    }

    /// Pending transactions of `sender`.
    pub fn pending_of(&self, sender: &Address) -> usize {
        self.pool.lock().pending_of(sender)
    }

    /// Rejections by reason.
    pub fn rejections(&self) -> &Rejections {
        &self.rejections
    }

    #[cfg(test)]
    pub(crate) fn assert_invariants(&self) {
        self.pool.lock().assert_invariants();
    }
}

fn read_accounts<V: AccountView>(
    view: &V,
    senders: &HashSet<Address>,
) -> HashMap<Address, Result<Account, MempoolError>> {
    senders.iter().map(|a| (*a, view.account(a))).collect()
}
