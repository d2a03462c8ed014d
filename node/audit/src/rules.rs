//! The audit's report of a broken block rule. The rules themselves are the
//! ledger's ([`cairn_ledger::validate`]), the same a validator applies
//! before voting and block sync before applying; this maps each to the
//! audit's stable check name (docs/AUDIT.md) with what it expected and what
//! the chain holds.

use cairn_ledger::validate::{BlockError, Certificate};
use cairn_ledger::{Block, Height, VerifyError};

use super::Discrepancy;

/// `e`, found in `block` at `height`, as a discrepancy.
pub fn discrepancy(height: Height, block: &Block, e: &BlockError) -> Discrepancy {
    let d = |check: &str, expected: String, actual: String| {
        Discrepancy::new(height, check, expected, actual)
    };
    match e {
        BlockError::WrongChain { expected, actual } => {
            d("chain-id", expected.to_string(), actual.to_string())
        }
        BlockError::TooLarge {
            count,
            bytes,
            max_txs,
            max_bytes,
        } => d(
            "block-limits",
            format!(
                "at most {max_txs} transactions and {max_bytes} transaction bytes (maxBlockTxs, maxBlockBytes)"
            ),
            format!("{count} transactions, {bytes} bytes"),
        ),
        BlockError::MemoTooLong {
            index,
            hash,
            len,
            max,
        } => d(
            "block-limits",
            format!("memos of at most {max} bytes (maxMemoBytes)"),
            format!("a {len}-byte memo (transaction {index}, hash {hash})"),
        ),
        BlockError::TxRoot { claimed, actual } => {
            d("tx-root", actual.to_string(), claimed.to_string())
        }
        BlockError::Height { parent, actual } => {
            d("height", parent.next().to_string(), actual.to_string())
        }
        BlockError::ParentHash { expected, actual } => {
            d("parent-hash", expected.to_string(), actual.to_string())
        }
        BlockError::Justify {
            expected,
            expected_height,
            expected_round,
            actual,
            actual_height,
            actual_round,
        } => d(
            "justify",
            format!("a QC for the parent {expected} (height {expected_height}, round {expected_round})"),
            format!("a QC for {actual} (height {actual_height}, round {actual_round})"),
        ),
        BlockError::Round { after_qc, actual } => d(
            "round",
            format!(
                "round {after_qc} (the justify's round + 1), or a later one with a timeout certificate of the round before"
            ),
            format!("round {actual}"),
        ),
        BlockError::StateHeightRule { expected, actual } => {
            d("state-height", expected.to_string(), actual.to_string())
        }
        BlockError::StateHeight {
            height: _,
            state_height,
        } => d(
            "state-height",
            format!("a height below {}", block.header.height),
            state_height.to_string(),
        ),
        BlockError::StateRoot {
            height: at,
            claimed,
            actual,
        } => d(
            "state-root",
            format!("{actual} (recomputed state after height {at})"),
            claimed.to_string(),
        ),
        BlockError::QcTarget {
            hash,
            height: h,
            round,
            qc_hash,
            qc_height,
            qc_round,
        } => d(
            "qc-target",
            format!("a QC for block {hash} (height {h}, round {round})"),
            format!("a QC for block {qc_hash} (height {qc_height}, round {qc_round})"),
        ),
        BlockError::Certificate { which, source } => {
            let (check, expected) = certificate_check(*which, source);
            d(check, expected.into(), source.to_string())
        }
        BlockError::BadSignature { index, hash } => {
            let from = block
                .txs
                .get(*index)
                .map_or_else(|| "its sender".to_string(), |t| t.tx().from.to_string());
            let expected = format!("a valid signature by {from} on transaction {index}");
            let actual = format!("an invalid signature (transaction {index}, hash {hash})");
            d("tx-signature", expected, actual)
        }
    }
}

/// The check a certificate that does not verify breaks, and what it should be.
fn certificate_check(which: Certificate, source: &VerifyError) -> (&'static str, &'static str) {
    let quorum = matches!(source, VerifyError::NoQuorum { .. });
    match which {
        Certificate::Qc if quorum => ("qc-quorum", "a valid quorum certificate"),
        Certificate::Qc => ("qc-signature", "a valid quorum certificate"),
        Certificate::Justify if quorum => ("justify-quorum", "a valid certificate of the parent"),
        Certificate::Justify => ("justify-signature", "a valid certificate of the parent"),
        Certificate::TimeoutCert => ("timeout-cert", "a valid timeout certificate"),
    }
}
