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
mod io;
mod liveness;
pub mod network;
mod node;
mod observe;
pub mod rules;
pub mod scenario;
mod trace;
pub mod twins;

use std::collections::BTreeMap;

use cairn_consensus::{Config, Consensus, Input, SafetyData};
use cairn_ledger::{
    Block, BlockHeader, ChainId, Committee, Hash, QuorumCertificate, Round, SecretKey, Validator,
    ValidatorSet,
};
use cairn_ledger::{Decode, Encode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::adversary::{Adversary, ByzState};
use app::App;
use invariants::Checker;
use network::{Network, NodeId, Packet};
use node::{Role, SimNode};
pub use scenario::{Params, Scenario};

/// Round timeout of simulated validators.
const BASE_TIMEOUT_MS: u64 = 200;
/// Events one run may take; far above a normal run (~10^4-10^5), so only a
/// message storm (an amplification bug) reaches it.
const MAX_EVENTS: u64 = 2_000_000;

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
    /// Rounds a Twins schedule partitioned (see [`twins`]).
    pub scheduled_rounds: u64,
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
    net: Network,
    checker: Checker,
    tweak: Option<Tweak>,
    accounts: Vec<(SecretKey, u64)>,
    txs_on: bool,
    stats: Stats,
    twins: Option<twins::Schedule>,
}

/// Runs one seed of a scenario; `tweak` adjusts every core's config.
pub fn run(seed: u64, scenario: Scenario, tweak: Option<Tweak>) -> Result<Stats, Failure> {
    // Every simulated validator checks the same signatures in this thread:
    // remember the answers (see `cairn_ledger::crypto::memo`).
    cairn_ledger::crypto::memo::start();
    let mut sim = Sim::new(seed, scenario, tweak);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.run()));
    cairn_ledger::crypto::memo::stop();
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
        let is_byz: Vec<bool> = roles.iter().map(Option::is_some).collect();
        let (powers, _) = crate::power::draw(&mut rng, &is_byz, params.unequal_power);
        let validators = ValidatorSet::new(
            keys.iter()
                .zip(powers)
                .map(|(k, power)| Validator {
                    address: k.address(),
                    power,
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
        let twins = twins::pick_twins(&mut rng, &params, &roles);
        let mut honest = vec![true; params.validators];
        let mut nodes = Vec::new();
        for (v, (key, role)) in keys.iter().zip(roles).enumerate() {
            honest[v] = role.is_none() && !twins.contains(&v);
            let role = match role {
                Some(b) => Role::Byzantine(Some(Box::new(Adversary::new(
                    b,
                    v as u16,
                    key.clone(),
                    committee.clone(),
                    genesis.hash(),
                )))),
                None if twins.contains(&v) => Role::Twin,
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
        for &t in &twins {
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
        let twins = params
            .twins_rounds
            .map(|t| twins::Schedule::new(seed, t, nodes.len(), &mut rng));
        Sim {
            net: Network::new(params.chaos.clone()),
            params,
            rng,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            committee,
            checker,
            tweak,
            accounts,
            txs_on: true,
            stats: Stats::default(),
            twins,
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
        if let Role::Byzantine(Some(b)) = &role {
            app.lie_about_state = b.s.lie_about_state;
        }
        let mut node = SimNode {
            validator: v,
            key,
            role,
            core: None,
            incarnation: 0,
            timer_gen: 0,
            persisted_bytes: SafetyData::genesis(genesis.hash()).to_bytes(),
            persisted: SafetyData::genesis(genesis.hash()),
            committed: Vec::new(),
            by_hash: BTreeMap::new(),
            pending_blocks: BTreeMap::new(),
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
            self.twins_tick();
            if self.stats.events > MAX_EVENTS {
                self.checker.violations.push(format!(
                    "more than {MAX_EVENTS} events by t={} ms: a message storm",
                    self.now
                ));
            }
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
        // Restarts read the safety data back from its bytes, as from a disk.
        let persisted = SafetyData::from_bytes(&n.persisted_bytes)
            .unwrap_or_else(|e| panic!("node {i}'s persisted safety data does not decode: {e}"));
        let core = if tip.header.height.0 == 0 && persisted == SafetyData::genesis(tip.hash()) {
            Consensus::new(config, tip)
        } else {
            let pending = n.pending_blocks.values().cloned().collect();
            // The headers below the tip, for leader election (as the node
            // reads its store).
            let history: Vec<BlockHeader> = n.committed[..n.committed.len() - 1]
                .iter()
                .rev()
                .take(cairn_consensus::leader::WINDOW)
                .map(|(b, _)| b.header.clone())
                .collect();
            Consensus::restore(config, persisted, tip, cert, pending)
                .with_committed_history(&history)
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
}
