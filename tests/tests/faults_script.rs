//! The fault commands of `scripts/testnet.sh` on real processes in real
//! network namespaces (docs/FAULTS.md): a 4-validator testnet, each node in
//! its own namespace on a bridge, broken with nftables, tc, SIGSTOP and
//! libfaketime, then healed; after `down` nothing of it is left in the
//! host's network configuration.
//!
//! Each check is of the fault's effect, not of the script's word for it: an
//! isolated node's height stops and its peers drop to zero while the others
//! commit; a 2|2 split commits nothing anywhere; a paused node's RPC does not
//! answer; a throttled link's qdisc carries the node's traffic; a skewed
//! node's proposals carry its shifted clock. Creating namespaces needs root,
//! so as any other user the test says it was skipped and passes (CI runs as
//! root). Every step is bounded in time and every process stopped (see
//! `cairn_tests::testnet::script`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_tests::testnet::script::{net_leftovers, Script};
use cairn_tests::testnet::{is_root, rpc_call};
use serde_json::{json, Value};

const MIN: Duration = Duration::from_secs(60);

/// The testnet as `testnet.json` describes it.
struct Net {
    rpcs: Vec<String>,
    validators: Vec<String>,
    keys: Vec<String>,
    addresses: Vec<String>,
}

impl Net {
    fn read(s: &Script) -> Net {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(s.testnet_dir().join("testnet.json")).unwrap(),
        )
        .unwrap();
        let field = |list: &str, key: &str| -> Vec<String> {
            v[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n[key].as_str().unwrap().to_string())
                .collect()
        };
        Net {
            rpcs: field("nodes", "rpc"),
            validators: field("nodes", "validator"),
            keys: field("accounts", "keyFile"),
            addresses: field("accounts", "address"),
        }
    }

    fn status(&self, i: usize) -> Option<Value> {
        rpc_call(&self.rpcs[i], "cairn_status", json!([])).ok()
    }

    fn height(&self, i: usize) -> Option<u64> {
        self.status(i)?["committedHeight"].as_u64()
    }

    fn peers(&self, i: usize) -> Option<u64> {
        self.status(i)?["peers"].as_u64()
    }

    fn block(&self, i: usize, h: u64) -> Value {
        rpc_call(&self.rpcs[i], "cairn_getBlock", json!([h, false])).unwrap()
    }
}

/// Polls `f` every 200 ms until it holds; panics naming `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

/// Transfers 1 from account `from` to account 0 through node `via`, waiting
/// for the commit; returns the height it committed at.
fn transfer(s: &Script, net: &Net, from: usize, via: usize) -> u64 {
    let out = s.cairn(
        &[
            "tx",
            "transfer",
            "--rpc",
            &net.rpcs[via],
            "--key",
            &net.keys[from],
            "--to",
            &net.addresses[0],
            "--amount",
            "1",
            "--wait",
            "--timeout-secs",
            "90",
            "--json",
        ],
        Duration::from_secs(120),
    );
    out.ok(&format!(
        "cairn tx transfer from account {from} via node {via}"
    ));
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("tx transfer --json");
    v["height"]
        .as_u64()
        .unwrap_or_else(|| panic!("no height in {v}"))
}

/// After a fault ends: how long until node `lagging` holds every block
/// with transactions. On an idle chain a node a few blocks behind stays
/// there until the next proposal (`node/driver/src/catchup.rs`: a lag
/// under 8 blocks is not worth pausing consensus for a block sync), so a
/// transfer through node `via` moves the chain; the lagging node must then
/// reach its height.
fn catch_up(s: &Script, net: &Net, lagging: usize, via: usize, from: usize) -> (Duration, u64) {
    let start = Instant::now();
    let top = transfer(s, net, from, via);
    wait_until(
        &format!("node {lagging} reaches the transfer at {top} after the fault ends"),
        Duration::from_secs(120),
        || net.height(lagging).is_some_and(|h| h >= top),
    );
    (start.elapsed(), top)
}

/// Submits a transfer without waiting for it.
fn submit(s: &Script, net: &Net, from: usize, via: usize) {
    s.cairn(
        &[
            "tx",
            "transfer",
            "--rpc",
            &net.rpcs[via],
            "--key",
            &net.keys[from],
            "--to",
            &net.addresses[0],
            "--amount",
            "1",
        ],
        MIN,
    )
    .ok(&format!(
        "cairn tx transfer from account {from} via node {via}"
    ));
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn host(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The faults column of node `i` in `status`.
fn faults_of(s: &Script, i: usize) -> String {
    s.status_rows()[i].get(8).cloned().unwrap_or_default()
}

#[test]
fn faults_script_isolate_partition_loss_throttle_pause_skew_heal_down() {
    if !is_root() {
        eprintln!(
            "SKIPPED faults_script: it needs root to create network namespaces, veths, a bridge and nftables rules (CI runs it as root)"
        );
        return;
    }
    let s = Script::new(&[
        ("CAIRN_TESTNET_NETNS", "1"),
        ("CAIRN_TESTNET_ROUND_TIMEOUT_MS", "1000"),
    ]);
    let up = s.run(&["up", "4"], Duration::from_secs(240));
    up.ok("testnet.sh up 4");
    let id = s.net_id().expect("netns.conf written by up as root");
    let ns = |i: usize| format!("cairn-{id}-{i}");
    let net = Net::read(&s);
    assert!(
        net.rpcs.iter().all(|r| r.starts_with("http://10.")),
        "RPCs on namespace IPs: {:?}",
        net.rpcs
    );
    assert_eq!(
        net_leftovers(&id).len(),
        4 + 4 + 1,
        "4 namespaces, 4 veths, 1 bridge"
    );
    for i in 0..4 {
        let lo = in_ns(&ns(i), &["ip", "-o", "link", "show", "lo"]);
        assert!(lo.contains("UP"), "loopback of node {i}'s namespace: {lo}");
    }
    let rows = s.status_rows();
    for row in &rows {
        assert_eq!(row[2], "running", "{row:?}");
        assert_eq!(row[5], "3", "peers in {row:?}");
        assert_eq!(row[8], "-", "no fault yet: {row:?}");
    }
    // Each transfer commits before its account is used again.
    let mut account = (1..net.keys.len()).cycle();
    let mut next = || account.next().unwrap();

    // isolate 3: the other three (a quorum) commit, node 3 sees no peer and stops.
    s.run(&["isolate", "3"], MIN).ok("isolate 3");
    assert_eq!(faults_of(&s, 3), "isolated");
    let gone = wait_until(
        "isolated node 3 has no peers",
        Duration::from_secs(90),
        || net.peers(3) == Some(0),
    );
    let h3 = net.height(3).unwrap();
    let (a, b) = (next(), next());
    transfer(&s, &net, a, 0);
    let top = transfer(&s, &net, b, 1);
    for i in 0..3 {
        assert!(
            net.height(i).unwrap() >= top,
            "node {i} committed during the isolation"
        );
    }
    assert_eq!(net.height(3), Some(h3), "isolated node 3 committed");
    s.run(&["heal"], MIN).ok("heal");
    assert_eq!(faults_of(&s, 3), "-");
    let (caught, at) = catch_up(&s, &net, 3, 0, next());
    eprintln!(
        "isolate 3: peers gone after {gone:?}; others went {h3} -> {top} meanwhile; after heal node 3 held the next transfer's block {at} {caught:?} after the heal"
    );

    // partition 0,1 2,3: no group has a quorum; nothing commits until the heal.
    s.run(&["partition", "0,1", "2,3"], MIN)
        .ok("partition 0,1 2,3");
    let status = s.run(&["status"], MIN);
    assert!(
        status.stdout.contains("partition: 0,1 2,3"),
        "{}",
        status.stdout
    );
    assert_eq!(faults_of(&s, 2), "group=2,3");
    std::thread::sleep(Duration::from_secs(3)); // what was in flight lands
    let before: Vec<u64> = (0..4).map(|i| net.height(i).unwrap()).collect();
    submit(&s, &net, next(), 0);
    submit(&s, &net, next(), 2);
    std::thread::sleep(Duration::from_secs(12)); // twelve round timeouts
    let during: Vec<u64> = (0..4).map(|i| net.height(i).unwrap()).collect();
    // A node may still learn, from its group, a block another already had
    // committed; no node may get past the highest block committed before.
    let tip = *before.iter().max().unwrap();
    assert!(
        during.iter().all(|h| *h <= tip),
        "a block was committed during a 2|2 partition: heights {before:?} -> {during:?}"
    );
    let healed = Instant::now();
    s.run(&["heal"], MIN).ok("heal");
    wait_until(
        "commits resume on every node after the partition heals",
        Duration::from_secs(120),
        || (0..4).all(|i| net.height(i).is_some_and(|h| h > tip)),
    );
    let resumed = healed.elapsed();
    let top = transfer(&s, &net, next(), 3);
    wait_until("every node at the post-heal transfer", MIN, || {
        (0..4).all(|i| net.height(i).is_some_and(|h| h >= top))
    });
    eprintln!(
        "partition 0,1|2,3: heights {before:?} -> {during:?} during 12 s; commits resumed {resumed:?} after heal began; all at {top} after {:?}",
        healed.elapsed()
    );
    let audit = s.run(&["audit"], Duration::from_secs(180));
    audit.ok("audit after the partition");
    assert!(
        audit.stdout.contains("all 4 nodes agree"),
        "{}",
        audit.stdout
    );

    // loss 2 100: as good as isolation.
    s.run(&["loss", "2", "100"], MIN).ok("loss 2 100");
    assert_eq!(faults_of(&s, 2), "loss=100%");
    let gone = wait_until(
        "node 2 with 100% loss has no peers",
        Duration::from_secs(90),
        || net.peers(2) == Some(0),
    );
    let h2 = net.height(2).unwrap();
    let top = transfer(&s, &net, next(), 0);
    assert_eq!(
        net.height(2),
        Some(h2),
        "node 2 committed through 100% loss"
    );
    s.run(&["heal"], MIN).ok("heal");
    // Through node 1: a transfer gossiped before node 2's peers are back
    // may never reach node 2's mempool, and the chain goes idle again; node 2
    // must then sync its idle lag on its own (`catchup::IDLE_LAG`). Before,
    // it stayed below the transfer for 120 s (seen once in CI).
    let (caught, at) = catch_up(&s, &net, 2, 1, next());
    eprintln!("loss 2 100%: peers gone after {gone:?}; node 2 stayed at {h2} while the others reached {top}; after heal it held the next transfer's block {at} {caught:?} after the heal");

    // loss 1 20 and throttle 2 1mbit: the chain still commits, through both.
    s.run(&["loss", "1", "20"], MIN).ok("loss 1 20");
    s.run(&["throttle", "2", "1mbit"], MIN)
        .ok("throttle 2 1mbit");
    let rules = in_ns(&ns(1), &["nft", "list", "table", "inet", "cairn_faults"]);
    assert!(rules.contains("numgen random mod 100 < 20"), "{rules}");
    assert_eq!(faults_of(&s, 1), "loss=20%");
    assert_eq!(faults_of(&s, 2), "throttle=1mbit");
    let sent = |dev_ns: Option<&str>, dev: &str| -> u64 {
        let out = match dev_ns {
            Some(n) => in_ns(n, &["tc", "-s", "qdisc", "show", "dev", dev]),
            None => host(&["tc", "-s", "qdisc", "show", "dev", dev]),
        };
        assert!(
            out.contains("qdisc tbf") && out.contains("rate 1Mbit"),
            "{out}"
        );
        let after = out.split("Sent ").nth(1).expect("tc -s prints Sent");
        after.split_whitespace().next().unwrap().parse().unwrap()
    };
    let veth = format!("cn{id}v2");
    let (up0, down0) = (sent(Some(&ns(2)), "eth0"), sent(None, &veth));
    // `load` reaches every node at its namespace address; every transfer
    // commits through a lossy and a slow link.
    let load = s.run(
        &[
            "load",
            "--rate",
            "100",
            "--duration",
            "3",
            "--drain-secs",
            "90",
            "--json",
        ],
        Duration::from_secs(180),
    );
    load.ok("load under loss 1 20 and throttle 2 1mbit");
    let report: Value = serde_json::from_str(&load.stdout).expect("cairn bench --json");
    assert_eq!(report["nodes"], 4, "{report}");
    assert_eq!(
        report["committed"], 300,
        "every transfer committed: {report}"
    );
    eprintln!(
        "load 100 tx/s for 3 s under loss 1 20% and throttle 2 1mbit: committed {}, p50 {} ms, p99 {} ms",
        report["committed"], report["latencyMs"]["p50"], report["latencyMs"]["p99"]
    );
    let top = transfer(&s, &net, next(), 2);
    wait_until(
        "every node commits with a lossy and a slow link",
        MIN,
        || (0..4).all(|i| net.height(i).is_some_and(|h| h >= top)),
    );
    let (up1, down1) = (sent(Some(&ns(2)), "eth0"), sent(None, &veth));
    assert!(
        up1 > up0 && down1 > down0,
        "node 2's traffic goes through its tbf qdiscs: up {up0} -> {up1}, down {down0} -> {down1}"
    );
    s.run(&["heal"], MIN).ok("heal");
    let after = in_ns(&ns(2), &["tc", "qdisc", "show", "dev", "eth0"]);
    assert!(!after.contains("tbf"), "heal leaves the tbf qdisc: {after}");
    let tables = in_ns(&ns(1), &["nft", "list", "tables"]);
    assert!(
        !tables.contains("cairn_faults"),
        "heal leaves the nft table: {tables}"
    );

    // pause 1: its RPC does not answer and it commits nothing; resume: it catches up.
    s.run(&["pause", "1"], MIN).ok("pause 1");
    let row = &s.status_rows()[1];
    assert_eq!(
        (row[2].as_str(), row[8].as_str()),
        ("paused", "paused"),
        "{row:?}"
    );
    assert!(net.status(1).is_none(), "a paused node answered its RPC");
    let top = transfer(&s, &net, next(), 0);
    s.run(&["resume", "1"], MIN).ok("resume 1");
    assert!(
        net.height(1).is_some(),
        "node 1 does not answer after resume"
    );
    let (caught, at) = catch_up(&s, &net, 1, 2, next());
    assert!(at > top);
    eprintln!("pause 1: the others committed {top} meanwhile; after resume node 1 held the next transfer's block {at} {caught:?} after resume");
    assert_eq!(faults_of(&s, 1), "-");

    // skew 3 600: node 3's proposals carry its clock, ten minutes ahead; the
    // honest nodes are not stalled (they keep committing after its blocks).
    let skew = s.run(&["skew", "3", "600"], Duration::from_secs(180));
    skew.ok("skew 3 600");
    assert_eq!(faults_of(&s, 3), "skew=+600s");
    // Blocks up to two above the committed tip may have been proposed by
    // node 3 before its restart (2-chain commit rule): look above them.
    let from = (0..4).filter_map(|i| net.height(i)).max().unwrap() + 3;
    let mut skewed = None;
    let mut seen = from;
    for _ in 0..16 {
        let h = transfer(&s, &net, next(), 0);
        for height in seen..=h {
            let b = net.block(0, height);
            if b["header"]["proposer"].as_str() == Some(net.validators[3].as_str()) {
                skewed = Some((height, b["header"]["timestampMs"].as_u64().unwrap()));
            }
        }
        seen = h + 1;
        if skewed.is_some() {
            break;
        }
    }
    let (hs, ts) = skewed.expect("node 3 proposed no committed block in 16 transfers");
    let ahead_s = (ts as i64 - now_ms() as i64) / 1000;
    assert!(
        ahead_s > 500,
        "node 3's block {hs} is only {ahead_s} s ahead of the host's clock"
    );
    let later = transfer(&s, &net, next(), 1);
    assert!(later > hs, "the chain stalled after the skewed block {hs}");
    let mut ts_prev = ts;
    let mut honest_after = Vec::new();
    for height in hs + 1..=later {
        let b = net.block(0, height);
        let t = b["header"]["timestampMs"].as_u64().unwrap();
        assert!(
            t >= ts_prev,
            "block {height}'s timestamp {t} is below its parent's {ts_prev}"
        );
        ts_prev = t;
        let proposer = b["header"]["proposer"].as_str().unwrap();
        let node = net.validators.iter().position(|v| v == proposer).unwrap();
        honest_after.push(format!(
            "{height}: node {node}, {} s ahead",
            (t as i64 - now_ms() as i64) / 1000
        ));
    }
    eprintln!(
        "skew 3 +600 s: node 3's block {hs} is {ahead_s} s ahead of the host; the blocks after it: {honest_after:?}"
    );
    s.run(&["heal"], Duration::from_secs(180)).ok("heal");
    assert_eq!(faults_of(&s, 3), "-");
    let log = std::fs::read_to_string(s.testnet_dir().join("node3/node.log")).unwrap();
    assert!(
        log.contains("with the clock +600 s off"),
        "node 3's log does not show the skewed start"
    );

    // A crash of the script between making a fault and writing it down: the
    // state file is gone, yet down still removes everything by name.
    s.run(&["isolate", "0"], MIN).ok("isolate 0");
    s.run(&["throttle", "1", "1mbit"], MIN)
        .ok("throttle 1 1mbit");
    std::fs::remove_file(s.testnet_dir().join("faults")).unwrap();
    s.run(&["down"], Duration::from_secs(120)).ok("down");
    assert_eq!(
        net_leftovers(&id),
        Vec::<String>::new(),
        "down left network state behind"
    );
    let tables = host(&["nft", "list", "tables"]);
    assert!(
        !tables.contains("cairn"),
        "nft tables on the host: {tables}"
    );
    assert!(!host(&["ip", "-o", "link", "show"]).contains(&format!("cn{id}")));
    assert!(!s.testnet_dir().join("faults").exists());
}
