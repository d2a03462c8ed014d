//! The checks of one block that need nothing but the block, its QC and the
//! committee: run on a window of many blocks at once, on all cores, ahead
//! of the sequential execution. Transaction signatures of the whole window
//! go through one `verify_all` (ZIP-215 batches of 256 spread over rayon).

use cairn_genesis::ConsensusParams;
use cairn_ledger::types::tx::verify_all;
use cairn_ledger::{Block, Committee, Hash, SignedTransaction, VerifyError};
use rayon::prelude::*;

use super::{Discrepancy, FetchResult, Fetched, Trusted};

/// A block after its stateless checks: its hash, and the first check it
/// failed, if any (reported when the sequential pass reaches its height, so
/// that a lower height's failure always wins).
#[derive(Debug)]
pub struct Checked {
    /// The block and its QC.
    pub fetched: Fetched,
    /// The recomputed block hash.
    pub hash: Hash,
    /// The first failed stateless check.
    pub failure: Option<Discrepancy>,
}

/// Checks a window. With `signatures == false` (blocks below a remote
/// `--from`, replayed to rebuild the state and tied to the certified block
/// at `--from` by their hash links) only the cheap checks run: height,
/// chain id, indexed hash, block limits and `tx_root` — no certificate or
/// transaction signature.
pub fn verify_window(
    window: Vec<FetchResult>,
    trusted: &Trusted,
    signatures: bool,
) -> Vec<Result<Checked, Discrepancy>> {
    let committee = &trusted.state.committee;
    let bad_tx = if signatures {
        first_bad_signatures(&window)
    } else {
        vec![None; window.len()]
    };
    window
        .into_par_iter()
        .zip(bad_tx)
        .map(|(item, bad)| {
            let fetched = item?;
            let hash = fetched.block.hash();
            let failure = if signatures {
                check_block(&fetched, &hash, bad, committee, &trusted.params).err()
            } else {
                check_replayed(&fetched, &hash, committee, &trusted.params).err()
            };
            Ok(Checked {
                fetched,
                hash,
                failure,
            })
        })
        .collect()
}

/// For each block, the index of its first transaction with a bad signature.
fn first_bad_signatures(window: &[FetchResult]) -> Vec<Option<usize>> {
    let mut all: Vec<&SignedTransaction> = Vec::new();
    let mut starts = Vec::with_capacity(window.len());
    for item in window {
        starts.push(all.len());
        if let Ok(f) = item {
            all.extend(f.block.txs.iter());
        }
    }
    let mut first = vec![None; window.len()];
    for pos in verify_all(&all) {
        // The block holding position `pos`: the last start at or below it.
        let b = starts.partition_point(|s| *s <= pos) - 1;
        if first[b].is_none() {
            first[b] = Some(pos - starts[b]);
        }
    }
    first
}

fn short(e: &VerifyError) -> String {
    e.to_string()
}

/// The checks a replayed block gets: everything that needs no signature.
fn check_replayed(
    f: &Fetched,
    hash: &Hash,
    committee: &Committee,
    params: &ConsensusParams,
) -> Result<(), Discrepancy> {
    check_identity(f, hash, committee)?;
    check_limits(f, params)?;
    check_tx_root(f)
}

/// Height, chain id, and the hash the source indexes the block under.
fn check_identity(f: &Fetched, hash: &Hash, committee: &Committee) -> Result<(), Discrepancy> {
    let h = &f.block.header;
    let at = f.height;
    let fail = |check: &str, expected: String, actual: String| {
        Err(Discrepancy::new(at, check, expected, actual))
    };
    if h.height != at {
        return fail("height", at.to_string(), h.height.to_string());
    }
    if h.chain_id != committee.chain_id {
        return fail(
            "chain-id",
            committee.chain_id.to_string(),
            h.chain_id.to_string(),
        );
    }
    if let Some(indexed) = f.indexed_hash {
        if indexed != *hash {
            return fail(
                "block-hash",
                format!("{indexed} (the hash the block is indexed under)"),
                format!("{hash} (the hash of the stored bytes)"),
            );
        }
    }
    Ok(())
}

/// The genesis limits a validator enforces before voting (`App::check`):
/// transaction count, total transaction bytes, memo length.
fn check_limits(f: &Fetched, params: &ConsensusParams) -> Result<(), Discrepancy> {
    let txs = &f.block.txs;
    let bytes: u64 = txs.iter().map(|t| t.encoded_len() as u64).sum();
    if txs.len() > params.max_block_txs as usize || bytes > params.max_block_bytes {
        return Err(Discrepancy::new(
            f.height,
            "block-limits",
            format!(
                "at most {} transactions and {} transaction bytes (maxBlockTxs, maxBlockBytes)",
                params.max_block_txs, params.max_block_bytes
            ),
            format!("{} transactions, {bytes} bytes", txs.len()),
        ));
    }
    let memo = usize::from(params.max_memo_bytes);
    if let Some((i, t)) = txs
        .iter()
        .enumerate()
        .find(|(_, t)| t.tx().memo.len() > memo)
    {
        return Err(Discrepancy::new(
            f.height,
            "block-limits",
            format!("memos of at most {memo} bytes (maxMemoBytes)"),
            format!(
                "a {}-byte memo (transaction {i}, hash {})",
                t.tx().memo.len(),
                t.hash()
            ),
        ));
    }
    Ok(())
}

fn check_tx_root(f: &Fetched) -> Result<(), Discrepancy> {
    let root = Block::compute_tx_root(&f.block.txs);
    if root != f.block.header.tx_root {
        return Err(Discrepancy::new(
            f.height,
            "tx-root",
            root,
            f.block.header.tx_root,
        ));
    }
    Ok(())
}

fn check_block(
    f: &Fetched,
    hash: &Hash,
    bad_tx: Option<usize>,
    committee: &Committee,
    params: &ConsensusParams,
) -> Result<(), Discrepancy> {
    check_identity(f, hash, committee)?;
    let h = &f.block.header;
    let at = f.height;
    let fail = |check: &str, expected: String, actual: String| {
        Err(Discrepancy::new(at, check, expected, actual))
    };
    let qc = &f.qc;
    if qc.block_hash != *hash || qc.height != h.height || qc.round != h.round {
        return fail(
            "qc-target",
            format!(
                "a QC for block {hash} (height {}, round {})",
                h.height, h.round
            ),
            format!(
                "a QC for block {} (height {}, round {})",
                qc.block_hash, qc.height, qc.round
            ),
        );
    }
    if let Err(e) = qc.verify(committee) {
        let check = match e {
            VerifyError::NoQuorum { .. } => "qc-quorum",
            _ => "qc-signature",
        };
        return fail(check, "a valid quorum certificate".into(), short(&e));
    }
    check_limits(f, params)?;
    if let Some(i) = bad_tx {
        let tx = &f.block.txs[i];
        return fail(
            "tx-signature",
            format!("a valid signature by {} on transaction {i}", tx.tx().from),
            format!("an invalid signature (transaction {i}, hash {})", tx.hash()),
        );
    }
    check_tx_root(f)?;
    if let Err(e) = h.justify.verify(committee) {
        let check = match e {
            VerifyError::NoQuorum { .. } => "justify-quorum",
            _ => "justify-signature",
        };
        return fail(check, "a valid certificate of the parent".into(), short(&e));
    }
    if let Some(tc) = &h.timeout_cert {
        if let Err(e) = tc.verify(committee) {
            return fail(
                "timeout-cert",
                "a valid timeout certificate".into(),
                short(&e),
            );
        }
    }
    Ok(())
}
