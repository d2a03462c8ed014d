//! Why the mempool refused a transaction: one variant per reason, each
//! message saying what to fix.

use cairn_ledger::{Address, Amount, DecodeError, Hash};

/// A rejected transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// Longer than the node accepts.
    #[error("transaction is {len} bytes, above this node's limit of {max}; shorten the memo")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes end inside a field.
    #[error("transaction is truncated ({0}); send the complete signed transaction")]
    Truncated(DecodeError),
    /// Bytes after a complete transaction.
    #[error("transaction has trailing bytes ({0}); send exactly one signed transaction")]
    TrailingBytes(DecodeError),
    /// Any other decoding failure (invalid key, oversized memo, bad UTF-8).
    #[error("transaction does not decode: {0}; encode it as docs/SPEC.md describes")]
    Malformed(DecodeError),
    /// Signed for another chain.
    #[error("transaction is for chain {found:?} but this node runs {expected:?}; sign it for {expected:?}")]
    WrongChain {
        /// This chain's id.
        expected: String,
        /// The id in the transaction.
        found: String,
    },
    /// The signature does not verify (ZIP-215).
    #[error("signature of transaction {hash} does not verify for sender {from}; sign the transaction bytes with the sender's key")]
    BadSignature {
        /// The transaction.
        hash: Hash,
        /// Its claimed sender.
        from: Address,
    },
    /// The nonce was already used.
    #[error("nonce {nonce} is below the account's next nonce {next}; fetch the account and re-sign with nonce {next}")]
    NonceTooLow {
        /// The transaction's nonce.
        nonce: u64,
        /// The sender's committed nonce.
        next: u64,
    },
    /// The nonce is too far ahead of the committed one.
    #[error("nonce {nonce} is too far ahead of the account's next nonce {next}: at most {window} transactions per sender may be in flight, so use a nonce below {limit}, or wait for pending ones to commit", limit = next.saturating_add(*window))]
    NonceTooHigh {
        /// The transaction's nonce.
        nonce: u64,
        /// The sender's committed nonce.
        next: u64,
        /// The configured window.
        window: u64,
    },
    /// Another transaction of the sender already holds this nonce.
    #[error("nonce {nonce} of {from} is already taken by pending transaction {existing}; use the next free nonce or wait for it to commit")]
    NonceInUse {
        /// The sender.
        from: Address,
        /// The nonce.
        nonce: u64,
        /// The pending transaction holding it.
        existing: Hash,
    },
    /// The sender cannot pay the amount after its pending transactions.
    #[error("balance {balance} of {from}, less {pending} promised to its pending transactions, is below the amount {amount}; fund the account or lower the amount")]
    InsufficientBalance {
        /// The sender.
        from: Address,
        /// Committed balance.
        balance: Amount,
        /// Sum of the amounts of the sender's pending transactions.
        pending: Amount,
        /// This transaction's amount.
        amount: Amount,
    },
    /// The pool is at capacity.
    #[error("mempool is full ({txs} transactions, {bytes} bytes; limits {max_txs} and {max_bytes}); retry after the next blocks commit")]
    PoolFull {
        /// Transactions held.
        txs: usize,
        /// Bytes held.
        bytes: usize,
        /// Transaction limit.
        max_txs: usize,
        /// Byte limit.
        max_bytes: usize,
    },
    /// The sender has too many pending transactions.
    #[error("{from} already has {pending} pending transactions, the most one sender may have; wait for some to commit")]
    SenderFull {
        /// The sender.
        from: Address,
        /// Its pending transactions.
        pending: usize,
    },
    /// Committed state could not be read.
    #[error("could not read committed state ({0}); retry, and report it if it persists")]
    Storage(String),
}

/// The reason of a rejection, for counting (one Prometheus label value each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// [`MempoolError::TooLarge`].
    TooLarge,
    /// [`MempoolError::Truncated`].
    Truncated,
    /// [`MempoolError::TrailingBytes`].
    TrailingBytes,
    /// [`MempoolError::Malformed`].
    Malformed,
    /// [`MempoolError::WrongChain`].
    WrongChain,
    /// [`MempoolError::BadSignature`].
    BadSignature,
    /// [`MempoolError::NonceTooLow`].
    NonceTooLow,
    /// [`MempoolError::NonceTooHigh`].
    NonceTooHigh,
    /// [`MempoolError::NonceInUse`].
    NonceInUse,
    /// [`MempoolError::InsufficientBalance`].
    InsufficientBalance,
    /// [`MempoolError::PoolFull`].
    PoolFull,
    /// [`MempoolError::SenderFull`].
    SenderFull,
    /// [`MempoolError::Storage`].
    Storage,
}

impl RejectReason {
    /// Every reason, in a fixed order (the index of the rejection counters).
    pub const ALL: [RejectReason; 13] = [
        RejectReason::TooLarge,
        RejectReason::Truncated,
        RejectReason::TrailingBytes,
        RejectReason::Malformed,
        RejectReason::WrongChain,
        RejectReason::BadSignature,
        RejectReason::NonceTooLow,
        RejectReason::NonceTooHigh,
        RejectReason::NonceInUse,
        RejectReason::InsufficientBalance,
        RejectReason::PoolFull,
        RejectReason::SenderFull,
        RejectReason::Storage,
    ];

    /// A snake_case label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::Truncated => "truncated",
            RejectReason::TrailingBytes => "trailing_bytes",
            RejectReason::Malformed => "malformed",
            RejectReason::WrongChain => "wrong_chain",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::NonceTooLow => "nonce_too_low",
            RejectReason::NonceTooHigh => "nonce_too_high",
            RejectReason::NonceInUse => "nonce_in_use",
            RejectReason::InsufficientBalance => "insufficient_balance",
            RejectReason::PoolFull => "pool_full",
            RejectReason::SenderFull => "sender_full",
            RejectReason::Storage => "storage",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl MempoolError {
    /// Classifies a decoding failure of untrusted transaction bytes.
    pub fn from_decode(e: DecodeError) -> MempoolError {
        match e {
            DecodeError::Truncated { .. } => MempoolError::Truncated(e),
            DecodeError::TrailingBytes { .. } => MempoolError::TrailingBytes(e),
            DecodeError::WrongChainId { expected, found } => {
                MempoolError::WrongChain { expected, found }
            }
            other => MempoolError::Malformed(other),
        }
    }

    /// The reason, for counting.
    pub fn reason(&self) -> RejectReason {
        match self {
            MempoolError::TooLarge { .. } => RejectReason::TooLarge,
            MempoolError::Truncated(_) => RejectReason::Truncated,
            MempoolError::TrailingBytes(_) => RejectReason::TrailingBytes,
            MempoolError::Malformed(_) => RejectReason::Malformed,
            MempoolError::WrongChain { .. } => RejectReason::WrongChain,
            MempoolError::BadSignature { .. } => RejectReason::BadSignature,
            MempoolError::NonceTooLow { .. } => RejectReason::NonceTooLow,
            MempoolError::NonceTooHigh { .. } => RejectReason::NonceTooHigh,
            MempoolError::NonceInUse { .. } => RejectReason::NonceInUse,
            MempoolError::InsufficientBalance { .. } => RejectReason::InsufficientBalance,
            MempoolError::PoolFull { .. } => RejectReason::PoolFull,
            MempoolError::SenderFull { .. } => RejectReason::SenderFull,
            MempoolError::Storage(_) => RejectReason::Storage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_index_their_position() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }

    #[test]
    fn messages_say_what_to_fix() {
        let e = MempoolError::NonceTooLow { nonce: 7, next: 9 };
        assert_eq!(
            e.to_string(),
            "nonce 7 is below the account's next nonce 9; fetch the account and re-sign with nonce 9"
        );
        let e = MempoolError::NonceTooHigh {
            nonce: 100,
            next: 9,
            window: 64,
        };
        assert!(e.to_string().contains("use a nonce below 73"), "{e}");
    }
}
