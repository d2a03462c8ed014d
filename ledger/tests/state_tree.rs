//! Property test: the state tree against a naive map.
//!
//! Random batches of inserts and updates are applied as successive versions.
//! After each: the incremental root equals a from-scratch rebuild of the same
//! accounts; every present key's inclusion proof and every absent key's
//! non-inclusion proof verifies; and a proof with one flipped bit, for the
//! wrong key, or for the wrong value, fails.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use cairn_ledger::state::{AccountProof, MemTreeStore, StateTree};
use cairn_ledger::{Account, Address, Amount, Height};
use proptest::prelude::*;

fn addr(i: u8) -> Address {
    let mut a = [0u8; 32];
    a[0] = i;
    a[31] = 0xA5;
    Address(a)
}

fn rebuild_root(map: &BTreeMap<Address, Account>) -> cairn_ledger::Hash {
    let store = MemTreeStore::new();
    let list: Vec<(Address, Account)> = map.iter().map(|(a, b)| (*a, *b)).collect();
    StateTree::new(&store).update(&list, Height(0)).unwrap().0
}

fn check_tampered(
    proof: &AccountProof,
    root: &cairn_ledger::Hash,
    a: &Address,
    acct: Option<&Account>,
    bit: usize,
) {
    let mut bytes = proof.to_bytes();
    let bit = bit % (bytes.len() * 8);
    bytes[bit / 8] ^= 1 << (bit % 8);
    if let Ok(p) = AccountProof::from_bytes(&bytes) {
        assert!(
            p.verify(root, a, acct).is_err(),
            "proof with bit {bit} flipped still verifies"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn tree_matches_reference(
        batches in prop::collection::vec(
            prop::collection::vec((0u8..40, any::<u64>(), 0u64..1000), 0..12),
            1..8,
        ),
        probe_bits in prop::collection::vec(any::<usize>(), 4),
    ) {
        let mut store = MemTreeStore::new();
        let mut reference: BTreeMap<Address, Account> = BTreeMap::new();
        for (v, batch) in batches.iter().enumerate() {
            let mut updates: BTreeMap<Address, Account> = BTreeMap::new();
            for (k, bal, nonce) in batch {
                updates.insert(addr(*k), Account { balance: Amount(*bal), nonce: *nonce });
            }
            let list: Vec<(Address, Account)> = updates.iter().map(|(a, b)| (*a, *b)).collect();
            let height = Height(v as u64);
            let (root, batch_nodes) = StateTree::new(&store).update(&list, height).unwrap();
            store.apply(batch_nodes);
            reference.extend(updates);

            let tree = StateTree::new(&store);
            prop_assert_eq!(tree.root(height).unwrap(), root);
            prop_assert_eq!(rebuild_root(&reference), root, "incremental root differs from rebuild");

            for k in 0u8..44 {
                let a = addr(k);
                let want = reference.get(&a);
                let (got, proof) = tree.get_with_proof(&a, height).unwrap();
                prop_assert_eq!(got.as_ref(), want);
                let plain = tree.get(&a, height).unwrap();
                prop_assert_eq!(plain.as_ref(), want);
                proof.verify(&root, &a, want).unwrap();
                // Wrong key: the proof must not vouch for a different address.
                if want.is_some() {
                    let other = addr(k.wrapping_add(101));
                    prop_assert!(proof.verify(&root, &other, want).is_err(), "inclusion proof vouches for another key");
                }
                // Wrong value.
                let wrong = match want {
                    Some(acct) => Some(Account { balance: Amount(acct.balance.0 ^ 1), nonce: acct.nonce }),
                    None => Some(Account { balance: Amount(1), nonce: 0 }),
                };
                prop_assert!(proof.verify(&root, &a, wrong.as_ref()).is_err());
                if want.is_some() {
                    prop_assert!(proof.verify(&root, &a, None).is_err(), "inclusion proof passes as non-inclusion");
                }
                for bit in &probe_bits {
                    check_tampered(&proof, &root, &a, want, *bit);
                }
            }
            // Older versions stay readable with their own roots.
            if v > 0 {
                let prev = Height(v as u64 - 1);
                let prev_root = tree.root(prev).unwrap();
                let (acct, proof) = tree.get_with_proof(&addr(0), prev).unwrap();
                proof.verify(&prev_root, &addr(0), acct.as_ref()).unwrap();
            }
        }
    }
}

#[test]
fn empty_version_keeps_the_root() {
    let mut store = MemTreeStore::new();
    let (r0, b0) = StateTree::new(&store)
        .update(
            &[(
                addr(1),
                Account {
                    balance: Amount(5),
                    nonce: 0,
                },
            )],
            Height(0),
        )
        .unwrap();
    store.apply(b0);
    let (r1, b1) = StateTree::new(&store).update(&[], Height(1)).unwrap();
    store.apply(b1);
    assert_eq!(r0, r1);
    assert_eq!(StateTree::new(&store).root(Height(1)).unwrap(), r0);
}
