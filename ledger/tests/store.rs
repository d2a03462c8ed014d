//! The RocksDB store: reads by height, hash and transaction, accounts with
//! proofs, recovery on reopen, and each way a commit is refused.
#![allow(clippy::unwrap_used)]

use cairn_ledger::state::{MemTreeStore, StateTree};
use cairn_ledger::store::{Store, StoreError};
use cairn_ledger::{Block, Hash, Height, TxStatus};
use rand::SeedableRng;

mod common;
use common::{account_key, genesis, next_block_with, qc_for};

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(7)
}

fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (g, accounts) = genesis();
    store.init_genesis(&g, &accounts).unwrap();
    (dir, store)
}

#[test]
fn reads_by_height_hash_and_transaction() {
    let (_dir, store) = fresh();
    let mut rng = rng();
    let (b1, qc1) = next_block_with(&store, &mut rng, 40);
    let c1 = store.commit_block(&b1, &qc1).unwrap();
    assert_eq!(c1.height, Height(1));
    assert_eq!(c1.receipts.len(), 40);
    let tip = store.tip().unwrap().unwrap();
    assert_eq!(
        (tip.height, tip.hash, tip.state_root),
        (Height(1), b1.hash(), c1.state_root)
    );
    assert_eq!(store.block_at(Height(1)).unwrap(), Some(b1.clone()));
    assert_eq!(store.block_by_hash(&b1.hash()).unwrap(), Some(b1.clone()));
    assert_eq!(store.qc_at(Height(1)).unwrap(), Some(qc1));
    assert_eq!(
        store.receipts_at(Height(1)).unwrap(),
        Some(c1.receipts.clone())
    );
    for (i, tx) in b1.txs.iter().enumerate() {
        let loc = store.tx_location(&tx.hash()).unwrap().unwrap();
        assert_eq!(
            (loc.height, loc.index, loc.receipt),
            (Height(1), i as u32, c1.receipts[i])
        );
    }
    assert_eq!(store.tx_location(&Hash::digest(b"nope")).unwrap(), None);
    assert_eq!(store.block_at(Height(2)).unwrap(), None);
    assert_eq!(store.block_by_hash(&Hash::ZERO).unwrap(), None);
    // The genesis block is readable at height 0 with its round-0 certificate.
    let (g, _) = genesis();
    assert_eq!(store.block_at(Height(0)).unwrap(), Some(g.clone()));
    assert_eq!(
        store.qc_at(Height(0)).unwrap().unwrap().block_hash,
        g.hash()
    );
}

#[test]
fn account_proofs_verify_against_the_stored_root_and_match_memory() {
    let (_dir, store) = fresh();
    let mut rng = rng();
    for _ in 0..3 {
        let (b, qc) = next_block_with(&store, &mut rng, 60);
        store.commit_block(&b, &qc).unwrap();
    }
    let tip = store.tip().unwrap().unwrap();
    for i in 0..30u8 {
        let a = account_key(i).address();
        let (acct, proof, root) = store.account_with_proof(&a, tip.height).unwrap();
        assert_eq!(root, tip.state_root);
        assert_eq!(acct, store.account(&a).unwrap());
        proof.verify(&root, &a, acct.as_ref()).unwrap();
        let tampered = acct.map(|mut x| {
            x.nonce += 1;
            x
        });
        if acct.is_some() {
            assert!(proof.verify(&root, &a, tampered.as_ref()).is_err());
        }
    }
    // The RocksDB-backed tree computes the same root as an in-memory rebuild.
    let all = store.accounts().unwrap();
    let mem = MemTreeStore::new();
    let (root, _) = StateTree::new(&mem).update(&all, Height(0)).unwrap();
    assert_eq!(root, tip.state_root);
}

#[test]
fn reopen_recovers_the_tip_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng();
    let tip_before = {
        let store = Store::open(dir.path()).unwrap();
        let (g, accounts) = genesis();
        store.init_genesis(&g, &accounts).unwrap();
        let (b, qc) = next_block_with(&store, &mut rng, 10);
        store.commit_block(&b, &qc).unwrap();
        store.put_safety(b"safety-bytes").unwrap();
        store.tip().unwrap().unwrap()
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.tip().unwrap(), Some(tip_before));
    assert_eq!(
        store.safety().unwrap().as_deref(),
        Some(&b"safety-bytes"[..])
    );
    let (g, accounts) = genesis();
    store.init_genesis(&g, &accounts).unwrap(); // idempotent for the same genesis
    let (b, qc) = next_block_with(&store, &mut rng, 10);
    assert_eq!(store.commit_block(&b, &qc).unwrap().height, Height(2));
    drop(store);
    let ro = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.tip().unwrap().unwrap().height, Height(2));
    assert!(matches!(ro.put_safety(b"x"), Err(StoreError::ReadOnly)));
}

#[test]
fn refuses_out_of_order_wrong_parent_wrong_qc_and_other_genesis() {
    let (_dir, store) = fresh();
    let mut rng = rng();
    let (b1, qc1) = next_block_with(&store, &mut rng, 5);

    let mut skip = b1.clone();
    skip.header.height = Height(2);
    let err = store.commit_block(&skip, &qc_for(&skip)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotNext {
                tip: Height(0),
                got: Height(2)
            }
        ),
        "{err}"
    );

    let mut orphan = b1.clone();
    orphan.header.parent_hash = Hash::digest(b"elsewhere");
    let err = store.commit_block(&orphan, &qc_for(&orphan)).unwrap_err();
    assert!(matches!(err, StoreError::WrongParent { .. }), "{err}");

    let err = store.commit_block(&b1, &qc_for(&orphan)).unwrap_err();
    assert!(matches!(err, StoreError::WrongCertificate { .. }), "{err}");
    assert_eq!(
        store.tip().unwrap().unwrap().height,
        Height(0),
        "a refused commit changed the tip"
    );

    store.commit_block(&b1, &qc1).unwrap();
    let err = store.commit_block(&b1, &qc1).unwrap_err();
    assert!(matches!(err, StoreError::NotNext { .. }), "{err}");

    let (g, accounts) = genesis();
    let other = Block::genesis(g.header.chain_id.clone(), 1, g.header.state_root);
    let err = store.init_genesis(&other, &accounts).unwrap_err();
    assert!(matches!(err, StoreError::GenesisMismatch { .. }), "{err}");
    assert!(err.to_string().contains("another --home"), "{err}");
}

#[test]
fn replayed_transaction_is_indexed_once_and_changes_nothing() {
    let (_dir, store) = fresh();
    let mut rng = rng();
    let (b1, qc1) = next_block_with(&store, &mut rng, 3);
    store.commit_block(&b1, &qc1).unwrap();
    let before = store.accounts().unwrap();
    // A faulty leader re-includes a committed transaction, twice.
    let (mut b2, _) = next_block_with(&store, &mut rng, 0);
    b2.txs = vec![b1.txs[0].clone(), b1.txs[0].clone()];
    b2.header.tx_count = 2;
    b2.header.tx_root = Block::compute_tx_root(&b2.txs);
    let qc2 = qc_for(&b2);
    let c2 = store.commit_block(&b2, &qc2).unwrap();
    assert_eq!(
        c2.receipts.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![TxStatus::InvalidNonce; 2]
    );
    let loc = store.tx_location(&b1.txs[0].hash()).unwrap().unwrap();
    assert_eq!(
        (loc.height, loc.index),
        (Height(1), 0),
        "the replay overwrote the first index entry"
    );
    assert_eq!(store.accounts().unwrap(), before);
}

#[test]
fn commit_proofs_are_stored_and_verified() {
    use cairn_ledger::{CommitProof, Round};
    let (_dir, store) = fresh();
    let mut rng = rng();
    let (b1, qc1) = next_block_with(&store, &mut rng, 2);
    // The child of b1, proposed in the next round and carrying b1's QC.
    let mut child = b1.header.clone();
    child.height = Height(2);
    child.round = b1.header.round.next();
    child.parent_hash = b1.hash();
    child.justify = qc1.clone();
    let child_block = Block {
        header: child.clone(),
        txs: vec![],
    };
    let mut child = child_block.header.clone();
    child.tx_count = 0;
    child.tx_root = Block::compute_tx_root(&[]);
    let child_block = Block {
        header: child.clone(),
        txs: vec![],
    };
    let proof = CommitProof {
        child: child.clone(),
        child_qc: qc_for(&child_block),
    };
    let (g, _) = genesis();
    let committee = common::committee(g.hash());
    proof
        .verify(&b1.hash(), b1.header.round, &committee)
        .unwrap();
    // Not a 2-chain: the child skipped a round.
    let mut gap = proof.clone();
    gap.child.round = Round(b1.header.round.0 + 2);
    gap.child_qc = qc_for(&Block {
        header: gap.child.clone(),
        txs: vec![],
    });
    assert!(gap.verify(&b1.hash(), b1.header.round, &committee).is_err());
    // Not this block's child.
    assert!(proof
        .verify(&Hash::digest(b"other"), b1.header.round, &committee)
        .is_err());
    // A certificate for another block.
    let mut wrong = proof.clone();
    wrong.child_qc = qc1.clone();
    assert!(wrong
        .verify(&b1.hash(), b1.header.round, &committee)
        .is_err());

    assert_eq!(store.commit_proof_at_or_below(Height(5)).unwrap(), None);
    store
        .commit_block_with_proof(&b1, &qc1, Some(&proof))
        .unwrap();
    let (b2, qc2) = next_block_with(&store, &mut rng, 1);
    store.commit_block(&b2, &qc2).unwrap();
    assert_eq!(
        store.commit_proof_at_or_below(Height(2)).unwrap(),
        Some((Height(1), proof.clone()))
    );
    assert_eq!(store.commit_proof_at_or_below(Height(0)).unwrap(), None);
}

#[test]
fn pending_blocks_survive_reopen_and_leave_when_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rng();
    let (b1, qc1) = {
        let store = Store::open(dir.path()).unwrap();
        let (g, accounts) = genesis();
        store.init_genesis(&g, &accounts).unwrap();
        let (b1, qc1) = next_block_with(&store, &mut rng, 2);
        store.put_pending_block(&b1).unwrap();
        store.put_safety(b"after").unwrap();
        (b1, qc1)
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.pending_blocks().unwrap(), vec![b1.clone()]);
    store.commit_block(&b1, &qc1).unwrap();
    assert!(store.pending_blocks().unwrap().is_empty());
}
