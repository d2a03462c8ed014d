//! Blocks we lack, fetched from peers: the ancestors a verified QC refers to
//! (inserted as certified), and the block our own round's voters hold when
//! its proposal never reached us (validated and voted for like a proposal).

use cairn_ledger::{Block, Hash, Height, Round};

use super::Consensus;
use crate::error::ConsensusError;
use crate::output::Output;

impl Consensus {
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

    /// We lead `round + 1` and hold votes for a block of `round` that we never
    /// received: its proposal was lost on the way to us. When every honest
    /// vote is needed for a quorum, the QC can then never form, the round times
    /// out, and the 2-chain it would have completed is lost. Votes from more
    /// than 1/3 of the power prove an honest validator checked the leader's
    /// signed proposal for this exact hash, so fetch the block from the voter
    /// `from`, then validate it and vote for it (`on_fetched`).
    pub(super) fn fetch_voted_block(
        &mut self,
        round: Round,
        hash: Hash,
        height: Height,
        from: u16,
        out: &mut Vec<Output>,
    ) {
        if round < self.pacemaker.round()
            || round <= self.safety.last_voted_round // vote at most once per round
            || self.tree.contains(&hash)
            || self.voted_wanted.contains_key(&hash)
        {
            return;
        }
        let vals = &self.config.committee.validators;
        if self.votes.power_for(round, &hash, height, vals) < vals.validity_power() {
            return; // possibly only Byzantine voters: not worth our vote
        }
        // Bounded like `wanted`: a few blocks per round, rounds pruned as we move on.
        if self.voted_wanted.len() >= self.config.max_pending_proposals {
            return;
        }
        self.voted_wanted.insert(hash, round);
        // An orphan arrived certified and waits for its parent; it is voted
        // for when it connects (`connected`).
        self.fetch(hash, from, out);
    }

    /// A block answering one of our fetches: accepted only if we asked for
    /// exactly this hash (so a verified QC, or our voters, vouch for it) and
    /// its own certificates verify.
    pub(super) fn on_fetched(&mut self, block: Block, out: &mut Vec<Output>) {
        let hash = block.hash();
        let Some(hint) = self.wanted.remove(&hash) else {
            return; // unsolicited or already received
        };
        if self.voted_wanted.contains_key(&hash) {
            self.on_fetched_voted(block, hint, out);
            return;
        }
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

    /// A block our voters vouch for (see `fetch_voted_block`): checked like a
    /// proposal except for the leader's signature, which an honest voter
    /// checked. Its certificates move us into its round first, so that
    /// inserting it asks the application to validate it and we vote.
    fn on_fetched_voted(&mut self, block: Block, hint: u16, out: &mut Vec<Output>) {
        if let Err(e) = self.check_block(&block) {
            out.push(Output::Rejected(e));
            return;
        }
        let h = &block.header;
        if h.height <= self.tree.committed_height() {
            return;
        }
        let (justify, tc) = (h.justify.clone(), h.timeout_cert.clone());
        self.process_qc(&justify, out);
        if let Some(tc) = tc {
            self.process_tc(&tc, out);
        }
        let h = &block.header;
        if self.tree.contains(&h.parent_hash) {
            self.accept_block(block, false, out);
        } else if justify.height <= self.tree.committed_height() {
            out.push(Output::Rejected(ConsensusError::ConflictsWithCommitted {
                hash: block.hash(),
                height: h.height,
            }));
        } else if self.orphans.len() < self.config.max_orphans {
            let parent = h.parent_hash;
            self.orphans.insert(block.hash(), block);
            self.fetch(parent, hint, out);
        }
    }

    /// Inserts a certified block (fetched) whose parent is in the tree.
    pub(super) fn insert_certified(&mut self, block: Block, out: &mut Vec<Output>) {
        let hash = block.hash();
        if self.tree.len() >= self.config.max_tree_blocks {
            return;
        }
        if self.tree.insert(block) {
            self.connected(hash, out);
        }
    }
}
