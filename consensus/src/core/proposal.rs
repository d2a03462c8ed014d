//! Proposals: checking a leader's block, asking the application to validate
//! it, voting for it; and, as leader, asking for a payload and proposing.

use cairn_ledger::{Block, Hash, Proposal, Vote};

use super::Consensus;
use crate::error::ConsensusError;
use crate::output::{Evidence, Output, PayloadRequest};
use crate::safety::{self, VoteDecision};

/// Proposals recorded per round: room for the few leaders validators with
/// different highest QCs can find after a timeout, and an equivocation.
pub(super) const MAX_PROPOSALS_PER_ROUND: usize = 4;

fn malformed(reason: &'static str) -> ConsensusError {
    ConsensusError::Malformed {
        what: "proposal",
        reason,
    }
}

impl Consensus {
    pub(super) fn on_proposal(&mut self, p: Proposal, out: &mut Vec<Output>) {
        if let Err(e) = self.check_proposal(&p) {
            out.push(Output::Rejected(e));
            return;
        }
        let h = &p.block.header;
        let hash = p.block.hash();
        if h.round.next() < self.pacemaker.round() {
            // Too old to vote on; its certificates may still teach us something.
            let (justify, tc) = (h.justify.clone(), h.timeout_cert.clone());
            self.process_qc(&justify, out);
            if let Some(tc) = tc {
                self.process_tc(&tc, out);
            }
            return;
        }
        // Who may propose after a QC depends on the parent's chain (leader
        // reputation). When the leader is known (after a TC, or with the
        // parent at hand), a proposal from anyone else is refused before it
        // is recorded, so it cannot crowd out the leader's; otherwise the
        // check waits until the parent arrives (`accept_block`), and only
        // the certificates are used meanwhile.
        if self.leader_of(h.round, &h.justify).is_some() {
            if let Err(e) = self.check_leader(&p.block) {
                out.push(Output::Rejected(e));
                return;
            }
            // Record it for equivocation detection (the signature is verified).
            // Two proposers of one round are not an equivocation: validators
            // holding different highest QCs after a timeout may each find a
            // different leader (`crate::leader`), and both blocks are valid.
            let seen = self.proposals.entry(h.round).or_default();
            if seen.iter().any(|(x, _, _)| *x == hash) {
                return; // duplicate
            }
            let mut own = seen.iter().filter(|(_, x, _)| x.proposer == h.proposer);
            if let Some((_, first, sig)) = own.next() {
                out.push(Output::Equivocation(Evidence::Proposals {
                    first: Box::new((first.clone(), *sig)),
                    second: Box::new((h.clone(), p.signature)),
                }));
                if own.next().is_some() {
                    return; // its first and one equivocation are kept
                }
            }
            if seen.len() >= MAX_PROPOSALS_PER_ROUND {
                return;
            }
            seen.push((hash, h.clone(), p.signature));
        }
        // Certificates move the round and may commit, before the block itself.
        let justify = h.justify.clone();
        let tc = h.timeout_cert.clone();
        self.process_qc(&justify, out);
        if let Some(tc) = tc {
            self.process_tc(&tc, out);
        }
        self.place_proposal(p, out);
    }

    /// Everything checkable without the parent: fields, round window, leader,
    /// signature and certificates.
    fn check_proposal(&mut self, p: &Proposal) -> crate::Result<()> {
        self.check_fields(&p.block)?;
        p.verify_signature(&self.config.committee)
            .map_err(|source| ConsensusError::Invalid {
                what: "proposal signature",
                source,
            })?;
        self.check_certs(&p.block)
    }

    /// `check_proposal` without the signature, for a block that validators
    /// with more than 1/3 of the power voted for (an honest one checked it).
    pub(super) fn check_block(&mut self, block: &Block) -> crate::Result<()> {
        self.check_fields(block)?;
        self.check_certs(block)
    }

    /// Fields, round window and leader.
    fn check_fields(&self, block: &Block) -> crate::Result<()> {
        let h = &block.header;
        let committee = &self.config.committee;
        if h.chain_id != committee.chain_id {
            return Err(malformed("wrong chain id"));
        }
        if h.tx_count as usize != block.txs.len() {
            return Err(malformed("tx_count does not match the transactions"));
        }
        let current = self.pacemaker.round();
        if h.round.0 > current.0.saturating_add(self.config.max_rounds_ahead) {
            return Err(ConsensusError::TooFarAhead {
                round: h.round,
                current,
                max_ahead: self.config.max_rounds_ahead,
            });
        }
        if h.round <= h.justify.round {
            return Err(malformed("round is not above its QC's round"));
        }
        if h.height != h.justify.height.next() || h.parent_hash != h.justify.block_hash {
            return Err(malformed("parent and height do not match its QC"));
        }
        match &h.timeout_cert {
            Some(tc) if tc.round.next() != h.round => {
                return Err(malformed(
                    "timeout certificate is not for the previous round",
                ))
            }
            None if h.justify.round.next() != h.round => {
                return Err(malformed("neither QC nor TC for the previous round"))
            }
            _ => {}
        }
        if committee.validators.index_of(&h.proposer).is_none() {
            return Err(ConsensusError::NotLeader {
                round: h.round,
                proposer: None,
                leader: self.fetch_hint(h.round),
            });
        }
        Ok(())
    }

    /// The proposer is the leader of the block's round (`crate::leader`).
    /// After a QC this needs the parent in the tree; a block whose parent is
    /// unknown passes (checked again once it is).
    fn check_leader(&self, block: &Block) -> crate::Result<()> {
        let h = &block.header;
        let Some(leader) = self.leader_of(h.round, &h.justify) else {
            return Ok(());
        };
        let proposer = self.config.committee.validators.index_of(&h.proposer);
        if proposer != Some(leader) {
            return Err(ConsensusError::NotLeader {
                round: h.round,
                proposer,
                leader,
            });
        }
        Ok(())
    }

    /// The block's QC and TC.
    fn check_certs(&mut self, block: &Block) -> crate::Result<()> {
        let h = &block.header;
        let invalid = |what| move |source| ConsensusError::Invalid { what, source };
        self.verify_qc(&h.justify).map_err(invalid("proposal QC"))?;
        if let Some(tc) = &h.timeout_cert {
            self.verify_tc(tc).map_err(invalid("proposal TC"))?;
        }
        Ok(())
    }

    /// Inserts the proposal's block if its parent is known, otherwise holds it
    /// and fetches the parent.
    pub(super) fn place_proposal(&mut self, p: Proposal, out: &mut Vec<Output>) {
        let h = &p.block.header;
        if self.tree.contains(&h.parent_hash) {
            self.accept_block(p.block, false, out);
            return;
        }
        if h.justify.height <= self.tree.committed_height() {
            out.push(Output::Rejected(ConsensusError::ConflictsWithCommitted {
                hash: p.block.hash(),
                height: h.height,
            }));
            return;
        }
        if self.pending.len() >= self.config.max_pending_proposals {
            out.push(Output::Rejected(ConsensusError::BufferFull {
                buffer: "proposals awaiting ancestors",
                cap: self.config.max_pending_proposals,
            }));
            return;
        }
        let parent = h.parent_hash;
        let hint = self
            .config
            .committee
            .validators
            .index_of(&h.proposer)
            .unwrap_or_else(|| self.fetch_hint(h.round));
        self.pending.push(p);
        self.fetch(parent, hint, out);
    }

    /// Inserts a block whose parent is in the tree; for this round's proposal,
    /// asks the application to validate it (we vote when it answers).
    /// `validated` marks our own payload, which needs no validation.
    pub(super) fn accept_block(&mut self, block: Block, validated: bool, out: &mut Vec<Output>) {
        let hash = block.hash();
        if self.tree.contains(&hash) {
            return;
        }
        if !validated {
            if let Err(e) = self.check_leader(&block) {
                out.push(Output::Rejected(e));
                return;
            }
        }
        let h = &block.header;
        if self.tree.state_height_for_child(&h.parent_hash) != Some(h.state_height) {
            out.push(Output::Rejected(malformed(
                "state_height is not the height its QC chain commits",
            )));
            return;
        }
        if self.tree.len() >= self.config.max_tree_blocks {
            out.push(Output::Rejected(ConsensusError::BufferFull {
                buffer: "block tree",
                cap: self.config.max_tree_blocks,
            }));
            return;
        }
        let current = h.round == self.pacemaker.round();
        self.tree.insert(block.clone());
        self.voted_wanted.remove(&hash);
        if current && self.me.is_some() {
            if validated {
                self.vote_for(&hash, out);
            } else {
                self.awaiting_validation.insert(hash);
                out.push(Output::ValidateBlock(block));
            }
        }
        self.connected(hash, out);
    }

    pub(super) fn on_validated(&mut self, hash: Hash, valid: bool, out: &mut Vec<Output>) {
        if !self.awaiting_validation.remove(&hash) {
            return;
        }
        if !valid {
            out.push(Output::Rejected(malformed(
                "the application found its transactions or state root invalid",
            )));
            return;
        }
        self.vote_for(&hash, out);
    }

    /// Votes for the block if it is this round's and the safety rules allow.
    fn vote_for(&mut self, hash: &Hash, out: &mut Vec<Output>) {
        let (Some(me), Some(key)) = (self.me, self.config.key.clone()) else {
            return;
        };
        let Some(block) = self.tree.block(hash) else {
            return;
        };
        let h = &block.header;
        if h.round != self.pacemaker.round() {
            return;
        }
        let decision = safety::decide_vote(
            &mut self.safety,
            &self.config,
            &key,
            me,
            *hash,
            h.height,
            h.round,
            h.justify.round,
            h.timeout_cert.as_ref(),
        );
        match decision {
            VoteDecision::New(vote) => {
                out.push(Output::PersistBlock(block.clone()));
                out.push(Output::Persist(self.safety.clone()));
                self.send_vote(vote, out);
            }
            VoteDecision::Resend(vote) => self.send_vote(vote, out),
            VoteDecision::Refuse(_) => {}
        }
    }

    /// Votes go to the leader of the next round; our own are counted directly.
    fn send_vote(&mut self, vote: Vote, out: &mut Vec<Output>) {
        let to = self.vote_recipient(&vote);
        if Some(to) == self.me {
            self.add_vote(vote, out);
        } else {
            out.push(Output::SendVote { to, vote });
        }
    }

    /// As leader of the current round, asks the node for a block, unless the
    /// chain is idle or we already proposed, voted or timed out in this round.
    pub(super) fn try_propose(&mut self, out: &mut Vec<Output>) {
        let round = self.pacemaker.round();
        let justify = self.safety.high_qc.clone();
        let Some(leader) = self.leader_of(round, &justify) else {
            // We lack the block our high QC certifies: fetch it first.
            if justify.height > self.tree.committed_height() {
                let hint = self.fetch_hint(justify.round);
                self.fetch(justify.block_hash, hint, out);
            }
            return;
        };
        if self.me != Some(leader)
            || self.awaiting_payload.is_some()
            || self.safety.last_voted_round >= round
            || self.proposals.contains_key(&round)
        {
            return;
        }
        let timeout_cert = if justify.round.next() == round {
            None
        } else {
            match self.pacemaker.tc_for_previous_round() {
                // 2-chain voting rule: our QC must be at least the TC's highest.
                Some(tc) if justify.round >= tc.max_high_qc_round() => Some(tc.clone()),
                _ => return,
            }
        };
        let Some(state_height) = self.tree.state_height_for_child(&justify.block_hash) else {
            let hint = self.fetch_hint(justify.round);
            self.fetch(justify.block_hash, hint, out);
            return;
        };
        if self.is_idle() && self.share_qc_round != Some(round) {
            return;
        }
        let request = PayloadRequest {
            round,
            height: justify.height.next(),
            parent_hash: justify.block_hash,
            justify,
            timeout_cert,
            state_height,
        };
        self.awaiting_payload = Some(request.clone());
        out.push(Output::RequestPayload(request));
    }

    pub(super) fn on_payload(&mut self, block: Block, out: &mut Vec<Output>) {
        let Some(req) = self.awaiting_payload.take() else {
            return; // stale: the round moved on
        };
        if self.safety.last_voted_round >= req.round {
            return; // we voted for another block of this round meanwhile (a twin's)
        }
        let Some(key) = self.config.key.clone() else {
            return;
        };
        let h = &block.header;
        let mismatch = if h.round != req.round
            || h.height != req.height
            || h.parent_hash != req.parent_hash
            || h.justify != req.justify
            || h.timeout_cert != req.timeout_cert
            || h.state_height != req.state_height
        {
            Some("round, height, parent, certificates or state_height differ")
        } else if h.proposer != key.address() || h.chain_id != self.config.committee.chain_id {
            Some("proposer or chain id is not ours")
        } else if h.tx_count as usize != block.txs.len() {
            Some("tx_count does not match the transactions")
        } else {
            None
        };
        if let Some(reason) = mismatch {
            out.push(Output::Rejected(ConsensusError::BadPayload { reason }));
            return;
        }
        let proposal = Proposal::sign(block, &key);
        let hash = proposal.block.hash();
        self.proposals.entry(req.round).or_default().push((
            hash,
            proposal.block.header.clone(),
            proposal.signature,
        ));
        // Persist (from our vote) goes before the proposal: a restarted leader
        // must find last_voted_round >= round and not propose again.
        let mut vote_out = Vec::new();
        self.accept_block(proposal.block.clone(), true, &mut vote_out);
        while let Some(i) = vote_out
            .iter()
            .position(|o| matches!(o, Output::Persist(_) | Output::PersistBlock(_)))
        {
            out.push(vote_out.remove(i));
        }
        out.push(Output::Broadcast(crate::Message::Proposal(proposal)));
        out.extend(vote_out);
    }
}
