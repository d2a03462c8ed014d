//! Certificates: raising the high QC, moving rounds, the 2-chain commit, and
//! fetching the ancestors a certificate refers to.

use cairn_ledger::{Block, Hash, QuorumCertificate, TimeoutCertificate};

use super::Consensus;
use crate::config::PlantedBug;
use crate::error::ConsensusError;
use crate::output::Output;
use crate::safety;

impl Consensus {
    /// Handles a verified QC: raise the high QC, commit by the 2-chain rule,
    /// fetch its block if missing, and enter the next round if it is ahead.
    pub(super) fn process_qc(&mut self, qc: &QuorumCertificate, out: &mut Vec<Output>) {
        safety::observe_qc(&mut self.safety, qc);
        self.tree.record_cert(qc);
        if self.tree.contains(&qc.block_hash) {
            self.try_commit(qc, out);
        } else if qc.height > self.tree.committed_height() {
            let hint = self.leader(qc.round);
            self.fetch(qc.block_hash, hint, out);
        }
        if self.pacemaker.on_qc(qc.round).is_some() {
            self.entered_round(out);
        }
    }

    /// Handles a verified TC: enter the round after it if that is ahead.
    pub(super) fn process_tc(&mut self, tc: &TimeoutCertificate, out: &mut Vec<Output>) {
        safety::observe_tc(&mut self.safety, tc);
        if self.pacemaker.on_tc(tc).is_some() {
            self.entered_round(out);
        }
    }

    /// 2-chain commit rule (see [`crate::block_tree::BlockTree::commit_target`]).
    fn try_commit(&mut self, qc: &QuorumCertificate, out: &mut Vec<Output>) {
        let one_chain = self.config.has_bug(PlantedBug::CommitOneChain);
        let Some((target, cert)) = self.tree.commit_target(qc, one_chain) else {
            return;
        };
        for (block, certificate) in self.tree.commit(target, cert) {
            out.push(Output::Commit { block, certificate });
        }
        let root = self.tree.committed_height();
        self.pending.retain(|p| p.block.header.height > root);
        self.orphans.retain(|_, b| b.header.height > root);
        let tree = &self.tree;
        self.awaiting_validation.retain(|h| tree.contains(h));
    }

    /// Asks a peer for a block we lack (bounded; re-asked on each timer).
    pub(super) fn fetch(&mut self, hash: Hash, hint: u16, out: &mut Vec<Output>) {
        if self.tree.contains(&hash) || self.orphans.contains_key(&hash) {
            return;
        }
        if self.wanted.contains_key(&hash) {
            return;
        }
        if self.wanted.len() >= self.config.max_orphans {
            return;
        }
        self.wanted.insert(hash, hint);
        out.push(Output::FetchBlock { hash, from: hint });
    }

    /// Re-asks for every block still missing, rotating to the next validator
    /// in case the one asked is faulty.
    pub(super) fn refetch(&mut self, out: &mut Vec<Output>) {
        let n = self.config.committee.validators.len() as u16;
        for (hash, hint) in self.wanted.iter_mut() {
            *hint = (*hint + 1) % n;
            if Some(*hint) == self.me {
                *hint = (*hint + 1) % n;
            }
            out.push(Output::FetchBlock {
                hash: *hash,
                from: *hint,
            });
        }
    }

    /// A block answering one of our fetches: accepted only if we asked for
    /// exactly this hash (so a verified QC certifies it) and its own QC verifies.
    pub(super) fn on_fetched(&mut self, block: Block, out: &mut Vec<Output>) {
        let hash = block.hash();
        let Some(hint) = self.wanted.remove(&hash) else {
            return; // unsolicited or already received
        };
        let h = &block.header;
        let malformed = |reason| ConsensusError::Malformed {
            what: "fetched block",
            reason,
        };
        if h.chain_id != self.config.committee.chain_id
            || h.height != h.justify.height.next()
            || h.parent_hash != h.justify.block_hash
            || h.tx_count as usize != block.txs.len()
        {
            out.push(Output::Rejected(malformed(
                "fields inconsistent with its QC",
            )));
            return;
        }
        let justify = h.justify.clone();
        if let Err(source) = self.verify_qc(&justify) {
            out.push(Output::Rejected(ConsensusError::Invalid {
                what: "fetched block's QC",
                source,
            }));
            return;
        }
        if h.height <= self.tree.committed_height() {
            return;
        }
        if self.tree.contains(&h.parent_hash) {
            self.insert_certified(block, out);
        } else if justify.height <= self.tree.committed_height() {
            out.push(Output::Rejected(ConsensusError::ConflictsWithCommitted {
                hash,
                height: h.height,
            }));
        } else if self.orphans.len() < self.config.max_orphans {
            let parent = h.parent_hash;
            self.orphans.insert(hash, block);
            self.fetch(parent, hint, out);
        }
        self.process_qc(&justify, out);
    }

    /// Inserts a certified block (fetched) whose parent is in the tree.
    fn insert_certified(&mut self, block: Block, out: &mut Vec<Output>) {
        let hash = block.hash();
        if self.tree.len() >= self.config.max_tree_blocks {
            return;
        }
        if self.tree.insert(block) {
            self.connected(hash, out);
        }
    }

    /// `hash` just joined the tree: commit through any QC we hold for it, then
    /// connect the orphans and pending proposals waiting for it.
    pub(super) fn connected(&mut self, hash: Hash, out: &mut Vec<Output>) {
        if let Some(qc) = self.tree.cert(&hash).cloned() {
            self.try_commit(&qc, out);
        }
        let children: Vec<Hash> = self
            .orphans
            .iter()
            .filter(|(_, b)| b.header.parent_hash == hash)
            .map(|(h, _)| *h)
            .collect();
        for child in children {
            if let Some(block) = self.orphans.remove(&child) {
                self.insert_certified(block, out);
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.block.header.parent_hash == hash);
        self.pending = waiting;
        for p in ready {
            self.place_proposal(p, out);
        }
        if self.safety.high_qc.block_hash == hash {
            self.try_propose(out);
        }
    }
}
