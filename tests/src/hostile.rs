//! A hostile libp2p peer: a real swarm that speaks a Cairn node's protocols
//! (gossipsub on the chain's topics, `/cairn/rr/1` requests) but sends
//! whatever bytes it is told to. The hostile-peer test drives one against a
//! real testnet; it runs on its own task and is commanded over channels, so
//! the test can mix blocking RPC calls with attacks.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_ledger::SecretKey;
use cairn_network::{keypair_of, RR_PROTOCOL};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};
use tokio::sync::{mpsc, oneshot};

/// Largest response the hostile peer reads.
const MAX_READ: u64 = 1 << 20;

/// Writes requests as given (the caller frames them, or does not) and reads
/// responses raw.
#[derive(Clone, Debug, Default)]
struct RawCodec;

#[async_trait]
impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut buf = Vec::new();
        io.take(MAX_READ).read_to_end(&mut buf).await?;
        Ok(buf)
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read_request(p, io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&r).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write_request(p, io, r).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    rr: request_response::Behaviour<RawCodec>,
}

/// What the hostile peer saw.
#[derive(Debug)]
pub enum Seen {
    /// A gossip message from the node.
    Gossip {
        /// Its topic.
        topic: gossipsub::TopicHash,
        /// Its bytes.
        data: Vec<u8>,
    },
}

enum Cmd {
    Publish(IdentTopic, Vec<u8>, oneshot::Sender<Result<(), String>>),
    Request(Vec<u8>, oneshot::Sender<Result<Vec<u8>, String>>),
    Dial(oneshot::Sender<Result<(), String>>),
    Stop,
}

/// A running hostile peer aimed at one node.
#[derive(Debug)]
pub struct HostilePeer {
    /// Its identity.
    pub peer_id: PeerId,
    cmds: mpsc::Sender<Cmd>,
    /// Gossip it received (bounded; the oldest beyond 1,024 are dropped).
    pub seen: mpsc::Receiver<Seen>,
    connected: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cmd::Publish(..) => "Publish",
            Cmd::Request(..) => "Request",
            Cmd::Dial(..) => "Dial",
            Cmd::Stop => "Stop",
        })
    }
}

impl HostilePeer {
    /// Starts a hostile peer with key `seed`, subscribed to `topics`, aimed
    /// at `victim` (`/ip4/…/tcp/…/p2p/<id>`); call [`HostilePeer::dial`].
    pub fn start(seed: [u8; 32], victim: Multiaddr, topics: &[IdentTopic]) -> HostilePeer {
        let key = keypair_of(&SecretKey::from_seed(seed));
        let peer_id = key.public().to_peer_id();
        // The node's settings, except that this peer may send messages far
        // above the node's limit (to be refused by it).
        let config = gossipsub::ConfigBuilder::default()
            .validation_mode(gossipsub::ValidationMode::Anonymous)
            .max_transmit_size(64 << 20)
            // Content-addressed like the node's (the default id of an
            // anonymous message is the same for every message).
            .message_id_fn(|m: &gossipsub::Message| {
                let mut bytes = m.topic.as_str().as_bytes().to_vec();
                bytes.extend_from_slice(&m.data);
                gossipsub::MessageId::from(cairn_ledger::Hash::digest(&bytes).0.to_vec())
            })
            .heartbeat_interval(Duration::from_millis(200))
            .build()
            .expect("gossipsub config");
        let mut gossipsub =
            gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, config)
                .expect("gossipsub");
        for t in topics {
            gossipsub.subscribe(t).expect("subscribe");
        }
        let rr = request_response::Behaviour::new(
            [(RR_PROTOCOL, request_response::ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(Duration::from_secs(5)),
        );
        let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("transport")
            .with_behaviour(|_| Behaviour { gossipsub, rr })
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let (cmds, cmd_rx) = mpsc::channel(64);
        let (seen_tx, seen) = mpsc::channel(1024);
        let connected = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(swarm, victim, cmd_rx, seen_tx, connected.clone()));
        HostilePeer {
            peer_id,
            cmds,
            seen,
            connected,
            task,
        }
    }

    /// Dials the victim; `Err` if the dial could not start.
    pub async fn dial(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Dial(tx)).await;
        rx.await
            .unwrap_or_else(|_| Err("hostile peer stopped".into()))
    }

    /// True while a connection to the victim is open.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Publishes `data` on `topic`; `Err` if gossipsub refused to send it
    /// (e.g. no subscribed peer yet, or the same bytes already sent).
    pub async fn publish(&self, topic: &IdentTopic, data: Vec<u8>) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Publish(topic.clone(), data, tx)).await;
        rx.await
            .unwrap_or_else(|_| Err("hostile peer stopped".into()))
    }

    /// Sends raw bytes as one request on `/cairn/rr/1`; the raw response,
    /// or why there was none (e.g. the victim closed the connection).
    pub async fn request(&self, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Request(bytes, tx)).await;
        rx.await
            .unwrap_or_else(|_| Err("hostile peer stopped".into()))
    }

    /// Stops the swarm and waits for its task.
    pub async fn stop(self) {
        let _ = self.cmds.send(Cmd::Stop).await;
        let _ = self.task.await;
    }

    async fn send(&self, cmd: Cmd) {
        // The task only ends on Stop; a closed channel means it panicked.
        self.cmds
            .send(cmd)
            .await
            .expect("the hostile peer's task is running");
    }
}

type Pending =
    std::collections::HashMap<OutboundRequestId, oneshot::Sender<Result<Vec<u8>, String>>>;

async fn run(
    mut swarm: Swarm<Behaviour>,
    victim: Multiaddr,
    mut cmds: mpsc::Receiver<Cmd>,
    seen: mpsc::Sender<Seen>,
    connected: Arc<AtomicBool>,
) {
    let victim_id = match victim.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(id)) => id,
        _ => panic!("victim address {victim} has no /p2p/ identity"),
    };
    let mut pending: Pending = Default::default();
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                None | Some(Cmd::Stop) => break,
                Some(Cmd::Dial(reply)) => {
                    let _ = reply.send(swarm.dial(victim.clone()).map_err(|e| e.to_string()));
                }
                Some(Cmd::Publish(topic, data, reply)) => {
                    let r = swarm.behaviour_mut().gossipsub.publish(topic, data);
                    let _ = reply.send(r.map(|_| ()).map_err(|e| e.to_string()));
                }
                Some(Cmd::Request(bytes, reply)) => {
                    let id = swarm.behaviour_mut().rr.send_request(&victim_id, bytes);
                    pending.insert(id, reply);
                }
            },
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == victim_id => {
                    connected.store(true, Ordering::SeqCst);
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. }
                    if peer_id == victim_id =>
                {
                    connected.store(false, Ordering::SeqCst);
                }
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                    message, ..
                })) => {
                    let _ = seen.try_send(Seen::Gossip { topic: message.topic, data: message.data });
                }
                SwarmEvent::Behaviour(BehaviourEvent::Rr(request_response::Event::Message {
                    message: request_response::Message::Response { request_id, response },
                    ..
                })) => {
                    if let Some(reply) = pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
                SwarmEvent::Behaviour(BehaviourEvent::Rr(
                    request_response::Event::OutboundFailure { request_id, error, .. },
                )) => {
                    if let Some(reply) = pending.remove(&request_id) {
                        let _ = reply.send(Err(error.to_string()));
                    }
                }
                other => tracing::trace!(event = ?other, "hostile peer"),
            },
        }
    }
}

/// A length-prefixed `/cairn/rr/1` frame around `body`.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out
}
