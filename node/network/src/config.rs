//! Network settings: who this node is, where it listens, whom it keeps
//! connected to, and the limits that bound what a peer can make it hold.

use std::net::SocketAddr;
use std::time::Duration;

use cairn_ledger::{ChainId, SecretKey};
use libp2p::Multiaddr;

use super::error::NetError;

/// Bytes a proposal may spend beyond its transactions: header, a QC and a TC
/// for up to 1,024 validators (~68 KiB and ~76 KiB), the proposal signature
/// and the message tag, rounded up.
pub const BLOCK_OVERHEAD_BYTES: usize = 256 * 1024;

/// The default largest gossip message and request: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Settings for [`super::Network::start`]. Build with [`NetworkConfig::new`]
/// and adjust fields; [`NetworkConfig::validate`] runs at start.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// The chain; topics are namespaced by it and decoded blocks and
    /// transactions must carry it.
    pub chain_id: ChainId,
    /// The libp2p identity. Validators use their validator key, so every
    /// validator's `PeerId` follows from genesis ([`super::peer_id_of`]).
    pub identity: SecretKey,
    /// TCP address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Peers to stay connected to, e.g. `/ip4/10.0.0.2/tcp/26656/p2p/12D3…`
    /// (the `/p2p/` suffix is optional). Redialled with back-off whenever the
    /// connection drops.
    pub bootstrap: Vec<Multiaddr>,
    /// Largest gossip message (a proposal, a timeout or a transaction batch),
    /// and largest request frame. Blocks must stay below
    /// [`NetworkConfig::max_block_bytes`].
    pub max_message_bytes: usize,
    /// Largest response frame (a batch of synced blocks is cut to fit).
    pub max_response_bytes: usize,
    /// How long an outbound request may wait for its response.
    pub request_timeout: Duration,
    /// Penalty points at which a peer is disconnected and banned.
    pub ban_threshold: u32,
    /// Penalty points forgiven per second of good behaviour.
    pub score_recovery_per_sec: u32,
    /// How long a ban lasts.
    pub ban_duration: Duration,
    /// First redial delay after a configured peer drops; doubles per failure.
    pub redial_initial: Duration,
    /// Longest redial delay.
    pub redial_max: Duration,
    /// Capacity of the command queue from [`super::NetworkHandle`]s.
    pub command_capacity: usize,
    /// Capacity of the event queue to the node. When it is full, gossip is
    /// dropped (and counted) and requests are refused with `Busy`.
    pub event_capacity: usize,
    /// Most established connections in total.
    pub max_connections: u32,
    /// Most established connections to one peer (two nodes that both list the
    /// other may briefly hold two).
    pub max_connections_per_peer: u32,
    /// Most inbound connections still in their handshake.
    pub max_pending_incoming: u32,
    /// A connection no protocol needs is closed after this long.
    pub idle_connection_timeout: Duration,
    /// The gossipsub heartbeat (mesh maintenance).
    pub gossip_heartbeat: Duration,
}

impl NetworkConfig {
    /// Defaults for `chain_id`, identified by `identity`, listening on `listen`.
    pub fn new(chain_id: ChainId, identity: SecretKey, listen: SocketAddr) -> Self {
        NetworkConfig {
            chain_id,
            identity,
            listen,
            bootstrap: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_response_bytes: 4 * DEFAULT_MAX_MESSAGE_BYTES,
            request_timeout: Duration::from_secs(10),
            ban_threshold: 100,
            score_recovery_per_sec: 1,
            ban_duration: Duration::from_secs(60),
            redial_initial: Duration::from_millis(500),
            redial_max: Duration::from_secs(30),
            command_capacity: 4096,
            event_capacity: 4096,
            max_connections: 256,
            max_connections_per_peer: 2,
            max_pending_incoming: 64,
            idle_connection_timeout: Duration::from_secs(600),
            gossip_heartbeat: Duration::from_millis(700),
        }
    }

    /// The largest block (header, certificates and transactions) that still
    /// fits in a proposal: `max_message_bytes - BLOCK_OVERHEAD_BYTES` transaction
    /// bytes. With the 16 MiB default that is ~15.7 MiB: 100,000 (the
    /// `MAX_BLOCK_TXS` cap) ~160-byte transfers, or ~13,000 transactions of the
    /// largest size (`MAX_TX_LEN`, a 1 KiB memo).
    pub fn max_block_bytes(&self) -> usize {
        self.max_message_bytes.saturating_sub(BLOCK_OVERHEAD_BYTES)
    }

    /// Rejects settings that cannot work, naming the field.
    pub fn validate(&self) -> Result<(), NetError> {
        let bad = |field: &'static str, why: String| Err(NetError::Config { field, why });
        if self.max_message_bytes < 2 * BLOCK_OVERHEAD_BYTES {
            return bad(
                "max_message_bytes",
                format!("must be at least {} bytes", 2 * BLOCK_OVERHEAD_BYTES),
            );
        }
        if self.max_message_bytes > u32::MAX as usize / 2 {
            return bad("max_message_bytes", "must be below 2 GiB".into());
        }
        if self.max_response_bytes < self.max_message_bytes + BLOCK_OVERHEAD_BYTES
            || self.max_response_bytes > u32::MAX as usize
        {
            return bad(
                "max_response_bytes",
                format!(
                    "must be at least max_message_bytes + {BLOCK_OVERHEAD_BYTES} (a synced block \
                     and its certificate must fit) and below 4 GiB"
                ),
            );
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout", "must be above zero".into());
        }
        if self.ban_threshold == 0 {
            return bad("ban_threshold", "must be above zero".into());
        }
        if self.redial_initial.is_zero() || self.redial_max < self.redial_initial {
            return bad(
                "redial_initial",
                "must be above zero and at most redial_max".into(),
            );
        }
        if self.command_capacity == 0 || self.event_capacity == 0 {
            return bad(
                "event_capacity",
                "command and event capacities must be above zero".into(),
            );
        }
        if self.max_connections == 0 || self.max_connections_per_peer == 0 {
            return bad(
                "max_connections",
                "connection limits must be above zero".into(),
            );
        }
        if self.gossip_heartbeat.is_zero() {
            return bad("gossip_heartbeat", "must be above zero".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NetworkConfig {
        NetworkConfig::new(
            ChainId::new("test").unwrap(),
            SecretKey::from_seed([1; 32]),
            "127.0.0.1:0".parse().unwrap(),
        )
    }

    #[test]
    fn defaults_are_valid_and_fit_a_full_block_of_transfers() {
        let c = config();
        c.validate().unwrap();
        // 100,000 transfers with an empty memo and a short chain id.
        assert!(c.max_block_bytes() >= cairn_ledger::types::block::MAX_BLOCK_TXS * 160);
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = config();
        c.max_response_bytes = c.max_message_bytes;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("max_response_bytes"), "{err}");
        let mut c = config();
        c.redial_max = Duration::ZERO;
        assert!(c.validate().unwrap_err().to_string().contains("redial"));
    }
}
