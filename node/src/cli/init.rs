//! `cairn init`, `cairn testnet` and `cairn dev`: create node homes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cairn_genesis::{Genesis, GenesisTime, KeyFile};
use cairn_ledger::{Amount, ChainId};
use clap::Args;

use crate::config::{Config, Home};

/// Arguments of `cairn init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the home in (must not hold a config yet).
    #[arg(long)]
    pub home: PathBuf,
    /// Chain id of the new one-validator chain.
    #[arg(long, default_value = "cairn-local")]
    pub chain_id: String,
    /// Balance of the funded account written to `account_key.json`.
    #[arg(long, default_value = "1000000000000")]
    pub balance: String,
}

/// Arguments of `cairn testnet`.
#[derive(Debug, Args)]
pub struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Directory to create (`node0`, `node1`, …, `accounts/`, `testnet.json`).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of funded accounts, keys written to `accounts/`.
    #[arg(long, default_value_t = 16)]
    pub accounts: usize,
    /// Balance of each funded account.
    #[arg(long, default_value = "1000000000000")]
    pub balance: String,
    /// Chain id.
    #[arg(long, default_value = "cairn-testnet")]
    pub chain_id: String,
    /// First port: node i listens for peers on base+2i and RPC on base+2i+1,
    /// and serves Prometheus metrics on base+2N+i (N validators). 0 picks
    /// free ports.
    #[arg(long, default_value_t = 26600)]
    pub base_port: u16,
    /// Round timeout in milliseconds (written to the genesis).
    #[arg(long)]
    pub round_timeout_ms: Option<u64>,
    /// One IP address per validator, comma-separated: node i listens for
    /// peers and RPC on the i-th, and its peers dial it there (e.g. one
    /// network namespace per node, as `scripts/testnet.sh` makes as root).
    /// Default: every node on 127.0.0.1.
    #[arg(long, value_delimiter = ',')]
    pub listen_ips: Vec<IpAddr>,
}

/// Arguments of `cairn dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// RPC port on 127.0.0.1.
    #[arg(long, default_value_t = 8545)]
    pub rpc_port: u16,
    /// Keep the chain in this directory instead of a temporary one.
    #[arg(long)]
    pub home: Option<PathBuf>,
    /// Number of funded dev accounts.
    #[arg(long, default_value_t = 4)]
    pub accounts: usize,
}

fn chain_id(s: &str) -> anyhow::Result<ChainId> {
    ChainId::new(s).map_err(|e| anyhow::anyhow!("--chain-id: {e}"))
}

fn amount(s: &str) -> anyhow::Result<Amount> {
    s.parse().map_err(|e| anyhow::anyhow!("--balance: {e}"))
}

/// Writes one node home: config, genesis and validator key.
fn write_home(
    home: &Home,
    config: &Config,
    genesis: &Genesis,
    key: &KeyFile,
) -> anyhow::Result<()> {
    if home.config().exists() {
        bail!(
            "{} already exists; refusing to overwrite a node home (choose another directory or remove it)",
            home.config().display()
        );
    }
    std::fs::create_dir_all(&home.0).with_context(|| format!("creating {}", home.0.display()))?;
    genesis
        .write(home.genesis())
        .with_context(|| format!("writing {}", home.genesis().display()))?;
    key.write(home.validator_key())
        .with_context(|| format!("writing {}", home.validator_key().display()))?;
    std::fs::write(home.config(), config.to_toml())
        .with_context(|| format!("writing {}", home.config().display()))?;
    Ok(())
}

pub(crate) fn init(args: InitArgs) -> anyhow::Result<()> {
    let (genesis, vkeys, akeys) =
        cairn_genesis::testnet(chain_id(&args.chain_id)?, 1, 1, amount(&args.balance)?)?;
    let home = Home(args.home.clone());
    write_home(&home, &Config::default(), &genesis, &vkeys[0])?;
    let account = args.home.join("account_key.json");
    akeys[0].write(&account)?;
    println!("initialised {}", args.home.display());
    println!("  chain id        {}", genesis.chain_id);
    println!("  validator       {}", vkeys[0].address());
    println!(
        "  funded account  {} ({})",
        akeys[0].address(),
        account.display()
    );
    println!("start it with: cairn start --home {}", args.home.display());
    Ok(())
}

/// Free ports on 127.0.0.1, found by binding port 0 (released before use).
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("finding free ports on 127.0.0.1")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// The listen IP of each of `n` nodes: `given` (one per node; nodes may
/// share one, as they share 127.0.0.1 by default: their ports differ).
fn listen_ips(given: &[IpAddr], n: usize) -> anyhow::Result<Vec<IpAddr>> {
    if given.is_empty() {
        return Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST); n]);
    }
    if given.len() != n {
        bail!(
            "--listen-ips names {} address(es) for {n} validators; give exactly one per validator",
            given.len()
        );
    }
    for (i, ip) in given.iter().enumerate() {
        if ip.is_unspecified() || ip.is_multicast() {
            bail!("--listen-ips: {ip} (node {i}) is not an address a peer can dial; give each node its own unicast address");
        }
    }
    Ok(given.to_vec())
}

pub(crate) fn testnet(args: TestnetArgs) -> anyhow::Result<()> {
    if args.validators == 0 || args.validators > 64 {
        bail!(
            "--validators must be between 1 and 64, got {}",
            args.validators
        );
    }
    if args.out.join("testnet.json").exists() {
        bail!(
            "{} already holds a testnet; remove it or choose another --out",
            args.out.display()
        );
    }
    let n = args.validators;
    let ips = listen_ips(&args.listen_ips, n)?;
    let (mut genesis, vkeys, akeys) = cairn_genesis::testnet(
        chain_id(&args.chain_id)?,
        n,
        args.accounts,
        amount(&args.balance)?,
    )?;
    if let Some(t) = args.round_timeout_ms {
        genesis.consensus.round_timeout_ms = t;
        genesis.validate().context("--round-timeout-ms")?;
    }
    let ports = testnet_ports(args.base_port, n)?;
    let p2p = |i: usize| SocketAddr::new(ips[i], ports[2 * i]);
    let rpc = |i: usize| SocketAddr::new(ips[i], ports[2 * i + 1]);
    let metrics = |i: usize| SocketAddr::new(ips[i], ports[2 * n + i]);
    let mut nodes = Vec::new();
    for (i, key) in vkeys.iter().enumerate() {
        let mut config = Config {
            moniker: format!("node{i}"),
            ..Config::default()
        };
        config.p2p.listen = p2p(i);
        config.p2p.peers = (0..n).filter(|j| *j != i).map(p2p).collect();
        config.rpc.listen_addr = rpc(i);
        config.metrics.listen = Some(metrics(i));
        let home = Home(args.out.join(format!("node{i}")));
        write_home(&home, &config, &genesis, key)?;
        nodes.push(serde_json::json!({
            "home": home.0, "p2p": p2p(i).to_string(), "rpc": format!("http://{}", rpc(i)),
            "metrics": format!("http://{}", metrics(i)), "validator": key.address(),
        }));
    }
    let accounts_dir = args.out.join("accounts");
    let accounts = write_accounts(&accounts_dir, &akeys)?;
    let summary =
        serde_json::json!({ "chainId": genesis.chain_id, "nodes": nodes, "accounts": accounts });
    std::fs::write(
        args.out.join("testnet.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("created a {n}-validator testnet in {}", args.out.display());
    for (i, node) in nodes.iter().enumerate() {
        println!(
            "  node{i}: rpc {}  p2p {}",
            node["rpc"].as_str().unwrap_or_default(),
            node["p2p"].as_str().unwrap_or_default()
        );
    }
    println!(
        "  {} funded accounts in {}",
        akeys.len(),
        accounts_dir.display()
    );
    Ok(())
}

/// The testnet's `3 n` ports: p2p and RPC of each node in turn, then each
/// node's metrics; free ones picked by the OS when `base` is 0.
fn testnet_ports(base: u16, n: usize) -> anyhow::Result<Vec<u16>> {
    if base == 0 {
        return free_ports(3 * n);
    }
    let top = u32::from(base) + 3 * n as u32;
    if top > u32::from(u16::MAX) {
        bail!("--base-port {base} leaves no room for {n} nodes (needs ports up to {top})");
    }
    Ok((0..3 * n).map(|i| base + i as u16).collect())
}

/// Writes each account's key file into `dir`; their summary entries.
fn write_accounts(dir: &Path, keys: &[KeyFile]) -> anyhow::Result<Vec<serde_json::Value>> {
    std::fs::create_dir_all(dir)?;
    let mut accounts = Vec::new();
    for (j, key) in keys.iter().enumerate() {
        let path = dir.join(format!("account-{j}.json"));
        key.write(&path)?;
        accounts.push(serde_json::json!({ "address": key.address(), "keyFile": path }));
    }
    Ok(accounts)
}

pub(crate) fn dev(args: DevArgs) -> anyhow::Result<()> {
    let (genesis, vkeys, akeys) = cairn_genesis::testnet_deterministic(
        chain_id("cairn-dev")?,
        1,
        args.accounts,
        Amount(1_000_000_000_000),
        0,
        GenesisTime::now(),
    )?;
    let tmp;
    let dir: &Path = match &args.home {
        Some(h) => h,
        None => {
            tmp = tempfile::Builder::new().prefix("cairn-dev-").tempdir()?;
            tmp.path()
        }
    };
    let home = Home(dir.to_owned());
    let mut config = Config {
        moniker: "dev".into(),
        ..Config::default()
    };
    config.p2p.listen = SocketAddr::from(([127, 0, 0, 1], free_ports(1)?[0]));
    config.rpc.listen_addr = SocketAddr::from(([127, 0, 0, 1], args.rpc_port));
    if !home.config().exists() {
        write_home(&home, &config, &genesis, &vkeys[0])?;
    }
    println!(
        "cairn dev chain `{}` in {}",
        genesis.chain_id,
        dir.display()
    );
    println!(
        "RPC: http://{}  (WebSocket: ws://{})",
        config.rpc.listen_addr, config.rpc.listen_addr
    );
    println!("dev accounts (well-known keys: never use them for real funds):");
    for key in &akeys {
        println!("  address {}  secret {}", key.address(), hex_secret(key));
    }
    println!("try: curl -s -X POST -H 'content-type: application/json' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"cairn_status\",\"params\":[]}}' http://{}", config.rpc.listen_addr);
    crate::node::start_blocking(dir)
}

fn hex_secret(key: &KeyFile) -> String {
    format!("0x{}", hex::encode(key.secret().seed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: PathBuf, ips: &str) -> TestnetArgs {
        TestnetArgs {
            validators: 2,
            out,
            accounts: 1,
            balance: "1000".into(),
            chain_id: "cairn-testnet".into(),
            base_port: 0,
            round_timeout_ms: None,
            listen_ips: ips
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect(),
        }
    }

    #[test]
    fn listen_ips_put_each_node_and_its_peers_on_its_address() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("net");
        testnet(args(out.clone(), "10.9.8.2,10.9.8.3")).unwrap();
        let c0 = Config::load(&Home(out.join("node0")).config()).unwrap();
        let c1 = Config::load(&Home(out.join("node1")).config()).unwrap();
        assert_eq!(c0.p2p.listen.ip().to_string(), "10.9.8.2");
        assert_eq!(c0.rpc.listen_addr.ip().to_string(), "10.9.8.2");
        assert_eq!(c1.p2p.listen.ip().to_string(), "10.9.8.3");
        assert_eq!(c0.p2p.peers, vec![c1.p2p.listen]);
        assert_eq!(c1.p2p.peers, vec![c0.p2p.listen]);
        let summary = std::fs::read_to_string(out.join("testnet.json")).unwrap();
        assert!(
            summary.contains(&format!("http://{}", c1.rpc.listen_addr)),
            "{summary}"
        );
    }

    #[test]
    fn listen_ips_default_to_loopback_and_must_match_the_validators() {
        assert_eq!(
            listen_ips(&[], 3).unwrap(),
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST); 3]
        );
        let one: Vec<IpAddr> = vec!["10.0.0.2".parse().unwrap()];
        let err = listen_ips(&one, 2).unwrap_err().to_string();
        assert!(err.contains("exactly one per validator"), "{err}");
        let any: Vec<IpAddr> = vec!["0.0.0.0".parse().unwrap()];
        let err = listen_ips(&any, 1).unwrap_err().to_string();
        assert!(err.contains("not an address a peer can dial"), "{err}");
    }
}
