//! One consensus round in memory: 4 validators with real ed25519 signing and
//! verification. A round = the leader's payload is signed and broadcast, three
//! replicas verify it and vote, the next leader verifies the votes, forms the
//! QC and asks for its own payload.

use std::collections::VecDeque;

use cairn_consensus::{Config, Consensus, Input, Message, Output, PayloadRequest};
use cairn_ledger::{
    Block, BlockHeader, ChainId, Committee, Hash, SecretKey, Validator, ValidatorSet,
};
use criterion::{criterion_group, criterion_main, Criterion};

struct Net {
    cores: Vec<Consensus>,
    keys: Vec<SecretKey>,
    genesis: Block,
    queue: VecDeque<(usize, Input)>,
}

impl Net {
    fn new() -> Net {
        let keys: Vec<SecretKey> = (0..4u8)
            .map(|i| SecretKey::from_seed([i + 1; 32]))
            .collect();
        let vals = keys
            .iter()
            .map(|k| Validator {
                address: k.address(),
                power: 1,
            })
            .collect();
        let chain_id = ChainId::new("cairn-bench").expect("valid chain id");
        let genesis = Block::genesis(chain_id.clone(), 0, Hash::digest(b"state"));
        let committee = Committee {
            chain_id,
            genesis_hash: genesis.hash(),
            validators: ValidatorSet::new(vals).expect("valid set"),
        };
        let cores = keys
            .iter()
            .map(|k| {
                Consensus::new(
                    Config::new(committee.clone(), Some(k.clone())),
                    genesis.clone(),
                )
            })
            .collect();
        let mut queue = VecDeque::new();
        for i in 0..4 {
            queue.push_back((i, Input::Start));
            queue.push_back((i, Input::TxsAvailable(true)));
        }
        Net {
            cores,
            keys,
            genesis,
            queue,
        }
    }

    fn block_for(&self, req: &PayloadRequest, i: usize) -> Block {
        let mut b = self.genesis.clone();
        b.header = BlockHeader {
            height: req.height,
            round: req.round,
            parent_hash: req.parent_hash,
            proposer: self.keys[i].address(),
            timestamp_ms: req.round.0,
            state_height: req.state_height,
            justify: req.justify.clone(),
            timeout_cert: req.timeout_cert.clone(),
            ..b.header.clone()
        };
        b
    }

    /// Runs until a leader answers a payload request; returns after one round.
    fn round(&mut self) {
        let mut payloads = 0;
        while let Some((i, input)) = self.queue.pop_front() {
            for o in self.cores[i].handle(input) {
                match o {
                    Output::Broadcast(m) => {
                        for j in (0..4).filter(|j| *j != i) {
                            self.queue.push_back((j, Input::Message(m.clone())));
                        }
                    }
                    Output::SendVote { to, vote } => self
                        .queue
                        .push_back((to as usize, Input::Message(Message::Vote(vote)))),
                    Output::RequestPayload(req) => {
                        let b = self.block_for(&req, i);
                        self.queue.push_back((i, Input::Payload(b)));
                        payloads += 1;
                    }
                    Output::ValidateBlock(b) => self.queue.push_back((
                        i,
                        Input::BlockValidated {
                            hash: b.hash(),
                            valid: true,
                        },
                    )),
                    _ => {}
                }
            }
            if payloads > 0 {
                return;
            }
        }
        panic!("the network stalled");
    }
}

fn bench_round(c: &mut Criterion) {
    let mut net = Net::new();
    net.round(); // warm up to the first proposal
    c.bench_function("consensus round, 4 validators", |b| b.iter(|| net.round()));
}

criterion_group!(benches, bench_round);
criterion_main!(benches);
