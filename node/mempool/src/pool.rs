//! The pool itself: transactions by hash, and per sender by nonce. No locks,
//! no I/O, no signature checks: [`super::Mempool`] does those around it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use cairn_ledger::{Account, Address, Amount, Hash, SignedTransaction};

use super::config::MempoolConfig;
use super::error::MempoolError;

#[derive(Debug)]
struct PoolTx {
    tx: SignedTransaction,
    /// Admission order, for first-come-first-served selection.
    seq: u64,
    /// When it was admitted, for expiry.
    admitted: Instant,
}

/// One sender's pending transactions and its committed account as last seen.
#[derive(Debug)]
struct Sender {
    committed: Account,
    by_nonce: BTreeMap<u64, Hash>,
    /// Sum of the pending amounts (u128: cannot overflow for any pool size).
    pending_amount: u128,
}

/// The transactions waiting to be proposed.
#[derive(Debug)]
pub struct Pool {
    config: MempoolConfig,
    txs: HashMap<Hash, PoolTx>,
    senders: HashMap<Address, Sender>,
    bytes: usize,
    next_seq: u64,
    /// Admission order -> hash: the oldest transactions first, for expiry.
    by_seq: BTreeMap<u64, Hash>,
    /// Locally submitted transactions not yet handed to gossip.
    fresh: VecDeque<Hash>,
    /// Bumped by every [`Pool::on_commit`], so admission can tell whether
    /// the accounts it read before taking the lock are still current.
    epoch: u64,
}

impl Pool {
    /// An empty pool with these limits.
    pub fn new(config: MempoolConfig) -> Pool {
        Pool {
            config,
            txs: HashMap::new(),
            senders: HashMap::new(),
            bytes: 0,
            next_seq: 0,
            by_seq: BTreeMap::new(),
            fresh: VecDeque::new(),
            epoch: 0,
        }
    }

    /// Transactions held.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// True if some sender's next nonce is pooled, so a block could include
    /// something. Transactions behind a nonce gap alone do not count: they
    /// cannot execute until the gap fills, and reporting them would make
    /// leaders propose empty blocks until they expire.
    pub fn has_ready(&self) -> bool {
        self.senders
            .values()
            .any(|s| s.by_nonce.contains_key(&s.committed.nonce))
    }

    /// Bytes of signed transactions held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The commit epoch (see the field's comment).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether `hash` is pooled.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.txs.contains_key(hash)
    }

    /// A pooled transaction.
    pub fn get(&self, hash: &Hash) -> Option<&SignedTransaction> {
        self.txs.get(hash).map(|p| &p.tx)
    }

    /// How many transactions `sender` has pending.
    pub fn pending_of(&self, sender: &Address) -> usize {
        self.senders.get(sender).map_or(0, |s| s.by_nonce.len())
    }

    /// Runs the stateful admission checks and inserts `tx`, whose signature
    /// the caller verified. `committed` is the sender's committed account as
    /// read by the caller; the pool keeps the newer of it and what it has.
    /// A transaction already pooled returns its hash (idempotent).
    pub fn admit(
        &mut self,
        tx: SignedTransaction,
        committed: Account,
        local: bool,
        now: Instant,
    ) -> Result<Hash, MempoolError> {
        let hash = tx.hash();
        if self.txs.contains_key(&hash) {
            return Ok(hash);
        }
        let t = tx.tx();
        let from = t.from;
        if let Some(s) = self.senders.get_mut(&from) {
            if committed.nonce > s.committed.nonce {
                // The caller read newer state than the pool saw at the last
                // commit: adopt it and drop what it made stale.
                s.committed = committed;
                let stale: Vec<Hash> = s
                    .by_nonce
                    .range(..committed.nonce)
                    .map(|(_, h)| *h)
                    .collect();
                for h in stale {
                    self.remove(&h);
                }
            }
        }
        let sender = self.senders.get(&from);
        let account = sender.map_or(committed, |s| s.committed);
        if let Some(evict) = self.check(&tx, account, sender)? {
            self.remove(&evict);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += tx.encoded_len();
        let sender = self.senders.entry(from).or_insert_with(|| Sender {
            committed: account,
            by_nonce: BTreeMap::new(),
            pending_amount: 0,
        });
        sender.by_nonce.insert(t.nonce, hash);
        sender.pending_amount += u128::from(t.amount.0);
        self.by_seq.insert(seq, hash);
        self.txs.insert(
            hash,
            PoolTx {
                tx,
                seq,
                admitted: now,
            },
        );
        if local {
            self.fresh.push_back(hash);
            if self.fresh.len() > self.config.max_txs {
                self.fresh.pop_front();
            }
        }
        Ok(hash)
    }

    /// The stateful admission checks. `Ok(Some(hash))`: `tx` is admitted
    /// only by evicting that transaction first (see [`Pool::displaceable`]).
    fn check(
        &self,
        tx: &SignedTransaction,
        account: Account,
        sender: Option<&Sender>,
    ) -> Result<Option<Hash>, MempoolError> {
        let t = tx.tx();
        let next = account.nonce;
        if t.nonce < next {
            return Err(MempoolError::NonceTooLow {
                nonce: t.nonce,
                next,
            });
        }
        let window = self.config.nonce_window;
        if t.nonce - next >= window {
            return Err(MempoolError::NonceTooHigh {
                nonce: t.nonce,
                next,
                window,
            });
        }
        if let Some(existing) = sender.and_then(|s| s.by_nonce.get(&t.nonce)) {
            return Err(MempoolError::NonceInUse {
                from: t.from,
                nonce: t.nonce,
                existing: *existing,
            });
        }
        let max_txs = self.config.max_txs;
        let max_bytes = self.config.max_bytes;
        let len = tx.encoded_len();
        let sender_full = sender.is_some_and(|s| s.by_nonce.len() >= self.config.max_per_sender);
        let pool_full = self.txs.len() >= max_txs || self.bytes + len > max_bytes;
        let evict = if sender_full || pool_full {
            sender.and_then(|s| self.displaceable(s, t.nonce))
        } else {
            None
        };
        if let (true, None, Some(s)) = (sender_full, evict, sender) {
            return Err(MempoolError::SenderFull {
                from: t.from,
                pending: s.by_nonce.len(),
            });
        }
        let freed = evict.and_then(|h| self.txs.get(&h)).map(|p| &p.tx);
        let freed_amount = freed.map_or(0, |f| u128::from(f.tx().amount.0));
        let pending_amount = sender.map_or(0, |s| s.pending_amount) - freed_amount;
        if pending_amount + u128::from(t.amount.0) > u128::from(account.balance.0) {
            return Err(MempoolError::InsufficientBalance {
                from: t.from,
                balance: account.balance,
                pending: Amount(u64::try_from(pending_amount).unwrap_or(u64::MAX)),
                amount: t.amount,
            });
        }
        let (freed_txs, freed_bytes) = freed.map_or((0, 0), |f| (1, f.encoded_len()));
        if self.txs.len() - freed_txs >= max_txs || self.bytes - freed_bytes + len > max_bytes {
            return Err(MempoolError::PoolFull {
                txs: self.txs.len(),
                bytes: self.bytes,
                max_txs,
                max_bytes,
            });
        }
        Ok(evict)
    }

    /// Gap rule: a sender at its cap (or a full pool) may still get a nonce
    /// below its highest pending one in, by evicting that highest one. The
    /// lower nonce is closer to executable; without this a sender whose
    /// nonce `n` was refused while `n+1..` got in could never fill the gap,
    /// and its quota would stay full of transactions that cannot execute
    /// until they expire. The evicted transaction's client resubmits it.
    fn displaceable(&self, s: &Sender, nonce: u64) -> Option<Hash> {
        s.by_nonce
            .last_key_value()
            .filter(|(&highest, _)| nonce < highest)
            .map(|(_, h)| *h)
    }

    fn remove(&mut self, hash: &Hash) -> Option<SignedTransaction> {
        let p = self.txs.remove(hash)?;
        self.by_seq.remove(&p.seq);
        self.bytes -= p.tx.encoded_len();
        let t = p.tx.tx();
        if let Some(s) = self.senders.get_mut(&t.from) {
            s.by_nonce.remove(&t.nonce);
            s.pending_amount -= u128::from(t.amount.0);
            if s.by_nonce.is_empty() {
                self.senders.remove(&t.from);
            }
        }
        Some(p.tx)
    }

    /// After a block commits: drops its transactions and, for each of its
    /// senders, every pending transaction whose nonce the new committed
    /// account (`account(sender)`) has passed. Returns how many left.
    pub fn on_commit(
        &mut self,
        committed: &[SignedTransaction],
        mut account: impl FnMut(&Address) -> Result<Account, MempoolError>,
    ) -> Result<usize, MempoolError> {
        self.epoch += 1;
        let before = self.txs.len();
        let mut senders: HashSet<Address> = HashSet::new();
        for tx in committed {
            self.remove(&tx.hash());
            senders.insert(tx.tx().from);
        }
        for from in senders {
            let Some(s) = self.senders.get(&from) else {
                continue;
            };
            let fresh = account(&from)?;
            let stale: Vec<Hash> = s.by_nonce.range(..fresh.nonce).map(|(_, h)| *h).collect();
            for h in stale {
                self.remove(&h);
            }
            if let Some(s) = self.senders.get_mut(&from) {
                s.committed = fresh;
            }
        }
        Ok(before - self.txs.len())
    }

    /// Drops transactions admitted more than `ttl` before `now`: a
    /// transaction whose nonce gap is never filled must not hold its place
    /// (and the sender's) forever. Returns how many left.
    pub fn expire(&mut self, now: Instant, ttl: Duration) -> usize {
        let mut n = 0;
        while let Some((_, h)) = self.by_seq.first_key_value() {
            let h = *h;
            let expired = self
                .txs
                .get(&h)
                .is_none_or(|p| now.saturating_duration_since(p.admitted) > ttl);
            if !expired {
                break;
            }
            self.remove(&h);
            n += 1;
        }
        n
    }

    /// Every sender with pending transactions.
    pub fn senders(&self) -> Vec<Address> {
        self.senders.keys().copied().collect()
    }

    /// Adopts freshly read committed accounts (after block sync, when
    /// commits were not reported one by one) and drops every pending
    /// transaction they made stale. Returns how many left.
    pub fn refresh(&mut self, accounts: &HashMap<Address, Account>) -> usize {
        self.epoch += 1;
        let before = self.txs.len();
        for (from, fresh) in accounts {
            let Some(s) = self.senders.get_mut(from) else {
                continue;
            };
            if fresh.nonce < s.committed.nonce {
                continue;
            }
            s.committed = *fresh;
            let stale: Vec<Hash> = s.by_nonce.range(..fresh.nonce).map(|(_, h)| *h).collect();
            for h in stale {
                self.remove(&h);
            }
        }
        before - self.txs.len()
    }

    /// Up to `max_txs` transactions of at most `max_bytes` in total to
    /// propose: per sender, consecutive nonces from its committed nonce,
    /// senders interleaved first come, first served. Hashes in `exclude`
    /// (transactions in uncommitted ancestor blocks) are not returned but
    /// count as included, so their senders' next nonces can follow.
    pub fn select(
        &self,
        max_txs: usize,
        max_bytes: usize,
        exclude: &HashSet<Hash>,
    ) -> Vec<SignedTransaction> {
        let mut heap: BinaryHeap<Reverse<(u64, Address, u64)>> = BinaryHeap::new();
        for (from, s) in &self.senders {
            if let Some((seq, nonce)) = self.next_ready(s, s.committed.nonce, exclude) {
                heap.push(Reverse((seq, *from, nonce)));
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while let Some(Reverse((_, from, nonce))) = heap.pop() {
            if out.len() >= max_txs {
                break;
            }
            let Some(s) = self.senders.get(&from) else {
                continue;
            };
            let Some(p) = s.by_nonce.get(&nonce).and_then(|h| self.txs.get(h)) else {
                continue;
            };
            if bytes + p.tx.encoded_len() > max_bytes {
                // This sender's later nonces cannot go without this one.
                continue;
            }
            bytes += p.tx.encoded_len();
            out.push(p.tx.clone());
            if let Some((seq, next)) = self.next_ready(s, nonce + 1, exclude) {
                heap.push(Reverse((seq, from, next)));
            }
        }
        out
    }

    /// The sender's first pooled, not excluded transaction at or after
    /// `nonce` on an unbroken run of nonces: `(seq, nonce)`.
    fn next_ready(
        &self,
        s: &Sender,
        mut nonce: u64,
        exclude: &HashSet<Hash>,
    ) -> Option<(u64, u64)> {
        loop {
            let h = s.by_nonce.get(&nonce)?;
            if !exclude.contains(h) {
                return self.txs.get(h).map(|p| (p.seq, nonce));
            }
            nonce = nonce.checked_add(1)?;
        }
    }

    /// Up to `max` locally submitted transactions not yet handed out for
    /// gossip, oldest first (those that already left the pool are skipped).
    pub fn drain_fresh(&mut self, max: usize) -> Vec<SignedTransaction> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some(h) = self.fresh.pop_front() else {
                break;
            };
            if let Some(p) = self.txs.get(&h) {
                out.push(p.tx.clone());
            }
        }
        out
    }

    /// Checks the invariants (tests).
    #[cfg(test)]
    pub fn assert_invariants(&self) {
        let bytes: usize = self.txs.values().map(|p| p.tx.encoded_len()).sum();
        assert_eq!(bytes, self.bytes);
        assert!(self.txs.len() <= self.config.max_txs);
        assert!(self.bytes <= self.config.max_bytes);
        let mut n = 0;
        for (from, s) in &self.senders {
            assert!(!s.by_nonce.is_empty());
            let mut amount = 0u128;
            for (nonce, h) in &s.by_nonce {
                let t = self.txs[h].tx.tx();
                assert_eq!((&t.from, &t.nonce), (from, nonce));
                assert!(*nonce >= s.committed.nonce);
                amount += u128::from(t.amount.0);
                n += 1;
            }
            assert_eq!(amount, s.pending_amount);
            assert!(s.by_nonce.len() <= self.config.max_per_sender);
        }
        assert_eq!(n, self.txs.len());
        assert_eq!(self.by_seq.len(), self.txs.len());
    }
}
