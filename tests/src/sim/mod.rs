//! A seeded, deterministic simulation of Cairn validators in one thread.
//!
//! Real consensus cores with real ed25519 keys exchange messages over a
//! simulated network ([`network`]) driven by a discrete event queue; time is
//! simulated milliseconds. Everything random comes from one ChaCha8 stream
//! seeded by the seed, and every collection iterates in a fixed order, so a
//! seed replays exactly. [`invariants`] checks safety on every step; liveness
//! (committed height grows after healing) and the idle rule are checked here.

mod app;
mod byzantine;
pub mod invariants;
pub mod network;
mod node;
pub mod scenario;

use std::collections::BTreeMap;

use cairn_consensus::{Config, Consensus, Input, Message, Output, SafetyData};
use cairn_ledger::{
    Amount, Block, ChainId, Committee, Hash, QuorumCertificate, Round, SecretKey, Transaction,
    Validator, ValidatorSet,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use app::App;
use byzantine::ByzState;
use invariants::Checker;
use network::{Network, NodeId, Packet};
use node::{Role, SimNode};
pub use scenario::{Params, Scenario};

/// Round timeout of simulated validators.
const BASE_TIMEOUT_MS: u64 = 200;

/// A hook that adjusts every honest core's configuration (planted bugs).
pub type Tweak = fn(&mut Config);

/// Counters from one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Highest height committed by an honest node.
    pub committed_height: u64,
    /// Highest round reached by an honest node.
    pub max_round: u64,
    /// Proposals broadcast by honest nodes.
    pub proposals: u64,
    /// Timeouts broadcast by honest nodes.
    pub timeouts: u64,
    /// Equivocations reported by cores.
    pub equivocations: u64,
    /// Inputs cores rejected.
    pub rejected: u64,
    /// Crashes.
    pub crashes: u64,
    /// Simulated events processed.
    pub events: u64,
}

/// A failed run: replay it with `SIM_SEED=<seed> SIM_SCENARIO=<scenario>`.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The scenario.
    pub scenario: Scenario,
    /// What went wrong.
    pub violations: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "simulation failed: replay with SIM_SEED={} SIM_SCENARIO={:?}",
            self.seed, self.scenario
        )?;
        for v in self.violations.iter().take(10) {
            writeln!(f, "  - {v}")?;
        }
        Ok(())
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        to: NodeId,
        from: NodeId,
        packet: Packet,
    },
    Timer {
        node: NodeId,
        incarnation: u64,
        gen: u64,
        round: Round,
    },
    Reply {
        node: NodeId,
        incarnation: u64,
        input: Input,
    },
    Tick,
    Txs,
    Crash(NodeId),
    Restart(NodeId),
    Partition(Vec<u8>),
    Heal,
}

/// One simulation run.
#[derive(Debug)]
pub struct Sim {
    params: Params,
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<SimNode>,
    committee: Committee,
    genesis: Block,
    net: Network,
    checker: Checker,
    tweak: Option<Tweak>,
    accounts: Vec<(SecretKey, u64)>,
    txs_on: bool,
    stats: Stats,
}

/// Runs one seed of a scenario; `tweak` adjusts every core's config.
pub fn run(seed: u64, scenario: Scenario, tweak: Option<Tweak>) -> Result<Stats, Failure> {
    let mut sim = Sim::new(seed, scenario, tweak);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.run()));
    let mut violations = std::mem::take(&mut sim.checker.violations);
    if let Err(panic) = outcome {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        violations.push(format!("panic: {msg}"));
    }
    if violations.is_empty() {
        Ok(sim.stats)
    } else {
        Err(Failure {
            seed,
            scenario,
            violations,
        })
    }
}

impl Sim {
    fn new(seed: u64, scenario: Scenario, tweak: Option<Tweak>) -> Sim {
        let params = scenario.params();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let chain_id = ChainId::new("cairn-sim").unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<SecretKey> = (0..params.validators)
            .map(|_| SecretKey::from_seed(rng.gen()))
            .collect();
        let validators = ValidatorSet::new(
            keys.iter()
                .map(|k| Validator {
                    address: k.address(),
                    power: 1,
                })
                .collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let genesis_root = Hash::digest(b"sim genesis state");
        let genesis = Block::genesis(chain_id.clone(), 0, genesis_root);
        let committee = Committee {
            chain_id: chain_id.clone(),
            genesis_hash: genesis.hash(),
            validators,
        };
        // Pick the Byzantine validators (never validator 0, so Calm runs are comparable).
        let mut roles: Vec<Option<ByzState>> = (0..params.validators).map(|_| None).collect();
        let mut byz = 0;
        while byz < params.byzantine {
            let v = rng.gen_range(1..params.validators);
            if roles[v].is_none() {
                roles[v] = Some(ByzState::random(&mut rng, params.forker));
                byz += 1;
            }
        }
        let twin = params.twins.then(|| rng.gen_range(0..params.validators));
        let mut honest = vec![true; params.validators];
        let mut nodes = Vec::new();
        for (v, (key, role)) in keys.iter().zip(roles).enumerate() {
            honest[v] = role.is_none() && twin != Some(v);
            let role = match role {
                Some(b) => Role::Byzantine(Box::new(b)),
                None if twin == Some(v) => Role::Twin,
                None => Role::Honest,
            };
            nodes.push(Self::make_node(
                v as u16,
                key.clone(),
                role,
                &genesis,
                &committee,
            ));
        }
        if let Some(t) = twin {
            nodes.push(Self::make_node(
                t as u16,
                keys[t].clone(),
                Role::Twin,
                &genesis,
                &committee,
            ));
        }
        let accounts = (0..4)
            .map(|_| (SecretKey::from_seed(rng.gen()), 0))
            .collect();
        let checker = Checker::new(committee.clone(), honest);
        Sim {
            net: Network::new(params.chaos.clone()),
            params,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            committee,
            genesis,
            checker,
            tweak,
            accounts,
            txs_on: true,
            stats: Stats::default(),
        }
    }

    fn make_node(
        v: u16,
        key: SecretKey,
        role: Role,
        genesis: &Block,
        committee: &Committee,
    ) -> SimNode {
        let mut app = App::new(committee.chain_id.clone(), genesis.header.state_root);
        if let Role::Byzantine(b) = &role {
            app.lie_about_state = b.lie_about_state;
        }
        let mut node = SimNode {
            validator: v,
            key,
            role,
            core: None,
            incarnation: 0,
            timer_gen: 0,
            persisted: SafetyData::genesis(genesis.hash()),
            committed: Vec::new(),
            by_hash: BTreeMap::new(),
            app,
            crash_armed: false,
        };
        node.store(genesis.clone(), QuorumCertificate::genesis(genesis.hash()));
        node
    }

    fn config(&self, node: NodeId) -> Config {
        let n = &self.nodes[node];
        let mut config = Config::new(self.committee.clone(), Some(n.key.clone()));
        config.base_timeout_ms = BASE_TIMEOUT_MS;
        config.max_timeout_ms = BASE_TIMEOUT_MS * 4;
        if let Some(tweak) = self.tweak {
            tweak(&mut config);
        }
        config
    }

    fn schedule(&mut self, after_ms: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + after_ms, self.seq), event);
    }

    fn run(&mut self) {
        let p = self.params.clone();
        let heal_at = p.chaos_ms;
        let end = p.chaos_ms + p.heal_ms;
        self.plan_faults(heal_at);
        for i in 0..self.nodes.len() {
            self.start_node(i);
        }
        self.schedule(0, Event::Txs);
        self.schedule(0, Event::Tick);
        self.schedule(heal_at, Event::Heal);
        self.run_until(heal_at);
        let heal_height = self.checker.max_committed();
        self.run_until(end);
        if !self.checker.violations.is_empty() {
            return; // a safety violation stopped the run; liveness is moot
        }
        self.check_liveness(heal_height);
        if p.idle_tail && self.checker.violations.is_empty() {
            self.check_idle(end);
        }
        self.stats.committed_height = self.checker.max_committed().0;
    }

    fn run_until(&mut self, t: u64) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > t {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            self.stats.events += 1;
            self.step(event);
            if !self.checker.violations.is_empty() {
                return;
            }
        }
        self.now = t;
    }

    /// Partitions and crashes during the chaos phase, all over by `heal_at`.
    fn plan_faults(&mut self, heal_at: u64) {
        let n = self.nodes.len();
        if self.params.partitions {
            for _ in 0..self.rng.gen_range(1..=2) {
                let start = self.rng.gen_range(0..heal_at / 2);
                let len = self.rng.gen_range(200..heal_at / 2);
                let groups: Vec<u8> = (0..n).map(|_| self.rng.gen_range(0..2)).collect();
                self.schedule(start, Event::Partition(groups));
                self.schedule(start + len, Event::Heal);
            }
        }
        if self.params.crashes {
            for _ in 0..self.rng.gen_range(1..=3) {
                let node = self.rng.gen_range(0..n);
                if !self.nodes[node].is_honest() {
                    continue;
                }
                let at = self.rng.gen_range(0..heal_at - 300);
                let back = self.rng.gen_range(at + 50..heal_at);
                self.schedule(at, Event::Crash(node));
                self.schedule(back, Event::Restart(node));
            }
        }
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Deliver { to, from, packet } => self.deliver(to, from, packet),
            Event::Timer {
                node,
                incarnation,
                gen,
                round,
            } => {
                let n = &self.nodes[node];
                if n.incarnation == incarnation && n.timer_gen == gen {
                    self.input(node, Input::Timer { round });
                }
            }
            Event::Reply {
                node,
                incarnation,
                input,
            } => {
                if self.nodes[node].incarnation == incarnation {
                    self.input(node, input);
                }
            }
            Event::Tick => {
                for i in 0..self.nodes.len() {
                    self.signal_txs(i);
                }
                self.schedule(100, Event::Tick);
            }
            Event::Txs => self.make_txs(),
            Event::Crash(node) => {
                if self.rng.gen_bool(0.5) {
                    self.crash(node);
                } else {
                    self.nodes[node].crash_armed = true;
                }
            }
            Event::Restart(node) => self.restart(node),
            Event::Partition(groups) => self.net.partition(groups),
            Event::Heal => {
                self.net.heal();
                if self.now >= self.params.chaos_ms {
                    self.net.cfg = self.params.healed.clone();
                    for i in 0..self.nodes.len() {
                        self.nodes[i].crash_armed = false;
                        if self.nodes[i].core.is_none() {
                            self.restart(i);
                        }
                    }
                }
            }
        }
    }

    fn start_node(&mut self, i: NodeId) {
        if std::env::var("SIM_TRACE").is_ok() {
            eprintln!("t={} node {i} START", self.now);
        }
        let config = self.config(i);
        let n = &mut self.nodes[i];
        let (tip, cert) = n.tip().clone();
        let core = if tip.header.height.0 == 0 && n.persisted == SafetyData::genesis(tip.hash()) {
            Consensus::new(config, tip)
        } else {
            Consensus::restore(config, n.persisted.clone(), tip, cert)
        };
        n.core = Some(core);
        n.app.signaled = None;
        self.input(i, Input::Start);
        self.signal_txs(i);
    }

    fn crash(&mut self, i: NodeId) {
        let n = &mut self.nodes[i];
        if n.core.is_some() {
            if std::env::var("SIM_TRACE").is_ok() {
                eprintln!("t={} node {i} CRASH", self.now);
            }
            n.core = None;
            n.incarnation += 1;
            n.crash_armed = false;
            self.stats.crashes += 1;
        }
    }

    fn restart(&mut self, i: NodeId) {
        if self.nodes[i].core.is_none() {
            self.start_node(i);
        }
    }

    /// Tells the core when transactions become (un)available.
    fn signal_txs(&mut self, i: NodeId) {
        let n = &mut self.nodes[i];
        if n.core.is_none() {
            return;
        }
        let has = n.app.has_txs(self.now);
        if n.app.signaled != Some(has) {
            n.app.signaled = Some(has);
            self.input(i, Input::TxsAvailable(has));
        }
    }

    /// Feeds one input to a node's core and performs its outputs in order,
    /// possibly crashing part-way (outputs after the crash are lost).
    fn input(&mut self, i: NodeId, input: Input) {
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        let trace = std::env::var("SIM_TRACE").is_ok();
        let desc = if trace {
            brief_input(&input)
        } else {
            String::new()
        };
        let outputs = core.handle(input);
        if trace {
            let outs: Vec<String> = outputs.iter().map(brief_output).collect();
            eprintln!(
                "t={} node {i} r{} <- {desc} -> {}",
                self.now,
                core.round(),
                outs.join(", ")
            );
        }
        let cut = if self.nodes[i].crash_armed && !outputs.is_empty() {
            Some(self.rng.gen_range(0..=outputs.len()))
        } else {
            None
        };
        for (k, o) in outputs.into_iter().enumerate() {
            if cut == Some(k) {
                self.crash(i);
                return;
            }
            self.dispatch(i, o);
        }
        if cut.is_some() {
            self.crash(i);
        }
    }

    fn dispatch(&mut self, i: NodeId, o: Output) {
        let honest = self.nodes[i].is_honest();
        let byz = matches!(self.nodes[i].role, Role::Byzantine(_));
        match o {
            Output::Persist(s) => {
                if honest {
                    self.checker.observe_persist(&s);
                }
                self.nodes[i].persisted = s;
            }
            Output::Broadcast(m) => {
                if honest {
                    match &m {
                        Message::Timeout(t) => {
                            self.checker.observe_timeout(t);
                            self.stats.timeouts += 1;
                        }
                        Message::Vote(v) => self.checker.observe_vote(v),
                        Message::Proposal(_) => self.stats.proposals += 1,
                        Message::TimeoutCertificate(_) => {}
                    }
                }
                if byz {
                    self.byz_broadcast(i, m);
                } else {
                    self.broadcast(i, Packet::Msg(m), false);
                }
            }
            Output::SendVote { to, vote } => {
                if honest {
                    self.checker.observe_vote(&vote);
                }
                if byz {
                    self.byz_vote(i, to, vote);
                } else {
                    self.send_to_validator(i, to, Packet::Msg(Message::Vote(vote)));
                }
            }
            Output::Send { to, message } => {
                if !byz || !self.byz_is_silent(i) {
                    self.send_to_validator(i, to, Packet::Msg(message));
                }
            }
            Output::ScheduleTimeout { round, after_ms } => {
                let n = &mut self.nodes[i];
                n.timer_gen += 1;
                let event = Event::Timer {
                    node: i,
                    incarnation: n.incarnation,
                    gen: n.timer_gen,
                    round,
                };
                self.schedule(after_ms, event);
            }
            Output::RequestPayload(req) => {
                if byz && self.byz_payload(i, &req) {
                    return;
                }
                let now = self.now;
                let n = &mut self.nodes[i];
                let block = n.app.build(&req, n.key.address(), now);
                self.reply(i, 1, Input::Payload(block));
            }
            Output::ValidateBlock(block) => {
                let valid = self.nodes[i].app.validate(&block, self.now);
                let hash = block.hash();
                let delay = self.rng.gen_range(1..10);
                self.reply(i, delay, Input::BlockValidated { hash, valid });
            }
            Output::Commit { block, certificate } => self.commit(i, block, certificate),
            Output::FetchBlock { hash, from } => {
                self.send_to_validator(i, from, Packet::FetchReq(hash));
            }
            Output::Equivocation(_) => self.stats.equivocations += 1,
            Output::Rejected(_) => self.stats.rejected += 1,
        }
    }

    fn commit(&mut self, i: NodeId, block: Block, cert: QuorumCertificate) {
        let n = &mut self.nodes[i];
        if n.is_honest() {
            let expected = n.app.root_at(block.header.state_height);
            let prev = &n.tip().0;
            self.checker
                .observe_commit(i, prev, &block, &cert, expected);
        }
        if let Err(e) = n.app.commit(&block) {
            if n.is_honest() {
                self.checker.violations.push(format!("node {i}: {e}"));
            }
            return;
        }
        n.store(block, cert);
    }

    fn reply(&mut self, i: NodeId, after_ms: u64, input: Input) {
        let incarnation = self.nodes[i].incarnation;
        self.schedule(
            after_ms,
            Event::Reply {
                node: i,
                incarnation,
                input,
            },
        );
    }

    fn send(&mut self, from: NodeId, to: NodeId, packet: Packet, reliable: bool) {
        let delays = self.net.delays(&mut self.rng, from, to, reliable, self.now);
        for d in delays {
            self.schedule(
                d,
                Event::Deliver {
                    to,
                    from,
                    packet: packet.clone(),
                },
            );
        }
    }

    fn broadcast(&mut self, from: NodeId, packet: Packet, reliable: bool) {
        // The scheduler is on the attacker's side: it isolates honest leaders only.
        if matches!(packet, Packet::Msg(Message::Proposal(_)))
            && self.nodes[from].is_honest()
            && self.now < self.params.chaos_ms
            && self.params.isolate_leader > 0.0
            && self.rng.gen_bool(self.params.isolate_leader)
        {
            let until = self.now + 3 * BASE_TIMEOUT_MS;
            self.net.isolate(from, until);
        }
        for to in 0..self.nodes.len() {
            if to != from {
                self.send(from, to, packet.clone(), reliable);
            }
        }
    }

    /// Sends to every node holding validator index `v` (both twins).
    fn send_to_validator(&mut self, from: NodeId, v: u16, packet: Packet) {
        for to in 0..self.nodes.len() {
            if to != from && self.nodes[to].validator == v {
                self.send(from, to, packet.clone(), false);
            }
        }
    }

    fn deliver(&mut self, to: NodeId, from: NodeId, packet: Packet) {
        if self.nodes[to].core.is_none() {
            return;
        }
        match packet {
            Packet::Msg(m) => {
                self.byz_observe(to, &m);
                self.input(to, Input::Message(m));
            }
            Packet::FetchReq(hash) => {
                // Serve the block and a run of its ancestors, nearest first.
                let mut blocks = Vec::new();
                let mut cursor = hash;
                while blocks.len() < 32 {
                    let Some(b) = self.nodes[to].find_block(&cursor) else {
                        break;
                    };
                    cursor = b.header.parent_hash;
                    let genesis = b.header.height.0 == 0;
                    blocks.push(b);
                    if genesis {
                        break;
                    }
                }
                if !blocks.is_empty() {
                    self.send(to, from, Packet::FetchResp(blocks), false);
                }
            }
            Packet::FetchResp(blocks) => {
                for b in blocks {
                    self.input(to, Input::FetchedBlock(b));
                }
            }
            Packet::Tx(tx) => {
                self.nodes[to].app.add_tx(tx);
                self.signal_txs(to);
            }
        }
    }

    /// Injects a few signed transfers, gossiped to every node.
    fn make_txs(&mut self) {
        if !self.txs_on {
            return;
        }
        let count = self.rng.gen_range(1..=3);
        for _ in 0..count {
            let a = self.rng.gen_range(0..self.accounts.len());
            let to = self.accounts[(a + 1) % self.accounts.len()].0.address();
            let (key, nonce) = &mut self.accounts[a];
            let tx = Transaction {
                chain_id: self.committee.chain_id.clone(),
                from: key.address(),
                to,
                amount: Amount(1),
                nonce: *nonce,
                memo: Vec::new(),
            }
            .sign(key);
            *nonce += 1;
            let origin = self.rng.gen_range(0..self.nodes.len());
            self.nodes[origin].app.add_tx(tx.clone());
            self.signal_txs(origin);
            self.broadcast(origin, Packet::Tx(tx), true);
        }
        let next = self.rng.gen_range(20..400);
        self.schedule(next, Event::Txs);
    }

    /// After healing, with at most f faulty, every honest node must commit
    /// past the height reached when the network healed.
    fn check_liveness(&mut self, heal_height: cairn_ledger::Height) {
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(core) = &n.core {
                self.stats.max_round = self.stats.max_round.max(core.round().0);
            }
            if !n.is_honest() {
                continue;
            }
            let h = n.tip().0.header.height;
            if h <= heal_height {
                let state = n.core.as_ref().map(|c| {
                    let s = c.safety_data();
                    format!(
                        "round {}, high QC {}, last voted {}, timed out {}, txs {:?}",
                        c.round(),
                        s.high_qc.round,
                        s.last_voted_round,
                        s.highest_timeout_round(),
                        n.app.signaled
                    )
                });
                self.checker.violations.push(format!(
                    "liveness: node {i} committed height {h} after healing, not above {heal_height} \
                     ({state:?})"
                ));
            }
        }
    }

    /// Idle rule: with no new transactions the chain stops proposing and
    /// timing out; one new transaction restarts it within a round or two.
    fn check_idle(&mut self, end: u64) {
        self.txs_on = false;
        self.run_until(end + 2_000);
        let (proposals, timeouts) = (self.stats.proposals, self.stats.timeouts);
        self.run_until(end + 4_000);
        if self.stats.proposals != proposals || self.stats.timeouts != timeouts {
            self.checker.violations.push(format!(
                "idle rule: {} proposals and {} timeouts while idle",
                self.stats.proposals - proposals,
                self.stats.timeouts - timeouts
            ));
            return;
        }
        let before = self.checker.max_committed();
        self.txs_on = true;
        self.make_txs();
        self.txs_on = false;
        self.run_until(end + 4_000 + 4 * BASE_TIMEOUT_MS);
        if self.stats.proposals == proposals || self.checker.max_committed() <= before {
            self.checker.violations.push(format!(
                "idle rule: no proposal or commit within {} ms of a new transaction",
                4 * BASE_TIMEOUT_MS
            ));
        }
    }
}

fn brief_input(i: &Input) -> String {
    match i {
        Input::Message(m) => format!("msg {}", brief_msg(m)),
        Input::Timer { round } => format!("timer r{round}"),
        Input::Payload(b) => format!("payload r{}", b.header.round),
        Input::BlockValidated { valid, .. } => format!("validated {valid}"),
        Input::FetchedBlock(b) => format!("fetched h{}", b.header.height),
        Input::TxsAvailable(t) => format!("txs {t}"),
        Input::Start => "start".into(),
    }
}

fn brief_msg(m: &Message) -> String {
    match m {
        Message::Proposal(p) => format!(
            "proposal r{} h{} qc{} tc{:?}",
            p.block.header.round,
            p.block.header.height,
            p.block.header.justify.round,
            p.block.header.timeout_cert.as_ref().map(|t| t.round.0)
        ),
        Message::Vote(v) => format!("vote r{} by {}", v.round, v.signer),
        Message::Timeout(t) => format!(
            "timeout r{} by {} hqc{}",
            t.round, t.signer, t.high_qc.round
        ),
        Message::TimeoutCertificate(tc) => format!("tc r{}", tc.round),
    }
}

fn brief_output(o: &Output) -> String {
    match o {
        Output::Persist(_) => "persist".into(),
        Output::Broadcast(m) => format!("bcast {}", brief_msg(m)),
        Output::SendVote { to, vote } => format!("vote r{} to {to}", vote.round),
        Output::Send { to, message } => format!("send {} to {to}", brief_msg(message)),
        Output::ScheduleTimeout { round, after_ms } => format!("timer r{round} {after_ms}ms"),
        Output::RequestPayload(r) => format!("request r{}", r.round),
        Output::ValidateBlock(_) => "validate".into(),
        Output::Commit { block, .. } => format!("commit h{}", block.header.height),
        Output::FetchBlock { from, .. } => format!("fetch from {from}"),
        Output::Equivocation(_) => "equivocation".into(),
        Output::Rejected(e) => format!("rejected ({e})"),
    }
}
