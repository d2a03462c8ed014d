//! Helping a validator that is still timing out of a round we have left, or
//! that missed our proposal, within a per-peer budget.
//!
//! A timeout from a peer is answered with at most one `Send`: the message that
//! moves it furthest (see [`Consensus::help_laggard`]). Per peer and per round
//! it times out of, only the 1st, 2nd, 4th, 8th, ... timeout received is
//! answered, and none for a round below one already answered. A Byzantine
//! peer replaying one valid timeout N times thus gets at most log2(N) + 1
//! sends, not several per message. The budget cannot be a fixed count: an
//! honest laggard's retransmission is byte-for-byte a replay, and when the
//! first answers are lost (it was down, say) and the rest of the committee
//! needs its timeout for a TC, only a later answer unblocks everyone (seed 145
//! of Faults4). Counted in messages, not time: the core has no clock.

use std::collections::BTreeMap;

use cairn_ledger::{Proposal, Round, Timeout};

use super::Consensus;
use crate::message::Message;
use crate::output::Output;

/// Timeouts received per peer for the highest round it timed out of, to
/// decide which ones get a catch-up send.
#[derive(Clone, Debug, Default)]
pub(crate) struct CatchUpBudget {
    received: BTreeMap<u16, (Round, u32)>,
}

impl CatchUpBudget {
    /// Counts a timeout from `peer` for `round`; true if it is to be answered
    /// (the 1st, 2nd, 4th, 8th, ... for that round). Rounds below the
    /// highest seen from the peer are never answered.
    pub(crate) fn take(&mut self, peer: u16, round: Round) -> bool {
        let entry = self.received.entry(peer).or_insert((round, 0));
        if round < entry.0 {
            return false;
        }
        if round > entry.0 {
            *entry = (round, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1.is_power_of_two()
    }
}

impl Consensus {
    /// Helps `t.signer`, which timed out of `t.round` (so it can no longer
    /// vote in it), with the one message that moves it to the highest round:
    /// a proposal we led for a later round (it carries the QC or TC for the
    /// round before, and the peer can vote for it), the TC that moved us on,
    /// or, failing those, our proposal for its round (the block it missed).
    /// Without this, a validator that lost one proposal on an idle chain would
    /// time out alone forever.
    pub(super) fn help_laggard(&mut self, t: &Timeout, out: &mut Vec<Output>) {
        if Some(t.signer) == self.me || self.me.is_none() {
            return;
        }
        // (round the peer enters, is a proposal, message): highest round wins,
        // a proposal over a TC on a tie.
        let mut best: Option<(Round, bool, Message)> = None;
        let mut consider = |entered: Round, is_proposal: bool, m: Message| {
            if best
                .as_ref()
                .is_none_or(|(r, p, _)| (entered, is_proposal) > (*r, *p))
            {
                best = Some((entered, is_proposal, m));
            }
        };
        let current = self.pacemaker.round();
        for round in [t.round, t.round.next(), current] {
            if round < t.round {
                continue;
            }
            if let Some(p) = self.own_proposal(round) {
                consider(round, true, Message::Proposal(p));
            }
        }
        if let Some(tc) = self.pacemaker.last_tc().filter(|tc| tc.round >= t.round) {
            consider(
                tc.round.next(),
                false,
                Message::TimeoutCertificate(tc.clone()),
            );
        }
        let Some((_, _, message)) = best else {
            // Nothing to hand over, yet the peer times out of a round below
            // ours with an older QC than we hold: we entered our round by
            // forming that QC (as its leader) and, the chain looking idle to
            // us, proposed nothing. Our QC exists nowhere else. The peer is
            // not idle — it still counts as pending the transactions of
            // blocks it does not know are committed — and with a validator
            // down it cannot form a TC without us (we are past its round).
            // Propose anyway, idle or not: the proposal carries the QC, and
            // next time it is what we send (found with a validator killed
            // under load: three nodes stalled for good, `bench_resubmit`).
            if t.round < current && t.high_qc.round < self.safety.high_qc.round {
                self.share_qc_round = Some(current);
                self.try_propose(out);
            }
            return;
        };
        if self.catch_up.take(t.signer, t.round) {
            out.push(Output::Send {
                to: t.signer,
                message,
            });
        }
    }

    /// The signed proposal we made in `round`, if we still hold its block.
    fn own_proposal(&self, round: Round) -> Option<Proposal> {
        let me = self.config.key.as_ref()?.address();
        let (hash, _, signature) = self
            .proposals
            .get(&round)?
            .iter()
            .find(|(_, header, _)| header.proposer == me)?;
        let block = self.tree.block(hash)?;
        Some(Proposal {
            block: block.clone(),
            signature: *signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Budget table: (peer, round it timed out of, answered).
    #[test]
    fn budget_per_peer_and_round() {
        let cases = [
            (1, 5, true),  // 1st: answered
            (1, 5, true),  // 2nd, its retransmission: the first may have been lost
            (1, 5, false), // 3rd: a replay, or still stuck
            (2, 5, true),  // another peer counts on its own
            (1, 5, true),  // 4th: answered again (exponential back-off)
            (1, 4, false), // a round below one already answered
            (1, 5, false), // 5th..7th
            (1, 5, false),
            (1, 5, false),
            (1, 5, true),  // 8th
            (1, 6, true),  // the peer moved on: counting restarts
            (1, 5, false), // and the old round stays closed
        ];
        let mut budget = CatchUpBudget::default();
        for (i, (peer, round, answered)) in cases.into_iter().enumerate() {
            assert_eq!(budget.take(peer, Round(round)), answered, "case {i}");
        }
        // A replayer: a thousand copies of one timeout get 10 answers (1, 2, 4, .., 512), not 1000.
        let mut budget = CatchUpBudget::default();
        let answered = (0..1_000).filter(|_| budget.take(3, Round(7))).count();
        assert_eq!(answered, 10);
    }
}
