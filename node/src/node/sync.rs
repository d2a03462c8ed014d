//! Block sync: verifying and applying committed blocks fetched from peers,
//! and serving ours.
//!
//! Nothing a peer sends is trusted. A batch is applied only up to a block
//! proven committed — by a commit proof (its child from the next round with a
//! QC for that child) or by a 2-chain inside the batch — since a certified
//! block alone may still be abandoned. Every block's certificates, `tx_root`,
//! transaction signatures and state root are checked, and it is re-executed.

use cairn_ledger::store::{Store, StoreError};
use cairn_ledger::types::tx::verify_all;
use cairn_ledger::{Block, CommitProof, Committee, Height, QuorumCertificate, VerifyError};

/// The most blocks one sync response carries.
pub const MAX_SYNC_BLOCKS: usize = 64;

/// Committed blocks with their certificates, and a proof for the last one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncBatch {
    /// Consecutive committed blocks, each with a QC certifying it.
    pub blocks: Vec<(Block, QuorumCertificate)>,
    /// Proves the last block committed (absent if the server has none).
    pub proof: Option<CommitProof>,
}

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
    /// A block does not link to its predecessor.
    #[error("block at height {0} does not extend the previous block")]
    Unlinked(u64),
    /// A certificate is not for the block it accompanies.
    #[error("certificate at height {0} is not for that block")]
    WrongCertificate(u64),
    /// A certificate or signature does not verify.
    #[error("block at height {height}: {source}")]
    Verify {
        /// The height.
        height: u64,
        /// What failed.
        source: VerifyError,
    },
    /// `tx_root` does not match.
    #[error("block at height {0}: tx_root does not match its transactions")]
    TxRoot(u64),
    /// A transaction signature is invalid.
    #[error("block at height {0} holds a transaction with an invalid signature")]
    BadTransaction(u64),
    /// The block's state root disagrees with our re-execution.
    #[error("block at height {0}: state root disagrees with re-execution")]
    StateRoot(u64),
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
/// committed. Returns how many blocks were applied.
pub fn apply(store: &Store, committee: &Committee, batch: &SyncBatch) -> Result<usize, SyncError> {
    let tip = store.tip()?.ok_or(StoreError::NotInitialized)?;
    let mut prev_hash = tip.hash;
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
        if h.parent_hash != prev_hash
            || h.justify.block_hash != prev_hash
            || h.chain_id != committee.chain_id
        {
            return Err(SyncError::Unlinked(expected));
        }
        let hash = block.hash();
        if qc.block_hash != hash || qc.height != h.height || qc.round != h.round {
            return Err(SyncError::WrongCertificate(expected));
        }
        let verify = |source| SyncError::Verify {
            height: expected,
            source,
        };
        // The justify usually is the previous block's QC, verified just before.
        if prev_qc != Some(&h.justify) {
            h.justify.verify(committee).map_err(verify)?;
        }
        qc.verify(committee).map_err(verify)?;
        prev_qc = Some(qc);
        if Block::compute_tx_root(&block.txs) != h.tx_root {
            return Err(SyncError::TxRoot(expected));
        }
        prev_hash = hash;
    }
    // How far the batch proves commitment: its last block by the proof, or
    // the first of any 2-chain inside it.
    let mut proven: Option<(usize, CommitProof)> = None;
    if let (Some(proof), Some((last, _))) = (&batch.proof, batch.blocks.last()) {
        let height = last.header.height.0;
        proof
            .verify(&last.hash(), last.header.round, committee)
            .map_err(|source| SyncError::Verify { height, source })?;
        proven = Some((batch.blocks.len() - 1, proof.clone()));
    } else {
        for i in (0..batch.blocks.len().saturating_sub(1)).rev() {
            // Block i+1 extends block i and carries its QC (checked above), and
            // its own QC verified: if it is from the next round, that is a
            // 2-chain and block i is committed.
            let (child, child_qc) = &batch.blocks[i + 1];
            if child.header.round == batch.blocks[i].0.header.round.next() {
                proven = Some((
                    i,
                    CommitProof {
                        child: child.header.clone(),
                        child_qc: child_qc.clone(),
                    },
                ));
                break;
            }
        }
    }
    let Some((last, proof)) = proven else {
        return Ok(0);
    };
    for (i, (block, qc)) in batch.blocks[..=last].iter().enumerate() {
        let height = block.header.height.0;
        if !verify_all(&block.txs).is_empty() {
            return Err(SyncError::BadTransaction(height));
        }
        if block.header.state_height >= block.header.height
            || store.state_root_at(block.header.state_height)? != block.header.state_root
        {
            return Err(SyncError::StateRoot(height));
        }
        let proof = (i == last).then_some(&proof);
        store.commit_block_with_proof(block, qc, proof)?;
    }
    Ok(last + 1)
}

#[cfg(test)]
mod tests {
    use cairn_genesis::{build_genesis_state, testnet_deterministic, GenesisTime, KeyFile};
    use cairn_ledger::{
        Amount, BlockHeader, ChainId, Hash, Round, SignedTransaction, Transaction, Vote,
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
        let header = BlockHeader {
            chain_id: c.committee.chain_id.clone(),
            height: tip.height.next(),
            round: Round(round),
            parent_hash: tip.hash,
            proposer: c.vkeys[0].address(),
            timestamp_ms: round,
            tx_root: Block::compute_tx_root(std::slice::from_ref(&tx)),
            tx_count: 1,
            state_root: tip.state_root,
            state_height: tip.height,
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
        assert_eq!(apply(&cli, &c.committee, &batch).unwrap(), 5);
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
        assert_eq!(apply(&cli, &c.committee, &batch).unwrap(), 2);
        // A lone certified block proves nothing.
        let lone = SyncBatch {
            blocks: batch.blocks[2..].to_vec(),
            proof: None,
        };
        assert_eq!(apply(&cli, &c.committee, &lone).unwrap(), 0);
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
            apply(&cli, &c.committee, &bad_sig),
            Err(SyncError::Verify { height: 2, .. })
        ));

        let mut short = good.clone();
        short.blocks[0].1.signatures.truncate(2);
        assert!(matches!(
            apply(&cli, &c.committee, &short),
            Err(SyncError::Verify { height: 1, .. })
        ));

        let mut gap = good.clone();
        gap.blocks.remove(1);
        assert!(matches!(
            apply(&cli, &c.committee, &gap),
            Err(SyncError::Unlinked(2)) | Err(SyncError::Gap { .. })
        ));

        let mut tx_swapped = good.clone();
        tx_swapped.blocks[0].0.txs[0] = good.blocks[1].0.txs[0].clone();
        assert!(matches!(
            apply(&cli, &c.committee, &tx_swapped),
            Err(SyncError::TxRoot(1))
        ));

        let mut bad_proof = good.clone();
        if let Some(p) = bad_proof.proof.as_mut() {
            p.child.round = Round(p.child.round.0 + 1);
        }
        assert!(matches!(
            apply(&cli, &c.committee, &bad_proof),
            Err(SyncError::Verify { height: 3, .. })
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
            apply(&cli, &c.committee, &lie),
            Err(SyncError::StateRoot(1))
        ));
    }
}
