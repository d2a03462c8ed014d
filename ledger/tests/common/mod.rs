//! Shared fixtures for the store tests: a one-validator chain with funded
//! accounts and a generator of valid blocks on the store's tip.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;

use cairn_ledger::state::{MemTreeStore, StateTree};
use cairn_ledger::store::Store;
use cairn_ledger::{
    Account, Address, Amount, Block, BlockHeader, ChainId, Committee, Hash, Height,
    QuorumCertificate, Round, SecretKey, SignedTransaction, Transaction, Validator, ValidatorSet,
    Vote,
};
use rand::Rng;

pub const ACCOUNTS: u8 = 24;
pub const TXS_PER_BLOCK: usize = 150;

pub fn chain() -> ChainId {
    ChainId::new("cairn-crash").unwrap()
}

pub fn account_key(i: u8) -> SecretKey {
    SecretKey::from_seed([i + 1; 32])
}

pub fn validator_key() -> SecretKey {
    SecretKey::from_seed([200; 32])
}

pub fn genesis() -> (Block, Vec<(Address, Account)>) {
    let mut accounts: Vec<(Address, Account)> = (0..ACCOUNTS)
        .map(|i| {
            (
                account_key(i).address(),
                Account {
                    balance: Amount(1_000_000),
                    nonce: 0,
                },
            )
        })
        .collect();
    accounts.sort_by_key(|(a, _)| *a);
    let store = MemTreeStore::new();
    let (root, _) = StateTree::new(&store).update(&accounts, Height(0)).unwrap();
    (Block::genesis(chain(), 1_700_000_000_000, root), accounts)
}

pub fn committee(genesis_hash: Hash) -> Committee {
    Committee {
        chain_id: chain(),
        genesis_hash,
        validators: ValidatorSet::new(vec![Validator {
            address: validator_key().address(),
            power: 1,
        }])
        .unwrap(),
    }
}

pub fn qc_for(block: &Block) -> QuorumCertificate {
    let h = &block.header;
    let vote = Vote::sign(
        &chain(),
        block.hash(),
        h.height,
        h.round,
        0,
        &validator_key(),
    );
    QuorumCertificate {
        block_hash: vote.block_hash,
        height: vote.height,
        round: vote.round,
        signatures: vec![(0, vote.signature)],
    }
}

/// Builds the next block on the store's tip: transfers with the right nonces,
/// some of them overdrawing (failed receipts) and some self-transfers.
pub fn next_block(store: &Store, rng: &mut impl Rng) -> (Block, QuorumCertificate) {
    next_block_with(store, rng, TXS_PER_BLOCK)
}

/// Like [`next_block`] with `n` transactions.
pub fn next_block_with(store: &Store, rng: &mut impl Rng, n: usize) -> (Block, QuorumCertificate) {
    let tip = store.tip().unwrap().unwrap();
    let parent_qc = store.qc_at(tip.height).unwrap().unwrap();
    let mut nonces: BTreeMap<u8, u64> = BTreeMap::new();
    let mut txs: Vec<SignedTransaction> = Vec::with_capacity(n);
    for _ in 0..n {
        let from = rng.gen_range(0..ACCOUNTS);
        let to = rng.gen_range(0..ACCOUNTS);
        let key = account_key(from);
        let nonce = match nonces.get(&from) {
            Some(n) => *n,
            None => {
                store
                    .account(&key.address())
                    .unwrap()
                    .unwrap_or_default()
                    .nonce
            }
        };
        nonces.insert(from, nonce + 1);
        let amount = if rng.gen_ratio(1, 20) {
            5_000_000
        } else {
            rng.gen_range(1..500)
        };
        let tx = Transaction {
            chain_id: chain(),
            from: key.address(),
            to: account_key(to).address(),
            amount: Amount(amount),
            nonce,
            memo: vec![7; rng.gen_range(0..16)],
        };
        txs.push(tx.sign(&key));
    }
    let header = BlockHeader {
        chain_id: chain(),
        height: tip.height.next(),
        round: Round(tip.height.0 + 1),
        parent_hash: tip.hash,
        proposer: validator_key().address(),
        timestamp_ms: 1_700_000_000_000 + tip.height.0,
        tx_root: Block::compute_tx_root(&txs),
        tx_count: txs.len() as u32,
        state_root: tip.state_root,
        state_height: tip.height,
        justify: parent_qc,
        timeout_cert: None,
    };
    let block = Block { header, txs };
    let qc = qc_for(&block);
    (block, qc)
}
