//! An RPC middleware that refuses calls with more positional parameters than
//! the method takes. jsonrpsee ignores extra ones; a caller who sends three
//! parameters to a one-parameter method has made a mistake worth reporting.

use std::future::Future;

use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, BatchEntryErr, MethodResponse, Notification, RpcServiceT,
};
use jsonrpsee::types::{ErrorCode, ErrorObject, ErrorObjectOwned, Request};
use serde_json::value::RawValue;

/// Most positional parameters of each method (methods not listed: no check).
fn arity(method: &str) -> Option<usize> {
    Some(match method {
        "cairn_submitTransaction"
        | "cairn_submitTransactions"
        | "cairn_getTransaction"
        | "cairn_getTransactionProof"
        | "cairn_subscribeTransaction" => 1,
        "cairn_getBlock" | "cairn_getAccount" => 2,
        "cairn_getValidators"
        | "cairn_getGenesis"
        | "cairn_status"
        | "cairn_health"
        | "cairn_subscribeNewBlocks" => 0,
        _ => return None,
    })
}

/// The error for a call with too many positional parameters, if it has them.
fn check(method: &str, params: Option<&RawValue>) -> Option<ErrorObjectOwned> {
    let max = arity(method)?;
    let params = params?;
    // Only arrays are counted; named parameters are checked by serde.
    let list: Vec<&RawValue> = serde_json::from_str(params.get()).ok()?;
    (list.len() > max).then(|| {
        ErrorObject::owned(
            ErrorCode::InvalidParams.code(),
            format!(
                "{method} takes at most {max} parameter(s) but got {}; see docs/RPC.md",
                list.len()
            ),
            None::<()>,
        )
    })
}

/// The middleware (see the module docs).
#[derive(Clone, Debug)]
pub struct ParamCount<S> {
    inner: S,
}

impl<S> ParamCount<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        ParamCount { inner }
    }
}

impl<S> RpcServiceT for ParamCount<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let refused = check(&req.method, req.params.as_deref());
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
                Ok(BatchEntry::Call(req)) => check(&req.method, req.params.as_deref())
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

    #[test]
    fn counts_positional_parameters_only() {
        let raw = |s: &str| RawValue::from_string(s.to_string()).unwrap();
        assert!(check("cairn_getTransaction", Some(&raw(r#"["0x1"]"#))).is_none());
        assert!(check("cairn_getTransaction", Some(&raw(r#"["0x1","0x2"]"#))).is_some());
        assert!(check("cairn_getBlock", Some(&raw(r#"[1,true]"#))).is_none());
        assert!(check("cairn_status", Some(&raw(r#"[1]"#))).is_some());
        assert!(check("cairn_status", Some(&raw(r#"{"a":1}"#))).is_none());
        assert!(check("cairn_unknown", Some(&raw(r#"[1,2,3]"#))).is_none());
        assert!(check("cairn_status", None).is_none());
    }
}
