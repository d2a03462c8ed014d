//! RPC server settings, embedded by the node in `config.toml` as `[rpc]`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::config::InvalidValue;

/// JSON-RPC server settings. Every field has a default; `validate` rejects
/// nonsense, naming the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Address for HTTP and WebSocket (one port). Use 127.0.0.1 unless the
    /// node sits behind a proxy that enforces its own limits.
    pub listen_addr: SocketAddr,
    /// Largest request body, in bytes (HTTP body or WebSocket message).
    pub max_request_body_bytes: u32,
    /// Largest response body, in bytes.
    pub max_response_body_bytes: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most subscriptions one WebSocket connection may hold.
    pub max_subscriptions_per_connection: u32,
    /// Most calls in one JSON-RPC batch (a JSON array of requests).
    pub max_batch_len: u32,
    /// Most transactions in one `submitTransactions` call.
    pub max_submit_batch: u32,
    /// Transactions per second one client IP may submit (0: no limit).
    pub submit_rate_per_ip: u32,
    /// How many transactions one client IP may submit in a burst.
    pub submit_burst_per_ip: u32,
    /// Web origins allowed to call the API from a browser (CORS); `"*"`
    /// allows all, an empty list none.
    pub cors_allowed_origins: Vec<String>,
    /// Unused: subscriptions are pushed on commit and poll nothing. Still
    /// accepted (and range-checked) so that config files written before,
    /// which all carry it, keep loading.
    pub poll_interval_ms: u64,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_request_body_bytes: 16 << 20,
            max_response_body_bytes: 64 << 20,
            max_connections: 256,
            max_subscriptions_per_connection: 64,
            max_batch_len: 100,
            max_submit_batch: 5_000,
            submit_rate_per_ip: 50_000,
            submit_burst_per_ip: 100_000,
            cors_allowed_origins: vec!["*".to_string()],
            poll_interval_ms: 50,
        }
    }
}

impl RpcConfig {
    /// Rejects limits that would make the server useless.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let limits = [
            (
                "rpc.max_request_body_bytes",
                self.max_request_body_bytes,
                1024,
            ),
            (
                "rpc.max_response_body_bytes",
                self.max_response_body_bytes,
                64 << 10,
            ),
            ("rpc.max_connections", self.max_connections, 1),
            ("rpc.max_batch_len", self.max_batch_len, 1),
            ("rpc.max_submit_batch", self.max_submit_batch, 1),
        ];
        for (key, v, min) in limits {
            if v < min {
                return Err(InvalidValue::new(
                    key,
                    format!("is {v}; it must be at least {min}"),
                ));
            }
        }
        if self.submit_rate_per_ip > 0 && self.submit_burst_per_ip < self.max_submit_batch {
            return Err(InvalidValue::new(
                "rpc.submit_burst_per_ip",
                format!(
                    "({}) must be at least rpc.max_submit_batch ({}), or a full batch could never pass",
                    self.submit_burst_per_ip, self.max_submit_batch
                ),
            ));
        }
        // Every origin must be a header value; the server builds the layer again.
        let _ = super::cors::layer(&self.cors_allowed_origins)?;
        if !(1..=10_000).contains(&self.poll_interval_ms) {
            return Err(InvalidValue::new(
                "rpc.poll_interval_ms",
                format!("is {}; it must be 1 to 10000", self.poll_interval_ms),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zeroes_name_the_key() {
        assert_eq!(RpcConfig::default().validate(), Ok(()));
        let c = RpcConfig {
            max_batch_len: 0,
            ..RpcConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "rpc.max_batch_len");
        let c: RpcConfig = toml::from_str("max_connections = 8").unwrap();
        assert_eq!(c.max_connections, 8);
        assert!(toml::from_str::<RpcConfig>("max_conections = 8").is_err());
    }
}
