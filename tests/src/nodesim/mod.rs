//! The deterministic simulation of the production node: N validators, each
//! the real consensus driver, mempool, block checks, block sync and RocksDB
//! store of `cairn start`, in one process on a single-threaded tokio runtime
//! with a paused clock (virtual time, advanced only when every task waits).
//! The network (`net`) is simulated with seeded delays, loss, duplication and
//! partitions; nodes crash (every task aborted, the store reopened from disk)
//! and restart; clients (`load`) submit transfers and resubmit what does not
//! commit. Everything random comes from the seed, so a seed replays exactly.
//! In the Byzantine scenarios some validators run the shared adversary
//! (`crate::adversary`) between their driver and the network (`byzantine`);
//! the checks hold the honest nodes only. In the Twins scenarios some
//! validators run as two nodes with one key and one peer id, both honest
//! drivers (node `validators + k` is the twin of the `k`-th twinned
//! validator); the network routes by node (`net`), a scheduler partitions it
//! round by round (`twins`), and the checks hold neither node of a pair.
//!
//! Tokio's paused clock on a current-thread runtime was chosen over turmoil
//! and madsim (docs/DECISIONS.md): the node's only outside interfaces are its
//! network handle, its store, its clock and its task spawning, all narrow
//! enough to simulate directly, while madsim would rebuild every dependency
//! against its own runtime and turmoil simulates sockets the node does not
//! use (libp2p's transport is not what is under test here).

mod byzantine;
mod check;
mod load;
mod net;
mod node;
mod observe;
pub mod scenario;
mod twins;

use std::sync::Arc;
use std::time::Duration;

use crate::adversary::{Adversary, ByzState};
pub use cairn_driver::{Planted, PlantedNodeBug};
use cairn_genesis::{build_genesis_state, testnet_deterministic, GenesisTime};
use cairn_ledger::{Amount, ChainId};
use cairn_network::peer_id_of;
use parking_lot::Mutex;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use byzantine::Byzantine;
use load::{Endpoints, Load};
use net::{CrashAfterSend, IsolateLeaders, Net};
use node::{Shared, SimNode};
use observe::Observer;
use scenario::Fault;
pub use scenario::{Scenario, Timing};

/// Transfers offered per second.
const OFFERED_TPS: u64 = 100;
/// Funded client accounts.
const ACCOUNTS: usize = 16;

/// Figures from a passing run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Highest committed height.
    pub height: u64,
    /// Transfers offered (all committed).
    pub transfers: usize,
    /// Median submit-to-commit latency, virtual ms.
    pub p50_ms: u64,
    /// 99th percentile latency, virtual ms.
    pub p99_ms: u64,
    /// Resubmissions clients needed.
    pub resubmissions: u64,
    /// Messages the Byzantine validators' adversaries sent.
    pub adversary_messages: u64,
    /// Crashes aimed right after a signed send (`Scenario::crash_after_send`).
    pub aimed_crashes: u64,
    /// Honest leaders cut off as they proposed (`Scenario::isolate_leaders`).
    pub isolated_leaders: u64,
    /// Digest of the committed chain (`Observer::chain_digest`): a seed
    /// replays exactly when two runs agree on it.
    pub chain: cairn_ledger::Hash,
    /// Votes and proposals of twin pairs that conflict with one the pair
    /// signed before in the same round (see `observe`).
    pub equivocations: u64,
}

/// A failed run: replay it with `NODESIM_SEED=<seed> NODESIM_SCENARIO=<scenario>`.
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
            "node simulation failed: replay with NODESIM_SEED={} NODESIM_SCENARIO={:?}",
            self.seed, self.scenario
        )?;
        for v in self.violations.iter().take(12) {
            writeln!(f, "  - {v}")?;
        }
        Ok(())
    }
}

/// `NODESIM_LOG=<filter>` (e.g. `info`, `cairn_driver=debug,cairn_mempool=debug`) prints the
/// nodes' logs with virtual timestamps, each line under its node's span.
fn init_logging() {
    let Ok(filter) = std::env::var("NODESIM_LOG") else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_timer(VirtualTime)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Log timestamps in virtual milliseconds since the runtime's clock started.
struct VirtualTime;

impl tracing_subscriber::fmt::time::FormatTime for VirtualTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        thread_local!(static START: tokio::time::Instant = tokio::time::Instant::now());
        let ms = START.with(|s| s.elapsed().as_millis());
        write!(w, "{ms:>7}ms")
    }
}

/// A consensus-configuration change: how a hunt plants a consensus bug
/// (`cairn_consensus::Config::plant_bug` exists only with that crate's
/// `planted-bugs` feature, which only this crate's tests enable).
pub type Tweak = fn(&mut cairn_consensus::Config);

/// The bugs planted in every node of a run: none in a campaign, one in a
/// planted-bug hunt.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plant {
    /// A node-level bug (`cairn_driver::PlantedNodeBug`).
    pub node: Planted,
    /// A consensus bug (`cairn_consensus::PlantedBug`), planted in every
    /// driver's consensus core.
    pub consensus: Option<Tweak>,
}

impl Plant {
    /// No bug: what a campaign runs.
    pub fn none() -> Plant {
        Plant::default()
    }

    /// A node-level bug.
    pub fn node(planted: Planted) -> Plant {
        Plant {
            node: planted,
            consensus: None,
        }
    }

    /// A consensus bug.
    pub fn consensus(tweak: Tweak) -> Plant {
        Plant {
            node: Planted::none(),
            consensus: Some(tweak),
        }
    }
}

/// Runs one seed of a scenario.
pub fn run(seed: u64, scenario: Scenario) -> Result<Stats, Failure> {
    run_planted(seed, scenario, Plant::none())
}

/// Runs one seed of a scenario with `planted` in every node (a planted-bug
/// hunt: see `cairn_driver::PlantedNodeBug` and `cairn_consensus::PlantedBug`).
pub fn run_planted(seed: u64, scenario: Scenario, planted: Plant) -> Result<Stats, Failure> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("building the simulation runtime: {e}"));
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::Builder::new()
            .prefix("cairn-nodesim-")
            .tempdir_in("/dev/shm")
    } else {
        tempfile::Builder::new().prefix("cairn-nodesim-").tempdir()
    }
    .unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    // Every simulated node checks the same signatures on this thread:
    // remember the answers (`cairn_ledger::crypto::memo`; a unit test shows
    // it changes no answer).
    cairn_ledger::crypto::memo::start();
    let outcome = runtime.block_on(World::run(seed, scenario, planted, base.path().to_owned()));
    cairn_ledger::crypto::memo::stop();
    // Stop every task (and with them the stores) before the directory goes.
    drop(runtime);
    outcome.map_err(|violations| Failure {
        seed,
        scenario,
        violations,
    })
}

/// One run's nodes and shared state.
struct World {
    sh: Shared,
    nodes: Vec<SimNode>,
    endpoints: Endpoints,
    rng: ChaCha8Rng,
}

impl World {
    async fn run(
        seed: u64,
        scenario: Scenario,
        planted: Plant,
        dir: std::path::PathBuf,
    ) -> Result<Stats, Vec<String>> {
        let mut w = World::new(seed, scenario, planted, dir);
        let round_timeout = Duration::from_millis(w.sh.round_timeout_ms);
        // Byzantine validators may stall the chain this long on calm links:
        // the run goes on long enough for the load to drain after it.
        let stall = check::byzantine_stall(scenario.faulty(), round_timeout);
        let mut timing = Timing::standard();
        timing.end_ms += stall.as_millis() as u64;
        let plan = scenario.plan(&mut w.rng, &timing);
        if scenario.isolate_leaders() > 0.0 {
            // Cut off for three round timeouts: the others time out of the
            // round and the next, without the QC the proposal carried.
            w.sh.net.isolate_leaders(Some(IsolateLeaders {
                chance: scenario.isolate_leaders(),
                length: 3 * round_timeout,
            }));
        }
        for i in 0..w.nodes.len() {
            w.nodes[i].start(&w.sh).await;
            w.publish_endpoint(i);
        }
        let load = Arc::new(Mutex::new(Load::new(
            w.sh.genesis.chain_id.clone(),
            w.account_keys(),
            ChaCha8Rng::seed_from_u64(seed ^ 0x10ad),
        )));
        let start = w.sh.start;
        let at = |ms: u64| start + Duration::from_millis(ms);
        let clients = tokio::spawn(load::run(
            load.clone(),
            w.endpoints.clone(),
            w.sh.observer.clone(),
            Duration::from_millis(1_000 / OFFERED_TPS),
            at(timing.load_until_ms),
            at(timing.end_ms),
        ));
        if let Some(knobs) = scenario.twins_rounds() {
            // Its faults are the schedule's: the plan only heals at the end.
            debug_assert!(plan.iter().all(|(_, f)| matches!(f, Fault::HealAll)));
            let rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a1e_5c4e);
            twins::Schedule::new(seed, knobs, w.nodes.len(), rng)
                .run(
                    &w.nodes,
                    &w.sh.net,
                    &w.sh.state.committee.validators,
                    round_timeout,
                    at(timing.chaos_ms),
                )
                .await;
        }
        let (crash_tx, mut crash_rx) = tokio::sync::mpsc::channel(4);
        if scenario.crash_after_send() > 0.0 {
            w.sh.net.crash_after_send(Some(CrashAfterSend {
                chance: scenario.crash_after_send(),
                crash: crash_tx,
            }));
        }
        let mut plan = std::collections::VecDeque::from(plan);
        let mut isolated = None;
        let mut disk_victim = None;
        let mut aimed_crashes = 0;
        while let Some(&(t, _)) = plan.front() {
            tokio::select! {
                // Biased: tokio's default picks a branch at random, outside the seed.
                biased;
                Some(v) = crash_rx.recv() => {
                    let now = start.elapsed().as_millis() as u64;
                    if now < timing.chaos_ms && w.nodes[v].up.is_some() {
                        w.apply(scenario, Fault::Crash(v)).await;
                        aimed_crashes += 1;
                        let back = now + w.rng.gen_range(20..300);
                        let i = plan.partition_point(|(t, _)| *t <= back);
                        plan.insert(i, (back, Fault::Restart(v)));
                    }
                }
                () = tokio::time::sleep_until(at(t)) => {
                    let Some((t, fault)) = plan.pop_front() else { break };
                    match fault {
                        Fault::Isolate(v) => isolated = Some((v, t)),
                        Fault::FailDisk(v) => disk_victim = Some(v),
                        _ => {}
                    }
                    w.apply(scenario, fault).await;
                }
            }
        }
        let _ = clients.await;
        let isolation = isolated.map(|(v, from)| (v, at(from), at(timing.chaos_ms)));
        let l = load.lock();
        let expect_stop = match scenario {
            Scenario::DiskFails4 => disk_victim,
            _ => None,
        };
        check::finish(
            &w.sh,
            &w.nodes,
            &l,
            isolation,
            at(timing.chaos_ms),
            check::healed_latency(scenario.faulty(), round_timeout),
            expect_stop,
        )
        .map(|stats| Stats {
            aimed_crashes,
            isolated_leaders: w.sh.net.isolated_leaders(),
            ..stats
        })
    }

    fn new(seed: u64, scenario: Scenario, planted: Plant, dir: std::path::PathBuf) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = scenario.validators();
        let chain = ChainId::new("cairn-nodesim").unwrap_or_else(|e| panic!("{e}"));
        let (mut genesis, validator_keys, _) = testnet_deterministic(
            chain.clone(),
            n,
            ACCOUNTS,
            Amount(1_000_000_000),
            seed,
            GenesisTime::from_unix_ms(1_800_000_000_000),
        )
        .unwrap_or_else(|e| panic!("genesis: {e}"));
        let mut byz_rng = ChaCha8Rng::seed_from_u64(seed ^ 0xb12a_0714);
        let byzantine = pick_byzantine(&mut byz_rng, n, scenario.byzantine());
        if scenario.unequal_power() {
            let is_byz: Vec<bool> = (0..n).map(|i| byzantine.contains(&i)).collect();
            let mut power_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0090_9e12);
            let (powers, _) = crate::power::draw(&mut power_rng, &is_byz, true);
            for (v, p) in genesis.validators.iter_mut().zip(powers) {
                v.power = p;
            }
        }
        let state = build_genesis_state(&genesis).unwrap_or_else(|e| panic!("genesis: {e}"));
        for (i, k) in validator_keys.iter().enumerate() {
            let at = state.committee.validators.get(i as u16).map(|v| v.address);
            assert_eq!(
                at,
                Some(k.address()),
                "validator {i} is not committee member {i}"
            );
        }
        let peers: Vec<_> = validator_keys
            .iter()
            .map(|k| peer_id_of(&k.address()).unwrap_or_else(|| panic!("a peer id")))
            .collect();
        let twinned = twins::pick(seed, n, scenario.twin_pairs(), &byzantine);
        // Node i holds validator `validator_of[i]`'s key: a twin's after the n.
        let validator_of: Vec<usize> = (0..n).chain(twinned.iter().copied()).collect();
        let is_twin = |v: usize| twinned.contains(&v);
        let observer = Arc::new(Observer::new(
            validator_of
                .iter()
                .map(|&v| !byzantine.contains(&v) && !is_twin(v))
                .collect(),
            validator_of
                .iter()
                .map(|&v| is_twin(v).then_some(v as u16))
                .collect(),
            state.committee.clone(),
        ));
        let net_rng = ChaCha8Rng::seed_from_u64(rand::Rng::gen(&mut rng));
        let net = Net::new(
            chain,
            validator_of.iter().map(|&v| peers[v]).collect(),
            scenario.links(),
            net_rng,
            observer.clone(),
        );
        let mut nodes: Vec<SimNode> = validator_of
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let mut node = SimNode::new(
                    i,
                    v,
                    validator_keys[v].secret().clone(),
                    peers[v],
                    dir.join(format!("node{i}")),
                );
                node.twin = is_twin(v);
                node
            })
            .collect();
        let start = tokio::time::Instant::now();
        for &i in &byzantine {
            let key = validator_keys[i].secret().clone();
            let adversary = Adversary::new(
                ByzState::random(&mut byz_rng, scenario.forker()),
                i as u16,
                key,
                state.committee.clone(),
                state.block.hash(),
            );
            let b = Byzantine::new(
                adversary,
                i,
                net.clone(),
                peers.clone(),
                state.committee.clone(),
                ChaCha8Rng::seed_from_u64(rand::Rng::gen(&mut byz_rng)),
                (genesis.genesis_time.unix_ms(), start),
            );
            nodes[i].byzantine = Some(Arc::new(Mutex::new(b)));
        }
        let sh = Shared {
            round_timeout_ms: genesis.consensus.round_timeout_ms,
            genesis,
            state,
            seed,
            net,
            observer,
            start,
            planted,
        };
        World {
            sh,
            nodes,
            endpoints: Arc::new(Mutex::new(vec![None; n])),
            rng,
        }
    }

    fn account_keys(&self) -> Vec<cairn_ledger::SecretKey> {
        (0..ACCOUNTS)
            .map(|i| {
                cairn_genesis::KeyFile::derive(self.sh.seed, &format!("account-{i}"))
                    .secret()
                    .clone()
            })
            .collect()
    }

    /// Makes node `i`'s mempool reachable to clients while it is up. A
    /// Byzantine node never is: its acknowledgement would be worthless (it
    /// could drop what it admits), so clients submit to honest nodes only;
    /// nor is either node of a twin pair (a client knows one node per
    /// validator, and the checks hold twins to nothing).
    fn publish_endpoint(&self, i: usize) {
        let mut endpoints = self.endpoints.lock();
        let Some(slot) = endpoints.get_mut(i) else {
            return; // a twin's second node: no client knows it
        };
        *slot = self.nodes[i]
            .up
            .as_ref()
            .filter(|_| self.nodes[i].held_to_rules())
            .map(|u| (u.mempool.clone(), u.store.clone()));
    }

    async fn apply(&mut self, scenario: Scenario, fault: Fault) {
        let n = self.nodes.len();
        match fault {
            Fault::Partition(groups) => self.sh.net.partition(groups),
            Fault::Isolate(v) => self
                .sh
                .net
                .partition((0..n).map(|i| u8::from(i == v)).collect()),
            Fault::Heal => self.sh.net.heal(),
            Fault::Crash(v) => {
                self.nodes[v].crash(&self.sh);
                self.publish_endpoint(v);
            }
            Fault::Restart(v) => {
                self.nodes[v].start(&self.sh).await;
                self.publish_endpoint(v);
            }
            Fault::FailDisk(v) => self.nodes[v].fail_disk(),
            Fault::HealAll => {
                self.sh.net.isolate_leaders(None);
                self.sh.net.crash_after_send(None);
                self.sh.net.heal();
                self.sh.net.set_links(scenario::calm());
                let _ = scenario;
                for v in 0..n {
                    self.nodes[v].start(&self.sh).await;
                    self.publish_endpoint(v);
                }
            }
        }
    }
}

/// `count` distinct Byzantine validators of `n`, never validator 0 (so a
/// replayed seed's first leader is honest).
fn pick_byzantine(rng: &mut ChaCha8Rng, n: usize, count: usize) -> Vec<usize> {
    let mut picked = Vec::new();
    while picked.len() < count {
        let v = rng.gen_range(1..n);
        if !picked.contains(&v) {
            picked.push(v);
        }
    }
    picked.sort_unstable();
    picked
}
