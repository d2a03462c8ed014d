//! Running a node: load the home directory, open the store, start the
//! network, mempool, RPC server, metrics and the consensus driver, and stop
//! them cleanly on SIGINT or SIGTERM.

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use cairn_genesis::{build_genesis_state, Genesis, GenesisState, KeyFile};
use cairn_ledger::store::Store;
use jsonrpsee::server::ServerHandle;
use tokio::sync::{broadcast, watch};

use crate::config::{Config, Home};
use crate::metrics::MetricsServer;
use crate::rpc::RpcContext;
use cairn_driver::metrics::Metrics;
use cairn_driver::{app, env, NodeStatus};
use cairn_mempool::Mempool;
use cairn_network::{socket_multiaddr, Network, NetworkConfig, NetworkHandle};

/// Runs the node in `home` on a new tokio runtime until SIGINT or SIGTERM.
pub fn start_blocking(home: &Path) -> anyhow::Result<()> {
    let home = Home(home.to_owned());
    let config = Config::load(&home.config())?;
    crate::logging::init(&config.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cairn")
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(run(home, config, shutdown_signal()));
    match &result {
        // The driver logged it when it stopped.
        Err(e) if e.downcast_ref::<cairn_driver::DriverError>().is_some() => {}
        Err(e) => tracing::error!(error = %format!("{e:#}"), "node stopped with an error"),
        Ok(()) => {}
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
    }
}

/// Runs the node until `stop` resolves.
pub async fn run(
    home: Home,
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let genesis = Genesis::load(home.genesis())?;
    let state = build_genesis_state(&genesis)?;
    let key = KeyFile::read(home.validator_key()).with_context(|| {
        format!(
            "reading the validator key {}",
            home.validator_key().display()
        )
    })?;
    let store = open_store(&home, &state)?;
    let tip = store.tip()?.context("the store has no tip after genesis")?;
    tracing::info!(
        moniker = %config.moniker, chain = %genesis.chain_id, validator = %key.address(),
        height = %tip.height, "starting node"
    );

    let metrics = Metrics::new();
    let metrics_server = start_metrics(config.metrics.listen, &metrics).await?;
    let network = start_network(&config, &genesis, &key).await?;

    let env = Arc::new(env::Env::production());
    let mempool = Arc::new(Mempool::with_env(
        config.mempool.clone(),
        genesis.chain_id.clone(),
        env.clone(),
    ));
    let (status_tx, status_rx) = watch::channel(NodeStatus::default());
    let (committed_tx, _) = broadcast::channel(cairn_driver::COMMITTED_CAPACITY);
    let rpc_ctx = RpcContext {
        store: store.clone(),
        mempool: mempool.clone(),
        status: status_rx,
        genesis: Arc::new(genesis.clone()),
        committed: committed_tx.clone(),
    };
    let (rpc_addr, rpc_handle) = crate::rpc::start(config.rpc.clone(), rpc_ctx)
        .await
        .context("starting the RPC server")?;
    tracing::info!(addr = %rpc_addr, "JSON-RPC on http://{rpc_addr} and ws://{rpc_addr}");

    let parts = cairn_driver::DriverParts {
        consensus: consensus_config(&config, &genesis, &state, &key)?,
        store: store.clone(),
        app: app::App::new(
            store.clone(),
            genesis.consensus.clone(),
            genesis.chain_id.clone(),
        ),
        mempool,
        net: network.handle.clone(),
        net_events: network.events,
        metrics,
        status: status_tx,
        committed: committed_tx,
        env,
        planted: cairn_driver::Planted::none(),
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut driver = tokio::spawn(cairn_driver::Driver::run(parts, shutdown_rx));
    let outcome = tokio::select! {
        _ = stop => None,
        r = &mut driver => Some(r),
    };
    // Orderly stop: consensus first (no half-carried-out outputs), then RPC,
    // then the network, then metrics (scrapable until the end).
    let _ = shutdown_tx.send(true);
    let result = match outcome {
        Some(r) => r.context("consensus driver panicked")?,
        None => driver.await.context("consensus driver panicked")?,
    };
    stop_services(rpc_handle, network.handle, network.task, metrics_server).await;
    drop(store);
    tracing::info!("node stopped");
    result
}

/// Stops what serves the outside, after consensus: RPC, then the network,
/// then metrics (scrapable until the end).
async fn stop_services(
    rpc: ServerHandle,
    net: NetworkHandle,
    net_task: tokio::task::JoinHandle<()>,
    metrics: Option<MetricsServer>,
) {
    let _ = rpc.stop();
    rpc.stopped().await;
    net.shutdown().await;
    let _ = net_task.await;
    if let Some(server) = metrics {
        server.shutdown().await;
    }
}

/// Opens the store in the home's `data/` and writes the genesis into it if
/// it is new.
fn open_store(home: &Home, state: &GenesisState) -> anyhow::Result<Arc<Store>> {
    let store = Arc::new(
        Store::open(&home.data())
            .with_context(|| format!("opening the store in {}", home.data().display()))?,
    );
    store.init_genesis(&state.block, &state.accounts)?;
    Ok(store)
}

/// Serves `/metrics` on `listen`, if set.
async fn start_metrics(
    listen: Option<SocketAddr>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Option<MetricsServer>> {
    let Some(listen) = listen else {
        return Ok(None);
    };
    let server = crate::metrics::serve(listen, metrics.clone())
        .await
        .with_context(|| format!("metrics.listen {listen}"))?;
    tracing::info!(addr = %server.local_addr(), "serving Prometheus metrics at /metrics");
    Ok(Some(server))
}

/// Starts the peer-to-peer network on `[p2p]`, dialling its peers.
async fn start_network(
    config: &Config,
    genesis: &Genesis,
    key: &KeyFile,
) -> anyhow::Result<Network> {
    let mut net_config = NetworkConfig::new(
        genesis.chain_id.clone(),
        key.secret().clone(),
        config.p2p.listen,
    );
    net_config.bootstrap = config
        .p2p
        .peers
        .iter()
        .map(|a| socket_multiaddr(*a))
        .collect();
    net_config.max_message_bytes = config.p2p.max_message_bytes;
    Network::start(net_config)
        .await
        .context("starting the network")
}

/// The consensus configuration: the genesis timeouts unless `[consensus]`
/// overrides them, and no signing key if `key` is not a validator's.
fn consensus_config(
    config: &Config,
    genesis: &Genesis,
    state: &GenesisState,
    key: &KeyFile,
) -> anyhow::Result<cairn_consensus::Config> {
    let mut consensus =
        cairn_consensus::Config::new(state.committee.clone(), Some(key.secret().clone()));
    consensus.base_timeout_ms = config
        .consensus
        .round_timeout_ms
        .unwrap_or(genesis.consensus.round_timeout_ms);
    consensus.max_timeout_ms = config
        .consensus
        .max_round_timeout_ms
        .unwrap_or(genesis.consensus.max_round_timeout_ms);
    consensus
        .validate()
        .map_err(|e| anyhow::anyhow!("consensus configuration: {e}"))?;
    if state
        .committee
        .validators
        .index_of(&key.address())
        .is_none()
    {
        tracing::warn!(address = %key.address(), "this key is not a validator; following the chain without voting");
        consensus.key = None;
    }
    Ok(consensus)
}
