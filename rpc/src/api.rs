//! The API trait. jsonrpsee's macro turns it into `CairnApiServer` (the node
//! implements it) and `CairnApiClient` (an extension trait on jsonrpsee's
//! HTTP and WebSocket clients).
//!
//! Parameters that carry bytes (raw transactions, hashes, addresses) are
//! taken as strings and parsed by the node, so a malformed one gets Cairn's
//! own error code (see [`crate::ErrorCode`]) with a message that says what to
//! fix, rather than a generic "invalid params".

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;

use crate::types::{
    AccountInfo, BlockId, BlockView, GenesisInfo, HealthInfo, NewBlock, RawBlocks, StatusInfo,
    SubmitOutcome, TransactionInfo, TransactionProof, ValidatorsInfo,
};
use cairn_ledger::Hash;

/// Cairn's JSON-RPC API; every method is called as `cairn_<name>`.
#[rpc(server, client, namespace = "cairn")]
pub trait CairnApi {
    /// Submits one signed transaction (`0x` + hex of its canonical bytes).
    /// Returns its hash. Idempotent: submitting a transaction that is
    /// already pending or committed returns the same hash and no error.
    #[method(name = "submitTransaction")]
    async fn submit_transaction(&self, raw: String) -> RpcResult<Hash>;

    /// Submits many signed transactions at once (signatures are verified in
    /// one batch). One outcome per item, in order: a hash or an error.
    #[method(name = "submitTransactions")]
    async fn submit_transactions(&self, raws: Vec<String>) -> RpcResult<Vec<SubmitOutcome>>;

    /// A transaction's status (pending, committed, failed or unknown), its
    /// block, position and receipt.
    #[method(name = "getTransaction")]
    async fn get_transaction(&self, hash: String) -> RpcResult<TransactionInfo>;

    /// The RFC 6962 inclusion proof of a committed transaction in its
    /// block's `txRoot`, with the block header and the QC that certifies it.
    #[method(name = "getTransactionProof")]
    async fn get_transaction_proof(&self, hash: String) -> RpcResult<TransactionProof>;

    /// A committed block by height, hash or `"latest"`, with the QC that
    /// certifies it; `full: true` returns whole transactions instead of hashes.
    #[method(name = "getBlock")]
    async fn get_block(&self, block: BlockId, full: Option<bool>) -> RpcResult<BlockView>;

    /// Consecutive committed blocks from height `from` (default 0) in their
    /// canonical bytes, each with the canonical bytes of its QC: at most
    /// `count` blocks (default 16, at most 256) and about 8 MiB of block
    /// bytes (always at least one block when `from` is committed). For
    /// auditors that recompute hashes and check signatures themselves.
    #[method(name = "getRawBlocks")]
    async fn get_raw_blocks(&self, from: Option<u64>, count: Option<u32>) -> RpcResult<RawBlocks>;

    /// An account's balance and nonce in the latest committed state; with
    /// `proof: true`, at the latest certified state root, with its proof.
    #[method(name = "getAccount")]
    async fn get_account(&self, address: String, proof: Option<bool>) -> RpcResult<AccountInfo>;

    /// The validator set from genesis.
    #[method(name = "getValidators")]
    async fn get_validators(&self) -> RpcResult<ValidatorsInfo>;

    /// The genesis file and the genesis block hash.
    #[method(name = "getGenesis")]
    async fn get_genesis(&self) -> RpcResult<GenesisInfo>;

    /// Chain id, heights, round, sync state, peers, mempool size.
    #[method(name = "status")]
    async fn status(&self) -> RpcResult<StatusInfo>;

    /// Liveness: `"ok"` and the committed height. Also `GET /health`.
    #[method(name = "health")]
    async fn health(&self) -> RpcResult<HealthInfo>;

    /// Notifies every newly committed block (WebSocket only).
    #[subscription(name = "subscribeNewBlocks" => "newBlock", unsubscribe = "unsubscribeNewBlocks", item = NewBlock)]
    async fn subscribe_new_blocks(&self) -> SubscriptionResult;

    /// Notifies once, when the transaction is committed or fails, then
    /// closes (WebSocket only).
    #[subscription(name = "subscribeTransaction" => "transaction", unsubscribe = "unsubscribeTransaction", item = TransactionInfo)]
    async fn subscribe_transaction(&self, hash: String) -> SubscriptionResult;
}
