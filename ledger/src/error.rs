//! The ledger crate's errors. Each variant says what was wrong and what to do.

use crate::primitives::Address;

/// Why untrusted bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("input truncated: field `{field}` needs {needed} bytes but only {remaining} remain")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        remaining: usize,
    },
    /// Bytes were left after a complete value.
    #[error(
        "{count} unexpected trailing bytes after a complete value; send exactly one encoded value"
    )]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A length or count above its limit.
    #[error("field `{field}` has length {len}, above the limit of {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A variable field that must not be empty was.
    #[error("field `{field}` must not be empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// The chain id differs from this chain's.
    #[error(
        "chain id {found:?} does not match this chain ({expected:?}); sign for the right chain"
    )]
    WrongChainId {
        /// This chain's id.
        expected: String,
        /// The id in the input.
        found: String,
    },
    /// 32 bytes that are not an ed25519 public key.
    #[error("field `{field}` ({address}) is not a valid ed25519 public key")]
    InvalidPublicKey {
        /// The field.
        field: &'static str,
        /// The bytes.
        address: Address,
    },
    /// Text that is not UTF-8.
    #[error("field `{field}` is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
    /// An enum tag or flag with no meaning.
    #[error("field `{field}` has unknown value {value}")]
    UnknownTag {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// Values present but not in canonical form (e.g. signers out of order).
    #[error("field `{field}` is not canonical: {reason}")]
    NotCanonical {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

/// Why a signature or certificate did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signature does not verify under the ZIP-215 rule.
    #[error("bad signature by {signer}")]
    BadSignature {
        /// The claimed signer.
        signer: Address,
    },
    /// A batch failed; these positions hold bad signatures.
    #[error("{} of the batch's signatures are invalid (first at position {})", .positions.len(), .positions.first().copied().unwrap_or(0))]
    BadSignatures {
        /// Positions of the invalid items.
        positions: Vec<usize>,
    },
    /// A certificate names a signer index outside the validator set.
    #[error("certificate names signer index {index} but the validator set has {count} validators")]
    UnknownSigner {
        /// The index.
        index: u16,
        /// Validators in the set.
        count: usize,
    },
    /// A certificate lists a signer twice or out of order.
    #[error("certificate lists signer index {index} twice or out of ascending order")]
    DuplicateSigner {
        /// The index.
        index: u16,
    },
    /// The signers do not hold a quorum of voting power.
    #[error("certificate signers hold {have} voting power; a quorum needs at least {need}")]
    NoQuorum {
        /// Power of the signers.
        have: u64,
        /// Quorum threshold.
        need: u64,
    },
    /// A genesis (round 0) certificate that does not certify this chain's genesis block.
    #[error("round-0 certificate must certify the genesis block {expected} with no signatures")]
    BadGenesisCertificate {
        /// This chain's genesis block hash.
        expected: crate::Hash,
    },
    /// A certificate for another chain or with inconsistent fields.
    #[error("certificate is malformed: {0}")]
    Malformed(&'static str),
}
