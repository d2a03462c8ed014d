//! One home for "is this block valid": every rule a block must satisfy beyond
//! its encoding, as functions with one error type, so that a validator
//! checking a proposal before it votes, block sync applying fetched blocks
//! and the auditor re-verifying a stored chain can never disagree.
//!
//! The rules come in stages because the three callers hold different things
//! at different times: a proposal's certificates are verified by the
//! consensus core as messages and its parent link too, while sync and the
//! audit check both; the audit batches signatures across many blocks.
//! [`validate`] runs every stage a caller names in [`Checks`]; the stages
//! are public for callers that pipeline them (the audit).
//!
//! - [`check_contents`] ([`check_chain`], [`check_limits`],
//!   [`check_tx_root`]): chain id, the chain's limits (count, bytes, memo
//!   length) and `tx_root`.
//! - [`check_extends`]: height, parent link, a `justify` certifying the
//!   parent, the round and `state_height` rules.
//! - [`check_certificates`]: `justify` and any timeout certificate verify.
//! - [`check_certified_by`]: a QC for this very block verifies.
//! - [`check_signatures`]: every transaction signature (ZIP-215, batched).
//! - [`check_state_height`], [`check_state_root`]: `state_root` is the
//!   state after `state_height`, an ancestor's height.

use crate::error::VerifyError;
use crate::types::tx::verify_all;
use crate::{
    Block, BlockHeader, ChainId, Committee, Hash, Height, QuorumCertificate, SignedTransaction,
};

/// The chain's limits on a block's contents (from the genesis consensus
/// parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLimits {
    /// Most transactions in one block.
    pub max_txs: u32,
    /// Most transaction bytes (encoded, summed) in one block.
    pub max_bytes: u64,
    /// Longest memo a transaction may carry.
    pub max_memo_bytes: u16,
}

/// Which certificate failed to verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Certificate {
    /// The QC certifying the block itself.
    Qc,
    /// The block's `justify`, certifying its parent.
    Justify,
    /// The block's timeout certificate.
    TimeoutCert,
}

impl std::fmt::Display for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Certificate::Qc => "its quorum certificate",
            Certificate::Justify => "its justify (the parent's certificate)",
            Certificate::TimeoutCert => "its timeout certificate",
        })
    }
}

/// Why a block is invalid. Each variant names one rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The block is for another chain.
    #[error("block is for chain {actual}, not {expected}")]
    WrongChain {
        /// This chain.
        expected: ChainId,
        /// The block's.
        actual: ChainId,
    },
    /// Over the chain's limits on count or bytes.
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
    #[error("transaction {index} ({hash}) has a {len}-byte memo; the chain's limit is {max}")]
    MemoTooLong {
        /// Position in the block.
        index: usize,
        /// Its hash.
        hash: Hash,
        /// Its memo's length.
        len: usize,
        /// The limit.
        max: u16,
    },
    /// `tx_root` does not match the transactions.
    #[error("tx_root {claimed} does not match the transactions ({actual})")]
    TxRoot {
        /// In the header.
        claimed: Hash,
        /// Computed.
        actual: Hash,
    },
    /// The block is not at the height after its parent.
    #[error("block has height {actual}, but its parent is at {parent}")]
    Height {
        /// The parent's height.
        parent: Height,
        /// The block's.
        actual: Height,
    },
    /// `parent_hash` does not name the parent.
    #[error("parent_hash is {actual}, not the parent {expected}")]
    ParentHash {
        /// The parent.
        expected: Hash,
        /// The block's `parent_hash`.
        actual: Hash,
    },
    /// `justify` does not certify the parent.
    #[error(
        "justify is a QC for {actual} (height {actual_height}, round {actual_round}), not for \
         the parent {expected} (height {expected_height}, round {expected_round})"
    )]
    Justify {
        /// The parent.
        expected: Hash,
        /// Its height.
        expected_height: Height,
        /// Its round.
        expected_round: crate::Round,
        /// What the justify certifies.
        actual: Hash,
        /// Its height.
        actual_height: Height,
        /// Its round.
        actual_round: crate::Round,
    },
    /// The round is neither the justify's next one nor a later one entered
    /// by a timeout certificate of the previous round that allows it.
    #[error(
        "round {actual}: expected round {after_qc} (the justify's round + 1), or a later one \
         with a timeout certificate of the round before whose highest QC round is at most the \
         justify's"
    )]
    Round {
        /// The justify's round + 1.
        after_qc: crate::Round,
        /// The block's round.
        actual: crate::Round,
    },
    /// `state_height` is not the highest height the parent's chain commits.
    #[error("state_height is {actual}; the chain the block extends commits up to {expected}")]
    StateHeightRule {
        /// The height the parent's certificates commit.
        expected: Height,
        /// The block's.
        actual: Height,
    },
    /// The QC offered for the block is for something else.
    #[error(
        "the quorum certificate is for block {qc_hash} (height {qc_height}, round {qc_round}), \
         not this block {hash} (height {height}, round {round})"
    )]
    QcTarget {
        /// The block's hash.
        hash: Hash,
        /// Its height.
        height: Height,
        /// Its round.
        round: crate::Round,
        /// The QC's block hash.
        qc_hash: Hash,
        /// The QC's height.
        qc_height: Height,
        /// The QC's round.
        qc_round: crate::Round,
    },
    /// A certificate does not verify.
    #[error("{which} does not verify: {source}")]
    Certificate {
        /// Which one.
        which: Certificate,
        /// Why.
        source: VerifyError,
    },
    /// A transaction signature is invalid.
    #[error("transaction {index} ({hash}) has an invalid signature")]
    BadSignature {
        /// Position in the block.
        index: usize,
        /// Its hash.
        hash: Hash,
    },
    /// `state_height` is not below the block's height.
    #[error("block at height {height} claims the state at height {state_height}")]
    StateHeight {
        /// The block's height.
        height: Height,
        /// Its `state_height`.
        state_height: Height,
    },
    /// The state root disagrees with execution.
    #[error("state_root at height {height} is {claimed}, but executing the chain gives {actual}")]
    StateRoot {
        /// The height it describes.
        height: Height,
        /// In the header.
        claimed: Hash,
        /// Computed.
        actual: Hash,
    },
}

/// Result of block validation.
pub type Result<T, E = BlockError> = std::result::Result<T, E>;

/// Chain id, limits and `tx_root`: what needs nothing but the block.
pub fn check_contents(block: &Block, chain_id: &ChainId, limits: &BlockLimits) -> Result<()> {
    check_chain(block, chain_id)?;
    check_limits(block, limits)?;
    check_tx_root(block)
}

/// The block is for this chain.
pub fn check_chain(block: &Block, chain_id: &ChainId) -> Result<()> {
    if block.header.chain_id != *chain_id {
        return Err(BlockError::WrongChain {
            expected: chain_id.clone(),
            actual: block.header.chain_id.clone(),
        });
    }
    Ok(())
}

/// The chain's limits: transaction count, transaction bytes, memo length.
pub fn check_limits(block: &Block, limits: &BlockLimits) -> Result<()> {
    let bytes: u64 = block.txs.iter().map(|t| t.encoded_len() as u64).sum();
    if block.txs.len() > limits.max_txs as usize || bytes > limits.max_bytes {
        return Err(BlockError::TooLarge {
            count: block.txs.len(),
            bytes,
            max_txs: limits.max_txs,
            max_bytes: limits.max_bytes,
        });
    }
    let max = usize::from(limits.max_memo_bytes);
    if let Some((index, t)) = block
        .txs
        .iter()
        .enumerate()
        .find(|(_, t)| t.tx().memo.len() > max)
    {
        return Err(BlockError::MemoTooLong {
            index,
            hash: t.hash(),
            len: t.tx().memo.len(),
            max: limits.max_memo_bytes,
        });
    }
    Ok(())
}

/// `tx_root` is the RFC 6962 root of the block's transaction hashes.
pub fn check_tx_root(block: &Block) -> Result<()> {
    let actual = Block::compute_tx_root(&block.txs);
    if actual != block.header.tx_root {
        return Err(BlockError::TxRoot {
            claimed: block.header.tx_root,
            actual,
        });
    }
    Ok(())
}

/// The block extends `parent` (whose hash is `parent_hash`): the next
/// height, the parent's hash, a `justify` certifying exactly the parent, a
/// round the 2-chain rules allow after it, and the `state_height` the
/// parent's certificates imply (the highest height they commit: the
/// parent's justify's block if the parent directly follows its QC's round
/// — the 2-chain commit rule — else the parent's own `state_height`).
pub fn check_extends(block: &Block, parent: &BlockHeader, parent_hash: Hash) -> Result<()> {
    let h = &block.header;
    if h.height != parent.height.next() {
        return Err(BlockError::Height {
            parent: parent.height,
            actual: h.height,
        });
    }
    if h.parent_hash != parent_hash {
        return Err(BlockError::ParentHash {
            expected: parent_hash,
            actual: h.parent_hash,
        });
    }
    let j = &h.justify;
    if j.block_hash != parent_hash || j.height != parent.height || j.round != parent.round {
        return Err(BlockError::Justify {
            expected: parent_hash,
            expected_height: parent.height,
            expected_round: parent.round,
            actual: j.block_hash,
            actual_height: j.height,
            actual_round: j.round,
        });
    }
    let after_tc = h
        .timeout_cert
        .as_ref()
        .is_some_and(|tc| tc.round.next() == h.round && j.round >= tc.max_high_qc_round());
    if h.round <= parent.round || !(h.round == j.round.next() || after_tc) {
        return Err(BlockError::Round {
            after_qc: j.round.next(),
            actual: h.round,
        });
    }
    let expected = if parent.height > Height(0) && parent.round == parent.justify.round.next() {
        parent.justify.height
    } else {
        parent.state_height
    };
    if h.state_height != expected {
        return Err(BlockError::StateHeightRule {
            expected,
            actual: h.state_height,
        });
    }
    Ok(())
}

/// The certificates the block carries verify: `justify` and any timeout
/// certificate. `verified_justify` skips `justify` when the caller has just
/// verified that very certificate (block sync: the previous block's QC).
pub fn check_certificates(
    block: &Block,
    committee: &Committee,
    verified_justify: bool,
) -> Result<()> {
    let h = &block.header;
    if !verified_justify {
        h.justify
            .verify(committee)
            .map_err(|source| BlockError::Certificate {
                which: Certificate::Justify,
                source,
            })?;
    }
    if let Some(tc) = &h.timeout_cert {
        tc.verify(committee)
            .map_err(|source| BlockError::Certificate {
                which: Certificate::TimeoutCert,
                source,
            })?;
    }
    Ok(())
}

/// `qc` certifies this block (`hash` is the block's, computed once by the
/// caller) and verifies.
pub fn check_certified_by(
    block: &Block,
    hash: &Hash,
    qc: &QuorumCertificate,
    committee: &Committee,
) -> Result<()> {
    let h = &block.header;
    if qc.block_hash != *hash || qc.height != h.height || qc.round != h.round {
        return Err(BlockError::QcTarget {
            hash: *hash,
            height: h.height,
            round: h.round,
            qc_hash: qc.block_hash,
            qc_height: qc.height,
            qc_round: qc.round,
        });
    }
    qc.verify(committee)
        .map_err(|source| BlockError::Certificate {
            which: Certificate::Qc,
            source,
        })
}

/// Every transaction signature not already `verified` (e.g. admitted to a
/// mempool, which checked it) is valid; checked in ZIP-215 batches on all
/// cores. CPU-heavy: keep it off the consensus task.
pub fn check_signatures(block: &Block, verified: impl Fn(&Hash) -> bool) -> Result<()> {
    let unverified: Vec<(usize, &SignedTransaction)> = block
        .txs
        .iter()
        .enumerate()
        .filter(|(_, t)| !verified(&t.hash()))
        .collect();
    let txs: Vec<&SignedTransaction> = unverified.iter().map(|(_, t)| *t).collect();
    match verify_all(&txs).first() {
        Some(&pos) => Err(BlockError::BadSignature {
            index: unverified[pos].0,
            hash: txs[pos].hash(),
        }),
        None => Ok(()),
    }
}

/// `state_height` is below the block's height, so the state it describes
/// is that of an ancestor (a store at the parent can look its root up).
pub fn check_state_height(block: &Block) -> Result<()> {
    let h = &block.header;
    if h.state_height >= h.height {
        return Err(BlockError::StateHeight {
            height: h.height,
            state_height: h.state_height,
        });
    }
    Ok(())
}

/// `state_root` is `actual`, this caller's root of the state after
/// executing every block up to the block's `state_height` (checked by
/// [`check_state_height`] first).
pub fn check_state_root(block: &Block, actual: Hash) -> Result<()> {
    check_state_height(block)?;
    let h = &block.header;
    if h.state_root != actual {
        return Err(BlockError::StateRoot {
            height: h.state_height,
            claimed: h.state_root,
            actual,
        });
    }
    Ok(())
}

/// What a caller holds to check a block against; each `Some` turns a stage on.
#[derive(Debug)]
pub struct Checks<'a, F: Fn(&Hash) -> bool> {
    /// This chain's id.
    pub chain_id: &'a ChainId,
    /// The chain's limits.
    pub limits: &'a BlockLimits,
    /// The parent (its header and hash) the block must extend.
    pub parent: Option<(&'a BlockHeader, Hash)>,
    /// The committee, to verify the block's certificates; with
    /// `justify_verified`, its `justify` is taken as verified.
    pub certificates: Option<(&'a Committee, bool)>,
    /// A QC for the block, to check it certifies it (needs `certificates`).
    pub certified_by: Option<&'a QuorumCertificate>,
    /// Which transactions' signatures are already verified (`None`: skip
    /// the signature stage).
    pub verified: Option<F>,
    /// The state root after the block's `state_height`, as this caller
    /// computed it.
    pub state_root: Option<Hash>,
}

/// Runs every stage `checks` turns on, cheapest first; the first rule
/// broken is the error.
pub fn validate<F: Fn(&Hash) -> bool>(block: &Block, checks: Checks<'_, F>) -> Result<()> {
    check_contents(block, checks.chain_id, checks.limits)?;
    if let Some((parent, hash)) = checks.parent {
        check_extends(block, parent, hash)?;
    }
    if let Some(root) = checks.state_root {
        check_state_root(block, root)?;
    }
    if let Some((committee, justify_verified)) = checks.certificates {
        if let Some(qc) = checks.certified_by {
            check_certified_by(block, &block.hash(), qc, committee)?;
        }
        check_certificates(block, committee, justify_verified)?;
    }
    if let Some(verified) = checks.verified {
        check_signatures(block, verified)?;
    }
    Ok(())
}
