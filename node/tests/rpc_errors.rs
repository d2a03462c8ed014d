//! Bad input over the real server: each kind gets its own JSON-RPC error
//! code and a message that says what to fix; afterwards the server still
//! answers and the mempool holds exactly what it held before.
#![allow(clippy::unwrap_used)]

mod rpc_common;

use cairn_ledger::{ChainId, Encode, SignedTransaction};
use cairn_node::rpc::RpcConfig;
use rpc_common::{call_error, http_raw, post_json, raw_hex, small_mempool, TestNode, BALANCE};
use serde_json::json;

/// Asserts the node still serves and the mempool holds `expected` transactions.
async fn still_serving(node: &TestNode, expected: usize) {
    let (status, v) = post_json(
        node.addr,
        r#"{"jsonrpc":"2.0","id":7,"method":"cairn_status","params":[]}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"]["mempoolSize"], expected, "{v}");
    assert_eq!(node.mempool.len(), expected);
    // Nothing committed behind the tests' back: the chain is as they left it.
    let tip = node.store.tip().unwrap().unwrap();
    assert_eq!(v["result"]["committedHeight"], tip.height.0, "{v}");
    assert_eq!(
        v["result"]["latestBlockHash"],
        tip.hash.to_string().as_str(),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_rpc_errors() {
    let node = TestNode::start_with(
        small_mempool(),
        RpcConfig {
            max_request_body_bytes: 64 * 1024,
            max_batch_len: 4,
            max_submit_batch: 8,
            ..RpcConfig::default()
        },
    )
    .await;
    let a = node.addr;
    let cases: Vec<(&str, String, i64)> = vec![
        ("invalid JSON", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_status""#.into(), -32700),
        ("random bytes", "\u{1}\u{7f}garbage{{[[".into(), -32700),
        ("wrong jsonrpc version", r#"{"jsonrpc":"1.0","id":1,"method":"cairn_status","params":[]}"#.into(), -32600),
        ("unknown method", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_mint","params":[]}"#.into(), -32601),
        ("wrong parameter type", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_submitTransaction","params":[42]}"#.into(), -32602),
        ("too many parameters", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_getTransaction","params":["0x00","0x01"]}"#.into(), -32602),
        ("missing parameter", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_submitTransaction","params":[]}"#.into(), -32602),
        ("huge height", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_getBlock","params":[184467440737095516160]}"#.into(), -32602),
        ("negative height", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_getBlock","params":[-1]}"#.into(), -32602),
        ("fractional height", r#"{"jsonrpc":"2.0","id":1,"method":"cairn_getBlock","params":[1.5]}"#.into(), -32602),
    ];
    for (name, body, code) in cases {
        let (_, v) = post_json(a, &body).await;
        assert_eq!(v["error"]["code"], code, "{name}: {v}");
        assert!(
            !v["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{name}"
        );
        still_serving(&node, 0).await;
    }

    // A batch over the limit is refused as a whole; one within it is served.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"cairn_health","params":[]}"#;
    let big = format!("[{}]", [call; 5].join(","));
    let (_, v) = post_json(a, &big).await;
    assert_eq!(v["error"]["code"], -32010, "{v}");
    let ok = format!("[{}]", [call; 4].join(","));
    let (_, v) = post_json(a, &ok).await;
    assert_eq!(v.as_array().unwrap().len(), 4, "{v}");

    // A body over the limit.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"cairn_submitTransaction","params":["0x{}"]}}"#,
        "00".repeat(64 * 1024)
    );
    let (status, body) = http_raw(a, "POST", "/", huge.as_bytes()).await;
    assert!(status == 413 || body.contains("-32007"), "{status} {body}");

    // submitTransactions over its item limit.
    let items: Vec<String> = (0..9).map(|_| "0x00".to_string()).collect();
    let (code, msg, data) = call_error(a, "cairn_submitTransactions", json!([items])).await;
    assert_eq!(code, 1003, "{msg}");
    assert!(msg.contains("split them"), "{msg}");
    assert_eq!(data["max"], 8);
    still_serving(&node, 0).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rejection_has_its_own_code_and_says_what_to_fix() {
    let node = TestNode::start().await;
    let a = node.addr;
    // Account 0 has committed nonce 1 after this block.
    node.commit(vec![node.transfer(0, 1, 10, 0)]);
    let pooled = node.transfer(1, 0, 10, 0);
    let c = node.http();
    use cairn_rpc::CairnApiClient;
    c.submit_transaction(raw_hex(&pooled)).await.unwrap();
    let submit =
        |raw: String| async move { call_error(a, "cairn_submitTransaction", json!([raw])).await };

    let good = node.transfer(2, 0, 10, 0);
    let bytes = good.to_bytes();
    let forged = SignedTransaction::new(node.transfer(2, 0, 11, 0).tx().clone(), *good.signature());
    let hex_of = |b: &[u8]| format!("0x{}", hex::encode(b));
    let cases: Vec<(&str, String, i64, &str)> = vec![
        ("no 0x", hex::encode(&bytes), 1000, "starting with 0x"),
        (
            "bad hex",
            format!("0x{}zz", hex::encode(&bytes[..10])),
            1000,
            "non-hex character",
        ),
        (
            "odd-length hex",
            format!("{}0", hex_of(&bytes)),
            1001,
            "odd number of hex digits",
        ),
        (
            "truncated",
            hex_of(&bytes[..bytes.len() - 1]),
            1100,
            "send the complete signed transaction",
        ),
        (
            "trailing bytes",
            format!("{}00", hex_of(&bytes)),
            1101,
            "exactly one",
        ),
        (
            "oversized",
            format!("0x{}", "00".repeat(4000)),
            1103,
            "limit",
        ),
        (
            "wrong chain id",
            raw_hex(&node.transfer_on(ChainId::new("other-chain").unwrap(), 2, 0, 1, 0)),
            1104,
            "sign it for \"cairn-rpc-test\"",
        ),
        (
            "bad signature",
            raw_hex(&forged),
            1105,
            "sign the transaction bytes with the sender's key",
        ),
        (
            "nonce too low",
            raw_hex(&node.transfer(0, 1, 5, 0)),
            1106,
            "nonce 0 is below the account's next nonce 1; fetch the account and re-sign",
        ),
        (
            "nonce too far ahead",
            raw_hex(&node.transfer(2, 1, 5, 1000)),
            1107,
            "use a nonce below",
        ),
        (
            "nonce in use",
            raw_hex(&node.transfer(1, 2, 11, 0)),
            1108,
            "already taken",
        ),
        (
            "insufficient balance",
            raw_hex(&node.transfer(2, 1, BALANCE + 1, 0)),
            1109,
            "fund the account or lower the amount",
        ),
    ];
    for (name, raw, code, hint) in cases {
        let (got, msg, data) = submit(raw.clone()).await;
        assert_eq!(got, code, "{name}: {msg}");
        assert!(msg.contains(hint), "{name}: {msg:?} lacks {hint:?}");
        assert!(data["reason"].is_string(), "{name}: {data}");
        // The batch form reports the same error for the item.
        let (_, v) = post_json(
            a,
            &json!({"jsonrpc":"2.0","id":1,"method":"cairn_submitTransactions","params":[[raw]]})
                .to_string(),
        )
        .await;
        assert_eq!(v["result"][0]["error"]["code"], code, "{name}: {v}");
        still_serving(&node, 1).await;
    }
    // Data carries the values the message mentions.
    let (_, _, data) = submit(raw_hex(&node.transfer(0, 1, 5, 0))).await;
    assert_eq!(
        data,
        json!({"reason": "nonceTooLow", "nonce": 0, "accountNonce": 1})
    );

    // Duplicate: the same hash, no error, nothing added.
    assert_eq!(
        c.submit_transaction(raw_hex(&pooled)).await.unwrap(),
        pooled.hash()
    );
    still_serving(&node, 1).await;

    // Bad hashes and addresses in queries; missing blocks and proofs.
    let (code, _, _) = call_error(a, "cairn_getTransaction", json!(["0x12"])).await;
    assert_eq!(code, 1002);
    let (code, _, _) = call_error(a, "cairn_getAccount", json!(["nothex"])).await;
    assert_eq!(code, 1000);
    let (code, msg, _) = call_error(a, "cairn_getBlock", json!([99])).await;
    assert_eq!(code, 1200, "{msg}");
    let (code, msg, _) = call_error(
        a,
        "cairn_getTransactionProof",
        json!([pooled.hash().to_string()]),
    )
    .await;
    assert_eq!(code, 1201);
    assert!(msg.contains("pending"), "{msg}");
    still_serving(&node, 1).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_cap_and_full_mempool() {
    // small_mempool: 50 transactions, 16 per sender.
    let node = TestNode::start().await;
    let a = node.addr;
    let c = node.http();
    use cairn_rpc::CairnApiClient;
    let batch: Vec<String> = (0..16)
        .map(|n| raw_hex(&node.transfer(0, 1, 1, n)))
        .collect();
    let out = c.submit_transactions(batch).await.unwrap();
    assert!(out.iter().all(|o| o.hash.is_some()), "{out:?}");
    let (code, msg, _) = call_error(
        a,
        "cairn_submitTransaction",
        json!([raw_hex(&node.transfer(0, 1, 1, 16))]),
    )
    .await;
    assert_eq!(code, 1111, "{msg}");
    assert!(msg.contains("wait for some to commit"), "{msg}");
    still_serving(&node, 16).await;

    let mut fill = Vec::new();
    for from in 1..4 {
        for n in 0..16 {
            fill.push(raw_hex(&node.transfer(from, 0, 1, n)));
        }
    }
    let out = c.submit_transactions(fill).await.unwrap();
    let admitted = out.iter().filter(|o| o.hash.is_some()).count();
    assert_eq!(admitted, 34);
    assert!(out[34..]
        .iter()
        .all(|o| o.error.as_ref().unwrap().code == 1110));
    let (code, msg, data) = call_error(
        a,
        "cairn_submitTransaction",
        json!([raw_hex(&node.transfer(3, 0, 1, 15))]),
    )
    .await;
    assert_eq!(code, 1110, "{msg}");
    assert!(msg.contains("retry after the next blocks commit"), "{msg}");
    assert_eq!(data["maxTxs"], 50);
    still_serving(&node, 50).await;
    // Committing frees room.
    let first: Vec<_> = (0..16).map(|n| node.transfer(0, 1, 1, n)).collect();
    node.commit(first);
    still_serving(&node, 34).await;
    assert!(c
        .submit_transaction(raw_hex(&node.transfer(3, 0, 1, 15)))
        .await
        .is_ok());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_per_connection_are_bounded() {
    use jsonrpsee::core::client::SubscriptionClientT;
    use jsonrpsee::rpc_params;
    let node = TestNode::start_with(
        small_mempool(),
        RpcConfig {
            max_subscriptions_per_connection: 8,
            ..RpcConfig::default()
        },
    )
    .await;
    let ws = node.ws().await;
    let mut subs = Vec::new();
    for _ in 0..8 {
        subs.push(
            ws.subscribe::<cairn_rpc::NewBlock, _>(
                "cairn_subscribeNewBlocks",
                rpc_params![],
                "cairn_unsubscribeNewBlocks",
            )
            .await
            .unwrap(),
        );
    }
    // Thousands more are each refused; the connection keeps working.
    for _ in 0..2000 {
        let err = ws
            .subscribe::<cairn_rpc::NewBlock, _>(
                "cairn_subscribeNewBlocks",
                rpc_params![],
                "cairn_unsubscribeNewBlocks",
            )
            .await
            .unwrap_err();
        match err {
            jsonrpsee::core::client::Error::Call(e) => assert_eq!(e.code(), -32006),
            other => panic!("expected a call error, got {other:?}"),
        }
    }
    use cairn_rpc::CairnApiClient;
    assert_eq!(ws.status().await.unwrap().committed_height, 0);
    // Every subscription still gets the next block.
    node.commit(vec![]);
    for s in &mut subs {
        let b = tokio::time::timeout(std::time::Duration::from_secs(10), s.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(b.height, 1);
    }
    drop(subs);
    drop(ws);
    still_serving(&node, 0).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_rate_limited_per_ip() {
    let node = TestNode::start_with(
        small_mempool(),
        RpcConfig {
            submit_rate_per_ip: 1,
            submit_burst_per_ip: 8,
            max_submit_batch: 8,
            ..RpcConfig::default()
        },
    )
    .await;
    let a = node.addr;
    let batch: Vec<String> = (0..8)
        .map(|n| raw_hex(&node.transfer(0, 1, 1, n)))
        .collect();
    let (_, v) = post_json(
        a,
        &json!({"jsonrpc":"2.0","id":1,"method":"cairn_submitTransactions","params":[batch]})
            .to_string(),
    )
    .await;
    assert_eq!(v["result"].as_array().unwrap().len(), 8, "{v}");
    let (code, msg, data) = call_error(
        a,
        "cairn_submitTransaction",
        json!([raw_hex(&node.transfer(0, 1, 1, 8))]),
    )
    .await;
    assert_eq!(code, 1004, "{msg}");
    assert!(msg.contains("rpc.submit_rate_per_ip"), "{msg}");
    assert_eq!(data["limit"], "rpc.submit_rate_per_ip");
    // Queries are not limited, and the refused transaction was not admitted.
    still_serving(&node, 8).await;
    node.stop().await;
}
