//! The forking leader: after a timeout, a block extending a QC below the
//! highest one (below the lock of anyone who saw it); and the block builder
//! the other families share.

use cairn_consensus::Message;
use cairn_ledger::{
    Block, BlockHeader, Proposal, QuorumCertificate, Round, TimeoutCertificate, Vote,
};
use rand::Rng;

use super::{Adversary, Host};

impl Adversary {
    /// An empty block of `round` extending `justify` as a core would build
    /// it (height, parent, state height and root), proposed by us; `None`
    /// if our node lacks the parent.
    pub(super) fn block(
        &self,
        h: &impl Host,
        round: Round,
        justify: QuorumCertificate,
        timeout_cert: Option<TimeoutCertificate>,
    ) -> Option<Block> {
        let parent = h.block(&justify.block_hash)?;
        let p = &parent.header;
        let state_height = if p.height.0 > 0 && p.round == p.justify.round.next() {
            p.justify.height
        } else {
            p.state_height
        };
        let state_root = h.state_root_at(state_height).unwrap_or_default();
        Some(Block {
            header: BlockHeader {
                chain_id: self.committee.chain_id.clone(),
                height: justify.height.next(),
                round,
                parent_hash: justify.block_hash,
                proposer: self.key.address(),
                timestamp_ms: h.now_ms(),
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
    pub(super) fn propose_and_vote(&mut self, h: &mut impl Host, block: Block) {
        let hd = &block.header;
        let vote = Vote::sign(
            &self.committee.chain_id,
            block.hash(),
            hd.height,
            hd.round,
            self.me,
            &self.key,
        );
        let proposal = Proposal::sign(block, &self.key);
        h.broadcast(Message::Proposal(proposal));
        for v in 0..self.committee.validators.len() as u16 {
            if v != self.me {
                h.send_to_validator(v, Message::Vote(vote.clone()));
            }
        }
    }

    /// As leader of `tc.round + 1`, proposes a block extending a QC below the
    /// highest one (below the lock of anyone who saw it), and votes for it.
    pub(super) fn fork_after_tc(&mut self, h: &mut impl Host, tc: TimeoutCertificate) {
        let round = tc.round.next();
        let b = &mut self.s;
        if !b.forker || b.silent || b.forked.insert(round, ()).is_some() {
            return;
        }
        let Some(high_qc) = h.high_qc() else {
            return;
        };
        // Candidate QCs: our high QC and the QCs inside its ancestors, as deep
        // as we hold them: the deeper, the more likely it is below someone's lock.
        let mut candidates = vec![high_qc];
        while candidates.len() < 4 {
            let Some(b) = candidates.last().and_then(|qc| h.block(&qc.block_hash)) else {
                break;
            };
            if b.header.height.0 == 0 {
                break;
            }
            candidates.push(b.header.justify.clone());
        }
        let depth = h
            .rng()
            .gen_range(0..candidates.len())
            .max(candidates.len().min(2) - 1);
        let justify = candidates[depth].clone();
        // Only the round's leader may propose (after a TC: plain rotation).
        if h.leader_of(round, &justify) != Some(self.me) {
            return;
        }
        let Some(block) = self.block(&*h, round, justify, Some(tc)) else {
            return;
        };
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!(
                "t={} node {} FORK r{} on qc{} (tc max hqc {})",
                h.now_ms(),
                h.me(),
                round,
                block.header.justify.round,
                block
                    .header
                    .timeout_cert
                    .as_ref()
                    .map_or(0, |t| t.max_high_qc_round().0)
            );
        }
        self.propose_and_vote(h, block);
    }
}
