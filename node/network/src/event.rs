//! What the network hands the node: gossip to validate, requests to answer,
//! direct consensus messages, and peers coming and going.

use cairn_consensus::Message;
use cairn_ledger::SignedTransaction;
use libp2p::gossipsub::MessageId;
use libp2p::PeerId;
use tokio::sync::oneshot;

use super::wire::{Request, Response};

/// An event for the node.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A gossip message, decoded but not yet validated. The node must report
    /// the outcome with [`super::NetworkHandle::report_validation`] (using
    /// `id` and `source`); only accepted messages are forwarded to other peers.
    Gossip {
        /// The peer that forwarded it to us.
        source: PeerId,
        /// Its gossip id (SHA-256 of topic and content).
        id: MessageId,
        /// The decoded content.
        payload: GossipPayload,
    },
    /// A consensus message sent to this node alone (a vote for the next
    /// leader). The network has already acknowledged it to the sender.
    Direct {
        /// The sender.
        peer: PeerId,
        /// The message, decoded, signature not yet checked.
        message: Message,
    },
    /// A request to answer through `respond`. Dropping the [`Responder`]
    /// answers [`super::ErrorCode::Unavailable`]; so does not answering
    /// within the request timeout.
    Request {
        /// The asking peer.
        peer: PeerId,
        /// What it asks (never [`Request::Consensus`]: those arrive as `Direct`).
        request: Request,
        /// Where the answer goes.
        respond: Responder,
    },
    /// The first connection to a peer opened.
    PeerConnected(PeerId),
    /// The last connection to a peer closed.
    PeerDisconnected(PeerId),
}

/// Decoded gossip.
// A proposal (a whole block header inline) dwarfs the other variants; these
// values are moved once, from decoder to consumer, so boxing would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GossipPayload {
    /// A batch of transactions for the mempool (decoded, chain id checked,
    /// signatures not checked).
    Txs(Vec<SignedTransaction>),
    /// A proposal or a timeout (decoded, signatures not checked).
    Consensus(Message),
}

/// The outcome of validating a gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Valid: forward it to other peers.
    Accept,
    /// Invalid: drop it and count it against the forwarder in gossipsub's
    /// own accounting. Use [`super::NetworkHandle::penalise`] as well for
    /// provable misbehaviour such as a bad signature.
    Reject,
    /// Not useful (e.g. already known, or stale): drop it without blame.
    Ignore,
}

/// Answers one inbound request.
#[derive(Debug)]
pub struct Responder(pub(crate) oneshot::Sender<Response>);

impl Responder {
    /// A responder answering into `tx` (for a simulated network; the libp2p
    /// task makes its own).
    pub fn new(tx: oneshot::Sender<Response>) -> Responder {
        Responder(tx)
    }

    /// Sends the answer. A [`Response::Blocks`] larger than the response
    /// limit is cut to the blocks that fit.
    pub fn respond(self, response: Response) {
        // The requester may have gone; there is nobody left to tell.
        let _ = self.0.send(response);
    }

    /// False once the request has timed out or its connection closed.
    pub fn is_open(&self) -> bool {
        !self.0.is_closed()
    }
}
