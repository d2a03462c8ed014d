//! Application error codes.
//!
//! JSON-RPC reserves -32768..=-32000 (parse error, invalid request, method
//! not found, invalid params, internal error, and jsonrpsee's server errors
//! such as "request too big"). Cairn's own errors use positive codes in
//! 1000..=1999, one per reason, grouped by hundreds:
//!
//! - 1000..=1099: a parameter is not well-formed (hex, lengths, list
//!   length) or the client exceeded a limit;
//! - 1100..=1199: a transaction was refused by the mempool;
//! - 1200..=1299: what was asked for does not exist;
//! - 1900..=1999: the node failed (storage).
//!
//! Every error's `message` says what was wrong and what to do; its `data` is
//! an object with at least `reason` (a stable camelCase name of the code) and
//! the values the message mentions, for programs.

use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Serialize};

/// One code per reason. The numbers are part of the API: never reuse one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    /// A hex parameter is missing its `0x` prefix or holds a non-hex digit.
    InvalidHex = 1000,
    /// A hex parameter has an odd number of digits.
    OddLengthHex = 1001,
    /// A hash or address parameter is not 32 bytes.
    WrongLength = 1002,
    /// `submitTransactions` got more items than the node accepts at once.
    TooManyItems = 1003,
    /// The client's IP sent more transactions than the per-IP rate limit allows.
    RateLimited = 1004,

    /// The transaction bytes end inside a field.
    TxTruncated = 1100,
    /// Bytes follow a complete transaction.
    TxTrailingBytes = 1101,
    /// The transaction does not decode (bad key, oversized memo, bad UTF-8...).
    TxMalformed = 1102,
    /// The transaction is longer than the node accepts.
    TxTooLarge = 1103,
    /// The transaction is signed for another chain.
    WrongChainId = 1104,
    /// The signature does not verify.
    InvalidSignature = 1105,
    /// The nonce is below the sender's account nonce: it can never execute.
    NonceTooLow = 1106,
    /// The nonce is too far above the sender's account nonce.
    NonceTooHigh = 1107,
    /// Another transaction with this sender and nonce is already pending.
    NonceInUse = 1108,
    /// The sender's balance, less its pending transactions, is below the amount.
    InsufficientBalance = 1109,
    /// The mempool holds as many transactions or bytes as it may.
    MempoolFull = 1110,
    /// The sender has as many pending transactions as one sender may.
    SenderLimit = 1111,

    /// No committed block matches.
    BlockNotFound = 1200,
    /// No committed transaction has this hash.
    TransactionNotFound = 1201,

    /// The node could not read its storage.
    Internal = 1900,
}

impl ErrorCode {
    /// Every code, in numeric order (for docs and tests).
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::InvalidHex,
        ErrorCode::OddLengthHex,
        ErrorCode::WrongLength,
        ErrorCode::TooManyItems,
        ErrorCode::RateLimited,
        ErrorCode::TxTruncated,
        ErrorCode::TxTrailingBytes,
        ErrorCode::TxMalformed,
        ErrorCode::TxTooLarge,
        ErrorCode::WrongChainId,
        ErrorCode::InvalidSignature,
        ErrorCode::NonceTooLow,
        ErrorCode::NonceTooHigh,
        ErrorCode::NonceInUse,
        ErrorCode::InsufficientBalance,
        ErrorCode::MempoolFull,
        ErrorCode::SenderLimit,
        ErrorCode::BlockNotFound,
        ErrorCode::TransactionNotFound,
        ErrorCode::Internal,
    ];

    /// The numeric code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The code for a number, if it is one of Cairn's.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The stable camelCase name carried in `data.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorCode::InvalidHex => "invalidHex",
            ErrorCode::OddLengthHex => "oddLengthHex",
            ErrorCode::WrongLength => "wrongLength",
            ErrorCode::TooManyItems => "tooManyItems",
            ErrorCode::RateLimited => "rateLimited",
            ErrorCode::TxTruncated => "txTruncated",
            ErrorCode::TxTrailingBytes => "txTrailingBytes",
            ErrorCode::TxMalformed => "txMalformed",
            ErrorCode::TxTooLarge => "txTooLarge",
            ErrorCode::WrongChainId => "wrongChainId",
            ErrorCode::InvalidSignature => "invalidSignature",
            ErrorCode::NonceTooLow => "nonceTooLow",
            ErrorCode::NonceTooHigh => "nonceTooHigh",
            ErrorCode::NonceInUse => "nonceInUse",
            ErrorCode::InsufficientBalance => "insufficientBalance",
            ErrorCode::MempoolFull => "mempoolFull",
            ErrorCode::SenderLimit => "senderLimit",
            ErrorCode::BlockNotFound => "blockNotFound",
            ErrorCode::TransactionNotFound => "transactionNotFound",
            ErrorCode::Internal => "internal",
        }
    }

    /// Builds the JSON-RPC error object: this code, `message`, and `data`
    /// = `{"reason": ..., ...details}` (`details` must be a JSON object or null).
    pub fn error(self, message: impl Into<String>, details: serde_json::Value) -> ErrorObjectOwned {
        let mut data = serde_json::Map::new();
        data.insert("reason".into(), self.reason().into());
        if let serde_json::Value::Object(fields) = details {
            data.extend(fields);
        }
        ErrorObjectOwned::owned(
            self.code(),
            message.into(),
            Some(serde_json::Value::Object(data)),
        )
    }
}

/// The `data` of a Cairn error, as a client reads it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    /// The code's stable name (see [`ErrorCode::reason`]).
    pub reason: String,
    /// The other fields, code-specific.
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_outside_the_reserved_range_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!((1000..=1999).contains(&c.code()), "{c:?}");
            assert!(seen.insert(c.code()), "duplicate {c:?}");
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        let names: std::collections::HashSet<_> =
            ErrorCode::ALL.iter().map(|c| c.reason()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn error_carries_reason_and_details() {
        let e = ErrorCode::NonceTooLow.error("nonce 7 is below 9", serde_json::json!({"nonce": 7}));
        assert_eq!(e.code(), 1106);
        let data: ErrorData = serde_json::from_str(e.data().unwrap().get()).unwrap();
        assert_eq!(data.reason, "nonceTooLow");
        assert_eq!(data.details["nonce"], 7);
    }
}
