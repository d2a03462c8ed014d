//! The Byzantine adversary: a validator that runs an honest node (the
//! production driver, in [`crate::nodesim`]) and tampers with what goes in
//! and out of it.
//!
//! The adversary never reaches into the simulator: everything it needs goes
//! through [`Host`] (a wire to send on, randomness, a clock, and a read-only
//! view of its own node's chain), and everything it knows about itself (key,
//! validator index, committee, memory) is in [`Adversary`]. The simulator
//! implements `Host` for its Byzantine nodes and calls the hooks below where
//! its node's messages pass: [`Adversary::on_incoming`] for what the node
//! receives, [`Adversary::on_broadcast`] and [`Adversary::on_vote`] for what
//! it sends, [`Adversary::on_payload`] when it is about to propose, and
//! [`Adversary::fetch_reply`] for its answers to block fetches.
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

mod classic;
mod fetch;
mod fields;
mod forge;
mod fork;
mod withhold;

use std::collections::BTreeMap;

use cairn_consensus::votes::{TimeoutCollector, VoteCollector};
use cairn_consensus::{Message, PayloadRequest};
use cairn_ledger::{
    Block, Committee, Hash, Height, QuorumCertificate, Round, SecretKey, Signature, Timeout,
    TimeoutCertificate, Vote,
};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use fetch::FetchLie;
use withhold::{Hidden, Reveal};

/// A node index in the hosting simulator (with twins, not a validator index).
pub type NodeId = usize;

/// What the adversary needs from the simulator hosting its node.
pub trait Host {
    /// The randomness the adversary draws from.
    fn rng(&mut self) -> &mut ChaCha8Rng;
    /// The clock, in the unit block timestamps use (ms).
    fn now_ms(&self) -> u64;
    /// How many nodes there are (ids `0..nodes()`).
    fn nodes(&self) -> usize;
    /// The Byzantine node's own id.
    fn me(&self) -> NodeId;
    /// Sends `m` to node `to` only (a split audience is made of these).
    fn send(&mut self, to: NodeId, m: Message);
    /// Sends `m` to every node holding validator index `v`.
    fn send_to_validator(&mut self, v: u16, m: Message);
    /// Sends `m` to every other node.
    fn broadcast(&mut self, m: Message) {
        for to in 0..self.nodes() {
            if to != self.me() {
                self.send(to, m.clone());
            }
        }
    }
    /// A block the node holds (uncommitted or committed), by hash.
    fn block(&self, hash: &Hash) -> Option<Block>;
    /// The node's highest QC (`None` while it is down).
    fn high_qc(&self) -> Option<QuorumCertificate>;
    /// The leader of `round` for a block extending `justify`, as the node
    /// computes it (`None` if it lacks the ancestry).
    fn leader_of(&self, round: Round, justify: &QuorumCertificate) -> Option<u16>;
    /// The state root after committing `height`, if the node knows it.
    fn state_root_at(&self, height: Height) -> Option<Hash>;
    /// The node's first `n` committed blocks, genesis first.
    fn oldest_committed(&self, n: usize) -> Vec<Block>;
}

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

    fn remember_tc(&mut self, tc: &TimeoutCertificate) {
        if self.last_tc.as_ref().is_none_or(|t| tc.round > t.round) {
            self.last_tc = Some(tc.clone());
        }
    }
}

/// A Byzantine validator: who it is, and what it does and remembers.
#[derive(Debug)]
pub struct Adversary {
    /// Its validator index.
    me: u16,
    /// Its real key: its lies are validly signed.
    key: SecretKey,
    committee: Committee,
    genesis_hash: Hash,
    /// Its behaviours and memory.
    pub s: ByzState,
}

fn corrupt(sig: &Signature) -> Signature {
    let mut s = *sig;
    s.0[7] ^= 0x40;
    s
}

impl Adversary {
    /// Validator `me` (holding `key`) of `committee`, behaving as `s` says.
    pub fn new(
        s: ByzState,
        me: u16,
        key: SecretKey,
        committee: Committee,
        genesis_hash: Hash,
    ) -> Adversary {
        Adversary {
            me,
            key,
            committee,
            genesis_hash,
            s,
        }
    }

    /// True if it sends nothing at all.
    pub fn is_silent(&self) -> bool {
        self.s.silent
    }

    /// Its key.
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// Sends to every other node with probability `p` each (a split audience).
    fn send_to_some(&mut self, h: &mut impl Host, m: Message, p: f64) {
        for to in 0..h.nodes() {
            if to != h.me() && h.rng().gen_bool(p) {
                h.send(to, m.clone());
            }
        }
    }

    /// What the Byzantine node receives: remembered (blocks per round,
    /// timeouts, TCs) and possibly kept from its node (hoarded votes).
    /// Returns true if the message is not to be given to the node.
    pub fn on_incoming(&mut self, h: &mut impl Host, m: &Message) -> bool {
        let vals = self.committee.validators.clone();
        match m {
            Message::Proposal(p) => {
                let b = &mut self.s;
                let hd = &p.block.header;
                let seen = b.seen.entry(hd.round).or_default();
                if seen.len() < 4 && !seen.iter().any(|(x, _)| *x == p.block.hash()) {
                    seen.push((p.block.hash(), hd.height));
                }
                if b.seen.len() > 64 {
                    b.seen.pop_first();
                }
                if let Some(tc) = &hd.timeout_cert {
                    b.remember_tc(tc);
                }
            }
            Message::Timeout(t) => {
                if self.s.race_tcs && self.s.raced.insert(t.round, ()).is_none() {
                    // Our own timeout for the round, at once: with two honest
                    // ones we hold a quorum before any honest node does.
                    if self.s.raced.len() > 32 {
                        self.s.raced.pop_first();
                    }
                    let mine = Timeout::sign(
                        &self.committee.chain_id,
                        t.round,
                        t.high_qc.clone(),
                        self.me,
                        &self.key,
                    );
                    self.s.timeouts.add(mine, &vals);
                }
                let tc = self.s.timeouts.add(t.clone(), &vals).cert;
                if let Some(tc) = tc {
                    self.on_tc(h, tc);
                }
            }
            Message::TimeoutCertificate(tc) => self.on_tc(h, tc.clone()),
            Message::Vote(v) => {
                if self.hoard(h, v) {
                    return true;
                }
            }
        }
        if self.s.history.len() < 256 {
            self.s.history.push(m.clone());
        }
        false
    }

    /// A TC seen or formed: remembered, forged into lies, forked on.
    fn on_tc(&mut self, h: &mut impl Host, tc: TimeoutCertificate) {
        self.s.remember_tc(&tc);
        self.forged_tcs(h, &tc);
        self.fork_after_tc(h, tc);
    }

    /// The node broadcasts `m`: what goes out instead, and to whom.
    pub fn on_broadcast(&mut self, h: &mut impl Host, m: Message) {
        let b = &mut self.s;
        if b.silent {
            return;
        }
        let (equivocate, bad_sigs, stale) = (b.equivocate, b.bad_signatures, b.stale_and_future);
        let race = b.race_tcs;
        if let Message::Timeout(t) = &m {
            // Count our own timeouts towards the TCs we fork on.
            b.timeouts.add(t.clone(), &self.committee.validators);
        }
        if let Message::TimeoutCertificate(tc) = &m {
            b.remember_tc(tc);
        }
        match &m {
            Message::Proposal(p) if equivocate => self.equivocate(h, p),
            Message::Timeout(_) if race => {}
            Message::Timeout(t) if self.reveal_in_timeout(h, t) => {}
            _ => h.broadcast(m.clone()),
        }
        if bad_sigs {
            self.bad_copy(h, &m);
        }
        if stale {
            self.stale_and_future(h, &m);
        }
        match &m {
            Message::Proposal(p) => {
                self.lying_proposals(h, p);
                self.forged_proposals(h, p);
            }
            Message::Timeout(t) => {
                self.lying_timeouts(h, t);
                self.forged_timeouts(h, t);
            }
            Message::TimeoutCertificate(tc) => self.forged_tcs(h, tc),
            Message::Vote(_) => {}
        }
    }

    /// The node sends its vote to validator `to`: what goes out instead.
    pub fn on_vote(&mut self, h: &mut impl Host, to: u16, vote: Vote) {
        let b = &self.s;
        if b.silent {
            return;
        }
        let (double, bad, poison) = (b.double_vote, b.bad_signatures, b.poison_votes);
        let mut votes = vec![vote.clone()];
        if double {
            votes.extend(self.double_votes(&vote));
            votes.shuffle(h.rng());
        }
        if poison {
            self.poison(h, &mut votes);
        }
        for v in votes {
            h.send_to_validator(to, Message::Vote(v));
        }
        if bad {
            self.bad_copy(h, &Message::Vote(vote));
        }
    }

    /// The node is about to propose for `req`: returns true if the
    /// adversary proposed something else itself (the node's own proposal
    /// must not go out).
    pub fn on_payload(&mut self, h: &mut impl Host, req: &PayloadRequest) -> bool {
        if self.s.silent {
            return false;
        }
        if self.reveal_in_proposal(h, req) {
            return true;
        }
        match &req.timeout_cert {
            Some(tc) if self.s.forker => {
                self.fork_after_tc(h, tc.clone());
                true
            }
            _ => false,
        }
    }
}
