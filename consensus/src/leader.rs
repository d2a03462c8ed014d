//! Leader election with reputation: rounds go to validators that have shown
//! recently that they are alive, so a crashed or cut-off validator stops
//! costing a round timeout (and the round before it, whose votes it should
//! collect) in every rotation.
//!
//! The rule is a function of the chain a proposal extends, never of a node's
//! local view, so every honest node — and the auditor, years later — reaches
//! the same answer for a given block: the leader of round `r` after parent
//! block `P` is chosen round-robin among the *active* validators, read from
//! the certificates carried by `P` and its nearest ancestors ([`WINDOW`]
//! blocks, nearest first, each giving its [`Signers`]):
//!
//! - each block's QC (`justify`: the votes for the block's parent) makes its
//!   signers active;
//! - the first block that carries a timeout certificate (it was entered
//!   after round `round − 1` timed out) makes the TC's signers active and
//!   ends the walk: the QCs carried by it and by older blocks predate the
//!   timeout. So after a timeout, the active validators are the ones that
//!   signed it or any QC certified since — a validator absent from the TC
//!   and from every later QC (crashed before the timeout) leads no
//!   QC-entered round until the TC leaves the window, by which time only
//!   QCs formed after the timeout remain in it;
//! - if none are known (the chain's start), every validator is active.
//!
//! Voters send round `r`'s votes to the leader of `r + 1` after the block
//! they vote for, which is the leader the next proposal (extending that
//! block) is checked against.
//!
//! A round whose proposal's `justify` is at most [`REPUTATION_GAP`] (2)
//! rounds back goes by reputation ([`proposer`]): the round entered by a QC
//! for the previous round, and the first round after a single timeout.
//! Later rounds (two or more rounds in a row timed out since the justify's)
//! go by plain rotation. The block shows which case applies (its round and
//! its `justify`'s), so every holder of the block reaches one answer.
//!
//! Why the first round after a timeout goes by reputation too: with one
//! validator of four down or cut off, a single lost vote times a round
//! out, and under plain rotation the next round is the dead validator's
//! turn a quarter of the time — a second timeout, with back-off, about 3 s
//! with no commits where one timeout (1 s) should cost. The validators
//! entering that round by a TC nearly always hold the same highest QC (the
//! TC carries its highest), so they agree on its parent and on who leads;
//! where they do not (one learnt a higher QC the TC does not carry), the
//! old rule disagreed as well (that node's round is QC-entered and went by
//! reputation while the others went by rotation), and the parents' windows
//! differ by a block, so the active sets nearly always agree anyway. If
//! that round also fails, the rounds after it go by plain rotation, which
//! no certificate influences, so a chain that keeps timing out still
//! reaches every validator's turn.
//!
//! Safety does not depend on who leads: an honest validator votes at most
//! once per round, for a block that passes the voting rule, whoever
//! proposed it; a proposal from a validator that is not the computed leader
//! is refused, and every holder computes the same leader from the block.
//! Only liveness depends on the rule. The active set after a timeout is a
//! superset of the TC's signers, which hold a quorum of the power (more
//! than two thirds; with equal power at least 2f + 1 of 3f + 1), so it
//! always holds validators with more than a third of the power that are
//! honest — the same bound as the QC signers the rule read before. A
//! Byzantine validator that assembles a TC (or a proposer choosing which
//! TC to carry) picks which 2f + 1 timeouts it holds, so it can keep up to
//! f honest validators from leading for a window — as a QC aggregator
//! already could by picking which votes a QC holds. Rounds entered by a TC
//! go by plain rotation, which no certificate influences, so a chain that
//! keeps timing out still reaches every validator's turn.
//!
//! Like Aptos's proposer-and-voter heuristic, it uses what is certified on
//! chain; unlike it, no window of committed rounds is needed, since the
//! certificates inside a block's ancestry are the same for everyone who holds
//! the block. A validator that votes and times out but never proposes stays
//! eligible: it costs a round per rotation, as before, and never halts the
//! chain.

use cairn_ledger::{BlockHeader, Round, ValidatorSet};

/// How many blocks of the parent's ancestry decide who is active.
pub const WINDOW: usize = 4;

/// What one block says about who is alive: the signers (validator indices)
/// of the certificates it carries. Built from the header ([`signers`]) so
/// that no caller reads one certificate and forgets the other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signers {
    /// The signers of its QC (`justify`).
    pub qc: Vec<u16>,
    /// The signers of its timeout certificate, if it carries one.
    pub tc: Option<Vec<u16>>,
}

/// The signers of the certificates a block header carries.
pub fn signers(header: &BlockHeader) -> Signers {
    Signers {
        qc: header.justify.signatures.iter().map(|(i, _)| *i).collect(),
        tc: header
            .timeout_cert
            .as_ref()
            .map(|tc| tc.signatures.iter().map(|(i, _, _)| *i).collect()),
    }
}

/// The proposer of a block of `round` whose `justify` is for
/// `justify_round`: by reputation ([`elect`]) after a QC for the previous
/// round, by plain rotation after a timeout certificate (see the module doc).
pub fn proposer<'a>(
    vals: &ValidatorSet,
    round: Round,
    justify_round: Round,
    recent: impl IntoIterator<Item = &'a Signers>,
) -> u16 {
    if by_reputation(round, justify_round) {
        elect(vals, round, recent)
    } else {
        vals.leader(round)
    }
}

/// Whether a block of `round` whose `justify` is for `justify_round` has its
/// proposer elected by reputation ([`elect`]) rather than plain rotation:
/// when at most one round since the justify's timed out (see the module
/// doc).
pub fn by_reputation(round: Round, justify_round: Round) -> bool {
    round.0.saturating_sub(justify_round.0) <= REPUTATION_GAP
}

/// The largest gap between a block's round and its justify's round for
/// which the proposer goes by reputation: 1 is a round entered by a QC,
/// 2 the first round after a single timeout.
pub const REPUTATION_GAP: u64 = 2;

/// The leader of `round` given the [`Signers`] of the parent block and its
/// ancestors, nearest first (at most [`WINDOW`] are read).
pub fn elect<'a>(
    vals: &ValidatorSet,
    round: Round,
    recent: impl IntoIterator<Item = &'a Signers>,
) -> u16 {
    let candidates = active(vals, recent);
    if candidates.is_empty() {
        return vals.leader(round);
    }
    candidates[(round.0 % candidates.len() as u64) as usize]
}

/// The active validators, ascending, given the [`Signers`] of the parent
/// block and its ancestors, nearest first: the signers of the QCs up to the
/// nearest block carrying a TC, and that TC's (see the module doc).
/// Indices outside the validator set are ignored.
pub fn active<'a>(vals: &ValidatorSet, recent: impl IntoIterator<Item = &'a Signers>) -> Vec<u16> {
    let n = vals.len();
    let mut active = vec![false; n];
    let mut mark = |set: &[u16]| {
        for &i in set {
            if let Some(a) = active.get_mut(i as usize) {
                *a = true;
            }
        }
    };
    for block in recent.into_iter().take(WINDOW) {
        if let Some(tc) = &block.tc {
            // The block's own QC and older ones predate the timeout.
            mark(tc);
            break;
        }
        mark(&block.qc);
    }
    (0..n as u16).filter(|i| active[*i as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    /// A block carrying a QC signed by `qc`.
    fn q(qc: &[u16]) -> Signers {
        Signers {
            qc: qc.to_vec(),
            tc: None,
        }
    }

    /// A block entered by a timeout: a QC signed by `qc`, a TC by `tc`.
    fn t(qc: &[u16], tc: &[u16]) -> Signers {
        Signers {
            qc: qc.to_vec(),
            tc: Some(tc.to_vec()),
        }
    }

    /// Table: (recent blocks' signers, nearest first; round; expected leader).
    #[test]
    fn leaders_rotate_among_recent_voters() {
        let (committee, _, _) = testutil::committee(4);
        let vals = &committee.validators;
        let all = [0, 1, 2, 3];
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<Signers>, u64, u16)> = vec![
            ("chain start: plain rotation", vec![], 5, 1),
            ("genesis QC has no signers: plain rotation", vec![q(&[])], 6, 2),
            ("everyone voted: plain rotation", vec![q(&[0, 1, 2]), q(&[1, 2, 3])], 7, 3),
            ("3 silent in the window: rotation over 0, 1, 2", vec![q(&[0, 1, 2]); 4], 5, 2),
            ("3 silent in the window: round 6", vec![q(&[0, 1, 2]); 4], 6, 0),
            ("3 voted only beyond the window", vec![q(&[0, 1, 2]), q(&[0, 1, 2]), q(&[0, 1, 2]), q(&[0, 1, 2]), q(&[3])], 5, 2),
            ("3 voted within the window", vec![q(&[0, 1, 2]), q(&[0, 1, 2]), q(&[0, 1, 2]), q(&[3])], 7, 3),
            ("only 1 and 2 active", vec![q(&[1, 2])], 9, 2),
            ("unknown signer index ignored", vec![q(&[1, 2, 9])], 10, 1),
            // Timeout certificates: the nearest one ends the walk.
            ("3 absent from the parent's TC: not elected", vec![t(&all, &[0, 1, 2]), q(&all), q(&all)], 7, 1),
            ("3 absent from the TC, older QCs it signed are ignored", vec![q(&[0, 1, 2]), q(&[0, 1, 2]), t(&[1, 2, 3], &[0, 1, 2]), q(&all)], 7, 1),
            ("3 absent from the TC, round 5", vec![q(&[0, 1, 2]), t(&all, &[0, 1, 2])], 5, 2),
            ("3 absent from the TC but voted since: elected", vec![q(&[1, 2, 3]), t(&all, &[0, 1, 2])], 7, 3),
            ("3 absent from an older TC, present in a newer: elected", vec![q(&[0, 1, 2]), t(&[0, 1, 2], &[1, 2, 3]), q(&[0, 1, 2]), t(&all, &[0, 1, 2])], 7, 3),
            ("a TC beyond the window is not read", vec![q(&[0, 1, 2]), q(&[0, 1, 2]), q(&[0, 1, 2]), q(&[0, 1, 2]), t(&all, &[1, 2, 3])], 7, 1),
            ("everyone timed out: plain rotation", vec![t(&[0, 1, 2], &all)], 7, 3),
            ("TC signers count without a QC of theirs", vec![q(&[0, 1, 2]), t(&[0, 1, 2], &[1, 2, 3])], 7, 3),
            ("a TC naming nobody known: plain rotation", vec![t(&[0, 1, 2], &[9])], 7, 3),
            ("no TC: as before", vec![q(&[0, 1, 2]), q(&[0, 1, 2])], 7, 1),
        ];
        for (name, recent, round, want) in cases {
            assert_eq!(elect(vals, Round(round), &recent), want, "{name}");
        }
    }

    /// A nearest TC never leaves fewer candidates than its own signers (a
    /// quorum, at least 2f + 1): whatever the QCs in the window say, every
    /// quorum-sized TC keeps 2f + 1 validators eligible, and the validators
    /// it leaves out are never elected.
    #[test]
    fn a_timeout_certificate_leaves_a_quorum_of_candidates() {
        for n in [4usize, 7] {
            let (committee, _, _) = testutil::committee(n);
            let vals = &committee.validators;
            let f = (n - 1) / 3;
            let quorum = 2 * f + 1;
            // Every QC and TC signer set of quorum size, as rotating windows.
            let sets: Vec<Vec<u16>> = (0..n)
                .map(|start| (0..quorum).map(|k| ((start + k) % n) as u16).collect())
                .collect();
            for qc in &sets {
                for tc in &sets {
                    for older in &sets {
                        let recent = vec![q(qc), t(older, tc), q(older)];
                        let got = active(vals, &recent);
                        assert!(got.len() >= quorum, "n={n} qc={qc:?} tc={tc:?}: {got:?}");
                        for round in 0..2 * n as u64 {
                            let leader = elect(vals, Round(round), &recent);
                            assert!(
                                tc.contains(&leader) || qc.contains(&leader),
                                "n={n} round {round}: {leader} signed neither the TC nor a later QC"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The signers come from the header: its QC's and, if carried, its TC's.
    #[test]
    fn signers_read_both_certificates() {
        let (_, _, genesis) = testutil::committee(4);
        let mut header = genesis.header.clone();
        assert_eq!(signers(&header), q(&[]));
        header.timeout_cert = Some(cairn_ledger::TimeoutCertificate {
            round: Round(3),
            high_qc: header.justify.clone(),
            signatures: [0u16, 2, 3]
                .iter()
                .map(|i| (*i, Round(0), cairn_ledger::Signature([0; 64])))
                .collect(),
        });
        assert_eq!(signers(&header), t(&[], &[0, 2, 3]));
    }

    /// The first round after a single timeout goes by reputation; after two
    /// or more timed-out rounds in a row, by plain rotation, whatever the
    /// chain.
    #[test]
    fn rounds_after_two_timeouts_go_by_plain_rotation() {
        let (committee, _, _) = testutil::committee(4);
        let vals = &committee.validators;
        let only_0_1_2 = vec![q(&[0, 1, 2]); 4];
        // Round 7 after a QC of round 6: reputation skips validator 3.
        assert_eq!(proposer(vals, Round(7), Round(6), &only_0_1_2), 1);
        // Round 7 after one timeout (justify of round 5): still reputation.
        assert_eq!(proposer(vals, Round(7), Round(5), &only_0_1_2), 1);
        // Round 7 after two timeouts (justify of round 4): plain rotation.
        assert_eq!(proposer(vals, Round(7), Round(4), &only_0_1_2), 3);
        assert_eq!(proposer(vals, Round(7), Round(4), &Vec::new()), 3);
        // Round 8 after two timeouts: plain rotation gives validator 0.
        assert_eq!(proposer(vals, Round(8), Round(5), &only_0_1_2), 0);
    }
}
