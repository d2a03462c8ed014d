//! Withheld, then revealed: as the next leader, the Byzantine validator keeps
//! the votes sent to it from its own node and forms the QC itself, so nobody
//! (not even its own node) learns it and the round times out. A few rounds
//! later it plays the QC: as the high QC of a timeout, to everyone or to some
//! nodes only (the rest get the timeout its core signed), or as the QC of a
//! later proposal it leads. The QC is real; honest nodes must take it in
//! whenever it arrives without breaking the lock or halting.

use cairn_consensus::{Message, PayloadRequest};
use cairn_ledger::{QuorumCertificate, Round, Timeout, Vote};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Adversary, Host};

/// How a hidden QC is played.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// In a timeout, to everyone.
    Timeout,
    /// In a timeout to some nodes; the others get the core's own timeout.
    SomeNodes,
    /// In the next proposal we lead (falling back to a timeout).
    Proposal,
}

impl Reveal {
    /// One of the three.
    pub fn random(rng: &mut ChaCha8Rng) -> Reveal {
        [Reveal::Timeout, Reveal::SomeNodes, Reveal::Proposal][rng.gen_range(0..3)]
    }
}

/// A QC formed and kept hidden.
#[derive(Clone, Debug)]
pub struct Hidden {
    qc: QuorumCertificate,
    /// The first round whose timeout (or proposal) may reveal it.
    reveal_at: Round,
}

impl Adversary {
    /// A vote reaching a withholding node: hoarded (true: the node never
    /// sees it) for the rounds chosen, one round at a time.
    pub(super) fn hoard(&mut self, h: &mut impl Host, v: &Vote) -> bool {
        let b = &mut self.s;
        if b.withhold.is_none() || b.silent {
            return false;
        }
        let decided = b.hoarding.get(&v.round).copied();
        // A QC still hidden long after it was due is given up.
        if b.hidden
            .as_ref()
            .is_some_and(|hd| v.round.0 > hd.reveal_at.0 + 8)
        {
            b.hidden = None;
        }
        let free = b.hidden.is_none();
        // Decided once per round, on its first vote: hoard only while
        // nothing else is hidden.
        let hoard = decided.unwrap_or_else(|| free && h.rng().gen_bool(0.5));
        let delay = h.rng().gen_range(1..=3);
        b.hoarding.insert(v.round, hoard);
        if b.hoarding.len() > 16 {
            b.hoarding.pop_first();
        }
        let committee = &self.committee;
        if !hoard || v.verify(committee).is_err() {
            return false;
        }
        let vals = &committee.validators;
        let own = Vote::sign(
            &committee.chain_id,
            v.block_hash,
            v.height,
            v.round,
            self.me,
            &self.key,
        );
        b.hoard.add(own, vals);
        if let Some(qc) = b.hoard.add(v.clone(), vals).cert {
            if qc.verify(committee).is_ok() {
                if std::env::var("SIM_TRACE").is_ok() {
                    eprintln!("node {} HIDES qc{} h{}", h.me(), qc.round, qc.height);
                }
                b.hidden = Some(Hidden {
                    reveal_at: Round(qc.round.0 + 1 + delay),
                    qc,
                });
            }
        }
        b.hoard.prune_below(Round(v.round.0.saturating_sub(4)));
        true
    }

    /// Our node times out: if a hidden QC is due, the timeout carries it
    /// instead (true: handled, the node's timeout is not broadcast as is).
    pub(super) fn reveal_in_timeout(&mut self, h: &mut impl Host, t: &Timeout) -> bool {
        let b = &mut self.s;
        let (Some(mode), Some(hidden)) = (b.withhold, &b.hidden) else {
            return false;
        };
        // A proposal gets two rounds' head start before a timeout plays it.
        let due = match mode {
            Reveal::Proposal => Round(hidden.reveal_at.0 + 2),
            _ => hidden.reveal_at,
        };
        if t.round < due || hidden.qc.round >= t.round {
            return false;
        }
        let qc = hidden.qc.clone();
        b.hidden = None;
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!(
                "node {} REVEALS qc{} in timeout r{} ({mode:?})",
                h.me(),
                qc.round,
                t.round
            );
        }
        let reveal = Timeout::sign(&self.committee.chain_id, t.round, qc, t.signer, &self.key);
        for to in 0..h.nodes() {
            if to == h.me() {
                continue;
            }
            let m = if mode == Reveal::SomeNodes && h.rng().gen_bool(0.5) {
                t.clone()
            } else {
                reveal.clone()
            };
            h.send(to, Message::Timeout(m));
        }
        true
    }

    /// Our node is about to propose: if a hidden QC is due and we lead the
    /// round after its block, propose on it instead (true: handled).
    pub(super) fn reveal_in_proposal(&mut self, h: &mut impl Host, req: &PayloadRequest) -> bool {
        let b = &mut self.s;
        let Some(hidden) = b.hidden.clone() else {
            return false;
        };
        if b.withhold != Some(Reveal::Proposal) || req.round < hidden.reveal_at {
            return false;
        }
        if hidden.qc.round <= req.justify.round {
            b.hidden = None; // overtaken: nothing left to reveal
            return false;
        }
        if h.leader_of(req.round, &hidden.qc) != Some(self.me) {
            return false;
        }
        // A QC for the previous round needs no TC; otherwise the node's TC(r-1).
        let tc = if hidden.qc.round.next() == req.round {
            None
        } else {
            let Some(tc) = req.timeout_cert.clone() else {
                return false;
            };
            Some(tc)
        };
        let Some(block) = self.block(&*h, req.round, hidden.qc.clone(), tc) else {
            return false;
        };
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!(
                "node {} REVEALS qc{} in proposal r{}",
                h.me(),
                hidden.qc.round,
                req.round
            );
        }
        self.s.hidden = None;
        self.propose_and_vote(h, block);
        true
    }
}
