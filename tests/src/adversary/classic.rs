//! The classic misbehaviours: equivocating proposals, double votes, broken
//! signatures and impersonation, replayed and far-future messages.

use cairn_consensus::Message;
use cairn_ledger::{Hash, Height, Proposal, QuorumCertificate, Round, Timeout, Vote};
use rand::Rng;

use super::{corrupt, Adversary, Host};

impl Adversary {
    /// Two blocks for the round, split between peers (some get both).
    pub(super) fn equivocate(&mut self, h: &mut impl Host, p: &Proposal) {
        let mut other = p.block.clone();
        other.header.timestamp_ms += 1;
        let other = Proposal::sign(other, &self.key);
        for to in 0..h.nodes() {
            if to == h.me() {
                continue;
            }
            let pick = if h.rng().gen_bool(0.5) { p } else { &other };
            h.send(to, Message::Proposal(pick.clone()));
            if h.rng().gen_bool(0.3) {
                let second = if std::ptr::eq(pick, p) { &other } else { p };
                h.send(to, Message::Proposal(second.clone()));
            }
        }
    }

    /// Votes for every other block seen in the vote's round, and a made-up one.
    pub(super) fn double_votes(&self, vote: &Vote) -> Vec<Vote> {
        let chain = &self.committee.chain_id;
        let others: Vec<(Hash, Height)> = self.s.seen.get(&vote.round).cloned().unwrap_or_default();
        let mut votes = Vec::new();
        for (h, height) in others {
            if h != vote.block_hash {
                votes.push(Vote::sign(
                    chain,
                    h,
                    height,
                    vote.round,
                    vote.signer,
                    &self.key,
                ));
            }
        }
        let fake = Hash::digest(&vote.block_hash.0);
        votes.push(Vote::sign(
            chain,
            fake,
            vote.height,
            vote.round,
            vote.signer,
            &self.key,
        ));
        votes
    }

    /// A copy with a broken signature, and one claiming another signer.
    pub(super) fn bad_copy(&mut self, h: &mut impl Host, m: &Message) {
        let n = self.committee.validators.len() as u16;
        let other = (self.me + 1) % n;
        let copies = match m.clone() {
            Message::Proposal(mut p) => {
                p.signature = corrupt(&p.signature);
                vec![Message::Proposal(p)]
            }
            Message::Vote(mut v) => {
                let mut w = v.clone();
                w.signer = other;
                v.signature = corrupt(&v.signature);
                vec![Message::Vote(v), Message::Vote(w)]
            }
            Message::Timeout(mut t) => {
                let mut u = t.clone();
                u.signer = other;
                t.signature = corrupt(&t.signature);
                vec![Message::Timeout(t), Message::Timeout(u)]
            }
            Message::TimeoutCertificate(mut tc) => {
                if let Some(first) = tc.signatures.first_mut() {
                    first.2 = corrupt(&first.2);
                }
                vec![Message::TimeoutCertificate(tc)]
            }
        };
        for c in copies {
            h.broadcast(c);
        }
    }

    /// Replays an old message, and sends far-future ones with forged certificates.
    pub(super) fn stale_and_future(&mut self, h: &mut impl Host, m: &Message) {
        let chain = self.committee.chain_id.clone();
        let len = self.s.history.len();
        if len > 0 {
            h.broadcast(self.s.history[len / 2].clone());
        }
        let round = m.round();
        // A correctly signed timeout far in the future (dropped: too far ahead).
        let far = Timeout::sign(
            &chain,
            Round(round.0 + 1_000),
            QuorumCertificate::genesis(self.genesis_hash),
            self.me,
            &self.key,
        );
        h.broadcast(Message::Timeout(far));
        // A near-future timeout whose high QC has forged signatures.
        if let Message::Proposal(p) = m {
            let mut qc = p.block.header.justify.clone();
            if qc.round.0 > 0 {
                qc.round = Round(round.0 + 2);
                qc.block_hash = p.block.hash();
                qc.height = p.block.header.height;
                let t = Timeout::sign(&chain, Round(round.0 + 3), qc, self.me, &self.key);
                h.broadcast(Message::Timeout(t));
            }
        }
    }
}
