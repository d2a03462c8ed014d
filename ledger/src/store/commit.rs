//! Initialising the store from genesis and committing blocks atomically.

use rocksdb::{WriteBatch, WriteOptions};

use super::{cf, keys, Result, Store, StoreError};
use crate::codec::Encode;
use crate::execute::{execute_block, AccountSource, Execution};
use crate::hash::Hash;
use crate::primitives::{Address, Height};
use crate::state::StateTree;
use crate::types::account::{Account, Receipt};
use crate::types::block::{Block, CommitProof};
use crate::types::cert::QuorumCertificate;

/// What committing a block produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The block's height.
    pub height: Height,
    /// The block's hash.
    pub hash: Hash,
    /// State root after executing it (version `height` of the tree).
    pub state_root: Hash,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
}

impl AccountSource for Store {
    type Error = StoreError;
    fn account(&self, address: &Address) -> Result<Account> {
        Ok(self.account(address)?.unwrap_or_default())
    }
}

impl Store {
    /// Writes the genesis block and state (height 0) if the store is empty;
    /// if it already holds this genesis, does nothing; if another, fails.
    pub fn init_genesis(&self, genesis: &Block, accounts: &[(Address, Account)]) -> Result<()> {
        self.writable()?;
        let hash = genesis.hash();
        if let Some(found) = self.genesis_hash()? {
            if found != hash {
                return Err(StoreError::GenesisMismatch {
                    expected: hash,
                    found,
                });
            }
            return Ok(());
        }
        assert_eq!(
            genesis.header.height,
            Height(0),
            "genesis block must be at height 0"
        );
        let mut sorted = accounts.to_vec();
        sorted.sort_by_key(|(a, _)| *a);
        let (root, update) = StateTree::new(self).update(&sorted, Height(0))?;
        if root != genesis.header.state_root {
            return Err(StoreError::Inconsistent(format!(
                "genesis accounts give state root {root} but the genesis block says {}",
                genesis.header.state_root
            )));
        }
        let mut wb = WriteBatch::default();
        self.batch_tree(&mut wb, &update);
        for (a, acct) in &sorted {
            wb.put_cf(self.cf(cf::ACCOUNTS), a.0, acct.to_bytes());
        }
        let qc = QuorumCertificate::genesis(hash);
        self.batch_block(&mut wb, genesis, &qc, &[], root);
        wb.put_cf(self.cf(cf::META), keys::META_GENESIS, hash.0);
        self.write_synced(wb)
    }

    /// Executes `block` on top of the tip and writes everything it changes in
    /// one fsynced batch. `qc` must certify `block` (the caller verified it).
    pub fn commit_block(&self, block: &Block, qc: &QuorumCertificate) -> Result<Committed> {
        self.commit_block_with_proof(block, qc, None)
    }

    /// Like [`Store::commit_block`], also storing a proof that `block` is
    /// committed (the caller verified it), so peers can sync up to it.
    pub fn commit_block_with_proof(
        &self,
        block: &Block,
        qc: &QuorumCertificate,
        proof: Option<&CommitProof>,
    ) -> Result<Committed> {
        self.writable()?;
        let tip = self.tip()?.ok_or(StoreError::NotInitialized)?;
        let height = block.header.height;
        if height != tip.height.next() {
            return Err(StoreError::NotNext {
                tip: tip.height,
                got: height,
            });
        }
        if block.header.parent_hash != tip.hash {
            return Err(StoreError::WrongParent {
                height,
                parent: block.header.parent_hash,
                tip: tip.hash,
            });
        }
        let hash = block.hash();
        if qc.block_hash != hash {
            return Err(StoreError::WrongCertificate {
                block: hash,
                qc: qc.block_hash,
            });
        }
        let Execution { receipts, updates } = execute_block(self, &block.txs)?;
        let list: Vec<(Address, Account)> = updates.into_iter().collect();
        let (state_root, update) = StateTree::new(self).update(&list, height)?;

        let mut wb = WriteBatch::default();
        self.batch_tree(&mut wb, &update);
        let accounts = self.cf(cf::ACCOUNTS);
        for (a, acct) in &list {
            wb.put_cf(accounts, a.0, acct.to_bytes());
        }
        self.batch_txs(&mut wb, block, &receipts)?;
        self.batch_block(&mut wb, block, qc, &receipts, state_root);
        if let Some(p) = proof {
            wb.put_cf(
                self.cf(cf::COMMIT_PROOFS),
                keys::height(height),
                p.to_bytes(),
            );
        }
        self.write_synced(wb)?;
        Ok(Committed {
            height,
            hash,
            state_root,
            receipts,
        })
    }

    /// Indexes each transaction by hash. A transaction already committed
    /// earlier (a replay a faulty leader included) keeps its first entry.
    fn batch_txs(&self, wb: &mut WriteBatch, block: &Block, receipts: &[Receipt]) -> Result<()> {
        let txs = self.cf(cf::TXS);
        let mut seen = std::collections::HashSet::with_capacity(block.txs.len());
        let keys: Vec<Hash> = block.txs.iter().map(|t| t.hash()).collect();
        let existing = self
            .db
            .batched_multi_get_cf(txs, keys.iter().map(|h| &h.0[..]), false);
        for (i, ((h, found), receipt)) in keys.iter().zip(existing).zip(receipts).enumerate() {
            if found?.is_some() || !seen.insert(*h) {
                continue;
            }
            let mut rec = Vec::with_capacity(13);
            rec.extend_from_slice(&block.header.height.0.to_le_bytes());
            rec.extend_from_slice(&(i as u32).to_le_bytes());
            rec.extend_from_slice(&receipt.to_bytes());
            wb.put_cf(txs, h.0, rec);
        }
        Ok(())
    }

    fn batch_block(
        &self,
        wb: &mut WriteBatch,
        block: &Block,
        qc: &QuorumCertificate,
        receipts: &[Receipt],
        state_root: Hash,
    ) {
        let height = block.header.height;
        let hash = block.hash();
        wb.put_cf(self.cf(cf::BLOCKS), hash.0, block.to_bytes());
        wb.put_cf(self.cf(cf::HEIGHTS), keys::height(height), hash.0);
        wb.put_cf(self.cf(cf::QCS), keys::height(height), qc.to_bytes());
        let mut r = Vec::with_capacity(4 + receipts.len());
        r.extend_from_slice(&(receipts.len() as u32).to_le_bytes());
        r.extend(receipts.iter().map(|x| x.status as u8));
        wb.put_cf(self.cf(cf::RECEIPTS), keys::height(height), r);
        let mut tip = Vec::with_capacity(72);
        tip.extend_from_slice(&height.0.to_le_bytes());
        tip.extend_from_slice(&hash.0);
        tip.extend_from_slice(&state_root.0);
        wb.put_cf(self.cf(cf::META), keys::META_TIP, tip);
    }

    fn write_synced(&self, wb: WriteBatch) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(wb, &wo).map_err(|e| self.write_error(e))
    }
}
