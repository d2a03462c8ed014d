//! Cairn's genesis: the `genesis.json` format and its validation ([`file`](mod@file)),
//! key generation and key files ([`keys`]), the config hash through which
//! the genesis block commits to the validator set and consensus parameters
//! ([`config_hash`](mod@config_hash)), the genesis state and testnet
//! generation ([`state`]).
//!
//! Builds without RocksDB: it depends on `cairn-ledger` with default features off.

pub mod config_hash;
pub mod error;
pub mod file;
pub mod keys;
pub mod state;

pub use config_hash::{config_bytes, config_hash};
pub use error::{GenesisError, Result};
pub use file::{ConsensusParams, Genesis, GenesisAccount, GenesisTime, GenesisValidator};
pub use keys::KeyFile;
pub use state::{build_genesis_state, testnet, testnet_deterministic, GenesisState};
