//! Builds a real chain in a real store: a 4-validator genesis from the
//! genesis crate, signed transfers, blocks proposed by the round's leader
//! (leader reputation: `cairn_consensus::leader`, as the audit checks it)
//! with the state height and root consensus requires, QCs signed by three
//! of the four validators, and optionally a round that timed out (a block
//! carrying a TC). Shared by the audit tests and `examples/make_chain.rs`.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use cairn_consensus::leader::{self, Signers};
use cairn_genesis::{
    build_genesis_state, testnet_deterministic, Genesis, GenesisState, GenesisTime, KeyFile,
};
use cairn_ledger::store::Store;
use cairn_ledger::types::cert::timeout_signing_bytes;
use cairn_ledger::{
    Amount, Block, BlockHeader, ChainId, Height, QuorumCertificate, Round, SignedTransaction,
    TimeoutCertificate, Transaction, Vote,
};
use rand::Rng;
use rayon::prelude::*;

pub const BALANCE: u64 = 1_000_000_000;

/// A node home (`genesis.json`, `data/`) being filled with blocks.
pub struct ChainBuilder {
    pub genesis: Genesis,
    pub state: GenesisState,
    pub validators: Vec<KeyFile>,
    pub accounts: Vec<KeyFile>,
    pub store: Arc<Store>,
    nonces: Vec<u64>,
    prev: BlockHeader,
    prev_qc: QuorumCertificate,
    /// Signers of the certificates carried by the last blocks, nearest first.
    recent: VecDeque<Signers>,
}

pub fn chain() -> ChainId {
    ChainId::new("cairn-audit-test").unwrap()
}

impl ChainBuilder {
    /// A fresh home in `home` with `accounts` funded accounts.
    pub fn new(home: &Path, accounts: usize) -> ChainBuilder {
        let (genesis, validators, accounts) = testnet_deterministic(
            chain(),
            4,
            accounts,
            Amount(BALANCE),
            11,
            GenesisTime::from_unix_ms(1_800_000_000_000),
        )
        .unwrap();
        std::fs::create_dir_all(home).unwrap();
        genesis.write(home.join("genesis.json")).unwrap();
        let state = build_genesis_state(&genesis).unwrap();
        let store = Arc::new(Store::open(&home.join("data")).unwrap());
        store.init_genesis(&state.block, &state.accounts).unwrap();
        let prev = state.block.header.clone();
        let prev_qc = QuorumCertificate::genesis(state.block.hash());
        let recent = VecDeque::from([leader::signers(&prev)]);
        ChainBuilder {
            recent,
            nonces: vec![0; accounts.len()],
            genesis,
            state,
            validators,
            accounts,
            store,
            prev,
            prev_qc,
        }
    }

    /// `n` signed transfers between random accounts (about one in fifty
    /// overdraws and fails), signed on all cores.
    pub fn transfers(&mut self, n: usize, rng: &mut impl Rng) -> Vec<SignedTransaction> {
        let k = self.accounts.len();
        let plan: Vec<(usize, usize, u64, u64)> = (0..n)
            .map(|_| {
                let from = rng.gen_range(0..k);
                let to = rng.gen_range(0..k);
                let amount = if rng.gen_ratio(1, 50) {
                    BALANCE * 10
                } else {
                    rng.gen_range(1..1000)
                };
                let nonce = self.nonces[from];
                self.nonces[from] += 1;
                (from, to, amount, nonce)
            })
            .collect();
        plan.par_iter()
            .map(|&(from, to, amount, nonce)| {
                Transaction {
                    chain_id: chain(),
                    from: self.accounts[from].address(),
                    to: self.accounts[to].address(),
                    amount: Amount(amount),
                    nonce,
                    memo: b"audit".to_vec(),
                }
                .sign(self.accounts[from].secret())
            })
            .collect()
    }

    fn qc_for(
        &self,
        block_hash: cairn_ledger::Hash,
        height: Height,
        round: Round,
    ) -> QuorumCertificate {
        let signatures = (0..3u16)
            .map(|i| {
                let v = Vote::sign(
                    &chain(),
                    block_hash,
                    height,
                    round,
                    i,
                    self.validators[i as usize].secret(),
                );
                (i, v.signature)
            })
            .collect();
        QuorumCertificate {
            block_hash,
            height,
            round,
            signatures,
        }
    }

    /// Commits a block with `txs`; with `after_timeout`, the round before it
    /// timed out and the block carries that round's TC.
    pub fn commit(&mut self, txs: Vec<SignedTransaction>, after_timeout: bool) -> Block {
        self.commit_by(txs, after_timeout, None)
    }

    /// [`ChainBuilder::commit`], with the block proposed (and certified) as
    /// if by validator `proposer` instead of the round's leader, if given.
    pub fn commit_by(
        &mut self,
        txs: Vec<SignedTransaction>,
        after_timeout: bool,
        proposer: Option<u16>,
    ) -> Block {
        let p = &self.prev;
        let mut round = p.round.next();
        let timeout_cert = if after_timeout {
            let tc_round = round;
            round = round.next();
            let high = self.prev_qc.round;
            let signatures = [0u16, 1, 3]
                .iter()
                .map(|&i| {
                    let msg = timeout_signing_bytes(&chain(), tc_round, high);
                    (i, high, self.validators[i as usize].secret().sign(&msg))
                })
                .collect();
            Some(TimeoutCertificate {
                round: tc_round,
                high_qc: self.prev_qc.clone(),
                signatures,
            })
        } else {
            None
        };
        // The state height consensus requires: what the carried QC chain commits.
        let state_height = if p.height > Height(0) && p.round == p.justify.round.next() {
            p.justify.height
        } else {
            p.state_height
        };
        let vals = &self.state.committee.validators;
        let proposer = proposer
            .unwrap_or_else(|| leader::proposer(vals, round, self.prev_qc.round, &self.recent));
        let header = BlockHeader {
            chain_id: chain(),
            height: p.height.next(),
            round,
            parent_hash: p.hash(),
            proposer: self.validators[proposer as usize].address(),
            timestamp_ms: 1_800_000_000_000 + round.0 * 1000,
            tx_root: Block::compute_tx_root(&txs),
            tx_count: txs.len() as u32,
            state_root: self.store.state_root_at(state_height).unwrap(),
            state_height,
            justify: self.prev_qc.clone(),
            timeout_cert,
        };
        let block = Block { header, txs };
        let qc = self.qc_for(block.hash(), block.header.height, round);
        self.store.commit_block(&block, &qc).unwrap();
        self.recent.push_front(leader::signers(&block.header));
        self.recent.truncate(leader::WINDOW);
        self.prev = block.header.clone();
        self.prev_qc = qc;
        block
    }
}
