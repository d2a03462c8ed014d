//! CORS, so a web page can call the API (DESIGN §1: "any JSON-RPC client
//! (curl, a browser, ...)"). Nothing the API offers is privileged — the
//! node holds no user keys and accepts only signed transactions — so the
//! default allows every origin; `rpc.cors_allowed_origins` narrows it.
//!
//! `tower-http`'s [`CorsLayer`] does the work: it answers every `OPTIONS`
//! request as a preflight (200, empty body) and adds
//! `Access-Control-Allow-Origin` to other responses when the request's
//! `Origin` is allowed. This module only turns the configured list into it.

use std::time::Duration;

use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::InvalidValue;

/// How long a browser may cache a preflight answer.
const MAX_AGE: Duration = Duration::from_secs(86_400);

/// The CORS layer for `allowed`: `"*"` in the list allows every origin, an
/// empty list none; otherwise exactly the origins listed (each must be a
/// valid header value, e.g. `https://explorer.example`).
pub fn layer(allowed: &[String]) -> Result<CorsLayer, InvalidValue> {
    let origin = if allowed.iter().any(|a| a == "*") {
        AllowOrigin::any()
    } else {
        let origins = allowed
            .iter()
            .map(|a| {
                HeaderValue::from_str(a).map_err(|_| {
                    InvalidValue::new(
                        "rpc.cors_allowed_origins",
                        format!("{a:?} is not a valid origin; write it as scheme://host[:port]"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(origins)
    };
    Ok(CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers([CONTENT_TYPE])
        .max_age(MAX_AGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_that_are_not_header_values_name_the_key() {
        assert!(layer(&["*".into()]).is_ok());
        assert!(layer(&[]).is_ok());
        // `*` among others still means every origin (AllowOrigin::list would panic).
        assert!(layer(&["https://a.example".into(), "*".into()]).is_ok());
        let e = layer(&["https://a.example\n".into()]).unwrap_err();
        assert_eq!(e.key, "rpc.cors_allowed_origins");
        assert!(e.reason.contains("not a valid origin"), "{e}");
    }
}
