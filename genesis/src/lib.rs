//! Cairn's genesis: the `genesis.json` format and its validation ([`file`]),
//! key generation and key files ([`keys`]), the genesis state and testnet
//! generation ([`state`]).
//!
//! Builds without RocksDB: it depends on `cairn-ledger` with default features off.

pub mod error;
pub mod file;
pub mod keys;
pub mod state;

pub use error::{GenesisError, Result};
pub use file::{ConsensusParams, Genesis, GenesisAccount, GenesisTime, GenesisValidator};
pub use keys::KeyFile;
pub use state::{build_genesis_state, testnet, testnet_deterministic, GenesisState};
