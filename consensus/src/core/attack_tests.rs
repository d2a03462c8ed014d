//! Regression tests for the two liveness attacks one Byzantine validator could
//! mount (f = 1 of 4), each row a variant of the lie:
//!
//! - a poisoned vote: validly signed, for the right block hash, with a wrong
//!   height; it must not join a QC (the QC would verify for nobody, and a
//!   leader that adopted it would have every later message refused);
//! - an inflated TC: an aggregator adds its own entry claiming a high-QC
//!   round that no QC backs; the TC must be refused, and an honest TC for the
//!   same round must still take the next leader into its round to propose.

use cairn_ledger::{Height, QuorumCertificate, Round, Timeout, TimeoutCertificate, Vote};

use super::tests::{drive, two_blocks};
use super::*;
use crate::error::ConsensusError;
use crate::testutil;

/// Validator 2 leads round 2 and collects round 1's votes for B1. Validator 1
/// is Byzantine and signs a vote for B1's hash with another height. Table:
/// (case, the Byzantine height, where its vote arrives among the two honest
/// peers' votes). Whatever the order, the QC that forms certifies B1 at its
/// real height and verifies, and so does every certificate the core persists
/// or proposes with.
#[test]
fn a_poisoned_vote_never_joins_a_qc() {
    let (committee, keys, genesis) = testutil::committee(4);
    let (p1, _) = two_blocks(&committee, &keys, &genesis);
    let b1 = p1.block.hash();
    let vote = |v: u16, height: u64| {
        Input::Message(Message::Vote(Vote::sign(
            &committee.chain_id,
            b1,
            Height(height),
            Round(1),
            v,
            &keys[v as usize],
        )))
    };
    let cases: [(&str, u64, usize); 5] = [
        ("higher height, first", 7, 0),
        ("higher height, between", 7, 1),
        ("higher height, last", 7, 2),
        ("lower height, between", 0, 1),
        ("far height, last", u64::MAX, 2),
    ];
    for (name, lie, at) in cases {
        let mut core = Consensus::new(testutil::config(&committee, &keys, 2), genesis.clone());
        let mut inputs = vec![
            Input::Start,
            Input::TxsAvailable(true),
            Input::Message(Message::Proposal(p1.clone())), // we vote for B1 ourselves
        ];
        let mut peers = vec![vote(0, 1), vote(3, 1)];
        peers.insert(at, vote(1, lie));
        inputs.extend(peers);
        let out = drive(&mut core, inputs, &[]);

        let high = core.high_qc();
        assert_eq!(
            (high.block_hash, high.height, high.round),
            (b1, Height(1), Round(1)),
            "{name}: the QC certifies B1 at its height"
        );
        high.verify(&committee)
            .unwrap_or_else(|e| panic!("{name}: our high QC does not verify: {e}"));
        assert!(
            !high.signatures.iter().any(|(i, _)| *i == 1),
            "{name}: the poisoned signature joined the QC"
        );
        let proposed = out.iter().any(
            |o| matches!(o, Output::RequestPayload(r) if r.round == Round(2) && r.justify == *high),
        );
        assert!(proposed, "{name}: we propose in round 2 on the QC");
        for o in &out {
            if let Output::Persist(s) = o {
                s.high_qc
                    .verify(&committee)
                    .unwrap_or_else(|e| panic!("{name}: persisted high QC does not verify: {e}"));
            }
        }
    }
}

/// A TC of round 2 from validators 0, 2, 3 (high QC: genesis), as validator 1
/// (the Byzantine aggregator) would assemble it from their timeouts, plus its
/// own entry claiming `claim`, carrying `high_qc`.
fn tc2(
    committee: &cairn_ledger::Committee,
    keys: &[cairn_ledger::SecretKey],
    genesis_qc: &QuorumCertificate,
    byzantine_claim: Option<u64>,
    high_qc: QuorumCertificate,
) -> TimeoutCertificate {
    let mut signers: Vec<(u16, Round)> = vec![(0, Round(0)), (2, Round(0)), (3, Round(0))];
    if let Some(claim) = byzantine_claim {
        signers.push((1, Round(claim)));
        signers.sort();
    }
    let signatures = signers
        .into_iter()
        .map(|(v, hq)| {
            let mut reported = genesis_qc.clone();
            reported.round = hq;
            let t = Timeout::sign(
                &committee.chain_id,
                Round(2),
                reported,
                v,
                &keys[v as usize],
            );
            (v, hq, t.signature)
        })
        .collect();
    TimeoutCertificate {
        round: Round(2),
        high_qc,
        signatures,
    }
}

/// Validator 3 leads round 3 and holds only the genesis QC; round 2 timed
/// out. Table: (case, the TC it receives first, expected: refused or not, and
/// the QC the round-3 proposal extends once the honest TC (genesis QC) has
/// arrived too). Before the fix the inflated TC verified, took validator 3 into
/// round 3 unable to propose (it held no QC of round 1), and the honest TC
/// arriving later was ignored as one for a round already entered.
#[test]
fn an_inflated_tc_is_refused_and_the_honest_tc_still_works() {
    let (committee, keys, genesis) = testutil::committee(4);
    let (p1, _) = two_blocks(&committee, &keys, &genesis);
    let genesis_qc = QuorumCertificate::genesis(genesis.hash());
    let qc1 = testutil::qc(&committee, &keys, p1.block.hash(), 1, 1, 3);
    let honest = tc2(&committee, &keys, &genesis_qc, None, genesis_qc.clone());
    let cases: [(&str, TimeoutCertificate, bool, &QuorumCertificate); 4] = [
        (
            "claims round 1, carries the genesis QC",
            tc2(&committee, &keys, &genesis_qc, Some(1), genesis_qc.clone()),
            true,
            &genesis_qc,
        ),
        (
            "claims round 1, carries a QC of round 1 with forged signatures",
            {
                let mut forged = qc1.clone();
                forged.signatures[0].1 = forged.signatures[1].1;
                tc2(&committee, &keys, &genesis_qc, Some(1), forged)
            },
            true,
            &genesis_qc,
        ),
        (
            "claims nothing, carries a QC of round 1 nobody signed for",
            tc2(&committee, &keys, &genesis_qc, None, qc1.clone()),
            true,
            &genesis_qc,
        ),
        (
            // Withheld, then revealed: the aggregator really holds QC(1) and
            // plays it through the TC. Legitimate: we learn it, fetch B1 and
            // extend it.
            "claims round 1 and carries the real QC(1) it withheld",
            tc2(&committee, &keys, &genesis_qc, Some(1), qc1.clone()),
            false,
            &qc1,
        ),
    ];
    for (name, first, refused, extends) in cases {
        let mut core = Consensus::new(testutil::config(&committee, &keys, 3), genesis.clone());
        let inputs = vec![
            Input::Start,
            Input::TxsAvailable(true),
            Input::Message(Message::TimeoutCertificate(first)),
            Input::Message(Message::TimeoutCertificate(honest.clone())),
        ];
        let out = drive(&mut core, inputs, std::slice::from_ref(&p1.block));
        let rejected = out.iter().any(|o| {
            matches!(
                o,
                Output::Rejected(ConsensusError::Invalid {
                    what: "timeout certificate",
                    ..
                })
            )
        });
        assert_eq!(rejected, refused, "{name}: refused");
        assert_eq!(core.round(), Round(3), "{name}: round");
        let request = out.iter().find_map(|o| match o {
            Output::RequestPayload(r) if r.round == Round(3) => Some(r),
            _ => None,
        });
        let request = request.unwrap_or_else(|| panic!("{name}: no proposal in round 3"));
        assert_eq!(&request.justify, extends, "{name}: extends");
        let tc = request.timeout_cert.as_ref().expect("carries TC(2)");
        tc.verify(&committee)
            .unwrap_or_else(|e| panic!("{name}: proposes with a TC that does not verify: {e}"));
        assert!(request.justify.round >= tc.max_high_qc_round(), "{name}");
    }
}

/// Heights and rounds a peer claims are read before its certificates are
/// checked. A proposal (or fetched block) whose QC claims height `u64::MAX`,
/// or whose TC claims round `u64::MAX`, must be refused like any other lie —
/// not overflow computing "the next height/round" (a panic in builds with
/// overflow checks; found by the simulator's forged certificates). Table:
/// (case, QC height, block height, TC round).
#[test]
fn heights_and_rounds_at_the_limit_are_refused_not_overflowed() {
    let (committee, keys, genesis) = testutil::committee(4);
    let (p1, _) = two_blocks(&committee, &keys, &genesis);
    let cases: [(&str, u64, u64, Option<u64>); 3] = [
        ("QC height at the limit", u64::MAX, u64::MAX, None),
        (
            "QC height at the limit, block height wrapped",
            u64::MAX,
            0,
            None,
        ),
        ("TC round at the limit", 0, 1, Some(u64::MAX)),
    ];
    for (name, qc_height, height, tc_round) in cases {
        let mut core = Consensus::new(testutil::config(&committee, &keys, 2), genesis.clone());
        let mut block = p1.block.clone();
        block.header.round = Round(2);
        // Signed by one validator only: what a Byzantine one can forge.
        block.header.justify = testutil::qc(&committee, &keys, genesis.hash(), qc_height, 1, 1);
        block.header.height = Height(height);
        block.header.timeout_cert =
            tc_round.map(|r| testutil::tc(&committee, &keys, r, &[0, 0, 0]));
        block.header.proposer = keys[2].address();
        let forged = cairn_ledger::Proposal::sign(block.clone(), &keys[2]);
        let out = drive(
            &mut core,
            vec![
                Input::Start,
                Input::Message(Message::Proposal(forged)),
                Input::FetchedBlock(block),
            ],
            &[],
        );
        assert!(
            out.iter().any(|o| matches!(o, Output::Rejected(_))),
            "{name}: refused"
        );
        assert!(
            !out.iter()
                .any(|o| matches!(o, Output::Commit { .. } | Output::SendVote { .. })),
            "{name}: nothing acted on"
        );
        assert_eq!(
            core.high_qc().round,
            Round(0),
            "{name}: the high QC did not move"
        );
    }
}
