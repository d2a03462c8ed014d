//! The old simulator's side of the shared adversary ([`crate::adversary`]):
//! a Byzantine node's core outputs and incoming packets are handed to its
//! [`Adversary`] through [`SimHost`], which sends on the simulated network,
//! draws from the run's randomness, and reads the node's core and app.

use cairn_consensus::{Message, PayloadRequest};
use cairn_ledger::{Block, Hash, Height, QuorumCertificate, Round, Vote};
use rand_chacha::ChaCha8Rng;

use super::network::{NodeId, Packet};
use super::node::Role;
use super::Sim;
use crate::adversary::{Adversary, Host};

/// Node `me` of the simulation, as its adversary sees it.
struct SimHost<'a> {
    sim: &'a mut Sim,
    me: NodeId,
}

impl Host for SimHost<'_> {
    fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.sim.rng
    }

    fn now_ms(&self) -> u64 {
        self.sim.now
    }

    fn nodes(&self) -> usize {
        self.sim.nodes.len()
    }

    fn me(&self) -> NodeId {
        self.me
    }

    fn send(&mut self, to: NodeId, m: Message) {
        self.sim.send(self.me, to, Packet::Msg(m), false);
    }

    fn send_to_validator(&mut self, v: u16, m: Message) {
        self.sim.send_to_validator(self.me, v, Packet::Msg(m));
    }

    fn broadcast(&mut self, m: Message) {
        self.sim.broadcast(self.me, Packet::Msg(m), false);
    }

    fn block(&self, hash: &Hash) -> Option<Block> {
        self.sim.nodes[self.me].core.as_ref()?.block(hash).cloned()
    }

    fn high_qc(&self) -> Option<QuorumCertificate> {
        Some(self.sim.nodes[self.me].core.as_ref()?.high_qc().clone())
    }

    fn leader_of(&self, round: Round, justify: &QuorumCertificate) -> Option<u16> {
        self.sim.nodes[self.me]
            .core
            .as_ref()?
            .leader_of(round, justify)
    }

    fn state_root_at(&self, height: Height) -> Option<Hash> {
        self.sim.nodes[self.me].app.root_at(height)
    }

    fn oldest_committed(&self, n: usize) -> Vec<Block> {
        let committed = &self.sim.nodes[self.me].committed;
        committed.iter().take(n).map(|(b, _)| b.clone()).collect()
    }
}

impl Sim {
    /// Runs `f` on node `i`'s adversary, if it is Byzantine. The adversary
    /// is taken out of the node meanwhile (the node stays Byzantine).
    fn with_adversary<R>(
        &mut self,
        i: NodeId,
        f: impl FnOnce(&mut Adversary, &mut SimHost<'_>) -> R,
    ) -> Option<R> {
        let Role::Byzantine(slot) = &mut self.nodes[i].role else {
            return None;
        };
        let mut adversary = slot.take()?;
        let r = f(&mut adversary, &mut SimHost { sim: self, me: i });
        if let Role::Byzantine(slot) = &mut self.nodes[i].role {
            *slot = Some(adversary);
        }
        Some(r)
    }

    pub(super) fn byz_is_silent(&mut self, i: NodeId) -> bool {
        self.with_adversary(i, |a, _| a.is_silent())
            .unwrap_or(false)
    }

    /// True if the message is kept from node `i`'s core.
    pub(super) fn byz_intercept(&mut self, i: NodeId, m: &Message) -> bool {
        self.with_adversary(i, |a, h| a.on_incoming(h, m))
            .unwrap_or(false)
    }

    pub(super) fn byz_broadcast(&mut self, i: NodeId, m: Message) {
        self.with_adversary(i, |a, h| a.on_broadcast(h, m));
    }

    pub(super) fn byz_vote(&mut self, i: NodeId, to: u16, vote: Vote) {
        self.with_adversary(i, |a, h| a.on_vote(h, to, vote));
    }

    /// Returns true if the Byzantine node handled the payload request itself.
    pub(super) fn byz_payload(&mut self, i: NodeId, req: &PayloadRequest) -> bool {
        self.with_adversary(i, |a, h| a.on_payload(h, req))
            .unwrap_or(false)
    }

    /// What node `i` answers to a fetch of `hash`, given what an honest node
    /// would send (the block and its ancestors, nearest first).
    pub(super) fn byz_fetch_reply(
        &mut self,
        i: NodeId,
        hash: Hash,
        honest: Vec<Block>,
    ) -> Vec<Block> {
        if !matches!(self.nodes[i].role, Role::Byzantine(_)) {
            return honest;
        }
        self.with_adversary(i, |a, h| a.fetch_reply(h, hash, honest))
            .unwrap_or_default()
    }
}
