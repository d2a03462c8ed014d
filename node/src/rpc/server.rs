//! The `CairnApiServer` implementation and the server's start-up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_genesis::Genesis;
use cairn_ledger::store::StoreError;
use cairn_ledger::{Address, Hash};
use cairn_rpc::{
    AccountInfo, BlockId, BlockView, CairnApiServer, ErrorCode, GenesisInfo, HealthInfo, RawBlocks,
    StatusInfo, SubmitOutcome, TransactionInfo, TransactionProof, ValidatorInfo, ValidatorsInfo,
};
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::server::middleware::http::ProxyGetRequestLayer;
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    serve_with_graceful_shutdown, stop_channel, BatchRequestConfig, Methods,
    PendingSubscriptionSink, Server, ServerConfig, ServerHandle, StopHandle, TowerServiceBuilder,
};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;
use tokio::net::TcpListener;
use tower::layer::util::{Identity, Stack};
use tower::Service;
use tower_http::cors::CorsLayer;

use super::cors;
use super::errors::{item, parse_32, parse_hash, parse_hex, rejection};
use super::params::ParamCount;
use super::ratelimit::{RateLimit, SubmitLimiter};
use super::{query, subscribe, RpcConfig, RpcContext};
use crate::config::InvalidValue;
use cairn_mempool::MempoolError;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcStartError {
    /// A setting is out of range (the key and why).
    #[error("invalid RPC configuration: {0}")]
    Config(#[from] InvalidValue),
    /// The store could not be read, or holds no chain.
    #[error("cannot serve RPC: {0}")]
    Store(#[from] StoreError),
    /// The genesis file does not describe a valid validator set.
    #[error("cannot serve RPC: {0}")]
    Genesis(String),
    /// The address could not be bound.
    #[error("cannot listen for RPC on {addr}: {source}; pick another rpc.listen_addr or stop what uses it")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The API's implementation: the context plus what is fixed at start.
struct CairnRpc {
    ctx: RpcContext,
    config: RpcConfig,
    genesis_hash: Hash,
    validators: ValidatorsInfo,
    genesis_json: serde_json::Value,
}

/// Starts the JSON-RPC server (HTTP and WebSocket on `config.listen_addr`,
/// plus `GET /health`). Returns the bound address (useful with port 0) and
/// the handle that stops it.
pub async fn start(
    config: RpcConfig,
    ctx: RpcContext,
) -> Result<(SocketAddr, ServerHandle), RpcStartError> {
    config.validate()?;
    let genesis_hash = ctx
        .store
        .genesis_hash()?
        .ok_or(StoreError::NotInitialized)?;
    let validators = validators_info(&ctx.genesis)?;
    let genesis_json =
        serde_json::to_value(&*ctx.genesis).map_err(|e| RpcStartError::Genesis(e.to_string()))?;
    let builder = service_builder(&config)?;
    let bind_error = |source| RpcStartError::Bind {
        addr: config.listen_addr,
        source,
    };
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let api = CairnRpc {
        ctx: ctx.clone(),
        config: config.clone(),
        genesis_hash,
        validators,
        genesis_json,
    };
    let (stop, handle) = stop_channel();
    let limiter = Arc::new(SubmitLimiter::new(
        config.submit_rate_per_ip,
        config.submit_burst_per_ip,
    ));
    tokio::spawn(accept_loop(
        listener,
        builder,
        api.into_rpc().into(),
        stop,
        limiter,
    ));
    tracing::info!(%addr, "JSON-RPC server listening (HTTP and WebSocket)");
    Ok((addr, handle))
}

/// The validator set as `getValidators` returns it.
fn validators_info(genesis: &Genesis) -> Result<ValidatorsInfo, RpcStartError> {
    let set = genesis
        .validator_set()
        .map_err(|e| RpcStartError::Genesis(e.to_string()))?;
    Ok(ValidatorsInfo {
        total_power: set.total_power(),
        quorum_power: set.quorum_power(),
        validators: genesis
            .validators
            .iter()
            .enumerate()
            .map(|(i, v)| ValidatorInfo {
                index: i as u16,
                name: v.name.clone(),
                address: v.address,
                power: v.power,
            })
            .collect(),
    })
}

type HttpLayers = Stack<ProxyGetRequestLayer, Stack<CorsLayer, Identity>>;

/// jsonrpsee's per-connection service factory with the limits and the HTTP
/// layers (CORS outermost, then `GET /health`).
fn service_builder(
    config: &RpcConfig,
) -> Result<TowerServiceBuilder<Identity, HttpLayers>, RpcStartError> {
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .build();
    let health =
        ProxyGetRequestLayer::new([("/health", "cairn_health")]).expect("/health is a valid path");
    Ok(Server::builder()
        .set_config(server_config)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(cors::layer(&config.cors_allowed_origins)?)
                .layer(health),
        )
        .to_service_builder())
}

/// Accepts connections until the server stops. jsonrpsee's own loop does not
/// tell methods the client's address; this one gives each connection an RPC
/// middleware stack that knows it (for the per-IP submission limit).
async fn accept_loop(
    listener: TcpListener,
    builder: TowerServiceBuilder<Identity, HttpLayers>,
    methods: Methods,
    stop: StopHandle,
    limiter: Arc<SubmitLimiter>,
) {
    loop {
        let (socket, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "rpc: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.clone().shutdown() => break,
        };
        let ip = remote.ip();
        let limiter = limiter.clone();
        let builder = builder.clone().set_rpc_middleware(
            RpcServiceBuilder::new()
                .layer_fn(move |s| RateLimit::new(s, ip, limiter.clone()))
                .layer_fn(ParamCount::new),
        );
        let methods = methods.clone();
        let conn_stop = stop.clone();
        let svc = tower::service_fn(move |req| {
            let mut svc = builder.clone().build(methods.clone(), conn_stop.clone());
            async move { svc.call(req).await }
        });
        tokio::spawn(serve_with_graceful_shutdown(
            socket,
            svc,
            stop.clone().shutdown(),
        ));
    }
}

fn parse_address(s: &str) -> RpcResult<Address> {
    parse_32(s, "address").map(Address)
}

impl CairnRpc {
    /// Hex-decodes a raw transaction, refusing oversized input before decoding it.
    fn raw_bytes(&self, raw: &str) -> RpcResult<Vec<u8>> {
        let max = self.ctx.mempool.config().max_tx_bytes;
        let digits = raw.len().saturating_sub(2);
        if digits > 2 * max + 1 {
            return Err(rejection(&MempoolError::TooLarge {
                len: digits / 2,
                max,
            }));
        }
        parse_hex(raw, "raw transaction")
    }

    async fn submit(&self, raws: Vec<String>) -> Vec<Result<Hash, ErrorObjectOwned>> {
        let mut out: Vec<Option<Result<Hash, ErrorObjectOwned>>> = Vec::with_capacity(raws.len());
        let mut bytes = Vec::with_capacity(raws.len());
        let mut positions = Vec::with_capacity(raws.len());
        for (i, raw) in raws.iter().enumerate() {
            match self.raw_bytes(raw) {
                Ok(b) => {
                    out.push(None);
                    bytes.push(b);
                    positions.push(i);
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        let results = self.ctx.mempool.submit(bytes, &*self.ctx.store).await;
        for (i, r) in positions.into_iter().zip(results) {
            out[i] = Some(r.map_err(|e| rejection(&e)));
        }
        out.into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(ErrorCode::Internal.error("submission lost", json!({}))))
            })
            .collect()
    }
}

#[async_trait]
impl CairnApiServer for CairnRpc {
    async fn submit_transaction(&self, raw: String) -> RpcResult<Hash> {
        self.submit(vec![raw]).await.remove(0)
    }

    async fn submit_transactions(&self, raws: Vec<String>) -> RpcResult<Vec<SubmitOutcome>> {
        let max = self.config.max_submit_batch as usize;
        if raws.len() > max {
            return Err(ErrorCode::TooManyItems.error(
                format!("submitTransactions got {} transactions, above this node's limit of {max}; split them into smaller calls", raws.len()),
                json!({ "items": raws.len(), "max": max }),
            ));
        }
        Ok(self
            .submit(raws)
            .await
            .into_iter()
            .map(|r| match r {
                Ok(hash) => SubmitOutcome {
                    hash: Some(hash),
                    error: None,
                },
                Err(e) => SubmitOutcome {
                    hash: None,
                    error: Some(item(e)),
                },
            })
            .collect())
    }

    async fn get_transaction(&self, hash: String) -> RpcResult<TransactionInfo> {
        let hash = parse_hash(&hash, "hash")?;
        let ctx = self.ctx.clone();
        query::with_store(&self.ctx.store, move |_| query::get_transaction(&ctx, hash)).await
    }

    async fn get_transaction_proof(&self, hash: String) -> RpcResult<TransactionProof> {
        let hash = parse_hash(&hash, "hash")?;
        let ctx = self.ctx.clone();
        query::with_store(&self.ctx.store, move |_| {
            query::get_transaction_proof(&ctx, hash)
        })
        .await
    }

    async fn get_block(&self, block: BlockId, full: Option<bool>) -> RpcResult<BlockView> {
        let full = full.unwrap_or(false);
        query::with_store(&self.ctx.store, move |s| query::get_block(s, block, full)).await
    }

    async fn get_raw_blocks(&self, from: Option<u64>, count: Option<u32>) -> RpcResult<RawBlocks> {
        let from = from.unwrap_or(0);
        let count = count.unwrap_or(16);
        let budget = query::raw_blocks_budget(self.config.max_response_body_bytes);
        query::with_store(&self.ctx.store, move |s| {
            query::get_raw_blocks(s, from, count, budget)
        })
        .await
    }

    async fn get_account(&self, address: String, proof: Option<bool>) -> RpcResult<AccountInfo> {
        let address = parse_address(&address)?;
        let ctx = self.ctx.clone();
        let proof = proof.unwrap_or(false);
        query::with_store(&self.ctx.store, move |_| {
            query::get_account(&ctx, address, proof)
        })
        .await
    }

    async fn get_validators(&self) -> RpcResult<ValidatorsInfo> {
        Ok(self.validators.clone())
    }

    async fn get_genesis(&self) -> RpcResult<GenesisInfo> {
        Ok(GenesisInfo {
            genesis_hash: self.genesis_hash,
            genesis: self.genesis_json.clone(),
        })
    }

    async fn status(&self) -> RpcResult<StatusInfo> {
        query::status(&self.ctx, self.genesis_hash)
    }

    async fn health(&self) -> RpcResult<HealthInfo> {
        query::health(&self.ctx)
    }

    async fn subscribe_new_blocks(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let committed = self.ctx.committed.subscribe();
        subscribe::new_blocks(pending, self.ctx.store.clone(), committed).await
    }

    async fn subscribe_transaction(
        &self,
        pending: PendingSubscriptionSink,
        hash: String,
    ) -> SubscriptionResult {
        let committed = self.ctx.committed.subscribe();
        subscribe::transaction(pending, self.ctx.clone(), committed, hash).await
    }
}
