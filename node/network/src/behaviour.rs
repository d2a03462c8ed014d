//! The libp2p protocols a Cairn node speaks, and how its swarm is built:
//! TCP + noise + yamux on tokio; a block list for bans; connection limits;
//! gossipsub with content-addressed ids and manual validation; the
//! `/cairn/rr/1` request-response protocol; ping to notice dead connections.

use std::time::Duration;

use cairn_ledger::Hash;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, connection_limits, gossipsub, noise, ping, request_response, tcp, yamux,
    Swarm, SwarmBuilder,
};

use super::codec::Codec;
use super::config::NetworkConfig;
use super::error::NetError;
use super::identity::keypair_of;
use super::wire::RR_PROTOCOL;

/// Gossipsub wraps each message in protobuf framing; this much room on top
/// of the largest message covers it.
const GOSSIP_FRAMING_BYTES: usize = 64 * 1024;

/// Every protocol of a node, polled together by the swarm.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) rr: request_response::Behaviour<Codec>,
    pub(crate) ping: ping::Behaviour,
}

/// Gossipsub settings shared by every node of a network: messages carry no
/// author or signature (consensus messages and transactions are signed by
/// their makers), the id is the SHA-256 of topic and content so a message
/// seen twice is one message, and nothing is forwarded until the node (or the
/// network task) validates it.
pub(crate) fn gossipsub_config(cfg: &NetworkConfig) -> Result<gossipsub::Config, NetError> {
    gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| {
            let id = Hash::tagged(
                b"cairn/gossip/v1",
                &[m.topic.as_str().as_bytes(), m.data.as_slice()],
            );
            gossipsub::MessageId::new(&id.0)
        })
        .max_transmit_size(cfg.max_message_bytes + GOSSIP_FRAMING_BYTES)
        .heartbeat_interval(cfg.gossip_heartbeat)
        .heartbeat_initial_delay(Duration::from_millis(100))
        .duplicate_cache_time(Duration::from_secs(120))
        .build()
        .map_err(|e| NetError::Config {
            field: "gossip",
            why: e.to_string(),
        })
}

fn behaviour(cfg: &NetworkConfig) -> Result<Behaviour, NetError> {
    let gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Anonymous,
        gossipsub_config(cfg)?,
    )
    .map_err(|e| NetError::Config {
        field: "gossip",
        why: e.to_string(),
    })?;
    let codec = Codec::new(
        cfg.chain_id.clone(),
        cfg.max_message_bytes,
        cfg.max_response_bytes,
    );
    let rr = request_response::Behaviour::with_codec(
        codec,
        [(RR_PROTOCOL, request_response::ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(cfg.request_timeout)
            .with_max_concurrent_streams(64),
    );
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(cfg.max_connections))
        .with_max_established_per_peer(Some(cfg.max_connections_per_peer))
        .with_max_pending_incoming(Some(cfg.max_pending_incoming));
    Ok(Behaviour {
        blocked: allow_block_list::Behaviour::default(),
        limits: connection_limits::Behaviour::new(limits),
        gossipsub,
        rr,
        ping: ping::Behaviour::new(
            ping::Config::new()
                .with_interval(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(10)),
        ),
    })
}

/// Builds the swarm (not yet listening).
pub(crate) fn build_swarm(cfg: &NetworkConfig) -> Result<Swarm<Behaviour>, NetError> {
    let behaviour = behaviour(cfg)?;
    let swarm = SwarmBuilder::with_existing_identity(keypair_of(&cfg.identity))
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| NetError::Transport(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(cfg.idle_connection_timeout))
        .build();
    Ok(swarm)
}
