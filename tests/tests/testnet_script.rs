//! `scripts/testnet.sh` end to end, as a user runs it: `up 4`, `status`,
//! `load` (through `cairn bench`), `kill 2`, `restart 2`, `audit`, `down`,
//! plus its refusals (a second `up`, a node that does not exist, an unknown
//! command, a network fault on the 127.0.0.1 layout). The testnet lives in a temporary directory on free ports, runs
//! the `cairn` binary this build made (`CAIRN_BIN`), and every node is
//! stopped at the end even if a step fails. A step that times out is killed
//! with its whole process group (bash, `cairn bench`/`cairn audit`, and any
//! node that step started), so nothing outlives the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use cairn_tests::testnet::script::Script;
use serde_json::Value;

#[test]
fn testnet_script_up_load_kill_restart_audit_down() {
    // The 127.0.0.1 layout, also when the test runs as root (CI):
    // tests/tests/faults_script.rs covers the namespaced one.
    let s = Script::new(&[("CAIRN_TESTNET_NETNS", "0")]);
    let min = Duration::from_secs(60);

    let up = s.run(&["up", "4"], Duration::from_secs(240));
    up.ok("up 4");
    assert!(
        up.stdout.contains("live: the transfer committed"),
        "{}",
        up.stdout
    );
    assert_eq!(
        up.stdout.matches("rpc http://127.0.0.1:").count(),
        4,
        "{}",
        up.stdout
    );
    assert!(up.stdout.contains("account-0.json"), "{}", up.stdout);
    // A log written to a file is for reading with less/grep: no colour codes.
    let log = std::fs::read_to_string(s.testnet_dir().join("node0/node.log")).unwrap();
    assert!(log.contains("INFO"), "node 0 logged nothing: {log}");
    assert!(
        !log.contains('\x1b'),
        "node.log carries ANSI escape codes: {}",
        &log[..log.len().min(400)]
    );

    let rows = s.status_rows();
    assert_eq!(rows.len(), 4, "one status row per node");
    for row in &rows {
        assert_eq!(row[2], "running", "status row {row:?}");
        assert!(row[3].parse::<u64>().unwrap() >= 1, "height in {row:?}");
        assert_eq!(row[5], "3", "peers in {row:?}");
    }

    let again = s.run(&["up", "4"], min);
    assert_eq!(again.code, Some(1), "a second up must refuse");
    assert!(again.stderr.contains("already running"), "{}", again.stderr);
    let bad = s.run(&["kill", "9"], min);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("no node 9"), "{}", bad.stderr);
    // Network faults need one namespace per node; on 127.0.0.1 they refuse
    // and say why and what to do.
    let cut = s.run(&["isolate", "1"], min);
    assert_eq!(cut.code, Some(1), "isolate on 127.0.0.1 must refuse");
    assert!(
        cut.stderr.contains("needs the namespaced layout") && cut.stderr.contains("root"),
        "{}",
        cut.stderr
    );
    let unknown = s.run(&["frobnicate"], min);
    assert_eq!(unknown.code, Some(2));
    assert!(unknown.stderr.contains("usage:"), "{}", unknown.stderr);

    let load = s.run(
        // The drain ends as soon as every transfer has committed; 60 s is
        // generous for a chain woken from idle on a busy machine.
        &[
            "load",
            "--rate",
            "200",
            "--duration",
            "4",
            "--drain-secs",
            "60",
            "--json",
        ],
        Duration::from_secs(150),
    );
    load.ok("load");
    let report: Value = serde_json::from_str(&load.stdout).expect("cairn bench --json prints JSON");
    assert_eq!(report["nodes"], 4, "{report}");
    assert_eq!(report["signed"], 800, "{report}");
    assert_eq!(
        report["submitted"], 800,
        "every transfer admitted: {report}"
    );
    assert_eq!(
        report["committed"], 800,
        "every transfer committed: {report}"
    );
    assert_eq!(report["uncommitted"], 0, "{report}");
    assert!(
        report["latencyMs"]["p50"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(report["committedTps"].as_f64().unwrap() > 0.0, "{report}");

    s.run(&["kill", "2"], min).ok("kill 2");
    let rows = s.status_rows();
    assert_eq!(rows[2][2], "stopped", "node 2 after kill: {:?}", rows[2]);
    assert_eq!(rows[0][2], "running");
    let restart = s.run(&["restart", "2"], Duration::from_secs(120));
    restart.ok("restart 2");
    assert!(
        restart.stdout.contains("node 2 is running"),
        "{}",
        restart.stdout
    );
    // The script says "running" also when the node did not catch up.
    assert!(
        !restart.stdout.contains("below the others"),
        "node 2 did not catch up after its restart: {}",
        restart.stdout
    );

    let audit = s.run(&["audit"], Duration::from_secs(180));
    audit.ok("audit");
    assert!(
        audit.stdout.contains("all 4 nodes agree"),
        "{}",
        audit.stdout
    );

    let down = s.run(&["down"], min);
    down.ok("down");
    assert!(down.stdout.contains("stopped 4 node(s)"), "{}", down.stdout);
    assert!(s.pids().is_empty(), "pid files left after down");
    let rows = s.status_rows();
    assert!(rows.iter().all(|r| r[2] == "stopped"), "{rows:?}");
}
