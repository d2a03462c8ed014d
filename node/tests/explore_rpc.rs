//! The explorer and the remote audit against a real RPC server over a real
//! store (a chain built by `audit_common`): the `cairn explore` commands
//! print the right values and verify their proofs; tampered proofs are
//! rejected, and so are answers about another transaction or account than
//! the one asked for; `cairn audit --rpc` agrees with the offline audit,
//! catches a corrupted node, refuses a node answering with more blocks than
//! asked, and copes with a node whose small response cap shortens pages.
#![allow(clippy::unwrap_used)]

mod audit_common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use audit_common::ChainBuilder;
use cairn_audit::proofs::{verify_account_proof, verify_tx_answer, verify_tx_proof};
use cairn_audit::{self as audit, AuditError, AuditOptions, BlockSource, RpcSource, StoreSource};
use cairn_driver::{CommittedBlock, NodeStatus};
use cairn_genesis::{build_genesis_state, Genesis};
use cairn_ledger::store::Store;
use cairn_ledger::{Address, Encode, Hash, Height, QuorumCertificate, SignedTransaction};
use cairn_mempool::{Mempool, MempoolConfig};
use cairn_node::rpc::{start, RpcConfig, RpcContext};
use cairn_rpc::CairnApiClient;
use jsonrpsee::server::ServerHandle;
use rand::SeedableRng;
use serde_json::Value;

const TIP: u64 = 10;

struct Served {
    _dir: tempfile::TempDir,
    home: PathBuf,
    addr: SocketAddr,
    handle: ServerHandle,
    feeds: Feeds,
    txs: Vec<SignedTransaction>,
    accounts: Vec<cairn_genesis::KeyFile>,
    builder: ChainBuilder,
}

fn build(home: &Path) -> (ChainBuilder, Vec<SignedTransaction>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut c = ChainBuilder::new(home, 8);
    let mut all = Vec::new();
    for h in 1..=TIP {
        let txs = if h == 4 {
            vec![]
        } else {
            c.transfers(25, &mut rng)
        };
        all.extend(txs.iter().cloned());
        c.commit(txs, h == 6);
    }
    (c, all)
}

/// What a driver would feed the server: its status, and committed blocks
/// (the tests commit into the store and announce them here).
type Feeds = (
    tokio::sync::watch::Sender<NodeStatus>,
    tokio::sync::broadcast::Sender<CommittedBlock>,
);

async fn serve_store(store: Arc<Store>, genesis: Genesis) -> (SocketAddr, ServerHandle, Feeds) {
    serve_store_with(store, genesis, RpcConfig::default().max_response_body_bytes).await
}

async fn serve_store_with(
    store: Arc<Store>,
    genesis: Genesis,
    max_response_body_bytes: u32,
) -> (SocketAddr, ServerHandle, Feeds) {
    let (status, status_rx) = tokio::sync::watch::channel(NodeStatus::default());
    let (committed, _) = tokio::sync::broadcast::channel(16);
    let ctx = RpcContext {
        store,
        mempool: Arc::new(Mempool::new(
            MempoolConfig::default(),
            genesis.chain_id.clone(),
        )),
        status: status_rx,
        genesis: Arc::new(genesis),
        committed: committed.clone(),
    };
    let config = RpcConfig {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        poll_interval_ms: 10,
        max_response_body_bytes,
        ..RpcConfig::default()
    };
    let (addr, handle) = start(config, ctx).await.unwrap();
    (addr, handle, (status, committed))
}

async fn fresh() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (builder, txs) = build(&home);
    let (addr, handle, feeds) = serve_store(builder.store.clone(), builder.genesis.clone()).await;
    Served {
        _dir: dir,
        home,
        addr,
        handle,
        feeds,
        txs,
        accounts: builder.accounts.clone(),
        builder,
    }
}

impl Served {
    /// Tells subscribers about `block`, just committed into the store.
    fn announce(&self, block: &cairn_ledger::Block) {
        let state_root = self
            .builder
            .store
            .state_root_at(block.header.height)
            .unwrap();
        let _ = self.feeds.1.send(CommittedBlock {
            block: Arc::new(block.clone()),
            state_root,
        });
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn cairn(&self, args: &[&str]) -> (i32, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.args(args);
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || cmd.output().unwrap()),
        )
        .await
        .unwrap()
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            eprintln!("stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
        (out.status.code().unwrap_or(-1), text)
    }

    async fn explore(&self, args: &[&str]) -> String {
        let url = self.url();
        let mut all = vec!["explore", "--rpc", &url];
        all.extend_from_slice(args);
        let (code, text) = self.cairn(&all).await;
        assert_eq!(code, 0, "cairn {all:?}: {text}");
        text
    }

    async fn explore_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.explore(&all).await).unwrap()
    }

    fn client(&self) -> jsonrpsee::http_client::HttpClient {
        jsonrpsee::http_client::HttpClientBuilder::default()
            .build(self.url())
            .unwrap()
    }

    async fn stop(self) {
        self.handle.stop().unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.handle.clone().stopped())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explorer_shows_and_verifies() {
    let node = fresh().await;
    let store = Store::open_read_only(&node.home.join("data")).unwrap();
    let tip = store.tip().unwrap().unwrap();

    let s = node.explore_json(&["status"]).await;
    assert_eq!(s["committedHeight"], TIP);
    assert_eq!(s["latestBlockHash"], tip.hash.to_string());
    assert!(node
        .explore(&["status"])
        .await
        .contains(&format!("height       {TIP}")));

    let b = node.explore_json(&["block", "3"]).await;
    let b3 = store.block_at(Height(3)).unwrap().unwrap();
    assert_eq!(b["header"]["hash"], b3.hash().to_string());
    assert_eq!(b["header"]["txCount"], 25);
    let latest = node.explore_json(&["block", "latest"]).await;
    assert_eq!(latest["header"]["hash"], tip.hash.to_string());
    let by_hash = node.explore(&["block", &b3.hash().to_string()]).await;
    assert!(
        by_hash.contains(&format!("height       3\nhash         {}", b3.hash())),
        "{by_hash}"
    );

    // The table: a header and one aligned row per block.
    let table = node.explore(&["blocks", "--from", "2", "--to", "5"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[0].starts_with("HEIGHT")
            && lines[0].contains("PROPOSER")
            && lines[0].ends_with("HASH")
    );
    let col = lines[0].find("HASH").unwrap();
    for (line, h) in lines[1..].iter().zip(2u64..) {
        let block = store.block_at(Height(h)).unwrap().unwrap();
        assert_eq!(&line[col..], block.hash().to_string(), "{table}");
        assert!(line.trim_start().starts_with(&h.to_string()));
        // The proposer by its index in the validator set (who leads a round
        // follows leader reputation, so it is read from the block).
        let proposer = node
            .builder
            .state
            .committee
            .validators
            .index_of(&block.header.proposer)
            .unwrap();
        assert!(line.contains(&format!("validator-{proposer}")), "{line}");
    }
    assert_eq!(
        node.explore_json(&["blocks", "--from", "1", "--to", "10"])
            .await
            .as_array()
            .unwrap()
            .len(),
        10
    );

    let v = node.explore_json(&["validators"]).await;
    assert_eq!(v["validators"].as_array().unwrap().len(), 4);
    assert_eq!(v["quorumPower"], 3);
    assert!(node.explore(&["validators"]).await.contains("validator-3"));

    // A transaction: fields, receipt and a locally verified proof.
    let tx = &node.txs[60];
    let loc = store.tx_location(&tx.hash()).unwrap().unwrap();
    let t = node.explore_json(&["tx", &tx.hash().to_string()]).await;
    assert_eq!(
        t["transaction"]["transaction"]["from"],
        tx.tx().from.to_string()
    );
    assert_eq!(
        t["transaction"]["transaction"]["amount"],
        tx.tx().amount.0.to_string()
    );
    assert_eq!(t["transaction"]["height"], loc.height.0);
    assert_eq!(
        t["transaction"]["receipt"]["status"],
        loc.receipt.status.name()
    );
    assert_eq!(t["proof"]["verified"], true);
    assert_eq!(t["proof"]["height"], loc.height.0);
    assert_eq!(t["proof"]["qcSigners"], 3);
    let text = node.explore(&["tx", &tx.hash().to_string()]).await;
    assert!(text.contains("proof     verified"), "{text}");

    // An account: balance and nonce at the certified root, proof verified.
    let who = node.accounts[2].address();
    let a = node.explore_json(&["account", &who.to_string()]).await;
    assert_eq!(a["verified"], true);
    let certified_height = a["account"]["height"].as_u64().unwrap();
    let acct = store
        .account_with_proof(&who, Height(certified_height))
        .unwrap()
        .0
        .unwrap();
    assert_eq!(a["account"]["balance"], acct.balance.0.to_string());
    assert_eq!(a["account"]["nonce"], acct.nonce);
    assert!(node
        .explore(&["account", &who.to_string()])
        .await
        .contains("proof     verified"));

    // An unknown transaction is not an error but has no proof.
    let unknown = node
        .explore_json(&["tx", &Hash::digest(b"nope").to_string()])
        .await;
    assert_eq!(unknown["transaction"]["status"], "unknown");
    assert!(unknown["proof"].is_null());
    drop(store);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_proofs_are_rejected() {
    let node = fresh().await;
    let c = node.client();
    let genesis =
        build_genesis_state(&Genesis::load(node.home.join("genesis.json")).unwrap()).unwrap();
    let committee = &genesis.committee;

    let proof = c
        .get_transaction_proof(node.txs[30].hash().to_string())
        .await
        .unwrap();
    verify_tx_proof(&proof, committee).unwrap();
    let mut bad = proof.clone();
    bad.audit_path[0].0[5] ^= 1;
    assert!(
        verify_tx_proof(&bad, committee).is_err(),
        "a changed sibling"
    );
    let mut bad = proof.clone();
    bad.index ^= 1;
    assert!(
        verify_tx_proof(&bad, committee).is_err(),
        "another leaf index"
    );
    let mut bad = proof.clone();
    bad.hash = node.txs[31].hash();
    assert!(
        verify_tx_proof(&bad, committee).is_err(),
        "another transaction"
    );
    let mut bad = proof.clone();
    let mut sig = bad.qc.signatures[1].signature.clone().into_bytes();
    sig[10] = if sig[10] == b'a' { b'b' } else { b'a' };
    bad.qc.signatures[1].signature = String::from_utf8(sig).unwrap();
    assert!(
        verify_tx_proof(&bad, committee).is_err(),
        "a forged QC signature"
    );
    let mut bad = proof.clone();
    bad.qc.signatures.pop();
    assert!(
        verify_tx_proof(&bad, committee).is_err(),
        "a QC short of quorum"
    );
    let mut bad = proof.clone();
    let n = bad.header_raw.len();
    bad.header_raw.replace_range(n - 1.., "1");
    assert!(
        verify_tx_proof(&bad, committee).is_err(),
        "changed header bytes"
    );

    let who = node.accounts[5].address();
    let info = c.get_account(who.to_string(), Some(true)).await.unwrap();
    let certifying = c
        .get_block(cairn_rpc::BlockId::Hash(info.certified_by.unwrap()), None)
        .await
        .unwrap();
    let raw = c
        .get_raw_blocks(Some(certifying.header.height), Some(1))
        .await
        .unwrap()
        .blocks
        .remove(0);
    verify_account_proof(&who, &info, &raw, committee).unwrap();
    let mut bad = info.clone();
    bad.balance.0 += 1;
    assert!(
        verify_account_proof(&who, &bad, &raw, committee).is_err(),
        "a higher balance"
    );
    let mut bad = info.clone();
    bad.nonce += 1;
    assert!(
        verify_account_proof(&who, &bad, &raw, committee).is_err(),
        "another nonce"
    );
    let mut bad = info.clone();
    bad.exists = false;
    assert!(
        verify_account_proof(&who, &bad, &raw, committee).is_err(),
        "claimed absent"
    );
    let mut bad = info.clone();
    bad.state_root.0[0] ^= 1;
    assert!(
        verify_account_proof(&who, &bad, &raw, committee).is_err(),
        "another root"
    );
    // A valid answer, proof and all, about another account than the one asked.
    let asked = node.accounts[6].address();
    assert!(
        verify_account_proof(&asked, &info, &raw, committee).is_err(),
        "an answer about another account"
    );
    // An absent account: its absence proof verifies whatever balance and
    // nonce the answer shows, so those must be zero.
    let nobody = Address([0x5a; 32]);
    let absent = c.get_account(nobody.to_string(), Some(true)).await.unwrap();
    assert!(!absent.exists);
    verify_account_proof(&nobody, &absent, &raw, committee).unwrap();
    let mut bad = absent.clone();
    bad.balance.0 = 1_000;
    assert!(
        verify_account_proof(&nobody, &bad, &raw, committee).is_err(),
        "an absent account with a balance"
    );
    let mut bad = absent.clone();
    bad.nonce = 3;
    assert!(
        verify_account_proof(&nobody, &bad, &raw, committee).is_err(),
        "an absent account with a nonce"
    );
    let mut bad_raw = raw.clone();
    let mut qc = QuorumCertificate::from_bytes_hex(&raw.qc);
    qc.signatures[0].1 .0[3] ^= 1;
    bad_raw.qc = format!("0x{}", hex::encode(qc.to_bytes()));
    assert!(
        verify_account_proof(&who, &info, &bad_raw, committee).is_err(),
        "a forged QC"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_answers_about_another_transaction_are_rejected() {
    let node = fresh().await;
    let c = node.client();
    let genesis =
        build_genesis_state(&Genesis::load(node.home.join("genesis.json")).unwrap()).unwrap();
    let committee = &genesis.committee;
    let (asked, other) = (node.txs[30].hash(), node.txs[31].hash());
    let info = c.get_transaction(asked.to_string()).await.unwrap();
    let proof = c.get_transaction_proof(asked.to_string()).await.unwrap();
    let other_info = c.get_transaction(other.to_string()).await.unwrap();
    let other_proof = c.get_transaction_proof(other.to_string()).await.unwrap();
    let ok = verify_tx_answer(&asked, &info, Some(&proof), committee).unwrap();
    assert_eq!(ok.transaction.as_ref(), Some(&node.txs[30]));
    assert_eq!(ok.proof.unwrap().height.0, info.height.unwrap());

    // Each case names the check that must reject it.
    let rejects = |want: &str, info: &cairn_rpc::TransactionInfo, proof| match verify_tx_answer(
        &asked, info, proof, committee,
    ) {
        Err(e) => assert!(e.0.contains(want), "expected {want:?}, got {e}"),
        Ok(_) => panic!("accepted; expected {want:?}"),
    };
    // An answer about another transaction.
    rejects("the node answered about", &other_info, Some(&other_proof));
    // The asked hash over another transaction's bytes.
    let mut swapped = other_info.clone();
    swapped.hash = asked;
    rejects("raw bytes hash to", &swapped, Some(&proof));
    rejects("the proof is for transaction", &info, Some(&other_proof));
    rejects("there is no proof", &info, None);
    type InfoEdit = fn(&mut cairn_rpc::TransactionInfo);
    let edits: [(&str, InfoEdit); 4] = [
        ("the answer puts", |i| i.height = i.height.map(|h| h + 1)),
        ("the answer puts", |i| i.index = i.index.map(|x| x ^ 1)),
        ("the answer puts", |i| i.block_hash = Some(Hash::ZERO)),
        ("raw bytes", |i| {
            i.transaction.as_mut().unwrap().raw.push_str("00")
        }),
    ];
    for (want, edit) in edits {
        let mut bad = info.clone();
        edit(&mut bad);
        rejects(want, &bad, Some(&proof));
    }
    // Fields the node decoded for us are never shown: they come from the
    // raw bytes that hash to the asked hash.
    let mut lying_view = info.clone();
    lying_view.transaction.as_mut().unwrap().amount.0 += 1_000;
    let shown = verify_tx_answer(&asked, &lying_view, Some(&proof), committee).unwrap();
    assert_eq!(
        shown.transaction.unwrap().tx().amount,
        node.txs[30].tx().amount
    );
    node.stop().await;
}

/// A node that answers every `getRawBlocks` with up to 256 blocks, whatever
/// was asked, forwarding everything to `upstream`.
async fn over_answering_proxy(
    upstream: jsonrpsee::http_client::HttpClient,
) -> (SocketAddr, ServerHandle) {
    use jsonrpsee::types::ErrorObjectOwned;
    let err = |e: jsonrpsee::core::client::Error| {
        ErrorObjectOwned::owned(-32000, e.to_string(), None::<()>)
    };
    let mut m = jsonrpsee::RpcModule::new(upstream);
    m.register_async_method("cairn_getGenesis", move |_, c, _| async move {
        c.get_genesis().await.map_err(err)
    })
    .unwrap();
    m.register_async_method("cairn_status", move |_, c, _| async move {
        c.status().await.map_err(err)
    })
    .unwrap();
    m.register_async_method("cairn_getRawBlocks", move |p, c, _| async move {
        let (from, _count): (Option<u64>, Option<u32>) = p.parse()?;
        c.get_raw_blocks(from, Some(256)).await.map_err(err)
    })
    .unwrap();
    let server = jsonrpsee::server::Server::builder()
        .build("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    (addr, server.start(m))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_sending_more_blocks_than_asked_is_refused() {
    let node = fresh().await;
    let (addr, proxy) = over_answering_proxy(node.client()).await;
    let url = format!("http://{addr}");
    let (fetched, audited) = tokio::task::spawn_blocking(move || {
        let (src, trusted) = RpcSource::connect(&url, None).unwrap();
        let fetched = src.fetch(Height(2), Height(4)).unwrap_err();
        let opts = AuditOptions {
            from: Some(Height(5)),
            to: None,
            progress: false,
        };
        (fetched, audit::run(&src, &trusted, &opts).unwrap_err())
    })
    .await
    .unwrap();
    for e in [fetched, audited] {
        match e {
            AuditError::Unavailable(m) => assert!(
                m.contains("blocks from height") && m.contains("asked for at most"),
                "{m}"
            ),
            e => panic!("expected a refusal, got {e}"),
        }
    }
    proxy.stop().unwrap();
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_fit_a_small_response_cap_and_the_audit_follows_them() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (builder, _) = build(&home);
    let cap = 64 << 10;
    let (addr, handle, _status) =
        serve_store_with(builder.store.clone(), builder.genesis.clone(), cap).await;
    let url = format!("http://{addr}");
    let c = jsonrpsee::http_client::HttpClientBuilder::default()
        .build(&url)
        .unwrap();
    let page = c.get_raw_blocks(Some(1), Some(10)).await.unwrap();
    let n = page.blocks.len();
    assert!(
        n > 1 && n < 10,
        "{n} blocks in a page under a {cap}-byte cap"
    );
    let body = serde_json::to_string(&page).unwrap().len();
    assert!(body < cap as usize, "{body} bytes");
    let home2 = home.clone();
    let (remote, offline) = tokio::task::spawn_blocking(move || {
        let (src, trusted) = RpcSource::connect(&url, None).unwrap();
        let remote = audit::run(&src, &trusted, &AuditOptions::default()).unwrap();
        let store = StoreSource::open(&home2.join("data")).unwrap();
        let offline = audit::run(&store, &trusted, &AuditOptions::default()).unwrap();
        (remote, offline)
    })
    .await
    .unwrap();
    assert_eq!(remote.blocks, TIP);
    assert_eq!(
        (remote.tip_hash, remote.state_root),
        (offline.tip_hash, offline.state_root)
    );
    assert_eq!(remote.tip_hash, builder.store.tip().unwrap().unwrap().hash);
    handle.stop().unwrap();
    drop(dir);
}

trait FromHex {
    fn from_bytes_hex(s: &str) -> Self;
}

impl FromHex for QuorumCertificate {
    fn from_bytes_hex(s: &str) -> Self {
        use cairn_ledger::Decode;
        QuorumCertificate::from_bytes(&hex::decode(s.trim_start_matches("0x")).unwrap()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_prints_blocks_as_they_commit() {
    let mut node = fresh().await;
    let url = node.url();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["explore", "--rpc", &url, "follow", "--count", "2", "--json"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Let it subscribe, then commit two blocks.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let txs = node.builder.transfers(3, &mut rng);
    let b1 = node.builder.commit(txs, false);
    node.announce(&b1);
    let b2 = node.builder.commit(vec![], false);
    node.announce(&b2);
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("follow --count 2 exits after two blocks")
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["height"].as_u64(), lines[0]["hash"].as_str()),
        (Some(TIP + 1), Some(b1.hash().to_string().as_str()))
    );
    assert_eq!(lines[0]["txCount"], 3);
    assert_eq!(
        (lines[1]["height"].as_u64(), lines[1]["hash"].as_str()),
        (Some(TIP + 2), Some(b2.hash().to_string().as_str()))
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_audit_agrees_with_the_offline_one_and_catches_a_lying_node() {
    let node = fresh().await;
    let url = node.url();
    let (remote, offline) = tokio::task::spawn_blocking({
        let home = node.home.clone();
        move || {
            let (src, state) = RpcSource::connect(&url, None).unwrap();
            let remote = audit::run(&src, &state, &AuditOptions::default()).unwrap();
            let from = AuditOptions {
                from: Some(Height(4)),
                to: Some(Height(9)),
                progress: false,
            };
            let remote_from = audit::run(&src, &state, &from).unwrap();
            let offline_src = StoreSource::open(&home.join("data")).unwrap();
            let offline = audit::run(&offline_src, &state, &AuditOptions::default()).unwrap();
            let offline_from = audit::run(&offline_src, &state, &from).unwrap();
            assert_eq!(
                (
                    remote_from.blocks,
                    remote_from.transactions,
                    remote_from.tip_hash,
                    remote_from.state_root
                ),
                (
                    offline_from.blocks,
                    offline_from.transactions,
                    offline_from.tip_hash,
                    offline_from.state_root
                )
            );
            assert_eq!((remote_from.from_height, remote_from.blocks), (4, 5));
            (remote, offline)
        }
    })
    .await
    .unwrap();
    assert_eq!(
        (
            remote.blocks,
            remote.transactions,
            remote.accounts,
            remote.tip_hash,
            remote.state_root
        ),
        (
            offline.blocks,
            offline.transactions,
            offline.accounts,
            offline.tip_hash,
            offline.state_root
        )
    );
    assert_eq!((remote.blocks, remote.transactions), (TIP, 25 * (TIP - 1)));

    // The binary prints the same summary.
    let (code, text) = node.cairn(&["audit", "--rpc", &node.url(), "--json"]).await;
    assert_eq!(code, 0, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["tipHash"], remote.tip_hash.to_string());
    assert_eq!(v["stateRoot"], remote.state_root.to_string());
    node.stop().await;

    // A node serving a block whose transaction was changed is caught remotely too.
    let dir = tempfile::tempdir().unwrap();
    let bad_home = dir.path().join("home");
    drop(build(&bad_home));
    {
        let path = bad_home.join("data");
        let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, cfs).unwrap();
        let hash = db
            .get_cf(db.cf_handle("heights").unwrap(), 8u64.to_be_bytes())
            .unwrap()
            .unwrap();
        let mut bytes = db
            .get_cf(db.cf_handle("blocks").unwrap(), &hash)
            .unwrap()
            .unwrap();
        let n = bytes.len();
        bytes[n - 10] ^= 0x04; // inside the last transaction's signature
        db.put_cf(db.cf_handle("blocks").unwrap(), &hash, &bytes)
            .unwrap();
        db.flush().unwrap();
    }
    let genesis = Genesis::load(bad_home.join("genesis.json")).unwrap();
    let store = Arc::new(Store::open(&bad_home.join("data")).unwrap());
    let (addr, liar, _status) = serve_store(store, genesis).await;
    let url = format!("http://{addr}");
    let err = tokio::task::spawn_blocking(move || {
        let (src, state) = RpcSource::connect(&url, None).unwrap();
        audit::run(&src, &state, &AuditOptions::default()).unwrap_err()
    })
    .await
    .unwrap();
    match err {
        AuditError::Discrepancy(d) => {
            assert_eq!((d.height, d.check.as_str()), (8, "tx-signature"), "{d}")
        }
        e => panic!("expected a discrepancy, got {e}"),
    }
    liar.stop().unwrap();
    drop(dir);
}
