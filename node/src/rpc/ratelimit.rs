//! A per-IP limit on submitted transactions: a token bucket per client IP
//! (refilling at `rpc.submit_rate_per_ip` per second, holding at most
//! `rpc.submit_burst_per_ip`), applied as an RPC middleware to
//! `submitTransaction` (one token) and `submitTransactions` (one per item).
//! The buckets live in an LRU of bounded size, so many clients cannot grow
//! memory without bound; an evicted client simply starts with a full bucket.

use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use cairn_rpc::ErrorCode;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, BatchEntryErr, MethodResponse, Notification, RpcServiceT,
};
use jsonrpsee::types::{ErrorObjectOwned, Request};
use lru::LruCache;
use parking_lot::Mutex;
use serde_json::json;
use serde_json::value::RawValue;

/// Clients whose buckets are remembered.
const TRACKED_CLIENTS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The shared buckets.
#[derive(Debug)]
pub struct SubmitLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<LruCache<IpAddr, Bucket>>,
}

impl SubmitLimiter {
    /// `rate` transactions per second with bursts of `burst`; `rate == 0` disables.
    pub fn new(rate: u32, burst: u32) -> SubmitLimiter {
        let cap = NonZeroUsize::new(TRACKED_CLIENTS).unwrap_or(NonZeroUsize::MIN);
        SubmitLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(LruCache::new(cap)),
        }
    }

    /// Takes `n` tokens for `ip`, or says how long until they would be there.
    fn take(&self, ip: IpAddr, n: usize, now: Instant) -> Result<(), ErrorObjectOwned> {
        if self.rate <= 0.0 || n == 0 {
            return Ok(());
        }
        let want = n as f64;
        let mut buckets = self.buckets.lock();
        let b = buckets.get_or_insert_mut(ip, || Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= want {
            b.tokens -= want;
            return Ok(());
        }
        let retry_ms = if want > self.burst {
            None
        } else {
            Some((((want - b.tokens) / self.rate) * 1000.0).ceil() as u64)
        };
        let hint = match retry_ms {
            Some(ms) => format!("retry in {ms} ms or slow down"),
            None => format!("send at most {} per call", self.burst as u64),
        };
        Err(ErrorCode::RateLimited.error(
            format!(
                "rate limit: this node accepts {} transactions per second per IP (bursts of {}; rpc.submit_rate_per_ip, rpc.submit_burst_per_ip) and this call asks for {n}; {hint}",
                self.rate as u64, self.burst as u64
            ),
            json!({ "limit": "rpc.submit_rate_per_ip", "ratePerSecond": self.rate as u64, "burst": self.burst as u64, "requested": n, "retryAfterMs": retry_ms }),
        ))
    }
}

/// How many transactions a call submits (0 for other methods).
fn submissions(method: &str, params: Option<&RawValue>) -> usize {
    match method {
        "cairn_submitTransaction" => 1,
        "cairn_submitTransactions" => params
            .and_then(|p| serde_json::from_str::<(Vec<&RawValue>,)>(p.get()).ok())
            .map_or(1, |(items,)| items.len().max(1)),
        _ => 0,
    }
}

/// The middleware, one per connection (it knows the client's IP).
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    ip: IpAddr,
    limiter: Arc<SubmitLimiter>,
}

impl<S> RateLimit<S> {
    /// Wraps `inner` for a connection from `ip`.
    pub fn new(inner: S, ip: IpAddr, limiter: Arc<SubmitLimiter>) -> Self {
        RateLimit { inner, ip, limiter }
    }

    fn check(&self, req: &Request<'_>) -> Option<ErrorObjectOwned> {
        let n = submissions(&req.method, req.params.as_deref());
        self.limiter.take(self.ip, n, Instant::now()).err()
    }
}

impl<S> RpcServiceT for RateLimit<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let refused = self.check(&req);
        let inner = self.inner.clone();
        async move {
            match refused {
                Some(err) => MethodResponse::error(req.id, err),
                None => inner.call(req).await,
            }
        }
    }

    fn batch<'a>(
        &self,
        mut batch: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        for entry in batch.iter_mut() {
            let refused = match entry {
                Ok(BatchEntry::Call(req)) => self
                    .check(req)
                    .map(|err| BatchEntryErr::new(req.id.clone(), err)),
                _ => None,
            };
            if let Some(err) = refused {
                *entry = Err(err);
            }
        }
        self.inner.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_at_the_rate_and_caps_at_the_burst() {
        let l = SubmitLimiter::new(10, 20);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(l.take(ip, 20, t0).is_ok());
        let e = l.take(ip, 1, t0).unwrap_err();
        assert_eq!(e.code(), ErrorCode::RateLimited.code());
        assert!(
            e.message().contains("rpc.submit_rate_per_ip"),
            "{}",
            e.message()
        );
        // Another client is not affected.
        assert!(l.take([10, 0, 0, 2].into(), 5, t0).is_ok());
        // 0.5 s refills 5 tokens, never more than the burst.
        assert!(l.take(ip, 5, t0 + Duration::from_millis(500)).is_ok());
        assert!(l.take(ip, 1, t0 + Duration::from_millis(500)).is_err());
        assert!(l.take(ip, 21, t0 + Duration::from_secs(100)).is_err());
        assert!(l.take(ip, 20, t0 + Duration::from_secs(100)).is_ok());
        // Disabled.
        assert!(SubmitLimiter::new(0, 0).take(ip, 1_000_000, t0).is_ok());
    }

    #[test]
    fn counts_items_of_a_batch_submission() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert_eq!(submissions("cairn_submitTransaction", None), 1);
        assert_eq!(
            submissions(
                "cairn_submitTransactions",
                Some(&raw(r#"[["0x1","0x2","0x3"]]"#))
            ),
            3
        );
        assert_eq!(submissions("cairn_status", Some(&raw("[]"))), 0);
    }
}
