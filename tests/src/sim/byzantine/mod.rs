//! Byzantine validators: a real core whose outputs are tampered with.
//!
//! Each seed picks a mix of behaviours per Byzantine validator, by family:
//!
//! - [`classic`]: silence; an equivocating leader (two blocks per round,
//!   split between peers); a double voter (votes for every block it sees in
//!   a round, plus a made-up one); invalid signatures and impersonation;
//!   replayed stale messages and far-future rounds with forged certificates;
//!   lying about the state root.
//! - [`fork`]: a forking leader that, after a timeout, extends a QC below the lock.
//! - [`fields`]: validly signed messages whose fields disagree with each
//!   other or with what they sign (a vote for the right block at the wrong
//!   height, a timeout whose signed high-QC round is not its QC's, proposals
//!   whose header contradicts itself or its parent).
//! - [`forge`]: certificates with forged contents (duplicate or unknown
//!   signers, fields their signatures do not sign, inflated and lowered TC
//!   entries, a TC whose QC is below its highest entry), placed in
//!   proposals, timeouts and standalone TCs.
//! - [`withhold`]: a next leader that forms a real QC, hides it, and plays
//!   it later (in a timeout, a later proposal, or to some nodes only).
//! - [`fetch`]: forged answers to block fetches.
//!
//! Honest nodes must stay safe and, with at most f such validators, live.
//! Twins are set up in `mod.rs`.

mod classic;
mod fetch;
mod fields;
mod forge;
mod fork;
mod withhold;

use std::collections::BTreeMap;

use cairn_consensus::votes::{TimeoutCollector, VoteCollector};
use cairn_consensus::{Message, PayloadRequest};
use cairn_ledger::{Hash, Height, Round, Signature, Timeout, TimeoutCertificate, Vote};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use fetch::FetchLie;
use withhold::{Hidden, Reveal};

use super::network::{NodeId, Packet};
use super::node::Role;
use super::Sim;

/// A Byzantine node's behaviours and memory.
#[derive(Debug, Default)]
pub struct ByzState {
    /// Sends nothing at all.
    pub silent: bool,
    /// Proposes two blocks per round.
    pub equivocate: bool,
    /// Votes for conflicting blocks.
    pub double_vote: bool,
    /// Sends messages with broken signatures or someone else's signer index.
    pub bad_signatures: bool,
    /// Replays old messages and sends far-future ones with forged certificates.
    pub stale_and_future: bool,
    /// After a timeout, proposes a block extending a QC below the lock.
    pub forker: bool,
    /// Proposes blocks with a wrong state root.
    pub lie_about_state: bool,
    /// Signs votes for the right block hash at a wrong height or round.
    pub poison_votes: bool,
    /// Signs timeouts whose high-QC round is not the round of the QC carried.
    pub lie_in_timeouts: bool,
    /// As leader, also signs proposals whose header fields disagree.
    pub lie_in_proposals: bool,
    /// Sends certificates with forged contents.
    pub forge_certs: bool,
    /// Races honest TCs with forged ones: keeps its own timeouts to itself
    /// (so the honest nodes need every other honest timeout for a TC) and
    /// sends its forgeries the moment it holds a quorum of timeouts.
    pub race_tcs: bool,
    /// As next leader, forms QCs, hides them and plays them later.
    withhold: Option<Reveal>,
    /// How it answers block fetches.
    fetch: FetchLie,
    /// Blocks seen per round (to vote for all of them).
    seen: BTreeMap<Round, Vec<(Hash, Height)>>,
    /// Recent messages, for replay.
    history: Vec<Message>,
    /// Timeouts seen, to form TCs for forks and forgeries.
    timeouts: TimeoutCollector,
    /// The highest TC seen or formed.
    last_tc: Option<TimeoutCertificate>,
    /// Rounds already forked in.
    forked: BTreeMap<Round, ()>,
    /// Rounds in which we signed our own timeout early, to race TCs.
    raced: BTreeMap<Round, ()>,
    /// Rounds whose TC was already forged.
    forged_tcs: BTreeMap<Round, ()>,
    /// Votes collected for a QC to hide (see [`withhold`]).
    hoard: VoteCollector,
    /// Per round of votes received: hoarded or not.
    hoarding: BTreeMap<Round, bool>,
    /// The QC hidden, and when to play it.
    hidden: Option<Hidden>,
}

impl ByzState {
    /// A random mix of behaviours; `forker` forces the forking equivocator.
    pub fn random(rng: &mut ChaCha8Rng, forker: bool) -> ByzState {
        let mut b = if forker {
            ByzState {
                forker: true,
                equivocate: rng.gen_bool(0.5),
                double_vote: rng.gen_bool(0.5),
                ..ByzState::default()
            }
        } else if rng.gen_bool(0.15) {
            return ByzState {
                silent: true,
                ..ByzState::default()
            };
        } else {
            let mut b = ByzState {
                equivocate: rng.gen_bool(0.5),
                double_vote: rng.gen_bool(0.5),
                bad_signatures: rng.gen_bool(0.5),
                stale_and_future: rng.gen_bool(0.5),
                forker: rng.gen_bool(0.5),
                lie_about_state: rng.gen_bool(0.2),
                ..ByzState::default()
            };
            if !(b.equivocate || b.double_vote || b.bad_signatures || b.stale_and_future) {
                b.double_vote = true;
            }
            b
        };
        // The field-level liar, drawn on top of either mix.
        b.poison_votes = rng.gen_bool(0.4);
        b.lie_in_timeouts = rng.gen_bool(0.4);
        b.lie_in_proposals = rng.gen_bool(0.4);
        b.forge_certs = rng.gen_bool(0.4);
        b.race_tcs = b.forge_certs && rng.gen_bool(0.5);
        b.withhold = rng.gen_bool(0.4).then(|| Reveal::random(rng));
        b.fetch = FetchLie::random(rng);
        b
    }
}

fn corrupt(sig: &Signature) -> Signature {
    let mut s = *sig;
    s.0[7] ^= 0x40;
    s
}

impl Sim {
    fn byz(&mut self, i: NodeId) -> Option<&mut ByzState> {
        match &mut self.nodes[i].role {
            Role::Byzantine(b) => Some(b),
            _ => None,
        }
    }

    pub(super) fn byz_is_silent(&mut self, i: NodeId) -> bool {
        self.byz(i).is_some_and(|b| b.silent)
    }

    /// Sends to every other node with probability `p` each (a split audience).
    fn send_to_some(&mut self, i: NodeId, packet: Packet, p: f64) {
        for to in 0..self.nodes.len() {
            if to != i && self.rng.gen_bool(p) {
                self.send(i, to, packet.clone(), false);
            }
        }
    }

    /// What a Byzantine node receives: remembered (blocks per round,
    /// timeouts, TCs) and possibly kept from its own core (hoarded votes).
    /// Returns true if the message is not to be given to the core.
    pub(super) fn byz_intercept(&mut self, i: NodeId, m: &Message) -> bool {
        let vals = self.committee.validators.clone();
        let Some(b) = self.byz(i) else {
            return false;
        };
        match m {
            Message::Proposal(p) => {
                let h = &p.block.header;
                let seen = b.seen.entry(h.round).or_default();
                if seen.len() < 4 && !seen.iter().any(|(x, _)| *x == p.block.hash()) {
                    seen.push((p.block.hash(), h.height));
                }
                if b.seen.len() > 64 {
                    b.seen.pop_first();
                }
                if let Some(tc) = &h.timeout_cert {
                    b.remember_tc(tc);
                }
            }
            Message::Timeout(t) => {
                if b.race_tcs && b.raced.insert(t.round, ()).is_none() {
                    // Our own timeout for the round, at once: with two honest
                    // ones we hold a quorum before any honest node does.
                    if b.raced.len() > 32 {
                        b.raced.pop_first();
                    }
                    let mine = Timeout::sign(
                        &self.committee.chain_id,
                        t.round,
                        t.high_qc.clone(),
                        self.nodes[i].validator,
                        &self.nodes[i].key,
                    );
                    if let Role::Byzantine(b) = &mut self.nodes[i].role {
                        b.timeouts.add(mine, &vals);
                    }
                }
                let Some(b) = self.byz(i) else {
                    return false;
                };
                let tc = b.timeouts.add(t.clone(), &vals).cert;
                if let Some(tc) = tc {
                    self.byz_on_tc(i, tc);
                }
            }
            Message::TimeoutCertificate(tc) => {
                let tc = tc.clone();
                self.byz_on_tc(i, tc);
            }
            Message::Vote(v) => {
                if self.byz_hoard(i, v) {
                    return true;
                }
            }
        }
        if let Some(b) = self.byz(i) {
            if b.history.len() < 256 {
                b.history.push(m.clone());
            }
        }
        false
    }

    /// A TC seen or formed: remembered, forged into lies, forked on.
    fn byz_on_tc(&mut self, i: NodeId, tc: TimeoutCertificate) {
        if let Some(b) = self.byz(i) {
            b.remember_tc(&tc);
        }
        self.byz_forged_tcs(i, &tc);
        self.byz_fork_after_tc(i, tc);
    }

    pub(super) fn byz_broadcast(&mut self, i: NodeId, m: Message) {
        let Some(b) = self.byz(i) else {
            return;
        };
        if b.silent {
            return;
        }
        let (equivocate, bad_sigs, stale) = (b.equivocate, b.bad_signatures, b.stale_and_future);
        let race = b.race_tcs;
        if let Message::Timeout(t) = &m {
            // Count our own timeouts towards the TCs we fork on.
            let vals = self.committee.validators.clone();
            if let Some(b) = self.byz(i) {
                b.timeouts.add(t.clone(), &vals);
            }
        }
        if let Message::TimeoutCertificate(tc) = &m {
            if let Some(b) = self.byz(i) {
                b.remember_tc(tc);
            }
        }
        match &m {
            Message::Proposal(p) if equivocate => self.byz_equivocate(i, p),
            Message::Timeout(_) if race => {}
            Message::Timeout(t) if self.byz_reveal_in_timeout(i, t) => {}
            _ => self.broadcast(i, Packet::Msg(m.clone()), false),
        }
        if bad_sigs {
            let me = self.nodes[i].validator;
            self.byz_bad_copy(i, &m, me);
        }
        if stale {
            self.byz_stale_and_future(i, &m);
        }
        match &m {
            Message::Proposal(p) => {
                self.byz_lying_proposals(i, p);
                self.byz_forged_proposals(i, p);
            }
            Message::Timeout(t) => {
                self.byz_lying_timeouts(i, t);
                self.byz_forged_timeouts(i, t);
            }
            Message::TimeoutCertificate(tc) => self.byz_forged_tcs(i, tc),
            Message::Vote(_) => {}
        }
    }

    pub(super) fn byz_vote(&mut self, i: NodeId, to: u16, vote: Vote) {
        let Some(b) = self.byz(i) else {
            return;
        };
        if b.silent {
            return;
        }
        let (double, bad, poison) = (b.double_vote, b.bad_signatures, b.poison_votes);
        let mut votes = vec![vote.clone()];
        if double {
            votes.extend(self.byz_double_votes(i, &vote));
            votes.shuffle(&mut self.rng);
        }
        if poison {
            self.byz_poison(i, &mut votes);
        }
        for v in votes {
            self.send_to_validator(i, to, Packet::Msg(Message::Vote(v)));
        }
        if bad {
            let me = self.nodes[i].validator;
            self.byz_bad_copy(i, &Message::Vote(vote), me);
        }
    }

    /// Returns true if the Byzantine node handled the payload request itself.
    pub(super) fn byz_payload(&mut self, i: NodeId, req: &PayloadRequest) -> bool {
        let Some(b) = self.byz(i) else {
            return false;
        };
        if b.silent {
            return false;
        }
        if self.byz_reveal_in_proposal(i, req) {
            return true;
        }
        let forker = self.byz(i).is_some_and(|b| b.forker);
        match &req.timeout_cert {
            Some(tc) if forker => {
                let tc = tc.clone();
                self.byz_fork_after_tc(i, tc);
                true
            }
            _ => false,
        }
    }
}

impl ByzState {
    fn remember_tc(&mut self, tc: &TimeoutCertificate) {
        if self.last_tc.as_ref().is_none_or(|t| tc.round > t.round) {
            self.last_tc = Some(tc.clone());
        }
    }
}
