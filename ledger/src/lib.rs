//! Cairn's ledger: every byte that is hashed or signed, and the code that
//! checks them, so the node, the explorer and an independent auditor verify
//! with the same functions.
//!
//! - [`types`]: transactions, accounts, receipts, blocks, votes, certificates,
//!   the validator set, each with one canonical encoding ([`codec`]).
//! - [`crypto`]: ed25519 keys and ZIP-215 verification, single and batched.
//! - [`merkle`]: RFC 6962 transaction roots and audit paths.
//! - [`state`]: the Jellyfish Merkle account tree and its proofs.
//! - [`execute`]: deterministic block execution.
//! - [`validate`]: every rule a block must satisfy, for the node's check
//!   before voting, block sync and the audit alike.
//! - `store` (feature `store`): the RocksDB store.

pub mod codec;
pub mod crypto;
pub mod error;
pub mod execute;
pub mod hash;
pub mod merkle;
pub mod primitives;
pub mod state;
#[cfg(feature = "store")]
pub mod store;
pub mod types;
pub mod validate;

pub use codec::{Decode, Encode};
pub use crypto::{SecretKey, Signature};
pub use error::{DecodeError, VerifyError};
pub use hash::Hash;
pub use primitives::{Address, Amount, ChainId, Height, Round};
pub use types::account::{Account, Receipt, TxStatus};
pub use types::block::{Block, BlockHeader, CommitProof, Proposal};
pub use types::cert::{Committee, QuorumCertificate, Timeout, TimeoutCertificate, Vote};
pub use types::tx::{SignedTransaction, Transaction};
pub use types::validator::{Validator, ValidatorSet};
