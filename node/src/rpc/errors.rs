//! Turning bad parameters, mempool rejections and storage failures into
//! Cairn's JSON-RPC errors (codes in `cairn_rpc::ErrorCode`).

use cairn_ledger::store::StoreError;
use cairn_ledger::Hash;
use cairn_rpc::{ErrorCode, ItemError};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

use cairn_mempool::MempoolError;

/// Parses `0x` + an even number of hex digits; `what` names the parameter.
pub fn parse_hex(s: &str, what: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    let Some(body) = s.strip_prefix("0x") else {
        return Err(ErrorCode::InvalidHex.error(
            format!("{what} must be a string starting with 0x followed by hex digits"),
            json!({ "param": what }),
        ));
    };
    if body.len() % 2 != 0 {
        return Err(ErrorCode::OddLengthHex.error(
            format!(
                "{what} has an odd number of hex digits ({}); each byte takes two, so check for a dropped digit",
                body.len()
            ),
            json!({ "param": what, "digits": body.len() }),
        ));
    }
    if let Some(pos) = body.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(ErrorCode::InvalidHex.error(
            format!(
                "{what} has a non-hex character at position {} after 0x; use only 0-9 and a-f",
                pos
            ),
            json!({ "param": what, "position": pos }),
        ));
    }
    hex::decode(body).map_err(|e| {
        ErrorCode::InvalidHex.error(
            format!("{what} is not valid hex: {e}"),
            json!({ "param": what }),
        )
    })
}

/// Parses a 32-byte value (`0x` + 64 hex digits).
pub fn parse_32(s: &str, what: &str) -> Result<[u8; 32], ErrorObjectOwned> {
    let bytes = parse_hex(s, what)?;
    bytes.as_slice().try_into().map_err(|_| {
        ErrorCode::WrongLength.error(
            format!(
                "{what} must be 32 bytes (0x followed by 64 hex digits), got {} bytes",
                bytes.len()
            ),
            json!({ "param": what, "bytes": bytes.len(), "expected": 32 }),
        )
    })
}

/// Parses a hash parameter.
pub fn parse_hash(s: &str, what: &str) -> Result<Hash, ErrorObjectOwned> {
    parse_32(s, what).map(Hash)
}

/// A storage failure: the node's fault, not the caller's.
pub fn internal(e: StoreError) -> ErrorObjectOwned {
    tracing::error!(error = %e, "rpc: storage read failed");
    ErrorCode::Internal.error(
        format!("the node could not read its storage ({e}); retry, and tell the operator if it persists"),
        json!({}),
    )
}

/// The JSON-RPC error for a mempool rejection.
pub fn rejection(e: &MempoolError) -> ErrorObjectOwned {
    let msg = e.to_string();
    let (code, data) = match e {
        MempoolError::TooLarge { len, max } => (
            ErrorCode::TxTooLarge,
            json!({ "bytes": len, "maxBytes": max }),
        ),
        MempoolError::Truncated(_) => (ErrorCode::TxTruncated, json!({})),
        MempoolError::TrailingBytes(_) => (ErrorCode::TxTrailingBytes, json!({})),
        MempoolError::Malformed(_) => (ErrorCode::TxMalformed, json!({})),
        MempoolError::WrongChain { expected, found } => (
            ErrorCode::WrongChainId,
            json!({ "expected": expected, "found": found }),
        ),
        MempoolError::BadSignature { hash, from } => (
            ErrorCode::InvalidSignature,
            json!({ "hash": hash, "from": from }),
        ),
        MempoolError::NonceTooLow { nonce, next } => (
            ErrorCode::NonceTooLow,
            json!({ "nonce": nonce, "accountNonce": next }),
        ),
        MempoolError::NonceTooHigh {
            nonce,
            next,
            window,
        } => (
            ErrorCode::NonceTooHigh,
            json!({ "nonce": nonce, "accountNonce": next, "window": window }),
        ),
        MempoolError::NonceInUse {
            from,
            nonce,
            existing,
        } => (
            ErrorCode::NonceInUse,
            json!({ "from": from, "nonce": nonce, "pendingHash": existing }),
        ),
        MempoolError::InsufficientBalance {
            from,
            balance,
            pending,
            amount,
        } => (
            ErrorCode::InsufficientBalance,
            json!({ "from": from, "balance": balance, "pending": pending, "amount": amount }),
        ),
        MempoolError::PoolFull {
            txs,
            bytes,
            max_txs,
            max_bytes,
        } => (
            ErrorCode::MempoolFull,
            json!({ "txs": txs, "bytes": bytes, "maxTxs": max_txs, "maxBytes": max_bytes }),
        ),
        MempoolError::SenderFull { from, pending } => (
            ErrorCode::SenderLimit,
            json!({ "from": from, "pending": pending }),
        ),
        MempoolError::Storage(_) => (ErrorCode::Internal, json!({})),
    };
    code.error(msg, data)
}

/// The per-item form of an error, for `submitTransactions`.
pub fn item(e: ErrorObjectOwned) -> ItemError {
    ItemError {
        code: e.code(),
        message: e.message().to_string(),
        data: e.data().and_then(|d| serde_json::from_str(d.get()).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_errors_are_distinct() {
        assert_eq!(parse_hex("0xab", "raw").unwrap(), vec![0xab]);
        assert_eq!(parse_hex("ab", "raw").unwrap_err().code(), 1000);
        assert_eq!(parse_hex("0xabc", "raw").unwrap_err().code(), 1001);
        let e = parse_hex("0xzz", "raw").unwrap_err();
        assert_eq!(e.code(), 1000);
        assert!(e.message().contains("position 0"));
        assert_eq!(parse_32("0xab", "hash").unwrap_err().code(), 1002);
    }

    #[test]
    fn every_rejection_has_its_own_code() {
        let d = cairn_ledger::DecodeError::Empty { field: "x" };
        let a = cairn_ledger::Address::default();
        let amt = cairn_ledger::Amount(1);
        let all = [
            MempoolError::TooLarge { len: 1, max: 1 },
            MempoolError::Truncated(d.clone()),
            MempoolError::TrailingBytes(d.clone()),
            MempoolError::Malformed(d),
            MempoolError::WrongChain {
                expected: "a".into(),
                found: "b".into(),
            },
            MempoolError::BadSignature {
                hash: Hash::ZERO,
                from: a,
            },
            MempoolError::NonceTooLow { nonce: 1, next: 2 },
            MempoolError::NonceTooHigh {
                nonce: 1,
                next: 2,
                window: 3,
            },
            MempoolError::NonceInUse {
                from: a,
                nonce: 1,
                existing: Hash::ZERO,
            },
            MempoolError::InsufficientBalance {
                from: a,
                balance: amt,
                pending: amt,
                amount: amt,
            },
            MempoolError::PoolFull {
                txs: 1,
                bytes: 1,
                max_txs: 1,
                max_bytes: 1,
            },
            MempoolError::SenderFull {
                from: a,
                pending: 1,
            },
            MempoolError::Storage("x".into()),
        ];
        let codes: std::collections::HashSet<i32> =
            all.iter().map(|e| rejection(e).code()).collect();
        assert_eq!(codes.len(), all.len());
    }
}
