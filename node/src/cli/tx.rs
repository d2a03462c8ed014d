//! `cairn tx sign`: build and sign a transfer offline, printing the raw
//! transaction for `cairn_submitTransaction` (e.g. with curl).

use std::path::PathBuf;

use anyhow::Context;
use cairn_genesis::KeyFile;
use cairn_ledger::{Address, Amount, ChainId, Encode, SecretKey, Transaction};
use clap::{Args, Subcommand};

/// Transaction commands.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Sign a transfer offline and print `{"raw": "0x…", "hash": "0x…"}`.
    Sign(SignArgs),
}

/// Arguments of `cairn tx sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Key file of the sender.
    #[arg(long, conflicts_with = "secret", required_unless_present = "secret")]
    pub key: Option<PathBuf>,
    /// The sender's 32-byte secret seed as 0x-hex (e.g. a `cairn dev` account).
    #[arg(long)]
    pub secret: Option<String>,
    /// Chain id the transaction is valid on.
    #[arg(long)]
    pub chain_id: String,
    /// Recipient address (0x + 64 hex digits).
    #[arg(long)]
    pub to: String,
    /// Amount, a whole number.
    #[arg(long)]
    pub amount: String,
    /// The sender's next nonce (its account's `nonce`).
    #[arg(long)]
    pub nonce: u64,
    /// Memo text (UTF-8, at most 1024 bytes).
    #[arg(long, default_value = "")]
    pub memo: String,
}

pub(crate) fn run(cmd: TxCommand) -> anyhow::Result<()> {
    match cmd {
        TxCommand::Sign(args) => sign(args),
    }
}

fn sign(args: SignArgs) -> anyhow::Result<()> {
    let key: SecretKey = match (&args.key, &args.secret) {
        (Some(path), _) => KeyFile::read(path)
            .with_context(|| format!("reading {}", path.display()))?
            .secret()
            .clone(),
        (None, Some(hex)) => SecretKey::from_seed(
            cairn_ledger::hash::parse_hex32(hex, "--secret").map_err(anyhow::Error::msg)?,
        ),
        (None, None) => anyhow::bail!("give --key FILE or --secret 0x…"),
    };
    let to: Address = args
        .to
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--to: {e}"))?;
    if !to.is_valid_public_key() {
        anyhow::bail!(
            "--to {to} is not a valid ed25519 public key; transfers to it would be rejected"
        );
    }
    let amount: Amount = args
        .amount
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--amount: {e}"))?;
    if args.memo.len() > cairn_ledger::types::tx::MAX_MEMO_LEN {
        anyhow::bail!(
            "--memo is {} bytes; the limit is {}",
            args.memo.len(),
            cairn_ledger::types::tx::MAX_MEMO_LEN
        );
    }
    let tx = Transaction {
        chain_id: ChainId::new(args.chain_id).map_err(|e| anyhow::anyhow!("--chain-id: {e}"))?,
        from: key.address(),
        to,
        amount,
        nonce: args.nonce,
        memo: args.memo.into_bytes(),
    }
    .sign(&key);
    println!(
        "{}",
        serde_json::json!({ "raw": format!("0x{}", hex::encode(tx.to_bytes())), "hash": tx.hash(), "from": tx.tx().from })
    );
    Ok(())
}
