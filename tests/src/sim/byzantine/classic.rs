//! The classic misbehaviours: equivocating proposals, double votes, broken
//! signatures and impersonation, replayed and far-future messages.

use cairn_consensus::Message;
use cairn_ledger::{Hash, Height, Proposal, QuorumCertificate, Round, Timeout, Vote};
use rand::Rng;

use super::corrupt;
use crate::sim::network::{NodeId, Packet};
use crate::sim::Sim;

impl Sim {
    /// Two blocks for the round, split between peers (some get both).
    pub(super) fn byz_equivocate(&mut self, i: NodeId, p: &Proposal) {
        let key = self.nodes[i].key.clone();
        let mut other = p.block.clone();
        other.header.timestamp_ms += 1;
        let other = Proposal::sign(other, &key);
        for to in 0..self.nodes.len() {
            if to == i {
                continue;
            }
            let pick = if self.rng.gen_bool(0.5) { p } else { &other };
            self.send(i, to, Packet::Msg(Message::Proposal(pick.clone())), false);
            if self.rng.gen_bool(0.3) {
                let second = if std::ptr::eq(pick, p) { &other } else { p };
                self.send(i, to, Packet::Msg(Message::Proposal(second.clone())), false);
            }
        }
    }

    /// Votes for every other block seen in the vote's round, and a made-up one.
    pub(super) fn byz_double_votes(&mut self, i: NodeId, vote: &Vote) -> Vec<Vote> {
        let key = self.nodes[i].key.clone();
        let chain = self.committee.chain_id.clone();
        let others: Vec<(Hash, Height)> = self
            .byz(i)
            .and_then(|b| b.seen.get(&vote.round).cloned())
            .unwrap_or_default();
        let mut votes = Vec::new();
        for (h, height) in others {
            if h != vote.block_hash {
                votes.push(Vote::sign(&chain, h, height, vote.round, vote.signer, &key));
            }
        }
        let fake = Hash::digest(&vote.block_hash.0);
        votes.push(Vote::sign(
            &chain,
            fake,
            vote.height,
            vote.round,
            vote.signer,
            &key,
        ));
        votes
    }

    /// A copy with a broken signature, and one claiming another signer.
    pub(super) fn byz_bad_copy(&mut self, i: NodeId, m: &Message, me: u16) {
        let n = self.committee.validators.len() as u16;
        let other = (me + 1) % n;
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
            self.broadcast(i, Packet::Msg(c), false);
        }
    }

    /// Replays an old message, and sends far-future ones with forged certificates.
    pub(super) fn byz_stale_and_future(&mut self, i: NodeId, m: &Message) {
        let key = self.nodes[i].key.clone();
        let me = self.nodes[i].validator;
        let chain = self.committee.chain_id.clone();
        let replay = self.byz(i).and_then(|b| {
            let len = b.history.len();
            (len > 0).then(|| b.history[len / 2].clone())
        });
        if let Some(old) = replay {
            self.broadcast(i, Packet::Msg(old), false);
        }
        let round = m.round();
        // A correctly signed timeout far in the future (dropped: too far ahead).
        let far = Timeout::sign(
            &chain,
            Round(round.0 + 1_000),
            QuorumCertificate::genesis(self.genesis.hash()),
            me,
            &key,
        );
        self.broadcast(i, Packet::Msg(Message::Timeout(far)), false);
        // A near-future timeout whose high QC has forged signatures.
        if let Message::Proposal(p) = m {
            let mut qc = p.block.header.justify.clone();
            if qc.round.0 > 0 {
                qc.round = Round(round.0 + 2);
                qc.block_hash = p.block.hash();
                qc.height = p.block.header.height;
                let t = Timeout::sign(&chain, Round(round.0 + 3), qc, me, &key);
                self.broadcast(i, Packet::Msg(Message::Timeout(t)), false);
            }
        }
    }
}
