//! One simulated validator: the production driver, mempool, block checks,
//! block sync and RocksDB store, wired as `cairn start` wires them, but with
//! a simulated network link and environment. A crash aborts every task the
//! node spawned (mid-output if it lands there) and drops its store; a restart
//! reopens the same data directory, as a process killed with SIGKILL and
//! started again would.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use cairn_consensus::Config as ConsensusConfig;
use cairn_driver::app::App;
use cairn_driver::env::Env;
use cairn_driver::metrics::Metrics;
use cairn_driver::{CommittedBlock, Driver, DriverParts, NodeStatus};
use cairn_genesis::{Genesis, GenesisState};
use cairn_ledger::store::Store;
use cairn_ledger::SecretKey;
use cairn_mempool::{Mempool, MempoolConfig};
use cairn_network::{PeerId, SimLink, DEFAULT_MAX_MESSAGE_BYTES};

use tokio::sync::{broadcast, mpsc, watch};

use super::byzantine::{self, ByzantineRef};
use super::net::{Net, REQUEST_TIMEOUT};
use super::observe::{self, Observer};

/// What every node of a run shares.
#[derive(Debug)]
pub struct Shared {
    /// The genesis file.
    pub genesis: Genesis,
    /// Its state.
    pub state: GenesisState,
    /// The run's seed.
    pub seed: u64,
    /// The network.
    pub net: Net,
    /// The checks.
    pub observer: Arc<Observer>,
    /// When the run started (virtual), and the wall clock then.
    pub start: tokio::time::Instant,
    /// Round timeout of the validators.
    pub round_timeout_ms: u64,
    /// The bugs planted in every node (a planted-bug hunt), or none.
    pub planted: super::Plant,
}

/// A running incarnation.
#[derive(Debug)]
pub struct Up {
    env: Arc<Env>,
    /// Its store.
    pub store: Arc<Store>,
    /// Its mempool.
    pub mempool: Arc<Mempool>,
    /// The driver's published status (round, leaders), which the RPC
    /// server reads in production; the Twins scheduler reads it here.
    pub status: watch::Receiver<NodeStatus>,
}

/// A validator of the simulation.
#[derive(Debug)]
pub struct SimNode {
    /// Node index: the validator's below the validator count, a twin's after.
    pub index: usize,
    /// Validator index (of the key it holds): the node index, but for a
    /// twin, the index of the validator it is the twin of.
    pub validator: usize,
    /// One of the two nodes of a twin pair (both hold one key).
    pub twin: bool,
    key: SecretKey,
    /// Its libp2p identity.
    pub peer: PeerId,
    dir: PathBuf,
    /// The running incarnation, if up.
    pub up: Option<Up>,
    /// Restarts so far.
    pub restarts: u64,
    /// The last incarnation's store, to wait until it is closed.
    last_store: Option<Weak<Store>>,
    /// Set for a Byzantine validator: the adversary between its driver and
    /// the network.
    pub byzantine: Option<ByzantineRef>,
}

impl SimNode {
    /// Node `index`, validator `validator`, with its data in `dir` (not started).
    pub fn new(
        index: usize,
        validator: usize,
        key: SecretKey,
        peer: PeerId,
        dir: PathBuf,
    ) -> SimNode {
        SimNode {
            index,
            validator,
            twin: false,
            key,
            peer,
            dir,
            up: None,
            restarts: 0,
            last_store: None,
            byzantine: None,
        }
    }

    /// Whether the checks hold this node to the protocol's rules: not a
    /// Byzantine node, nor a twin (a pair equivocates by construction).
    pub fn held_to_rules(&self) -> bool {
        self.byzantine.is_none() && !self.twin
    }

    /// Starts the node (first start or restart after a crash); its tasks
    /// log under a `node` span.
    pub async fn start(&mut self, sh: &Shared) {
        if self.up.is_some() {
            return;
        }
        let span = tracing::info_span!("node", i = self.index);
        let _entered = span.enter();
        self.wait_store_closed().await;
        let epoch_ms = sh.genesis.genesis_time.unix_ms() + sh.start.elapsed().as_millis() as u64;
        let env_seed = sh.seed ^ ((self.index as u64) << 32) ^ self.restarts;
        let env = Arc::new(Env::simulated(env_seed, epoch_ms));
        let store = Arc::new(
            Store::open(&self.dir)
                .unwrap_or_else(|e| panic!("node {}: opening its store: {e}", self.index)),
        );
        store
            .init_genesis(&sh.state.block, &sh.state.accounts)
            .unwrap_or_else(|e| panic!("node {}: genesis: {e}", self.index));
        match store.tip() {
            Ok(Some(tip)) => sh.observer.started(self.index, tip.height, tip.hash),
            other => panic!("node {}: no tip after genesis: {other:?}", self.index),
        }
        let mempool = Arc::new(Mempool::with_env(
            mempool_config(),
            sh.genesis.chain_id.clone(),
            env.clone(),
        ));
        let (net, mut link) = SimLink::new(self.peer, REQUEST_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES);
        let (events_tx, events_rx) = mpsc::channel(4096);
        let events_tx = match &self.byzantine {
            None => events_tx,
            Some(byz) => {
                byz.lock().attach(&store);
                let (tx, rx) = mpsc::channel(4096);
                env.spawn(byzantine::intercept(
                    byz.clone(),
                    env.clone(),
                    rx,
                    events_tx,
                ));
                tx
            }
        };
        sh.net
            .attach(self.index, events_tx, link.peers(), store.clone());
        let (status_tx, status_rx) = watch::channel(NodeStatus::default());
        let (committed_tx, mut committed_rx) = broadcast::channel::<CommittedBlock>(4096);
        let parts = DriverParts {
            consensus: self.consensus_config(sh),
            store: store.clone(),
            app: App::new(
                store.clone(),
                sh.genesis.consensus.clone(),
                sh.genesis.chain_id.clone(),
            ),
            mempool: mempool.clone(),
            net,
            net_events: events_rx,
            metrics: Metrics::new(),
            status: status_tx,
            committed: committed_tx,
            env: env.clone(),
            planted: sh.planted.node,
        };
        let (_shutdown_tx, shutdown_rx) = watch::channel(false);
        let index = self.index;
        let observer = sh.observer.clone();
        env.spawn(async move {
            let _keep_open = _shutdown_tx;
            if let Err(e) = Driver::run(parts, shutdown_rx).await {
                observer.driver_stopped(index, format!("{e:#}"));
            }
        });
        let net_handle = sh.net.clone();
        let byz = self.byzantine.clone();
        env.spawn(async move {
            while let Some(cmd) = link.recv().await {
                let cmd = match &byz {
                    Some(b) => b.lock().outgoing(cmd),
                    None => Some(cmd),
                };
                if let Some(cmd) = cmd {
                    net_handle.handle(index, cmd);
                }
            }
        });
        let observer = sh.observer.clone();
        let commits_store = store.clone();
        env.spawn(async move {
            loop {
                match committed_rx.recv().await {
                    Ok(c) => observer.committed(index, &c, observe::durable(&commits_store)),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        observer.violation(format!("node {index}: commit observer lagged by {n}"))
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        self.last_store = Some(Arc::downgrade(&store));
        self.up = Some(Up {
            env,
            store,
            mempool,
            status: status_rx,
        });
    }

    /// Makes every later write of the running store fail (a disk gone bad).
    pub fn fail_disk(&self) {
        if let Some(up) = &self.up {
            up.store.fail_writes();
        }
    }

    /// Where its store lives.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Kills the node: every task it spawned stops where it is.
    pub fn crash(&mut self, sh: &Shared) {
        if let Some(up) = self.up.take() {
            up.env.abort_all();
            sh.net.detach(self.index);
            sh.observer.restarted(self.index);
            self.restarts += 1;
        }
    }

    /// Waits until the previous incarnation's tasks are gone and its store
    /// closed (RocksDB allows one open handle per directory).
    async fn wait_store_closed(&mut self) {
        let Some(weak) = self.last_store.take() else {
            return;
        };
        for _ in 0..1_000 {
            if weak.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!(
            "node {}: its store is still open 1 s after a crash (a task outlives the node)",
            self.index
        );
    }

    fn consensus_config(&self, sh: &Shared) -> ConsensusConfig {
        let mut c = ConsensusConfig::new(sh.state.committee.clone(), Some(self.key.clone()));
        c.base_timeout_ms = sh.round_timeout_ms;
        c.max_timeout_ms = sh.genesis.consensus.max_round_timeout_ms;
        if let Some(tweak) = sh.planted.consensus {
            tweak(&mut c);
        }
        c
    }
}

/// Production limits, scaled down where they only cost memory here.
fn mempool_config() -> MempoolConfig {
    MempoolConfig {
        max_txs: 20_000,
        max_bytes: 16 << 20,
        verified_cache: 20_000,
        ..MempoolConfig::default()
    }
}
