//! Ledger types to their JSON views: what the server answers and what the
//! explorer shows for a transaction it checked, so both render the same JSON.

use crate::types::{
    BlockTransactions, BlockView, HeaderView, NewBlock, QcView, ReceiptView, SignerView, TcView,
    TimeoutSignerView, TransactionView,
};
use cairn_ledger::{
    Block, BlockHeader, Encode, QuorumCertificate, Receipt, SignedTransaction, TimeoutCertificate,
    TxStatus,
};

/// `0x` + lowercase hex.
pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A transaction.
pub fn tx_view(t: &SignedTransaction) -> TransactionView {
    let tx = t.tx();
    TransactionView {
        hash: t.hash(),
        chain_id: tx.chain_id.to_string(),
        from: tx.from,
        to: tx.to,
        amount: tx.amount,
        nonce: tx.nonce,
        memo: hex0x(&tx.memo),
        signature: hex0x(&t.signature().0),
        raw: hex0x(&t.to_bytes()),
    }
}

/// A receipt.
pub fn receipt_view(r: &Receipt) -> ReceiptView {
    ReceiptView {
        status: r.status.name().to_string(),
        description: r.status.describe().to_string(),
    }
}

/// Whether a receipt means the transfer happened.
pub fn succeeded(r: &Receipt) -> bool {
    r.status == TxStatus::Success
}

/// A QC.
pub fn qc_view(qc: &QuorumCertificate) -> QcView {
    QcView {
        block_hash: qc.block_hash,
        height: qc.height.0,
        round: qc.round.0,
        signatures: qc
            .signatures
            .iter()
            .map(|(signer, sig)| SignerView {
                signer: *signer,
                signature: hex0x(&sig.0),
            })
            .collect(),
    }
}

fn tc_view(tc: &TimeoutCertificate) -> TcView {
    TcView {
        round: tc.round.0,
        signatures: tc
            .signatures
            .iter()
            .map(|(signer, high, sig)| TimeoutSignerView {
                signer: *signer,
                high_qc_round: high.0,
                signature: hex0x(&sig.0),
            })
            .collect(),
    }
}

/// A header.
pub fn header_view(h: &BlockHeader) -> HeaderView {
    HeaderView {
        hash: h.hash(),
        chain_id: h.chain_id.to_string(),
        height: h.height.0,
        round: h.round.0,
        parent_hash: h.parent_hash,
        proposer: h.proposer,
        timestamp_ms: h.timestamp_ms,
        tx_root: h.tx_root,
        tx_count: h.tx_count,
        state_root: h.state_root,
        state_height: h.state_height.0,
        justify: qc_view(&h.justify),
        timeout_cert: h.timeout_cert.as_ref().map(tc_view),
    }
}

/// A block with the QC certifying it.
pub fn block_view(b: &Block, qc: &QuorumCertificate, full: bool) -> BlockView {
    let transactions = if full {
        BlockTransactions::Full(b.txs.iter().map(tx_view).collect())
    } else {
        BlockTransactions::Hashes(b.txs.iter().map(|t| t.hash()).collect())
    };
    BlockView {
        header: header_view(&b.header),
        transactions,
        qc: qc_view(qc),
    }
}

/// A subscription's block summary. `state_root` is the state after it.
pub fn new_block(b: &Block, state_root: cairn_ledger::Hash) -> NewBlock {
    NewBlock {
        height: b.header.height.0,
        hash: b.hash(),
        round: b.header.round.0,
        tx_count: b.header.tx_count,
        state_root,
        timestamp_ms: b.header.timestamp_ms,
    }
}
