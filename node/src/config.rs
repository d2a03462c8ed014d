//! `config.toml`: every setting a node operator may change, with defaults, and
//! validation whose messages name the bad key.
//!
//! A home directory holds `config.toml`, `genesis.json`, `validator_key.json`
//! (mode 0600) and `data/` (the RocksDB store).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rpc::RpcConfig;
use cairn_mempool::MempoolConfig;

/// The whole node configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A name for logs and metrics.
    pub moniker: String,
    /// Peer-to-peer networking.
    pub p2p: P2pConfig,
    /// The JSON-RPC server.
    pub rpc: RpcConfig,
    /// Transaction pool limits.
    pub mempool: MempoolConfig,
    /// Consensus timing (the genesis file gives the defaults).
    pub consensus: ConsensusSection,
    /// Logging.
    pub log: LogConfig,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
}

/// `[p2p]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    /// Address to listen on for peers.
    pub listen: SocketAddr,
    /// Peers to dial and keep dialling (`host:port`).
    pub peers: Vec<SocketAddr>,
    /// Largest gossip message or request frame accepted, in bytes.
    pub max_message_bytes: usize,
}

/// `[consensus]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ConsensusSection {
    /// Overrides the genesis round timeout (ms); unset uses genesis.
    pub round_timeout_ms: Option<u64>,
    /// Overrides the genesis maximum round timeout (ms).
    pub max_round_timeout_ms: Option<u64>,
}

/// `[log]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `info,cairn_driver=debug,cairn_network=debug`
    /// (the consensus driver and block sync log as `cairn_driver`, RPC and
    /// CLI as `cairn_node`, the network as `cairn_network`, the mempool as
    /// `cairn_mempool`, the audit as `cairn_audit`).
    pub filter: String,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[metrics]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics at `http://<listen>/metrics`; unset disables.
    pub listen: Option<SocketAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            moniker: "cairn".into(),
            p2p: P2pConfig::default(),
            rpc: RpcConfig::default(),
            mempool: MempoolConfig::default(),
            consensus: ConsensusSection::default(),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

impl Default for P2pConfig {
    fn default() -> Self {
        P2pConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 26656)),
            peers: Vec::new(),
            max_message_bytes: 16 << 20,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Why a config did not load.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has an unknown or mistyped key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming the key and line.
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: `{key}` {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The dotted key, e.g. `mempool.max_txs`.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// A value out of range in one section of the config (`[rpc]`; `[mempool]`
/// has its own `cairn_mempool::InvalidLimit`): its dotted key and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} {reason}")]
pub struct InvalidValue {
    /// The dotted key, e.g. `mempool.max_txs`.
    pub key: &'static str,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl InvalidValue {
    /// `key`'s value is wrong: `reason`.
    pub fn new(key: &'static str, reason: impl Into<String>) -> InvalidValue {
        InvalidValue {
            key,
            reason: reason.into(),
        }
    }
}

impl Config {
    /// Parses and validates `text` (named `path` in errors).
    pub fn from_toml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Loads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// The config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config always serializes")
    }

    /// Rejects values that cannot work, naming the key.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_string(),
            reason,
        };
        let at_least = |key: &'static str, v: u64, min: u64| {
            if v < min {
                Err(bad(key, format!("is {v}; it must be at least {min}")))
            } else {
                Ok(())
            }
        };
        at_least(
            "p2p.max_message_bytes",
            self.p2p.max_message_bytes as u64,
            64 << 10,
        )?;
        let section = |e: InvalidValue| bad(e.key, e.reason);
        self.rpc.validate().map_err(section)?;
        self.mempool.validate().map_err(|e| bad(e.key, e.reason))?;
        if self.p2p.listen == self.rpc.listen_addr {
            return Err(bad(
                "rpc.listen_addr",
                format!("is the same address as p2p.listen ({})", self.p2p.listen),
            ));
        }
        if let Some(t) = self.consensus.round_timeout_ms {
            at_least("consensus.round_timeout_ms", t, 50)?;
        }
        if let (Some(t), Some(m)) = (
            self.consensus.round_timeout_ms,
            self.consensus.max_round_timeout_ms,
        ) {
            if m < t {
                return Err(bad(
                    "consensus.max_round_timeout_ms",
                    format!("is {m}; it must be at least consensus.round_timeout_ms ({t})"),
                ));
            }
        }
        if self.p2p.peers.contains(&self.p2p.listen) {
            return Err(bad(
                "p2p.peers",
                format!("lists this node's own listen address {}", self.p2p.listen),
            ));
        }
        if self.log.filter.trim().is_empty() {
            return Err(bad("log.filter", "is empty; use e.g. \"info\"".into()));
        }
        Ok(())
    }
}

/// Files in a node's home directory.
#[derive(Clone, Debug)]
pub struct Home(pub PathBuf);

impl Home {
    /// `config.toml`
    pub fn config(&self) -> PathBuf {
        self.0.join("config.toml")
    }
    /// `genesis.json`
    pub fn genesis(&self) -> PathBuf {
        self.0.join("genesis.json")
    }
    /// `validator_key.json`
    pub fn validator_key(&self) -> PathBuf {
        self.0.join("validator_key.json")
    }
    /// `data/`, the RocksDB store.
    pub fn data(&self) -> PathBuf {
        self.0.join("data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::from_toml(s, Path::new("config.toml"))
    }

    #[test]
    fn defaults_round_trip() {
        let c = Config::default();
        assert_eq!(parse(&c.to_toml()).unwrap(), c);
        assert_eq!(parse("").unwrap(), c);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("[mempool]\nmax_txs = 0\n", "mempool.max_txs"),
            ("[p2p]\nmax_message_bytes = 10\n", "p2p.max_message_bytes"),
            ("[rpc]\nmax_batch_len = 0\n", "rpc.max_batch_len"),
            (
                "[consensus]\nround_timeout_ms = 1000\nmax_round_timeout_ms = 10\n",
                "consensus.max_round_timeout_ms",
            ),
            ("[log]\nfilter = \" \"\n", "log.filter"),
            (
                "[p2p]\nlisten = \"127.0.0.1:9\"\npeers = [\"127.0.0.1:9\"]\n",
                "p2p.peers",
            ),
        ];
        for (text, key) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text:?}: {err}");
        }
        let err = parse("[mempool]\nmax_tx = 5\n").unwrap_err().to_string();
        assert!(
            err.contains("unknown field") && err.contains("max_tx"),
            "{err}"
        );
        let err = parse("[rpc]\nlisten = \"nowhere\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("listen") || err.contains("socket address"),
            "{err}"
        );
    }
}
