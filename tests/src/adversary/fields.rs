//! Field-level lies: messages validly signed by the Byzantine validator whose
//! fields disagree with each other or with what the signature covers. Each
//! must be refused by the field it lies in, whatever it claims elsewhere.
//!
//! - A poisoned vote: the right block hash with a wrong height (or round).
//!   Before votes were tallied by exactly what they sign, one such vote
//!   joined honest votes into a QC that verified for nobody, and the leader
//!   that adopted it had every later message refused.
//! - A timeout whose signed high-QC round is higher or lower than the round
//!   of the QC it carries.
//! - A proposal whose header contradicts itself or its parent: height not
//!   the parent's + 1, a QC for a block other than the parent, a round not
//!   above its QC's, a wrong state height, a TC for another round.

use cairn_consensus::Message;
use cairn_ledger::types::cert::timeout_signing_bytes;
use cairn_ledger::{Hash, Height, Proposal, Round, Timeout, Vote};
use rand::Rng;

use super::{Adversary, Host};

impl Adversary {
    /// Replaces the real vote (`votes[0]`) by a poisoned one, or adds one;
    /// sometimes adds a vote for the block's hash signed for another round.
    pub(super) fn poison(&mut self, h: &mut impl Host, votes: &mut Vec<Vote>) {
        let key = &self.key;
        let chain = &self.committee.chain_id;
        let real = votes[0].clone();
        let ht = real.height.0;
        let lie = match h.rng().gen_range(0..4) {
            0 => ht + 1,
            // A made-up block's vote can be for height 0: lie upwards then.
            1 => ht.checked_sub(1).unwrap_or(ht + 1),
            2 => ht + 1_000,
            _ => u64::MAX,
        };
        let poisoned = Vote::sign(
            chain,
            real.block_hash,
            Height(lie),
            real.round,
            real.signer,
            key,
        );
        if h.rng().gen_bool(0.5) {
            votes[0] = poisoned;
        } else {
            votes.insert(0, poisoned);
        }
        if h.rng().gen_bool(0.3) {
            let round = if h.rng().gen_bool(0.5) {
                real.round.next()
            } else {
                Round(real.round.0.saturating_sub(1))
            };
            let v = Vote::sign(chain, real.block_hash, real.height, round, real.signer, key);
            votes.push(v);
        }
    }

    /// Copies of our timeout signed for a higher or a lower high-QC round
    /// than the QC it carries, each to some of the nodes.
    pub(super) fn lying_timeouts(&mut self, h: &mut impl Host, t: &Timeout) {
        if !self.s.lie_in_timeouts {
            return;
        }
        let chain = self.committee.chain_id.clone();
        let (round, hq) = (t.round.0, t.high_qc.round.0);
        let mut claims = Vec::new();
        if hq + 1 < round {
            claims.push(h.rng().gen_range(hq + 1..round)); // higher
        }
        if hq > 0 {
            claims.push(h.rng().gen_range(0..hq)); // lower
        }
        for claim in claims {
            let signature = self
                .key
                .sign(&timeout_signing_bytes(&chain, t.round, Round(claim)));
            let lie = Timeout {
                signature,
                ..t.clone()
            };
            self.send_to_some(h, Message::Timeout(lie), 0.6);
        }
    }

    /// As leader, a block whose header disagrees with itself or its parent,
    /// validly signed, to some of the nodes.
    pub(super) fn lying_proposals(&mut self, h: &mut impl Host, p: &Proposal) {
        if !self.s.lie_in_proposals {
            return;
        }
        let other_tc = self.s.last_tc.clone();
        let mut block = p.block.clone();
        let hd = &mut block.header;
        match h.rng().gen_range(0..6) {
            0 => hd.height = Height(hd.height.0 + 1),
            1 => hd.height = Height(hd.height.0.saturating_sub(1)),
            2 => {
                // A QC for the parent's parent (or a made-up block), not the parent.
                let grandparent = h.block(&hd.parent_hash).map(|b| b.header.parent_hash);
                hd.parent_hash = grandparent.unwrap_or_else(|| Hash::digest(&hd.parent_hash.0));
            }
            3 => {
                hd.round = hd.justify.round;
                hd.timeout_cert = None;
            }
            4 => {
                let sh = hd.state_height.0;
                let lie = if sh > 0 && h.rng().gen_bool(0.5) {
                    sh - 1
                } else {
                    sh + 1
                };
                hd.state_height = Height(lie);
                let root = h.state_root_at(Height(lie));
                hd.state_root = root.unwrap_or_else(|| Hash::digest(b"no such state"));
            }
            _ => {
                // A real TC for another round if we hold one, else this
                // round's with its round changed.
                let wrong = other_tc
                    .filter(|tc| tc.round.next() != hd.round)
                    .or_else(|| {
                        let mut tc = hd.timeout_cert.clone()?;
                        tc.round = Round(tc.round.0 + 1);
                        Some(tc)
                    });
                let Some(tc) = wrong else {
                    return;
                };
                hd.timeout_cert = Some(tc);
            }
        }
        let lie = Proposal::sign(block, &self.key);
        self.send_to_some(h, Message::Proposal(lie), 0.6);
    }
}
