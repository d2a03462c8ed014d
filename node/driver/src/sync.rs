//! Block sync: verifying and applying committed blocks fetched from peers,
//! and serving ours.
//!
//! Nothing a peer sends is trusted. A batch is applied only up to a block
//! proven committed — by a commit proof (its child from the next round with a
//! QC for that child) or by a 2-chain inside the batch — since a certified
//! block alone may still be abandoned. Every block's certificates, `tx_root`,
//! transaction signatures and state root are checked, and it is re-executed.

use cairn_ledger::store::{Store, StoreError};
use cairn_ledger::validate::{self, BlockError, BlockLimits};
use cairn_ledger::{CommitProof, Committee, Height, QuorumCertificate, VerifyError};

pub use cairn_network::SyncBatch;

/// The most blocks one sync response carries.
pub const MAX_SYNC_BLOCKS: usize = 64;

/// Why a batch was refused (the peer that sent it is at fault unless `Store`).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The batch does not start right after our tip or skips a height.
    #[error("block at position {index} has height {got}, expected {expected}")]
    Gap {
        /// Position in the batch.
        index: usize,
        /// Its height.
        got: u64,
        /// The height we need.
        expected: u64,
    },
    /// A block breaks a rule ([`cairn_ledger::validate`]).
    #[error("block at height {height}: {source}")]
    Invalid {
        /// The height.
        height: u64,
        /// The rule it breaks.
        source: BlockError,
    },
    /// The commit proof for the last block does not verify.
    #[error("commit proof for the block at height {height}: {source}")]
    Proof {
        /// The height of the block it should prove.
        height: u64,
        /// What failed.
        source: VerifyError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds the response to a request for blocks from `from` (at most `max`).
pub fn serve(store: &Store, from: Height, max: usize) -> Result<SyncBatch, StoreError> {
    let Some(tip) = store.tip()? else {
        return Ok(SyncBatch {
            blocks: vec![],
            proof: None,
        });
    };
    if from > tip.height || from.0 == 0 {
        return Ok(SyncBatch {
            blocks: vec![],
            proof: None,
        });
    }
    let want_to = Height((from.0 + max.clamp(1, MAX_SYNC_BLOCKS) as u64 - 1).min(tip.height.0));
    let (to, proof) = match store.commit_proof_at_or_below(want_to)? {
        Some((h, p)) if h >= from => (h, Some(p)),
        _ => (want_to, None),
    };
    let mut blocks = Vec::new();
    for h in from.0..=to.0 {
        let (Some(b), Some(qc)) = (store.block_at(Height(h))?, store.qc_at(Height(h))?) else {
            return Err(StoreError::Inconsistent(format!(
                "committed height {h} lacks its block or certificate"
            )));
        };
        blocks.push((b, qc));
    }
    Ok(SyncBatch { blocks, proof })
}

/// Verifies `batch` against our tip and applies every block it proves
/// committed. Returns how many blocks were applied. Every rule is the
/// ledger's ([`validate`]), as for a proposal and in the audit.
pub fn apply(
    store: &Store,
    committee: &Committee,
    limits: &BlockLimits,
    batch: &SyncBatch,
) -> Result<usize, SyncError> {
    let tip = store.tip()?.ok_or(StoreError::NotInitialized)?;
    let Some(tip_block) = store.block_at(tip.height)? else {
        return Err(
            StoreError::Inconsistent(format!("the tip block {} is missing", tip.height)).into(),
        );
    };
    let (mut prev, mut prev_hash) = (&tip_block.header, tip.hash);
    let mut prev_qc: Option<&QuorumCertificate> = None;
    for (i, (block, qc)) in batch.blocks.iter().enumerate() {
        let h = &block.header;
        let expected = tip.height.0 + 1 + i as u64;
        if h.height.0 != expected {
            return Err(SyncError::Gap {
                index: i,
                got: h.height.0,
                expected,
            });
        }
        let invalid = |source| SyncError::Invalid {
            height: expected,
            source,
        };
        let hash = block.hash();
        validate::check_contents(block, &committee.chain_id, limits).map_err(invalid)?;
        validate::check_extends(block, prev, prev_hash).map_err(invalid)?;
        validate::check_certified_by(block, &hash, qc, committee).map_err(invalid)?;
        // The justify usually is the previous block's QC, verified just before.
        validate::check_certificates(block, committee, prev_qc == Some(&h.justify))
            .map_err(invalid)?;
        prev_qc = Some(qc);
        (prev, prev_hash) = (h, hash);
    }
    let Some((last, proof)) = proven(batch, committee)? else {
        return Ok(0);
    };
    for (i, (block, qc)) in batch.blocks[..=last].iter().enumerate() {
        let height = block.header.height.0;
        let invalid = |source| SyncError::Invalid { height, source };
        validate::check_signatures(block, |_| false).map_err(invalid)?;
        validate::check_state_height(block).map_err(invalid)?;
        let root = store.state_root_at(block.header.state_height)?;
        validate::check_state_root(block, root).map_err(invalid)?;
        let proof = (i == last).then_some(&proof);
        store.commit_block_with_proof(block, qc, proof)?;
    }
    Ok(last + 1)
}

/// How far `batch` (already checked block by block) proves commitment: its
/// last block by the commit proof, or the first of any 2-chain inside it.
fn proven(
    batch: &SyncBatch,
    committee: &Committee,
) -> Result<Option<(usize, CommitProof)>, SyncError> {
    if let (Some(proof), Some((last, _))) = (&batch.proof, batch.blocks.last()) {
        let height = last.header.height.0;
        proof
            .verify(&last.hash(), last.header.round, committee)
            .map_err(|source| SyncError::Proof { height, source })?;
        return Ok(Some((batch.blocks.len() - 1, proof.clone())));
    }
    for i in (0..batch.blocks.len().saturating_sub(1)).rev() {
        // Block i+1 extends block i and carries its QC (checked), and its own
        // QC verified: if it is from the next round, that is a 2-chain and
        // block i is committed.
        let (child, child_qc) = &batch.blocks[i + 1];
        if child.header.round == batch.blocks[i].0.header.round.next() {
            let proof = CommitProof {
                child: child.header.clone(),
                child_qc: child_qc.clone(),
            };
            return Ok(Some((i, proof)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use cairn_genesis::{build_genesis_state, testnet_deterministic, GenesisTime, KeyFile};
    use cairn_ledger::{
        Amount, Block, BlockHeader, ChainId, Hash, Round, SignedTransaction, Transaction, Vote,
    };

    use super::*;

    struct Chain {
        committee: Committee,
        vkeys: Vec<KeyFile>,
        akeys: Vec<KeyFile>,
        genesis: Block,
        accounts: Vec<(cairn_ledger::Address, cairn_ledger::Account)>,
    }

    fn chain() -> Chain {
        let (g, vkeys, akeys) = testnet_deterministic(
            ChainId::new("sync-test").unwrap(),
            4,
            4,
            Amount(1_000),
            7,
            GenesisTime::from_unix_ms(1),
        )
        .unwrap();
        let st = build_genesis_state(&g).unwrap();
        Chain {
            committee: st.committee,
            vkeys,
            akeys,
            genesis: st.block,
            accounts: st.accounts,
        }
    }

    fn limits() -> BlockLimits {
        cairn_genesis::ConsensusParams::default().block_limits()
    }

    fn store(c: &Chain) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.init_genesis(&c.genesis, &c.accounts).unwrap();
        (dir, s)
    }

    /// A QC for `h` signed by validators 0..3 (a quorum of 4).
    fn qc(c: &Chain, h: &BlockHeader) -> QuorumCertificate {
        let hash = h.hash();
        let signatures = (0..3u16)
            .map(|i| {
                (
                    i,
                    Vote::sign(
                        &c.committee.chain_id,
                        hash,
                        h.height,
                        h.round,
                        i,
                        c.vkeys[i as usize].secret(),
                    )
                    .signature,
                )
            })
            .collect();
        QuorumCertificate {
            block_hash: hash,
            height: h.height,
            round: h.round,
            signatures,
        }
    }

    /// Extends `store`'s tip by one block of round `round`, committing it;
    /// returns the block and its QC. The state root is that of the tip.
    fn next(c: &Chain, s: &Store, round: u64, nonce: u64) -> (Block, QuorumCertificate) {
        let tip = s.tip().unwrap().unwrap();
        let tx: SignedTransaction = Transaction {
            chain_id: c.committee.chain_id.clone(),
            from: c.akeys[0].address(),
            to: c.akeys[1].address(),
            amount: Amount(3),
            nonce,
            memo: vec![],
        }
        .sign(c.akeys[0].secret());
        // Rounds are consecutive: the parent's QC commits the grandparent,
        // whose state the block describes (the state-height rule).
        let state_height = Height(tip.height.0.saturating_sub(1));
        let header = BlockHeader {
            chain_id: c.committee.chain_id.clone(),
            height: tip.height.next(),
            round: Round(round),
            parent_hash: tip.hash,
            proposer: c.vkeys[0].address(),
            timestamp_ms: round,
            tx_root: Block::compute_tx_root(std::slice::from_ref(&tx)),
            tx_count: 1,
            state_root: s.state_root_at(state_height).unwrap(),
            state_height,
            justify: s.qc_at(tip.height).unwrap().unwrap(),
            timeout_cert: None,
        };
        let block = Block {
            header,
            txs: vec![tx],
        };
        let q = qc(c, &block.header);
        (block, q)
    }

    /// The child of `b` in round `round`, carrying `q`, with no transactions.
    fn child_of(c: &Chain, b: &Block, q: &QuorumCertificate, round: u64) -> CommitProof {
        let mut child = b.header.clone();
        child.height = b.header.height.next();
        child.round = Round(round);
        child.parent_hash = b.hash();
        child.justify = q.clone();
        child.tx_count = 0;
        child.tx_root = Block::compute_tx_root(&[]);
        let child_qc = qc(c, &child);
        CommitProof { child, child_qc }
    }

    /// A server store with `n` committed blocks in consecutive rounds and a
    /// commit proof for the last (its child from the next round, uncommitted).
    fn server(c: &Chain, n: u64) -> (tempfile::TempDir, Store) {
        let (dir, s) = store(c);
        for h in 1..=n {
            let (b, q) = next(c, &s, h, h - 1);
            let proof = (h == n).then(|| child_of(c, &b, &q, h + 1));
            s.commit_block_with_proof(&b, &q, proof.as_ref()).unwrap();
        }
        (dir, s)
    }

    #[test]
    fn a_proven_batch_applies_and_matches_the_server() {
        let c = chain();
        let (_d, srv) = server(&c, 5);
        let (_d2, cli) = store(&c);
        let batch = serve(&srv, Height(1), 64).unwrap();
        assert_eq!(batch.blocks.len(), 5);
        assert!(batch.proof.is_some());
        assert_eq!(apply(&cli, &c.committee, &limits(), &batch).unwrap(), 5);
        assert_eq!(cli.tip().unwrap(), srv.tip().unwrap());
        // The client can now serve the same range, proof included.
        assert_eq!(serve(&cli, Height(1), 64).unwrap(), batch);
    }

    #[test]
    fn certified_is_not_committed_without_a_proof() {
        let c = chain();
        let (_d, srv) = server(&c, 3);
        let (_d2, cli) = store(&c);
        let mut batch = serve(&srv, Height(1), 64).unwrap();
        batch.proof = None;
        // Consecutive rounds inside the batch prove all but the last block.
        assert_eq!(apply(&cli, &c.committee, &limits(), &batch).unwrap(), 2);
        // A lone certified block proves nothing.
        let lone = SyncBatch {
            blocks: batch.blocks[2..].to_vec(),
            proof: None,
        };
        assert_eq!(apply(&cli, &c.committee, &limits(), &lone).unwrap(), 0);
        assert_eq!(cli.tip().unwrap().unwrap().height, Height(2));
    }

    #[test]
    fn forged_batches_are_refused() {
        let c = chain();
        let (_d, srv) = server(&c, 3);
        let good = serve(&srv, Height(1), 64).unwrap();
        let (_d2, cli) = store(&c);

        let mut bad_sig = good.clone();
        bad_sig.blocks[1].1.signatures[0].1 .0[5] ^= 1;
        assert!(matches!(
            apply(&cli, &c.committee, &limits(), &bad_sig),
            Err(SyncError::Invalid {
                height: 2,
                source: BlockError::Certificate { .. }
            })
        ));

        let mut short = good.clone();
        short.blocks[0].1.signatures.truncate(2);
        assert!(matches!(
            apply(&cli, &c.committee, &limits(), &short),
            Err(SyncError::Invalid {
                height: 1,
                source: BlockError::Certificate { .. }
            })
        ));

        let mut gap = good.clone();
        gap.blocks.remove(1);
        assert!(matches!(
            apply(&cli, &c.committee, &limits(), &gap),
            Err(SyncError::Invalid {
                height: 2,
                source: BlockError::ParentHash { .. } | BlockError::Height { .. }
            }) | Err(SyncError::Gap { .. })
        ));

        let mut tx_swapped = good.clone();
        tx_swapped.blocks[0].0.txs[0] = good.blocks[1].0.txs[0].clone();
        assert!(matches!(
            apply(&cli, &c.committee, &limits(), &tx_swapped),
            Err(SyncError::Invalid {
                height: 1,
                source: BlockError::TxRoot { .. }
            })
        ));

        let mut bad_proof = good.clone();
        if let Some(p) = bad_proof.proof.as_mut() {
            p.child.round = Round(p.child.round.0 + 1);
        }
        assert!(matches!(
            apply(&cli, &c.committee, &limits(), &bad_proof),
            Err(SyncError::Proof { height: 3, .. })
        ));
        assert_eq!(
            cli.tip().unwrap().unwrap().height,
            Height(0),
            "a refused batch changed the store"
        );

        // A quorum-signed block whose state root is wrong: refused on re-execution.
        let (_d3, srv2) = store(&c);
        let (mut b1, _) = next(&c, &srv2, 1, 0);
        b1.header.state_root = Hash::digest(b"lie");
        let q1 = qc(&c, &b1.header);
        srv2.commit_block(&b1, &q1).unwrap();
        let (b2, q2) = next(&c, &srv2, 2, 1);
        let lie = SyncBatch {
            blocks: vec![(b1.clone(), q1)],
            proof: Some(CommitProof {
                child: b2.header,
                child_qc: q2,
            }),
        };
        assert!(matches!(
            apply(&cli, &c.committee, &limits(), &lie),
            Err(SyncError::Invalid {
                height: 1,
                source: BlockError::StateRoot { .. }
            })
        ));
    }
}
