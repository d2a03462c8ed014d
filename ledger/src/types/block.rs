//! Blocks: a header that commits to everything, and the transactions.
//!
//! Header layout: chain_id, height (u64), round (u64), parent_hash (32),
//! proposer (32), timestamp_ms (u64), tx_root (32), tx_count (u32),
//! state_root (32), state_height (u64), justify (QC), then a u8 flag (0 or 1)
//! and, if 1, the timeout certificate. Block hash = SHA-256(`cairn/block/v1` || header).
//! Block = header || the `tx_count` signed transactions back to back.

use crate::codec::{Decode, Encode, Reader, Writer};
use crate::crypto::{SecretKey, Signature};
use crate::error::DecodeError;
use crate::error::VerifyError;
use crate::hash::{tag, Hash};
use crate::merkle;
use crate::primitives::{Address, ChainId, Height, Round};
use crate::types::cert::Committee;
use crate::types::cert::{QuorumCertificate, TimeoutCertificate};
use crate::types::tx::SignedTransaction;

/// Most transactions a block may hold, whatever the consensus parameters say.
pub const MAX_BLOCK_TXS: usize = 100_000;

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// The chain.
    pub chain_id: ChainId,
    /// Parent's height + 1.
    pub height: Height,
    /// The consensus round it was proposed in.
    pub round: Round,
    /// Hash of the parent block.
    pub parent_hash: Hash,
    /// The proposing validator's public key.
    pub proposer: Address,
    /// Proposer's clock, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// RFC 6962 root over the transactions' hashes.
    pub tx_root: Hash,
    /// Number of transactions.
    pub tx_count: u32,
    /// State root after executing every block up to `state_height`.
    pub state_root: Hash,
    /// The height whose post-state `state_root` describes.
    pub state_height: Height,
    /// The QC for the parent block.
    pub justify: QuorumCertificate,
    /// The TC for `round - 1`, when the previous round timed out.
    pub timeout_cert: Option<TimeoutCertificate>,
}

impl BlockHeader {
    /// `SHA-256("cairn/block/v1" || header bytes)`.
    pub fn hash(&self) -> Hash {
        Hash::tagged(tag::BLOCK, &[&self.to_bytes()])
    }
}

impl Encode for BlockHeader {
    fn encode_to(&self, w: &mut Writer) {
        self.chain_id.encode_to(w);
        w.u64(self.height.0)
            .u64(self.round.0)
            .raw(&self.parent_hash.0)
            .raw(&self.proposer.0)
            .u64(self.timestamp_ms)
            .raw(&self.tx_root.0)
            .u32(self.tx_count)
            .raw(&self.state_root.0)
            .u64(self.state_height.0);
        self.justify.encode_to(w);
        match &self.timeout_cert {
            None => {
                w.u8(0);
            }
            Some(tc) => {
                w.u8(1);
                tc.encode_to(w);
            }
        }
    }
}

impl Decode for BlockHeader {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_id = ChainId::decode_from(r)?;
        let height = Height(r.u64("height")?);
        let round = Round(r.u64("round")?);
        let parent_hash = Hash(r.array("parent_hash")?);
        let proposer = Address(r.array("proposer")?);
        let timestamp_ms = r.u64("timestamp_ms")?;
        let tx_root = Hash(r.array("tx_root")?);
        let tx_count = r.u32("tx_count")?;
        r.bounded(tx_count as usize, MAX_BLOCK_TXS, "tx_count")?;
        let state_root = Hash(r.array("state_root")?);
        let state_height = Height(r.u64("state_height")?);
        let justify = QuorumCertificate::decode_from(r)?;
        let timeout_cert = match r.u8("timeout_cert flag")? {
            0 => None,
            1 => Some(TimeoutCertificate::decode_from(r)?),
            v => {
                return Err(DecodeError::UnknownTag {
                    field: "timeout_cert flag",
                    value: v.into(),
                })
            }
        };
        Ok(BlockHeader {
            chain_id,
            height,
            round,
            parent_hash,
            proposer,
            timestamp_ms,
            tx_root,
            tx_count,
            state_root,
            state_height,
            justify,
            timeout_cert,
        })
    }
}

/// A block: header and transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in execution order.
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// A genesis block (height 0) that commits to the genesis state only: its
    /// `parent_hash` is zero, so its hash does not cover the validator set or
    /// the consensus parameters. For tests and simulations that have no
    /// genesis file; a real chain's genesis is [`Block::genesis_with_config`]
    /// with the genesis file's config hash (`cairn_genesis::config_hash`).
    /// Same as `genesis_with_config(chain_id, genesis_time_ms, state_root, Hash::ZERO)`.
    pub fn genesis(chain_id: ChainId, genesis_time_ms: u64, state_root: Hash) -> Block {
        Block::genesis_with_config(chain_id, genesis_time_ms, state_root, Hash::ZERO)
    }

    /// The genesis block (height 0, round 0) of a real chain: commits to the
    /// genesis state through `state_root` and to the validator set and
    /// consensus parameters through `parent_hash = config_hash` (the genesis
    /// block has no parent, so the field is free to carry it). The genesis
    /// hash then authenticates the committee every certificate is checked
    /// against. `config_hash` is `SHA-256("cairn/genesis/v1" || config bytes)`,
    /// computed by `cairn_genesis::config_hash` (`docs/SPEC.md` §8).
    pub fn genesis_with_config(
        chain_id: ChainId,
        genesis_time_ms: u64,
        state_root: Hash,
        config_hash: Hash,
    ) -> Block {
        Block {
            header: BlockHeader {
                chain_id,
                height: Height(0),
                round: Round(0),
                parent_hash: config_hash,
                proposer: Address::default(),
                timestamp_ms: genesis_time_ms,
                tx_root: merkle::root(&[]),
                tx_count: 0,
                state_root,
                state_height: Height(0),
                justify: QuorumCertificate::genesis(Hash::ZERO),
                timeout_cert: None,
            },
            txs: Vec::new(),
        }
    }

    /// The block hash (the header's).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// The RFC 6962 root over these transactions' hashes.
    pub fn compute_tx_root(txs: &[SignedTransaction]) -> Hash {
        let hashes: Vec<Hash> = txs.iter().map(|t| t.hash()).collect();
        merkle::root(&hashes)
    }

    /// Decodes untrusted bytes for `chain`: every transaction must carry the
    /// header's chain id, and that must be `chain`.
    pub fn decode_for_chain(bytes: &[u8], chain: &ChainId) -> Result<Block, DecodeError> {
        let block = Block::from_bytes(bytes)?;
        if &block.header.chain_id != chain {
            return Err(DecodeError::WrongChainId {
                expected: chain.to_string(),
                found: block.header.chain_id.to_string(),
            });
        }
        Ok(block)
    }
}

impl Encode for Block {
    fn encode_to(&self, w: &mut Writer) {
        assert_eq!(
            self.header.tx_count as usize,
            self.txs.len(),
            "tx_count disagrees with txs"
        );
        self.header.encode_to(w);
        for tx in &self.txs {
            tx.encode_to(w);
        }
    }
}

impl Decode for Block {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let header = BlockHeader::decode_from(r)?;
        let mut txs = Vec::with_capacity((header.tx_count as usize).min(r.remaining() / 200 + 1));
        for _ in 0..header.tx_count {
            let tx = SignedTransaction::decode_from(r)?;
            if tx.tx().chain_id != header.chain_id {
                return Err(DecodeError::WrongChainId {
                    expected: header.chain_id.to_string(),
                    found: tx.tx().chain_id.to_string(),
                });
            }
            txs.push(tx);
        }
        Ok(Block { header, txs })
    }
}

/// The bytes a leader signs to propose a block:
/// `cairn/proposal/v1` || chain_id || block_hash.
pub fn proposal_signing_bytes(chain: &ChainId, block_hash: &Hash) -> Vec<u8> {
    let mut w = Writer::with_capacity(96);
    w.raw(tag::PROPOSAL);
    chain.encode_to(&mut w);
    w.raw(&block_hash.0);
    w.into_bytes()
}

/// A block as its leader proposes it: signed, so a proposal cannot be forged
/// and two proposals for one round are evidence of equivocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The proposed block; `block.header.proposer` is the signer.
    pub block: Block,
    /// The proposer's signature over [`proposal_signing_bytes`].
    pub signature: Signature,
}

impl Proposal {
    /// Signs `block` with the proposer's key.
    pub fn sign(block: Block, key: &SecretKey) -> Proposal {
        assert_eq!(
            key.address(),
            block.header.proposer,
            "signing key is not the proposer's"
        );
        let signature = key.sign(&proposal_signing_bytes(
            &block.header.chain_id,
            &block.hash(),
        ));
        Proposal { block, signature }
    }

    /// Checks the proposer is a validator and signed this block. Certificates
    /// and transactions are checked separately.
    pub fn verify_signature(&self, committee: &Committee) -> Result<(), VerifyError> {
        let proposer = self.block.header.proposer;
        if committee.validators.index_of(&proposer).is_none() {
            return Err(VerifyError::BadSignature { signer: proposer });
        }
        let msg = proposal_signing_bytes(&committee.chain_id, &self.block.hash());
        crate::crypto::verify(&proposer, &msg, &self.signature)
    }
}

impl Encode for Proposal {
    fn encode_to(&self, w: &mut Writer) {
        self.signature.encode_to(w);
        self.block.encode_to(w);
    }
}

impl Decode for Proposal {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let signature = Signature::decode_from(r)?;
        let block = Block::decode_from(r)?;
        Ok(Proposal { block, signature })
    }
}

/// Proof that a block is committed under the 2-chain rule: its child (a
/// block whose `justify` certifies it, proposed in the very next round) and a
/// quorum certificate for that child. A certificate alone does not prove a
/// block committed — a certified block can still be abandoned — so block sync
/// accepts blocks from peers only up to a block with such a proof; its
/// ancestors are then committed too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitProof {
    /// The child's header.
    pub child: BlockHeader,
    /// A QC for the child.
    pub child_qc: QuorumCertificate,
}

impl CommitProof {
    /// Checks that this proves `block` (hash and round) committed.
    pub fn verify(
        &self,
        block_hash: &Hash,
        block_round: Round,
        committee: &Committee,
    ) -> Result<(), VerifyError> {
        let c = &self.child;
        if c.parent_hash != *block_hash || c.justify.block_hash != *block_hash {
            return Err(VerifyError::Malformed(
                "commit proof's child does not extend the block",
            ));
        }
        if c.justify.round != block_round || c.round != block_round.next() {
            return Err(VerifyError::Malformed(
                "commit proof's child is not from the next round (no 2-chain)",
            ));
        }
        if self.child_qc.block_hash != c.hash()
            || self.child_qc.round != c.round
            || self.child_qc.height != c.height
        {
            return Err(VerifyError::Malformed(
                "commit proof's certificate is not for its child",
            ));
        }
        c.justify.verify(committee)?;
        self.child_qc.verify(committee)
    }
}

impl Encode for CommitProof {
    fn encode_to(&self, w: &mut Writer) {
        self.child.encode_to(w);
        self.child_qc.encode_to(w);
    }
}

impl Decode for CommitProof {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CommitProof {
            child: BlockHeader::decode_from(r)?,
            child_qc: QuorumCertificate::decode_from(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chain() -> ChainId {
        ChainId::new("cairn-test").unwrap()
    }

    #[test]
    fn genesis_is_genesis_with_a_zero_config_hash() {
        let root = Hash::digest(b"state");
        assert_eq!(
            Block::genesis(chain(), 7, root),
            Block::genesis_with_config(chain(), 7, root, Hash::ZERO)
        );
        assert_eq!(
            Block::genesis(chain(), 7, root).header.parent_hash,
            Hash::ZERO
        );
    }

    #[test]
    fn genesis_hash_commits_to_the_config_hash() {
        let root = Hash::digest(b"state");
        let a = Block::genesis_with_config(chain(), 7, root, Hash::digest(b"config a"));
        let b = Block::genesis_with_config(chain(), 7, root, Hash::digest(b"config b"));
        assert_eq!(a.header.parent_hash, Hash::digest(b"config a"));
        assert_ne!(a.hash(), b.hash());
        // Only parent_hash differs; the rest is the plain genesis block.
        let mut plain = Block::genesis(chain(), 7, root);
        plain.header.parent_hash = a.header.parent_hash;
        assert_eq!(plain, a);
    }
}
