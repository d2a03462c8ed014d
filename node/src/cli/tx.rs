//! `cairn tx sign`: build and sign a transfer offline, printing the raw
//! transaction for `cairn_submitTransaction` (e.g. with curl).
//! `cairn tx transfer`: fetch the nonce, sign, submit, and with `--wait`
//! follow the transaction's subscription until it commits.

use std::path::PathBuf;

use anyhow::Context;
use cairn_genesis::KeyFile;
use cairn_ledger::{Address, Amount, ChainId, Encode, Hash, SecretKey, Transaction};
use cairn_rpc::TransactionInfo;
use clap::{Args, Subcommand};

/// Transaction commands.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Sign a transfer offline and print `{"raw": "0x…", "hash": "0x…"}`.
    Sign(SignArgs),
    /// Sign and submit a transfer to a node; `--wait` prints the receipt.
    Transfer(TransferArgs),
}

/// Arguments of `cairn tx transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The node's RPC URL (http:// or ws://; one port serves both).
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// Key file of the sender.
    #[arg(long)]
    pub key: PathBuf,
    /// Recipient address (0x + 64 hex digits).
    #[arg(long)]
    pub to: String,
    /// Amount, a whole number.
    #[arg(long)]
    pub amount: String,
    /// Memo text (UTF-8, at most 1024 bytes).
    #[arg(long, default_value = "")]
    pub memo: String,
    /// Wait until the transaction commits (or fails) and print its receipt.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
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
        TxCommand::Transfer(args) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(transfer(args))
        }
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

async fn transfer(args: TransferArgs) -> anyhow::Result<()> {
    use cairn_rpc::CairnApiClient;

    let key =
        KeyFile::read(&args.key).with_context(|| format!("reading {}", args.key.display()))?;
    let to: Address = args
        .to
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--to: {e}"))?;
    let amount: Amount = args
        .amount
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--amount: {e}"))?;
    let url = super::ws_url(&args.rpc)?;
    let client = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(&url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let status = client.status().await.context("cairn_status")?;
    let account = client
        .get_account(key.address().to_string(), None)
        .await
        .context("cairn_getAccount")?;
    // Pending transactions of this sender take the nonces right after the committed one.
    let nonce = account.nonce + account.pending;
    let tx = Transaction {
        chain_id: ChainId::new(status.chain_id.clone())
            .map_err(|e| anyhow::anyhow!("node's chain id: {e}"))?,
        from: key.address(),
        to,
        amount,
        nonce,
        memo: args.memo.into_bytes(),
    }
    .sign(key.secret());
    let raw = format!("0x{}", hex::encode(tx.to_bytes()));
    // Subscribe before submitting so a fast commit cannot be missed.
    let mut sub = if args.wait {
        Some(
            client
                .subscribe_transaction(tx.hash().to_string())
                .await
                .context("cairn_subscribeTransaction")?,
        )
    } else {
        None
    };
    let hash = client
        .submit_transaction(raw)
        .await
        .context("cairn_submitTransaction")?;
    let Some(sub) = sub.as_mut() else {
        if args.json {
            println!("{}", serde_json::json!({ "hash": hash, "nonce": nonce }));
        } else {
            println!("submitted {hash} (nonce {nonce})");
        }
        return Ok(());
    };
    let info = wait_committed(sub, hash, args.timeout_secs).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        let receipt = info
            .receipt
            .as_ref()
            .map(|r| format!("{} ({})", r.status, r.description))
            .unwrap_or_default();
        println!(
            "{hash} {:?} at height {} index {}: {receipt}",
            info.status,
            info.height.unwrap_or_default(),
            info.index.unwrap_or_default()
        );
    }
    Ok(())
}

/// The subscription's first notification: `hash` committed (or why not).
async fn wait_committed(
    sub: &mut jsonrpsee::core::client::Subscription<TransactionInfo>,
    hash: Hash,
    timeout_secs: u64,
) -> anyhow::Result<TransactionInfo> {
    tokio::time::timeout(std::time::Duration::from_secs(timeout_secs), sub.next())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{hash} was not committed within {timeout_secs} s; it may still be pending"
            )
        })?
        .ok_or_else(|| anyhow::anyhow!("the node closed the subscription"))?
        .context("reading the transaction notification")
}
