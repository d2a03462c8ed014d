//! The `cairn` command line: one subcommand per user action.

pub mod audit;
mod bench;
mod chaos;
pub mod explore;
pub(crate) mod init;
mod keys;
mod tx;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Cairn: a Byzantine-fault-tolerant ledger node.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node home: keys, config.toml and a one-validator genesis.
    Init(init::InitArgs),
    /// Create N validator homes sharing one genesis, peered on 127.0.0.1 (or --listen-ips).
    Testnet(init::TestnetArgs),
    /// Run a node from its home directory.
    Start {
        /// The node's home directory (made by `cairn init` or `cairn testnet`).
        #[arg(long, env = "CAIRN_HOME")]
        home: PathBuf,
    },
    /// Start a one-validator development chain in a temporary directory.
    Dev(init::DevArgs),
    /// Generate or inspect key files.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Build and sign transactions.
    #[command(subcommand)]
    Tx(tx::TxCommand),
    /// Load generator: submit signed transfers at a target rate, report throughput and latency.
    Bench(bench::BenchArgs),
    /// Explore a chain over RPC: status, blocks, transactions and accounts with verified proofs.
    Explore(explore::ExploreArgs),
    /// Check a whole chain from genesis: every hash, certificate, signature and state root.
    /// Exit code 0: clean; 1: a discrepancy (named); 2: could not run.
    Audit(audit::AuditArgs),
    /// The verdict of a nemesis run (`scripts/testnet.sh chaos`): nothing lost,
    /// commits resume after every heal; writes a report and an SVG timeline.
    /// Exit code 0: pass; 1: a violation (named).
    ChaosCheck(chaos::ChaosCheckArgs),
}

/// The WebSocket URL for an RPC URL given as http(s):// or ws(s):// (one
/// port serves both).
pub(crate) fn ws_url(rpc: &str) -> anyhow::Result<String> {
    if let Some(rest) = rpc.strip_prefix("http://") {
        Ok(format!("ws://{rest}"))
    } else if let Some(rest) = rpc.strip_prefix("https://") {
        Ok(format!("wss://{rest}"))
    } else if rpc.starts_with("ws://") || rpc.starts_with("wss://") {
        Ok(rpc.to_string())
    } else {
        anyhow::bail!("--rpc {rpc:?} must start with http://, https://, ws:// or wss://")
    }
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Init(args) => init::init(args),
        Command::Testnet(args) => init::testnet(args),
        Command::Start { home } => crate::node::start_blocking(&home),
        Command::Dev(args) => init::dev(args),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Tx(cmd) => tx::run(cmd),
        Command::Bench(args) => bench::run(args),
        Command::Explore(args) => explore::run(args),
        Command::Audit(args) => std::process::exit(audit::run(args)),
        Command::ChaosCheck(args) => std::process::exit(chaos::run(args)?),
    }
}
