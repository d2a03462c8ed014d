//! Auditing a node over JSON-RPC: blocks and certificates in their canonical
//! bytes from `cairn_getRawBlocks`, several pages in flight at once so the
//! audit is not bound by round-trip latency. Reads are not rate-limited by
//! the node (only submissions are). Nothing about a page is believed: a
//! page longer than asked is refused, every block's height is compared with
//! the one asked for, and each response is capped at [`MAX_RESPONSE_BYTES`],
//! so at most `IN_FLIGHT` of them are held at once.
//!
//! The node cannot hand over its whole state, so `--from H` remotely
//! replays blocks `1..H` (executing them, without signature checks) to
//! rebuild the state, then checks `H..=to` fully; see docs/AUDIT.md.

use std::time::Duration;

use cairn_genesis::Genesis;
use cairn_ledger::{Block, ChainId, Decode, Height, QuorumCertificate};
use cairn_rpc::{CairnApiClient, GenesisInfo, RawBlock};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

use super::{AuditError, BlockSource, Discrepancy, FetchResult, Fetched, Trusted};

/// Blocks asked for per request.
const PAGE: u64 = 64;
/// Requests in flight at once (with [`MAX_RESPONSE_BYTES`], at most 256 MiB
/// of responses; a node's pages are far smaller, see `getRawBlocks`).
const IN_FLIGHT: usize = 4;
/// The largest response accepted: the node's default
/// `rpc.max_response_body_bytes`, and twice the largest block's hex.
pub const MAX_RESPONSE_BYTES: u32 = 64 << 20;

/// A node's RPC.
#[derive(Debug)]
pub struct RpcSource {
    rt: tokio::runtime::Runtime,
    client: HttpClient,
    url: String,
    chain: ChainId,
}

fn unreachable(url: &str, what: &str, e: impl std::fmt::Display) -> AuditError {
    AuditError::Unavailable(format!(
        "{what} from {url} failed: {e}; check --rpc and that the node is running"
    ))
}

impl RpcSource {
    /// Connects to `url` and fetches the node's genesis. With `pinned` (the
    /// auditor's own genesis file), the node's must have the same hash;
    /// without it the node's genesis file is used, after checking that it
    /// hashes to the genesis hash the node reports.
    pub fn connect(
        url: &str,
        pinned: Option<&Genesis>,
    ) -> Result<(RpcSource, Trusted), AuditError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| AuditError::Unavailable(format!("starting the I/O runtime: {e}")))?;
        let client = {
            let _guard = rt.enter();
            HttpClientBuilder::default()
                .request_timeout(Duration::from_secs(120))
                .max_response_size(MAX_RESPONSE_BYTES)
                .build(url)
                .map_err(|e| AuditError::Unavailable(format!("--rpc {url}: {e}")))?
        };
        let info = rt
            .block_on(client.get_genesis())
            .map_err(|e| unreachable(url, "cairn_getGenesis", e))?;
        let state = genesis_state(info, pinned)?;
        let chain = state.state.committee.chain_id.clone();
        Ok((
            RpcSource {
                rt,
                client,
                url: url.to_string(),
                chain,
            },
            state,
        ))
    }

    fn decode(&self, want: Height, raw: &RawBlock) -> FetchResult {
        let at = Height(raw.height);
        if at != want {
            return Err(Discrepancy::new(
                want,
                "block-missing",
                format!("block {want}"),
                format!("block {at}"),
            ));
        }
        let bytes = |s: &str, what: &str| {
            cairn_ledger::hash::parse_hex(s, what)
                .map_err(|e| Discrepancy::new(at, &format!("{what}-decode"), "0x + hex", e))
        };
        let block = Block::decode_for_chain(&bytes(&raw.block, "block")?, &self.chain)
            .map_err(|e| Discrepancy::new(at, "block-decode", "a well-formed block", e))?;
        let qc = QuorumCertificate::from_bytes(&bytes(&raw.qc, "qc")?)
            .map_err(|e| Discrepancy::new(at, "qc-decode", "a well-formed certificate", e))?;
        Ok(Fetched {
            height: at,
            block,
            qc,
            indexed_hash: Some(raw.hash),
        })
    }
}

/// The genesis to trust, from a node's `getGenesis` answer: the
/// node's file must hash to the genesis hash it reports, and a `pinned` file
/// (the caller's own) must have that same hash; the pinned one is then used.
pub fn genesis_state(info: GenesisInfo, pinned: Option<&Genesis>) -> Result<Trusted, AuditError> {
    let served: Genesis = serde_json::from_value(info.genesis).map_err(|e| {
        AuditError::Unavailable(format!("the node's genesis file does not parse: {e}"))
    })?;
    let state = Trusted::from_genesis(&served)
        .map_err(|e| AuditError::Unavailable(format!("the node's genesis file is invalid: {e}")))?;
    if state.state.block.hash() != info.genesis_hash {
        return Err(Discrepancy::new(
            Height(0),
            "genesis-hash",
            format!(
                "{} (hash of the node's genesis file)",
                state.state.block.hash()
            ),
            format!("{} (the genesis hash the node reports)", info.genesis_hash),
        )
        .into());
    }
    let Some(g) = pinned else {
        return Ok(state);
    };
    let mine =
        Trusted::from_genesis(g).map_err(|e| AuditError::Unavailable(format!("--genesis: {e}")))?;
    if mine.state.block.hash() != info.genesis_hash {
        return Err(Discrepancy::new(
            Height(0),
            "genesis-hash",
            format!("{} (from --genesis)", mine.state.block.hash()),
            format!("{} (the node's chain)", info.genesis_hash),
        )
        .into());
    }
    Ok(mine)
}

impl BlockSource for RpcSource {
    fn tip(&self) -> Result<Height, AuditError> {
        let s = self
            .rt
            .block_on(self.client.status())
            .map_err(|e| unreachable(&self.url, "cairn_status", e))?;
        Ok(Height(s.committed_height))
    }

    fn fetch(&self, from: Height, to: Height) -> Result<Vec<FetchResult>, AuditError> {
        let starts: Vec<u64> = (from.0..=to.0)
            .step_by(PAGE as usize)
            .take(IN_FLIGHT)
            .collect();
        let calls = starts.iter().map(|s| {
            let count = PAGE.min(to.0 - s + 1) as u32;
            self.client.get_raw_blocks(Some(*s), Some(count))
        });
        let pages = self.rt.block_on(futures::future::join_all(calls));
        let mut out = Vec::new();
        let mut next = from.0;
        for (start, page) in starts.into_iter().zip(pages) {
            let page = page.map_err(|e| unreachable(&self.url, "cairn_getRawBlocks", e))?;
            if start != next {
                break; // an earlier page came back short (byte limit): ask again from `next`
            }
            let asked = PAGE.min(to.0 - start + 1);
            if page.blocks.len() as u64 > asked {
                return Err(AuditError::Unavailable(format!(
                    "{} sent {} blocks from height {start}, asked for at most {asked}; \
                     the node does not follow the cairn_getRawBlocks contract",
                    self.url,
                    page.blocks.len()
                )));
            }
            for raw in &page.blocks {
                out.push(self.decode(Height(next), raw));
                next += 1;
            }
            if (page.blocks.len() as u64) < asked {
                break;
            }
        }
        if out.is_empty() {
            return Err(AuditError::Unavailable(format!(
                "{} returned no block at height {from}",
                self.url
            )));
        }
        Ok(out)
    }
}
