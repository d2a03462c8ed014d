//! The RocksDB store: committed blocks, the transaction index with receipts,
//! accounts, state-tree nodes, metadata and consensus safety data.
//!
//! Invariant: the store is always at a block boundary. Everything a committed
//! block changes (block, height index, certificate, receipts, transaction
//! index, accounts, tree nodes, tip) is written in one atomic, fsynced
//! `WriteBatch`, so a crash at any instant leaves either the previous tip or
//! the new one, never a mixture.

mod commit;
mod keys;
mod read;
mod tree;

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

use crate::error::DecodeError;
use crate::hash::Hash;
use crate::primitives::Height;
use crate::state::StateError;

pub use commit::Committed;
pub use read::{Tip, TxLocation};

/// Column families, one per kind of record.
pub(crate) mod cf {
    /// block hash -> block bytes
    pub const BLOCKS: &str = "blocks";
    /// height (u64 BE) -> block hash
    pub const HEIGHTS: &str = "heights";
    /// height (u64 BE) -> the QC certifying that block
    pub const QCS: &str = "qcs";
    /// height (u64 BE) -> receipts of the block (u32 count, then one byte each)
    pub const RECEIPTS: &str = "receipts";
    /// tx hash -> height (u64 LE) || index (u32 LE) || receipt
    pub const TXS: &str = "txs";
    /// address -> account bytes (latest state)
    pub const ACCOUNTS: &str = "accounts";
    /// borsh(NodeKey) -> borsh(Node)
    pub const TREE_NODES: &str = "tree_nodes";
    /// key hash || version (u64 BE) -> 0x00 (deleted) | 0x01 || value
    pub const TREE_VALUES: &str = "tree_values";
    /// fixed keys: tip, genesis
    pub const META: &str = "meta";
    /// consensus safety data, written and fsynced before votes leave the node
    pub const SAFETY: &str = "safety";
    /// height (u64 BE) -> commit proof (child header || child QC) of that block
    pub const COMMIT_PROOFS: &str = "commit_proofs";
    /// block hash -> block bytes: uncommitted blocks this validator voted for
    pub const PENDING: &str = "pending_blocks";

    pub const ALL: [&str; 12] = [
        BLOCKS,
        HEIGHTS,
        QCS,
        RECEIPTS,
        TXS,
        ACCOUNTS,
        TREE_NODES,
        TREE_VALUES,
        META,
        SAFETY,
        COMMIT_PROOFS,
        PENDING,
    ];
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error (permissions, corruption it detected, I/O).
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    /// A write failed because the filesystem holding the data directory has
    /// no space left (ENOSPC), whether on the write itself (the write-ahead
    /// log) or earlier in a background flush or compaction, after which
    /// RocksDB refuses every write. Nothing of the failed write is kept:
    /// each write is one atomic batch.
    #[error("the disk holding the data directory {} is full ({message})", .path.display())]
    DiskFull {
        /// The data directory.
        path: PathBuf,
        /// RocksDB's message (it names the file it was writing).
        message: String,
    },
    /// A stored record did not decode: the data directory is corrupt.
    #[error("stored {what} is corrupt: {source}")]
    Corrupt {
        /// Which record.
        what: String,
        /// Why it did not decode.
        source: DecodeError,
    },
    /// A record the store's invariants require is missing.
    #[error("data directory is inconsistent: {0}")]
    Inconsistent(String),
    /// The store has no genesis yet.
    #[error("data directory has no chain yet; initialise it from the genesis file first")]
    NotInitialized,
    /// The store holds a different chain.
    #[error("data directory holds chain with genesis {found}, not {expected}; use another --home or reset it")]
    GenesisMismatch {
        /// The genesis being opened with.
        expected: Hash,
        /// The one stored.
        found: Hash,
    },
    /// A block was committed out of order.
    #[error("cannot commit block at height {got}: the store's tip is {tip}, so the next height is {}", .tip.0 + 1)]
    NotNext {
        /// The current tip.
        tip: Height,
        /// The offered height.
        got: Height,
    },
    /// A block does not extend the tip.
    #[error("block at height {height} has parent {parent}, but the tip is {tip}")]
    WrongParent {
        /// Its height.
        height: Height,
        /// Its parent hash.
        parent: Hash,
        /// The tip's hash.
        tip: Hash,
    },
    /// The certificate is not for this block.
    #[error("certificate is for block {qc}, not {block}")]
    WrongCertificate {
        /// The block.
        block: Hash,
        /// What the QC certifies.
        qc: Hash,
    },
    /// The state tree failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// The store was opened read-only.
    #[error("store is open read-only")]
    ReadOnly,
    /// A write failed on purpose (fault injection in tests).
    #[error("write refused: the store was told to fail every write (fault injection)")]
    InjectedFailure,
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The node's durable storage.
#[derive(Debug)]
pub struct Store {
    db: DB,
    /// The data directory, for errors that should name it.
    path: PathBuf,
    read_only: bool,
    /// Every write fails once set (fault injection; never set otherwise).
    failing: std::sync::atomic::AtomicBool,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let db = DB::open_cf_descriptors(&opts, path, descriptors())?;
        Ok(Store {
            db,
            path: path.to_owned(),
            read_only: false,
            failing: Default::default(),
        })
    }

    /// Opens an existing store read-only (for audits; safe while no node writes).
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let opts = Options::default();
        let db = DB::open_cf_descriptors_read_only(&opts, path, descriptors(), false)?;
        Ok(Store {
            db,
            path: path.to_owned(),
            read_only: true,
            failing: Default::default(),
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened with the store")
    }

    fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::InjectedFailure);
        }
        Ok(())
    }

    /// What a failed write means. RocksDB has no error code for a full
    /// disk in its C API, only its status text: an I/O error whose subcode
    /// reads "No space left on device" (RocksDB's `kNoSpace`, and the
    /// OS's strerror(ENOSPC) after the file it was writing).
    fn write_error(&self, e: rocksdb::Error) -> StoreError {
        if e.kind() == rocksdb::ErrorKind::IOError && is_no_space(e.as_ref()) {
            StoreError::DiskFull {
                path: self.path.clone(),
                message: e.into_string(),
            }
        } else {
            StoreError::Db(e)
        }
    }

    /// Makes every later write fail, as a disk gone bad would (tests of the
    /// node's crash policy).
    #[cfg(feature = "fault-injection")]
    pub fn fail_writes(&self) {
        self.failing
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Writes consensus safety data and fsyncs it before returning.
    pub fn put_safety(&self, bytes: &[u8]) -> Result<()> {
        self.writable()?;
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db
            .put_cf_opt(self.cf(cf::SAFETY), b"safety", bytes, &wo)
            .map_err(|e| self.write_error(e))
    }

    /// Stores an uncommitted block the validator is about to vote for. Not
    /// fsynced by itself: the safety data written (synced) right after it
    /// flushes the log up to and including this write.
    pub fn put_pending_block(&self, block: &crate::types::block::Block) -> Result<()> {
        use crate::codec::Encode;
        self.writable()?;
        self.db
            .put_cf(self.cf(cf::PENDING), block.hash().0, block.to_bytes())
            .map_err(|e| self.write_error(e))
    }

    /// Stored uncommitted blocks above the committed tip; deletes those at
    /// or below it (committed or abandoned).
    pub fn pending_blocks(&self) -> Result<Vec<crate::types::block::Block>> {
        use crate::codec::Decode;
        let tip = self.tip()?.map(|t| t.height).unwrap_or_default();
        let mut keep = Vec::new();
        let mut stale = Vec::new();
        for item in self
            .db
            .iterator_cf(self.cf(cf::PENDING), rocksdb::IteratorMode::Start)
        {
            let (k, v) = item?;
            let block = crate::types::block::Block::from_bytes(&v).map_err(|source| {
                StoreError::Corrupt {
                    what: "pending block".into(),
                    source,
                }
            })?;
            if block.header.height > tip {
                keep.push(block);
            } else {
                stale.push(k);
            }
        }
        if !stale.is_empty() && !self.read_only {
            let mut wb = rocksdb::WriteBatch::default();
            for k in stale {
                wb.delete_cf(self.cf(cf::PENDING), k);
            }
            self.db.write(wb).map_err(|e| self.write_error(e))?;
        }
        Ok(keep)
    }

    /// The last safety data written, if any.
    pub fn safety(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(cf::SAFETY), b"safety")?)
    }
}

/// Whether RocksDB's status text is that of a full disk.
fn is_no_space(message: &str) -> bool {
    message.contains("No space left on device")
}

fn descriptors() -> Vec<ColumnFamilyDescriptor> {
    cf::ALL
        .iter()
        .map(|name| {
            let mut o = Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            // Bloom filters for point reads, in memtables and in table files:
            // admission asks the tx index about every incoming transaction,
            // and nearly all are absent; without a filter each such miss
            // walks the memtable's skip list (seen as ~7% of a loaded
            // node's CPU). Seeks (versioned state-tree values) are unaffected.
            o.set_memtable_prefix_bloom_ratio(0.05);
            o.set_memtable_whole_key_filtering(true);
            let mut table = rocksdb::BlockBasedOptions::default();
            table.set_bloom_filter(10.0, false);
            o.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(*name, o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RocksDB's status texts, as a full tmpfs produced them
    /// (`tests/tests/full_disk.rs`) and as other failures read.
    #[test]
    fn a_full_disk_is_told_apart_from_other_write_failures() {
        let cases = [
            (
                "IO error: No space left on device: While appending to file: \
                 /tmp/n/data/000004.log: No space left on device",
                true,
            ),
            (
                "IO error: No space left on device: While open a file for appending: \
                 /tmp/n/data/000009.sst: No space left on device",
                true,
            ),
            (
                "IO error: While open a file for appending: /tmp/n/data/000004.log: \
                 Permission denied",
                false,
            ),
            ("Corruption: block checksum mismatch", false),
        ];
        for (message, full) in cases {
            assert_eq!(is_no_space(message), full, "{message}");
        }
    }
}
