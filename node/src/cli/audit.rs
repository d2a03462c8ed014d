//! `cairn audit (--home DIR | --rpc URL) [--genesis FILE] [--from H] [--to H] [--json]`:
//! replays the chain from its genesis file and checks every block (see
//! the `cairn_audit` crate and docs/AUDIT.md). Exit codes: 0 clean, 1 a discrepancy,
//! 2 the audit could not run.

use std::path::PathBuf;

use cairn_genesis::Genesis;
use cairn_ledger::Height;
use clap::Args;

use crate::config::Home;
use cairn_audit::{
    self as audit, AuditError, AuditOptions, RpcSource, StoreSource, Summary, Trusted,
};

/// Arguments of `cairn audit`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["home", "rpc"])))]
pub struct AuditArgs {
    /// Audit a node's home directory offline (its `data/` store, opened
    /// read-only; stop the node first).
    #[arg(long)]
    pub home: Option<PathBuf>,
    /// Audit a running node over JSON-RPC.
    #[arg(long)]
    pub rpc: Option<String>,
    /// The genesis file to trust (default: DIR/genesis.json offline, the
    /// node's own, checked against its genesis hash, remotely).
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Start from the state at this height instead of genesis.
    #[arg(long)]
    pub from: Option<u64>,
    /// Stop after this height (default: the last committed one).
    #[arg(long)]
    pub to: Option<u64>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs the audit and returns the process exit code.
pub fn run(args: AuditArgs) -> i32 {
    let outcome = audit(&args);
    match outcome {
        Ok(summary) => {
            if args.json {
                println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            } else {
                print_summary(&summary);
            }
            0
        }
        Err(AuditError::Discrepancy(d)) => {
            if args.json {
                let v = serde_json::json!({
                    "ok": false, "height": d.height, "check": d.check,
                    "expected": d.expected, "actual": d.actual,
                });
                println!("{v}");
            } else {
                println!("{d}");
            }
            1
        }
        Err(AuditError::Unavailable(msg)) => {
            eprintln!("cairn audit: {msg}");
            if args.json {
                println!("{}", serde_json::json!({ "ok": false, "error": msg }));
            }
            2
        }
    }
}

fn load_genesis(path: &std::path::Path) -> Result<Genesis, AuditError> {
    Genesis::load(path).map_err(|e| AuditError::Unavailable(format!("{e}")))
}

fn audit(args: &AuditArgs) -> Result<Summary, AuditError> {
    let opts = AuditOptions {
        from: args.from.map(Height),
        to: args.to.map(Height),
        progress: true,
    };
    let pinned = args.genesis.as_deref().map(load_genesis).transpose()?;
    if let Some(home) = &args.home {
        let home = Home(home.clone());
        let genesis = match pinned {
            Some(g) => g,
            None => load_genesis(&home.genesis())?,
        };
        let state = Trusted::from_genesis(&genesis)
            .map_err(|e| AuditError::Unavailable(format!("the genesis file is invalid: {e}")))?;
        let source = StoreSource::open(&home.data())?;
        return audit::run(&source, &state, &opts);
    }
    let url = args
        .rpc
        .as_deref()
        .ok_or_else(|| AuditError::Unavailable("give --home DIR or --rpc URL".into()))?;
    let (source, state) = RpcSource::connect(url, pinned.as_ref())?;
    audit::run(&source, &state, &opts)
}

fn print_summary(s: &Summary) {
    println!(
        "audit ok: heights {}..={} ({} blocks, {} transactions, {} accounts)",
        s.from_height, s.to_height, s.blocks, s.transactions, s.accounts
    );
    println!("  tip block   {}", s.tip_hash);
    println!("  state root  {}", s.state_root);
    println!(
        "  {:.2} s, {:.0} blocks/s, {:.0} transactions/s",
        s.seconds, s.blocks_per_second, s.transactions_per_second
    );
}
