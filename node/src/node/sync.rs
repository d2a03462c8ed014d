//! Block sync: verifying and applying committed blocks fetched from peers,
//! and serving ours.
//!
//! Nothing a peer sends is trusted. A batch is applied only up to a block
//! proven committed — by a commit proof (its child from the next round with a
//! QC for that child) or by a 2-chain inside the batch — since a certified
//! block alone may still be abandoned. Every block's certificates, `tx_root`,
//! transaction signatures and state root are checked, and it is re-executed.

use cairn_ledger::store::{Store, StoreError};
use cairn_ledger::types::tx::verify_all;
use cairn_ledger::{Block, CommitProof, Committee, Height, QuorumCertificate, VerifyError};

/// The most blocks one sync response carries.
pub const MAX_SYNC_BLOCKS: usize = 64;

/// Committed blocks with their certificates, and a proof for the last one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncBatch {
    /// Consecutive committed blocks, each with a QC certifying it.
    pub blocks: Vec<(Block, QuorumCertificate)>,
    /// Proves the last block committed (absent if the server has none).
    pub proof: Option<CommitProof>,
}

/// Why a batch was refused (the peer that sent it is at fault unless `Store`).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The batch does not start right after our tip or skips a height.
    #[error("block at position {index} has height {got}, expected {expected}")]
    Gap {
        /// Position in the batch.
        index: usize,
        /// Its height.
        got: u64,
        /// The height we need.
        expected: u64,
    },
    /// A block does not link to its predecessor.
    #[error("block at height {0} does not extend the previous block")]
    Unlinked(u64),
    /// A certificate is not for the block it accompanies.
    #[error("certificate at height {0} is not for that block")]
    WrongCertificate(u64),
    /// A certificate or signature does not verify.
    #[error("block at height {height}: {source}")]
    Verify {
        /// The height.
        height: u64,
        /// What failed.
        source: VerifyError,
    },
    /// `tx_root` does not match.
    #[error("block at height {0}: tx_root does not match its transactions")]
    TxRoot(u64),
    /// A transaction signature is invalid.
    #[error("block at height {0} holds a transaction with an invalid signature")]
    BadTransaction(u64),
    /// The block's state root disagrees with our re-execution.
    #[error("block at height {0}: state root disagrees with re-execution")]
    StateRoot(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds the response to a request for blocks from `from` (at most `max`).
pub fn serve(store: &Store, from: Height, max: usize) -> Result<SyncBatch, StoreError> {
    let Some(tip) = store.tip()? else {
        return Ok(SyncBatch {
            blocks: vec![],
            proof: None,
        });
    };
    if from > tip.height || from.0 == 0 {
        return Ok(SyncBatch {
            blocks: vec![],
            proof: None,
        });
    }
    let want_to = Height((from.0 + max.clamp(1, MAX_SYNC_BLOCKS) as u64 - 1).min(tip.height.0));
    let (to, proof) = match store.commit_proof_at_or_below(want_to)? {
        Some((h, p)) if h >= from => (h, Some(p)),
        _ => (want_to, None),
    };
    let mut blocks = Vec::new();
    for h in from.0..=to.0 {
        let (Some(b), Some(qc)) = (store.block_at(Height(h))?, store.qc_at(Height(h))?) else {
            return Err(StoreError::Inconsistent(format!(
                "committed height {h} lacks its block or certificate"
            )));
        };
        blocks.push((b, qc));
    }
    Ok(SyncBatch { blocks, proof })
}

/// Verifies `batch` against our tip and applies every block it proves
/// committed. Returns how many blocks were applied.
pub fn apply(store: &Store, committee: &Committee, batch: &SyncBatch) -> Result<usize, SyncError> {
    let tip = store.tip()?.ok_or(StoreError::NotInitialized)?;
    let mut prev_hash = tip.hash;
    for (i, (block, qc)) in batch.blocks.iter().enumerate() {
        let h = &block.header;
        let expected = tip.height.0 + 1 + i as u64;
        if h.height.0 != expected {
            return Err(SyncError::Gap {
                index: i,
                got: h.height.0,
                expected,
            });
        }
        if h.parent_hash != prev_hash
            || h.justify.block_hash != prev_hash
            || h.chain_id != committee.chain_id
        {
            return Err(SyncError::Unlinked(expected));
        }
        let hash = block.hash();
        if qc.block_hash != hash || qc.height != h.height || qc.round != h.round {
            return Err(SyncError::WrongCertificate(expected));
        }
        let verify = |source| SyncError::Verify {
            height: expected,
            source,
        };
        h.justify.verify(committee).map_err(verify)?;
        qc.verify(committee).map_err(verify)?;
        if Block::compute_tx_root(&block.txs) != h.tx_root {
            return Err(SyncError::TxRoot(expected));
        }
        prev_hash = hash;
    }
    // How far the batch proves commitment: its last block by the proof, or
    // the first of any 2-chain inside it.
    let mut proven: Option<(usize, CommitProof)> = None;
    if let (Some(proof), Some((last, _))) = (&batch.proof, batch.blocks.last()) {
        let height = last.header.height.0;
        proof
            .verify(&last.hash(), last.header.round, committee)
            .map_err(|source| SyncError::Verify { height, source })?;
        proven = Some((batch.blocks.len() - 1, proof.clone()));
    } else {
        for i in (0..batch.blocks.len().saturating_sub(1)).rev() {
            // Block i+1 extends block i and carries its QC (checked above), and
            // its own QC verified: if it is from the next round, that is a
            // 2-chain and block i is committed.
            let (child, child_qc) = &batch.blocks[i + 1];
            if child.header.round == batch.blocks[i].0.header.round.next() {
                proven = Some((
                    i,
                    CommitProof {
                        child: child.header.clone(),
                        child_qc: child_qc.clone(),
                    },
                ));
                break;
            }
        }
    }
    let Some((last, proof)) = proven else {
        return Ok(0);
    };
    for (i, (block, qc)) in batch.blocks[..=last].iter().enumerate() {
        let height = block.header.height.0;
        if !verify_all(&block.txs).is_empty() {
            return Err(SyncError::BadTransaction(height));
        }
        if block.header.state_height >= block.header.height
            || store.state_root_at(block.header.state_height)? != block.header.state_root
        {
            return Err(SyncError::StateRoot(height));
        }
        let proof = (i == last).then_some(&proof);
        store.commit_block_with_proof(block, qc, proof)?;
    }
    Ok(last + 1)
}
