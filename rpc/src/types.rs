//! The JSON shapes of the API's parameters and results.
//!
//! Field names are camelCase; hashes, addresses, signatures and other bytes
//! are `0x` + lowercase hex; heights, rounds, nonces and counts are JSON
//! numbers; amounts are decimal strings (a u64 does not fit a JSON double).

use std::fmt;

use cairn_ledger::{Address, Amount, Hash};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which block `getBlock` returns: a height (JSON number), a block hash
/// (`0x` + 64 hex) or `"latest"` (the last committed block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockId {
    /// The committed block at this height.
    Height(u64),
    /// The committed block with this hash.
    Hash(Hash),
    /// The last committed block.
    Latest,
}

impl Serialize for BlockId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            BlockId::Height(h) => s.serialize_u64(*h),
            BlockId::Hash(h) => s.collect_str(h),
            BlockId::Latest => s.serialize_str("latest"),
        }
    }
}

impl<'de> Deserialize<'de> for BlockId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BlockId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a block height (a non-negative integer), a block hash (0x + 64 hex digits) or \"latest\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BlockId, E> {
                Ok(BlockId::Height(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BlockId, E> {
                u64::try_from(v).map(BlockId::Height).map_err(|_| {
                    E::custom(format!("block height {v} is negative; heights start at 0"))
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BlockId, E> {
                if v == "latest" {
                    return Ok(BlockId::Latest);
                }
                v.parse::<Hash>().map(BlockId::Hash).map_err(|e| {
                    E::custom(format!("{e}; pass a height, a block hash or \"latest\""))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TxState {
    /// In this node's mempool, not yet committed.
    Pending,
    /// Committed and executed successfully.
    Committed,
    /// Committed, but execution failed (see the receipt); only the nonce advanced.
    Failed,
    /// Neither pending here nor committed.
    Unknown,
}

/// The outcome of executing a committed transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// `success`, `insufficientBalance`, `balanceOverflow` or `invalidNonce`.
    pub status: String,
    /// A sentence saying what happened.
    pub description: String,
}

/// A signed transaction, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    /// SHA-256 of the signed encoding.
    pub hash: Hash,
    /// The chain it is signed for.
    pub chain_id: String,
    /// Sender.
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount (decimal string).
    pub amount: Amount,
    /// The sender's nonce it carries.
    pub nonce: u64,
    /// Memo bytes, `0x` + hex.
    pub memo: String,
    /// Signature, `0x` + 128 hex.
    pub signature: String,
    /// The whole signed encoding, `0x` + hex (what `submitTransaction` takes).
    pub raw: String,
}

/// `getTransaction`'s result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionInfo {
    /// The hash asked about.
    pub hash: Hash,
    /// pending, committed, failed or unknown.
    pub status: TxState,
    /// Height of the block holding it (committed or failed only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Hash of that block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<Hash>,
    /// Position in that block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// What executing it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
    /// The transaction itself (absent when unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<TransactionView>,
}

/// `getTransactionProof`'s result: the RFC 6962 audit path of the
/// transaction's hash in the block's `txRoot`, the block header, and the QC
/// that certifies the block. Verify: the path leads from `hash` (leaf
/// `index` of `header.txCount`) to `header.txRoot`; `qc.blockHash` equals
/// the header's hash; the QC's signatures hold a quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionProof {
    /// The transaction's hash (the Merkle leaf's data).
    pub hash: Hash,
    /// Its position in the block (the leaf index).
    pub index: u32,
    /// Sibling hashes from the leaf up to the root's child.
    pub audit_path: Vec<Hash>,
    /// The block header; `txRoot` and `txCount` are the tree's root and size.
    pub header: HeaderView,
    /// The header's canonical bytes, `0x` + hex (hash them with the
    /// `cairn/block/v1` tag to get the block hash).
    pub header_raw: String,
    /// The certificate for the block.
    pub qc: QcView,
    /// What executing the transaction did.
    pub receipt: ReceiptView,
}

/// One signature in a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignerView {
    /// The signer's index in the validator set.
    pub signer: u16,
    /// Its signature, `0x` + 128 hex.
    pub signature: String,
}

/// A quorum certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QcView {
    /// The certified block.
    pub block_hash: Hash,
    /// Its height.
    pub height: u64,
    /// Its round.
    pub round: u64,
    /// Signatures by validators holding more than 2/3 of the voting power.
    pub signatures: Vec<SignerView>,
}

/// One timeout signature in a timeout certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutSignerView {
    /// The signer's index.
    pub signer: u16,
    /// The round of the signer's highest QC.
    pub high_qc_round: u64,
    /// Its signature, `0x` + 128 hex.
    pub signature: String,
}

/// A timeout certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TcView {
    /// The round that timed out.
    pub round: u64,
    /// The timeout signatures.
    pub signatures: Vec<TimeoutSignerView>,
}

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderView {
    /// The block hash.
    pub hash: Hash,
    /// The chain.
    pub chain_id: String,
    /// Height.
    pub height: u64,
    /// Round it was proposed in.
    pub round: u64,
    /// Parent block hash.
    pub parent_hash: Hash,
    /// Proposing validator.
    pub proposer: Address,
    /// Proposer's clock, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// RFC 6962 root over the transaction hashes.
    pub tx_root: Hash,
    /// Number of transactions.
    pub tx_count: u32,
    /// State root after executing every block up to `stateHeight`.
    pub state_root: Hash,
    /// The height `stateRoot` describes.
    pub state_height: u64,
    /// The QC for the parent, carried in the header.
    pub justify: QcView,
    /// The timeout certificate, when the previous round timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_cert: Option<TcView>,
}

/// A block's transactions: hashes by default, decoded transactions on request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BlockTransactions {
    /// Transaction hashes, in order.
    Hashes(Vec<Hash>),
    /// Full transactions, in order.
    Full(Vec<TransactionView>),
}

/// `getBlock`'s result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    /// The header.
    pub header: HeaderView,
    /// The transactions.
    pub transactions: BlockTransactions,
    /// The QC that certifies this block (its commit evidence).
    pub qc: QcView,
}

/// `getAccount`'s result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    /// The account.
    pub address: Address,
    /// Balance (decimal string). Zero for an account that never existed.
    pub balance: Amount,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
    /// The height whose state these values are from.
    pub height: u64,
    /// The state root at that height.
    pub state_root: Hash,
    /// Whether the account exists in the state tree.
    pub exists: bool,
    /// With `proof: true`: the proof (`0x` + hex, the Borsh encoding of a
    /// jmt `SparseMerkleProof`, see docs/SPEC.md) of this account — or of
    /// its absence — under `stateRoot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// With `proof: true`: the committed block whose header carries
    /// `stateRoot` as its `stateRoot` (fetch it with `getBlock` to check
    /// the root and the QC that certifies it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certified_by: Option<Hash>,
    /// Transactions of this sender pending in this node's mempool.
    pub pending: u64,
}

/// `status`'s result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusInfo {
    /// The chain id.
    pub chain_id: String,
    /// Hash of the genesis block.
    pub genesis_hash: Hash,
    /// Height of the last committed block.
    pub committed_height: u64,
    /// Hash of the last committed block.
    pub latest_block_hash: Hash,
    /// State root after the last committed block.
    pub latest_state_root: Hash,
    /// The consensus round this node is in.
    pub round: u64,
    /// True while the node is catching up with its peers.
    pub syncing: bool,
    /// Connected peers.
    pub peers: u32,
    /// Transactions in the mempool.
    pub mempool_size: u64,
    /// Bytes of transactions in the mempool.
    pub mempool_bytes: u64,
    /// This node's software version.
    pub version: String,
}

/// `health`'s result (also served as the body of `GET /health`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthInfo {
    /// `"ok"`.
    pub status: String,
    /// Height of the last committed block.
    pub committed_height: u64,
    /// True while the node is catching up.
    pub syncing: bool,
}

/// One validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorInfo {
    /// Signer index in certificates.
    pub index: u16,
    /// Label from genesis.
    pub name: String,
    /// Consensus public key.
    pub address: Address,
    /// Voting power.
    pub power: u64,
}

/// `getValidators`' result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorsInfo {
    /// Sum of the voting power.
    pub total_power: u64,
    /// Power a certificate's signers must reach (more than 2/3 of the total).
    pub quorum_power: u64,
    /// The validators in signer-index order.
    pub validators: Vec<ValidatorInfo>,
}

/// `getGenesis`' result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenesisInfo {
    /// Hash of the genesis block.
    pub genesis_hash: Hash,
    /// The contents of `genesis.json`.
    pub genesis: serde_json::Value,
}

/// One item's outcome in `submitTransactions`: exactly one of `hash` and `error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitOutcome {
    /// The transaction hash, if admitted (or already known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// A per-item error: the same code, message and data the single-item
/// method would have returned as its JSON-RPC error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemError {
    /// Application error code (see [`crate::ErrorCode`]).
    pub code: i32,
    /// What was wrong and what to do.
    pub message: String,
    /// Machine-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// A committed block's summary, as `subscribeNewBlocks` notifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewBlock {
    /// Height.
    pub height: u64,
    /// Hash.
    pub hash: Hash,
    /// Round.
    pub round: u64,
    /// Number of transactions.
    pub tx_count: u32,
    /// State root after executing it.
    pub state_root: Hash,
    /// Proposer's timestamp, ms.
    pub timestamp_ms: u64,
}

/// One committed block in its canonical bytes, as `getRawBlocks` returns it:
/// everything an auditor needs to recompute the block hash and check the QC
/// without trusting the node's decoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBlock {
    /// Height.
    pub height: u64,
    /// The block hash the node has indexed at this height (a claim: recompute it).
    pub hash: Hash,
    /// The block's canonical bytes (header, then transactions; docs/SPEC.md §8), `0x` + hex.
    pub block: String,
    /// The canonical bytes of the QC that certifies it (docs/SPEC.md §9), `0x` + hex.
    pub qc: String,
}

/// `getRawBlocks`' result: consecutive committed blocks from the requested
/// height, as many as fit the count and byte limits (at least one, if any).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBlocks {
    /// Height of the last committed block when the call was served.
    pub committed_height: u64,
    /// The blocks, in height order; empty if `from` is above the tip.
    pub blocks: Vec<RawBlock>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_id_accepts_height_hash_and_latest() {
        let h = Hash::digest(b"x");
        assert_eq!(
            serde_json::from_str::<BlockId>("7").unwrap(),
            BlockId::Height(7)
        );
        assert_eq!(
            serde_json::from_str::<BlockId>("\"latest\"").unwrap(),
            BlockId::Latest
        );
        assert_eq!(
            serde_json::from_str::<BlockId>(&format!("\"{h}\"")).unwrap(),
            BlockId::Hash(h)
        );
        for bad in ["-1", "\"0x12\"", "1.5", "null", "\"lateST\""] {
            assert!(serde_json::from_str::<BlockId>(bad).is_err(), "{bad}");
        }
        for id in [BlockId::Height(3), BlockId::Latest, BlockId::Hash(h)] {
            let s = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<BlockId>(&s).unwrap(), id);
        }
    }

    #[test]
    fn submit_outcome_is_camel_case_and_sparse() {
        let ok = SubmitOutcome {
            hash: Some(Hash::ZERO),
            error: None,
        };
        let s = serde_json::to_string(&ok).unwrap();
        assert_eq!(s, format!("{{\"hash\":\"{}\"}}", Hash::ZERO));
    }
}
