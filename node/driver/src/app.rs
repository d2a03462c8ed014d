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
use cairn_ledger::validate::{self, BlockError};
use cairn_ledger::{Address, Block, BlockHeader, ChainId, Hash, SignedTransaction};

/// Why a block cannot be built or is refused.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The block breaks a rule ([`cairn_ledger::validate`]).
    #[error(transparent)]
    Invalid(#[from] BlockError),
    /// We have not executed up to the height the block describes.
    #[error("block describes state at height {wanted}, but this node has executed only to {have}")]
    NotExecuted {
        /// The block's state height.
        wanted: u64,
        /// Our tip.
        have: u64,
    },
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
    fn state_root(&self, state_height: cairn_ledger::Height) -> Result<Hash, AppError> {
        let tip = self.store.tip()?.ok_or(StoreError::NotInitialized)?;
        if tip.height < state_height {
            return Err(AppError::NotExecuted {
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
    ) -> Result<Block, AppError> {
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

    /// Checks everything about `block` that consensus does not (its
    /// certificates and parent link are the core's): contents and limits,
    /// the state root, and every transaction signature not already verified
    /// (`verified` says which were, e.g. admitted to our mempool). The rules
    /// are the ledger's, shared with block sync and the audit.
    /// CPU-heavy: run it off the consensus task.
    pub fn check(&self, block: &Block, verified: impl Fn(&Hash) -> bool) -> Result<(), AppError> {
        let state_root = self.state_root(block.header.state_height)?;
        let checks = validate::Checks {
            chain_id: &self.chain_id,
            limits: &self.params.block_limits(),
            parent: None,
            certificates: None,
            certified_by: None,
            verified: Some(verified),
            state_root: Some(state_root),
        };
        Ok(validate::validate(block, checks)?)
    }
}
