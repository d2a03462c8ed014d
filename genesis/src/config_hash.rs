//! The genesis config hash: what the genesis block commits to beyond the state.
//!
//! The genesis block's `parent_hash` (it has no parent) carries
//! `SHA-256("cairn/genesis/v1" || config bytes)`, where the config bytes are
//! the validator set and the consensus parameters. So the genesis hash alone
//! authenticates the committee that every certificate is checked against: an
//! auditor who knows only the hash can check a `genesis.json` a node hands
//! them, and two files that differ in a validator's key or power, in the
//! validators' order, or in a consensus parameter give different chains.
//!
//! Not covered here, on purpose: validator names (labels for logs and the
//! explorer; renaming a validator does not fork the chain) and the accounts
//! (covered by the genesis state root). The chain id and genesis time are
//! header fields of the genesis block itself. Layout: `docs/SPEC.md` §8.

use cairn_ledger::codec::Writer;
use cairn_ledger::hash::tag;
use cairn_ledger::Hash;

use crate::file::Genesis;

/// The canonical config bytes, little-endian:
/// validator count (u16), then per validator in `genesis.validators` order
/// (the signer-index order) its address (32) and power (u64); then
/// `roundTimeoutMs` (u64), `timeoutBackoff` as its IEEE 754 binary64 bits
/// (u64), `maxRoundTimeoutMs` (u64), `maxBlockTxs` (u32), `maxBlockBytes`
/// (u64), `maxMemoBytes` (u16).
///
/// # Panics
/// If `genesis` has more than 65,535 validators; a validated genesis has at
/// most 1,024 ([`Genesis::validate`]).
pub fn config_bytes(genesis: &Genesis) -> Vec<u8> {
    let count = u16::try_from(genesis.validators.len())
        .expect("more than 65535 validators: validate the genesis before hashing it");
    let mut w = Writer::with_capacity(2 + 40 * genesis.validators.len() + 38);
    w.u16(count);
    for v in &genesis.validators {
        w.raw(&v.address.0).u64(v.power);
    }
    let c = &genesis.consensus;
    w.u64(c.round_timeout_ms)
        .u64(c.timeout_backoff.to_bits())
        .u64(c.max_round_timeout_ms)
        .u32(c.max_block_txs)
        .u64(c.max_block_bytes)
        .u16(c.max_memo_bytes);
    w.into_bytes()
}

/// `SHA-256("cairn/genesis/v1" || `[`config_bytes`]`(genesis))`: the genesis
/// block's `parent_hash` (see [`cairn_ledger::Block::genesis_with_config`]).
///
/// # Panics
/// As [`config_bytes`]: only for a genesis with more than 65,535 validators.
pub fn config_hash(genesis: &Genesis) -> Hash {
    Hash::tagged(tag::GENESIS, &[&config_bytes(genesis)])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::file::GenesisTime;
    use crate::state::testnet_deterministic;
    use cairn_ledger::{Amount, ChainId};

    fn fixed() -> Genesis {
        testnet_deterministic(
            ChainId::new("cairn-test").unwrap(),
            4,
            3,
            Amount(1_000),
            7,
            GenesisTime::from_unix_ms(1_795_219_200_000),
        )
        .unwrap()
        .0
    }

    #[test]
    fn bytes_follow_the_documented_layout() {
        let g = fixed();
        let b = config_bytes(&g);
        assert_eq!(b.len(), 2 + 4 * 40 + 8 * 4 + 4 + 2);
        assert_eq!(b[..2], [4, 0]);
        assert_eq!(b[2..34], g.validators[0].address.0);
        assert_eq!(b[34..42], 1u64.to_le_bytes());
        assert_eq!(b[122..154], g.validators[3].address.0);
        let params = &b[162..];
        assert_eq!(params[..8], 1_000u64.to_le_bytes());
        assert_eq!(params[8..16], 2.0f64.to_bits().to_le_bytes());
        assert_eq!(params[16..24], 60_000u64.to_le_bytes());
        assert_eq!(params[24..28], 10_000u32.to_le_bytes());
        assert_eq!(params[28..36], (16u64 << 20).to_le_bytes());
        assert_eq!(params[36..], 1024u16.to_le_bytes());
    }

    #[test]
    fn hash_is_the_tagged_digest_of_the_bytes() {
        let g = fixed();
        let by_hand = Hash::digest(&[b"cairn/genesis/v1".as_slice(), &config_bytes(&g)].concat());
        assert_eq!(config_hash(&g), by_hand);
    }

    #[test]
    fn accounts_names_chain_id_and_time_are_not_in_the_config() {
        let g = fixed();
        let mut h = g.clone();
        h.accounts.clear();
        h.validators[1].name = "renamed".into();
        h.chain_id = ChainId::new("other-chain").unwrap();
        h.genesis_time = GenesisTime::from_unix_ms(1);
        assert_eq!(config_bytes(&g), config_bytes(&h));
    }
}
