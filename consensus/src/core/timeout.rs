//! Timers, timeouts and votes: local timeouts with back-off and retransmission,
//! aggregating peers' timeouts into TCs and votes into QCs.

use cairn_ledger::types::cert::timeout_signing_bytes;
use cairn_ledger::{Round, Timeout, TimeoutCertificate, Vote};

use crate::message::Message;

use super::Consensus;
use crate::error::ConsensusError;
use crate::output::Output;
use crate::safety::{self, TimeoutDecision};

impl Consensus {
    pub(super) fn on_timer(&mut self, round: Round, out: &mut Vec<Output>) {
        if round != self.pacemaker.round() || self.is_idle() {
            return; // stale timer, or idle rule: nothing to time out of
        }
        self.local_timeout(out);
        self.refetch(out);
        if round == self.pacemaker.round() {
            // Still here: retransmit on the next expiry.
            self.arm_timer(out);
        }
    }

    /// Times out of the current round (or re-sends the timeout already signed).
    fn local_timeout(&mut self, out: &mut Vec<Output>) {
        let (Some(me), Some(key)) = (self.me, self.config.key.clone()) else {
            return;
        };
        let round = self.pacemaker.round();
        match safety::decide_timeout(&mut self.safety, &self.config, &key, me, round) {
            TimeoutDecision::New(t) => {
                out.push(Output::Persist(self.safety.clone()));
                self.resend_vote(round, out);
                out.push(Output::Broadcast(Message::Timeout(t.clone())));
                self.add_timeout(t, out);
            }
            TimeoutDecision::Resend(t) => {
                self.resend_vote(round, out);
                out.push(Output::Broadcast(Message::Timeout(t.clone())));
                // Count it too: after a restart the collector is empty, and if
                // every honest validator restarted after timing out of this
                // round, none would count its own timeout and no TC could
                // ever form (seed 1237 of Faults4). A no-op otherwise.
                self.add_timeout(t, out);
            }
            TimeoutDecision::Refuse => {}
        }
    }

    /// Giving up on `round` after voting in it: send the same signed vote to
    /// the next leader again, ahead of the timeout. When every honest vote is
    /// needed for a quorum, one lost vote otherwise costs the QC and the
    /// 2-chain it would complete (seed 806 of Faults7, rounds 18 and 24);
    /// if the vote arrives before the TC forms, the round still ends in a QC.
    /// Jolteon as deployed (Aptos) likewise re-sends the round's vote with its
    /// timeout. Nothing new is signed.
    fn resend_vote(&mut self, round: Round, out: &mut Vec<Output>) {
        let Some(vote) = self.safety.last_vote.clone().filter(|v| v.round == round) else {
            return;
        };
        let to = self.vote_recipient(&vote);
        if Some(to) != self.me {
            out.push(Output::SendVote { to, vote });
        }
    }

    pub(super) fn on_timeout(&mut self, t: Timeout, out: &mut Vec<Output>) {
        let current = self.pacemaker.round();
        if t.round.0 > current.0.saturating_add(self.config.max_rounds_ahead) {
            out.push(Output::Rejected(ConsensusError::TooFarAhead {
                round: t.round,
                current,
                max_ahead: self.config.max_rounds_ahead,
            }));
            return;
        }
        if let Err(e) = self.verify_timeout(&t) {
            out.push(Output::Rejected(e));
            return;
        }
        let high_qc = t.high_qc.clone();
        self.process_qc(&high_qc, out);
        self.help_laggard(&t, out);
        if t.round < self.pacemaker.round() {
            return; // stale; its QC was the useful part
        }
        let round = t.round;
        self.add_timeout(t, out);
        // Join a round that more than 1/3 of the power has given up on: at
        // least one honest validator timed out, so waiting longer is futile.
        let vals = &self.config.committee.validators;
        if round == self.pacemaker.round()
            && self.safety.highest_timeout_round() < round
            && self.timeouts.power(round, vals) >= vals.validity_power()
        {
            self.local_timeout(out);
        }
    }

    /// A TC from a peer: verified, then it may move the round.
    pub(super) fn on_tc(&mut self, tc: TimeoutCertificate, out: &mut Vec<Output>) {
        let current = self.pacemaker.round();
        if tc.round < current {
            return;
        }
        if tc.round.0 > current.0.saturating_add(self.config.max_rounds_ahead) {
            out.push(Output::Rejected(ConsensusError::TooFarAhead {
                round: tc.round,
                current,
                max_ahead: self.config.max_rounds_ahead,
            }));
            return;
        }
        if let Err(source) = self.verify_tc(&tc) {
            out.push(Output::Rejected(ConsensusError::Invalid {
                what: "timeout certificate",
                source,
            }));
            return;
        }
        self.process_tc(&tc, out);
    }

    fn verify_timeout(&mut self, t: &Timeout) -> crate::Result<()> {
        let invalid = |what| move |source| ConsensusError::Invalid { what, source };
        if t.high_qc.round >= t.round {
            return Err(ConsensusError::Malformed {
                what: "timeout",
                reason: "its high QC is not from an earlier round",
            });
        }
        let committee = &self.config.committee;
        let signer = committee
            .validators
            .get(t.signer)
            .ok_or(ConsensusError::Invalid {
                what: "timeout signer",
                source: cairn_ledger::VerifyError::UnknownSigner {
                    index: t.signer,
                    count: committee.validators.len(),
                },
            })?;
        let msg = timeout_signing_bytes(&committee.chain_id, t.round, t.high_qc.round);
        cairn_ledger::crypto::verify(&signer.address, &msg, &t.signature)
            .map_err(invalid("timeout signature"))?;
        self.verify_qc(&t.high_qc)
            .map_err(invalid("timeout's high QC"))
    }

    fn add_timeout(&mut self, t: Timeout, out: &mut Vec<Output>) {
        let added = self.timeouts.add(t, &self.config.committee.validators);
        if let Some(e) = added.evidence {
            out.push(Output::Equivocation(e));
        }
        if let Some(tc) = added.cert {
            // Checked like a received one before it is used, shared or
            // persisted: a certificate we form from bad parts is refused, not
            // advertised.
            if let Err(source) = tc.verify(&self.config.committee) {
                out.push(Output::Rejected(ConsensusError::FormedInvalid {
                    what: "timeout certificate we formed",
                    source,
                }));
                return;
            }
            // Share it: validators that missed some timeouts re-align on it.
            out.push(Output::Broadcast(Message::TimeoutCertificate(tc.clone())));
            self.process_tc(&tc, out);
        }
    }

    pub(super) fn on_vote(&mut self, vote: Vote, out: &mut Vec<Output>) {
        let current = self.pacemaker.round();
        if vote.round.0 > current.0.saturating_add(self.config.max_rounds_ahead) {
            out.push(Output::Rejected(ConsensusError::TooFarAhead {
                round: vote.round,
                current,
                max_ahead: self.config.max_rounds_ahead,
            }));
            return;
        }
        if vote.round.next() < current {
            return; // stale: that round is over
        }
        // Whether we lead the next round depends on the block voted for; if
        // we lack it, the vote is kept (its QC would be valid whoever formed it).
        let next = self.leader_after(vote.round.next(), &vote.block_hash);
        if next.is_some() && next != self.me {
            out.push(Output::Rejected(ConsensusError::NotNextLeader {
                round: vote.round,
                next: vote.round.next(),
            }));
            return;
        }
        if let Err(source) = vote.verify(&self.config.committee) {
            out.push(Output::Rejected(ConsensusError::Invalid {
                what: "vote",
                source,
            }));
            return;
        }
        self.add_vote(vote, out);
    }

    /// Counts a verified vote; a quorum forms a QC that moves us to the next
    /// round. Votes for a block we lack may make us fetch it and vote.
    pub(super) fn add_vote(&mut self, vote: Vote, out: &mut Vec<Output>) {
        let (round, hash, height, signer) = (vote.round, vote.block_hash, vote.height, vote.signer);
        let added = self.votes.add(vote, &self.config.committee.validators);
        if let Some(e) = added.evidence {
            out.push(Output::Equivocation(e));
        }
        match added.cert {
            // Checked like a received QC before it becomes our high QC
            // (planted bug d: not checked).
            Some(qc) => match self.verify_formed_qc(&qc) {
                Ok(()) => self.process_qc(&qc, out),
                Err(source) => out.push(Output::Rejected(ConsensusError::FormedInvalid {
                    what: "QC we formed",
                    source,
                })),
            },
            None => self.fetch_voted_block(round, hash, height, signer, out),
        }
    }
}
