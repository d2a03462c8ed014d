//! Auditing a node's data directory: its RocksDB store opened read-only.
//!
//! Beyond the blocks, the store holds what the node derived from them —
//! receipts, the transaction index, the state root of every height, the
//! accounts table and the state tree — and a flipped byte in any of those
//! would be served to clients as truth, so each is compared with what the
//! audit recomputes: receipts, index entries and roots block by block, and
//! at the last audited height every account in the accounts table and in
//! the state tree (value and proof against the recomputed root).

use std::path::Path;

use cairn_ledger::state::StateTree;
use cairn_ledger::store::{Store, StoreError};
use cairn_ledger::types::account::Receipt;
use cairn_ledger::{Account, Address, Hash, Height};

use super::{AuditError, AuditState, BlockSource, Discrepancy, FetchResult, Fetched, StartState};

/// A read-only store.
#[derive(Debug)]
pub struct StoreSource {
    store: Store,
}

fn unavailable(e: StoreError) -> AuditError {
    AuditError::Unavailable(format!("reading the store: {e}"))
}

impl StoreSource {
    /// Opens the store in `data` (a home's `data/` directory) read-only.
    pub fn open(data: &Path) -> Result<StoreSource, AuditError> {
        if !data.join("CURRENT").exists() {
            return Err(AuditError::Unavailable(format!(
                "{} holds no RocksDB store; point --home at a node's home directory (it has data/ inside)",
                data.display()
            )));
        }
        let store = Store::open_read_only(data).map_err(|e| {
            AuditError::Unavailable(format!("cannot open the store in {}: {e}", data.display()))
        })?;
        Ok(StoreSource { store })
    }

    /// The store being audited.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn one(&self, height: Height) -> Result<FetchResult, AuditError> {
        let missing = |what: &str| {
            Ok(Err(Discrepancy::new(
                height,
                "block-missing",
                format!("the {what} at height {height}"),
                "none",
            )))
        };
        let hash = match self.store.block_hash_at(height) {
            Ok(Some(h)) => h,
            Ok(None) => return missing("height index entry"),
            Err(StoreError::Db(e)) => return Err(unavailable(StoreError::Db(e))),
            Err(e) => {
                return Ok(Err(Discrepancy::new(
                    height,
                    "block-index",
                    "a 32-byte hash",
                    e,
                )))
            }
        };
        let block = match self.store.block_by_hash(&hash) {
            Ok(Some(b)) => b,
            Ok(None) => return missing("block"),
            Err(StoreError::Db(e)) => return Err(unavailable(StoreError::Db(e))),
            Err(e) => {
                return Ok(Err(Discrepancy::new(
                    height,
                    "block-decode",
                    "a well-formed block",
                    e,
                )))
            }
        };
        let qc = match self.store.qc_at(height) {
            Ok(Some(q)) => q,
            Ok(None) => return missing("certificate"),
            Err(StoreError::Db(e)) => return Err(unavailable(StoreError::Db(e))),
            Err(e) => {
                return Ok(Err(Discrepancy::new(
                    height,
                    "qc-decode",
                    "a well-formed certificate",
                    e,
                )))
            }
        };
        Ok(Ok(Fetched {
            height,
            block,
            qc,
            indexed_hash: Some(hash),
        }))
    }

    fn check_index(&self, f: &Fetched, receipts: &[Receipt]) -> Result<(), AuditError> {
        let height = f.height;
        for (i, (tx, receipt)) in f.block.txs.iter().zip(receipts).enumerate() {
            // Formatted only for a discrepancy: this runs for every transaction.
            let want = || format!("height {height}, index {i}, {}", receipt.status.name());
            let loc = match self.store.tx_location(&tx.hash()) {
                Ok(Some(loc)) => loc,
                Ok(None) => {
                    return Err(Discrepancy::new(
                        height,
                        "tx-index",
                        want(),
                        format!("no entry for {}", tx.hash()),
                    )
                    .into())
                }
                Err(StoreError::Db(e)) => return Err(unavailable(StoreError::Db(e))),
                Err(e) => return Err(Discrepancy::new(height, "tx-index", want(), e).into()),
            };
            if (loc.height, loc.index as usize, loc.receipt) == (height, i, *receipt) {
                continue;
            }
            // A transaction included again (a replay) keeps its first entry:
            // that must be an earlier block holding this very transaction.
            let earlier = loc.height < height
                && self
                    .store
                    .block_at(loc.height)
                    .map_err(unavailable)?
                    .and_then(|b| b.txs.get(loc.index as usize).map(|t| t.hash()))
                    == Some(tx.hash());
            if !earlier {
                let actual = format!(
                    "height {}, index {}, {}",
                    loc.height,
                    loc.index,
                    loc.receipt.status.name()
                );
                return Err(Discrepancy::new(height, "tx-index", want(), actual).into());
            }
        }
        Ok(())
    }

    fn check_accounts(&self, height: Height, state: &AuditState) -> Result<(), AuditError> {
        let stored = self.store.accounts().map_err(|e| match e {
            StoreError::Db(e) => unavailable(StoreError::Db(e)),
            e => Discrepancy::new(height, "accounts", "well-formed account entries", e).into(),
        })?;
        let ours = state.accounts();
        let show = |x: Option<&(Address, Account)>| match x {
            Some((a, acct)) => format!("{a}: balance {}, nonce {}", acct.balance, acct.nonce),
            None => "no account".to_string(),
        };
        for i in 0..ours.len().max(stored.len()) {
            if ours.get(i) != stored.get(i) {
                return Err(Discrepancy::new(
                    height,
                    "accounts",
                    show(ours.get(i)),
                    show(stored.get(i)),
                )
                .into());
            }
        }
        Ok(())
    }

    fn check_tree(&self, height: Height, state: &AuditState) -> Result<(), AuditError> {
        let root = state.root();
        let stored_root = self
            .store
            .state_root_at(height)
            .map_err(|e| AuditError::from(Discrepancy::new(height, "state-tree", root, e)))?;
        if stored_root != root {
            return Err(Discrepancy::new(height, "state-tree", root, stored_root).into());
        }
        let tree = StateTree::new(&self.store);
        for (address, account) in state.accounts() {
            let want = format!(
                "{address}: balance {}, nonce {}",
                account.balance, account.nonce
            );
            let (got, proof) = tree
                .get_with_proof(&address, height)
                .map_err(|e| AuditError::from(Discrepancy::new(height, "state-tree", &want, e)))?;
            if got != Some(account) {
                let actual = got.map_or("no account".into(), |a| {
                    format!("{address}: balance {}, nonce {}", a.balance, a.nonce)
                });
                return Err(Discrepancy::new(height, "state-tree", want, actual).into());
            }
            if let Err(e) = proof.verify(&root, &address, Some(&account)) {
                return Err(Discrepancy::new(
                    height,
                    "state-tree",
                    format!("a proof of {want} under {root}"),
                    e,
                )
                .into());
            }
        }
        Ok(())
    }
}

impl BlockSource for StoreSource {
    fn tip(&self) -> Result<Height, AuditError> {
        match self.store.tip() {
            Ok(Some(t)) => Ok(t.height),
            Ok(None) => Err(AuditError::Unavailable(
                "the store holds no chain yet (no genesis written)".into(),
            )),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn fetch(&self, from: Height, to: Height) -> Result<Vec<FetchResult>, AuditError> {
        (from.0..=to.0).map(|h| self.one(Height(h))).collect()
    }

    fn state_at(&self, height: Height) -> Result<Option<StartState>, AuditError> {
        // Accounts are never deleted, so every address that exists at
        // `height` is a key of the (latest) accounts table.
        let addresses = self.store.accounts().map_err(unavailable)?;
        let tree = StateTree::new(&self.store);
        let mut out = Vec::with_capacity(addresses.len());
        for (address, _) in addresses {
            let acct = tree.get(&address, height).map_err(|e| {
                AuditError::Unavailable(format!(
                    "reading account {address} at height {height}: {e}"
                ))
            })?;
            if let Some(acct) = acct {
                out.push((address, acct));
            }
        }
        let root = self.store.state_root_at(height).map_err(unavailable)?;
        Ok(Some((out, root)))
    }

    fn check_block(&self, f: &Fetched, receipts: &[Receipt], root: Hash) -> Result<(), AuditError> {
        let height = f.height;
        let stored = match self.store.receipts_at(height) {
            Ok(r) => r,
            Err(StoreError::Db(e)) => return Err(unavailable(StoreError::Db(e))),
            Err(e) => {
                return Err(Discrepancy::new(height, "receipts", "well-formed receipts", e).into())
            }
        };
        let names = |r: &[Receipt]| {
            r.iter()
                .map(|x| x.status.name())
                .collect::<Vec<_>>()
                .join(",")
        };
        match stored {
            Some(s) if s == receipts => {}
            Some(s) => {
                return Err(Discrepancy::new(height, "receipts", names(receipts), names(&s)).into())
            }
            None => {
                return Err(Discrepancy::new(height, "receipts", names(receipts), "none").into())
            }
        }
        self.check_index(f, receipts)?;
        match self.store.state_root_at(height) {
            Ok(r) if r == root => Ok(()),
            Ok(r) => Err(Discrepancy::new(height, "stored-state-root", root, r).into()),
            Err(e) => Err(Discrepancy::new(height, "stored-state-root", root, e).into()),
        }
    }

    fn check_final(&self, height: Height, state: &AuditState) -> Result<(), AuditError> {
        let tip = self.store.tip().map_err(unavailable)?;
        // The accounts table holds the latest state only: compare it when
        // the audit reached the store's tip.
        if let Some(t) = tip.filter(|t| t.height == height) {
            if t.state_root != state.root() {
                return Err(
                    Discrepancy::new(height, "tip-record", state.root(), t.state_root).into(),
                );
            }
            self.check_accounts(height, state)?;
        }
        self.check_tree(height, state)
    }
}
