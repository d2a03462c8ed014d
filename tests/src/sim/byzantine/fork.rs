//! The forking leader: after a timeout, a block extending a QC below the
//! highest one (below the lock of anyone who saw it); and the block builder
//! the other families share.

use cairn_consensus::Message;
use cairn_ledger::{
    Block, BlockHeader, Proposal, QuorumCertificate, Round, TimeoutCertificate, Vote,
};
use rand::Rng;

use crate::sim::network::{NodeId, Packet};
use crate::sim::Sim;

impl Sim {
    /// An empty block of `round` extending `justify` as the core would build
    /// it (height, parent, state height and root), proposed by node `i`;
    /// `None` if `i`'s core lacks the parent.
    pub(super) fn byz_block(
        &self,
        i: NodeId,
        round: Round,
        justify: QuorumCertificate,
        timeout_cert: Option<TimeoutCertificate>,
    ) -> Option<Block> {
        let n = &self.nodes[i];
        let parent = n.core.as_ref()?.block(&justify.block_hash)?;
        let p = &parent.header;
        let state_height = if p.height.0 > 0 && p.round == p.justify.round.next() {
            p.justify.height
        } else {
            p.state_height
        };
        let state_root = n.app.root_at(state_height).unwrap_or_default();
        Some(Block {
            header: BlockHeader {
                chain_id: self.committee.chain_id.clone(),
                height: justify.height.next(),
                round,
                parent_hash: justify.block_hash,
                proposer: n.key.address(),
                timestamp_ms: self.now,
                tx_root: Block::compute_tx_root(&[]),
                tx_count: 0,
                state_root,
                state_height,
                justify,
                timeout_cert,
            },
            txs: Vec::new(),
        })
    }

    /// Signs `block`, broadcasts it and sends our vote for it to everyone
    /// (the next leader after a block only we hold is unknown to us).
    pub(super) fn byz_propose_and_vote(&mut self, i: NodeId, block: Block) {
        let key = self.nodes[i].key.clone();
        let me = self.nodes[i].validator;
        let h = &block.header;
        let vote = Vote::sign(
            &self.committee.chain_id,
            block.hash(),
            h.height,
            h.round,
            me,
            &key,
        );
        let proposal = Proposal::sign(block, &key);
        self.broadcast(i, Packet::Msg(Message::Proposal(proposal)), false);
        for v in 0..self.committee.validators.len() as u16 {
            self.send_to_validator(i, v, Packet::Msg(Message::Vote(vote.clone())));
        }
    }

    /// As leader of `tc.round + 1`, proposes a block extending a QC below the
    /// highest one (below the lock of anyone who saw it), and votes for it.
    pub(super) fn byz_fork_after_tc(&mut self, i: NodeId, tc: TimeoutCertificate) {
        let round = tc.round.next();
        let me = self.nodes[i].validator;
        let Some(b) = self.byz(i) else {
            return;
        };
        if !b.forker || b.silent || b.forked.insert(round, ()).is_some() {
            return;
        }
        let Some(core) = self.nodes[i].core.as_ref() else {
            return;
        };
        // Candidate QCs: our high QC and the QCs inside its ancestors, as deep
        // as we hold them: the deeper, the more likely it is below someone's lock.
        let mut candidates = vec![core.high_qc().clone()];
        while candidates.len() < 4 {
            let Some(b) = candidates.last().and_then(|qc| core.block(&qc.block_hash)) else {
                break;
            };
            if b.header.height.0 == 0 {
                break;
            }
            candidates.push(b.header.justify.clone());
        }
        let depth = self
            .rng
            .gen_range(0..candidates.len())
            .max(candidates.len().min(2) - 1);
        let justify = candidates[depth].clone();
        // Only the round's leader may propose (after a TC: plain rotation).
        if core.leader_of(round, &justify) != Some(me) {
            return;
        }
        let Some(block) = self.byz_block(i, round, justify, Some(tc)) else {
            return;
        };
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!(
                "t={} node {i} FORK r{} on qc{} (tc max hqc {})",
                self.now,
                round,
                block.header.justify.round,
                block
                    .header
                    .timeout_cert
                    .as_ref()
                    .map_or(0, |t| t.max_high_qc_round().0)
            );
        }
        self.byz_propose_and_vote(i, block);
    }
}
