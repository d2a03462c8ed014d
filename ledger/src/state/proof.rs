//! Account proofs: inclusion or non-inclusion of an account in the state tree
//! at a certified root.
//!
//! Wire form: the Borsh encoding of jmt's `SparseMerkleProof` (layout in
//! `docs/SPEC.md`). Verification hashes as jmt does: leaf =
//! SHA-256("JMT::LeafNode" || key_hash || value_hash), internal =
//! SHA-256("JMT::IntrnalNode" || left || right), empty subtree =
//! "SPARSE_MERKLE_PLACEHOLDER_HASH__", value_hash = SHA-256(account bytes).

use borsh::BorshDeserialize;
use jmt::proof::SparseMerkleProof;
use jmt::RootHash;

use crate::codec::Encode;
use crate::hash::Hash;
use crate::primitives::Address;
use crate::state::{key_hash, TreeHasher};
use crate::types::account::Account;

/// Longest proof encoding accepted (256 siblings of the largest kind, plus the leaf).
pub const MAX_PROOF_LEN: usize = 4 + 256 * 65 + 1 + 64;

/// A state-tree proof for one address.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountProof(SparseMerkleProof<TreeHasher>);

/// Why a proof did not verify or decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The bytes are not a proof.
    #[error("proof bytes do not decode: {0}")]
    Malformed(String),
    /// The proof does not show the claimed account under the root.
    #[error("proof does not verify against state root {root}: {reason}")]
    Mismatch {
        /// The root checked against.
        root: Hash,
        /// jmt's explanation.
        reason: String,
    },
}

impl AccountProof {
    pub(crate) fn from_jmt(p: SparseMerkleProof<TreeHasher>) -> Self {
        AccountProof(p)
    }

    /// The proof's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(&self.0).expect("serializing to a Vec cannot fail")
    }

    /// Decodes untrusted proof bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() > MAX_PROOF_LEN {
            return Err(ProofError::Malformed(format!(
                "{} bytes is above the {MAX_PROOF_LEN}-byte limit",
                bytes.len()
            )));
        }
        SparseMerkleProof::<TreeHasher>::try_from_slice(bytes)
            .map(AccountProof)
            .map_err(|e| ProofError::Malformed(e.to_string()))
    }

    /// Checks that under `root`, `address` holds `account` (`None`: no account).
    pub fn verify(
        &self,
        root: &Hash,
        address: &Address,
        account: Option<&Account>,
    ) -> Result<(), ProofError> {
        let value = account.map(|a| a.to_bytes());
        self.0
            .verify(RootHash(root.0), key_hash(address), value)
            .map_err(|e| ProofError::Mismatch {
                root: *root,
                reason: format!("{e:#}"),
            })
    }
}
