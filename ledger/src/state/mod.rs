//! The account state tree: a Jellyfish Merkle Tree (the `jmt` crate) keyed by
//! SHA-256(address), valued by the account's canonical bytes, versioned by height.
//!
//! Version `h` is the state after executing every block up to height `h`
//! (version 0 is genesis). Every height has a root, even when a block changes
//! nothing. Node storage is abstracted by `jmt::storage::TreeReader`:
//! [`MemTreeStore`] for genesis computation and tests, RocksDB in `store`.

mod mem;
mod proof;

pub use mem::MemTreeStore;
pub use proof::{AccountProof, ProofError};

use jmt::storage::{TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash};
use sha2::Sha256;

use crate::codec::{Decode, Encode};
use crate::hash::Hash;
use crate::primitives::{Address, Height};
use crate::types::account::Account;

/// The hasher the tree uses for keys, values and nodes.
pub type TreeHasher = Sha256;

/// Errors reading or updating the tree (storage failures or missing versions).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The underlying node storage failed, or a node the tree needs is missing.
    #[error("state tree: {0}")]
    Tree(String),
    /// A stored account value did not decode (corrupt store).
    #[error("stored account for {address} is corrupt: {source}")]
    CorruptAccount {
        /// The account.
        address: Address,
        /// Why it did not decode.
        source: crate::error::DecodeError,
    },
}

/// The tree key of an address: SHA-256(address).
pub fn key_hash(address: &Address) -> KeyHash {
    KeyHash::with::<TreeHasher>(address.0)
}

/// Read and update access to the tree over some node storage.
#[derive(Debug)]
pub struct StateTree<'a, R> {
    reader: &'a R,
}

impl<'a, R: TreeReader> StateTree<'a, R> {
    /// A tree over `reader`'s nodes.
    pub fn new(reader: &'a R) -> Self {
        StateTree { reader }
    }

    fn jmt(&self) -> JellyfishMerkleTree<'a, R, TreeHasher> {
        JellyfishMerkleTree::new(self.reader)
    }

    /// The root at `height`.
    pub fn root(&self, height: Height) -> Result<Hash, StateError> {
        self.jmt()
            .get_root_hash(height.0)
            .map(|r| Hash(r.0))
            .map_err(|e| StateError::Tree(format!("{e:#}")))
    }

    /// The account at `height` (`None` if it never existed).
    pub fn get(&self, address: &Address, height: Height) -> Result<Option<Account>, StateError> {
        let v = self
            .jmt()
            .get(key_hash(address), height.0)
            .map_err(|e| StateError::Tree(format!("{e:#}")))?;
        v.map(|bytes| decode_account(address, &bytes)).transpose()
    }

    /// The account at `height` and a proof against that height's root.
    pub fn get_with_proof(
        &self,
        address: &Address,
        height: Height,
    ) -> Result<(Option<Account>, AccountProof), StateError> {
        let (v, proof) = self
            .jmt()
            .get_with_proof(key_hash(address), height.0)
            .map_err(|e| StateError::Tree(format!("{e:#}")))?;
        let account = v.map(|bytes| decode_account(address, &bytes)).transpose()?;
        Ok((account, AccountProof::from_jmt(proof)))
    }

    /// Writes `updates` as version `height` on top of version `height - 1`
    /// (or an empty tree when `height` is 0). Returns the new root and the
    /// nodes to persist; nothing is written here.
    pub fn update(
        &self,
        updates: &[(Address, Account)],
        height: Height,
    ) -> Result<(Hash, TreeUpdateBatch), StateError> {
        let set = updates
            .iter()
            .map(|(a, acct)| (key_hash(a), Some(acct.to_bytes())));
        let (root, batch) = self
            .jmt()
            .put_value_set(set, height.0)
            .map_err(|e| StateError::Tree(format!("{e:#}")))?;
        Ok((Hash(root.0), batch))
    }
}

fn decode_account(address: &Address, bytes: &[u8]) -> Result<Account, StateError> {
    Account::from_bytes(bytes).map_err(|source| StateError::CorruptAccount {
        address: *address,
        source,
    })
}
