//! Key and small-record encodings inside the store.

use jmt::{KeyHash, Version};

use crate::primitives::Height;

/// Big-endian height, so heights sort numerically.
pub(crate) fn height(h: Height) -> [u8; 8] {
    h.0.to_be_bytes()
}

/// Tree value key: key hash || version (BE), so `seek_for_prev` finds the
/// newest version at or below a bound.
pub(crate) fn tree_value(key: &KeyHash, version: Version) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&key.0);
    k[32..].copy_from_slice(&version.to_be_bytes());
    k
}

/// Meta key of the tip record: height (u64 LE) || block hash || state root.
pub(crate) const META_TIP: &[u8] = b"tip";
/// Meta key of the genesis block hash.
pub(crate) const META_GENESIS: &[u8] = b"genesis";
