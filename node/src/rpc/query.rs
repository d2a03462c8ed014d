//! Read-only methods: blocks, transactions, proofs, accounts, status.
//!
//! Store reads run on tokio's blocking pool: a full block can be megabytes
//! and a proof walks the state tree, neither belongs on a runtime worker.

use std::sync::Arc;

use cairn_ledger::store::Store;
use cairn_ledger::{merkle, Address, Encode, Hash, Height};
use cairn_rpc::{
    AccountInfo, BlockId, BlockView, ErrorCode, HealthInfo, RawBlock, RawBlocks, StatusInfo,
    TransactionInfo, TransactionProof, TxState,
};
use jsonrpsee::core::RpcResult;
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

use super::errors::internal;
use super::RpcContext;
use cairn_rpc::convert::{
    block_view, header_view, hex0x, qc_view, receipt_view, succeeded, tx_view,
};

/// Runs `f` against the store on the blocking pool.
pub async fn with_store<T, F>(store: &Arc<Store>, f: F) -> RpcResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> RpcResult<T> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "rpc: store task failed");
            ErrorCode::Internal.error(
                "the node failed while reading its storage; retry",
                json!({}),
            )
        })?
}

fn tip(store: &Store) -> RpcResult<cairn_ledger::store::Tip> {
    store.tip().map_err(internal)?.ok_or_else(|| {
        ErrorCode::Internal.error(
            "the node has no chain yet; wait for it to initialise",
            json!({}),
        )
    })
}

fn block_not_found(what: String) -> ErrorObjectOwned {
    ErrorCode::BlockNotFound.error(
        format!("no committed block {what}; check the id against `cairn_status` (committedHeight)"),
        json!({ "block": what }),
    )
}

/// `getBlock`.
pub fn get_block(store: &Store, id: BlockId, full: bool) -> RpcResult<BlockView> {
    let block = match &id {
        BlockId::Latest => {
            let t = tip(store)?;
            store.block_by_hash(&t.hash).map_err(internal)?
        }
        BlockId::Height(h) => store.block_at(Height(*h)).map_err(internal)?,
        BlockId::Hash(h) => store.block_by_hash(h).map_err(internal)?,
    };
    let block = block.ok_or_else(|| match &id {
        BlockId::Height(h) => block_not_found(format!("at height {h}")),
        BlockId::Hash(h) => block_not_found(format!("with hash {h}")),
        BlockId::Latest => block_not_found("at the tip".into()),
    })?;
    let qc = store
        .qc_at(block.header.height)
        .map_err(internal)?
        .ok_or_else(|| block_not_found(format!("certificate at height {}", block.header.height)))?;
    Ok(block_view(&block, &qc, full))
}

/// Most blocks one `getRawBlocks` call returns.
pub const MAX_RAW_BLOCKS: u32 = 256;
/// Most block and QC bytes one `getRawBlocks` answer carries (beyond its
/// first block), whatever the response cap: pages stay a modest unit of
/// memory for the server and for auditors holding several in flight.
pub const RAW_BLOCKS_BYTES: usize = 8 << 20;

/// The block and QC bytes one `getRawBlocks` answer may carry under a
/// response cap of `max_response_body_bytes`: hex doubles them, so a third
/// of the cap leaves room for the hashes and the JSON around them; never
/// more than [`RAW_BLOCKS_BYTES`].
pub fn raw_blocks_budget(max_response_body_bytes: u32) -> usize {
    (max_response_body_bytes as usize / 3).min(RAW_BLOCKS_BYTES)
}

/// `getRawBlocks`: consecutive committed blocks from `from`, at most
/// `count` of them and, beyond the first, at most `budget` block and QC
/// bytes (see [`raw_blocks_budget`]).
pub fn get_raw_blocks(store: &Store, from: u64, count: u32, budget: usize) -> RpcResult<RawBlocks> {
    let t = tip(store)?;
    let count = count.clamp(1, MAX_RAW_BLOCKS) as u64;
    let last = t.height.0.min(from.saturating_add(count - 1));
    let mut blocks = Vec::new();
    let mut bytes = 0usize;
    let mut h = from;
    while h <= last {
        let height = Height(h);
        let hash = store
            .block_hash_at(height)
            .map_err(internal)?
            .ok_or_else(|| block_not_found(format!("at height {h}")))?;
        let block = store
            .block_by_hash(&hash)
            .map_err(internal)?
            .ok_or_else(|| block_not_found(format!("with hash {hash}")))?;
        let qc = store
            .qc_at(height)
            .map_err(internal)?
            .ok_or_else(|| block_not_found(format!("certificate at height {h}")))?;
        let raw = block.to_bytes();
        let qc = qc.to_bytes();
        bytes += raw.len() + qc.len();
        if !blocks.is_empty() && bytes > budget {
            break;
        }
        blocks.push(RawBlock {
            height: h,
            hash,
            block: hex0x(&raw),
            qc: hex0x(&qc),
        });
        h += 1;
    }
    Ok(RawBlocks {
        committed_height: t.height.0,
        blocks,
    })
}

/// `getTransaction`: committed (from the store) wins over pending (mempool).
pub fn get_transaction(ctx: &RpcContext, hash: Hash) -> RpcResult<TransactionInfo> {
    let store = &ctx.store;
    if let Some(loc) = store.tx_location(&hash).map_err(internal)? {
        let block = store
            .block_at(loc.height)
            .map_err(internal)?
            .ok_or_else(|| block_not_found(format!("at height {}", loc.height)))?;
        let tx = block.txs.get(loc.index as usize).map(tx_view);
        return Ok(TransactionInfo {
            hash,
            status: if succeeded(&loc.receipt) {
                TxState::Committed
            } else {
                TxState::Failed
            },
            height: Some(loc.height.0),
            block_hash: Some(block.hash()),
            index: Some(loc.index),
            receipt: Some(receipt_view(&loc.receipt)),
            transaction: tx,
        });
    }
    let pending = ctx.mempool.get(&hash);
    Ok(TransactionInfo {
        hash,
        status: if pending.is_some() {
            TxState::Pending
        } else {
            TxState::Unknown
        },
        height: None,
        block_hash: None,
        index: None,
        receipt: None,
        transaction: pending.as_ref().map(tx_view),
    })
}

/// `getTransactionProof`.
pub fn get_transaction_proof(ctx: &RpcContext, hash: Hash) -> RpcResult<TransactionProof> {
    let store = &ctx.store;
    let Some(loc) = store.tx_location(&hash).map_err(internal)? else {
        let hint = if ctx.mempool.contains(&hash) {
            "it is pending; ask again once it is committed"
        } else {
            "check the hash, or submit the transaction"
        };
        return Err(ErrorCode::TransactionNotFound.error(
            format!("transaction {hash} is not committed; {hint}"),
            json!({ "hash": hash }),
        ));
    };
    let block = store
        .block_at(loc.height)
        .map_err(internal)?
        .ok_or_else(|| block_not_found(format!("at height {}", loc.height)))?;
    let qc = store
        .qc_at(loc.height)
        .map_err(internal)?
        .ok_or_else(|| block_not_found(format!("certificate at height {}", loc.height)))?;
    let leaves: Vec<Hash> = block.txs.iter().map(|t| t.hash()).collect();
    let audit_path = merkle::audit_path(&leaves, loc.index as usize).ok_or_else(|| {
        ErrorCode::Internal.error(
            format!(
                "the transaction index points past block {}'s transactions",
                loc.height
            ),
            json!({}),
        )
    })?;
    Ok(TransactionProof {
        hash,
        index: loc.index,
        audit_path,
        header: header_view(&block.header),
        header_raw: hex0x(&block.header.to_bytes()),
        qc: qc_view(&qc),
        receipt: receipt_view(&loc.receipt),
    })
}

/// `getAccount`. Without a proof: the latest committed state. With one: the
/// state at the tip block's certified `stateRoot` (the root a quorum signed).
pub fn get_account(ctx: &RpcContext, address: Address, proof: bool) -> RpcResult<AccountInfo> {
    let store = &ctx.store;
    let t = tip(store)?;
    let pending = ctx.mempool.pending_of(&address) as u64;
    if !proof {
        let account = store.account(&address).map_err(internal)?;
        return Ok(AccountInfo {
            address,
            balance: account.unwrap_or_default().balance,
            nonce: account.unwrap_or_default().nonce,
            height: t.height.0,
            state_root: t.state_root,
            exists: account.is_some(),
            proof: None,
            certified_by: None,
            pending,
        });
    }
    let block = store
        .block_by_hash(&t.hash)
        .map_err(internal)?
        .ok_or_else(|| block_not_found("at the tip".into()))?;
    let height = block.header.state_height;
    let (account, p, root) = store
        .account_with_proof(&address, height)
        .map_err(internal)?;
    if root != block.header.state_root {
        return Err(ErrorCode::Internal.error(
            format!("state root at height {height} is {root} but block {} certifies {}; the data directory is inconsistent", t.hash, block.header.state_root),
            json!({}),
        ));
    }
    Ok(AccountInfo {
        address,
        balance: account.unwrap_or_default().balance,
        nonce: account.unwrap_or_default().nonce,
        height: height.0,
        state_root: root,
        exists: account.is_some(),
        proof: Some(hex0x(&p.to_bytes())),
        certified_by: Some(t.hash),
        pending,
    })
}

/// `status`.
pub fn status(ctx: &RpcContext, genesis_hash: Hash) -> RpcResult<StatusInfo> {
    let t = tip(&ctx.store)?;
    let s = ctx.status.borrow().clone();
    Ok(StatusInfo {
        chain_id: ctx.genesis.chain_id.to_string(),
        genesis_hash,
        committed_height: t.height.0,
        latest_block_hash: t.hash,
        latest_state_root: t.state_root,
        round: s.round.0,
        syncing: s.syncing,
        peers: s.peers,
        mempool_size: ctx.mempool.len() as u64,
        mempool_bytes: ctx.mempool.bytes() as u64,
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// `health`.
pub fn health(ctx: &RpcContext) -> RpcResult<HealthInfo> {
    let t = tip(&ctx.store)?;
    Ok(HealthInfo {
        status: "ok".into(),
        committed_height: t.height.0,
        syncing: ctx.status.borrow().syncing,
    })
}
