//! The node's side of the network: a cloneable handle that queues commands
//! for the network task, and shared read-only state (peers, counters).
//!
//! Every queue is bounded: commands wait for room (back-pressure on the
//! caller, never unbounded growth); encoding happens here, on the caller's
//! task, so the swarm task only moves bytes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::Message;
use cairn_ledger::{Encode, SignedTransaction};
use libp2p::gossipsub::MessageId;
use libp2p::PeerId;
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot};

use super::error::{NetError, Result};
use super::event::Validation;
use super::peers::Misbehaviour;
use super::wire::{encode_tx_batch, Request, Response, MAX_TX_BATCH};

/// Which gossip topic a message goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Transaction batches.
    Txs,
    /// Proposals, timeouts and TCs.
    Consensus,
}

/// Where the answer to a request goes.
pub type Reply = oneshot::Sender<Result<Response>>;

/// A command for the network task (the libp2p swarm, or the simulator's
/// router: see [`super::SimLink`]).
// A proposal (a whole block header inline) dwarfs the other variants; these
// values are moved once, from decoder to consumer, so boxing would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Command {
    /// Gossip encoded bytes on a topic.
    Publish {
        /// The topic.
        topic: Topic,
        /// The encoded message or transaction batch.
        data: Vec<u8>,
    },
    /// Send a request to one peer; with `reply`, its answer goes there.
    Request {
        /// The peer.
        peer: PeerId,
        /// What to ask (a consensus message is sent this way too).
        request: Request,
        /// Where the answer goes; `None` for fire-and-forget sends.
        reply: Option<Reply>,
    },
    /// The node's verdict on a gossip message it was handed.
    Report {
        /// The message's gossip id.
        id: MessageId,
        /// Who forwarded it.
        source: PeerId,
        /// Forward it or not.
        outcome: Validation,
    },
    /// Count misbehaviour against a peer.
    Penalise {
        /// The peer.
        peer: PeerId,
        /// What it did.
        why: Misbehaviour,
    },
    /// Stop the network.
    Shutdown,
}

/// Counters the network task keeps (for metrics).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) gossip_received: AtomicU64,
    pub(crate) gossip_dropped: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) penalties: AtomicU64,
    /// Penalties by kind, indexed by [`Misbehaviour::index`].
    pub(crate) penalties_by: [AtomicU64; 4],
    pub(crate) bans: AtomicU64,
    pub(crate) requests_refused: AtomicU64,
    pub(crate) publish_failed: AtomicU64,
}

/// State the network task shares with handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) peers: RwLock<Vec<PeerId>>,
    pub(crate) counters: Counters,
}

/// A snapshot of the network's counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Gossip messages received (before validation).
    pub gossip_received: u64,
    /// Gossip messages dropped because the node's event queue was full.
    pub gossip_dropped: u64,
    /// Gossip messages and frames that did not decode or were oversized.
    pub malformed: u64,
    /// Penalties applied to peers.
    pub penalties: u64,
    /// Penalties by kind, indexed by [`Misbehaviour::index`] (see
    /// [`NetworkStats::penalties_for`]).
    pub penalties_by: [u64; 4],
    /// Peers banned.
    pub bans: u64,
    /// Inbound requests refused with `Busy` (event queue full).
    pub requests_refused: u64,
    /// Publishes that failed (no subscribed peers yet, queues full).
    pub publish_failed: u64,
}

impl NetworkStats {
    /// Penalties given for `why`.
    pub fn penalties_for(&self, why: Misbehaviour) -> u64 {
        self.penalties_by[why.index()]
    }
}

/// A cloneable handle to the network task.
#[derive(Clone, Debug)]
pub struct NetworkHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) local_peer_id: PeerId,
    pub(crate) request_timeout: Duration,
    pub(crate) max_message_bytes: usize,
}

impl NetworkHandle {
    /// This node's `PeerId`.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Gossips transactions in batches (at most [`MAX_TX_BATCH`] transactions
    /// and `max_message_bytes` each).
    pub async fn broadcast_txs(&self, txs: Vec<SignedTransaction>) -> Result<()> {
        let budget = self.max_message_bytes - 4;
        let mut start = 0;
        while start < txs.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < txs.len()
                && end - start < MAX_TX_BATCH
                && bytes + txs[end].encoded_len() <= budget
            {
                bytes += txs[end].encoded_len();
                end += 1;
            }
            if end == start {
                // A transaction above the budget cannot exist (MAX_TX_LEN is far
                // below it); send it alone and let gossipsub refuse it.
                end += 1;
            }
            let data = encode_tx_batch(&txs[start..end]);
            self.send(Command::Publish {
                topic: Topic::Txs,
                data,
            })
            .await?;
            start = end;
        }
        Ok(())
    }

    /// Gossips a proposal or timeout to every validator.
    pub async fn broadcast(&self, message: Message) -> Result<()> {
        let data = message.to_bytes();
        if data.len() > self.max_message_bytes {
            return Err(NetError::TooLarge {
                len: data.len(),
                max: self.max_message_bytes,
            });
        }
        self.send(Command::Publish {
            topic: Topic::Consensus,
            data,
        })
        .await
    }

    /// Sends a consensus message (a vote) to one peer, dialling it if needed.
    /// Returns once queued; delivery failures are logged, not returned.
    pub async fn send_to(&self, peer: PeerId, message: Message) -> Result<()> {
        self.send(Command::Request {
            peer,
            request: Request::Consensus(message),
            reply: None,
        })
        .await
    }

    /// Asks one peer and waits for its answer (bounded by the request
    /// timeout). A peer's [`Response::Error`] comes back as
    /// [`NetError::Refused`].
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request {
            peer,
            request,
            reply: Some(reply),
        })
        .await?;
        // libp2p times the request out itself; this guard only covers a
        // stalled task.
        let guard = self.request_timeout + Duration::from_secs(1);
        match tokio::time::timeout(guard, answer).await {
            Err(_) => Err(NetError::Timeout { peer }),
            Ok(Err(_)) => Err(NetError::Stopped),
            Ok(Ok(Ok(Response::Error(code)))) => Err(NetError::Refused { peer, code }),
            Ok(Ok(result)) => result,
        }
    }

    /// Reports the outcome of validating a gossip message delivered as
    /// [`super::NetworkEvent::Gossip`].
    pub async fn report_validation(
        &self,
        id: MessageId,
        source: PeerId,
        outcome: Validation,
    ) -> Result<()> {
        self.send(Command::Report {
            id,
            source,
            outcome,
        })
        .await
    }

    /// Counts misbehaviour against a peer; past the threshold it is
    /// disconnected and banned.
    pub async fn penalise(&self, peer: PeerId, why: Misbehaviour) -> Result<()> {
        self.send(Command::Penalise { peer, why }).await
    }

    /// Peers with at least one open connection.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.shared.peers.read().clone()
    }

    /// Counters since start.
    pub fn stats(&self) -> NetworkStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NetworkStats {
            gossip_received: get(&c.gossip_received),
            gossip_dropped: get(&c.gossip_dropped),
            malformed: get(&c.malformed),
            penalties: get(&c.penalties),
            penalties_by: std::array::from_fn(|i| get(&c.penalties_by[i])),
            bans: get(&c.bans),
            requests_refused: get(&c.requests_refused),
            publish_failed: get(&c.publish_failed),
        }
    }

    /// Stops the network task (closing every connection). Other handles then
    /// fail with [`NetError::Stopped`].
    pub async fn shutdown(&self) {
        // Already stopped is fine.
        let _ = self.commands.send(Command::Shutdown).await;
    }

    pub(crate) async fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .await
            .map_err(|_| NetError::Stopped)
    }
}
