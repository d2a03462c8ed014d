//! Every method through the real server, checked against the store: over
//! HTTP with the typed client, over WebSocket for calls and subscriptions,
//! and `GET /health` over raw HTTP.
#![allow(clippy::unwrap_used)]

mod rpc_common;

use std::time::Duration;

use cairn_ledger::state::AccountProof;
use cairn_ledger::{
    merkle, Account, Amount, Block, BlockHeader, Decode, Hash, Height, SignedTransaction,
};
use cairn_rpc::{BlockId, BlockTransactions, CairnApiClient, TxState};
use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::rpc_params;
use rpc_common::{http_raw, raw_hex, TestNode, BALANCE};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.strip_prefix("0x").unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_agree_with_the_store_over_http() {
    let node = TestNode::start().await;
    let c = node.http();
    methods_agree_with_the_store(&node, &c).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_agree_with_the_store_over_websocket() {
    let node = TestNode::start().await;
    let c = node.ws().await;
    methods_agree_with_the_store(&node, &c).await;
    drop(c);
    node.stop().await;
}

/// Every method, through the typed client `c` (HTTP or WebSocket): one
/// journey (genesis, submissions, a commit, a second commit), checked stage
/// by stage.
async fn methods_agree_with_the_store<C: CairnApiClient + Sync>(node: &TestNode, c: &C) {
    let genesis_hash = node.store.genesis_hash().unwrap().unwrap();
    status_at_genesis(node, c, genesis_hash).await;
    let (t0, t1) = submissions_are_pending(node, c).await;
    let block = committed_transactions(node, c, &t0, &t1).await;
    blocks_by_id(node, c, &block, &t1, genesis_hash).await;
    transaction_proof(node, c, &block, &t1).await;
    accounts_and_proofs(node, c).await;
    validators_genesis_and_status(node, c, genesis_hash).await;
}

async fn status_at_genesis<C: CairnApiClient + Sync>(node: &TestNode, c: &C, genesis_hash: Hash) {
    // status and health at genesis.
    let s = c.status().await.unwrap();
    assert_eq!(s.chain_id, "cairn-rpc-test");
    assert_eq!(s.genesis_hash, genesis_hash);
    assert_eq!(s.committed_height, 0);
    assert_eq!(s.latest_block_hash, genesis_hash);
    assert_eq!(s.mempool_size, 0);
    let (code, body) = http_raw(node.addr, "GET", "/health", b"").await;
    assert_eq!(code, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["committedHeight"], 0);
}

/// Two transfers submitted (one resubmitted, one batch with a bad item): the
/// transfers.
async fn submissions_are_pending<C: CairnApiClient + Sync>(
    node: &TestNode,
    c: &C,
) -> (SignedTransaction, SignedTransaction) {
    // Submit: the hash is the transaction's, resubmission is idempotent.
    let t0 = node.transfer(0, 1, 500, 0);
    let t1 = node.transfer(0, 2, 250, 1);
    let h0 = c.submit_transaction(raw_hex(&t0)).await.unwrap();
    assert_eq!(h0, t0.hash());
    assert_eq!(c.submit_transaction(raw_hex(&t0)).await.unwrap(), h0);
    let outcomes = c
        .submit_transactions(vec![raw_hex(&t1), "0xzz".into(), raw_hex(&t0)])
        .await
        .unwrap();
    assert_eq!(outcomes[0].hash, Some(t1.hash()));
    assert_eq!(outcomes[1].error.as_ref().unwrap().code, 1000);
    assert_eq!(outcomes[2].hash, Some(t0.hash()));
    assert_eq!(node.mempool.len(), 2);

    // Pending.
    let info = c.get_transaction(h0.to_string()).await.unwrap();
    assert_eq!(info.status, TxState::Pending);
    assert_eq!(info.transaction.unwrap().raw, raw_hex(&t0));
    let status = c.status().await.unwrap();
    assert_eq!(status.mempool_size, 2);
    let acct = c
        .get_account(node.accounts[0].address().to_string(), None)
        .await
        .unwrap();
    assert_eq!(acct.pending, 2);

    (t0, t1)
}

/// Commits `t0`, `t1` and an overdraft: the block.
async fn committed_transactions<C: CairnApiClient + Sync>(
    node: &TestNode,
    c: &C,
    t0: &SignedTransaction,
    t1: &SignedTransaction,
) -> Block {
    let h0 = t0.hash();
    // Commit t0, t1 and an overdraft (failed receipt).
    let overdraft = node.transfer(3, 0, BALANCE + 1, 0);
    let block = node.commit(vec![t0.clone(), t1.clone(), overdraft.clone()]);
    assert!(node.mempool.is_empty());

    let info = c.get_transaction(h0.to_string()).await.unwrap();
    assert_eq!(info.status, TxState::Committed);
    assert_eq!(info.height, Some(1));
    assert_eq!(info.index, Some(0));
    assert_eq!(info.block_hash, Some(block.hash()));
    assert_eq!(info.receipt.unwrap().status, "success");
    let failed = c
        .get_transaction(overdraft.hash().to_string())
        .await
        .unwrap();
    assert_eq!(failed.status, TxState::Failed);
    assert_eq!(failed.receipt.unwrap().status, "insufficientBalance");
    let unknown = c
        .get_transaction(Hash::digest(b"nope").to_string())
        .await
        .unwrap();
    assert_eq!(unknown.status, TxState::Unknown);
    // A committed transaction resubmitted: same hash, no error, not pooled.
    assert_eq!(c.submit_transaction(raw_hex(t0)).await.unwrap(), h0);
    assert!(node.mempool.is_empty());

    block
}

async fn blocks_by_id<C: CairnApiClient + Sync>(
    node: &TestNode,
    c: &C,
    block: &Block,
    t1: &SignedTransaction,
    genesis_hash: Hash,
) {
    // getBlock by height, hash and latest; hashes or full transactions; QC.
    let qc = node.store.qc_at(Height(1)).unwrap().unwrap();
    for id in [
        BlockId::Height(1),
        BlockId::Hash(block.hash()),
        BlockId::Latest,
    ] {
        let b = c.get_block(id, None).await.unwrap();
        assert_eq!(b.header.hash, block.hash());
        assert_eq!(b.header.height, 1);
        assert_eq!(b.header.tx_root, block.header.tx_root);
        assert_eq!(b.header.parent_hash, genesis_hash);
        assert_eq!(b.qc.block_hash, block.hash());
        assert_eq!(b.qc.signatures.len(), qc.signatures.len());
        assert_eq!(
            b.transactions,
            BlockTransactions::Hashes(block.txs.iter().map(|t| t.hash()).collect())
        );
    }
    let full = c.get_block(BlockId::Height(1), Some(true)).await.unwrap();
    match full.transactions {
        BlockTransactions::Full(txs) => {
            assert_eq!(txs.len(), 3);
            assert_eq!(txs[1].raw, raw_hex(t1));
            assert_eq!(txs[1].amount, Amount(250));
        }
        other => panic!("expected full transactions, got {other:?}"),
    }
    let g = c.get_block(BlockId::Height(0), None).await.unwrap();
    assert_eq!(g.header.hash, genesis_hash);
}

async fn transaction_proof<C: CairnApiClient + Sync>(
    node: &TestNode,
    c: &C,
    block: &Block,
    t1: &SignedTransaction,
) {
    // Transaction proof: verifies with ledger code, fails when a byte changes.
    let p = c
        .get_transaction_proof(t1.hash().to_string())
        .await
        .unwrap();
    assert_eq!(p.index, 1);
    let header = BlockHeader::from_bytes(&unhex(&p.header_raw)).unwrap();
    assert_eq!(header.hash(), block.hash());
    assert_eq!(p.qc.block_hash, header.hash());
    assert!(merkle::verify_inclusion(
        t1.hash().as_bytes(),
        1,
        3,
        &p.audit_path,
        &header.tx_root
    ));
    let mut forged = *t1.hash().as_bytes();
    forged[0] ^= 1;
    assert!(!merkle::verify_inclusion(
        &forged,
        1,
        3,
        &p.audit_path,
        &header.tx_root
    ));
    let stored_qc = node.store.qc_at(Height(1)).unwrap().unwrap();
    stored_qc.verify(&node.committee).unwrap();
}

/// Account 0 after the first block, then with a proof certified by a second.
async fn accounts_and_proofs<C: CairnApiClient + Sync>(node: &TestNode, c: &C) {
    // Account without proof: the latest state.
    let a0 = node
        .store
        .account(&node.accounts[0].address())
        .unwrap()
        .unwrap();
    let acct = c
        .get_account(node.accounts[0].address().to_string(), None)
        .await
        .unwrap();
    assert_eq!(
        (acct.balance, acct.nonce, acct.height),
        (a0.balance, a0.nonce, 1)
    );
    assert_eq!(acct.balance, Amount(BALANCE - 750));
    assert!(acct.exists && acct.proof.is_none());

    // Commit one more block so block 2 certifies the state after block 1.
    let b2 = node.commit(vec![]);
    let acct = c
        .get_account(node.accounts[0].address().to_string(), Some(true))
        .await
        .unwrap();
    assert_eq!(acct.certified_by, Some(b2.hash()));
    assert_eq!(acct.height, 1);
    assert_eq!(acct.state_root, b2.header.state_root);
    assert_eq!(acct.nonce, 2);
    let proof = AccountProof::from_bytes(&unhex(acct.proof.as_ref().unwrap())).unwrap();
    let claimed = Account {
        balance: acct.balance,
        nonce: acct.nonce,
    };
    proof
        .verify(&acct.state_root, &acct.address, Some(&claimed))
        .unwrap();
    let lie = Account {
        balance: Amount(acct.balance.0 + 1),
        nonce: acct.nonce,
    };
    assert!(proof
        .verify(&acct.state_root, &acct.address, Some(&lie))
        .is_err());
    let mut bytes = unhex(acct.proof.as_ref().unwrap());
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered_ok = AccountProof::from_bytes(&bytes)
        .map(|p| {
            p.verify(&acct.state_root, &acct.address, Some(&claimed))
                .is_ok()
        })
        .unwrap_or(false);
    assert!(!tampered_ok, "a proof with a changed byte must not verify");
    // A never-seen account: zero, with a non-inclusion proof.
    let nobody = cairn_ledger::SecretKey::from_seed([99; 32]).address();
    let acct = c.get_account(nobody.to_string(), Some(true)).await.unwrap();
    assert!(!acct.exists);
    AccountProof::from_bytes(&unhex(&acct.proof.unwrap()))
        .unwrap()
        .verify(&acct.state_root, &nobody, None)
        .unwrap();
}

async fn validators_genesis_and_status<C: CairnApiClient + Sync>(
    node: &TestNode,
    c: &C,
    genesis_hash: Hash,
) {
    // Validators and genesis.
    let v = c.get_validators().await.unwrap();
    assert_eq!(v.validators.len(), 1);
    assert_eq!(v.validators[0].address, node.validator.address());
    assert_eq!(v.total_power, 1);
    let g = c.get_genesis().await.unwrap();
    assert_eq!(g.genesis_hash, genesis_hash);
    assert_eq!(g.genesis["chainId"], "cairn-rpc-test");

    // Status follows the driver's published status.
    node.status
        .send(cairn_driver::NodeStatus {
            round: cairn_ledger::Round(9),
            syncing: true,
            peers: 3,
            ..Default::default()
        })
        .unwrap();
    let s = c.status().await.unwrap();
    assert_eq!(
        (s.round, s.syncing, s.peers, s.committed_height),
        (9, true, 3, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_calls_and_subscriptions() {
    let node = TestNode::start().await;
    let ws = node.ws().await;
    let s = ws.status().await.unwrap();
    assert_eq!(s.committed_height, 0);

    let t = node.transfer(1, 2, 10, 0);
    let mut blocks = ws
        .subscribe::<cairn_rpc::NewBlock, _>(
            "cairn_subscribeNewBlocks",
            rpc_params![],
            "cairn_unsubscribeNewBlocks",
        )
        .await
        .unwrap();
    let mut tx_sub = ws
        .subscribe::<cairn_rpc::TransactionInfo, _>(
            "cairn_subscribeTransaction",
            rpc_params![t.hash().to_string()],
            "cairn_unsubscribeTransaction",
        )
        .await
        .unwrap();
    assert_eq!(ws.submit_transaction(raw_hex(&t)).await.unwrap(), t.hash());
    let b1 = node.commit(vec![t.clone()]);
    let b2 = node.commit(vec![]);
    let wait = Duration::from_secs(10);
    let n1 = tokio::time::timeout(wait, blocks.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let n2 = tokio::time::timeout(wait, blocks.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((n1.height, n1.hash, n1.tx_count), (1, b1.hash(), 1));
    assert_eq!((n2.height, n2.hash), (2, b2.hash()));
    assert_eq!(n1.state_root, node.store.state_root_at(Height(1)).unwrap());
    let info = tokio::time::timeout(wait, tx_sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(info.status, TxState::Committed);
    assert_eq!(info.height, Some(1));

    // A bad hash is refused at subscription time with Cairn's code.
    let err = ws
        .subscribe::<cairn_rpc::TransactionInfo, _>(
            "cairn_subscribeTransaction",
            rpc_params!["0x1234"],
            "cairn_unsubscribeTransaction",
        )
        .await
        .unwrap_err();
    match err {
        jsonrpsee::core::client::Error::Call(e) => assert_eq!(e.code(), 1002),
        other => panic!("expected a call error, got {other:?}"),
    }
    blocks.unsubscribe().await.unwrap();
    drop(ws);
    node.stop().await;
}

/// The next `cairn_newBlock` notification, bounded in time.
async fn next_block(
    blocks: &mut jsonrpsee::core::client::Subscription<cairn_rpc::NewBlock>,
) -> cairn_rpc::NewBlock {
    tokio::time::timeout(Duration::from_secs(20), blocks.next())
        .await
        .expect("no notification within 20 s")
        .expect("the subscription ended")
        .unwrap()
}

/// Notifications come from the committed-block channel, yet a subscriber
/// sees every height once, in order, matching the store: across heights
/// that reached the store unannounced (a gap, filled from the store) and
/// across a burst of announcements far beyond the channel's capacity (the
/// subscriber lags, and reads what it missed from the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_sees_every_height_in_order_under_a_burst() {
    let node = TestNode::start().await;
    let ws = node.ws().await;
    let mut blocks = ws
        .subscribe::<cairn_rpc::NewBlock, _>(
            "cairn_subscribeNewBlocks",
            rpc_params![],
            "cairn_unsubscribeNewBlocks",
        )
        .await
        .unwrap();
    let expect = |n: &cairn_rpc::NewBlock, height: u64| {
        assert_eq!(n.height, height, "heights out of order");
        let stored = node.store.block_at(Height(height)).unwrap().unwrap();
        assert_eq!(n.hash, stored.hash());
        assert_eq!(
            n.state_root,
            node.store.state_root_at(Height(height)).unwrap()
        );
    };

    // A gap: heights 1 to 4 are never announced, 5 is.
    for _ in 1..5 {
        node.commit_unannounced(vec![]);
    }
    node.commit(vec![]);
    for h in 1..=5 {
        expect(&next_block(&mut blocks).await, h);
    }

    // A burst: 40 channels' worth committed, then announced back to back.
    let burst = 40 * rpc_common::COMMITTED_CAPACITY as u64;
    let announced: Vec<_> = (0..burst)
        .map(|_| node.commit_unannounced(vec![]))
        .collect();
    for (block, state_root) in announced {
        let _ = node.committed.send(cairn_driver::CommittedBlock {
            block: std::sync::Arc::new(block),
            state_root,
        });
    }
    for h in 6..=5 + burst {
        expect(&next_block(&mut blocks).await, h);
    }
    // And nothing twice: the next notification is the next block.
    node.commit(vec![]);
    expect(&next_block(&mut blocks).await, 6 + burst);
    blocks.unsubscribe().await.unwrap();
    drop(ws);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_call_cross_origin() {
    let node = TestNode::start().await;
    let origin = "Origin: https://explorer.example\r\n";
    let (status, head, _) = rpc_common::http_exchange(node.addr, "OPTIONS", "/", origin, b"").await;
    let head = head.to_ascii_lowercase();
    // tower-http answers a preflight 200 (the old hand-written layer: 204;
    // browsers accept any 2xx).
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    assert!(
        head.contains("access-control-allow-headers: content-type"),
        "{head}"
    );
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"cairn_health","params":[]}"#;
    let (status, head, body) =
        rpc_common::http_exchange(node.addr, "POST", "/", origin, body).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{head}"
    );
    node.stop().await;

    // Narrowed to one origin: others get no CORS grant.
    let node = TestNode::start_with(
        rpc_common::small_mempool(),
        cairn_node::rpc::RpcConfig {
            cors_allowed_origins: vec!["https://ok.example".into()],
            ..Default::default()
        },
    )
    .await;
    let (_, head, _) = rpc_common::http_exchange(
        node.addr,
        "GET",
        "/health",
        "Origin: https://ok.example\r\n",
        b"",
    )
    .await;
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: https://ok.example"),
        "{head}"
    );
    let (_, head, _) = rpc_common::http_exchange(
        node.addr,
        "GET",
        "/health",
        "Origin: https://evil.example\r\n",
        b"",
    )
    .await;
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{head}"
    );
    node.stop().await;
}
