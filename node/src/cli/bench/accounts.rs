//! The bench's senders: keys derived from the seed, funded from the `--key`
//! account (in chunks below the per-sender mempool cap, each waited for;
//! what a node refuses for a transient reason is sent again), and their
//! next nonces.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cairn_genesis::KeyFile;
use cairn_ledger::{Address, Amount, ChainId, Encode, Hash, SecretKey, Transaction};
use cairn_rpc::{AccountInfo, CairnApiClient, ErrorCode};
use futures::{StreamExt, TryStreamExt};

use super::retry::retryable;
use super::{progress, Plan, Target};

/// Funding transfers submitted before waiting for them to commit (below
/// the default `mempool.max_per_sender` of 512).
const FUND_CHUNK: usize = 256;
/// How long one chunk of funding transfers may take to commit.
const FUND_TIMEOUT: Duration = Duration::from_secs(60);
/// Extra balance each sender gets beyond what its transfers move.
const FUND_MARGIN: u64 = 1_000;
/// Amount of every bench transfer.
pub(super) const TRANSFER_AMOUNT: u64 = 1;

/// One sending account.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    pub key: SecretKey,
    pub address: Address,
    /// The first nonce this run signs with.
    pub nonce: u64,
    /// Index of the node its transactions go to.
    pub node: usize,
}

/// The sender key `j` of `seed`: SHA-256 of a fixed tag, the seed and `j`.
fn derive_key(seed: u64, j: u64) -> SecretKey {
    let mut bytes = b"cairn/bench/v1".to_vec();
    bytes.extend_from_slice(&seed.to_le_bytes());
    bytes.extend_from_slice(&j.to_le_bytes());
    SecretKey::from_seed(*Hash::digest(&bytes).as_bytes())
}

async fn account(t: &Target, address: Address) -> anyhow::Result<AccountInfo> {
    t.client
        .get_account(address.to_string(), None)
        .await
        .with_context(|| format!("cairn_getAccount {address} on {}", t.url))
}

/// Derives, funds and reads the nonces of the plan's senders.
pub(crate) async fn prepare(
    targets: &[Target],
    chain: &ChainId,
    funder: &KeyFile,
    plan: &Plan,
) -> anyhow::Result<Vec<Sender>> {
    let keys: Vec<SecretKey> = (0..plan.accounts)
        .map(|j| derive_key(plan.seed, j))
        .collect();
    let per_sender = plan.total().div_ceil(plan.accounts);
    let need = per_sender * TRANSFER_AMOUNT + FUND_MARGIN;
    let infos: Vec<AccountInfo> = futures::stream::iter(keys.iter())
        .map(|k| account(&targets[0], k.address()))
        .buffered(16)
        .try_collect()
        .await?;
    let unfunded: Vec<Address> = infos
        .iter()
        .filter(|a| a.balance.0 < need)
        .map(|a| a.address)
        .collect();
    if !unfunded.is_empty() {
        fund(targets, chain, funder, &unfunded, need).await?;
    }
    let mut senders = Vec::with_capacity(keys.len());
    for (j, key) in keys.into_iter().enumerate() {
        let node = j % targets.len();
        let info = account(&targets[node], key.address()).await?;
        if info.pending > 0 {
            bail!(
                "sender {} has {} pending transactions on {} from an earlier run; wait for them to commit or expire (mempool.tx_ttl_secs), or pass another --seed",
                info.address, info.pending, targets[node].url
            );
        }
        senders.push(Sender {
            address: key.address(),
            key,
            nonce: info.nonce,
            node,
        });
    }
    Ok(senders)
}

/// Sends `need` to each of `to` from the funder, in chunks, waiting for each
/// chunk to commit; then waits until every node has committed them.
async fn fund(
    targets: &[Target],
    chain: &ChainId,
    funder: &KeyFile,
    to: &[Address],
    need: u64,
) -> anyhow::Result<()> {
    let node = &targets[0];
    let from = funder.address();
    let info = account(node, from).await?;
    let cost = need.saturating_mul(to.len() as u64);
    if info.balance.0 < cost {
        bail!(
            "the --key account {from} holds {} but funding {} senders needs {cost}; use a funded account (testnet accounts/account-*.json) or fewer --accounts",
            info.balance,
            to.len()
        );
    }
    progress(format!(
        "funding {} senders with {need} each from {from}",
        to.len()
    ));
    let first = info.nonce + info.pending;
    let raws = funding_transfers(chain, funder, to, first, need);
    // Submit in chunks; whatever a node refuses for a transient reason (a
    // small mempool.max_per_sender, a rate limit) is sent again once the
    // accepted part has committed.
    let (mut done, mut chunk) = (0usize, FUND_CHUNK);
    let mut deadline = Instant::now() + FUND_TIMEOUT;
    let late = || {
        anyhow::anyhow!(
            "funding transfers from {from} did not commit within {} s; is the chain live (`cairn_status` on {})?",
            FUND_TIMEOUT.as_secs(),
            node.url
        )
    };
    while done < raws.len() {
        if Instant::now() > deadline {
            return Err(late());
        }
        let part = raws[done..(done + chunk).min(raws.len())].to_vec();
        let accepted = match submit_chunk(node, from, part).await? {
            Chunk::Accepted(k) => k,
            Chunk::TooLarge if chunk > 1 => {
                chunk /= 2;
                continue;
            }
            Chunk::TooLarge => bail!(
                "{} refuses even one funding transfer per call (too many items)",
                node.url
            ),
            Chunk::RateLimited => 0,
        };
        if accepted == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        done += accepted;
        if !reaches_nonce(node, from, first + done as u64, deadline).await? {
            return Err(late());
        }
        deadline = Instant::now() + FUND_TIMEOUT;
    }
    // Every node must hold the funding transfers, not merely the height the
    // first node is at: that node's tip may be an empty block that only it
    // knows committed (the leader that formed its certificate), and on a
    // chain gone idle after funding the others would not reach it until the
    // load starts, which waits for this.
    let funded = first + raws.len() as u64;
    let deadline = Instant::now() + FUND_TIMEOUT;
    for t in &targets[1..] {
        if !reaches_nonce(t, from, funded, deadline).await? {
            bail!(
                "{} did not commit the funding transfers (account {from} below nonce {funded}) within {} s",
                t.url,
                FUND_TIMEOUT.as_secs()
            );
        }
    }
    Ok(())
}

/// The funding transfers, hex-encoded: `need` to each of `to`, nonces from `first`.
fn funding_transfers(
    chain: &ChainId,
    funder: &KeyFile,
    to: &[Address],
    first: u64,
    need: u64,
) -> Vec<String> {
    to.iter()
        .zip(first..)
        .map(|(addr, nonce)| {
            let tx = Transaction {
                chain_id: chain.clone(),
                from: funder.address(),
                to: *addr,
                amount: Amount(need),
                nonce,
                memo: b"cairn bench funding".to_vec(),
            }
            .sign(funder.secret());
            format!("0x{}", hex::encode(tx.to_bytes()))
        })
        .collect()
}

/// What a node made of one chunk of funding transfers.
enum Chunk {
    /// The first `k` were accepted (the rest refused for a reason that can pass).
    Accepted(usize),
    /// More items than the node takes in one call.
    TooLarge,
    /// The node's rate limit: try again later.
    RateLimited,
}

/// Submits one chunk; a refusal that cannot pass is an error naming it.
async fn submit_chunk(node: &Target, from: Address, part: Vec<String>) -> anyhow::Result<Chunk> {
    match node.client.submit_transactions(part).await {
        Ok(outcomes) => {
            let k = outcomes.iter().take_while(|o| o.error.is_none()).count();
            if let Some(e) = outcomes.get(k).and_then(|o| o.error.as_ref()) {
                let reason = e.data.as_ref().and_then(|d| d["reason"].as_str());
                if !reason.is_some_and(retryable) {
                    bail!(
                        "{} rejected a funding transfer from {from}: {} (code {})",
                        node.url,
                        e.message,
                        e.code
                    );
                }
            }
            Ok(Chunk::Accepted(k))
        }
        Err(jsonrpsee::core::ClientError::Call(e))
            if e.code() == ErrorCode::TooManyItems.code() =>
        {
            Ok(Chunk::TooLarge)
        }
        Err(jsonrpsee::core::ClientError::Call(e)) if e.code() == ErrorCode::RateLimited.code() => {
            Ok(Chunk::RateLimited)
        }
        Err(e) => Err(e).with_context(|| format!("submitting funding transfers to {}", node.url)),
    }
}

/// Waits until `t` has committed `from`'s transfers below `nonce`; false if
/// `deadline` passes first.
async fn reaches_nonce(
    t: &Target,
    from: Address,
    nonce: u64,
    deadline: Instant,
) -> anyhow::Result<bool> {
    while account(t, from).await?.nonce < nonce {
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_per_seed_and_index() {
        assert_eq!(derive_key(7, 0).address(), derive_key(7, 0).address());
        assert_ne!(derive_key(7, 0).address(), derive_key(7, 1).address());
        assert_ne!(derive_key(7, 0).address(), derive_key(8, 0).address());
    }
}
