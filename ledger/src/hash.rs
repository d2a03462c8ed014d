//! SHA-256 hashes and the domain tags that separate every hashed or signed purpose.
//!
//! Every signature input and every hash of a structure starts with one of the
//! [`tag`] constants, so bytes signed for one purpose can never verify for another.
//! The tags are ASCII without a length prefix; none is a prefix of another.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Domain tags (see `docs/SPEC.md`).
pub mod tag {
    /// Prefix of a transaction's signed message.
    pub const TX: &[u8] = b"cairn/tx/v1";
    /// Prefix of a block header's hash input.
    pub const BLOCK: &[u8] = b"cairn/block/v1";
    /// Prefix of a vote's signed message.
    pub const VOTE: &[u8] = b"cairn/vote/v1";
    /// Prefix of a timeout's signed message.
    pub const TIMEOUT: &[u8] = b"cairn/timeout/v1";
    /// Prefix of a leader's signed proposal message.
    pub const PROPOSAL: &[u8] = b"cairn/proposal/v1";
    /// Prefix of the genesis configuration hash (validator set and consensus
    /// parameters), which the genesis block carries as its `parent_hash`.
    pub const GENESIS: &[u8] = b"cairn/genesis/v1";
}

/// A 32-byte SHA-256 digest. JSON: `0x` + 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zeroes: the block hash in the genesis block's `justify`, and the
    /// `parent_hash` of a [`Block::genesis`](crate::Block::genesis) block (a
    /// real chain's genesis carries its config hash there instead).
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of `data`.
    pub fn digest(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }

    /// SHA-256 of `tag || parts[0] || parts[1] || ...`.
    pub fn tagged(tag: &[u8], parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        h.update(tag);
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Formats 32 bytes as `0x` + lowercase hex.
pub(crate) fn fmt_hex32(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "0x{}", hex::encode(bytes))
}

/// Parses `0x` + 64 hex digits, with an error that says what is wrong.
pub fn parse_hex32(s: &str, what: &str) -> Result<[u8; 32], String> {
    let body = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("{what} must start with 0x, got {s:?}"))?;
    if body.len() != 64 {
        return Err(format!(
            "{what} must be 0x followed by 64 hex digits (32 bytes), got {} digits",
            body.len()
        ));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(body, &mut out).map_err(|e| format!("{what} is not valid hex: {e}"))?;
    Ok(out)
}

/// Parses `0x` + an even number of hex digits.
pub fn parse_hex(s: &str, what: &str) -> Result<Vec<u8>, String> {
    let body = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("{what} must start with 0x"))?;
    if body.len() % 2 != 0 {
        return Err(format!(
            "{what} has an odd number of hex digits ({}); each byte takes two",
            body.len()
        ));
    }
    hex::decode(body).map_err(|e| format!("{what} is not valid hex: {e}"))
}

macro_rules! hex32_traits {
    ($ty:ident, $what:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                crate::hash::fmt_hex32(&self.0, f)
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                crate::hash::fmt_hex32(&self.0, f)
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                crate::hash::parse_hex32(s, $what).map($ty)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use hex32_traits;

hex32_traits!(Hash, "hash");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash::digest(b"abc");
        let s = h.to_string();
        assert_eq!(
            s,
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(s.parse::<Hash>(), Ok(h));
        assert!(s[2..]
            .parse::<Hash>()
            .unwrap_err()
            .contains("must start with 0x"));
        assert!("0x12"
            .parse::<Hash>()
            .unwrap_err()
            .contains("64 hex digits"));
        let bad = format!("0x{}", "zz".repeat(32));
        assert!(bad.parse::<Hash>().unwrap_err().contains("not valid hex"));
        assert!(parse_hex("0xabc", "memo")
            .unwrap_err()
            .contains("odd number"));
    }

    #[test]
    fn tagged_is_prefix_concatenation() {
        assert_eq!(Hash::tagged(b"ab", &[b"c"]), Hash::digest(b"abc"));
    }
}
