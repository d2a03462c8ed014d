//! Newtypes that carry meaning: heights, rounds, amounts, addresses, chain ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{Decode, Encode, Reader, Writer};
use crate::error::DecodeError;
use crate::hash::hex32_traits;

/// A block height. Genesis is height 0; the first block is height 1.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Height(pub u64);

/// A consensus round. Round 0 belongs to genesis; proposals start at round 1.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Round(pub u64);

impl Height {
    /// The next height, saturating: heights arrive from peers before their
    /// certificates are checked, and one claiming `u64::MAX` must be refused
    /// like any other lie, not overflow (a panic with overflow checks on).
    /// No real chain reaches it.
    pub fn next(self) -> Height {
        Height(self.0.saturating_add(1))
    }
}

impl Round {
    /// The next round, saturating (see [`Height::next`]).
    pub fn next(self) -> Round {
        Round(self.0.saturating_add(1))
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An amount of the native token. JSON: a decimal string (u64 does not fit a JSON double).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(pub u64);

impl Amount {
    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
    /// `self - other`, or `None` if `other` is larger.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Amount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "amount {s:?} must be a non-negative whole number written in decimal digits"
            ));
        }
        s.parse::<u64>()
            .map(Amount)
            .map_err(|_| format!("amount {s} is larger than the maximum {}", u64::MAX))
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An account address: the 32-byte ed25519 public key. JSON: `0x` + 64 hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 32]);

hex32_traits!(Address, "address");

impl Address {
    /// True if the bytes are a valid ed25519 point encoding under ZIP-215
    /// (the rule signatures are verified by).
    pub fn is_valid_public_key(&self) -> bool {
        if valid_keys::contains(&self.0) {
            return true;
        }
        let valid = ed25519_consensus::VerificationKey::try_from(self.0).is_ok();
        if valid {
            valid_keys::insert(self.0);
        }
        valid
    }
}

/// Addresses recently found to be valid points. Checking one costs a point
/// decompression (a field exponentiation, ~8 µs); every transaction names
/// two addresses and is decoded several times per node (admission, the
/// proposal, sync), while senders and recipients repeat. A direct-mapped
/// table of exact keys: a hit is the same 32 bytes that passed before, so
/// the answer is the same; only valid keys are kept, so invalid ones cost
/// what they always did, and a flood of fresh keys only evicts.
mod valid_keys {
    use std::sync::{Mutex, OnceLock};

    const SLOTS: usize = 1 << 16;

    type Table = Box<[Mutex<Option<[u8; 32]>>]>;

    fn table() -> &'static Table {
        static TABLE: OnceLock<Table> = OnceLock::new();
        TABLE.get_or_init(|| (0..SLOTS).map(|_| Mutex::new(None)).collect())
    }

    fn slot(key: &[u8; 32]) -> &'static Mutex<Option<[u8; 32]>> {
        let i = u16::from_le_bytes([key[0], key[1]]) as usize;
        &table()[i % SLOTS]
    }

    pub(super) fn contains(key: &[u8; 32]) -> bool {
        // A poisoned slot (a panic while held) is only a cache miss.
        slot(key).lock().is_ok_and(|s| s.as_ref() == Some(key))
    }

    pub(super) fn insert(key: [u8; 32]) {
        if let Ok(mut s) = slot(&key).lock() {
            *s = Some(key);
        }
    }
}

impl Encode for Address {
    fn encode_to(&self, w: &mut Writer) {
        w.raw(&self.0);
    }
}

/// The longest chain id, in bytes.
pub const MAX_CHAIN_ID_LEN: usize = 64;

/// A chain id: 1..=64 bytes of UTF-8, e.g. `cairn-devnet`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainId(String);

impl ChainId {
    /// Validates and wraps a chain id.
    pub fn new(id: impl Into<String>) -> Result<ChainId, String> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_CHAIN_ID_LEN {
            return Err(format!(
                "chain id must be 1 to {MAX_CHAIN_ID_LEN} bytes of UTF-8, got {} bytes",
                id.len()
            ));
        }
        if id.chars().any(|c| c.is_control()) {
            return Err("chain id must not contain control characters".into());
        }
        Ok(ChainId(id))
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ChainId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChainId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ChainId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Encode for ChainId {
    fn encode_to(&self, w: &mut Writer) {
        // Length fits: ChainId::new bounds it to 64.
        w.u8(self.0.len() as u8).raw(self.0.as_bytes());
    }
}

impl Decode for ChainId {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = r.u8("chain_id length")? as usize;
        if len == 0 {
            return Err(DecodeError::Empty { field: "chain_id" });
        }
        let len = r.bounded(len, MAX_CHAIN_ID_LEN, "chain_id")?;
        let bytes = r.take(len, "chain_id")?;
        let s = std::str::from_utf8(bytes)
            .map_err(|_| DecodeError::InvalidUtf8 { field: "chain_id" })?;
        ChainId::new(s).map_err(|_| DecodeError::NotCanonical {
            field: "chain_id",
            reason: "contains control characters",
        })
    }
}

/// Reads an address that must be a valid ed25519 public key.
pub(crate) fn decode_key(r: &mut Reader<'_>, field: &'static str) -> Result<Address, DecodeError> {
    let address = Address(r.array(field)?);
    if !address.is_valid_public_key() {
        return Err(DecodeError::InvalidPublicKey { field, address });
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_valid_key_cache_never_turns_a_non_point_valid() {
        // y = 2 is not a point; the keys below share its slot (first two bytes).
        let mut bad = [0u8; 32];
        bad[0] = 2;
        let bad = Address(bad);
        let valid: Vec<Address> = (0u8..=255)
            .map(|k| {
                let mut b = [0u8; 32];
                b[0] = 2;
                b[31] = k & 0x7f;
                b[30] = k;
                Address(b)
            })
            .filter(|a| ed25519_consensus::VerificationKey::try_from(a.0).is_ok())
            .collect();
        assert!(
            !valid.is_empty(),
            "some key in the slot of y = 2 is a point"
        );
        for a in &valid {
            assert!(a.is_valid_public_key());
            assert!(a.is_valid_public_key(), "cached answer is the same");
            assert!(
                !bad.is_valid_public_key(),
                "a neighbour in the slot is not a hit"
            );
        }
        assert!(!bad.is_valid_public_key());
    }

    use super::*;

    #[test]
    fn amount_parsing_names_the_problem() {
        assert_eq!("42".parse::<Amount>(), Ok(Amount(42)));
        assert!("-1".parse::<Amount>().unwrap_err().contains("non-negative"));
        assert!("1.5"
            .parse::<Amount>()
            .unwrap_err()
            .contains("whole number"));
        assert!("18446744073709551616"
            .parse::<Amount>()
            .unwrap_err()
            .contains("larger than"));
        assert_eq!(serde_json::to_string(&Amount(7)).unwrap(), "\"7\"");
    }

    #[test]
    fn chain_id_limits() {
        assert!(ChainId::new("").is_err());
        assert!(ChainId::new("x".repeat(65)).is_err());
        assert!(ChainId::new("x".repeat(64)).is_ok());
        let id = ChainId::new("cairn-test").unwrap();
        assert_eq!(ChainId::from_bytes(&id.to_bytes()), Ok(id));
        assert_eq!(
            ChainId::from_bytes(&[0]),
            Err(DecodeError::Empty { field: "chain_id" })
        );
        assert_eq!(
            ChainId::from_bytes(&[2, 0xff, 0xfe]),
            Err(DecodeError::InvalidUtf8 { field: "chain_id" })
        );
    }
}
