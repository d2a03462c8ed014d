//! Mempool limits, embedded by the node in `config.toml` as `[mempool]`.

use cairn_ledger::types::tx::MAX_TX_LEN;
use serde::{Deserialize, Serialize};

/// Mempool limits. Every field has a default; `validate` rejects nonsense.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most transactions held.
    pub max_txs: usize,
    /// Most bytes of signed transactions held.
    pub max_bytes: usize,
    /// Most pending transactions of one sender.
    pub max_per_sender: usize,
    /// A transaction's nonce may be at most this far above the sender's
    /// committed nonce (so at most this many can be in flight per sender).
    pub nonce_window: u64,
    /// Longest signed transaction accepted, in bytes (at most the wire limit).
    pub max_tx_bytes: usize,
    /// A transaction still pending this many seconds after admission is
    /// dropped (e.g. one waiting forever behind a nonce gap).
    pub tx_ttl_secs: u64,
    /// How many hashes of verified signatures to remember, so a proposal's
    /// transactions seen before are not verified twice (DESIGN §7).
    pub verified_cache: usize,
}

/// A limit out of range: its dotted key (e.g. `mempool.max_txs`) and what
/// is wrong with it. The node reports it as a bad `config.toml` key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} {reason}")]
pub struct InvalidLimit {
    /// The dotted key, e.g. `mempool.max_txs`.
    pub key: &'static str,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl InvalidLimit {
    /// `key`'s value is wrong: `reason`.
    pub fn new(key: &'static str, reason: impl Into<String>) -> InvalidLimit {
        InvalidLimit {
            key,
            reason: reason.into(),
        }
    }
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 200_000,
            max_bytes: 128 << 20,
            max_per_sender: 512,
            nonce_window: 1_024,
            max_tx_bytes: MAX_TX_LEN,
            tx_ttl_secs: 600,
            verified_cache: 400_000,
        }
    }
}

impl MempoolConfig {
    /// Rejects limits that would make the mempool useless, naming the key.
    pub fn validate(&self) -> Result<(), InvalidLimit> {
        let positive = [
            ("mempool.max_txs", self.max_txs),
            ("mempool.max_bytes", self.max_bytes),
            ("mempool.max_per_sender", self.max_per_sender),
            ("mempool.max_tx_bytes", self.max_tx_bytes),
            ("mempool.verified_cache", self.verified_cache),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(InvalidLimit::new(key, "must be at least 1"));
            }
        }
        if self.tx_ttl_secs == 0 {
            return Err(InvalidLimit::new(
                "mempool.tx_ttl_secs",
                "must be at least 1",
            ));
        }
        if self.nonce_window == 0 {
            return Err(InvalidLimit::new(
                "mempool.nonce_window",
                "must be at least 1",
            ));
        }
        if self.max_tx_bytes > MAX_TX_LEN {
            return Err(InvalidLimit::new(
                "mempool.max_tx_bytes",
                format!(
                    "is {}, above the largest valid transaction ({MAX_TX_LEN} bytes)",
                    self.max_tx_bytes
                ),
            ));
        }
        if self.max_bytes < self.max_tx_bytes {
            return Err(InvalidLimit::new(
                "mempool.max_bytes",
                format!(
                    "({}) must be at least mempool.max_tx_bytes ({})",
                    self.max_bytes, self.max_tx_bytes
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_nonsense_names_the_key() {
        assert_eq!(MempoolConfig::default().validate(), Ok(()));
        let c = MempoolConfig {
            max_per_sender: 0,
            ..MempoolConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "mempool.max_per_sender");
        let c = MempoolConfig {
            max_tx_bytes: MAX_TX_LEN + 1,
            ..MempoolConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().key, "mempool.max_tx_bytes");
    }
}
