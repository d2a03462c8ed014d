//! The ledger audit: replays a chain from its genesis file and checks every
//! byte a node could have got wrong or an attacker (or a disk) could have
//! changed — hash links, heights and rounds, leaders, every certificate's
//! signatures and quorum, every transaction signature, every `tx_root`, the
//! genesis block limits, and every certified state root, recomputed by
//! re-executing every transaction.
//!
//! One verifier ([`engine`]) reads blocks from a [`BlockSource`]: the node's
//! RocksDB store opened read-only ([`StoreSource`], which also checks the
//! store's own receipts, transaction index, accounts and state tree against
//! the recomputed ones) or a node's JSON-RPC ([`RpcSource`], canonical bytes
//! through `cairn_getRawBlocks`). The first discrepancy stops the audit and
//! names the height, the check, and the expected and actual values.
//!
//! Without the default `store` feature the crate builds without RocksDB
//! (`default-features = false`): the engine, [`RpcSource`] and the proof
//! checks are what a light client links; only [`StoreSource`] needs the store.
//!
//! Trust: only the genesis file (and, with `--from H`, the state at `H`; see
//! docs/AUDIT.md). Nothing the source says about itself is believed.

pub mod engine;
pub mod proofs;
pub mod rpc_source;
mod rules;
pub mod state;
#[cfg(feature = "store")]
pub mod store_source;
mod verify;

use cairn_genesis::{build_genesis_state, ConsensusParams, Genesis, GenesisState};
use cairn_ledger::types::account::Receipt;
use cairn_ledger::{Account, Address, Block, Hash, Height, QuorumCertificate};
use serde::Serialize;

pub use engine::{run, AuditOptions};
pub use rpc_source::RpcSource;
pub use state::AuditState;
#[cfg(feature = "store")]
pub use store_source::StoreSource;

/// What an audit trusts, all from one genesis file: the state and block at
/// height 0, the validator set, and the consensus parameters whose block
/// limits every block must respect (the genesis hash commits to them).
#[derive(Clone, Debug)]
pub struct Trusted {
    /// Height 0: accounts, genesis block, committee.
    pub state: GenesisState,
    /// `maxBlockTxs`, `maxBlockBytes`, `maxMemoBytes` and the timeouts.
    pub params: ConsensusParams,
}

impl Trusted {
    /// Builds the trusted starting point from a genesis file.
    pub fn from_genesis(genesis: &Genesis) -> Result<Trusted, cairn_genesis::GenesisError> {
        let state = build_genesis_state(genesis)?;
        Ok(Trusted {
            state,
            params: genesis.consensus.clone(),
        })
    }
}

/// The first thing found wrong: where, which check, what was expected and what was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Discrepancy {
    /// The block height (for the final state checks, the last audited height).
    pub height: u64,
    /// A stable name of the check (see docs/AUDIT.md).
    pub check: String,
    /// What the check expected (recomputed or required).
    pub expected: String,
    /// What the chain or store holds.
    pub actual: String,
}

impl Discrepancy {
    /// A discrepancy at `height`.
    pub fn new(
        height: Height,
        check: &str,
        expected: impl std::fmt::Display,
        actual: impl std::fmt::Display,
    ) -> Discrepancy {
        Discrepancy {
            height: height.0,
            check: check.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "audit failed at height {}: {}: expected {}, actual {}",
            self.height, self.check, self.expected, self.actual
        )
    }
}

/// Why an audit did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The chain or store is wrong (exit code 1).
    #[error("{0}")]
    Discrepancy(Discrepancy),
    /// The audit could not run: unreadable store, unreachable node, bad arguments (exit code 2).
    #[error("{0}")]
    Unavailable(String),
}

impl From<Discrepancy> for AuditError {
    fn from(d: Discrepancy) -> Self {
        AuditError::Discrepancy(d)
    }
}

/// What a clean audit covered.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Always true (failures are reported as a [`Discrepancy`]).
    pub ok: bool,
    /// The audit started from the state at this height.
    pub from_height: u64,
    /// The last height checked.
    pub to_height: u64,
    /// Blocks checked (`toHeight - fromHeight`).
    pub blocks: u64,
    /// Transactions in those blocks.
    pub transactions: u64,
    /// Accounts in the state after `toHeight`.
    pub accounts: u64,
    /// Hash of the block at `toHeight`.
    pub tip_hash: Hash,
    /// The recomputed state root after `toHeight`.
    pub state_root: Hash,
    /// Wall-clock time taken.
    pub seconds: f64,
    /// Blocks checked per second.
    pub blocks_per_second: f64,
    /// Transactions checked per second.
    pub transactions_per_second: f64,
}

/// One block as a source delivers it.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The height it was asked for.
    pub height: Height,
    /// The block.
    pub block: Block,
    /// The QC the source says certifies it.
    pub qc: QuorumCertificate,
    /// The hash the source indexes it under (its claim, checked against the bytes).
    pub indexed_hash: Option<Hash>,
}

/// A block, or why the source could not produce a well-formed one (a
/// discrepancy at that height: missing, undecodable).
pub type FetchResult = Result<Fetched, Discrepancy>;

/// A state the source provides directly, and the root it claims for it.
pub type StartState = (Vec<(Address, Account)>, Hash);

/// Where the audit reads the chain from.
pub trait BlockSource: Send + Sync {
    /// The last committed height the source has.
    fn tip(&self) -> Result<Height, AuditError>;

    /// Blocks from `from` up to at most `to`, in order; at least one when
    /// `from <= to`. Failing to reach the source is an [`AuditError::Unavailable`].
    fn fetch(&self, from: Height, to: Height) -> Result<Vec<FetchResult>, AuditError>;

    /// The state at `height`, if the source can provide it directly (the
    /// store's versioned tree); `None` makes the engine rebuild it by
    /// executing blocks `1..=height`.
    /// With it, the root the source claims for that state (compared with
    /// the root of the accounts, check `from-state`). By default: `None`.
    fn state_at(&self, _height: Height) -> Result<Option<StartState>, AuditError> {
        Ok(None)
    }

    /// Checks what the source stores about an executed block (receipts,
    /// transaction index, state root) against the recomputed values. By
    /// default a source stores nothing more to check.
    fn check_block(
        &self,
        _block: &Fetched,
        _receipts: &[Receipt],
        _root: Hash,
    ) -> Result<(), AuditError> {
        Ok(())
    }

    /// Checks the source's stored final state against the recomputed one
    /// after `height` (the last audited height). By default: nothing.
    fn check_final(&self, _height: Height, _state: &AuditState) -> Result<(), AuditError> {
        Ok(())
    }
}
