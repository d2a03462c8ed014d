//! The simulated network between real nodes: it reads the commands each
//! node's production `NetworkHandle` issues (through `SimLink`) and delivers
//! `NetworkEvent`s to the others after a seeded delay, with loss,
//! duplication, partitions and isolation, as libp2p would deliver them:
//!
//! - gossip goes to every connected node once per message id (gossipsub's
//!   seen cache), and a node publishing bytes it published before is refused
//!   (gossipsub's duplicate-publish rule: re-sent identical timeouts are dropped);
//! - nodes are addressed by node index, not peer id: the two nodes of a twin
//!   pair hold one peer id. A request goes to one connected node holding the
//!   peer id and its answer comes back, or the requester gets a timeout
//!   after `request_timeout`; a consensus message sent directly (a vote to
//!   the next leader) reaches every connected node holding it, arriving as
//!   `NetworkEvent::Direct`;
//! - requests and responses travel encoded and are decoded on arrival, so the
//!   wire codec is exercised as on a real network;
//! - in the adversarial scenario the network is on the attacker's side: it
//!   may cut an honest leader off right as it publishes a proposal
//!   (`isolate_leaders`), so it alone learns the QC the proposal carries
//!   and the others time out without it.
//!
//! Delivery is a task per message sleeping on the paused tokio clock, so the
//! order of events depends only on the seed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::{Message, SafetyData};
use cairn_ledger::store::Store;
use cairn_ledger::{ChainId, Hash};
use cairn_network::{
    decode_consensus, decode_tx_batch, Command, GossipPayload, MessageId, NetError, NetworkEvent,
    PeerId, Reply, Request, Responder, Response, SimPeers, Topic,
};
use parking_lot::Mutex;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::observe::Observer;

/// How long a request waits for its answer (the production default is 10 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response, as the real network's default.
const MAX_RESPONSE: usize = 64 << 20;

/// Link behaviour.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// Shortest one-way delay (ms).
    pub min_delay_ms: u64,
    /// Longest one-way delay (ms).
    pub max_delay_ms: u64,
    /// Probability a message is lost.
    pub loss: f64,
    /// Probability a message is delivered twice.
    pub dup: f64,
}

/// One node as the network sees it.
#[derive(Debug)]
struct Port {
    peer: PeerId,
    /// Where events for the running incarnation go; `None` while down.
    events: Option<mpsc::Sender<NetworkEvent>>,
    peers: Option<SimPeers>,
    /// The running incarnation's store: what it signs must already be
    /// covered by the safety data it holds (persist before send).
    store: Option<Arc<Store>>,
    incarnation: u64,
    /// Gossip ids delivered to this incarnation.
    seen: HashSet<MessageId>,
    /// Gossip ids this node published (duplicates are refused).
    published: HashSet<MessageId>,
}

/// The shared network state.
#[derive(Debug)]
pub struct NetState {
    chain: ChainId,
    rng: ChaCha8Rng,
    /// Current link behaviour.
    pub cfg: LinkConfig,
    ports: Vec<Port>,
    /// Group of each node while partitioned (`None`: fully connected).
    groups: Option<Vec<u8>>,
    /// Gossip messages dropped because a node's event queue was full.
    pub dropped: u64,
    observer: Arc<Observer>,
    /// Cutting honest leaders off as they propose, while set.
    isolate_leaders: Option<IsolateLeaders>,
    /// Until when each node is cut off from everyone (an isolated leader).
    cut_until: Vec<Option<Instant>>,
    /// Crashing honest nodes right after they send a vote or timeout, while set.
    crash_after_send: Option<CrashAfterSend>,
    /// Honest leaders cut off so far.
    isolated_leaders: u64,
}

/// With probability `chance`, an honest node that just sent a vote or a
/// timeout it signed is named on `crash` (the harness crashes it): what it
/// sent must already be durable.
#[derive(Clone, Debug)]
pub struct CrashAfterSend {
    /// Probability per vote or timeout.
    pub chance: f64,
    /// Where the harness hears which node to crash.
    pub crash: mpsc::Sender<usize>,
}

/// The adversarial scheduler's knobs: with probability `chance`, an honest
/// node publishing a proposal is cut off from everyone for `length`.
#[derive(Clone, Copy, Debug)]
pub struct IsolateLeaders {
    /// Probability per honest proposal.
    pub chance: f64,
    /// How long the leader stays cut off.
    pub length: Duration,
}

/// A cloneable handle to the network.
#[derive(Clone, Debug)]
pub struct Net(Arc<Mutex<NetState>>);

impl Net {
    /// A network for nodes with these peer ids (`peers[node]`; both nodes
    /// of a twin pair hold one).
    pub fn new(
        chain: ChainId,
        peers: Vec<PeerId>,
        cfg: LinkConfig,
        rng: ChaCha8Rng,
        observer: Arc<Observer>,
    ) -> Net {
        let n = peers.len();
        let ports = peers
            .into_iter()
            .map(|peer| Port {
                peer,
                events: None,
                peers: None,
                store: None,
                incarnation: 0,
                seen: HashSet::new(),
                published: HashSet::new(),
            })
            .collect();
        Net(Arc::new(Mutex::new(NetState {
            chain,
            rng,
            cfg,
            ports,
            groups: None,
            dropped: 0,
            observer,
            isolate_leaders: None,
            cut_until: vec![None; n],
            crash_after_send: None,
            isolated_leaders: 0,
        })))
    }

    /// Node `i` came up on `store`: its events go to `events`; returns its
    /// incarnation.
    pub fn attach(
        &self,
        i: usize,
        events: mpsc::Sender<NetworkEvent>,
        peers: SimPeers,
        store: Arc<Store>,
    ) -> u64 {
        let mut s = self.0.lock();
        let port = &mut s.ports[i];
        port.incarnation += 1;
        port.events = Some(events);
        port.peers = Some(peers);
        port.store = Some(store);
        port.seen.clear();
        port.published.clear();
        let inc = port.incarnation;
        s.refresh_peers();
        inc
    }

    /// Node `i` went down.
    pub fn detach(&self, i: usize) {
        let mut s = self.0.lock();
        s.ports[i].events = None;
        s.ports[i].peers = None;
        s.ports[i].store = None;
        s.refresh_peers();
    }

    /// Cuts the network into groups (`groups[node]`).
    pub fn partition(&self, groups: Vec<u8>) {
        let mut s = self.0.lock();
        s.groups = Some(groups);
        s.refresh_peers();
    }

    /// Reconnects everyone (an isolated leader too).
    pub fn heal(&self) {
        let mut s = self.0.lock();
        s.groups = None;
        s.cut_until.iter_mut().for_each(|c| *c = None);
        s.refresh_peers();
    }

    /// Starts (`Some`) or stops (`None`) cutting honest leaders off as
    /// they propose.
    pub fn isolate_leaders(&self, knobs: Option<IsolateLeaders>) {
        self.0.lock().isolate_leaders = knobs;
    }

    /// How many honest leaders were cut off as they proposed.
    pub fn isolated_leaders(&self) -> u64 {
        self.0.lock().isolated_leaders
    }

    /// Starts (`Some`) or stops (`None`) crashing honest nodes right after
    /// they send a vote or timeout.
    pub fn crash_after_send(&self, knobs: Option<CrashAfterSend>) {
        self.0.lock().crash_after_send = knobs;
    }

    /// Maybe cuts honest node `from`, publishing a proposal, off from
    /// everyone; it reconnects by itself when its time is up.
    fn maybe_isolate_leader(&self, s: &mut NetState, from: usize) {
        let Some(knobs) = s.isolate_leaders else {
            return;
        };
        if !s.observer.is_honest(from) || !s.rng.gen_bool(knobs.chance) {
            return;
        }
        let until = Instant::now() + knobs.length;
        s.cut_until[from] = Some(until);
        s.isolated_leaders += 1;
        s.refresh_peers();
        let net = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(until).await;
            let mut s = net.0.lock();
            if s.cut_until[from] == Some(until) {
                s.cut_until[from] = None;
                s.refresh_peers();
            }
        });
    }

    /// Sets the link behaviour.
    pub fn set_links(&self, cfg: LinkConfig) {
        self.0.lock().cfg = cfg;
    }

    /// Carries out one command of node `from`.
    pub fn handle(&self, from: usize, cmd: Command) {
        match cmd {
            Command::Publish { topic, data } => self.publish(from, topic, data),
            Command::Request {
                peer,
                request,
                reply,
            } => self.request(from, peer, request, reply),
            Command::Report { .. } | Command::Penalise { .. } | Command::Shutdown => {}
        }
    }

    fn publish(&self, from: usize, topic: Topic, data: Vec<u8>) {
        let id = gossip_id(topic, &data);
        let mut s = self.0.lock();
        if !s.ports[from].published.insert(id.clone()) {
            return; // gossipsub refuses to publish the same content twice
        }
        let payload = match topic {
            Topic::Txs => decode_tx_batch(&data, &s.chain).map(GossipPayload::Txs),
            Topic::Consensus => decode_consensus(&data, &s.chain).map(GossipPayload::Consensus),
        };
        let Ok(payload) = payload else {
            return; // nothing a real peer would accept either
        };
        if let GossipPayload::Consensus(m) = &payload {
            s.observer.sent(from, m, || s.durable(from));
            if matches!(m, Message::Proposal(_)) {
                self.maybe_isolate_leader(&mut s, from);
            }
            s.maybe_crash_after(from, m);
        }
        let source = s.ports[from].peer;
        for to in 0..s.ports.len() {
            if to == from || !s.connected(from, to) {
                continue;
            }
            for delay in s.delays() {
                let (net, id, payload) = (self.clone(), id.clone(), payload.clone());
                let inc = s.ports[to].incarnation;
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    net.deliver_gossip(to, inc, source, id, payload);
                });
            }
        }
    }

    fn deliver_gossip(
        &self,
        to: usize,
        inc: u64,
        source: PeerId,
        id: MessageId,
        payload: GossipPayload,
    ) {
        let mut s = self.0.lock();
        let port = &mut s.ports[to];
        if port.incarnation != inc || !port.seen.insert(id.clone()) {
            return;
        }
        let Some(events) = &port.events else { return };
        let event = NetworkEvent::Gossip {
            source,
            id,
            payload,
        };
        if events.try_send(event).is_err() {
            s.dropped += 1;
        }
    }

    fn request(&self, from: usize, peer: PeerId, request: Request, reply: Option<Reply>) {
        let mut s = self.0.lock();
        if let Request::Consensus(m) = &request {
            s.observer.sent(from, m, || s.durable(from));
            s.maybe_crash_after(from, m);
        }
        // Every node holding the peer id but the sender: one, or a twin pair.
        let holders: Vec<usize> = (0..s.ports.len())
            .filter(|&i| i != from && s.ports[i].peer == peer)
            .collect();
        if let Request::Consensus(message) = request {
            drop(s);
            return self.direct(from, (peer, &holders), message, reply);
        }
        let target = s.one_of(from, &holders);
        let delays = match target {
            Some(to) if s.connected(from, to) => s.delays(),
            _ => Vec::new(),
        };
        let back = s.delays();
        let source = s.ports[from].peer;
        let inc = target.map_or(0, |t| s.ports[t].incarnation);
        let chain = s.chain.clone();
        drop(s);
        let (Some(to), Some(&there)) = (target, delays.first()) else {
            // Unreachable or lost: the requester's timeout answers.
            if let Some(reply) = reply {
                time_out(reply, peer);
            }
            return;
        };
        let bytes = request.to_bytes();
        let net = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(there).await;
            let Ok(request) = Request::decode(&bytes, &chain) else {
                return;
            };
            let answer = net.ask(to, inc, source, request).await;
            let Some(reply) = reply else { return };
            let result = match (answer, back.first()) {
                (Some(resp), Some(&d)) => {
                    tokio::time::sleep(d).await;
                    let bytes = resp.encode_within(MAX_RESPONSE).unwrap_or_default();
                    Response::decode(&bytes, &chain).map_err(|e| NetError::RequestFailed {
                        peer,
                        why: e.to_string(),
                    })
                }
                _ => {
                    tokio::time::sleep(REQUEST_TIMEOUT.saturating_sub(there)).await;
                    Err(NetError::Timeout { peer })
                }
            };
            let result = match result {
                Ok(Response::Error(code)) => Err(NetError::Refused { peer, code }),
                other => other,
            };
            let _ = reply.send(result);
        });
    }

    /// A consensus message node `from` sent directly to a peer id: it
    /// reaches every connected node holding it (`holders`: both nodes of a
    /// twin pair), each
    /// copy encoded and decoded on the way.
    fn direct(
        &self,
        from: usize,
        (peer, holders): (PeerId, &[usize]),
        message: Message,
        reply: Option<Reply>,
    ) {
        let mut s = self.0.lock();
        let mut trips = Vec::new();
        for &to in holders {
            if s.connected(from, to) {
                if let Some(&there) = s.delays().first() {
                    trips.push((to, s.ports[to].incarnation, there));
                }
            }
        }
        // Drawn as for any request (an answer's delay), so that runs
        // without twins draw the same numbers as before twins existed.
        let _back = s.delays();
        let source = s.ports[from].peer;
        let chain = s.chain.clone();
        drop(s);
        if trips.is_empty() {
            if let Some(reply) = reply {
                time_out(reply, peer);
            }
            return;
        }
        let bytes = Request::Consensus(message).to_bytes();
        for (to, inc, there) in trips {
            let (net, bytes, chain) = (self.clone(), bytes.clone(), chain.clone());
            tokio::spawn(async move {
                tokio::time::sleep(there).await;
                if let Ok(Request::Consensus(message)) = Request::decode(&bytes, &chain) {
                    net.deliver_direct(to, inc, source, message);
                }
            });
        }
    }

    fn deliver_direct(&self, to: usize, inc: u64, source: PeerId, message: Message) {
        let s = self.0.lock();
        if s.ports[to].incarnation != inc {
            return; // the connection it travelled on died with that incarnation
        }
        if let Some(events) = &s.ports[to].events {
            let _ = events.try_send(NetworkEvent::Direct {
                peer: source,
                message,
            });
        }
    }

    /// Hands a request to node `to` and waits for its answer.
    async fn ask(&self, to: usize, inc: u64, source: PeerId, request: Request) -> Option<Response> {
        let (tx, rx) = oneshot::channel();
        let events = {
            let s = self.0.lock();
            if s.ports[to].incarnation != inc {
                return None;
            }
            s.ports[to].events.clone()?
        };
        let event = NetworkEvent::Request {
            peer: source,
            request,
            respond: Responder::new(tx),
        };
        events.try_send(event).ok()?;
        tokio::time::timeout(REQUEST_TIMEOUT, rx).await.ok()?.ok()
    }
}

/// Answers a request nobody received with the requester's timeout.
fn time_out(reply: Reply, peer: PeerId) {
    tokio::spawn(async move {
        tokio::time::sleep(REQUEST_TIMEOUT).await;
        let _ = reply.send(Err(NetError::Timeout { peer }));
    });
}

impl NetState {
    /// Maybe names honest node `from`, which just sent `m`, for a crash.
    fn maybe_crash_after(&mut self, from: usize, m: &Message) {
        let Some(knobs) = self.crash_after_send.clone() else {
            return;
        };
        if matches!(m, Message::Vote(_) | Message::Timeout(_))
            && self.observer.is_honest(from)
            && self.rng.gen_bool(knobs.chance)
        {
            // Full: a crash is already pending for someone; skip this one.
            let _ = knobs.crash.try_send(from);
        }
    }

    /// Which of `holders` (the nodes holding a peer id) a request from
    /// `from` goes to: a connected one, drawn at random if both nodes of a
    /// twin pair are (libp2p holds one connection per peer id); else the
    /// first, which then does not answer.
    fn one_of(&mut self, from: usize, holders: &[usize]) -> Option<usize> {
        let connected: Vec<usize> = holders
            .iter()
            .copied()
            .filter(|&to| self.connected(from, to))
            .collect();
        match connected.len() {
            0 => holders.first().copied(),
            1 => Some(connected[0]),
            k => Some(connected[self.rng.gen_range(0..k)]),
        }
    }

    /// The safety data node `i`'s store holds now, as a restart would read
    /// it (`None`: nothing persisted yet, or it is down).
    fn durable(&self, i: usize) -> Option<SafetyData> {
        super::observe::durable(self.ports[i].store.as_ref()?)
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        let now = Instant::now();
        let reachable = |i: usize| {
            self.ports[i].events.is_some() && self.cut_until[i].is_none_or(|until| until <= now)
        };
        reachable(a) && reachable(b) && self.groups.as_ref().is_none_or(|g| g[a] == g[b])
    }

    /// Delays for one message: none if lost, two if duplicated.
    fn delays(&mut self) -> Vec<Duration> {
        let cfg = self.cfg.clone();
        if self.rng.gen_bool(cfg.loss) {
            return Vec::new();
        }
        let mut d = vec![self.rng.gen_range(cfg.min_delay_ms..=cfg.max_delay_ms)];
        if self.rng.gen_bool(cfg.dup) {
            d.push(self.rng.gen_range(cfg.min_delay_ms..=cfg.max_delay_ms));
        }
        d.into_iter().map(Duration::from_millis).collect()
    }

    /// Tells every running node which peers it is connected to: each peer
    /// id once, never its own (a twin does not see its pair as a peer).
    fn refresh_peers(&self) {
        for (i, port) in self.ports.iter().enumerate() {
            if let Some(peers) = &port.peers {
                let mut list: Vec<PeerId> = Vec::new();
                for j in 0..self.ports.len() {
                    let peer = self.ports[j].peer;
                    if j != i && peer != port.peer && self.connected(i, j) && !list.contains(&peer)
                    {
                        list.push(peer);
                    }
                }
                peers.set(list);
            }
        }
    }
}

/// A gossip id as gossipsub computes it for Cairn: SHA-256 of topic and content.
fn gossip_id(topic: Topic, data: &[u8]) -> MessageId {
    let tag: &[u8] = match topic {
        Topic::Txs => b"txs",
        Topic::Consensus => b"consensus",
    };
    MessageId::new(&Hash::tagged(tag, &[data]).0)
}
