//! The application side of consensus: building a leader's block from the
//! mempool, and checking a proposed block before the core may vote for it.
//!
//! A block's `state_root` is the state after executing every block up to
//! `state_height`, the highest height committed through the certificates the
//! block carries. The core emits those commits before it asks to build or
//! validate the block, and the node executes commits synchronously, so the
//! store's tip is at or above `state_height` here.

use std::sync::Arc;

use cairn_consensus::PayloadRequest;
use cairn_genesis::ConsensusParams;
use cairn_ledger::store::{Store, StoreError};
use cairn_ledger::types::tx::verify_all;
use cairn_ledger::{Address, Block, BlockHeader, ChainId, Hash, SignedTransaction};

/// Why a proposed block is refused.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// Wrong chain.
    #[error("block is for chain {0}")]
    WrongChain(String),
    /// Over the genesis limits.
    #[error(
        "block has {count} transactions / {bytes} bytes, above the limits {max_txs} / {max_bytes}"
    )]
    TooLarge {
        /// Transactions in it.
        count: usize,
        /// Their total encoded size.
        bytes: u64,
        /// Limit on count.
        max_txs: u32,
        /// Limit on size.
        max_bytes: u64,
    },
    /// A memo above the chain's limit.
    #[error("transaction {0} has a memo above the chain's limit")]
    MemoTooLong(Hash),
    /// `tx_root` does not match the transactions.
    #[error("tx_root {claimed} does not match the transactions ({actual})")]
    TxRoot {
        /// In the header.
        claimed: Hash,
        /// Computed.
        actual: Hash,
    },
    /// The state root disagrees with our execution.
    #[error("state_root at height {height} is {claimed}, but executing the chain gives {actual}")]
    StateRoot {
        /// The height it describes.
        height: u64,
        /// In the header.
        claimed: Hash,
        /// Ours.
        actual: Hash,
    },
    /// We have not executed up to the height the block describes.
    #[error("block describes state at height {wanted}, but this node has executed only to {have}")]
    NotExecuted {
        /// The block's state height.
        wanted: u64,
        /// Our tip.
        have: u64,
    },
    /// A transaction signature is invalid.
    #[error("transaction {0} has an invalid signature")]
    BadSignature(Hash),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds and checks blocks against the local store and the genesis limits.
#[derive(Debug, Clone)]
pub struct App {
    store: Arc<Store>,
    params: ConsensusParams,
    chain_id: ChainId,
}

impl App {
    /// An app over `store`.
    pub fn new(store: Arc<Store>, params: ConsensusParams, chain_id: ChainId) -> App {
        App {
            store,
            params,
            chain_id,
        }
    }

    /// The genesis limits.
    pub fn params(&self) -> &ConsensusParams {
        &self.params
    }

    /// The state root a block with this request must carry.
    fn state_root(&self, state_height: cairn_ledger::Height) -> Result<Hash, BlockError> {
        let tip = self.store.tip()?.ok_or(StoreError::NotInitialized)?;
        if tip.height < state_height {
            return Err(BlockError::NotExecuted {
                wanted: state_height.0,
                have: tip.height.0,
            });
        }
        Ok(self.store.state_root_at(state_height)?)
    }

    /// Builds the leader's block for `req` with `txs` (already admitted, in order).
    pub fn build(
        &self,
        req: &PayloadRequest,
        proposer: Address,
        txs: Vec<SignedTransaction>,
        now_ms: u64,
    ) -> Result<Block, BlockError> {
        let header = BlockHeader {
            chain_id: self.chain_id.clone(),
            height: req.height,
            round: req.round,
            parent_hash: req.parent_hash,
            proposer,
            timestamp_ms: now_ms,
            tx_root: Block::compute_tx_root(&txs),
            tx_count: txs.len() as u32,
            state_root: self.state_root(req.state_height)?,
            state_height: req.state_height,
            justify: req.justify.clone(),
            timeout_cert: req.timeout_cert.clone(),
        };
        Ok(Block { header, txs })
    }

    /// Checks everything about `block` that consensus does not: limits,
    /// `tx_root`, the state root, and every transaction signature not already
    /// verified (`verified` says which were, e.g. admitted to our mempool).
    /// CPU-heavy: run it off the consensus task.
    pub fn check(&self, block: &Block, verified: impl Fn(&Hash) -> bool) -> Result<(), BlockError> {
        let h = &block.header;
        if h.chain_id != self.chain_id {
            return Err(BlockError::WrongChain(h.chain_id.to_string()));
        }
        let bytes: u64 = block.txs.iter().map(|t| t.encoded_len() as u64).sum();
        if block.txs.len() > self.params.max_block_txs as usize
            || bytes > self.params.max_block_bytes
        {
            return Err(BlockError::TooLarge {
                count: block.txs.len(),
                bytes,
                max_txs: self.params.max_block_txs,
                max_bytes: self.params.max_block_bytes,
            });
        }
        if let Some(t) = block
            .txs
            .iter()
            .find(|t| t.tx().memo.len() > self.params.max_memo_bytes as usize)
        {
            return Err(BlockError::MemoTooLong(t.hash()));
        }
        let actual = Block::compute_tx_root(&block.txs);
        if actual != h.tx_root {
            return Err(BlockError::TxRoot {
                claimed: h.tx_root,
                actual,
            });
        }
        let ours = self.state_root(h.state_height)?;
        if ours != h.state_root {
            return Err(BlockError::StateRoot {
                height: h.state_height.0,
                claimed: h.state_root,
                actual: ours,
            });
        }
        let unverified: Vec<&SignedTransaction> =
            block.txs.iter().filter(|t| !verified(&t.hash())).collect();
        if let Some(&i) = verify_all(&unverified).first() {
            return Err(BlockError::BadSignature(unverified[i].hash()));
        }
        Ok(())
    }
}
