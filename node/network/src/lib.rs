//! Peer-to-peer networking on libp2p: TCP + noise + yamux, gossipsub for
//! transaction batches and consensus broadcasts, and the `/cairn/rr/1`
//! request-response protocol for votes, block sync and status.
//!
//! [`Network::start`] spawns one task that owns the swarm; the node talks to
//! it through a [`NetworkHandle`] and reads [`NetworkEvent`]s. Every queue is
//! bounded and every frame size-limited, so nothing a peer sends can grow the
//! node's memory without bound; peers that send malformed, oversized or badly
//! signed messages lose score and are banned for a while. See
//! `docs/NETWORK.md`.

mod behaviour;
pub(crate) mod codec;
mod config;
mod error;
mod event;
mod gossip;
mod handle;
mod identity;
mod peers;
mod requests;
mod service;
mod sim;
mod task;
mod wire;

#[cfg(test)]
mod tests;

pub use codec::{Codec, FrameError, WireRequest};
pub use config::{NetworkConfig, BLOCK_OVERHEAD_BYTES, DEFAULT_MAX_MESSAGE_BYTES};
pub use error::{NetError, Result};
pub use event::{GossipPayload, NetworkEvent, Responder, Validation};
pub use handle::{Command, NetworkHandle, NetworkStats, Reply, Topic};
pub use identity::{keypair_of, peer_id_of};
pub use libp2p::gossipsub::MessageId;
pub use libp2p::{Multiaddr, PeerId};
pub use peers::Misbehaviour;
pub use service::{socket_multiaddr, Network};
pub use sim::{SimLink, SimPeers};
pub use wire::{
    consensus_topic, decode_consensus, decode_tx_batch, encode_tx_batch, txs_topic, ErrorCode,
    PeerStatus, Request, Response, SyncBatch, MAX_TX_BATCH, RR_PROTOCOL,
};
