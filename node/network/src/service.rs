//! Starting the network: build the swarm, listen, subscribe, spawn the task.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::behaviour::{build_swarm, Behaviour};
use super::config::NetworkConfig;
use super::error::NetError;
use super::event::NetworkEvent;
use super::handle::{NetworkHandle, Shared};
use super::peers::{PeerBook, Redialer};
use super::task::Task;
use super::wire::{consensus_topic, txs_topic};

/// A running network: the handle to command it, the events for the node,
/// the addresses it listens on, and its task.
#[derive(Debug)]
pub struct Network {
    /// Commands (cloneable).
    pub handle: NetworkHandle,
    /// Events for the node; read it promptly (it is bounded).
    pub events: mpsc::Receiver<NetworkEvent>,
    /// The bound listen addresses (the real port when 0 was asked).
    pub listen_addrs: Vec<Multiaddr>,
    /// The network task; it ends after [`NetworkHandle::shutdown`] or when
    /// every handle is dropped.
    pub task: JoinHandle<()>,
}

impl Network {
    /// Validates `config`, listens, and spawns the network task on the
    /// current tokio runtime. Returns once the listener is bound.
    pub async fn start(config: NetworkConfig) -> Result<Network, NetError> {
        config.validate()?;
        let mut swarm = build_swarm(&config)?;
        let txs = txs_topic(&config.chain_id);
        let consensus = consensus_topic(&config.chain_id);
        for topic in [&txs, &consensus] {
            swarm
                .behaviour_mut()
                .gossipsub
                .subscribe(topic)
                .map_err(|e| NetError::Config {
                    field: "chain_id",
                    why: format!("cannot subscribe to {topic}: {e}"),
                })?;
        }
        let listen_addrs = listen(&mut swarm, config.listen).await?;
        let local_peer_id: PeerId = *swarm.local_peer_id();
        let shared = Arc::new(Shared::default());
        let (command_tx, command_rx) = mpsc::channel(config.command_capacity);
        let (event_tx, event_rx) = mpsc::channel(config.event_capacity);
        let handle = NetworkHandle {
            commands: command_tx,
            shared: shared.clone(),
            local_peer_id,
            request_timeout: config.request_timeout,
            max_message_bytes: config.max_message_bytes,
        };
        let task = Task {
            swarm,
            chain: config.chain_id.clone(),
            txs_topic: txs.hash(),
            consensus_topic: consensus.hash(),
            commands: command_rx,
            events: event_tx,
            shared,
            book: PeerBook::new(
                config.ban_threshold,
                config.score_recovery_per_sec,
                config.ban_duration,
            ),
            redial: Redialer::new(
                &config.bootstrap,
                local_peer_id,
                config.redial_initial,
                config.redial_max,
                Instant::now(),
            ),
            request_timeout: config.request_timeout,
            outbound: HashMap::new(),
            answers: FuturesUnordered::new(),
            decoding: FuturesUnordered::new(),
        };
        tracing::info!(peer = %local_peer_id, addrs = ?listen_addrs, "network started");
        Ok(Network {
            handle,
            events: event_rx,
            listen_addrs,
            task: tokio::spawn(task.run()),
        })
    }
}

/// Listens on `addr` and waits (at most 10 s) for the bound address.
async fn listen(
    swarm: &mut Swarm<Behaviour>,
    addr: SocketAddr,
) -> Result<Vec<Multiaddr>, NetError> {
    let listen_err = |why: String| NetError::Listen {
        addr: addr.to_string(),
        why,
    };
    // libp2p listens with SO_REUSEPORT (so dials can reuse the port), which
    // would let a second node share a taken port and split its inbound
    // connections. A plain bind first makes that a clear error instead.
    if addr.port() != 0 {
        std::net::TcpListener::bind(addr).map_err(|e| listen_err(e.to_string()))?;
    }
    swarm
        .listen_on(socket_multiaddr(addr))
        .map_err(|e| listen_err(e.to_string()))?;
    let wait = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => return Ok(vec![address]),
                SwarmEvent::ListenerError { error, .. } => return Err(error.to_string()),
                SwarmEvent::ListenerClosed { reason, .. } => {
                    return Err(format!("listener closed: {reason:?}"))
                }
                _ => {}
            }
        }
    });
    match wait.await {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(why)) => Err(listen_err(why)),
        Err(_) => Err(listen_err("no listen address after 10 s".into())),
    }
}

/// `/ip4/A/tcp/P` (or `/ip6/…`) for a socket address.
pub fn socket_multiaddr(addr: SocketAddr) -> Multiaddr {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) => Protocol::Ip4(v4),
        std::net::IpAddr::V6(v6) => Protocol::Ip6(v6),
    };
    Multiaddr::empty().with(ip).with(Protocol::Tcp(addr.port()))
}
