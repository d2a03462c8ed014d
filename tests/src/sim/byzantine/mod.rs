//! Byzantine validators: a real core whose outputs are tampered with.
//!
//! Behaviours (each seed picks a mix): silence; an equivocating leader (two
//! blocks per round, split between peers); a double voter (votes for every
//! block it sees in a round, plus a made-up one); invalid signatures and
//! impersonation; replayed stale messages and far-future rounds with forged
//! certificates; a forking leader that, after a timeout, extends a QC below
//! the lock; and lying about the state root. Twins are set up in `mod.rs`.

use std::collections::BTreeMap;

use cairn_consensus::votes::TimeoutCollector;
use cairn_consensus::{Message, PayloadRequest};
use cairn_ledger::{
    Block, Hash, Height, Proposal, QuorumCertificate, Round, Signature, Timeout, Vote,
};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

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
    /// Blocks seen per round (to vote for all of them).
    seen: BTreeMap<Round, Vec<(Hash, Height)>>,
    /// Recent messages, for replay.
    history: Vec<Message>,
    /// Timeouts seen, to form TCs for forks.
    timeouts: TimeoutCollector,
    /// Rounds already forked in.
    forked: BTreeMap<Round, ()>,
}

impl ByzState {
    /// A random mix of behaviours; `forker` forces the forking equivocator.
    pub fn random(rng: &mut ChaCha8Rng, forker: bool) -> ByzState {
        if forker {
            return ByzState {
                forker: true,
                equivocate: rng.gen_bool(0.5),
                double_vote: rng.gen_bool(0.5),
                ..ByzState::default()
            };
        }
        if rng.gen_bool(0.15) {
            return ByzState {
                silent: true,
                ..ByzState::default()
            };
        }
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

    /// Remembers what a Byzantine node receives (blocks per round, timeouts).
    pub(super) fn byz_observe(&mut self, i: NodeId, m: &Message) {
        let vals = self.committee.validators.clone();
        let Some(b) = self.byz(i) else {
            return;
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
            }
            Message::Timeout(t) => {
                let tc = b.timeouts.add(t.clone(), &vals).cert;
                if let Some(tc) = tc {
                    self.byz_fork_after_tc(i, tc);
                }
            }
            Message::TimeoutCertificate(tc) => {
                let tc = tc.clone();
                self.byz_fork_after_tc(i, tc);
            }
            Message::Vote(_) => {}
        }
        if let Some(b) = self.byz(i) {
            if b.history.len() < 256 {
                b.history.push(m.clone());
            }
        }
    }

    pub(super) fn byz_broadcast(&mut self, i: NodeId, m: Message) {
        let key = self.nodes[i].key.clone();
        let me = self.nodes[i].validator;
        let Some(b) = self.byz(i) else {
            return;
        };
        if b.silent {
            return;
        }
        let (equivocate, bad_sigs, stale) = (b.equivocate, b.bad_signatures, b.stale_and_future);
        if let Message::Timeout(t) = &m {
            // Count our own timeouts towards the TCs we fork on.
            let vals = self.committee.validators.clone();
            if let Some(b) = self.byz(i) {
                b.timeouts.add(t.clone(), &vals);
            }
        }
        match &m {
            Message::Proposal(p) if equivocate => {
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
            _ => self.broadcast(i, Packet::Msg(m.clone()), false),
        }
        if bad_sigs {
            self.byz_bad_copy(i, &m, me);
        }
        if stale {
            self.byz_stale_and_future(i, &m);
        }
    }

    /// A copy with a broken signature, and one claiming another signer.
    fn byz_bad_copy(&mut self, i: NodeId, m: &Message, me: u16) {
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
    fn byz_stale_and_future(&mut self, i: NodeId, m: &Message) {
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

    pub(super) fn byz_vote(&mut self, i: NodeId, to: u16, vote: Vote) {
        let key = self.nodes[i].key.clone();
        let chain = self.committee.chain_id.clone();
        let Some(b) = self.byz(i) else {
            return;
        };
        if b.silent {
            return;
        }
        let (double, bad) = (b.double_vote, b.bad_signatures);
        let others: Vec<(Hash, Height)> = b.seen.get(&vote.round).cloned().unwrap_or_default();
        let mut votes = vec![vote.clone()];
        if double {
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
            votes.shuffle(&mut self.rng);
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
        let forker = self.byz(i).is_some_and(|b| b.forker && !b.silent);
        if !forker {
            return false;
        }
        match &req.timeout_cert {
            Some(tc) => {
                let tc = tc.clone();
                self.byz_fork_after_tc(i, tc);
                true
            }
            None => false,
        }
    }

    /// As leader of `tc.round + 1`, proposes a block extending a QC below the
    /// highest one (below the lock of anyone who saw it), and votes for it.
    fn byz_fork_after_tc(&mut self, i: NodeId, tc: cairn_ledger::TimeoutCertificate) {
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
        // Only the leader after the chosen parent may propose (leader reputation).
        if core.leader_after(round, &justify.block_hash) != Some(me) {
            return;
        }
        let Some(parent) = core.block(&justify.block_hash) else {
            return;
        };
        let p = &parent.header;
        let state_height = if p.height.0 > 0 && p.round == p.justify.round.next() {
            p.justify.height
        } else {
            p.state_height
        };
        let n = &self.nodes[i];
        let state_root = n.app.root_at(state_height).unwrap_or_default();
        let block = Block {
            header: cairn_ledger::BlockHeader {
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
                timeout_cert: Some(tc),
            },
            txs: Vec::new(),
        };
        let key = n.key.clone();
        let vote = Vote::sign(
            &self.committee.chain_id,
            block.hash(),
            block.header.height,
            round,
            me,
            &key,
        );
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
        let proposal = Proposal::sign(block, &key);
        self.broadcast(i, Packet::Msg(Message::Proposal(proposal)), false);
        // The next leader after a block only we hold is unknown to us: tell all.
        for v in 0..self.committee.validators.len() as u16 {
            self.send_to_validator(i, v, Packet::Msg(Message::Vote(vote.clone())));
        }
    }
}
