//! Where the rule checks ([`super::rules`]) tap the simulation: every packet
//! sent by anyone feeds the commit oracle, every output of a core is seen
//! before it is performed, and crashes are aimed just after signed sends.

use cairn_consensus::{Message, Output, SafetyData};
use cairn_ledger::Decode;
use rand::Rng;

use super::network::{NodeId, Packet};
use super::{Event, Sim};

/// True for an output that sends something its node signed for a round.
pub(super) fn is_signed_send(o: &Output) -> bool {
    matches!(
        o,
        Output::SendVote { .. } | Output::Broadcast(Message::Vote(_) | Message::Timeout(_))
    )
}

impl Sim {
    /// Feeds the commit oracle with what a packet carries (any sender).
    pub(super) fn observe_packet(&mut self, from: NodeId, packet: &Packet) {
        let honest = self.nodes[from].is_honest();
        let oracle = &mut self.checker.rules.oracle;
        match packet {
            Packet::Msg(Message::Proposal(p)) => oracle.observe_header(&p.block.header),
            Packet::Msg(Message::Vote(v)) => oracle.observe_vote(v, honest),
            Packet::Msg(Message::Timeout(t)) => oracle.observe_qc(&t.high_qc),
            Packet::Msg(Message::TimeoutCertificate(tc)) => oracle.observe_qc(&tc.high_qc),
            Packet::FetchResp(blocks) => {
                for b in blocks {
                    oracle.observe_header(&b.header);
                }
            }
            Packet::FetchReq(_) | Packet::Tx(_) => {}
        }
    }

    /// Sees a core's outputs before they are performed: the votes it signed
    /// and blocks it stored feed the oracle (a leader counts its own vote
    /// without sending it), and the highest block an honest node commits
    /// must be justified by a 2-chain.
    pub(super) fn observe_outputs(&mut self, i: NodeId, outputs: &[Output]) {
        let oracle = &mut self.checker.rules.oracle;
        let mut top = None;
        for o in outputs {
            match o {
                Output::Persist(s) => {
                    if let Some(v) = &s.last_vote {
                        oracle.observe_vote(v, true);
                    }
                }
                Output::PersistBlock(b) => oracle.observe_header(&b.header),
                Output::Commit { block, .. } => {
                    oracle.observe_header(&block.header);
                    top = Some(block);
                }
                _ => {}
            }
        }
        if let Some(block) = top {
            if self.nodes[i].is_honest() {
                let c = &mut self.checker;
                c.rules.commit(i, block, &mut c.violations);
            }
        }
    }

    /// Checks an honest node's output against the rules before it is performed.
    pub(super) fn check_output(&mut self, i: NodeId, o: &Output) {
        let n = &self.nodes[i];
        if !n.is_honest() {
            return;
        }
        let c = &mut self.checker;
        c.rules
            .before_output(i, n.validator, &n.persisted, o, &mut c.violations);
    }

    /// Makes safety data durable as bytes (checked to round-trip for honest
    /// nodes) and keeps what a restart will decode from them.
    pub(super) fn persist_safety(&mut self, i: NodeId, s: &SafetyData) {
        let mut scratch = Vec::new();
        let c = &mut self.checker;
        let v = if self.nodes[i].is_honest() {
            &mut c.violations
        } else {
            &mut scratch
        };
        let bytes = c.rules.persist(i, s, v);
        let n = &mut self.nodes[i];
        n.persisted = SafetyData::from_bytes(&bytes).unwrap_or_else(|_| s.clone());
        n.persisted_bytes = bytes;
    }

    /// In scenarios with crashes, sometimes crashes an honest node right
    /// after it sent something it signed (the rest of its outputs are lost)
    /// and restarts it soon: what it sent must already be durable.
    pub(super) fn aim_crash(&mut self, i: NodeId) -> bool {
        let p = self.params.crash_after_send;
        if p <= 0.0
            || self.now >= self.params.chaos_ms
            || !self.nodes[i].is_honest()
            || self.nodes[i].core.is_none()
            || !self.rng.gen_bool(p)
        {
            return false;
        }
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!("t={} node {i} CRASH just after a signed send", self.now);
        }
        self.crash(i);
        let back = self.rng.gen_range(20..300);
        self.schedule(back, Event::Restart(i));
        true
    }
}
