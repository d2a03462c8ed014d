//! The simulated application: a mempool and a deterministic toy state.
//!
//! The state after height h is `root(h) = SHA-256("sim/state" || root(h-1) || hash(block h))`,
//! updated only by committed blocks, in order. Validation checks what a real
//! node checks before voting: `tx_root`, every transaction signature, and that
//! `state_root` is the root after `state_height`.

use std::collections::BTreeMap;

use cairn_consensus::PayloadRequest;
use cairn_ledger::{Address, Block, BlockHeader, ChainId, Hash, Height, SignedTransaction};

/// Most transactions per simulated block.
const MAX_BLOCK_TXS: usize = 4;
/// A proposed transaction may be proposed again after this long uncommitted.
const IN_FLIGHT_MS: u64 = 1_500;

/// One node's application state (survives crashes, like the node's store).
#[derive(Clone, Debug)]
pub struct App {
    chain_id: ChainId,
    /// State root after each committed height (index = height).
    pub roots: Vec<Hash>,
    mempool: BTreeMap<Hash, SignedTransaction>,
    in_flight: BTreeMap<Hash, u64>,
    /// Last `TxsAvailable` value told to the core.
    pub signaled: Option<bool>,
    /// When set, proposals lie about the state root (a Byzantine proposer).
    pub lie_about_state: bool,
}

impl App {
    /// An application at genesis.
    pub fn new(chain_id: ChainId, genesis_root: Hash) -> App {
        App {
            chain_id,
            roots: vec![genesis_root],
            mempool: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            signaled: None,
            lie_about_state: false,
        }
    }

    /// Adds a gossiped transaction.
    pub fn add_tx(&mut self, tx: SignedTransaction) {
        self.mempool.insert(tx.hash(), tx);
    }

    /// Transactions that could go into a new block now.
    pub fn has_txs(&self, now_ms: u64) -> bool {
        self.mempool
            .keys()
            .any(|h| self.in_flight.get(h).is_none_or(|t| *t <= now_ms))
    }

    /// Builds the block the core asked for.
    pub fn build(&mut self, req: &PayloadRequest, proposer: Address, now_ms: u64) -> Block {
        let txs: Vec<SignedTransaction> = self
            .mempool
            .iter()
            .filter(|(h, _)| self.in_flight.get(*h).is_none_or(|t| *t <= now_ms))
            .take(MAX_BLOCK_TXS)
            .map(|(_, t)| t.clone())
            .collect();
        for t in &txs {
            self.in_flight.insert(t.hash(), now_ms + IN_FLIGHT_MS);
        }
        let mut state_root = self.root_at(req.state_height).unwrap_or_default();
        if self.lie_about_state {
            state_root = Hash::digest(&state_root.0);
        }
        Block {
            header: BlockHeader {
                chain_id: self.chain_id.clone(),
                height: req.height,
                round: req.round,
                parent_hash: req.parent_hash,
                proposer,
                timestamp_ms: now_ms,
                tx_root: Block::compute_tx_root(&txs),
                tx_count: txs.len() as u32,
                state_root,
                state_height: req.state_height,
                justify: req.justify.clone(),
                timeout_cert: req.timeout_cert.clone(),
            },
            txs,
        }
    }

    /// The state root after `height`, if executed.
    pub fn root_at(&self, height: Height) -> Option<Hash> {
        self.roots.get(height.0 as usize).copied()
    }

    /// What a validator checks before voting.
    pub fn validate(&self, block: &Block, now_ms: u64) -> bool {
        let h = &block.header;
        let txs_ok = Block::compute_tx_root(&block.txs) == h.tx_root
            && block.txs.iter().all(|t| t.verify().is_ok());
        let state_ok = self.root_at(h.state_height) == Some(h.state_root);
        // Proposer clocks may drift but not run far ahead of ours.
        let time_ok = h.timestamp_ms <= now_ms + 5_000;
        txs_ok && state_ok && time_ok
    }

    /// Executes a committed block. Errors if commits arrive out of order.
    pub fn commit(&mut self, block: &Block) -> Result<(), String> {
        let h = block.header.height.0 as usize;
        if h != self.roots.len() {
            return Err(format!(
                "commit of height {h} but the application has executed up to {}",
                self.roots.len() - 1
            ));
        }
        let prev = self.roots[h - 1];
        let hash = block.hash();
        self.roots
            .push(Hash::tagged(b"sim/state", &[&prev.0, &hash.0]));
        for t in &block.txs {
            let th = t.hash();
            self.mempool.remove(&th);
            self.in_flight.remove(&th);
        }
        Ok(())
    }
}
