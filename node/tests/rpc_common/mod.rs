//! A real RPC server over a real RocksDB store (genesis from cairn-genesis)
//! and a real mempool, with no consensus: tests commit blocks into the store
//! directly, certified by the single validator's vote.
#![allow(clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cairn_driver::{CommittedBlock, NodeStatus};
use cairn_genesis::{build_genesis_state, testnet_deterministic, Genesis, GenesisTime, KeyFile};
use cairn_ledger::store::Store;
use cairn_ledger::{
    Amount, Block, BlockHeader, ChainId, Committee, Encode, QuorumCertificate, SignedTransaction,
    Transaction, Vote,
};
use cairn_mempool::{Mempool, MempoolConfig};
use cairn_node::rpc::{start, RpcConfig, RpcContext};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::server::ServerHandle;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, watch};

pub const BALANCE: u64 = 1_000_000;
pub const ACCOUNTS: usize = 4;
/// The committed-block channel's capacity here: small, so that a burst of
/// commits makes a subscriber lag (the node's is 256).
pub const COMMITTED_CAPACITY: usize = 8;

pub fn chain() -> ChainId {
    ChainId::new("cairn-rpc-test").unwrap()
}

pub struct TestNode {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub mempool: Arc<Mempool>,
    pub status: watch::Sender<NodeStatus>,
    /// What the driver would publish on each commit ([`TestNode::commit`] does).
    pub committed: broadcast::Sender<CommittedBlock>,
    pub genesis: Genesis,
    pub committee: Committee,
    pub validator: KeyFile,
    pub accounts: Vec<KeyFile>,
    pub addr: SocketAddr,
    pub handle: ServerHandle,
}

pub fn small_mempool() -> MempoolConfig {
    MempoolConfig {
        max_txs: 50,
        max_per_sender: 16,
        nonce_window: 32,
        ..MempoolConfig::default()
    }
}

impl TestNode {
    pub async fn start() -> TestNode {
        Self::start_with(small_mempool(), RpcConfig::default()).await
    }

    pub async fn start_with(mempool: MempoolConfig, rpc: RpcConfig) -> TestNode {
        let (genesis, validators, accounts) = testnet_deterministic(
            chain(),
            1,
            ACCOUNTS,
            Amount(BALANCE),
            7,
            GenesisTime::from_unix_ms(1_700_000_000_000),
        )
        .unwrap();
        let state = build_genesis_state(&genesis).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        store.init_genesis(&state.block, &state.accounts).unwrap();
        let mempool = Arc::new(Mempool::new(mempool, chain()));
        let (status, status_rx) = watch::channel(NodeStatus::default());
        let (committed, _) = broadcast::channel(COMMITTED_CAPACITY);
        let ctx = RpcContext {
            store: store.clone(),
            mempool: mempool.clone(),
            status: status_rx,
            genesis: Arc::new(genesis.clone()),
            committed: committed.clone(),
        };
        let config = RpcConfig {
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            poll_interval_ms: 10,
            ..rpc
        };
        let (addr, handle) = start(config, ctx).await.unwrap();
        TestNode {
            dir,
            store,
            mempool,
            status,
            committed,
            genesis,
            committee: state.committee,
            validator: validators.into_iter().next().unwrap(),
            accounts,
            addr,
            handle,
        }
    }

    pub async fn stop(self) {
        self.handle.stop().unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.handle.clone().stopped())
            .await
            .unwrap();
    }

    pub fn http(&self) -> HttpClient {
        HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(20))
            .build(format!("http://{}", self.addr))
            .unwrap()
    }

    pub async fn ws(&self) -> WsClient {
        WsClientBuilder::default()
            .request_timeout(Duration::from_secs(20))
            .build(format!("ws://{}", self.addr))
            .await
            .unwrap()
    }

    /// A signed transfer from account `from` to account `to`.
    pub fn transfer(&self, from: usize, to: usize, amount: u64, nonce: u64) -> SignedTransaction {
        self.transfer_on(chain(), from, to, amount, nonce)
    }

    pub fn transfer_on(
        &self,
        chain: ChainId,
        from: usize,
        to: usize,
        amount: u64,
        nonce: u64,
    ) -> SignedTransaction {
        let key = self.accounts[from].secret();
        Transaction {
            chain_id: chain,
            from: key.address(),
            to: self.accounts[to].address(),
            amount: Amount(amount),
            nonce,
            memo: b"rpc test".to_vec(),
        }
        .sign(key)
    }

    /// Commits a block with `txs` on the tip (as consensus would, with one
    /// validator's QC), then tells the mempool and the subscribers.
    pub fn commit(&self, txs: Vec<SignedTransaction>) -> Block {
        let (block, state_root) = self.commit_unannounced(txs);
        let _ = self.committed.send(CommittedBlock {
            block: Arc::new(block.clone()),
            state_root,
        });
        block
    }

    /// [`TestNode::commit`] without the notification (as a block that
    /// reached the store some other way): the block and its state root.
    pub fn commit_unannounced(&self, txs: Vec<SignedTransaction>) -> (Block, cairn_ledger::Hash) {
        let tip = self.store.tip().unwrap().unwrap();
        let parent_qc = self.store.qc_at(tip.height).unwrap().unwrap();
        let header = BlockHeader {
            chain_id: chain(),
            height: tip.height.next(),
            round: cairn_ledger::Round(tip.height.0 + 1),
            parent_hash: tip.hash,
            proposer: self.validator.address(),
            timestamp_ms: 1_700_000_000_000 + tip.height.0 + 1,
            tx_root: Block::compute_tx_root(&txs),
            tx_count: txs.len() as u32,
            state_root: tip.state_root,
            state_height: tip.height,
            justify: parent_qc,
            timeout_cert: None,
        };
        let block = Block { header, txs };
        let qc = self.qc_for(&block);
        let committed = self.store.commit_block(&block, &qc).unwrap();
        self.mempool.on_commit(&block.txs, &*self.store).unwrap();
        (block, committed.state_root)
    }

    pub fn qc_for(&self, block: &Block) -> QuorumCertificate {
        let h = &block.header;
        let vote = Vote::sign(
            &chain(),
            block.hash(),
            h.height,
            h.round,
            0,
            self.validator.secret(),
        );
        QuorumCertificate {
            block_hash: vote.block_hash,
            height: vote.height,
            round: vote.round,
            signatures: vec![(0, vote.signature)],
        }
    }
}

pub fn raw_hex(tx: &SignedTransaction) -> String {
    format!("0x{}", hex::encode(tx.to_bytes()))
}

/// A raw HTTP/1.1 exchange on a fresh connection: (status code, body).
pub async fn http_raw(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = http_exchange(addr, method, path, "", body).await;
    (status, body)
}

/// A raw HTTP/1.1 exchange with extra header lines (each ending in
/// `\r\n`): (status code, response head, body).
pub async fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, String) {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        // The server may answer (e.g. 413) and close before reading it all.
        let _ = s.write_all(body).await;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        buf
    };
    let buf = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, head.to_string(), body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// POSTs a JSON-RPC body and parses the JSON answer.
pub async fn post_json(addr: SocketAddr, body: &str) -> (u16, serde_json::Value) {
    let (status, text) = http_raw(addr, "POST", "/", body.as_bytes()).await;
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, value)
}

/// A single call's JSON-RPC error code and message.
pub async fn call_error(
    addr: SocketAddr,
    method: &str,
    params: serde_json::Value,
) -> (i64, String, serde_json::Value) {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (_, v) = post_json(addr, &body.to_string()).await;
    let e = &v["error"];
    assert!(
        e.is_object(),
        "{method} {params}: expected an error, got {v}"
    );
    (
        e["code"].as_i64().unwrap(),
        e["message"].as_str().unwrap().to_string(),
        e["data"].clone(),
    )
}
