//! Network identity: a node's libp2p key is its ed25519 validator key, so the
//! genesis validator list names every validator's `PeerId`.

use cairn_ledger::{Address, SecretKey};
use libp2p::identity::{ed25519, Keypair, PublicKey};
use libp2p::PeerId;

/// The libp2p keypair for a Cairn secret key (same 32-byte ed25519 seed).
pub fn keypair_of(key: &SecretKey) -> Keypair {
    let secret = ed25519::SecretKey::try_from_bytes(key.seed())
        .expect("a 32-byte seed is always a valid ed25519 secret key");
    Keypair::from(ed25519::Keypair::from(secret))
}

/// The `PeerId` of the node whose key has this address (public key).
/// `None` if the bytes are not an ed25519 public key.
pub fn peer_id_of(address: &Address) -> Option<PeerId> {
    let key = ed25519::PublicKey::try_from_bytes(&address.0).ok()?;
    Some(PublicKey::from(key).to_peer_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_from_address_matches_the_keypair() {
        for seed in [[0u8; 32], [7; 32], [255; 32]] {
            let key = SecretKey::from_seed(seed);
            let from_key = keypair_of(&key).public().to_peer_id();
            assert_eq!(peer_id_of(&key.address()), Some(from_key));
        }
        let a = peer_id_of(&SecretKey::from_seed([1; 32]).address());
        let b = peer_id_of(&SecretKey::from_seed([2; 32]).address());
        assert_ne!(a, b);
    }

    #[test]
    fn a_non_key_address_has_no_peer_id() {
        // y = 2 is not on the curve in compressed Edwards form.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let addr = Address(bytes);
        assert_eq!(addr.is_valid_public_key(), peer_id_of(&addr).is_some());
    }
}
