//! The checks of one block that need nothing but the block, its QC and the
//! committee: run on a window of many blocks at once, on all cores, ahead
//! of the sequential execution. Transaction signatures of the whole window
//! go through one `verify_all` (ZIP-215 batches of 256 spread over rayon).

use cairn_genesis::ConsensusParams;
use cairn_ledger::types::tx::verify_all;
use cairn_ledger::validate::{self, BlockError};
use cairn_ledger::{Committee, Hash, SignedTransaction};
use rayon::prelude::*;

use super::rules::discrepancy;
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

/// The checks a replayed block gets: everything that needs no signature.
fn check_replayed(
    f: &Fetched,
    hash: &Hash,
    committee: &Committee,
    params: &ConsensusParams,
) -> Result<(), Discrepancy> {
    check_identity(f, hash, committee)?;
    rule(f, validate::check_limits(&f.block, &params.block_limits()))?;
    rule(f, validate::check_tx_root(&f.block))
}

/// A ledger rule's verdict on `f`, as the audit reports it.
fn rule(f: &Fetched, verdict: Result<(), BlockError>) -> Result<(), Discrepancy> {
    verdict.map_err(|e| discrepancy(f.height, &f.block, &e))
}

/// Height, chain id, and the hash the source indexes the block under.
fn check_identity(f: &Fetched, hash: &Hash, committee: &Committee) -> Result<(), Discrepancy> {
    let h = &f.block.header;
    let at = f.height;
    if h.height != at {
        return Err(Discrepancy::new(at, "height", at, h.height));
    }
    rule(f, validate::check_chain(&f.block, &committee.chain_id))?;
    if let Some(indexed) = f.indexed_hash {
        if indexed != *hash {
            return Err(Discrepancy::new(
                at,
                "block-hash",
                format!("{indexed} (the hash the block is indexed under)"),
                format!("{hash} (the hash of the stored bytes)"),
            ));
        }
    }
    Ok(())
}

/// Every stateless rule, in the order the audit reports them (a changed
/// transaction shows as its bad signature before its `tx_root`).
fn check_block(
    f: &Fetched,
    hash: &Hash,
    bad_tx: Option<usize>,
    committee: &Committee,
    params: &ConsensusParams,
) -> Result<(), Discrepancy> {
    check_identity(f, hash, committee)?;
    let block = &f.block;
    rule(
        f,
        validate::check_certified_by(block, hash, &f.qc, committee),
    )?;
    rule(f, validate::check_limits(block, &params.block_limits()))?;
    if let Some(index) = bad_tx {
        let hash = block.txs[index].hash();
        rule(f, Err(BlockError::BadSignature { index, hash }))?;
    }
    rule(f, validate::check_tx_root(block))?;
    rule(f, validate::check_certificates(block, committee, false))
}
