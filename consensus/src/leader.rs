//! Leader election with reputation: rounds go to validators that have been
//! voting recently, so a crashed or cut-off validator stops costing a round
//! timeout (and the round before it, whose votes it should collect) in every
//! rotation.
//!
//! The rule is a function of the chain a proposal extends, never of a node's
//! local view, so every honest node — and the auditor, years later — reaches
//! the same answer for a given block: the leader of round `r` after parent
//! block `P` is chosen round-robin among the *active* validators, those whose
//! signatures appear in the quorum certificates carried by `P` and its
//! nearest ancestors (`P.justify`, `parent(P).justify`, ... [`WINDOW`] of
//! them: the votes for `P`'s ancestors). If none are known (the chain's
//! start), every validator is active. Voters send round `r`'s votes to the
//! leader of `r + 1` after the block they vote for, which is the leader the
//! next proposal (extending that block) is checked against.
//!
//! Only a round entered by a QC for the previous round goes by reputation
//! ([`proposer`]). A round entered by a timeout certificate goes by plain
//! rotation: the validators entering it may hold different highest QCs (one
//! may have learnt a higher QC than the TC carries), and if the round's
//! leader depended on which parent it extends, they could disagree about
//! who leads it — nobody might propose, or two might, splitting the votes.
//! The block shows which case applies (its `justify` is or is not for the
//! previous round), so every holder of the block still reaches one answer.
//!
//! Like Aptos's proposer-and-voter heuristic, it uses what is certified on
//! chain; unlike it, no window of committed rounds is needed, since the
//! certificates inside a block's ancestry are the same for everyone who holds
//! the block. A validator that votes but never proposes stays eligible: it
//! costs a round per rotation, as before, and never halts the chain.

use cairn_ledger::{QuorumCertificate, Round, ValidatorSet};

/// How many certificates of the parent's ancestry decide who is active.
pub const WINDOW: usize = 4;

/// The signers of one certificate, as validator indices.
pub type Signers = Vec<u16>;

/// The signers of a QC.
pub fn signers(qc: &QuorumCertificate) -> Signers {
    qc.signatures.iter().map(|(i, _)| *i).collect()
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
    if justify_round.next() == round {
        elect(vals, round, recent)
    } else {
        vals.leader(round)
    }
}

/// The leader of `round` given the signer sets of the certificates inside the
/// parent block and its ancestors, nearest first (at most [`WINDOW`] are read).
pub fn elect<'a>(
    vals: &ValidatorSet,
    round: Round,
    recent: impl IntoIterator<Item = &'a Signers>,
) -> u16 {
    let n = vals.len();
    let mut active = vec![false; n];
    for set in recent.into_iter().take(WINDOW) {
        for &i in set {
            if let Some(a) = active.get_mut(i as usize) {
                *a = true;
            }
        }
    }
    let candidates: Vec<u16> = (0..n as u16).filter(|i| active[*i as usize]).collect();
    if candidates.is_empty() {
        return vals.leader(round);
    }
    candidates[(round.0 % candidates.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    /// Table: (recent signer sets, nearest first; round; expected leader).
    #[test]
    fn leaders_rotate_among_recent_voters() {
        let (committee, _, _) = testutil::committee(4);
        let vals = &committee.validators;
        let s = |v: &[u16]| v.to_vec();
        #[rustfmt::skip]
        let cases: Vec<(&str, Vec<Signers>, u64, u16)> = vec![
            ("chain start: plain rotation", vec![], 5, 1),
            ("genesis QC has no signers: plain rotation", vec![s(&[])], 6, 2),
            ("everyone voted: plain rotation", vec![s(&[0, 1, 2]), s(&[1, 2, 3])], 7, 3),
            ("3 silent in the window: rotation over 0, 1, 2", vec![s(&[0, 1, 2]); 4], 5, 2),
            ("3 silent in the window: round 6", vec![s(&[0, 1, 2]); 4], 6, 0),
            ("3 voted only beyond the window", vec![s(&[0, 1, 2]), s(&[0, 1, 2]), s(&[0, 1, 2]), s(&[0, 1, 2]), s(&[3])], 5, 2),
            ("3 voted within the window", vec![s(&[0, 1, 2]), s(&[0, 1, 2]), s(&[0, 1, 2]), s(&[3])], 7, 3),
            ("only 1 and 2 active", vec![s(&[1, 2])], 9, 2),
            ("unknown signer index ignored", vec![s(&[1, 2, 9])], 10, 1),
        ];
        for (name, recent, round, want) in cases {
            assert_eq!(elect(vals, Round(round), &recent), want, "{name}");
        }
    }

    /// After a timeout the round goes by plain rotation, whatever the chain:
    /// nodes entering it by a TC may hold different highest QCs.
    #[test]
    fn rounds_after_a_timeout_go_by_plain_rotation() {
        let (committee, _, _) = testutil::committee(4);
        let vals = &committee.validators;
        let only_0_1_2 = vec![vec![0u16, 1, 2]; 4];
        // Round 7 after a QC of round 6: reputation skips validator 3.
        assert_eq!(proposer(vals, Round(7), Round(6), &only_0_1_2), 1);
        // Round 7 after a TC (justify of round 5): plain rotation, validator 3.
        assert_eq!(proposer(vals, Round(7), Round(5), &only_0_1_2), 3);
        assert_eq!(proposer(vals, Round(7), Round(5), &Vec::new()), 3);
    }
}
