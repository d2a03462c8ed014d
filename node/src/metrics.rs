//! The `/metrics` HTTP endpoint: the node's Prometheus metrics
//! ([`cairn_driver::metrics::Metrics`]) served on `[metrics] listen` by a
//! hyper HTTP/1.1 server (request parsing, keep-alive and limits are
//! hyper's; this module only routes the one path and bounds connections).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cairn_driver::metrics::Metrics;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

/// How long a client may take to send a request head; also how long an idle
/// keep-alive connection stays open.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a connection lives, however busy (a client that stops reading
/// must not hold its slot forever).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest request head read (hyper answers `431` above it; 8 KiB minimum).
const MAX_HEAD_BYTES: usize = 16 << 10;
/// Connections served at once; more are closed as they arrive.
const MAX_CONNECTIONS: usize = 64;
/// How long [`MetricsServer::shutdown`] lets requests in flight finish.
const GRACE: Duration = Duration::from_secs(5);

/// The `/metrics` HTTP server (see [`serve`]). Dropping it stops accepting;
/// [`MetricsServer::shutdown`] also waits for requests in flight.
#[derive(Debug)]
#[must_use = "dropping the server stops it"]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets the requests in flight finish (at most
    /// [`GRACE`]) and closes every connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Serves `GET /metrics` over HTTP/1.1 (hyper: keep-alive, bounded heads,
/// bounded connections) until the returned server is stopped or dropped.
pub async fn serve(listen: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, metrics, stopped));
    Ok(MetricsServer { addr, stop, task })
}

/// Accepts connections until `stopped` resolves (sent or dropped), then
/// shuts the open ones down gracefully.
async fn accept_loop(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let sock = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, _)) => sock,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics: {MAX_CONNECTIONS} connections open; closing a new one");
            continue;
        };
        let metrics = metrics.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let response = respond(&req, &metrics);
            async move { Ok::<_, Infallible>(response) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(sock), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!(
            "metrics: connections still open after the grace period; leaving them to their timeout"
        );
    }
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
    use cairn_driver::metrics::ReasonLabel;

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
    use tokio::net::TcpStream;

    /// Bounds every exchange: a hung server fails the test instead of hanging it.
    const LIMIT: Duration = Duration::from_secs(10);

    async fn start(height: i64) -> MetricsServer {
        let m = Metrics::new();
        m.height.set(height);
        serve("127.0.0.1:0".parse().unwrap(), m).await.unwrap()
    }

    /// Writes `chunks` one by one (each flushed and followed by a pause, so
    /// they reach the server as separate reads), then reads until the server
    /// closes: everything it answered.
    async fn exchange(addr: SocketAddr, chunks: &[&[u8]]) -> String {
        let talk = async {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            for c in chunks {
                s.write_all(c).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            String::from_utf8_lossy(&out).into_owned()
        };
        tokio::time::timeout(LIMIT, talk).await.unwrap()
    }

    /// One GET of `path` on a fresh connection; the whole response.
    async fn get(addr: SocketAddr, path: &str) -> String {
        let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        exchange(addr, &[req.as_bytes()]).await
    }

    #[tokio::test]
    async fn serves_get_metrics() {
        let server = start(3).await;
        let addr = server.local_addr();
        let body = get(addr, "/metrics").await;
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(
            body.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{body}"
        );
        assert!(body.contains("cairn_height 3"), "{body}");
        // Anything else is a clear 404, and the server keeps serving.
        let body = get(addr, "/other").await;
        assert!(body.starts_with("HTTP/1.1 404"), "{body}");
        assert!(body.contains("only GET /metrics"), "{body}");
        let body = exchange(addr, &[b"POST /metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"]).await;
        assert!(body.starts_with("HTTP/1.1 404"), "{body}");
        assert!(get(addr, "/metrics").await.contains("cairn_height 3"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_request_split_across_writes_is_served() {
        let server = start(5).await;
        // The request line cut mid-word, the headers mid-line.
        let body = exchange(
            server.local_addr(),
            &[
                b"GE",
                b"T /metr",
                b"ics HTTP/1.1\r\nho",
                b"st: x\r\nconnection: close\r\n",
                b"\r\n",
            ],
        )
        .await;
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.contains("cairn_height 5"), "{body}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn keeps_the_connection_alive_between_requests() {
        let server = start(9).await;
        let first = b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n";
        let second = b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
        let body = exchange(server.local_addr(), &[first, second]).await;
        assert_eq!(body.matches("HTTP/1.1 200").count(), 2, "{body}");
        assert_eq!(body.matches("cairn_height 9").count(), 2, "{body}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn an_oversized_request_head_is_refused() {
        let server = start(1).await;
        let big = format!(
            "GET /metrics HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\n\r\n",
            "a".repeat(2 * MAX_HEAD_BYTES)
        );
        let body = exchange(server.local_addr(), &[big.as_bytes()]).await;
        assert!(body.starts_with("HTTP/1.1 431"), "{body}");
        // And the server still serves.
        assert!(get(server.local_addr(), "/metrics")
            .await
            .contains("cairn_height 1"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_closes_idle_connections_and_stops_accepting() {
        let server = start(2).await;
        let addr = server.local_addr();
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(LIMIT, idle.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        // The connection is now idle, kept alive: shutdown closes it...
        tokio::time::timeout(LIMIT, server.shutdown())
            .await
            .unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(LIMIT, idle.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        // ...and nothing listens any more.
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
