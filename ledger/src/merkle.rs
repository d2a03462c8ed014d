//! RFC 6962 Merkle tree hash and audit paths (RFC 9162 §2.1 verification).
//!
//! leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
//! empty tree = SHA-256(""). A block's `tx_root` is this tree over its
//! transactions' 32-byte hashes, in order.

use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// Hash of one leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash(h.finalize().into())
}

/// Hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The Merkle Tree Hash over leaves that are each a 32-byte hash.
pub fn root(leaves: &[Hash]) -> Hash {
    root_of(leaves)
}

/// The Merkle Tree Hash over arbitrary leaf data (the RFC's MTH).
pub fn root_of<L: AsRef<[u8]>>(leaves: &[L]) -> Hash {
    if leaves.is_empty() {
        return Hash::digest(b"");
    }
    // Bottom-up: hash leaves, then pair up levels; an odd node at the end of a
    // level is carried up unchanged, which yields exactly the RFC's split at the
    // largest power of two below n.
    let mut level: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [l, r] => node_hash(l, r),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two"),
            });
        }
        level = next;
    }
    level[0]
}

/// The audit path for leaf `index` in a tree over `leaves` (RFC 6962 PATH),
/// ordered from the leaf's sibling up to the root's child.
/// `None` if `index` is out of range.
pub fn audit_path<L: AsRef<[u8]>>(leaves: &[L], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut level: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    let mut path = Vec::new();
    let mut i = index;
    while level.len() > 1 {
        let sibling = i ^ 1;
        if sibling < level.len() {
            path.push(level[sibling]);
        }
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            next.push(match pair {
                [l, r] => node_hash(l, r),
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two"),
            });
        }
        level = next;
        i /= 2;
    }
    Some(path)
}

/// Verifies that `leaf_data` is leaf `index` of a tree of `size` leaves with
/// root `root`, given its audit path (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_data: &[u8],
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if index >= size {
        return false;
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = leaf_hash(leaf_data);
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaves of the Certificate Transparency reference tests.
    fn ct_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| hex::decode(h).expect("test vector hex"))
        .collect()
    }

    fn h(s: &str) -> Hash {
        Hash(hex::decode(s).expect("hex").try_into().expect("32 bytes"))
    }

    #[test]
    fn empty_tree_is_hash_of_nothing() {
        assert_eq!(
            root(&[]),
            h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn ct_roots() {
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = ct_leaves();
        for (n, want) in roots.iter().enumerate() {
            assert_eq!(
                root_of(&leaves[..n + 1]),
                h(want),
                "tree of {} leaves",
                n + 1
            );
        }
    }

    #[test]
    fn ct_audit_paths() {
        // (leaf index, tree size, path) from the CT reference tests.
        let cases: &[(usize, usize, &[&str])] = &[
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        let leaves = ct_leaves();
        for (index, size, want) in cases {
            let path = audit_path(&leaves[..*size], *index).expect("in range");
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(path, want, "leaf {index} of {size}");
            let r = root_of(&leaves[..*size]);
            assert!(verify_inclusion(
                &leaves[*index],
                *index as u64,
                *size as u64,
                &path,
                &r
            ));
        }
    }

    #[test]
    fn every_path_verifies_and_tampering_fails() {
        for size in 1..=33usize {
            let leaves: Vec<Vec<u8>> = (0..size).map(|i| vec![i as u8; 3]).collect();
            let r = root_of(&leaves);
            for i in 0..size {
                let path = audit_path(&leaves, i).expect("in range");
                assert!(verify_inclusion(
                    &leaves[i],
                    i as u64,
                    size as u64,
                    &path,
                    &r
                ));
                assert!(!verify_inclusion(
                    b"other",
                    i as u64,
                    size as u64,
                    &path,
                    &r
                ));
                if size > 1 {
                    assert!(!verify_inclusion(
                        &leaves[i],
                        ((i + 1) % size) as u64,
                        size as u64,
                        &path,
                        &r
                    ));
                }
                for j in 0..path.len() {
                    let mut bad = path.clone();
                    bad[j].0[7] ^= 1;
                    assert!(!verify_inclusion(
                        &leaves[i],
                        i as u64,
                        size as u64,
                        &bad,
                        &r
                    ));
                }
                let mut long = path.clone();
                long.push(r);
                assert!(!verify_inclusion(
                    &leaves[i],
                    i as u64,
                    size as u64,
                    &long,
                    &r
                ));
            }
            assert!(audit_path(&leaves, size).is_none());
        }
    }
}
