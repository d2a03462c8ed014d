//! Reads: by height, by block hash, by transaction hash, accounts with proofs.

use super::{cf, keys, Result, Store, StoreError};
use crate::codec::Decode;
use crate::hash::Hash;
use crate::primitives::{Address, Height};
use crate::state::{AccountProof, StateTree};
use crate::types::account::{Account, Receipt};
use crate::types::block::{Block, CommitProof};
use crate::types::cert::QuorumCertificate;

/// The last committed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// Its height.
    pub height: Height,
    /// Its hash.
    pub hash: Hash,
    /// State root after executing it.
    pub state_root: Hash,
}

/// Where a committed transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// Block height.
    pub height: Height,
    /// Position in the block.
    pub index: u32,
    /// What executing it did.
    pub receipt: Receipt,
}

fn corrupt(what: impl Into<String>) -> impl FnOnce(crate::error::DecodeError) -> StoreError {
    let what = what.into();
    move |source| StoreError::Corrupt { what, source }
}

fn hash32(bytes: &[u8], what: &str) -> Result<Hash> {
    bytes
        .try_into()
        .map(Hash)
        .map_err(|_| StoreError::Inconsistent(format!("{what} is {} bytes, not 32", bytes.len())))
}

impl Store {
    /// The last committed block, or `None` before genesis.
    pub fn tip(&self) -> Result<Option<Tip>> {
        let Some(v) = self.db.get_pinned_cf(self.cf(cf::META), keys::META_TIP)? else {
            return Ok(None);
        };
        if v.len() != 72 {
            return Err(StoreError::Inconsistent(format!(
                "tip record is {} bytes, not 72",
                v.len()
            )));
        }
        let height = Height(u64::from_le_bytes(v[..8].try_into().expect("8 bytes")));
        Ok(Some(Tip {
            height,
            hash: hash32(&v[8..40], "tip hash")?,
            state_root: hash32(&v[40..72], "tip state root")?,
        }))
    }

    /// The genesis block's hash, or `None` before genesis.
    pub fn genesis_hash(&self) -> Result<Option<Hash>> {
        self.db
            .get_pinned_cf(self.cf(cf::META), keys::META_GENESIS)?
            .map(|v| hash32(&v, "genesis hash"))
            .transpose()
    }

    /// The hash of the committed block at `height`.
    pub fn block_hash_at(&self, height: Height) -> Result<Option<Hash>> {
        self.db
            .get_pinned_cf(self.cf(cf::HEIGHTS), keys::height(height))?
            .map(|v| hash32(&v, "height index entry"))
            .transpose()
    }

    /// A committed block by hash.
    pub fn block_by_hash(&self, hash: &Hash) -> Result<Option<Block>> {
        match self.db.get_pinned_cf(self.cf(cf::BLOCKS), hash.0)? {
            None => Ok(None),
            Some(v) => Block::from_bytes(&v)
                .map(Some)
                .map_err(corrupt(format!("block {hash}"))),
        }
    }

    /// The committed block at `height`.
    pub fn block_at(&self, height: Height) -> Result<Option<Block>> {
        match self.block_hash_at(height)? {
            None => Ok(None),
            Some(h) => match self.block_by_hash(&h)? {
                Some(b) => Ok(Some(b)),
                None => Err(StoreError::Inconsistent(format!(
                    "height {height} indexes block {h}, which is missing"
                ))),
            },
        }
    }

    /// The QC certifying the committed block at `height`.
    pub fn qc_at(&self, height: Height) -> Result<Option<QuorumCertificate>> {
        match self
            .db
            .get_pinned_cf(self.cf(cf::QCS), keys::height(height))?
        {
            None => Ok(None),
            Some(v) => QuorumCertificate::from_bytes(&v)
                .map(Some)
                .map_err(corrupt(format!("certificate at height {height}"))),
        }
    }

    /// The receipts of the committed block at `height`.
    pub fn receipts_at(&self, height: Height) -> Result<Option<Vec<Receipt>>> {
        let Some(v) = self
            .db
            .get_pinned_cf(self.cf(cf::RECEIPTS), keys::height(height))?
        else {
            return Ok(None);
        };
        let what = format!("receipts at height {height}");
        let mut r = crate::codec::Reader::new(&v);
        let n = r.u32("receipt count").map_err(corrupt(what.clone()))? as usize;
        let mut out = Vec::with_capacity(n.min(v.len()));
        for _ in 0..n {
            out.push(Receipt::decode_from(&mut r).map_err(corrupt(what.clone()))?);
        }
        r.finish().map_err(corrupt(what))?;
        Ok(Some(out))
    }

    /// Where a committed transaction is, and its receipt.
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<TxLocation>> {
        let Some(v) = self.db.get_pinned_cf(self.cf(cf::TXS), hash.0)? else {
            return Ok(None);
        };
        let what = format!("transaction index entry {hash}");
        let mut r = crate::codec::Reader::new(&v);
        let height = Height(r.u64("height").map_err(corrupt(what.clone()))?);
        let index = r.u32("index").map_err(corrupt(what.clone()))?;
        let receipt = Receipt::decode_from(&mut r).map_err(corrupt(what.clone()))?;
        r.finish().map_err(corrupt(what))?;
        Ok(Some(TxLocation {
            height,
            index,
            receipt,
        }))
    }

    /// The highest committed height at or below `height` that has a stored
    /// commit proof, with the proof.
    pub fn commit_proof_at_or_below(
        &self,
        height: Height,
    ) -> Result<Option<(Height, CommitProof)>> {
        let mut it = self.db.raw_iterator_cf(self.cf(cf::COMMIT_PROOFS));
        it.seek_for_prev(keys::height(height));
        if !it.valid() {
            it.status()?;
            return Ok(None);
        }
        let (Some(k), Some(v)) = (it.key(), it.value()) else {
            return Ok(None);
        };
        let h = Height(u64::from_be_bytes(k.try_into().map_err(|_| {
            StoreError::Inconsistent(format!("commit proof key is {} bytes, not 8", k.len()))
        })?));
        let proof =
            CommitProof::from_bytes(v).map_err(corrupt(format!("commit proof at height {h}")))?;
        Ok(Some((h, proof)))
    }

    /// The latest committed state of an account (`None` if it never existed).
    pub fn account(&self, address: &Address) -> Result<Option<Account>> {
        match self.db.get_pinned_cf(self.cf(cf::ACCOUNTS), address.0)? {
            None => Ok(None),
            Some(v) => Account::from_bytes(&v)
                .map(Some)
                .map_err(corrupt(format!("account {address}"))),
        }
    }

    /// The account at `height`, a proof, and the root it verifies against.
    pub fn account_with_proof(
        &self,
        address: &Address,
        height: Height,
    ) -> Result<(Option<Account>, AccountProof, Hash)> {
        let tree = StateTree::new(self);
        let root = tree.root(height)?;
        let (account, proof) = tree.get_with_proof(address, height)?;
        Ok((account, proof, root))
    }

    /// The state root after executing the block at `height`.
    pub fn state_root_at(&self, height: Height) -> Result<Hash> {
        Ok(StateTree::new(self).root(height)?)
    }

    /// Every account in the latest state, in address order (for audits and tests).
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>> {
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(cf::ACCOUNTS), rocksdb::IteratorMode::Start)
        {
            let (k, v) = item?;
            let address = Address(k.as_ref().try_into().map_err(|_| {
                StoreError::Inconsistent(format!("account key is {} bytes, not 32", k.len()))
            })?);
            let acct = Account::from_bytes(&v).map_err(corrupt(format!("account {address}")))?;
            out.push((address, acct));
        }
        Ok(out)
    }
}
