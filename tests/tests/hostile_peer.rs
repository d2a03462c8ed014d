//! A hostile libp2p peer against a real 4-validator testnet (four `cairn`
//! processes on 127.0.0.1), while transfers keep flowing.
//!
//! One hostile identity per kind of attack connects to node 0 with the
//! node's own protocols and sends, until node 0 drops it:
//! - garbage gossip on both topics, and a transaction batch claiming more
//!   transactions than a batch may hold;
//! - garbage and oversized `/cairn/rr/1` frames (one claims 1 GiB);
//! - gossiped transactions with broken signatures;
//! - gossiped proposals and timeouts with broken signatures;
//! - votes with broken signatures sent directly, as a validator would.
//!
//! Each must get the peer penalised (node 0's `cairn_peer_penalties_total`
//! for the expected reason), disconnected and banned (`cairn_peer_bans_total`;
//! a new connection from it is refused). A sixth identity replays what it
//! saw (an old real proposal and the votes inside its QC, sent directly, and
//! the bytes of a committed transaction, gossiped) and sends one gossip
//! message far above the size limit: the replays execute nothing twice and,
//! since an honest peer that lags sends stale messages too, cost no points.
//! Throughout, node 0 stays up and every transfer submitted commits, the same
//! on all four nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_consensus::Message;
use cairn_genesis::KeyFile;
use cairn_ledger::{
    Address, Amount, ChainId, Encode, Hash, Proposal, Round, Signature, SignedTransaction, Timeout,
    Transaction, Vote,
};
use cairn_network::{
    consensus_topic, decode_consensus, peer_id_of, txs_topic, Request, MAX_TX_BATCH,
};
use cairn_tests::hostile::{frame, HostilePeer, Seen};
use cairn_tests::testnet::Testnet;
use libp2p::gossipsub::IdentTopic;
use libp2p::Multiaddr;
use serde_json::{json, Value};

/// Bound on each attack: the ban threshold is reached in a few messages.
const ATTACK_LIMIT: Duration = Duration::from_secs(30);

struct Wallet {
    keys: Vec<KeyFile>,
    nonces: Vec<u64>,
    chain: ChainId,
}

impl Wallet {
    fn transfer(&mut self, i: usize, amount: u64) -> SignedTransaction {
        let to: Address = self.keys[(i + 1) % self.keys.len()].address();
        let tx = Transaction {
            chain_id: self.chain.clone(),
            from: self.keys[i].address(),
            to,
            amount: Amount(amount),
            nonce: self.nonces[i],
            memo: b"hostile".to_vec(),
        }
        .sign(self.keys[i].secret());
        self.nonces[i] += 1;
        tx
    }
}

fn raw(tx: &SignedTransaction) -> String {
    format!("0x{}", hex::encode(tx.to_bytes()))
}

fn status(net: &Testnet, i: usize) -> Option<Value> {
    net.call(i, "cairn_status", json!([])).ok()
}

fn height(net: &Testnet, i: usize) -> Option<u64> {
    status(net, i)?["committedHeight"].as_u64()
}

/// `GET /metrics` from `addr`.
fn metrics(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("metrics server");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The value of one sample (`name{labels}` as printed), 0 if absent.
fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

fn penalties(addr: &str, reason: &str) -> u64 {
    sample(
        &metrics(addr),
        &format!("cairn_peer_penalties_total{{reason=\"{reason}\"}}"),
    )
}

fn bans(addr: &str) -> u64 {
    sample(&metrics(addr), "cairn_peer_bans_total")
}

/// Polls `metric` (exported every 500 ms) for up to 5 s until it reaches `at_least`.
fn reaches(metric: impl Fn() -> u64, at_least: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = metric();
        if now >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {now}, expected at least {at_least}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where node `i` serves its metrics (`cairn testnet` writes `[metrics]
/// listen` into every home); returns `host:port`.
fn metrics_addr(net: &Testnet, i: usize) -> String {
    let path = net.nodes[i].home.join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let section = config
        .split("[metrics]")
        .nth(1)
        .unwrap_or_else(|| panic!("{} has no [metrics] section", path.display()));
    section
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen = "))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("{} has no [metrics] listen", path.display()))
}

/// Keeps submitting transfers (to nodes 1..3, round-robin) until stopped;
/// returns their hashes.
fn start_load(
    net: Arc<Mutex<Testnet>>,
    wallet: Arc<Mutex<Wallet>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut hashes = Vec::new();
        let mut k = 0usize;
        while !stop.load(Ordering::SeqCst) {
            // Accounts 0..12 carry the load; 15 is kept for the replay.
            let tx = wallet.lock().unwrap().transfer(k % 12, 1);
            let node = 1 + k % 3;
            let got = net
                .lock()
                .unwrap()
                .call(node, "cairn_submitTransaction", json!([raw(&tx)]));
            match got {
                Ok(h) => hashes.push(h.as_str().unwrap().to_string()),
                Err(e) => panic!("node {node} refused a transfer: {e:?}"),
            }
            k += 1;
            std::thread::sleep(Duration::from_millis(150));
        }
        hashes
    })
}

/// Waits until `hash` is committed on node `i`; returns its (height, index).
fn committed(net: &Testnet, i: usize, hash: &str, timeout: Duration) -> (u64, u64) {
    net.wait_for(&format!("{hash} committed on node {i}"), timeout, |net| {
        let tx = net.call(i, "cairn_getTransaction", json!([hash])).ok()?;
        (tx["status"] == "committed").then(|| {
            (
                tx["height"].as_u64().unwrap(),
                tx["index"].as_u64().unwrap(),
            )
        })
    })
}

/// A copy of `sig` with one bit flipped.
fn broken(sig: &Signature) -> Signature {
    let mut b = sig.0;
    b[7] ^= 0x10;
    Signature(b)
}

/// Connects a fresh hostile identity, runs `attack` (which returns once it
/// has sent one round of messages) until node 0 drops the connection, then
/// checks the ban: a new connection gets no answer.
async fn until_banned<F, Fut>(
    seed: u8,
    victim: &Multiaddr,
    topics: &[IdentTopic],
    what: &str,
    mut attack: F,
) -> usize
where
    F: FnMut(HostileRef, usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let peer = Arc::new(HostilePeer::start([seed; 32], victim.clone(), topics));
    peer.dial().await.unwrap();
    let deadline = Instant::now() + ATTACK_LIMIT;
    while !peer.is_connected() {
        assert!(Instant::now() < deadline, "{what}: never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let node 0 learn the subscriptions (gossip needs them).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut rounds = 0;
    while peer.is_connected() {
        assert!(
            Instant::now() < deadline,
            "{what}: still connected after {rounds} rounds of attack"
        );
        attack(HostileRef(peer.clone()), rounds).await;
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Banned: a new connection is refused, so a request gets no answer.
    let _ = peer.dial().await;
    let status = Request::Status.to_bytes();
    let answer = tokio::time::timeout(Duration::from_secs(10), peer.request(frame(&status)))
        .await
        .expect("a refused request fails promptly");
    assert!(
        answer.is_err(),
        "{what}: a banned peer's request was answered: {answer:?}"
    );
    eprintln!("{what}: disconnected after {rounds} rounds, and refused on return");
    Arc::into_inner(peer).unwrap().stop().await;
    rounds
}

/// A shared handle on a hostile peer for one attack round.
#[derive(Clone)]
struct HostileRef(Arc<HostilePeer>);

impl HostileRef {
    async fn publish(&self, topic: &IdentTopic, data: Vec<u8>) {
        // Refusals (not yet subscribed, or already disconnected) are fine:
        // the next round sends again.
        if let Err(e) = self.0.publish(topic, data).await {
            eprintln!("publish refused: {e}");
        }
    }
    async fn request(&self, body: Vec<u8>) -> Result<Vec<u8>, String> {
        self.0.request(body).await
    }
}

#[test]
fn a_hostile_peer_is_penalised_and_banned_while_the_chain_commits() {
    let mut net = Testnet::generate(4, 400);
    let metrics_addr = metrics_addr(&net, 0);
    net.start_all();
    net.wait_for("all nodes to answer", Duration::from_secs(30), |net| {
        (0..4).all(|i| height(net, i).is_some()).then_some(())
    });
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(net.dir.path().join("testnet.json")).unwrap(),
    )
    .unwrap();
    let node0 = &summary["nodes"][0];
    let validator0: Address = serde_json::from_value(node0["validator"].clone()).unwrap();
    let p2p0: std::net::SocketAddr = node0["p2p"].as_str().unwrap().parse().unwrap();
    let victim: Multiaddr = format!(
        "/ip4/127.0.0.1/tcp/{}/p2p/{}",
        p2p0.port(),
        peer_id_of(&validator0).unwrap()
    )
    .parse()
    .unwrap();
    let chain = ChainId::new(net.chain_id.clone()).unwrap();
    let keys: Vec<KeyFile> = net
        .accounts
        .iter()
        .map(|p| KeyFile::read(p).unwrap())
        .collect();
    let wallet = Arc::new(Mutex::new(Wallet {
        nonces: vec![0; keys.len()],
        keys,
        chain: chain.clone(),
    }));

    // A transfer committed before the attack, to be replayed later.
    let replayed = wallet.lock().unwrap().transfer(15, 5);
    net.call(1, "cairn_submitTransaction", json!([raw(&replayed)]))
        .unwrap();
    let replayed_at = committed(
        &net,
        0,
        &replayed.hash().to_string(),
        Duration::from_secs(60),
    );
    let start_height = height(&net, 0).unwrap();

    let net = Arc::new(Mutex::new(net));
    let stop_load = Arc::new(AtomicBool::new(false));
    let load = start_load(net.clone(), wallet.clone(), stop_load.clone());

    let (txs, cons) = (txs_topic(&chain), consensus_topic(&chain));
    let topics = [txs.clone(), cons.clone()];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = metrics_addr.as_str();
    let bans_before = bans(m);

    rt.block_on(async {
        // 1. Garbage gossip on both topics, and an over-long batch.
        let before = penalties(m, "malformed");
        until_banned(101, &victim, &topics, "garbage gossip", |p, n| {
            let (txs, cons) = (txs.clone(), cons.clone());
            async move {
                let mut garbage = vec![0xee, 0x01, 0x02];
                garbage.extend_from_slice(&(n as u64).to_le_bytes());
                p.publish(&cons, garbage.clone()).await;
                garbage[0] = 0xef;
                p.publish(&txs, garbage).await;
                let mut too_many = ((MAX_TX_BATCH + 1) as u32).to_le_bytes().to_vec();
                too_many.extend_from_slice(&(n as u64).to_le_bytes());
                p.publish(&txs, too_many).await;
            }
        })
        .await;
        reaches(
            || penalties(m, "malformed"),
            before + 4,
            "malformed gossip penalties",
        );

        // 2. Garbage frames and frames claiming 1 GiB.
        let (malformed, oversized) = (penalties(m, "malformed"), penalties(m, "oversized"));
        until_banned(102, &victim, &topics, "bad frames", |p, n| async move {
            let body = vec![0xff, n as u8, 0xff];
            let _ = p.request(frame(&body)).await;
            let mut claim = (1u32 << 30).to_le_bytes().to_vec();
            claim.extend_from_slice(&[0; 64]);
            let _ = p.request(claim).await;
        })
        .await;
        reaches(
            || penalties(m, "malformed"),
            malformed + 1,
            "garbage frame penalties",
        );
        reaches(
            || penalties(m, "oversized"),
            oversized + 1,
            "oversized frame penalties",
        );

        // 3. Transactions with broken signatures.
        let before = penalties(m, "bad_signature");
        let forger = wallet.clone();
        until_banned(103, &victim, &topics, "forged transactions", |p, _| {
            let tx = forger.lock().unwrap().transfer(14, 1);
            let forged = SignedTransaction::new(tx.tx().clone(), broken(tx.signature()));
            let txs = txs.clone();
            async move {
                let mut batch = 1u32.to_le_bytes().to_vec();
                batch.extend_from_slice(&forged.to_bytes());
                p.publish(&txs, batch).await;
            }
        })
        .await;
        reaches(
            || penalties(m, "bad_signature"),
            before + 2,
            "forged transaction penalties",
        );
    });

    // A real proposal seen on the wire: the material for forgeries and replays.
    let (proposal, listener) = rt.block_on(async {
        let mut listener = HostilePeer::start([104; 32], victim.clone(), &topics);
        listener.dial().await.unwrap();
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let Some(Seen::Gossip { topic, data }) = listener.seen.recv().await else {
                    panic!("listener stopped");
                };
                if topic != cons.hash() {
                    continue;
                }
                if let Ok(Message::Proposal(p)) = decode_consensus(&data, &chain) {
                    return p;
                }
            }
        })
        .await
        .expect("a proposal gossiped by node 0 within 60 s");
        (found, listener)
    });
    eprintln!(
        "recorded proposal of round {} at height {}",
        proposal.block.header.round, proposal.block.header.height
    );

    rt.block_on(async {
        // 4. Proposals and timeouts with broken signatures, gossiped.
        let before = penalties(m, "bad_signature");
        let current = |net: &Arc<Mutex<Testnet>>| {
            let s = status(&net.lock().unwrap(), 0).unwrap();
            Round(s["round"].as_u64().unwrap())
        };
        until_banned(105, &victim, &topics, "forged consensus gossip", |p, n| {
            let mut forged: Proposal = proposal.clone();
            forged.signature = broken(&forged.signature);
            forged.block.header.timestamp_ms += n as u64; // a new message each round
            let round = Round(current(&net).0 + 2);
            let timeout = Timeout {
                round,
                high_qc: proposal.block.header.justify.clone(),
                signer: 0,
                signature: Signature([n as u8; 64]),
            };
            let cons = cons.clone();
            async move {
                p.publish(&cons, Message::Proposal(forged).to_bytes()).await;
                p.publish(&cons, Message::Timeout(timeout).to_bytes()).await;
            }
        })
        .await;
        reaches(
            || penalties(m, "bad_signature"),
            before + 2,
            "forged consensus gossip penalties",
        );

        // 5. Votes with broken signatures, sent directly.
        let before = penalties(m, "bad_signature");
        until_banned(106, &victim, &topics, "forged votes", |p, n| {
            let round = Round(current(&net).0 + 2);
            let vote = Vote {
                block_hash: Hash([n as u8; 32]),
                height: proposal.block.header.height,
                round,
                signer: 1,
                signature: Signature([0x5a; 64]),
            };
            async move {
                let body = Request::Consensus(Message::Vote(vote)).to_bytes();
                let _ = p.request(frame(&body)).await;
            }
        })
        .await;
        reaches(
            || penalties(m, "bad_signature"),
            before + 2,
            "forged vote penalties",
        );

        // 6. Replays, then one gossip message far above the limit.
        std::thread::sleep(Duration::from_secs(1)); // the last phase's penalties, exported
        let penalised_before: u64 = ["malformed", "oversized", "bad_signature", "invalid"]
            .iter()
            .map(|r| penalties(m, r))
            .sum();
        let replay = Arc::new(listener);
        let qc = proposal.block.header.justify.clone();
        let old_votes: Vec<Vote> = qc
            .signatures
            .iter()
            .map(|(signer, signature)| Vote {
                block_hash: qc.block_hash,
                height: qc.height,
                round: qc.round,
                signer: *signer,
                signature: *signature,
            })
            .collect();
        for _ in 0..3 {
            let body = Request::Consensus(Message::Proposal(proposal.clone())).to_bytes();
            let ack = replay.request(frame(&body)).await;
            assert!(
                ack.is_ok(),
                "a replayed proposal was not acknowledged: {ack:?}"
            );
            for v in &old_votes {
                let body = Request::Consensus(Message::Vote(v.clone())).to_bytes();
                let _ = replay.request(frame(&body)).await;
            }
        }
        let mut batch = 1u32.to_le_bytes().to_vec();
        batch.extend_from_slice(&replayed.to_bytes());
        replay.publish(&txs, batch).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let penalised_after: u64 = ["malformed", "oversized", "bad_signature", "invalid"]
            .iter()
            .map(|r| penalties(m, r))
            .sum();
        assert_eq!(penalised_after, penalised_before, "replays were penalised");
        assert!(
            replay.is_connected(),
            "a peer replaying valid messages was dropped"
        );
        let huge = vec![0x42; 20 << 20];
        let _ = replay.publish(&txs, huge).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        Arc::into_inner(replay).unwrap().stop().await;
    });

    reaches(
        || bans(m),
        bans_before + 5,
        "bans of the five hostile identities",
    );

    // The node stayed up and the chain went on: every transfer submitted
    // during the attacks commits, identically everywhere.
    stop_load.store(true, Ordering::SeqCst);
    let hashes = load.join().unwrap();
    let mut net = Arc::into_inner(net).unwrap().into_inner().unwrap();
    assert!(
        net.nodes[0]
            .child
            .as_mut()
            .unwrap()
            .try_wait()
            .unwrap()
            .is_none(),
        "node 0 exited"
    );
    assert!(
        hashes.len() > 20,
        "only {} transfers submitted",
        hashes.len()
    );
    let mut top = 0;
    for h in &hashes {
        let at0 = committed(&net, 0, h, Duration::from_secs(90));
        top = top.max(at0.0);
    }
    assert!(top > start_height, "no commits during the attack");
    for i in 1..4 {
        committed(&net, i, hashes.last().unwrap(), Duration::from_secs(60));
        for h in [start_height, top] {
            let a = net.call(0, "cairn_getBlock", json!([h])).unwrap();
            let b = net.call(i, "cairn_getBlock", json!([h])).unwrap();
            assert_eq!(a["hash"], b["hash"], "block {h} differs on node {i}");
        }
    }
    // The replayed transfer ran once: still where it was, and its sender's
    // nonce counts it once.
    let again = committed(
        &net,
        0,
        &replayed.hash().to_string(),
        Duration::from_secs(5),
    );
    assert_eq!(again, replayed_at);
    let account = net
        .call(
            0,
            "cairn_getAccount",
            json!([replayed.tx().from.to_string()]),
        )
        .unwrap();
    assert_eq!(
        account["nonce"], 1,
        "the replayed transfer ran twice: {account}"
    );
    eprintln!(
        "{} transfers committed through the attacks, heights {start_height}..{top}",
        hashes.len()
    );
}
