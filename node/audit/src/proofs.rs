//! Checking what a node's RPC claims, with ledger code and the committee
//! alone: a transaction's bytes against the hash asked about, its inclusion
//! proof against its block's `tx_root`, that block's QC, and an account
//! proof against a certified state root. The explorer shows nothing as
//! "verified" unless these pass, and labels what it cannot check (receipts,
//! mempool counts) as reported by the node.

use cairn_ledger::state::AccountProof;
use cairn_ledger::{
    merkle, Account, Address, Block, BlockHeader, Committee, Decode, Hash, Height,
    QuorumCertificate, Round, Signature, SignedTransaction,
};
use cairn_rpc::{AccountInfo, QcView, RawBlock, TransactionInfo, TransactionProof, TxState};

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofFailure(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, ProofFailure> {
    Err(ProofFailure(msg.into()))
}

/// A QC from its JSON view.
pub fn qc_from_view(v: &QcView) -> Result<QuorumCertificate, ProofFailure> {
    let signatures = v
        .signatures
        .iter()
        .map(|s| {
            let bytes = cairn_ledger::hash::parse_hex(&s.signature, "QC signature")
                .map_err(ProofFailure)?;
            let sig: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
                ProofFailure(format!("QC signature is {} bytes, not 64", b.len()))
            })?;
            Ok((s.signer, Signature(sig)))
        })
        .collect::<Result<_, ProofFailure>>()?;
    Ok(QuorumCertificate {
        block_hash: v.block_hash,
        height: Height(v.height),
        round: Round(v.round),
        signatures,
    })
}

/// Checks that `qc` certifies the block `header` (hash `hash`) under `committee`.
pub fn verify_certified(
    header: &BlockHeader,
    hash: &Hash,
    qc: &QuorumCertificate,
    committee: &Committee,
) -> Result<(), ProofFailure> {
    if qc.block_hash != *hash || qc.height != header.height || qc.round != header.round {
        return fail(format!(
            "the QC is for block {} at height {} round {}, not block {hash} at height {} round {}",
            qc.block_hash, qc.height, qc.round, header.height, header.round
        ));
    }
    qc.verify(committee)
        .map_err(|e| ProofFailure(format!("the block's QC does not verify: {e}")))
}

/// What a verified transaction proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTx {
    /// The block holding the transaction.
    pub block_hash: Hash,
    /// Its height.
    pub height: Height,
    /// Signers of its QC.
    pub signers: usize,
}

/// Verifies a `getTransactionProof` answer: the header bytes hash to the
/// certified block, the audit path leads from the transaction's hash to the
/// header's `tx_root`, and the QC holds a quorum of valid signatures.
pub fn verify_tx_proof(
    p: &TransactionProof,
    committee: &Committee,
) -> Result<VerifiedTx, ProofFailure> {
    let raw = cairn_ledger::hash::parse_hex(&p.header_raw, "headerRaw").map_err(ProofFailure)?;
    let header = BlockHeader::from_bytes(&raw)
        .map_err(|e| ProofFailure(format!("headerRaw is not a block header: {e}")))?;
    let hash = header.hash();
    if hash != p.header.hash
        || header.tx_root != p.header.tx_root
        || header.tx_count != p.header.tx_count
        || header.height.0 != p.header.height
    {
        return fail("the decoded header disagrees with headerRaw");
    }
    if !merkle::verify_inclusion(
        &p.hash.0,
        u64::from(p.index),
        u64::from(header.tx_count),
        &p.audit_path,
        &header.tx_root,
    ) {
        return fail(format!(
            "the audit path does not lead from {} (leaf {} of {}) to tx_root {}",
            p.hash, p.index, header.tx_count, header.tx_root
        ));
    }
    let qc = qc_from_view(&p.qc)?;
    verify_certified(&header, &hash, &qc, committee)?;
    Ok(VerifiedTx {
        block_hash: hash,
        height: header.height,
        signers: qc.signatures.len(),
    })
}

/// A `getTransaction` answer after [`verify_tx_answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTx {
    /// The transaction decoded from the answer's raw bytes, which hash to
    /// the hash asked about (absent when the node does not know it).
    pub transaction: Option<SignedTransaction>,
    /// For a committed (or failed) transaction, what its verified inclusion
    /// proof established; the answer's height, index and block agree with it.
    pub proof: Option<VerifiedTx>,
}

/// Checks a `getTransaction` answer for `requested` and, when it says the
/// transaction is in a block, the `getTransactionProof` answer: both are
/// about `requested`; the raw bytes decode for this chain and hash to it;
/// the proof verifies ([`verify_tx_proof`]) and puts the transaction at the
/// height, index and block the answer names. The receipt stays unverified
/// (no certified commitment covers receipts).
pub fn verify_tx_answer(
    requested: &Hash,
    info: &TransactionInfo,
    proof: Option<&TransactionProof>,
    committee: &Committee,
) -> Result<CheckedTx, ProofFailure> {
    if info.hash != *requested {
        return fail(format!(
            "asked about transaction {requested}, the node answered about {}",
            info.hash
        ));
    }
    let transaction = match &info.transaction {
        Some(view) => {
            let raw = cairn_ledger::hash::parse_hex(&view.raw, "raw").map_err(ProofFailure)?;
            let tx = SignedTransaction::decode_for_chain(&raw, &committee.chain_id)
                .map_err(|e| ProofFailure(format!("the transaction's raw bytes: {e}")))?;
            if tx.hash() != *requested {
                return fail(format!(
                    "the transaction's raw bytes hash to {}, not {requested}",
                    tx.hash()
                ));
            }
            Some(tx)
        }
        None => None,
    };
    let in_block = matches!(info.status, TxState::Committed | TxState::Failed);
    if in_block != info.height.is_some() {
        return fail(format!(
            "the answer's status ({:?}) and height ({:?}) disagree",
            info.status, info.height
        ));
    }
    let Some(height) = info.height else {
        return Ok(CheckedTx {
            transaction,
            proof: None,
        });
    };
    let Some(p) = proof else {
        return fail("the transaction is said to be in a block but there is no proof");
    };
    if p.hash != *requested {
        return fail(format!(
            "the proof is for transaction {}, not {requested}",
            p.hash
        ));
    }
    let v = verify_tx_proof(p, committee)?;
    let claimed = (Some(height), info.index, info.block_hash);
    if claimed != (Some(v.height.0), Some(p.index), Some(v.block_hash)) {
        return fail(format!(
            "the answer puts the transaction at height {height}, index {:?}, block {:?}; \
             the proof at height {}, index {}, block {}",
            info.index, info.block_hash, v.height, p.index, v.block_hash
        ));
    }
    Ok(CheckedTx {
        transaction,
        proof: Some(v),
    })
}

/// Verifies a `getAccount(address, true)` answer against the block that
/// certifies its state root (`certifying`, from `getRawBlocks` at that
/// block's height): the block is `certifiedBy`, its QC verifies, its header
/// carries `stateRoot` for `height`, and the proof shows the account (or its
/// absence) under that root. The answer must be about `requested`, and an
/// absent account has balance 0 and nonce 0.
pub fn verify_account_proof(
    requested: &Address,
    info: &AccountInfo,
    certifying: &RawBlock,
    committee: &Committee,
) -> Result<(), ProofFailure> {
    if info.address != *requested {
        return fail(format!(
            "asked about account {requested}, the node answered about {}",
            info.address
        ));
    }
    if !info.exists && (info.balance.0 != 0 || info.nonce != 0) {
        return fail(format!(
            "the account is said not to exist yet has balance {} and nonce {}",
            info.balance, info.nonce
        ));
    }
    let (Some(proof), Some(certified_by)) = (&info.proof, info.certified_by) else {
        return fail("the answer carries no proof; ask with proof = true");
    };
    let bytes = |s: &str, what: &str| cairn_ledger::hash::parse_hex(s, what).map_err(ProofFailure);
    let block = Block::from_bytes(&bytes(&certifying.block, "block")?)
        .map_err(|e| ProofFailure(format!("the certifying block does not decode: {e}")))?;
    let qc = QuorumCertificate::from_bytes(&bytes(&certifying.qc, "qc")?)
        .map_err(|e| ProofFailure(format!("the certifying QC does not decode: {e}")))?;
    let hash = block.hash();
    if hash != certified_by {
        return fail(format!(
            "certifiedBy is {certified_by} but the block fetched hashes to {hash}"
        ));
    }
    verify_certified(&block.header, &hash, &qc, committee)?;
    let h = &block.header;
    if h.state_root != info.state_root || h.state_height.0 != info.height {
        return fail(format!(
            "block {hash} certifies state root {} at height {}, not {} at height {}",
            h.state_root, h.state_height, info.state_root, info.height
        ));
    }
    let proof = AccountProof::from_bytes(&bytes(proof, "proof")?)
        .map_err(|e| ProofFailure(e.to_string()))?;
    let account = Account {
        balance: info.balance,
        nonce: info.nonce,
    };
    proof
        .verify(
            &info.state_root,
            &info.address,
            info.exists.then_some(&account),
        )
        .map_err(|e| ProofFailure(e.to_string()))
}
