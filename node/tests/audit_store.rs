//! The offline audit against a real store, intact and corrupted each way a
//! disk or an attacker could: every corruption must be caught, at the right
//! height, by the right check. Corruptions are raw writes into RocksDB's
//! column families of a copy of the store, as bit rot or tampering would be.
//! A lying [`BlockSource`] (remote-like: no state to start from, no stored
//! data to compare) serves edited blocks, extra blocks and wrong heights.
#![allow(clippy::unwrap_used)]

mod audit_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use audit_common::ChainBuilder;
use cairn_audit::{
    self as audit, AuditError, AuditOptions, BlockSource, FetchResult, Fetched, StoreSource,
    Summary, Trusted,
};
use cairn_genesis::Genesis;
use cairn_ledger::{Block, Decode, Encode, Height, QuorumCertificate, Round};
use rand::SeedableRng;

const TIP: u64 = 12;

/// A home with a 12-block chain: transfers in most blocks, two empty ones,
/// a block after a timed-out round (carrying a TC).
fn build(home: &Path) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut c = ChainBuilder::new(home, 12);
    for h in 1..=TIP {
        let txs = if h == 7 || h == 8 {
            vec![]
        } else {
            c.transfers(40, &mut rng)
        };
        c.commit(txs, h == 9);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    home: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        build(&home);
        Fixture { _dir: dir, home }
    }

    /// A copy of the home whose store `corrupt` edits through raw RocksDB.
    fn corrupted(&self, corrupt: impl FnOnce(&rocksdb::DB)) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        copy_dir(&self.home, &home);
        let path = home.join("data");
        let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, cfs).unwrap();
        corrupt(&db);
        db.flush().unwrap();
        drop(db);
        (dir, home)
    }
}

fn trusted(home: &Path) -> Trusted {
    Trusted::from_genesis(&Genesis::load(home.join("genesis.json")).unwrap()).unwrap()
}

fn audit_home(home: &Path, opts: &AuditOptions) -> Result<Summary, AuditError> {
    let source = StoreSource::open(&home.join("data"))?;
    audit::run(&source, &trusted(home), opts)
}

fn expect_failure(home: &Path, height: u64, check: &str) {
    assert_discrepancy(audit_home(home, &AuditOptions::default()), height, check);
}

fn assert_discrepancy(r: Result<Summary, AuditError>, height: u64, check: &str) {
    match r {
        Err(AuditError::Discrepancy(d)) => {
            assert_eq!((d.height, d.check.as_str()), (height, check), "{d}");
        }
        other => panic!("expected {check} at {height}, got {other:?}"),
    }
}

fn range(from: u64, to: u64) -> AuditOptions {
    AuditOptions {
        from: Some(Height(from)),
        to: Some(Height(to)),
        progress: false,
    }
}

type Edit = Box<dyn Fn(&mut Fetched) + Send + Sync>;

/// A node that lies, as a remote source would: it cannot give the state at
/// `--from` (so the audit replays from genesis), has no stored receipts or
/// state to compare, may answer with every block up to its tip whatever
/// was asked (`extra`), and edits what it serves (`edit`), keeping the hash
/// it indexes each block under consistent with the edited bytes.
struct Liar {
    store: StoreSource,
    extra: bool,
    edit: Edit,
}

impl Liar {
    fn new(home: &Path, extra: bool, edit: impl Fn(&mut Fetched) + Send + Sync + 'static) -> Liar {
        Liar {
            store: StoreSource::open(&home.join("data")).unwrap(),
            extra,
            edit: Box::new(edit),
        }
    }

    /// A liar editing the header of the block at `height`.
    fn header(home: &Path, height: u64, edit: fn(&mut cairn_ledger::BlockHeader)) -> Liar {
        Liar::new(home, false, move |f| {
            if f.height == Height(height) {
                edit(&mut f.block.header);
                f.indexed_hash = Some(f.block.hash());
            }
        })
    }

    fn audit(&self, home: &Path, opts: &AuditOptions) -> Result<Summary, AuditError> {
        audit::run(self, &trusted(home), opts)
    }
}

impl BlockSource for Liar {
    fn tip(&self) -> Result<Height, AuditError> {
        self.store.tip()
    }

    fn fetch(&self, from: Height, to: Height) -> Result<Vec<FetchResult>, AuditError> {
        let to = if self.extra { self.store.tip()? } else { to };
        let mut blocks = self.store.fetch(from, to)?;
        for f in blocks.iter_mut().flatten() {
            (self.edit)(f);
        }
        Ok(blocks)
    }
}

fn key(h: u64) -> [u8; 8] {
    h.to_be_bytes()
}

fn cf<'a>(db: &'a rocksdb::DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name).unwrap()
}

/// The stored block at `h` and its hash key.
fn stored_block(db: &rocksdb::DB, h: u64) -> (Vec<u8>, Vec<u8>) {
    let hash = db.get_cf(cf(db, "heights"), key(h)).unwrap().unwrap();
    let bytes = db.get_cf(cf(db, "blocks"), &hash).unwrap().unwrap();
    (hash, bytes)
}

fn rewrite_block(db: &rocksdb::DB, h: u64, edit: impl FnOnce(&mut Vec<u8>, &Block)) {
    let (hash, mut bytes) = stored_block(db, h);
    let block = Block::from_bytes(&bytes).unwrap();
    edit(&mut bytes, &block);
    db.put_cf(cf(db, "blocks"), &hash, &bytes).unwrap();
}

/// Offset of transaction `i`'s first byte in the block's bytes.
fn tx_offset(block: &Block, i: usize) -> usize {
    block.header.to_bytes().len()
        + block.txs[..i]
            .iter()
            .map(|t| t.encoded_len())
            .sum::<usize>()
}

/// The auditor re-derives leaders from the TCs in the chain, not only the
/// QCs: block 9 carries a TC validator 2 did not sign, so round 11 after it
/// rotates over 0, 1, 3 (validator 3), where the QCs alone (all signed by
/// 0, 1, 2) would give validator 2. A block 10 from validator 2 is refused.
#[test]
fn a_proposer_ruled_out_by_a_timeout_certificate_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    {
        let mut c = ChainBuilder::new(&home, 4);
        for h in 1..=9 {
            c.commit(vec![], h == 9);
        }
        let b = c.commit_by(vec![], false, Some(2));
        assert_eq!((b.header.height, b.header.round), (Height(10), Round(11)));
    }
    expect_failure(&home, 10, "proposer");
}

#[test]
fn intact_store_audits_clean_and_from_a_height() {
    let f = Fixture::new();
    let s = audit_home(&f.home, &AuditOptions::default()).unwrap();
    assert_eq!((s.from_height, s.to_height, s.blocks), (0, TIP, TIP));
    assert_eq!(s.transactions, 40 * (TIP - 2));
    assert_eq!(s.accounts, 12);
    let store = StoreSource::open(&f.home.join("data")).unwrap();
    let tip = store.store().tip().unwrap().unwrap();
    assert_eq!((s.tip_hash, s.state_root), (tip.hash, tip.state_root));
    drop(store);

    // From a height in the middle (state loaded from the versioned tree), and a prefix.
    let opts = AuditOptions {
        from: Some(Height(5)),
        to: Some(Height(10)),
        progress: false,
    };
    let part = audit_home(&f.home, &opts).unwrap();
    assert_eq!((part.from_height, part.to_height, part.blocks), (5, 10, 5));
    assert_eq!(part.transactions, 40 * 3);
    let opts = AuditOptions {
        from: None,
        to: Some(Height(10)),
        progress: false,
    };
    let prefix = audit_home(&f.home, &opts).unwrap();
    assert_eq!(part.state_root, prefix.state_root);
    assert_eq!(part.tip_hash, prefix.tip_hash);
}

#[test]
fn a_flipped_header_byte_breaks_the_block_hash() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        rewrite_block(db, 3, |bytes, b| {
            // timestamp_ms: after chain id, height, round, parent and proposer.
            let at = 1 + b.header.chain_id.as_str().len() + 8 + 8 + 32 + 32;
            bytes[at] ^= 1;
        })
    });
    expect_failure(&home, 3, "block-hash");
}

#[test]
fn a_flipped_transaction_byte_breaks_its_signature() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        rewrite_block(db, 4, |bytes, b| {
            // The amount of transaction 5.
            let at = tx_offset(b, 5) + 1 + b.header.chain_id.as_str().len() + 64;
            bytes[at] ^= 0x10;
        })
    });
    expect_failure(&home, 4, "tx-signature");
}

#[test]
fn a_flipped_signature_byte_is_caught() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        rewrite_block(db, 6, |bytes, b| {
            let at = tx_offset(b, 11) + b.txs[11].encoded_len() - 10;
            bytes[at] ^= 0x01;
        })
    });
    expect_failure(&home, 6, "tx-signature");
}

#[test]
fn swapped_transactions_break_the_tx_root() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        rewrite_block(db, 2, |bytes, b| {
            let mut swapped = b.clone();
            swapped.txs.swap(0, 1);
            *bytes = swapped.to_bytes();
            assert_eq!(swapped.hash(), b.hash(), "the header is unchanged");
        })
    });
    expect_failure(&home, 2, "tx-root");
}

#[test]
fn a_flipped_qc_signature_is_caught() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        let mut qc = db.get_cf(cf(db, "qcs"), key(5)).unwrap().unwrap();
        let n = qc.len();
        qc[n - 3] ^= 0x40;
        QuorumCertificate::from_bytes(&qc).unwrap();
        db.put_cf(cf(db, "qcs"), key(5), &qc).unwrap();
    });
    expect_failure(&home, 5, "qc-signature");
}

#[test]
fn a_qc_without_quorum_is_caught() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        let bytes = db.get_cf(cf(db, "qcs"), key(8)).unwrap().unwrap();
        let mut qc = QuorumCertificate::from_bytes(&bytes).unwrap();
        qc.signatures.pop();
        db.put_cf(cf(db, "qcs"), key(8), qc.to_bytes()).unwrap();
    });
    expect_failure(&home, 8, "qc-quorum");
}

#[test]
fn a_removed_block_is_caught() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        let (hash, _) = stored_block(db, 7);
        db.delete_cf(cf(db, "blocks"), &hash).unwrap();
    });
    expect_failure(&home, 7, "block-missing");
    let (_d, home) = f.corrupted(|db| db.delete_cf(cf(db, "heights"), key(9)).unwrap());
    expect_failure(&home, 9, "block-missing");
}

#[test]
fn a_flipped_account_entry_is_caught() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        let (k, mut v) = db
            .iterator_cf(cf(db, "accounts"), rocksdb::IteratorMode::Start)
            .nth(4)
            .unwrap()
            .unwrap();
        v[0] ^= 0x01; // the balance's low byte
        db.put_cf(cf(db, "accounts"), k, v).unwrap();
    });
    expect_failure(&home, TIP, "accounts");
}

#[test]
fn a_flipped_state_tree_value_is_caught() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        // The newest value record (version = TIP) of some key.
        let (k, mut v) = db
            .iterator_cf(cf(db, "tree_values"), rocksdb::IteratorMode::Start)
            .map(|x| x.unwrap())
            .find(|(k, v)| k[32..] == key(TIP) && v.len() == 17)
            .unwrap();
        v[3] ^= 0x02;
        db.put_cf(cf(db, "tree_values"), k, v).unwrap();
    });
    expect_failure(&home, TIP, "state-tree");
}

#[test]
fn altered_receipts_and_index_entries_are_caught() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        let mut r = db.get_cf(cf(db, "receipts"), key(3)).unwrap().unwrap();
        r[4 + 2] = if r[4 + 2] == 0 { 1 } else { 0 };
        db.put_cf(cf(db, "receipts"), key(3), r).unwrap();
    });
    expect_failure(&home, 3, "receipts");
    let (_d, home) = f.corrupted(|db| {
        let (_, bytes) = stored_block(db, 10);
        let b = Block::from_bytes(&bytes).unwrap();
        let k = b.txs[7].hash();
        let mut v = db.get_cf(cf(db, "txs"), k.0).unwrap().unwrap();
        v[8] ^= 0x01; // the index
        db.put_cf(cf(db, "txs"), k.0, v).unwrap();
    });
    expect_failure(&home, 10, "tx-index");
}

#[test]
fn the_binary_reports_json_and_exit_codes() {
    let f = Fixture::new();
    let bin = env!("CARGO_BIN_EXE_cairn");
    let run = |args: &[&str]| {
        let out = Command::new(bin).arg("audit").args(args).output().unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (
            out.status.code(),
            v,
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let home = f.home.to_str().unwrap();
    let (code, v, _) = run(&["--home", home, "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["toHeight"], TIP);
    assert_eq!(v["blocks"], TIP);
    for k in [
        "fromHeight",
        "transactions",
        "accounts",
        "tipHash",
        "stateRoot",
        "seconds",
        "blocksPerSecond",
        "transactionsPerSecond",
    ] {
        assert!(!v[k].is_null(), "missing {k} in {v}");
    }

    let (_d, bad) = f.corrupted(|db| {
        let mut qc = db.get_cf(cf(db, "qcs"), key(4)).unwrap().unwrap();
        let n = qc.len();
        qc[n - 1] ^= 0x01;
        db.put_cf(cf(db, "qcs"), key(4), &qc).unwrap();
    });
    let bad = bad.to_str().unwrap();
    let (code, v, _) = run(&["--home", bad, "--json"]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(
        (v["ok"].as_bool(), v["height"].as_u64(), v["check"].as_str()),
        (Some(false), Some(4), Some("qc-signature"))
    );
    assert!(v["expected"].is_string() && v["actual"].is_string());
    let (code, _, text) = run(&["--home", bad]);
    assert_eq!(code, Some(1));
    assert!(
        text.starts_with("audit failed at height 4: qc-signature: expected "),
        "{text}"
    );

    let (code, _, _) = run(&["--home", "/nonexistent/cairn-home"]);
    assert_eq!(code, Some(2));
    let (code, _, _) = run(&["--home", home, "--to", "999"]);
    assert_eq!(code, Some(2));
    let (code, _, _) = run(&["--rpc", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    let (code, _, _) = run(&[]);
    assert_eq!(code, Some(2), "no source is a usage error");
}

#[test]
fn extra_blocks_in_a_page_are_not_taken_unchecked() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        let mut qc = db.get_cf(cf(db, "qcs"), key(8)).unwrap().unwrap();
        let n = qc.len();
        qc[n - 3] ^= 0x40;
        db.put_cf(cf(db, "qcs"), key(8), &qc).unwrap();
    });
    // Asked for the replayed blocks 1..=4, the liar sends 1..=12: the
    // forged certificate at 8 must still be checked.
    let liar = Liar::new(&home, true, |_| {});
    assert_discrepancy(liar.audit(&home, &range(5, TIP)), 8, "qc-signature");
    assert_discrepancy(
        liar.audit(&home, &AuditOptions::default()),
        8,
        "qc-signature",
    );
    // An honest store behind an over-answering source audits as usual.
    let liar = Liar::new(&f.home, true, |_| {});
    let s = liar.audit(&f.home, &range(5, 10)).unwrap();
    let want = audit_home(&f.home, &range(5, 10)).unwrap();
    assert_eq!(
        (s.blocks, s.transactions, s.tip_hash, s.state_root),
        (
            want.blocks,
            want.transactions,
            want.tip_hash,
            want.state_root
        )
    );
}

#[test]
fn a_header_claiming_another_height_is_caught_even_when_replayed() {
    let f = Fixture::new();
    // A replayed block below --from claiming to be the last height must not
    // end the walk with a forged tip.
    let liar = Liar::header(&f.home, 3, |h| h.height = Height(TIP));
    assert_discrepancy(liar.audit(&f.home, &range(6, TIP)), 3, "height");
    // The block at --from itself.
    let liar = Liar::header(&f.home, 6, |h| h.height = Height(TIP));
    assert_discrepancy(liar.audit(&f.home, &range(6, TIP)), 6, "height");
    // A source that also delivers it as that height.
    let liar = Liar::new(&f.home, false, |f| {
        if f.height == Height(4) {
            f.block.header.height = Height(TIP);
            f.height = Height(TIP);
            f.indexed_hash = Some(f.block.hash());
        }
    });
    assert_discrepancy(liar.audit(&f.home, &range(6, TIP)), 4, "height");
    assert_discrepancy(liar.audit(&f.home, &AuditOptions::default()), 4, "height");
}

#[test]
fn a_changed_transaction_in_a_replayed_block_is_caught() {
    let f = Fixture::new();
    // Reordered transactions leave the header, its hash and (here) the
    // state alone: only the tx_root shows it.
    let liar = Liar::new(&f.home, false, |f| {
        if f.height == Height(2) {
            f.block.txs.swap(0, 1);
        }
    });
    assert_discrepancy(liar.audit(&f.home, &range(6, TIP)), 2, "tx-root");
    // One transaction replaced by a copy of another.
    let liar = Liar::new(&f.home, false, |f| {
        if f.height == Height(3) {
            f.block.txs[0] = f.block.txs[1].clone();
        }
    });
    assert_discrepancy(liar.audit(&f.home, &range(6, TIP)), 3, "tx-root");
}

#[test]
fn from_equal_to_remotely_checks_that_block() {
    let f = Fixture::new();
    let (_d, home) = f.corrupted(|db| {
        let mut qc = db.get_cf(cf(db, "qcs"), key(7)).unwrap().unwrap();
        let n = qc.len();
        qc[n - 3] ^= 0x40;
        db.put_cf(cf(db, "qcs"), key(7), &qc).unwrap();
    });
    let liar = Liar::new(&home, false, |_| {});
    assert_discrepancy(liar.audit(&home, &range(7, 7)), 7, "qc-signature");
    let liar = Liar::new(&f.home, false, |_| {});
    let s = liar.audit(&f.home, &range(7, 7)).unwrap();
    let want = audit_home(&f.home, &range(7, 7)).unwrap();
    assert_eq!((s.blocks, s.tip_hash), (0, want.tip_hash));
    assert_eq!(s.state_root, want.state_root);
}

#[test]
fn the_links_between_replayed_blocks_are_checked() {
    let f = Fixture::new();
    type HeaderEdit = fn(&mut cairn_ledger::BlockHeader);
    let cases: [(&str, HeaderEdit); 5] = [
        ("parent-hash", |h| h.parent_hash.0[0] ^= 1),
        ("justify", |h| h.justify.round = h.justify.round.next()),
        ("round", |h| h.round = Round(h.round.0 + 5)),
        ("state-height", |h| h.state_height = h.state_height.next()),
        ("state-root", |h| h.state_root.0[0] ^= 1),
    ];
    for (check, edit) in cases {
        let liar = Liar::header(&f.home, 3, edit);
        assert_discrepancy(liar.audit(&f.home, &range(8, TIP)), 3, check);
    }
}

#[test]
fn block_limits_from_the_genesis_are_enforced() {
    let f = Fixture::new();
    let source = StoreSource::open(&f.home.join("data")).unwrap();
    let liar = Liar::new(&f.home, false, |_| {});
    let limited = |edit: fn(&mut Trusted)| {
        let mut t = trusted(&f.home);
        edit(&mut t);
        t
    };
    let cases: [fn(&mut Trusted); 3] = [
        |t| t.params.max_block_txs = 39,
        |t| t.params.max_block_bytes = 1000,
        |t| t.params.max_memo_bytes = 4, // the transfers carry "audit"
    ];
    for edit in cases {
        let t = limited(edit);
        let opts = AuditOptions::default();
        assert_discrepancy(audit::run(&source, &t, &opts), 1, "block-limits");
        // Replayed blocks too.
        assert_discrepancy(audit::run(&liar, &t, &range(6, TIP)), 1, "block-limits");
    }
}
