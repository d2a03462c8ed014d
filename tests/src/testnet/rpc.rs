//! A minimal blocking JSON-RPC 2.0 client over HTTP/1.1, so tests observe the
//! node exactly as curl would.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

/// A failed call.
#[derive(Debug)]
pub enum RpcError {
    /// No connection, or no complete HTTP response.
    Transport(String),
    /// The server answered with a JSON-RPC error object.
    Rpc {
        /// Its code.
        code: i64,
        /// Its message.
        message: String,
        /// Its data, if any.
        data: Option<Value>,
    },
}

/// Sends raw bytes as an HTTP POST body to `url` and returns (status, body).
pub fn http_post(url: &str, body: &[u8]) -> Result<(u16, String), RpcError> {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let t = |e: std::io::Error| RpcError::Transport(format!("{hostport}: {e}"));
    let mut s = TcpStream::connect(hostport).map_err(t)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(t)?;
    let head = format!(
        "POST / HTTP/1.1\r\nhost: {hostport}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(t)?;
    s.write_all(body).map_err(t)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(t)?;
    let text = String::from_utf8_lossy(&resp).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| RpcError::Transport("incomplete HTTP response".into()))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| RpcError::Transport(format!("bad status line in {head:?}")))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Calls `method` with `params` and returns `result`.
pub fn rpc_call(url: &str, method: &str, params: Value) -> Result<Value, RpcError> {
    let req = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let (_, body) = http_post(url, req.to_string().as_bytes())?;
    let v: Value = serde_json::from_str(&body)
        .map_err(|e| RpcError::Transport(format!("response is not JSON ({e}): {body}")))?;
    if let Some(err) = v.get("error") {
        return Err(RpcError::Rpc {
            code: err["code"].as_i64().unwrap_or_default(),
            message: err["message"].as_str().unwrap_or_default().to_string(),
            data: err.get("data").cloned(),
        });
    }
    Ok(v.get("result").cloned().unwrap_or(Value::Null))
}
