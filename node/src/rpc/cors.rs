//! CORS, so a web page can call the API (DESIGN §1: "any JSON-RPC client
//! (curl, a browser, ...)"). Nothing the API offers is privileged — the
//! node holds no user keys and accepts only signed transactions — so the
//! default allows every origin; `rpc.cors_allowed_origins` narrows it.
//!
//! Preflight `OPTIONS` requests are answered here; other responses get
//! `Access-Control-Allow-Origin` when the request's `Origin` is allowed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use http::{HeaderValue, Method, StatusCode};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tower::{Layer, Service};

/// Which origins may call.
#[derive(Clone, Debug)]
pub struct CorsLayer {
    allowed: Arc<Vec<String>>,
}

impl CorsLayer {
    /// `"*"` in the list allows every origin; an empty list disables CORS.
    pub fn new(allowed: Vec<String>) -> CorsLayer {
        CorsLayer {
            allowed: Arc::new(allowed),
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;
    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            inner,
            allowed: self.allowed.clone(),
        }
    }
}

/// The CORS service (see [`CorsLayer`]).
#[derive(Clone, Debug)]
pub struct Cors<S> {
    inner: S,
    allowed: Arc<Vec<String>>,
}

impl<S> Cors<S> {
    /// The `Access-Control-Allow-Origin` value for this request, if allowed.
    fn allow(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let origin = origin?;
        if self.allowed.iter().any(|a| a == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let o = origin.to_str().ok()?;
        self.allowed.iter().any(|a| a == o).then(|| origin.clone())
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<HttpRequest<B>> for Cors<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse<HttpBody>>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse<HttpBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        let allow = self.allow(req.headers().get(ORIGIN));
        if req.method() == Method::OPTIONS {
            let mut res = HttpResponse::new(HttpBody::empty());
            *res.status_mut() = StatusCode::NO_CONTENT;
            let h = res.headers_mut();
            if let Some(v) = allow {
                h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("POST, GET, OPTIONS"),
                );
                h.insert(
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("content-type"),
                );
                h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
            }
            h.insert(VARY, HeaderValue::from_static("origin"));
            return Box::pin(async move { Ok(res) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            if let Some(v) = allow {
                res.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, v);
                res.headers_mut()
                    .insert(VARY, HeaderValue::from_static("origin"));
            }
            Ok(res)
        })
    }
}
