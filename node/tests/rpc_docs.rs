//! Keeps docs/RPC.md true: every documented curl body is a well-formed call
//! of an existing method with parameters of the right shape, every example
//! response is valid JSON whose fields are the ones the server returns, and
//! every Cairn error code the server defines is in the table.
#![allow(clippy::unwrap_used)]

mod rpc_common;

use std::collections::BTreeSet;

use cairn_rpc::ErrorCode;
use rpc_common::{http_raw, post_json, raw_hex, TestNode};
use serde_json::{json, Value};

const DOC: &str = include_str!("../../docs/RPC.md");

/// Sections `### cairn_<name>...`: (method, curl body if any, first JSON block).
fn sections() -> Vec<(String, Option<String>, Value)> {
    let mut out = Vec::new();
    for part in DOC.split("\n### ").skip(1) {
        let Some(rest) = part.strip_prefix("cairn_") else {
            continue;
        };
        let method = format!(
            "cairn_{}",
            rest.split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap()
        );
        let body = part
            .split_once("-d '")
            .map(|(_, b)| b.split_once('\'').unwrap().0.to_string());
        let json_block = part
            .split_once("```json\n")
            .unwrap_or_else(|| panic!("{method}: no example response"))
            .1
            .split_once("```")
            .unwrap()
            .0;
        let example: Value = serde_json::from_str(json_block)
            .unwrap_or_else(|e| panic!("{method}: example response is not JSON: {e}"));
        out.push((method, body, example));
    }
    out
}

/// The same fields, recursively; an object with a `"..."` key is abridged
/// (its fields must exist, others may be left out).
fn same_shape(path: &str, doc: &Value, real: &Value) {
    match (doc, real) {
        (Value::Object(d), Value::Object(r)) => {
            let dk: BTreeSet<&String> = d.keys().filter(|k| *k != "...").collect();
            let rk: BTreeSet<&String> = r.keys().collect();
            if d.contains_key("...") {
                assert!(
                    dk.is_subset(&rk),
                    "{path}: documented {dk:?} not all in {rk:?}"
                );
            } else {
                assert_eq!(dk, rk, "{path}: documented fields differ from the server's");
            }
            for k in dk {
                same_shape(&format!("{path}.{k}"), &d[k], &r[k]);
            }
        }
        (Value::Array(d), Value::Array(r)) => {
            if let (Some(d0), Some(r0)) = (d.first(), r.first()) {
                same_shape(&format!("{path}[0]"), d0, r0);
            }
        }
        (Value::Object(_), _) | (Value::Array(_), _) => {
            panic!("{path}: documented {doc} but the server returned {real}")
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_examples_match_the_server() {
    let node = TestNode::start().await;
    let t0 = node.transfer(0, 1, 500, 0);
    let t1 = node.transfer(0, 2, 250, 1);
    let t2 = node.transfer(1, 0, 5, 0);
    node.commit(vec![t0.clone(), t1.clone(), t2]);
    node.commit(vec![]);
    let addr = node.accounts[0].address().to_string();
    let real_params = |method: &str| -> Value {
        match method {
            "cairn_submitTransaction" => json!([raw_hex(&node.transfer(2, 0, 1, 0))]),
            "cairn_submitTransactions" => json!([[raw_hex(&node.transfer(2, 0, 1, 1)), "0xzz"]]),
            "cairn_getTransaction" => json!([t0.hash().to_string()]),
            "cairn_getTransactionProof" => json!([t1.hash().to_string()]),
            "cairn_getBlock" => json!([1, false]),
            "cairn_getAccount" => json!([addr, true]),
            _ => json!([]),
        }
    };
    let sections = sections();
    assert!(
        sections.len() >= 10,
        "only {} documented methods",
        sections.len()
    );
    for (method, body, example) in sections {
        // The curl body: valid JSON, an existing method, accepted parameters
        // (placeholder hex may still earn a Cairn 1xxx error).
        if let Some(body) = body {
            let call: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{method}: curl body is not JSON: {e}"));
            assert_eq!(call["method"], method.as_str());
            let (_, v) = post_json(node.addr, &body).await;
            if let Some(code) = v["error"]["code"].as_i64() {
                assert!(code > 0, "{method}: documented call fails with {v}");
            }
        }
        // The response: the fields the server really returns.
        let real = if method == "cairn_health" {
            let (status, text) = http_raw(node.addr, "GET", "/health", b"").await;
            assert_eq!(status, 200);
            json!({"jsonrpc": "2.0", "id": 1, "result": serde_json::from_str::<Value>(&text).unwrap()})
        } else {
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": real_params(&method)});
            post_json(node.addr, &call.to_string()).await.1
        };
        assert!(
            real["result"].is_object() || real["result"].is_array() || real["result"].is_string(),
            "{method}: {real}"
        );
        let doc = if method == "cairn_health" {
            json!({"jsonrpc": "2.0", "id": 1, "result": example})
        } else {
            example
        };
        same_shape(&method, &doc, &real);
    }

    // Every code is documented with its reason.
    for c in ErrorCode::ALL {
        let row = format!("| {} | {} |", c.code(), c.reason());
        assert!(DOC.contains(&row), "docs/RPC.md lacks the row {row}");
    }
    node.stop().await;
}
