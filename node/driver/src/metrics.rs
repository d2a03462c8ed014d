//! The node's Prometheus metrics: the registry and every metric the driver,
//! mempool and network update. `cairn-node` serves them at `GET /metrics`.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label of a rejection reason.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The reason's name.
    pub reason: String,
}

/// Every metric the node exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Highest committed height.
    pub height: Gauge,
    /// Current consensus round.
    pub round: Gauge,
    /// Transactions committed since start.
    pub committed_txs: Counter,
    /// Blocks committed since start.
    pub committed_blocks: Counter,
    /// Seconds between consecutive committed blocks' timestamps.
    pub block_interval_seconds: Histogram,
    /// Seconds from a block's proposal (its timestamp) to its commit here.
    pub commit_latency_seconds: Histogram,
    /// Transactions in the mempool.
    pub mempool_size: Gauge,
    /// Mempool rejections by reason.
    pub mempool_rejections: Family<ReasonLabel, Counter>,
    /// Connected peers.
    pub peers: Gauge,
    /// Equivocations detected (two signed messages for one round).
    pub equivocations: Counter,
    /// Consensus inputs refused (bad signatures, stale or invalid messages).
    pub consensus_rejections: Counter,
    /// Penalties given to peers, by misbehaviour (`malformed`, `oversized`,
    /// `bad_signature`, `invalid`; see docs/NETWORK.md).
    pub peer_penalties: Family<ReasonLabel, Counter>,
    /// Peers disconnected and banned for misbehaviour.
    pub peer_bans: Counter,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("cairn");
        let m = Metrics {
            height: Gauge::default(),
            round: Gauge::default(),
            committed_txs: Counter::default(),
            committed_blocks: Counter::default(),
            block_interval_seconds: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            commit_latency_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            mempool_size: Gauge::default(),
            mempool_rejections: Family::default(),
            peers: Gauge::default(),
            equivocations: Counter::default(),
            consensus_rejections: Counter::default(),
            peer_penalties: Family::default(),
            peer_bans: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("height", "Highest committed block height", m.height.clone());
        registry.register("round", "Current consensus round", m.round.clone());
        registry.register(
            "committed_transactions",
            "Transactions committed",
            m.committed_txs.clone(),
        );
        registry.register(
            "committed_blocks",
            "Blocks committed",
            m.committed_blocks.clone(),
        );
        registry.register(
            "block_interval_seconds",
            "Time between consecutive committed blocks",
            m.block_interval_seconds.clone(),
        );
        registry.register(
            "commit_latency_seconds",
            "Time from a block's proposal (its timestamp) to its commit on this node",
            m.commit_latency_seconds.clone(),
        );
        registry.register(
            "mempool_size",
            "Transactions in the mempool",
            m.mempool_size.clone(),
        );
        registry.register(
            "mempool_rejections",
            "Transactions refused by the mempool, by reason",
            m.mempool_rejections.clone(),
        );
        registry.register("peers", "Connected peers", m.peers.clone());
        registry.register(
            "equivocations",
            "Equivocations detected",
            m.equivocations.clone(),
        );
        registry.register(
            "consensus_rejections",
            "Consensus messages refused",
            m.consensus_rejections.clone(),
        );
        registry.register(
            "peer_penalties",
            "Penalties given to peers, by misbehaviour",
            m.peer_penalties.clone(),
        );
        registry.register(
            "peer_bans",
            "Peers disconnected and banned for misbehaviour",
            m.peer_bans.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
