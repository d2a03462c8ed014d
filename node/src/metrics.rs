//! Prometheus metrics, served at `GET /metrics` on `[metrics] listen`.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

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

/// How long a client may take to send its request head, and to be served.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `GET /metrics` (HTTP/1.1, hyper) until the runtime stops.
pub async fn serve(listen: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let response = respond(&req, &metrics);
                    async move { Ok::<_, Infallible>(response) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(sock), service);
                let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
            });
        }
    });
    Ok(addr)
}

/// The metrics for `GET /metrics`; 404 for anything else.
fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, body) = if req.method() == Method::GET && req.uri().path() == "/metrics" {
        (StatusCode::OK, metrics.render())
    } else {
        (
            StatusCode::NOT_FOUND,
            "only GET /metrics is served here\n".to_string(),
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_and_serves_them() {
        let m = Metrics::new();
        m.height.set(7);
        m.mempool_rejections
            .get_or_create(&ReasonLabel {
                reason: "bad_signature".into(),
            })
            .inc();
        m.commit_latency_seconds.observe(0.2);
        let text = m.render();
        for name in [
            "cairn_height 7",
            "cairn_round",
            "cairn_committed_transactions_total",
            "cairn_committed_blocks_total",
            "cairn_block_interval_seconds_bucket",
            "cairn_commit_latency_seconds_count 1",
            "cairn_mempool_size",
            "cairn_mempool_rejections_total{reason=\"bad_signature\"} 1",
            "cairn_peers",
            "cairn_equivocations_total",
            "cairn_consensus_rejections_total",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One raw HTTP/1.1 GET of `path`; the whole response.
    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut body = String::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body))
            .await
            .unwrap()
            .unwrap();
        body
    }

    #[tokio::test]
    async fn serves_get_metrics() {
        let m = Metrics::new();
        m.height.set(3);
        let addr = serve("127.0.0.1:0".parse().unwrap(), m).await.unwrap();
        let body = get(addr, "/metrics").await;
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.contains("cairn_height 3"), "{body}");
        // Anything else is a clear 404, and the server keeps serving.
        let body = get(addr, "/other").await;
        assert!(body.starts_with("HTTP/1.1 404"), "{body}");
        assert!(body.contains("only GET /metrics"), "{body}");
        assert!(get(addr, "/metrics").await.contains("cairn_height 3"));
    }
}
