//! The committed state admission checks against, behind a small trait so
//! unit tests can use a map instead of RocksDB.

use std::collections::{HashMap, HashSet};

use cairn_ledger::store::Store;
use cairn_ledger::{Account, Address, Hash};

use super::error::MempoolError;

/// Read access to committed state.
pub trait AccountView {
    /// The committed account (balance 0, nonce 0 if it never existed).
    fn account(&self, address: &Address) -> Result<Account, MempoolError>;
    /// Whether a transaction with this hash is committed.
    fn is_committed(&self, hash: &Hash) -> Result<bool, MempoolError>;
}

impl AccountView for Store {
    fn account(&self, address: &Address) -> Result<Account, MempoolError> {
        Store::account(self, address)
            .map(Option::unwrap_or_default)
            .map_err(|e| MempoolError::Storage(e.to_string()))
    }

    fn is_committed(&self, hash: &Hash) -> Result<bool, MempoolError> {
        self.tx_location(hash)
            .map(|l| l.is_some())
            .map_err(|e| MempoolError::Storage(e.to_string()))
    }
}

/// An in-memory view: accounts and committed hashes (for tests and benches).
#[derive(Clone, Debug, Default)]
pub struct MapView {
    /// Committed accounts.
    pub accounts: HashMap<Address, Account>,
    /// Committed transaction hashes.
    pub committed: HashSet<Hash>,
}

impl AccountView for MapView {
    fn account(&self, address: &Address) -> Result<Account, MempoolError> {
        Ok(self.accounts.get(address).copied().unwrap_or_default())
    }

    fn is_committed(&self, hash: &Hash) -> Result<bool, MempoolError> {
        Ok(self.committed.contains(hash))
    }
}
