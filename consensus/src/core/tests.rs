//! Core tests: a lock-step network of four cores, and proposal checks case by case.

use std::collections::{BTreeMap, VecDeque};

use cairn_ledger::{Block, BlockHeader, Hash, Height, Proposal, Round};

use super::*;
use crate::error::ConsensusError;
use crate::testutil;

/// Four cores with instant, lossless delivery and an application that
/// accepts everything.
struct Net {
    cores: Vec<Consensus>,
    commits: Vec<Vec<Hash>>,
    outputs: Vec<Vec<Output>>,
    /// `(validator, commits)`: the validator crashes (its inputs are
    /// dropped) once validator 0 has committed that many blocks.
    crash: Option<(usize, usize)>,
    /// Broadcasts reach the highest index first (by default the lowest
    /// first, and validator 3's votes are never among a QC's first three).
    reverse_broadcasts: bool,
    /// Every vote of this round is lost.
    lose_votes_of: Option<Round>,
    /// Records each core's `next_leader()` against where its votes go.
    next_leaders: Option<NextLeaders>,
}

/// `Consensus::next_leader()` as each core reported it, and the votes sent.
#[derive(Default)]
struct NextLeaders {
    /// (validator, round) -> (its next leader when it entered the round
    /// before voting, whether it entered by a TC).
    predicted: BTreeMap<(usize, Round), (Option<u16>, bool)>,
    /// Every vote sent.
    votes: Vec<SentVote>,
}

/// A vote a core sent, and what `next_leader()` said about it.
struct SentVote {
    validator: usize,
    round: Round,
    to: u16,
    /// Predicted on entering the round, before voting.
    predicted: Option<u16>,
    /// Whether the core entered the round by a TC.
    by_tc: bool,
    /// Right after voting.
    after: Option<u16>,
}

impl Net {
    fn new(n: usize) -> Net {
        let (committee, keys, genesis) = testutil::committee(n);
        let cores = (0..n)
            .map(|i| Consensus::new(testutil::config(&committee, &keys, i), genesis.clone()))
            .collect();
        Net {
            cores,
            commits: vec![Vec::new(); n],
            outputs: vec![Vec::new(); n],
            crash: None,
            reverse_broadcasts: false,
            lose_votes_of: None,
            next_leaders: None,
        }
    }

    /// Delivers every output until nothing is left (or `max_steps`).
    fn run(&mut self, first: Vec<(usize, Input)>, max_steps: usize) {
        let all: Vec<usize> = (0..self.cores.len()).collect();
        self.run_live(first, &all, max_steps);
    }
}

fn block_for(req: &PayloadRequest, key: &cairn_ledger::SecretKey) -> Block {
    let (_, _, genesis) = testutil::committee(1);
    let mut b = genesis;
    b.header = BlockHeader {
        height: req.height,
        round: req.round,
        parent_hash: req.parent_hash,
        proposer: key.address(),
        timestamp_ms: req.round.0,
        state_height: req.state_height,
        justify: req.justify.clone(),
        timeout_cert: req.timeout_cert.clone(),
        ..b.header
    };
    b
}

fn start_all(n: usize, txs: bool) -> Vec<(usize, Input)> {
    let mut v: Vec<(usize, Input)> = (0..n).map(|i| (i, Input::Start)).collect();
    if txs {
        v.extend((0..n).map(|i| (i, Input::TxsAvailable(true))));
    }
    v
}

#[test]
fn four_cores_commit_the_same_chain_and_persist_before_voting() {
    let mut net = Net::new(4);
    net.run(start_all(4, true), 2_000);
    assert!(
        net.commits[0].len() >= 10,
        "commits: {}",
        net.commits[0].len()
    );
    for c in &net.commits[1..] {
        let k = c.len().min(net.commits[0].len());
        assert_eq!(c[..k], net.commits[0][..k]);
    }
    // Every vote leaves after the Persist that records it.
    for outs in &net.outputs {
        let mut persisted = Round(0);
        for o in outs {
            match o {
                Output::Persist(s) => persisted = s.last_voted_round,
                Output::SendVote { vote, .. } => assert!(vote.round <= persisted),
                Output::Broadcast(Message::Timeout(t)) => assert!(t.round <= persisted),
                _ => {}
            }
        }
    }
}

#[test]
fn idle_chain_stops_then_restarts_on_transactions() {
    let mut net = Net::new(4);
    // No transactions at genesis: nothing is proposed, no timer is armed.
    net.run(start_all(4, false), 1_000);
    let proposals = |net: &Net| {
        net.outputs
            .iter()
            .flatten()
            .filter(|o| {
                matches!(
                    o,
                    Output::RequestPayload(_) | Output::ScheduleTimeout { .. }
                )
            })
            .count()
    };
    assert_eq!(proposals(&net), 0);
    // Transactions arrive, then the mempool drains: the chain proposes a few
    // empty blocks to commit and certify, then stops.
    let mut inputs: Vec<(usize, Input)> = (0..4).map(|i| (i, Input::TxsAvailable(true))).collect();
    inputs.extend((0..4).map(|i| (i, Input::TxsAvailable(false))));
    net.run(inputs, 5_000);
    let after = proposals(&net);
    assert!(after > 0, "transactions must restart proposals");
    assert!(
        after < 40,
        "idle chain must stop: {after} proposal/timer outputs"
    );
}

/// Proposal checks: (mutation of a valid round-1 proposal, expected error kind).
#[test]
fn proposal_checks_table() {
    let (committee, keys, genesis) = testutil::committee(4);
    let leader = committee.validators.leader(Round(1)) as usize;
    let req = PayloadRequest {
        round: Round(1),
        height: Height(1),
        parent_hash: genesis.hash(),
        justify: cairn_ledger::QuorumCertificate::genesis(genesis.hash()),
        timeout_cert: None,
        state_height: Height(0),
    };
    let good = block_for(&req, &keys[leader]);
    type Mutate = fn(&mut Block, &[cairn_ledger::SecretKey]) -> Option<usize>;
    let cases: [(&str, Mutate, &str); 6] = [
        ("valid", |_, _| None, ""),
        (
            "far future",
            |b, _| {
                b.header.round = Round(500);
                None
            },
            "TooFarAhead",
        ),
        ("not the leader", |_, _| Some(0), "NotLeader"),
        (
            "bad height",
            |b, _| {
                b.header.height = Height(5);
                None
            },
            "Malformed",
        ),
        (
            "no certificate",
            |b, _| {
                b.header.round = Round(3);
                None
            },
            "Malformed",
        ),
        (
            "forged QC",
            |b, k| {
                b.header.round = Round(3);
                b.header.justify =
                    testutil::qc(&testutil::committee(4).0, k, Hash::digest(b"x"), 1, 2, 2);
                b.header.height = Height(2);
                b.header.parent_hash = b.header.justify.block_hash;
                Some(3) // the leader of round 3
            },
            "Invalid",
        ),
    ];
    for (name, mutate, expected) in cases {
        let mut b = good.clone();
        let signer = mutate(&mut b, &keys).unwrap_or(leader);
        b.header.proposer = keys[signer].address();
        let p = Proposal::sign(b, &keys[signer]);
        let mut core = Consensus::new(testutil::config(&committee, &keys, 2), genesis.clone());
        let out = core.handle(Input::Message(Message::Proposal(p)));
        let rejected = out.iter().find_map(|o| match o {
            Output::Rejected(e) => Some(e.clone()),
            _ => None,
        });
        let kind = |e: &ConsensusError| {
            format!("{e:?}")
                .split([' ', '{', '('])
                .next()
                .unwrap_or("")
                .to_string()
        };
        match rejected {
            None => {
                assert_eq!(expected, "", "{name}: accepted");
                assert!(
                    out.iter().any(|o| matches!(o, Output::ValidateBlock(_))),
                    "{name}"
                );
            }
            Some(e) => assert_eq!(kind(&e), expected, "{name}: {e}"),
        }
    }
}

#[test]
fn equivocating_leader_is_reported_and_voted_for_once() {
    let (committee, keys, genesis) = testutil::committee(4);
    let leader = committee.validators.leader(Round(1)) as usize;
    let req = PayloadRequest {
        round: Round(1),
        height: Height(1),
        parent_hash: genesis.hash(),
        justify: cairn_ledger::QuorumCertificate::genesis(genesis.hash()),
        timeout_cert: None,
        state_height: Height(0),
    };
    let a = block_for(&req, &keys[leader]);
    let mut b = a.clone();
    b.header.timestamp_ms += 1;
    // Validator 3: its votes for round 1 go to validator 2.
    let mut core = Consensus::new(testutil::config(&committee, &keys, 3), genesis);
    let mut out = Vec::new();
    for blk in [a, b] {
        let hash = blk.hash();
        out.extend(core.handle(Input::Message(Message::Proposal(Proposal::sign(
            blk,
            &keys[leader],
        )))));
        out.extend(core.handle(Input::BlockValidated { hash, valid: true }));
    }
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::Equivocation(_)))
            .count(),
        1
    );
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::SendVote { .. }))
            .count(),
        1
    );
}

/// Feeds `inputs` to `core`, answering its requests the way a node would:
/// every block validates, and fetches are served from `serve`. Payload
/// requests are left unanswered. Returns every output.
pub(super) fn drive(core: &mut Consensus, inputs: Vec<Input>, serve: &[Block]) -> Vec<Output> {
    let mut queue: VecDeque<Input> = inputs.into();
    let mut all = Vec::new();
    while let Some(input) = queue.pop_front() {
        for o in core.handle(input) {
            match &o {
                Output::ValidateBlock(b) => queue.push_back(Input::BlockValidated {
                    hash: b.hash(),
                    valid: true,
                }),
                Output::FetchBlock { hash, .. } => {
                    if let Some(b) = serve.iter().find(|b| b.hash() == *hash) {
                        queue.push_back(Input::FetchedBlock(b.clone()));
                    }
                }
                _ => {}
            }
            all.push(o);
        }
    }
    all
}

/// A chain B1 <- B2 in rounds 1 and 2 (B2 carries QC(B1) signed by all four
/// validators, so all stay eligible to lead: see `crate::leader`), each
/// signed by its round's leader.
pub(super) fn two_blocks(
    committee: &cairn_ledger::Committee,
    keys: &[cairn_ledger::SecretKey],
    genesis: &Block,
) -> (Proposal, Proposal) {
    let leader = |r: u64| keys[committee.validators.leader(Round(r)) as usize].clone();
    let b1 = block_for(
        &PayloadRequest {
            round: Round(1),
            height: Height(1),
            parent_hash: genesis.hash(),
            justify: cairn_ledger::QuorumCertificate::genesis(genesis.hash()),
            timeout_cert: None,
            state_height: Height(0),
        },
        &leader(1),
    );
    let b2 = block_for(
        &PayloadRequest {
            round: Round(2),
            height: Height(2),
            parent_hash: b1.hash(),
            justify: testutil::qc(committee, keys, b1.hash(), 1, 1, 4),
            timeout_cert: None,
            state_height: Height(0),
        },
        &leader(2),
    );
    (
        Proposal::sign(b1, &leader(1)),
        Proposal::sign(b2, &leader(2)),
    )
}

/// The next leader missed a proposal but holds votes for it (seed 806 of
/// Faults7: with every honest vote needed, the QC never formed and the
/// 2-chain was lost). Validator 3 leads round 3, usually holds B1 (round 1),
/// but never received B2 (round 2, carrying QC(B1)); votes for a block arrive.
/// Table:
/// (case, voters, what happened before, expected: nothing, or fetched then
/// validated, voted, QC(2) formed and B1 committed, or fetched and rejected).
#[test]
fn next_leader_fetches_and_votes_for_a_block_it_missed() {
    let (committee, keys, genesis) = testutil::committee(4);
    let (p1, p2) = two_blocks(&committee, &keys, &genesis);
    // B2 as a validator other than round 2's leader would have proposed it.
    let mut forged = p2.block.clone();
    forged.header.proposer = keys[0].address();
    #[derive(Debug, PartialEq)]
    enum Want {
        Nothing,
        VoteAndCommit,
        RejectedNotLeader,
    }
    /// What validator 3 went through before the votes arrive.
    #[derive(Clone, Copy, PartialEq)]
    enum Setup {
        /// Received B1 only.
        HasB1,
        /// Received nothing: B2's parent must be fetched too.
        MissedB1,
        /// Received B1, entered round 2 and timed out of it.
        TimedOut,
        /// Received B1; the voters voted for B2 with the wrong proposer.
        Forged,
    }
    use Setup::*;
    type Case = (&'static str, &'static [u16], Setup, Want);
    #[rustfmt::skip]
    let cases: [Case; 6] = [
        ("votes of more than 1/3", &[0, 1], HasB1, Want::VoteAndCommit),
        ("missed B1 too: fetched as an ancestor", &[0, 1], MissedB1, Want::VoteAndCommit),
        ("one vote: possibly Byzantine", &[0], HasB1, Want::Nothing),
        ("timed out of round 2 first: cannot vote", &[0, 1], TimedOut, Want::Nothing),
        ("wrong proposer in the fetched block", &[0, 1], Forged, Want::RejectedNotLeader),
        ("votes of 1/3 for the block and a fake", &[1], HasB1, Want::Nothing),
    ];
    for (name, voters, setup, want) in cases {
        let block = if setup == Forged {
            forged.clone()
        } else {
            p2.block.clone()
        };
        let mut core = Consensus::new(testutil::config(&committee, &keys, 3), genesis.clone());
        let mut inputs = vec![Input::Start, Input::TxsAvailable(true)];
        if setup != MissedB1 {
            inputs.push(Input::Message(Message::Proposal(p1.clone())));
        }
        if setup == TimedOut {
            // A peer's timeout carries QC(B1): we enter round 2, then give up on it.
            let t = cairn_ledger::Timeout::sign(
                &committee.chain_id,
                Round(2),
                p2.block.header.justify.clone(),
                0,
                &keys[0],
            );
            inputs.push(Input::Message(Message::Timeout(t)));
            inputs.push(Input::Timer { round: Round(2) });
        }
        let vote = |hash: Hash, v: u16| {
            Input::Message(Message::Vote(cairn_ledger::Vote::sign(
                &committee.chain_id,
                hash,
                Height(2),
                Round(2),
                v,
                &keys[v as usize],
            )))
        };
        inputs.extend(voters.iter().map(|v| vote(block.hash(), *v)));
        if name.contains("fake") {
            inputs.push(vote(Hash::digest(b"fake"), 0));
        }
        let out = drive(&mut core, inputs, &[block.clone(), p1.block.clone()]);
        let fetched = out
            .iter()
            .any(|o| matches!(o, Output::FetchBlock { hash, .. } if *hash == block.hash()));
        let committed = out
            .iter()
            .any(|o| matches!(o, Output::Commit { block, .. } if block.hash() == p1.block.hash()));
        let proposes_on_qc2 = out.iter().any(|o| matches!(o, Output::RequestPayload(r) if r.round == Round(3) && r.justify.block_hash == p2.block.hash()));
        let not_leader = out
            .iter()
            .any(|o| matches!(o, Output::Rejected(ConsensusError::NotLeader { .. })));
        let got = match (fetched, committed && proposes_on_qc2, not_leader) {
            (false, false, false) => Want::Nothing,
            (true, true, false) => Want::VoteAndCommit,
            (true, false, true) => Want::RejectedNotLeader,
            other => panic!("{name}: fetched, committed, rejected = {other:?}"),
        };
        assert_eq!(got, want, "{name}");
        if want == Want::VoteAndCommit {
            // Our own vote, persisted first, completes the QC: no vote leaves the node.
            let persist = out
                .iter()
                .position(|o| matches!(o, Output::Persist(s) if s.last_voted_round == Round(2)));
            let commit = out.iter().position(|o| matches!(o, Output::Commit { .. }));
            assert!(
                persist < commit,
                "{name}: persist before the QC it completes"
            );
        }
    }
}

/// Catch-up sends are rate-limited per peer: validator 2 entered round 2
/// through TC(1) and proposed in it; peers time out of old rounds, replaying
/// their timeouts. Each timeout used to get the TC and the proposal, so a
/// replayed timeout made us send two messages per copy. Table, applied in
/// order: (sender, round it timed out of, expected catch-up message: the
/// round of our proposal sent, 0 for the TC).
#[test]
fn catch_up_sends_are_budgeted_per_peer_and_round() {
    let (committee, keys, genesis) = testutil::committee(4);
    let mut core = Consensus::new(testutil::config(&committee, &keys, 2), genesis.clone());
    let tc1 = testutil::tc(&committee, &keys, 1, &[0, 0, 0]);
    let mut out = core.handle(Input::Start);
    out.extend(core.handle(Input::TxsAvailable(true)));
    out.extend(core.handle(Input::Message(Message::TimeoutCertificate(tc1))));
    let req = out
        .iter()
        .find_map(|o| match o {
            Output::RequestPayload(r) => Some(r.clone()),
            _ => None,
        })
        .expect("leader of round 2 asks for a payload");
    core.handle(Input::Payload(block_for(&req, &keys[2])));
    let cases: [(u16, u64, Option<u64>); 10] = [
        (3, 1, Some(2)), // missed TC(1) and our proposal: the proposal carries both
        (3, 1, Some(2)), // its retransmission (the first send may have been lost)
        (3, 1, None),    // 3rd copy: a replay, or still stuck
        (3, 1, Some(2)), // 4th: answered again, back-off 1, 2, 4, 8, ...
        (3, 1, None),
        (0, 1, Some(2)), // another peer counts on its own
        (3, 2, Some(2)), // timed out of our round without our proposal: resend it
        (3, 1, None),    // below a round already answered
        (1, 1, Some(2)),
        (1, 1, Some(2)),
    ];
    for (i, (signer, round, expected)) in cases.into_iter().enumerate() {
        let hqc = cairn_ledger::QuorumCertificate::genesis(genesis.hash());
        let t = cairn_ledger::Timeout::sign(
            &committee.chain_id,
            Round(round),
            hqc,
            signer,
            &keys[signer as usize],
        );
        let sends: Vec<(u16, u64)> = core
            .handle(Input::Message(Message::Timeout(t)))
            .into_iter()
            .filter_map(|o| match o {
                Output::Send { to, message } => Some((
                    to,
                    match message {
                        Message::Proposal(p) => p.block.header.round.0,
                        _ => 0,
                    },
                )),
                _ => None,
            })
            .collect();
        let want: Vec<(u16, u64)> = expected.map(|r| (signer, r)).into_iter().collect();
        assert_eq!(sends, want, "case {i}");
    }
}

/// Timing out of a round we voted in re-sends that vote to the next leader,
/// ahead of the timeout; a lost vote no longer costs the QC if the copy
/// arrives first. Table: (voted in round 1, expected re-sent vote).
#[test]
fn timing_out_resends_the_round_vote_to_the_next_leader() {
    let (committee, keys, genesis) = testutil::committee(4);
    let (p1, _) = two_blocks(&committee, &keys, &genesis);
    let next = committee.validators.leader(Round(2)); // collects round 1's votes
    for voted in [true, false] {
        // Validator 3: neither round 1's leader nor its next leader.
        let mut core = Consensus::new(testutil::config(&committee, &keys, 3), genesis.clone());
        let mut inputs = vec![Input::Start, Input::TxsAvailable(true)];
        if voted {
            inputs.push(Input::Message(Message::Proposal(p1.clone())));
        }
        let first = drive(&mut core, inputs, &[]);
        let vote = first.iter().find_map(|o| match o {
            Output::SendVote { vote, .. } => Some(vote.clone()),
            _ => None,
        });
        assert_eq!(vote.is_some(), voted);
        // The first expiry signs the timeout, later ones retransmit it: both re-send.
        for expiry in 0..2 {
            let out = core.handle(Input::Timer { round: Round(1) });
            let resent = out.iter().position(
                |o| matches!(o, Output::SendVote { to, vote: v } if *to == next && Some(v) == vote.as_ref()),
            );
            let timeout = out
                .iter()
                .position(|o| matches!(o, Output::Broadcast(Message::Timeout(_))));
            assert!(timeout.is_some(), "voted {voted}, expiry {expiry}");
            if voted {
                assert!(
                    resent < timeout && resent.is_some(),
                    "expiry {expiry}: vote before timeout"
                );
            } else {
                assert_eq!(resent, None);
            }
        }
    }
}

/// A validator that timed out of a round, crashed and restarted re-sends its
/// persisted timeout and must count it: when every honest validator restarted
/// so, each holds only the others' timeouts and, without its own, no TC ever
/// forms (seed 1237 of Faults4: three honest restarts in round 2, one silent
/// validator). Table: (peers whose round-2 timeouts arrive, the timer fires
/// before them, expected TC(2)).
#[test]
fn restarted_validator_counts_its_persisted_timeout() {
    let (committee, keys, genesis) = testutil::committee(4);
    let genesis_qc = cairn_ledger::QuorumCertificate::genesis(genesis.hash());
    let timeout = |v: u16| {
        cairn_ledger::Timeout::sign(
            &committee.chain_id,
            Round(2),
            genesis_qc.clone(),
            v,
            &keys[v as usize],
        )
    };
    let cases: [(&[u16], bool, bool); 4] = [
        (&[0, 1], false, true), // ours completes the quorum of three
        (&[0, 1], true, true),  // counted at the first expiry, TC when the rest arrive
        (&[0], false, false),   // two of three: no TC
        (&[0], true, false),
    ];
    for (i, (peers, timer_first, want_tc)) in cases.into_iter().enumerate() {
        // Validator 3 persisted its timeout for round 2 before crashing.
        let mut safety = SafetyData::genesis(genesis.hash());
        safety.last_voted_round = Round(2);
        safety.last_timeout = Some(timeout(3));
        let mut core = Consensus::restore(
            testutil::config(&committee, &keys, 3),
            safety,
            genesis.clone(),
            genesis_qc.clone(),
            Vec::new(),
        );
        assert_eq!(core.round(), Round(2));
        let mut inputs = vec![Input::Start, Input::TxsAvailable(true)];
        let peer_inputs = peers
            .iter()
            .map(|v| Input::Message(Message::Timeout(timeout(*v))));
        if timer_first {
            inputs.push(Input::Timer { round: Round(2) });
            inputs.extend(peer_inputs);
        } else {
            inputs.extend(peer_inputs);
            inputs.push(Input::Timer { round: Round(2) });
        }
        let out = drive(&mut core, inputs, &[]);
        let tc = out.iter().any(
            |o| matches!(o, Output::Broadcast(Message::TimeoutCertificate(tc)) if tc.round == Round(2)),
        );
        assert_eq!(tc, want_tc, "case {i}");
        assert_eq!(core.round() == Round(3), want_tc, "case {i}: round");
        // The re-sent timeout is the persisted one: nothing new is signed.
        assert!(
            !out.iter().any(|o| matches!(o, Output::Persist(_))),
            "case {i}"
        );
    }
}

/// Leader reputation: validator 3 has crashed (its inputs are dropped). In
/// plain rotation every fourth round waits out a timeout, and so does the
/// round before it (its votes go to validator 3). Once the chain's recent
/// certificates no longer carry validator 3's vote, rounds go to the other
/// three only: after a warm-up, no round times out.
#[test]
fn a_crashed_validator_stops_costing_timeouts() {
    let mut net = Net::new(4);
    let live = [0usize, 1, 2];
    let mut inputs: Vec<(usize, Input)> = live.iter().map(|&i| (i, Input::Start)).collect();
    inputs.extend(live.iter().map(|&i| (i, Input::TxsAvailable(true))));
    let mut timeouts_after_warmup = 0;
    for _ in 0..40 {
        let quiet = net.run_live(std::mem::take(&mut inputs), &live, 5_000);
        if net.commits[0].len() >= 200 {
            break;
        }
        if !quiet {
            continue; // still going: nothing to time out of
        }
        // The round is stuck: every live validator's timer fires.
        let round = live.iter().map(|&i| net.cores[i].round()).max().unwrap();
        if net.commits[0].len() >= 2 * crate::leader::WINDOW + 4 {
            timeouts_after_warmup += 1;
        }
        inputs = live.iter().map(|&i| (i, Input::Timer { round })).collect();
    }
    assert!(
        net.commits[0].len() >= 200,
        "the three live validators commit: {}",
        net.commits[0].len()
    );
    assert_eq!(
        timeouts_after_warmup, 0,
        "rounds still wait for the crashed validator after the warm-up"
    );
}

/// Leader reputation learns from timeout certificates: validator 3 crashes
/// in a running chain. The round whose votes go to it (and, if it is next in
/// plain rotation, the round after) time out, into TCs it cannot sign; from
/// the block carrying such a TC on, rounds entered by a QC skip it — the TC
/// shows it was not alive, and the QCs formed since do not hold its vote —
/// so the crash costs one stall and never another. When only QCs counted,
/// it stayed active until four blocks certified without it existed and was
/// elected again meanwhile: a second stall (and more timeouts) followed.
#[test]
fn a_crash_costs_one_stall_not_several() {
    let mut net = Net::new(4);
    net.crash = Some((3, 20));
    net.reverse_broadcasts = true; // 3's votes reach QCs: it leads
    let all = [0usize, 1, 2, 3];
    let mut inputs: Vec<(usize, Input)> = all.iter().map(|&i| (i, Input::Start)).collect();
    inputs.extend(all.iter().map(|&i| (i, Input::TxsAvailable(true))));
    let (mut stalls, mut timeouts) = (0, 0);
    let mut stalled_at = None;
    for _ in 0..40 {
        if net.run_live(std::mem::take(&mut inputs), &all, 50_000) {
            // Stuck: every live validator's timer fires.
            let live = [0usize, 1, 2];
            let round = live.iter().map(|&i| net.cores[i].round()).max().unwrap();
            timeouts += 1;
            let commits = net.commits[0].len();
            if stalled_at != Some(commits) {
                stalls += 1; // commits since the last timeout: a new stall
            }
            stalled_at = Some(commits);
            inputs = live.iter().map(|&i| (i, Input::Timer { round })).collect();
        } else {
            break; // 50,000 steps without getting stuck
        }
    }
    assert!(
        net.commits[0].len() >= 200,
        "the three live validators commit: {}",
        net.commits[0].len()
    );
    assert_eq!(
        (stalls, timeouts <= 2),
        (1, true),
        "the crash cost {stalls} stalls and {timeouts} round timeouts"
    );
}

/// With one validator of four down, every live vote is needed: a round
/// whose votes are lost times out. The next round is its TC's, and under
/// plain rotation it was the dead validator's turn a quarter of the time —
/// a second timeout, with back-off, about 3 s without commits on a testnet
/// (the node simulation's one-cut-off scenario found it). The first round
/// after one timeout goes by reputation, which has left the dead validator
/// out: one timeout, then progress.
#[test]
fn a_lost_vote_beside_a_dead_validator_costs_one_timeout() {
    let mut net = Net::new(4);
    net.crash = Some((3, 0));
    let live = [0usize, 1, 2];
    let mut queue: VecDeque<(usize, Input)> = start_all(4, true).into();
    let mut lost = None;
    let mut timeouts_after_loss = 0;
    for _ in 0..200 {
        let stuck = net.run_queue(&mut queue, &live, 2_000);
        let round = live.iter().map(|&i| net.cores[i].round()).max().unwrap();
        if !stuck {
            // Past the stalls of the crash itself (3 has left the window),
            // lose the votes of a round whose next round is 3's plain turn.
            if lost.is_none() && net.commits[0].len() >= 30 {
                let r = (round.0 + 2..).find(|r| (r + 1) % 4 == 3).unwrap();
                lost = Some(Round(r));
                net.lose_votes_of = lost;
            }
            if lost.is_some_and(|r| round.0 > r.0 + 8) {
                break;
            }
            continue;
        }
        if lost.is_some_and(|r| round >= r) {
            timeouts_after_loss += 1;
        }
        queue.extend(live.iter().map(|&i| (i, Input::Timer { round })));
    }
    let lost = lost.expect("the chain ran past the crash");
    let top = live.iter().map(|&i| net.cores[i].round()).max().unwrap();
    assert!(
        top.0 > lost.0 + 8,
        "the chain went on past {lost:?}: {top:?}"
    );
    assert_eq!(
        timeouts_after_loss, 1,
        "losing the votes of {lost:?} cost {timeouts_after_loss} timeouts"
    );
}

impl Net {
    /// Delivers outputs, dropping inputs to validators outside `live`.
    /// Returns true if it stopped because nothing was left to deliver; the
    /// undelivered rest is dropped otherwise (a long run is progress enough).
    fn run_live(&mut self, first: Vec<(usize, Input)>, live: &[usize], max_steps: usize) -> bool {
        let mut queue: VecDeque<(usize, Input)> = first.into();
        self.run_queue(&mut queue, live, max_steps)
    }

    /// [`Net::run_live`] on a queue the caller keeps: what is still in flight
    /// after `max_steps` stays in it.
    fn run_queue(
        &mut self,
        queue: &mut VecDeque<(usize, Input)>,
        live: &[usize],
        max_steps: usize,
    ) -> bool {
        let n = self.cores.len();
        for _ in 0..max_steps {
            let Some((i, input)) = queue.pop_front() else {
                return true;
            };
            let crashed = self
                .crash
                .is_some_and(|(c, after)| c == i && self.commits[0].len() >= after);
            if !live.contains(&i) || crashed {
                continue;
            }
            let before = self.cores[i].round();
            let outputs = self.cores[i].handle(input);
            if let Some(rec) = &mut self.next_leaders {
                rec.record(i, before, &self.cores[i], &outputs);
            }
            for o in outputs {
                self.outputs[i].push(o.clone());
                match o {
                    Output::Broadcast(m) => {
                        let mut to: Vec<usize> = (0..n).filter(|j| *j != i).collect();
                        if self.reverse_broadcasts {
                            to.reverse();
                        }
                        for j in to {
                            queue.push_back((j, Input::Message(m.clone())));
                        }
                    }
                    Output::SendVote { vote, .. } if Some(vote.round) == self.lose_votes_of => {}
                    Output::SendVote { to, vote } => {
                        queue.push_back((to as usize, Input::Message(Message::Vote(vote))));
                    }
                    Output::Send { to, message } => {
                        queue.push_back((to as usize, Input::Message(message)));
                    }
                    Output::RequestPayload(req) => {
                        let key = self.cores[i].config.key.clone().unwrap();
                        queue.push_back((i, Input::Payload(block_for(&req, &key))));
                    }
                    Output::ValidateBlock(b) => queue.push_back((
                        i,
                        Input::BlockValidated {
                            hash: b.hash(),
                            valid: true,
                        },
                    )),
                    Output::Commit { block, .. } => self.commits[i].push(block.hash()),
                    _ => {}
                }
            }
        }
        false
    }
}

impl NextLeaders {
    /// After core `i` (in round `before` until now) produced `outputs`.
    fn record(&mut self, i: usize, before: Round, core: &Consensus, outputs: &[Output]) {
        let round = core.round();
        let voted = core.safety_data().last_voted_round >= round;
        if round != before && !voted {
            let by_tc = core.high_qc().round.next() != round;
            self.predicted
                .insert((i, round), (core.next_leader(), by_tc));
        }
        for o in outputs {
            if let Output::SendVote { to, vote } = o {
                let (predicted, by_tc) = self
                    .predicted
                    .get(&(i, vote.round))
                    .copied()
                    .unwrap_or((None, false));
                let after = (vote.round == round).then(|| core.next_leader()).flatten();
                self.votes.push(SentVote {
                    validator: i,
                    round: vote.round,
                    to: *to,
                    predicted,
                    by_tc,
                    after,
                });
            }
        }
    }
}

/// `next_leader()` names the validator this round's votes go to: before a
/// core votes (entering the round, for the block it would propose, a TC's
/// signers counting after a timeout) and after. Validator 3 runs, its votes
/// in the QCs, then crashes: the round whose votes go to it times out, and
/// the round entered by that TC elects its next leader among the TC's
/// signers only (the older QCs, which 3 signed, predate it). Leader
/// reputation then keeps votes away from plain rotation. A `next_leader`
/// answering with the current leader, plain rotation, or reputation without
/// the TC names another validator for some vote. Several crash points, so
/// that rounds of every residue follow a crash.
#[test]
fn next_leader_is_where_the_votes_for_the_next_proposal_go() {
    let (committee, _, _) = testutil::committee(4);
    let vals = &committee.validators;
    let (mut predicted, mut off_rotation, mut after_tc) = (0, 0, 0);
    for crash_at in [20, 21, 22, 23] {
        let mut net = Net::new(4);
        net.crash = Some((3, crash_at));
        net.reverse_broadcasts = true; // 3's votes reach QCs: it is active
        net.next_leaders = Some(NextLeaders::default());
        let live = [0usize, 1, 2];
        let mut queue: VecDeque<(usize, Input)> = start_all(4, true).into();
        for _ in 0..1_000 {
            if net.commits[0].len() >= crash_at + 30 {
                break;
            }
            if net.run_queue(&mut queue, &[0, 1, 2, 3], 100) {
                // Stuck: every live validator's timer fires.
                let round = live.iter().map(|&i| net.cores[i].round()).max().unwrap();
                queue.extend(live.iter().map(|&i| (i, Input::Timer { round })));
            }
        }
        assert!(
            net.commits[0].len() >= crash_at + 30,
            "the live validators commit past the crash"
        );
        let rec = net.next_leaders.take().unwrap();
        for v in &rec.votes {
            let (i, round, to) = (v.validator, v.round, v.to);
            if let Some(before) = v.predicted {
                assert_eq!(
                    before, to,
                    "crash at {crash_at}: validator {i}, round {round}: next_leader() on entering the round"
                );
                predicted += 1;
                after_tc += usize::from(v.by_tc);
            }
            if let Some(after) = v.after {
                assert_eq!(
                    after, to,
                    "crash at {crash_at}: validator {i}, round {round}: after voting"
                );
            }
            off_rotation += usize::from(to != vals.leader(round.next()));
        }
    }
    assert!(
        predicted >= 20 && off_rotation >= 5 && after_tc >= 4,
        "too few telling votes: {predicted} predicted, {off_rotation} off plain rotation, \
         {after_tc} after a TC"
    );
}

/// The last QC of an idle chain is held only by the leader that formed it.
/// If the other validators still count transactions as pending (those of
/// the blocks that QC commits, which they do not know are committed) and one
/// validator is down, they time out of a round the leader has left: no TC
/// can form without it, and the leader, idle, proposed nothing that would
/// hand them the QC. It must propose when such a timeout reaches it (found
/// on real processes: a validator killed under load, three nodes stalled).
#[test]
fn an_idle_leader_hands_its_qc_to_validators_timing_out_behind_it() {
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    let mut queue: VecDeque<(usize, Input)> = start_all(4, true).into();
    net.run_queue(&mut queue, &all, 2_000);
    assert!(net.commits[0].len() >= 5, "the chain runs first");
    queue.extend((0..4).map(|i| (i, Input::TxsAvailable(false))));
    assert!(net.run_queue(&mut queue, &all, 20_000), "then goes idle");
    let rounds: Vec<Round> = net.cores.iter().map(|c| c.round()).collect();
    let top = *rounds.iter().max().unwrap();
    let leader = rounds.iter().position(|r| *r == top).unwrap();
    let behind: Vec<usize> = (0..4).filter(|&i| rounds[i] < top).collect();
    assert!(
        behind.len() >= 2,
        "the QC's leader is ahead of the others: {rounds:?}"
    );
    // One of those behind crashes; the others see work pending.
    let crashed = behind[0];
    let live: Vec<usize> = (0..4).filter(|&i| i != crashed).collect();
    let waiting: Vec<usize> = behind[1..].to_vec();
    let mut inputs: Vec<(usize, Input)> = waiting
        .iter()
        .map(|&i| (i, Input::TxsAvailable(true)))
        .collect();
    inputs.extend(waiting.iter().map(|&i| {
        (
            i,
            Input::Timer {
                round: net.cores[i].round(),
            },
        )
    }));
    let commits_before: Vec<usize> = net.commits.iter().map(Vec::len).collect();
    net.run_live(inputs, &live, 5_000);
    for &i in &waiting {
        assert!(
            net.cores[i].round() >= top,
            "validator {i} is still in round {} (was {}), behind the leader's {top}: leader {leader}, crashed {crashed}",
            net.cores[i].round(),
            rounds[i]
        );
        assert!(
            net.commits[i].len() > commits_before[i],
            "validator {i} learnt no commit: before {commits_before:?}, after {:?}, rounds {rounds:?} -> {:?}",
            net.commits.iter().map(Vec::len).collect::<Vec<_>>(),
            net.cores.iter().map(|c| c.round()).collect::<Vec<_>>()
        );
    }
}
