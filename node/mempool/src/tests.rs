//! Admission, selection and commit tests, one per rule.

use std::collections::HashSet;

use cairn_ledger::{Account, Amount, ChainId, Encode, SecretKey, SignedTransaction, Transaction};

use super::view::MapView;
use super::{Mempool, MempoolConfig, MempoolError, RejectReason};

fn chain() -> ChainId {
    ChainId::new("cairn-test").unwrap()
}

fn key(i: u8) -> SecretKey {
    SecretKey::from_seed([i + 1; 32])
}

fn tx_on(chain: ChainId, from: u8, nonce: u64, amount: u64) -> SignedTransaction {
    Transaction {
        chain_id: chain,
        from: key(from).address(),
        to: key(200).address(),
        amount: Amount(amount),
        nonce,
        memo: Vec::new(),
    }
    .sign(&key(from))
}

fn tx(from: u8, nonce: u64, amount: u64) -> SignedTransaction {
    tx_on(chain(), from, nonce, amount)
}

fn view(accounts: &[(u8, u64, u64)]) -> MapView {
    let mut v = MapView::default();
    for &(i, balance, nonce) in accounts {
        v.accounts.insert(
            key(i).address(),
            Account {
                balance: Amount(balance),
                nonce,
            },
        );
    }
    v
}

fn config() -> MempoolConfig {
    MempoolConfig {
        max_txs: 100,
        max_bytes: 1 << 20,
        max_per_sender: 8,
        nonce_window: 16,
        ..MempoolConfig::default()
    }
}

fn submit(
    m: &Mempool,
    v: &MapView,
    txs: &[SignedTransaction],
) -> Vec<Result<cairn_ledger::Hash, MempoolError>> {
    let r = m.submit_blocking(txs.iter().map(|t| t.to_bytes()).collect(), v);
    m.assert_invariants();
    r
}

fn one(
    m: &Mempool,
    v: &MapView,
    t: &SignedTransaction,
) -> Result<cairn_ledger::Hash, MempoolError> {
    submit(m, v, std::slice::from_ref(t)).remove(0)
}

#[test]
fn admits_valid_transfers_and_counts_them() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 0)]);
    let a = tx(1, 0, 10);
    let b = tx(1, 1, 10);
    let r = submit(&m, &v, &[a.clone(), b.clone()]);
    assert_eq!(r, vec![Ok(a.hash()), Ok(b.hash())]);
    assert_eq!(m.len(), 2);
    assert_eq!(m.bytes(), a.encoded_len() + b.encoded_len());
    assert_eq!(m.get(&a.hash()), Some(a.clone()));
    assert!(m.is_verified(&a.hash()));
    assert_eq!(*m.subscribe_admitted().borrow(), 2);
    assert_eq!(m.drain_fresh(10), vec![a, b]);
    assert!(m.drain_fresh(10).is_empty());
}

#[test]
fn oversized_truncated_trailing_and_malformed_bytes_are_distinct() {
    let m = Mempool::new(
        MempoolConfig {
            max_tx_bytes: 300,
            ..config()
        },
        chain(),
    );
    let v = view(&[(1, 1000, 0)]);
    let good = tx(1, 0, 10).to_bytes();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut bad_key = good.clone();
    // The memo length (after chain id 1 + 10, keys 64, amount and nonce 16)
    // claims 2000 bytes, above the 1024 limit.
    bad_key[91..93].copy_from_slice(&2000u16.to_le_bytes());
    let r = m.submit_blocking(
        vec![
            vec![0u8; 301],
            good[..good.len() - 1].to_vec(),
            trailing,
            bad_key,
            Vec::new(),
        ],
        &v,
    );
    assert!(matches!(
        r[0],
        Err(MempoolError::TooLarge { len: 301, max: 300 })
    ));
    assert!(
        matches!(r[1], Err(MempoolError::Truncated(_))),
        "{:?}",
        r[1]
    );
    assert!(
        matches!(r[2], Err(MempoolError::TrailingBytes(_))),
        "{:?}",
        r[2]
    );
    assert!(
        matches!(r[3], Err(MempoolError::Malformed(_))),
        "{:?}",
        r[3]
    );
    assert!(
        matches!(r[4], Err(MempoolError::Truncated(_))),
        "{:?}",
        r[4]
    );
    assert!(m.is_empty());
    assert_eq!(m.rejections().get(RejectReason::Truncated), 2);
    assert_eq!(m.rejections().get(RejectReason::TooLarge), 1);
}

#[test]
fn wrong_chain_is_rejected() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 0)]);
    let t = tx_on(ChainId::new("other").unwrap(), 1, 0, 10);
    let e = one(&m, &v, &t).unwrap_err();
    assert_eq!(
        e,
        MempoolError::WrongChain {
            expected: "cairn-test".into(),
            found: "other".into()
        }
    );
    assert!(e.to_string().contains("sign it for \"cairn-test\""));
}

#[test]
fn bad_signature_is_rejected_and_the_rest_of_the_batch_admitted() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 0), (2, 1000, 0)]);
    let good = tx(1, 0, 10);
    let other = tx(2, 0, 10);
    let forged = SignedTransaction::new(tx(2, 1, 10).tx().clone(), *other.signature());
    let r = submit(&m, &v, &[good.clone(), forged.clone(), other.clone()]);
    assert_eq!(r[0], Ok(good.hash()));
    assert!(matches!(r[1], Err(MempoolError::BadSignature { hash, .. }) if hash == forged.hash()));
    assert_eq!(r[2], Ok(other.hash()));
    assert!(!m.is_verified(&forged.hash()));
    assert_eq!(m.rejections().get(RejectReason::BadSignature), 1);
}

#[test]
fn nonce_below_the_account_is_rejected() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 9)]);
    let e = one(&m, &v, &tx(1, 7, 10)).unwrap_err();
    assert_eq!(e, MempoolError::NonceTooLow { nonce: 7, next: 9 });
    assert!(e
        .to_string()
        .starts_with("nonce 7 is below the account's next nonce 9; fetch the account and re-sign"));
}

#[test]
fn nonce_window_bounds_how_far_ahead() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 5)]);
    assert!(one(&m, &v, &tx(1, 5 + 15, 1)).is_ok());
    let e = one(&m, &v, &tx(1, 5 + 16, 1)).unwrap_err();
    assert_eq!(
        e,
        MempoolError::NonceTooHigh {
            nonce: 21,
            next: 5,
            window: 16
        }
    );
}

#[test]
fn same_nonce_different_transaction_is_refused() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 0)]);
    let a = tx(1, 0, 10);
    one(&m, &v, &a).unwrap();
    let e = one(&m, &v, &tx(1, 0, 11)).unwrap_err();
    assert!(
        matches!(e, MempoolError::NonceInUse { nonce: 0, existing, .. } if existing == a.hash())
    );
}

#[test]
fn balance_counts_pending_transactions() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 100, 0)]);
    one(&m, &v, &tx(1, 0, 60)).unwrap();
    let e = one(&m, &v, &tx(1, 1, 50)).unwrap_err();
    assert!(matches!(
        e,
        MempoolError::InsufficientBalance {
            balance: Amount(100),
            pending: Amount(60),
            amount: Amount(50),
            ..
        }
    ));
    one(&m, &v, &tx(1, 1, 40)).unwrap();
    // An unknown account has nothing to spend.
    let e = one(&m, &v, &tx(3, 0, 1)).unwrap_err();
    assert!(matches!(e, MempoolError::InsufficientBalance { .. }));
    // A zero-amount transfer from it is fine.
    one(&m, &v, &tx(3, 0, 0)).unwrap();
}

#[test]
fn duplicates_return_the_same_hash_without_error() {
    let m = Mempool::new(config(), chain());
    let mut v = view(&[(1, 1000, 0)]);
    let a = tx(1, 0, 10);
    assert_eq!(
        submit(&m, &v, &[a.clone(), a.clone()]),
        vec![Ok(a.hash()), Ok(a.hash())]
    );
    assert_eq!(one(&m, &v, &a), Ok(a.hash()));
    assert_eq!(m.len(), 1);
    // Committed (the view knows it, the nonce moved on): still its hash.
    v.committed.insert(a.hash());
    v.accounts.get_mut(&key(1).address()).unwrap().nonce = 1;
    m.on_commit(std::slice::from_ref(&a), &v).unwrap();
    assert!(m.is_empty());
    assert_eq!(one(&m, &v, &a), Ok(a.hash()));
    assert!(m.is_empty());
    // A repeat of a rejected item in one batch gets the same error.
    let forged = SignedTransaction::new(tx(1, 1, 1).tx().clone(), *a.signature());
    let r = submit(&m, &v, &[forged.clone(), forged]);
    assert!(r
        .iter()
        .all(|r| matches!(r, Err(MempoolError::BadSignature { .. }))));
}

#[test]
fn capacity_by_count_and_by_bytes() {
    let m = Mempool::new(
        MempoolConfig {
            max_txs: 3,
            ..config()
        },
        chain(),
    );
    let v = view(&[(1, 1000, 0), (2, 1000, 0)]);
    let r = submit(
        &m,
        &v,
        &[tx(1, 0, 1), tx(1, 1, 1), tx(2, 0, 1), tx(2, 1, 1)],
    );
    assert!(r[..3].iter().all(|r| r.is_ok()));
    assert!(matches!(
        r[3],
        Err(MempoolError::PoolFull {
            txs: 3,
            max_txs: 3,
            ..
        })
    ));
    let len = tx(1, 0, 1).encoded_len();
    let m = Mempool::new(
        MempoolConfig {
            max_bytes: 2 * len + 1,
            max_tx_bytes: len,
            ..config()
        },
        chain(),
    );
    let r = submit(&m, &v, &[tx(1, 0, 1), tx(1, 1, 1), tx(2, 0, 1)]);
    assert!(r[..2].iter().all(|r| r.is_ok()));
    assert!(matches!(r[2], Err(MempoolError::PoolFull { .. })));
    assert_eq!(m.rejections().get(RejectReason::PoolFull), 1);
}

#[test]
fn per_sender_cap() {
    let m = Mempool::new(
        MempoolConfig {
            max_per_sender: 2,
            ..config()
        },
        chain(),
    );
    let v = view(&[(1, 1000, 0), (2, 1000, 0)]);
    let r = submit(
        &m,
        &v,
        &[tx(1, 0, 1), tx(1, 1, 1), tx(1, 2, 1), tx(2, 0, 1)],
    );
    assert!(matches!(
        r[2],
        Err(MempoolError::SenderFull { pending: 2, .. })
    ));
    assert!(r[3].is_ok());
}

#[test]
fn a_sender_at_its_cap_fills_a_gap_by_evicting_its_highest_nonce() {
    let m = Mempool::new(
        MempoolConfig {
            max_per_sender: 2,
            ..config()
        },
        chain(),
    );
    // Nonce 0 was refused somewhere; 1 and 2 got in and fill the quota.
    let v = view(&[(1, 10, 0)]);
    let (n0, n1, n2) = (tx(1, 0, 5), tx(1, 1, 4), tx(1, 2, 6));
    assert!(submit(&m, &v, &[n1.clone(), n2.clone()])
        .iter()
        .all(|r| r.is_ok()));
    assert!(m.select(10, 1 << 20, &HashSet::new()).is_empty());
    // Nonce 0 comes back: it displaces 2 (whose 6 no longer counts against
    // the balance of 10, so 5 + 4 fits).
    assert_eq!(one(&m, &v, &n0), Ok(n0.hash()));
    assert!(m.contains(&n1.hash()) && !m.contains(&n2.hash()));
    assert_eq!(m.pending_of(&key(1).address()), 2);
    assert_eq!(m.select(10, 1 << 20, &HashSet::new()), vec![n0, n1]);
    // A nonce above the highest pending one evicts nothing.
    assert!(matches!(
        one(&m, &v, &n2),
        Err(MempoolError::SenderFull { pending: 2, .. })
    ));
}

#[test]
fn a_full_pool_takes_a_lower_nonce_in_place_of_the_senders_highest() {
    let m = Mempool::new(
        MempoolConfig {
            max_txs: 3,
            ..config()
        },
        chain(),
    );
    let v = view(&[(1, 1000, 0), (2, 1000, 0), (3, 1000, 0)]);
    let gapped = [tx(1, 1, 1), tx(1, 2, 1)];
    assert!(
        submit(&m, &v, &[gapped[0].clone(), gapped[1].clone(), tx(2, 0, 1)])
            .iter()
            .all(|r| r.is_ok())
    );
    assert_eq!(one(&m, &v, &tx(1, 0, 1)), Ok(tx(1, 0, 1).hash()));
    assert!(!m.contains(&gapped[1].hash()));
    assert_eq!(m.len(), 3);
    // A sender with nothing pending above it cannot displace anyone.
    assert!(matches!(
        one(&m, &v, &tx(3, 0, 1)),
        Err(MempoolError::PoolFull { .. })
    ));
}

#[test]
fn only_transactions_at_the_next_nonce_make_the_pool_ready() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 3), (2, 1000, 0)]);
    assert!(!m.has_ready());
    // Behind a gap (nonce 3 is next): pooled, but nothing can execute.
    submit(&m, &v, &[tx(1, 5, 1), tx(1, 4, 1)]);
    assert_eq!(m.len(), 2);
    assert!(!m.has_ready());
    // The gap fills.
    one(&m, &v, &tx(1, 3, 1)).unwrap();
    assert!(m.has_ready());
    // Another sender's next nonce alone is enough too.
    let m = Mempool::new(config(), chain());
    one(&m, &v, &tx(2, 0, 1)).unwrap();
    assert!(m.has_ready());
}

#[test]
fn select_takes_consecutive_nonces_first_come_first_served() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 3), (2, 1000, 0)]);
    let a3 = tx(1, 3, 1);
    let a4 = tx(1, 4, 1);
    let a6 = tx(1, 6, 1); // gap at 5: not selectable
    let b0 = tx(2, 0, 1);
    let b1 = tx(2, 1, 1);
    submit(
        &m,
        &v,
        &[a4.clone(), b0.clone(), a6.clone(), a3.clone(), b1.clone()],
    );
    let none = HashSet::new();
    let s = m.select(100, usize::MAX, &none);
    // Each sender's next ready transaction competes by arrival: b0 (1st
    // ready to arrive), then a3, then a4 (it arrived first of all, but
    // needed a3), then b1.
    assert_eq!(s, vec![b0.clone(), a3.clone(), a4.clone(), b1.clone()]);
    assert_eq!(m.select(2, usize::MAX, &none).len(), 2);
    assert_eq!(m.select(100, 2 * a3.encoded_len(), &none).len(), 2);
    // Excluded transactions are in an ancestor block: skip them, keep going.
    let exclude: HashSet<_> = [a3.hash(), b0.hash()].into_iter().collect();
    assert_eq!(m.select(100, usize::MAX, &exclude), vec![a4, b1]);
}

#[test]
fn on_commit_drops_committed_and_stale() {
    let m = Mempool::new(config(), chain());
    let mut v = view(&[(1, 1000, 0), (2, 1000, 0)]);
    let a0 = tx(1, 0, 1);
    let a1 = tx(1, 1, 1);
    let a2 = tx(1, 2, 1);
    let b0 = tx(2, 0, 1);
    submit(&m, &v, &[a0.clone(), a1.clone(), a2.clone(), b0.clone()]);
    // A block with a0 and another a1' (same nonce, not ours) commits.
    let other_a1 = tx(1, 1, 2);
    v.accounts.get_mut(&key(1).address()).unwrap().nonce = 2;
    let dropped = m.on_commit(&[a0.clone(), other_a1], &v).unwrap();
    assert_eq!(dropped, 2);
    m.assert_invariants();
    assert!(!m.contains(&a0.hash()) && !m.contains(&a1.hash()));
    assert_eq!(m.select(100, usize::MAX, &HashSet::new()), vec![a2, b0]);
}

#[test]
fn admit_verified_skips_the_signature_check_and_caches() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 0)]);
    let a = tx(1, 0, 1);
    assert!(!m.is_verified(&a.hash()));
    assert_eq!(m.admit_verified(vec![a.clone()], &v), vec![Ok(a.hash())]);
    assert!(m.is_verified(&a.hash()));
    // Verified-but-not-pooled hashes are remembered too.
    let b = tx(1, 5, 1);
    m.mark_verified([b.hash()]);
    assert!(m.is_verified(&b.hash()));
    // Gossiped transactions are not handed back for gossip.
    assert!(m.drain_fresh(10).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_submit_verifies_off_the_runtime() {
    let m = Mempool::new(config(), chain());
    let v = view(&[(1, 1000, 0)]);
    let a = tx(1, 0, 1);
    let forged = SignedTransaction::new(tx(1, 1, 1).tx().clone(), *a.signature());
    let r = m.submit(vec![a.to_bytes(), forged.to_bytes()], &v).await;
    assert_eq!(r[0], Ok(a.hash()));
    assert!(matches!(r[1], Err(MempoolError::BadSignature { .. })));
}

#[test]
fn refresh_after_sync_drops_what_became_stale() {
    let m = Mempool::new(config(), chain());
    let mut v = view(&[(1, 1000, 0), (2, 1000, 0)]);
    let a: Vec<_> = (0..4).map(|n| tx(1, n, 1)).collect();
    let b0 = tx(2, 0, 1);
    submit(&m, &v, &[a.clone(), vec![b0.clone()]].concat());
    // Blocks synced from peers moved sender 1 to nonce 3; nobody called on_commit.
    v.accounts.get_mut(&key(1).address()).unwrap().nonce = 3;
    assert_eq!(m.refresh(&v).unwrap(), 3);
    m.assert_invariants();
    assert_eq!(
        m.select(100, usize::MAX, &HashSet::new()),
        vec![a[3].clone(), b0]
    );
}

#[test]
fn old_transactions_expire_oldest_first() {
    use std::time::Duration;
    use tokio::time::Instant;
    let mut pool = super::pool::Pool::new(config());
    let t0 = Instant::now();
    let acct = Account {
        balance: Amount(1000),
        nonce: 0,
    };
    let gapped = tx(1, 5, 1);
    let later = tx(2, 0, 1);
    pool.admit(gapped.clone(), acct, true, t0).unwrap();
    pool.admit(later.clone(), acct, true, t0 + Duration::from_secs(30))
        .unwrap();
    let ttl = Duration::from_secs(60);
    assert_eq!(pool.expire(t0 + Duration::from_secs(60), ttl), 0);
    assert_eq!(pool.expire(t0 + Duration::from_secs(61), ttl), 1);
    assert!(!pool.contains(&gapped.hash()) && pool.contains(&later.hash()));
    pool.assert_invariants();
    assert_eq!(pool.expire(t0 + Duration::from_secs(91), ttl), 1);
    assert!(pool.is_empty());
    pool.assert_invariants();
}

/// Random submissions, selections and commits (seeded, so a failure
/// replays): the pool's invariants always hold, and every selection
/// executes in order with no nonce failure against committed state.
#[test]
fn random_operations_keep_invariants_and_selections_executable() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let m = Mempool::new(
        MempoolConfig {
            max_txs: 40,
            max_per_sender: 10,
            nonce_window: 12,
            ..config()
        },
        chain(),
    );
    let senders: Vec<u8> = (1..=5).collect();
    let mut v = view(&senders.iter().map(|&s| (s, 5_000, 0)).collect::<Vec<_>>());
    let mut executed = 0;
    let mut pooled = std::collections::HashMap::new();
    for step in 0..600 {
        if rng.gen_ratio(4, 5) {
            let s = senders[rng.gen_range(0..senders.len())];
            // Mostly the first free nonce; sometimes stale, taken or gapped.
            let mut free = v.accounts[&key(s).address()].nonce;
            while pooled.get(&(s, free)).is_some_and(|h| m.contains(h)) {
                free += 1;
            }
            let nonce = match rng.gen_range(0..10) {
                0 => free.saturating_sub(1),
                1 => free + 2,
                _ => free,
            };
            let t = tx(s, nonce, rng.gen_range(0..40));
            if one(&m, &v, &t).is_ok() {
                pooled.insert((s, nonce), t.hash());
            }
        } else {
            let selected = m.select(rng.gen_range(0..20), usize::MAX, &HashSet::new());
            // Execute: each must carry exactly its sender's nonce.
            for t in &selected {
                let a = v.accounts.get_mut(&t.tx().from).unwrap();
                assert_eq!(
                    t.tx().nonce,
                    a.nonce,
                    "step {step}: selection not executable"
                );
                a.nonce += 1;
                if a.balance.0 >= t.tx().amount.0 {
                    a.balance.0 -= t.tx().amount.0;
                }
                v.committed.insert(t.hash());
                executed += 1;
            }
            m.on_commit(&selected, &v).unwrap();
            for t in &selected {
                assert!(!m.contains(&t.hash()));
            }
        }
        m.assert_invariants();
        // Excluding a selection's prefix leaves exactly its remainder first in line.
        let all = m.select(usize::MAX, usize::MAX, &HashSet::new());
        let cut = rng.gen_range(0..=all.len());
        let exclude: HashSet<_> = all[..cut].iter().map(|t| t.hash()).collect();
        let rest = m.select(usize::MAX, usize::MAX, &exclude);
        assert!(rest.iter().all(|t| !exclude.contains(&t.hash())));
        assert_eq!(rest.len(), all.len() - cut, "step {step}");
    }
    // The run exercised something: many transactions went through.
    assert!(executed > 100, "only {executed} executed");
    assert!(m.rejections().get(RejectReason::NonceTooLow) > 0);
    assert!(m.rejections().get(RejectReason::NonceInUse) > 0);
}
