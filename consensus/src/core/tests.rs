//! Core tests: a lock-step network of four cores, and proposal checks case by case.

use std::collections::VecDeque;

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
        }
    }

    fn run(&mut self, first: Vec<(usize, Input)>, max_steps: usize) {
        let mut queue: VecDeque<(usize, Input)> = first.into();
        let n = self.cores.len();
        for _ in 0..max_steps {
            let Some((i, input)) = queue.pop_front() else {
                return;
            };
            for o in self.cores[i].handle(input) {
                self.outputs[i].push(o.clone());
                match o {
                    Output::Broadcast(m) => {
                        for j in (0..n).filter(|j| *j != i) {
                            queue.push_back((j, Input::Message(m.clone())));
                        }
                    }
                    Output::SendVote { to, vote } => {
                        queue.push_back((to as usize, Input::Message(Message::Vote(vote))));
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
