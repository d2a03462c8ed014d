//! Network tests with real swarms on 127.0.0.1: gossip with validation before
//! forwarding, request-response, penalties and bans for garbage, and
//! reconnection after a restart. Every test is bounded by a timeout and shuts
//! down what it starts.

use std::future::Future;
use std::io;
use std::time::Duration;

use async_trait::async_trait;
use cairn_consensus::Message;
use cairn_ledger::{
    Amount, Block, ChainId, Hash, Height, QuorumCertificate, Round, SecretKey, SignedTransaction,
    Timeout, Transaction, Vote,
};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{gossipsub, noise, request_response, tcp, yamux, StreamProtocol, Swarm};
use tokio::sync::mpsc;

use super::behaviour::gossipsub_config;
use super::*;

const LIMIT: Duration = Duration::from_secs(30);

/// `RUST_LOG=cairn_network=debug` shows the network's view when a test fails.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub(super) fn chain() -> ChainId {
    ChainId::new("net-test").unwrap()
}

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

fn config(n: u8, port: u16, bootstrap: Vec<Multiaddr>) -> NetworkConfig {
    let mut c = NetworkConfig::new(
        chain(),
        key(n),
        format!("127.0.0.1:{port}").parse().unwrap(),
    );
    c.bootstrap = bootstrap;
    c.redial_initial = Duration::from_millis(100);
    c.redial_max = Duration::from_millis(800);
    c.gossip_heartbeat = Duration::from_millis(200);
    c.request_timeout = Duration::from_secs(5);
    c
}

/// `addr/p2p/<peer>` for a started network.
fn dial_addr(net: &Network) -> Multiaddr {
    net.listen_addrs[0]
        .clone()
        .with_p2p(net.handle.local_peer_id())
        .unwrap()
}

fn port_of(net: &Network) -> u16 {
    net.listen_addrs[0]
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .unwrap()
}

async fn stop(net: Network) {
    net.handle.shutdown().await;
    net.task.await.unwrap();
}

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Waits until `net` has at least `n` peers.
async fn until_peers(net: &Network, n: usize) {
    bounded("peers", async {
        while net.handle.connected_peers().len() < n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// The next event `pick` accepts, skipping others.
async fn next<T>(
    events: &mut mpsc::Receiver<NetworkEvent>,
    mut pick: impl FnMut(NetworkEvent) -> Option<T>,
) -> T {
    loop {
        let event = events.recv().await.expect("network stopped");
        if let Some(t) = pick(event) {
            return t;
        }
    }
}

async fn next_gossip(
    events: &mut mpsc::Receiver<NetworkEvent>,
) -> (PeerId, MessageId, GossipPayload) {
    next(events, |e| match e {
        NetworkEvent::Gossip {
            source,
            id,
            payload,
        } => Some((source, id, payload)),
        _ => None,
    })
    .await
}

/// Repeats `publish` until `arrived` completes (gossip is refused until the
/// peers' subscriptions are known).
async fn publish_until<T, P, Fut>(mut publish: P, arrived: impl Future<Output = T>) -> T
where
    P: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::pin!(arrived);
    loop {
        publish().await;
        tokio::select! {
            t = &mut arrived => return t,
            _ = tokio::time::sleep(Duration::from_millis(150)) => {}
        }
    }
}

pub(super) fn transfer(nonce: u64) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        from: key(50).address(),
        to: key(51).address(),
        amount: Amount(7),
        nonce,
        memo: vec![1, 2, 3],
    }
    .sign(&key(50))
}

pub(super) fn timeout_msg(round: u64) -> Message {
    Message::Timeout(Timeout::sign(
        &chain(),
        Round(round),
        QuorumCertificate::genesis(Hash::ZERO),
        0,
        &key(1),
    ))
}

pub(super) fn block(height: u64) -> (Block, QuorumCertificate) {
    let mut b = Block::genesis(chain(), 1_000, Hash::ZERO);
    b.header.height = Height(height);
    b.header.round = Round(height);
    b.txs = vec![transfer(height)];
    b.header.tx_count = 1;
    b.header.tx_root = Block::compute_tx_root(&b.txs);
    let qc = QuorumCertificate {
        block_hash: b.hash(),
        height: Height(height),
        round: Round(height),
        signatures: vec![(0, cairn_ledger::Signature([height as u8; 64]))],
    };
    (b, qc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_reaches_every_node_and_is_forwarded_only_when_accepted() {
    logs();
    // A line: A - B - C. A's gossip reaches C only if B accepts and forwards it.
    let mut a = Network::start(config(1, 0, vec![])).await.unwrap();
    let mut c = Network::start(config(3, 0, vec![])).await.unwrap();
    let mut b = Network::start(config(2, 0, vec![dial_addr(&a), dial_addr(&c)]))
        .await
        .unwrap();
    until_peers(&b, 2).await;
    let (a_id, b_id) = (a.handle.local_peer_id(), b.handle.local_peer_id());

    // B validates what it receives; C must get it from B.
    let batch = vec![transfer(1), transfer(2)];
    let (b_events, c_events) = (&mut b.events, &mut c.events);
    let b_handle = b.handle.clone();
    let arrived = async {
        let (source, id, payload) = next_gossip(b_events).await;
        assert_eq!(source, a_id);
        assert_eq!(payload, GossipPayload::Txs(batch.clone()));
        b_handle
            .report_validation(id, source, Validation::Accept)
            .await
            .unwrap();
        let (source, _, payload) = next_gossip(c_events).await;
        assert_eq!(source, b_id, "C is not connected to A: B forwarded it");
        assert_eq!(payload, GossipPayload::Txs(batch.clone()));
    };
    let publish = || {
        let (handle, batch) = (a.handle.clone(), batch.clone());
        // A publish before subscriptions are known fails; the loop retries.
        async move { drop(handle.broadcast_txs(batch).await) }
    };
    bounded("tx batch A -> B -> C", publish_until(publish, arrived)).await;

    // A consensus broadcast from C reaches B, and A through B.
    let msg = timeout_msg(9);
    let (a_events, b_events) = (&mut a.events, &mut b.events);
    let arrived = async {
        let (source, id, payload) = next_gossip(b_events).await;
        assert_eq!(payload, GossipPayload::Consensus(msg.clone()));
        b_handle
            .report_validation(id, source, Validation::Accept)
            .await
            .unwrap();
        let (source, _, payload) = next_gossip(a_events).await;
        assert_eq!(source, b_id);
        assert_eq!(payload, GossipPayload::Consensus(msg.clone()));
    };
    let publish = || {
        let (handle, msg) = (c.handle.clone(), msg.clone());
        async move { drop(handle.broadcast(msg).await) }
    };
    bounded("consensus C -> B -> A", publish_until(publish, arrived)).await;

    // A message B rejects goes no further.
    let rejected = timeout_msg(10);
    a.handle.broadcast(rejected.clone()).await.unwrap();
    let (source, id, payload) = bounded("rejected reaches B", next_gossip(&mut b.events)).await;
    assert_eq!(payload, GossipPayload::Consensus(rejected));
    b.handle
        .report_validation(id, source, Validation::Reject)
        .await
        .unwrap();
    let leaked = tokio::time::timeout(Duration::from_secs(1), next_gossip(&mut c.events)).await;
    assert!(leaked.is_err(), "a rejected message was forwarded");

    for net in [a, b, c] {
        stop(net).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_and_requests_are_delivered_and_answered() {
    logs();
    let mut b = Network::start(config(2, 0, vec![])).await.unwrap();
    // A knows B's address and identity; it dials on demand.
    let a = Network::start(config(1, 0, vec![dial_addr(&b)]))
        .await
        .unwrap();
    let (a_id, b_id) = (a.handle.local_peer_id(), b.handle.local_peer_id());

    // B's node side: answer requests as a node would.
    let blocks = vec![block(1), block(2)];
    let served = blocks.clone();
    let mut b_events = std::mem::replace(&mut b.events, mpsc::channel(1).1);
    let (votes_tx, mut votes) = mpsc::channel(8);
    let node = tokio::spawn(async move {
        while let Some(event) = b_events.recv().await {
            match event {
                NetworkEvent::Direct { peer, message } => {
                    votes_tx.send((peer, message)).await.unwrap();
                }
                NetworkEvent::Request {
                    request, respond, ..
                } => match request {
                    Request::SyncBlocks { from, max } => {
                        let blocks = served
                            .iter()
                            .filter(|(b, _)| b.header.height >= from)
                            .take(max as usize)
                            .cloned()
                            .collect();
                        respond.respond(Response::Blocks(SyncBatch {
                            blocks,
                            proof: None,
                        }));
                    }
                    Request::Status => respond.respond(Response::Status(PeerStatus {
                        committed_height: Height(2),
                        round: Round(3),
                    })),
                    // Dropped unanswered: the asker must still hear back.
                    Request::FetchBlock { .. } => drop(respond),
                    Request::Consensus(_) => unreachable!("arrives as Direct"),
                },
                _ => {}
            }
        }
    });

    let vote = Message::Vote(Vote::sign(
        &chain(),
        Hash([4; 32]),
        Height(1),
        Round(1),
        0,
        &key(1),
    ));
    a.handle.send_to(b_id, vote.clone()).await.unwrap();
    let (from, got) = bounded("vote", votes.recv()).await.unwrap();
    assert_eq!((from, got), (a_id, vote));

    let sync = Request::SyncBlocks {
        from: Height(1),
        max: 5,
    };
    let answer = bounded("sync", a.handle.request(b_id, sync)).await.unwrap();
    assert_eq!(
        answer,
        Response::Blocks(SyncBatch {
            blocks,
            proof: None
        })
    );

    let status = bounded("status", a.handle.request(b_id, Request::Status)).await;
    assert_eq!(
        status.unwrap(),
        Response::Status(PeerStatus {
            committed_height: Height(2),
            round: Round(3)
        })
    );

    let fetch = Request::FetchBlock {
        hash: Hash([9; 32]),
    };
    let refused = bounded("fetch", a.handle.request(b_id, fetch)).await;
    assert_eq!(
        refused,
        Err(NetError::Refused {
            peer: b_id,
            code: ErrorCode::Unavailable
        })
    );

    stop(a).await;
    stop(b).await;
    node.await.unwrap();
}

/// Writes and reads raw bytes on `/cairn/rr/1`: a peer that ignores the frame format.
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
        io.take(1 << 20).read_to_end(&mut buf).await?;
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
struct AttackerBehaviour {
    gossipsub: gossipsub::Behaviour,
    rr: request_response::Behaviour<RawCodec>,
}

#[derive(Clone, Copy, Debug)]
enum Attack {
    GarbageGossip,
    GarbageFrame,
    OversizedFrame,
}

fn attacker(n: u8) -> Swarm<AttackerBehaviour> {
    let cfg = config(n, 0, vec![]);
    let gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Anonymous,
        gossipsub_config(&cfg).unwrap(),
    )
    .unwrap();
    let rr = request_response::Behaviour::new(
        [(RR_PROTOCOL, request_response::ProtocolSupport::Full)],
        request_response::Config::default(),
    );
    libp2p::SwarmBuilder::with_existing_identity(keypair_of(&key(n)))
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| AttackerBehaviour { gossipsub, rr })
        .unwrap()
        .build()
}

/// Connects an attacker to `victim` and repeats `attack` until the victim
/// drops the connection. Returns how many attempts it took.
async fn attack_until_dropped(victim: &Network, n: u8, attack: Attack) -> usize {
    let mut swarm = attacker(n);
    let topic = consensus_topic(&chain());
    swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap();
    swarm.dial(dial_addr(victim)).unwrap();
    let victim_id = victim.handle.local_peer_id();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut connected, mut attempts) = (false, 0usize);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { .. } => connected = true,
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. }
                    if peer_id == victim_id => return attempts,
                other => tracing::debug!(event = ?other, "attacker"),
            },
            _ = tick.tick(), if connected => {
                attempts += 1;
                let b = swarm.behaviour_mut();
                match attack {
                    // Distinct bytes each time (gossip ids are content hashes).
                    Attack::GarbageGossip => {
                        let garbage = vec![0xee, attempts as u8, 0, 1, 2];
                        let _ = b.gossipsub.publish(topic.clone(), garbage);
                    }
                    Attack::GarbageFrame => {
                        let mut frame = 5u32.to_le_bytes().to_vec();
                        frame.extend_from_slice(&[0xff; 5]);
                        b.rr.send_request(&victim_id, frame);
                    }
                    // Claims 1 GiB; the victim must refuse before reading it.
                    Attack::OversizedFrame => {
                        let mut frame = (1u32 << 30).to_le_bytes().to_vec();
                        frame.extend_from_slice(&[0; 64]);
                        b.rr.send_request(&victim_id, frame);
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_a_peer_banned_and_the_node_keeps_serving() {
    logs();
    let mut victim = Network::start(config(10, 0, vec![])).await.unwrap();
    let honest = Network::start(config(11, 0, vec![dial_addr(&victim)]))
        .await
        .unwrap();
    until_peers(&honest, 1).await;

    // Four malformed messages (25 points each) or two oversized frames
    // (50 each) reach the ban threshold of 100.
    for (n, attack) in [
        (20, Attack::GarbageGossip),
        (21, Attack::GarbageFrame),
        (22, Attack::OversizedFrame),
    ] {
        let bans = victim.handle.stats().bans;
        let what = format!("{attack:?} gets the attacker banned");
        let attempts = bounded(&what, attack_until_dropped(&victim, n, attack)).await;
        let stats = victim.handle.stats();
        assert_eq!(stats.bans, bans + 1, "{attack:?}: {stats:?}");
        assert!(
            attempts >= 2,
            "{attack:?}: dropped after {attempts} attempts"
        );
        // The victim's own bookkeeping follows the close it initiated.
        let id = keypair_of(&key(n)).public().to_peer_id();
        bounded("victim forgets the attacker", async {
            while victim.handle.connected_peers().contains(&id) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }
    assert!(victim.handle.stats().malformed >= 8);

    // The victim still works: the honest peer's request is answered.
    let victim_id = victim.handle.local_peer_id();
    let mut events = std::mem::replace(&mut victim.events, mpsc::channel(1).1);
    let node = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetworkEvent::Request { respond, .. } = event {
                respond.respond(Response::Status(PeerStatus {
                    committed_height: Height(1),
                    round: Round(1),
                }));
            }
        }
    });
    let status = bounded("status", honest.handle.request(victim_id, Request::Status)).await;
    assert!(matches!(status, Ok(Response::Status(_))), "{status:?}");
    assert!(!victim.task.is_finished());

    stop(honest).await;
    stop(victim).await;
    node.await.unwrap();
}

/// Restarts a peer on the same port and key; the other side must reconnect.
async fn restart_case(with_identity: bool) {
    logs();
    let b = Network::start(config(2, 0, vec![])).await.unwrap();
    let (b_id, b_port) = (b.handle.local_peer_id(), port_of(&b));
    // With `/p2p/<id>` the identity is checked; without, it is learned.
    let b_addr = if with_identity {
        dial_addr(&b)
    } else {
        b.listen_addrs[0].clone()
    };
    let mut a = Network::start(config(1, 0, vec![b_addr])).await.unwrap();
    let up =
        |e: NetworkEvent| matches!(e, NetworkEvent::PeerConnected(p) if p == b_id).then_some(());
    bounded("first connection", next(&mut a.events, up)).await;

    stop(b).await;
    let down =
        |e: NetworkEvent| matches!(e, NetworkEvent::PeerDisconnected(p) if p == b_id).then_some(());
    bounded("disconnect seen", next(&mut a.events, down)).await;
    assert!(a.handle.connected_peers().is_empty());
    // Let a few redials fail while it is down.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut b = Network::start(config(2, b_port, vec![])).await.unwrap();
    bounded("reconnected", next(&mut a.events, up)).await;

    // And it is usable: a request round-trips.
    let mut events = std::mem::replace(&mut b.events, mpsc::channel(1).1);
    let node = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetworkEvent::Request { respond, .. } = event {
                respond.respond(Response::Block(None));
            }
        }
    });
    let fetch = Request::FetchBlock { hash: Hash::ZERO };
    let answer = bounded("fetch", a.handle.request(b_id, fetch)).await;
    assert_eq!(answer, Ok(Response::Block(None)));

    stop(a).await;
    stop(b).await;
    node.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_is_reconnected() {
    restart_case(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_configured_by_address_alone_is_reconnected() {
    restart_case(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_event_queue_sheds_gossip_and_refuses_requests_without_stalling() {
    logs();
    let mut cfg = config(30, 0, vec![]);
    cfg.event_capacity = 1;
    let mut victim = Network::start(cfg).await.unwrap();
    let peer = Network::start(config(31, 0, vec![dial_addr(&victim)]))
        .await
        .unwrap();
    let victim_id = victim.handle.local_peer_id();
    until_peers(&victim, 1).await;
    // The node is not reading: its queue holds `PeerConnected` and is full.

    let busy = bounded("busy", peer.handle.request(victim_id, Request::Status)).await;
    assert_eq!(
        busy,
        Err(NetError::Refused {
            peer: victim_id,
            code: ErrorCode::Busy
        })
    );
    let publish = || {
        let handle = peer.handle.clone();
        async move { drop(handle.broadcast_txs(vec![transfer(1)]).await) }
    };
    let dropped = async {
        while victim.handle.stats().gossip_dropped == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    bounded("gossip dropped", publish_until(publish, dropped)).await;
    assert_eq!(victim.handle.stats().requests_refused, 1);

    // Once the node reads again, requests are served.
    let mut events = std::mem::replace(&mut victim.events, mpsc::channel(1).1);
    let node = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetworkEvent::Request { respond, .. } = event {
                respond.respond(Response::Block(None));
            }
        }
    });
    // Gossip still in flight may take the one free slot for a moment, so a
    // `Busy` answer is retried, as its message asks; a node that stayed
    // stuck would time this out.
    let fetch = Request::FetchBlock { hash: Hash::ZERO };
    let served = async {
        loop {
            match peer.handle.request(victim_id, fetch.clone()).await {
                Err(NetError::Refused {
                    code: ErrorCode::Busy,
                    ..
                }) => tokio::time::sleep(Duration::from_millis(50)).await,
                answer => return answer,
            }
        }
    };
    let answer = bounded("served", served).await;
    assert_eq!(answer, Ok(Response::Block(None)));

    stop(peer).await;
    stop(victim).await;
    node.await.unwrap();
}

/// Measures gossip throughput of transaction batches between two nodes on
/// one machine (decode and delivery only; no signature checks). Run with
/// `cargo test -p cairn-node --lib gossip_throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement"]
async fn gossip_throughput() {
    let per_batch: usize = std::env::var("PER_BATCH").map_or(2_000, |v| v.parse().unwrap());
    let batches_n: usize = 100_000 / per_batch;
    let mut b = Network::start(config(41, 0, vec![])).await.unwrap();
    let a = Network::start(config(40, 0, vec![dial_addr(&b)]))
        .await
        .unwrap();
    until_peers(&a, 1).await;
    let batches: Vec<Vec<SignedTransaction>> = (0..batches_n)
        .map(|i| {
            (0..per_batch)
                .map(|j| transfer((i * per_batch + j) as u64))
                .collect()
        })
        .collect();
    let bytes: usize = batches[0].iter().map(|t| t.encoded_len()).sum();
    let encoded = super::wire::encode_tx_batch(&batches[0]);
    let t = std::time::Instant::now();
    super::wire::decode_tx_batch(&encoded, &chain()).unwrap();
    let decode_us = t.elapsed().as_secs_f64() * 1e6 / per_batch as f64;
    println!("decoding a batch: {decode_us:.1} µs per transaction");

    // Warm up until subscriptions are known.
    let warm = vec![transfer(u64::MAX)];
    let publish = || {
        let (handle, warm) = (a.handle.clone(), warm.clone());
        async move { drop(handle.broadcast_txs(warm).await) }
    };
    bounded(
        "warm-up",
        publish_until(publish, next_gossip(&mut b.events)),
    )
    .await;

    let start = std::time::Instant::now();
    for batch in batches {
        a.handle.broadcast_txs(batch).await.unwrap();
    }
    let sent = start.elapsed();
    let mut received = 0;
    while received < batches_n * per_batch {
        let (source, id, payload) = bounded("batches", next_gossip(&mut b.events)).await;
        b.handle
            .report_validation(id, source, Validation::Accept)
            .await
            .unwrap();
        if let GossipPayload::Txs(txs) = payload {
            received += txs.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{received} txs in {batches_n} batches of {per_batch} ({} KiB each) in {:.0} ms \
         (queued in {} ms): {:.0} tx/s, {:.1} MiB/s",
        bytes / 1024,
        secs * 1000.0,
        sent.as_millis(),
        received as f64 / secs,
        (batches_n * bytes) as f64 / secs / 1048576.0
    );
    stop(a).await;
    stop(b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_error() {
    logs();
    let a = Network::start(config(60, 0, vec![])).await.unwrap();
    let err = Network::start(config(61, port_of(&a), vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, NetError::Listen { .. }), "{err:?}");
    assert!(err.to_string().contains("pick a free port"), "{err}");
    let mut bad = config(62, 0, vec![]);
    bad.max_response_bytes = 1;
    let err = Network::start(bad).await.unwrap_err();
    assert!(err.to_string().contains("max_response_bytes"), "{err}");
    stop(a).await;
}
