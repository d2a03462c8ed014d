//! Checks of the protocol's rules on every step, not only of their outcomes,
//! so a broken rule shows where it is broken even when no fork follows:
//!
//! - 2-chain commit rule: every honest commit is justified by a certified
//!   child in the next round, judged by the global [`CommitOracle`];
//! - 2-chain voting rule: every honest vote is for a block of its round
//!   that extends QC(r-1), or carries TC(r-1) and extends a QC at least as
//!   high as every high QC in it (the lock);
//! - persist before send: every vote, timeout and proposal an honest node
//!   signs and sends is covered by safety data it persisted earlier (the
//!   durable copy, as a restart would read it back);
//! - safety data round-trips through its real byte encoding at every
//!   persist (the simulator restarts nodes from those bytes);
//! - every certificate an honest node uses or sends verifies against the
//!   committee (QCs and TCs it proposes with, times out with, broadcasts,
//!   persists or builds a block on).
//!
//! Each violation is a message starting with `rule`, so campaigns and
//! planted-bug hunts can tell rule violations from liveness failures.

use cairn_consensus::{Message, Output, SafetyData};
use cairn_ledger::{Committee, Decode, Encode, QuorumCertificate, Round, TimeoutCertificate, Vote};

use crate::oracle::{Certificates, CommitOracle};

/// State of the rule checks over one run.
#[derive(Debug)]
pub struct Rules {
    committee: Committee,
    /// Sees every certificate formed anywhere.
    pub oracle: CommitOracle,
    /// Certificates an honest node sends or builds on must verify.
    certificates: Certificates,
}

/// A signed message and the round its signer must have persisted.
#[derive(Clone, Copy)]
enum Signed {
    Vote(Round),
    Timeout(Round),
    Proposal(Round),
}

impl Rules {
    /// Rules for one committee.
    pub fn new(committee: Committee) -> Rules {
        Rules {
            oracle: CommitOracle::new(committee.clone()),
            certificates: Certificates::new(committee.clone()),
            committee,
        }
    }

    /// Encodes safety data a core asked to persist and checks that it decodes
    /// to the same data; returns the bytes (what the disk holds).
    pub fn persist(&mut self, node: usize, data: &SafetyData, v: &mut Vec<String>) -> Vec<u8> {
        let bytes = data.to_bytes();
        match SafetyData::from_bytes(&bytes) {
            Ok(back) if back == *data => {}
            Ok(back) => v.push(format!(
                "rule (safety data encoding): node {node}'s safety data does not round-trip: \
                 persisted {data:?}, read back {back:?}"
            )),
            Err(e) => v.push(format!(
                "rule (safety data encoding): node {node}'s safety data does not decode: {e}"
            )),
        }
        bytes
    }

    /// Before an honest node performs `o`: what it signs must already be
    /// covered by its durable safety data (`durable`, decoded from the bytes
    /// last persisted), and every certificate in it must verify.
    pub fn before_output(
        &mut self,
        node: usize,
        me: u16,
        durable: &SafetyData,
        o: &Output,
        v: &mut Vec<String>,
    ) {
        let me_addr = self.committee.validators.get(me).map(|x| x.address);
        let signed = match o {
            Output::SendVote { vote, .. } => Some(Signed::Vote(vote.round)),
            Output::Broadcast(m) | Output::Send { message: m, .. } => match m {
                Message::Vote(x) if x.signer == me => Some(Signed::Vote(x.round)),
                Message::Timeout(t) if t.signer == me => Some(Signed::Timeout(t.round)),
                Message::Proposal(p) if Some(p.block.header.proposer) == me_addr => {
                    Some(Signed::Proposal(p.block.header.round))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(s) = signed {
            persisted_before(node, durable, s, v);
        }
        let vote = match o {
            Output::SendVote { vote, .. } => Some(vote),
            Output::Broadcast(Message::Vote(x)) if x.signer == me => Some(x),
            _ => None,
        };
        if let Some(vote) = vote {
            self.voting_rule(node, vote, v);
        }
        match o {
            Output::Broadcast(m) | Output::Send { message: m, .. } => {
                self.message_certs(node, m, v)
            }
            Output::Persist(s) => {
                self.qc(node, "persists a high QC", &s.high_qc, v);
                if let Some(tc) = &s.high_tc {
                    self.tc(node, "persists a high TC", tc, v);
                }
            }
            Output::RequestPayload(req) => {
                self.qc(node, "builds a block on a QC", &req.justify, v);
                if let Some(tc) = &req.timeout_cert {
                    self.tc(node, "builds a block on a TC", tc, v);
                }
            }
            _ => {}
        }
    }

    fn voting_rule(&self, node: usize, vote: &Vote, v: &mut Vec<String>) {
        if let Some(why) = self.oracle.voting_rule(vote) {
            v.push(format!(
                "rule (2-chain voting rule): node {node} votes in round {}: {why}",
                vote.round
            ));
        }
    }

    fn message_certs(&mut self, node: usize, m: &Message, v: &mut Vec<String>) {
        match m {
            Message::Proposal(p) => {
                let h = &p.block.header;
                self.qc(node, "sends a proposal whose QC", &h.justify, v);
                if let Some(tc) = &h.timeout_cert {
                    self.tc(node, "sends a proposal whose TC", tc, v);
                }
            }
            Message::Timeout(t) => self.qc(node, "sends a timeout whose high QC", &t.high_qc, v),
            Message::TimeoutCertificate(tc) => self.tc(node, "sends a TC that", tc, v),
            Message::Vote(_) => {}
        }
    }

    fn qc(&mut self, node: usize, what: &str, qc: &QuorumCertificate, v: &mut Vec<String>) {
        if let Some(e) = self.certificates.qc(qc) {
            v.push(format!(
                "rule (certificates verify): node {node} {what} (round {}, height {}) \
                 does not verify: {e}",
                qc.round, qc.height
            ));
        }
    }

    fn tc(&mut self, node: usize, what: &str, tc: &TimeoutCertificate, v: &mut Vec<String>) {
        if let Some(e) = self.certificates.tc(tc) {
            v.push(format!(
                "rule (certificates verify): node {node} {what} (TC round {}) does not verify: {e}",
                tc.round
            ));
        }
    }

    /// An honest node commits `block` (the highest of one input's commits:
    /// the others are its ancestors, justified by it).
    pub fn commit(&self, node: usize, block: &cairn_ledger::Block, v: &mut Vec<String>) {
        if let Some(why) = self.oracle.unjustified(&block.hash()) {
            let h = &block.header;
            v.push(format!(
                "rule (2-chain commit): node {node} committed height {} (round {}) \
                 without a 2-chain: {why}",
                h.height, h.round
            ));
        }
    }
}

/// Persist-before-send: the durable safety data must already forbid signing
/// anything else for the round of what is about to be sent.
fn persisted_before(node: usize, durable: &SafetyData, s: Signed, v: &mut Vec<String>) {
    let (what, round, covered) = match s {
        Signed::Vote(r) => ("vote", r, durable.last_voted_round >= r),
        Signed::Timeout(r) => ("timeout", r, durable.highest_timeout_round() >= r),
        Signed::Proposal(r) => ("proposal", r, durable.last_voted_round >= r),
    };
    if !covered {
        v.push(format!(
            "rule (persist before send): node {node} sends a {what} for round {round} \
             before persisting it (durable last voted round {}, highest timeout round {})",
            durable.last_voted_round,
            durable.highest_timeout_round()
        ));
    }
}
