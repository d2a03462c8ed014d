//! `cairn keys generate|show`.

use std::path::PathBuf;

use anyhow::Context;
use cairn_genesis::KeyFile;
use clap::Subcommand;

/// Key file commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new ed25519 key file (mode 0600) and print its address.
    Generate {
        /// Where to write the key file; refuses to overwrite.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the address of a key file (never the secret).
    Show {
        /// The key file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Generate { out } => {
            let key = KeyFile::generate();
            key.write(&out)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("{}", key.address());
            eprintln!("wrote {} (mode 0600); keep it secret", out.display());
        }
        KeysCommand::Show { file, json } => {
            let key =
                KeyFile::read(&file).with_context(|| format!("reading {}", file.display()))?;
            if json {
                println!("{}", serde_json::json!({ "address": key.address() }));
            } else {
                println!("{}", key.address());
            }
        }
    }
    Ok(())
}
