//! The network task: owns the swarm and is the only code that touches it.
//!
//! It turns swarm events into [`NetworkEvent`]s for the node and commands from
//! [`super::NetworkHandle`]s into swarm actions. It never blocks on the node:
//! events go out with `try_send`; when the node's queue is full, gossip is
//! dropped (ignored in gossipsub, counted) and requests are refused with
//! `Busy`, so an overloaded node sheds load instead of stalling the swarm.
//! Gossip is decoded before the node sees it (off this task when large, see
//! [`super::gossip`]); a peer sending bytes that do not decode is penalised
//! on the spot. Signatures are the node's job.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_ledger::ChainId;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId, TopicHash};
use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{ping, PeerId, Swarm};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{debug, info, trace, warn};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::codec::WireRequest;
use super::error::NetError;
use super::event::{NetworkEvent, Validation};
use super::gossip::{decode, Decoded, Kind, MAX_DECODING};
use super::handle::{Command, Reply, Shared, Topic};
use super::peers::{Misbehaviour, PeerBook, Redialer};
use super::wire::Response;

/// How often bans, scores and redials are looked at.
const TICK: Duration = Duration::from_millis(100);

type Answer = BoxFuture<'static, (ResponseChannel<Response>, Response)>;

/// The network task's state.
pub(crate) struct Task {
    pub(crate) swarm: Swarm<Behaviour>,
    pub(crate) chain: ChainId,
    pub(crate) txs_topic: TopicHash,
    pub(crate) consensus_topic: TopicHash,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: mpsc::Sender<NetworkEvent>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) book: PeerBook,
    pub(crate) redial: Redialer,
    pub(crate) request_timeout: Duration,
    pub(crate) outbound: HashMap<OutboundRequestId, (PeerId, Option<Reply>)>,
    pub(crate) answers: FuturesUnordered<Answer>,
    pub(crate) decoding: FuturesUnordered<BoxFuture<'static, Decoded>>,
}

impl Task {
    /// Runs until [`Command::Shutdown`] or every handle is dropped.
    pub(crate) async fn run(mut self) {
        for (peer, addr) in self.redial.known() {
            let addr = addr.clone();
            self.swarm.add_peer_address(peer, addr);
        }
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(command) => self.on_command(command),
                },
                Some(decoded) = self.decoding.next(), if !self.decoding.is_empty() => {
                    self.on_decoded(decoded);
                }
                Some((channel, response)) = self.answers.next(), if !self.answers.is_empty() => {
                    // Err: the requester gave up or disconnected meanwhile.
                    let _ = self.swarm.behaviour_mut().rr.send_response(channel, response);
                }
                _ = tick.tick() => self.on_tick(),
            }
        }
        info!(peer = %self.swarm.local_peer_id(), "network stopped");
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data } => self.publish(topic, data),
            Command::Request {
                peer,
                request,
                reply,
            } => {
                if peer == *self.swarm.local_peer_id() {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(NetError::RequestFailed {
                            peer,
                            why: "a node cannot send requests to itself".into(),
                        }));
                    }
                    return;
                }
                let id = self
                    .swarm
                    .behaviour_mut()
                    .rr
                    .send_request(&peer, WireRequest::Valid(request));
                self.outbound.insert(id, (peer, reply));
            }
            Command::Report {
                id,
                source,
                outcome,
            } => self.report(&id, &source, outcome),
            Command::Penalise { peer, why } => self.penalise(peer, why),
            Command::Shutdown => {}
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) {
        let hash = match topic {
            Topic::Txs => self.txs_topic.clone(),
            Topic::Consensus => self.consensus_topic.clone(),
        };
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(hash, data) {
            // Duplicates are content we already sent; the rest (no peers
            // subscribed yet, full queues) the next message will retry.
            if !matches!(e, gossipsub::PublishError::Duplicate) {
                self.shared
                    .counters
                    .publish_failed
                    .fetch_add(1, Ordering::Relaxed);
                debug!(?topic, error = %e, "gossip publish failed");
            }
        }
    }

    fn report(&mut self, id: &MessageId, source: &PeerId, outcome: Validation) {
        let acceptance = match outcome {
            Validation::Accept => MessageAcceptance::Accept,
            Validation::Reject => MessageAcceptance::Reject,
            Validation::Ignore => MessageAcceptance::Ignore,
        };
        // false: the message already left the cache (validated too late).
        let _ = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, source, acceptance);
    }

    pub(crate) fn penalise(&mut self, peer: PeerId, why: Misbehaviour) {
        let counters = &self.shared.counters;
        counters.penalties.fetch_add(1, Ordering::Relaxed);
        counters.penalties_by[why.index()].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if self.book.penalise(peer, why, now) {
            counters.bans.fetch_add(1, Ordering::Relaxed);
            warn!(%peer, ?why, "peer banned for misbehaviour");
            // Closes its connections and refuses new ones until unbanned.
            self.swarm.behaviour_mut().blocked.block_peer(peer);
        } else {
            debug!(%peer, ?why, points = self.book.points(&peer, now), "peer penalised");
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for peer in self.book.expire(now) {
            info!(%peer, "ban lifted");
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }
        let book = &self.book;
        for dial in self.redial.due(now, |p| book.is_banned(p)) {
            let opts = match dial.peer {
                Some(peer) => DialOpts::peer_id(peer)
                    .addresses(vec![dial.addr.clone()])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build(),
                None => DialOpts::unknown_peer_id()
                    .address(dial.addr.clone())
                    .build(),
            };
            let id = opts.connection_id();
            match self.swarm.dial(opts) {
                Ok(()) => {
                    trace!(addr = %dial.addr, "dialling configured peer");
                    self.redial.dialing(dial.target, id);
                }
                Err(e) => {
                    trace!(addr = %dial.addr, error = %e, "dial not started");
                    self.redial.not_started(dial.target, now);
                }
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_gossip(propagation_source, message_id, message),
            SwarmEvent::Behaviour(BehaviourEvent::Rr(event)) => self.on_rr(event),
            // A connection that stops answering pings is dead even if TCP has
            // not noticed; closing it lets the redialler find the peer again.
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(failure),
            })) if !matches!(failure, ping::Failure::Unsupported) => {
                debug!(%peer, %failure, "ping failed; closing the connection");
                self.swarm.close_connection(connection);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                if let Some(addr) = self.redial.connected(peer_id, connection_id) {
                    // Requests to this peer can now dial it by identity.
                    self.swarm.add_peer_address(peer_id, addr);
                }
                if num_established.get() == 1 {
                    info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "peer connected");
                    self.shared.peers.write().push(peer_id);
                    self.emit(NetworkEvent::PeerConnected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                if num_established == 0 {
                    info!(peer = %peer_id, cause = ?cause, "peer disconnected");
                    self.shared.peers.write().retain(|p| *p != peer_id);
                    self.redial.disconnected(peer_id, Instant::now());
                    self.emit(NetworkEvent::PeerDisconnected(peer_id));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                peer_id,
                error,
            } => {
                debug!(peer = ?peer_id, %error, "dial failed");
                self.redial.dial_failed(connection_id, Instant::now());
            }
            SwarmEvent::NewListenAddr { address, .. } => info!(%address, "listening"),
            other => trace!(event = ?other, "swarm event"),
        }
    }

    /// Peer and lifecycle events must not block the swarm either; the peer
    /// list in [`Shared`] stays exact even if one is dropped.
    fn emit(&mut self, event: NetworkEvent) {
        if let Err(e) = self.events.try_send(event) {
            warn!(error = %e, "node event queue full; peer event dropped");
        }
    }

    fn on_gossip(&mut self, source: PeerId, id: MessageId, message: gossipsub::Message) {
        let counters = &self.shared.counters;
        counters.gossip_received.fetch_add(1, Ordering::Relaxed);
        let kind = if message.topic == self.txs_topic {
            Kind::Txs
        } else if message.topic == self.consensus_topic {
            Kind::Consensus
        } else {
            // Gossipsub only delivers topics this node subscribed to.
            self.report(&id, &source, Validation::Ignore);
            return;
        };
        if self.decoding.len() >= MAX_DECODING {
            counters.gossip_dropped.fetch_add(1, Ordering::Relaxed);
            self.report(&id, &source, Validation::Ignore);
            return;
        }
        let chain = self.chain.clone();
        self.decoding
            .push(decode(kind, message.data, chain, source, id));
    }

    fn on_decoded(&mut self, (source, id, result): Decoded) {
        let payload = match result {
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                debug!(peer = %source, error = %e, "malformed gossip");
                let counters = &self.shared.counters;
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                self.report(&id, &source, Validation::Reject);
                self.penalise(source, Misbehaviour::Malformed);
                return;
            }
            None => return self.report(&id, &source, Validation::Ignore),
        };
        let event = NetworkEvent::Gossip {
            source,
            id: id.clone(),
            payload,
        };
        if let Err(e) = self.events.try_send(event) {
            if matches!(e, TrySendError::Full(_)) {
                let counters = &self.shared.counters;
                counters.gossip_dropped.fetch_add(1, Ordering::Relaxed);
            }
            self.report(&id, &source, Validation::Ignore);
        }
    }
}
