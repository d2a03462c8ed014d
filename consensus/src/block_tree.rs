//! The tree of blocks above the last committed one, and the 2-chain commit rule.
//!
//! Invariants: every block in the tree descends from the root (the highest
//! committed block): a block is inserted only when its parent is present.
//! Committing moves the root up and prunes every block that does not descend
//! from the new root.

use std::collections::{BTreeMap, BTreeSet};

use cairn_ledger::{Block, Hash, Height, QuorumCertificate};

/// A block in the tree with what the idle rule needs to know about its chain.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The block.
    pub block: Block,
    /// Highest height at or below this block holding transactions.
    pub last_tx_height: Height,
    /// The parent's `state_height`, if known (unknown for a restored root).
    pub parent_state_height: Option<Height>,
}

/// Pending blocks and known certificates above the committed root.
#[derive(Clone, Debug)]
pub struct BlockTree {
    blocks: BTreeMap<Hash, Entry>,
    root: Hash,
    /// A QC per certified block (blocks in the tree or awaited from peers).
    certs: BTreeMap<Hash, QuorumCertificate>,
}

impl BlockTree {
    /// A tree whose root is the committed block `root`.
    pub fn new(root: Block) -> BlockTree {
        let hash = root.hash();
        let genesis = root.header.height == Height(0);
        // A restored root's history is unknown: assume it held transactions, so
        // the idle rule waits until the chain has certified state above it.
        let entry = Entry {
            last_tx_height: root.header.height,
            parent_state_height: genesis.then_some(Height(0)),
            block: root,
        };
        BlockTree {
            blocks: BTreeMap::from([(hash, entry)]),
            root: hash,
            certs: BTreeMap::new(),
        }
    }

    /// The committed root.
    pub fn root(&self) -> &Block {
        &self.blocks[&self.root].block
    }

    /// Height of the committed root.
    pub fn committed_height(&self) -> Height {
        self.root().header.height
    }

    /// The entry for `hash`.
    pub fn get(&self, hash: &Hash) -> Option<&Entry> {
        self.blocks.get(hash)
    }

    /// The block for `hash`.
    pub fn block(&self, hash: &Hash) -> Option<&Block> {
        self.blocks.get(hash).map(|e| &e.block)
    }

    /// True if the tree holds `hash`.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.blocks.contains_key(hash)
    }

    /// Number of blocks, root included.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Always false: the root is always present.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Inserts a block whose parent is in the tree. Returns false (and does
    /// nothing) if the parent is missing or the block is already present.
    pub fn insert(&mut self, block: Block) -> bool {
        let hash = block.hash();
        if self.blocks.contains_key(&hash) {
            return false;
        }
        let Some(parent) = self.blocks.get(&block.header.parent_hash) else {
            return false;
        };
        let p = &parent.block.header;
        if block.header.height != p.height.next() || block.header.round <= p.round {
            return false;
        }
        let last_tx_height = if block.header.tx_count > 0 {
            block.header.height
        } else {
            parent.last_tx_height
        };
        let entry = Entry {
            last_tx_height,
            parent_state_height: Some(parent.block.header.state_height),
            block,
        };
        self.blocks.insert(hash, entry);
        true
    }

    /// Remembers a QC for its block (kept until the block is pruned).
    pub fn record_cert(&mut self, qc: &QuorumCertificate) {
        if qc.height > self.committed_height() {
            self.certs
                .entry(qc.block_hash)
                .or_insert_with(|| qc.clone());
        }
    }

    /// A known QC for `hash`.
    pub fn cert(&self, hash: &Hash) -> Option<&QuorumCertificate> {
        self.certs.get(hash)
    }

    /// The `state_height` a child of `parent` must carry: the highest height
    /// committed by the QC chain the child carries. QC(parent) commits the
    /// grandparent iff parent.round == grandparent.round + 1 (2-chain rule).
    pub fn state_height_for_child(&self, parent: &Hash) -> Option<Height> {
        let p = &self.blocks.get(parent)?.block.header;
        if p.height > Height(0) && p.round == p.justify.round.next() {
            Some(p.justify.height)
        } else {
            Some(p.state_height)
        }
    }

    /// The 2-chain commit rule: a QC for P whose parent G has
    /// P.round == G.round + 1 commits G. Returns G and QC(G) if G is above the root.
    /// With `one_chain` (planted bug c) the QC commits P itself.
    pub fn commit_target(
        &self,
        qc: &QuorumCertificate,
        one_chain: bool,
    ) -> Option<(Hash, QuorumCertificate)> {
        let p = &self.blocks.get(&qc.block_hash)?.block.header;
        let (target, cert) = if one_chain {
            (qc.block_hash, qc.clone())
        } else if p.round == p.justify.round.next() {
            (p.justify.block_hash, p.justify.clone())
        } else {
            return None;
        };
        let t = self.blocks.get(&target)?;
        (t.block.header.height > self.committed_height()).then_some((target, cert))
    }

    /// Commits `target` (certified by `cert`) and its uncommitted ancestors,
    /// returning them lowest first with a QC for each, and prunes the tree.
    pub fn commit(
        &mut self,
        target: Hash,
        cert: QuorumCertificate,
    ) -> Vec<(Block, QuorumCertificate)> {
        let mut path = Vec::new();
        let mut cursor = target;
        let mut cert = cert;
        while cursor != self.root {
            let Some(entry) = self.blocks.get(&cursor) else {
                // Unreachable by the tree invariant; commit nothing rather than a gap.
                debug_assert!(false, "block tree lost an ancestor of {cursor}");
                return Vec::new();
            };
            let next_cert = entry.block.header.justify.clone();
            path.push((entry.block.clone(), cert));
            cert = next_cert;
            cursor = entry.block.header.parent_hash;
        }
        path.reverse();
        self.root = target;
        self.prune();
        path
    }

    /// Keeps only the root and its descendants.
    fn prune(&mut self) {
        let root_height = self.committed_height();
        let mut by_height: Vec<(Height, Hash, Hash)> = self
            .blocks
            .iter()
            .filter(|(_, e)| e.block.header.height > root_height)
            .map(|(h, e)| (e.block.header.height, *h, e.block.header.parent_hash))
            .collect();
        by_height.sort();
        let mut keep = BTreeSet::from([self.root]);
        for (_, hash, parent) in by_height {
            if keep.contains(&parent) {
                keep.insert(hash);
            }
        }
        self.blocks.retain(|h, _| keep.contains(h));
        self.certs.retain(|_, qc| qc.height > root_height);
    }

    /// The idle rule's test for a block X the next proposal would extend: X has
    /// no transactions and its parent's state root (certified by X's QC)
    /// covers every block with transactions on X's chain.
    pub fn is_idle_tip(&self, hash: &Hash) -> bool {
        let Some(e) = self.blocks.get(hash) else {
            return false;
        };
        e.block.header.tx_count == 0 && e.parent_state_height.is_some_and(|h| h >= e.last_tx_height)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil;
    use cairn_ledger::Round;

    /// A chain of empty blocks above genesis with the given rounds; returns
    /// the tree and the blocks (genesis first).
    fn chain(rounds: &[u64], txs_at: &[usize]) -> (BlockTree, Vec<Block>) {
        let (_, _, genesis) = testutil::committee(4);
        let mut tree = BlockTree::new(genesis.clone());
        let mut blocks = vec![genesis];
        for (i, r) in rounds.iter().enumerate() {
            let parent = blocks.last().unwrap().clone();
            let mut b = parent.clone();
            let p = &parent.header;
            b.header.height = p.height.next();
            b.header.round = Round(*r);
            b.header.parent_hash = parent.hash();
            b.header.state_height = tree.state_height_for_child(&parent.hash()).unwrap();
            // tx_count is only read by the idle rule here.
            b.header.tx_count = u32::from(txs_at.contains(&(i + 1)));
            b.header.justify = QuorumCertificate {
                block_hash: parent.hash(),
                height: p.height,
                round: p.round,
                signatures: Vec::new(),
            };
            assert!(tree.insert(b.clone()));
            blocks.push(b);
        }
        (tree, blocks)
    }

    fn qc_for(b: &Block) -> QuorumCertificate {
        QuorumCertificate {
            block_hash: b.hash(),
            height: b.header.height,
            round: b.header.round,
            signatures: Vec::new(),
        }
    }

    /// 2-chain commit rule: (rounds of blocks 1..n, heights committed by a QC
    /// for the last block, same under the 1-chain bug).
    #[test]
    fn commit_rule_table() {
        let cases: [(&[u64], &[u64], &[u64]); 6] = [
            (&[1], &[], &[1]),        // QC(B1): B1 is only certified (genesis is committed)
            (&[1, 2], &[1], &[1, 2]), // consecutive rounds: parent commits
            (&[1, 3], &[], &[1, 2]),  // gap: nothing commits
            (&[1, 3, 4], &[1, 2], &[1, 2, 3]), // commits parent and its ancestors in order
            (&[1, 2, 4], &[], &[1, 2, 3]), // last pair not consecutive
            (&[2, 5, 6, 7], &[1, 2, 3], &[1, 2, 3, 4]),
        ];
        for (i, (rounds, committed, one_chain)) in cases.into_iter().enumerate() {
            for (bug, expected) in [(false, committed), (true, one_chain)] {
                let (mut tree, blocks) = chain(rounds, &[]);
                let qc = qc_for(blocks.last().unwrap());
                let heights: Vec<u64> = match tree.commit_target(&qc, bug) {
                    None => Vec::new(),
                    Some((target, cert)) => {
                        let path = tree.commit(target, cert);
                        for (b, c) in &path {
                            assert_eq!(c.block_hash, b.hash(), "case {i}: QC certifies the block");
                        }
                        path.iter().map(|(b, _)| b.header.height.0).collect()
                    }
                };
                assert_eq!(heights, expected, "case {i} (one_chain: {bug})");
            }
        }
    }

    #[test]
    fn commit_prunes_forks() {
        let (mut tree, blocks) = chain(&[1, 2, 3], &[]);
        // A fork off block 1, in round 4.
        let mut fork = blocks[2].clone();
        fork.header.round = Round(4);
        assert!(tree.insert(fork.clone()));
        let (target, cert) = tree.commit_target(&qc_for(&blocks[3]), false).unwrap();
        assert_eq!(target, blocks[2].hash());
        tree.commit(target, cert);
        assert_eq!(tree.committed_height(), Height(2));
        assert!(
            !tree.contains(&fork.hash()),
            "fork below the root is pruned"
        );
        assert!(tree.contains(&blocks[3].hash()));
    }

    /// Idle rule: (rounds, blocks with transactions, is the last block an idle tip).
    #[test]
    fn idle_tip_table() {
        let cases: [(&[u64], &[usize], bool); 5] = [
            (&[], &[], true),             // genesis, no transactions ever
            (&[1, 2, 3], &[1], false),    // tx block committed but its root not yet certified
            (&[1, 2, 3, 4], &[1], true),  // QC(3) in block 4 certifies block 3's root (covers 1)
            (&[1, 2, 3, 4], &[4], false), // the tip holds transactions
            (&[1, 3, 5, 7], &[1], false), // no 2-chain: never committed
        ];
        for (i, (rounds, txs, idle)) in cases.into_iter().enumerate() {
            let (tree, blocks) = chain(rounds, txs);
            let tip = blocks.last().unwrap().hash();
            assert_eq!(tree.is_idle_tip(&tip), idle, "case {i}");
        }
    }
}
