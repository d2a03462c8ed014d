//! Keys, signing and signature verification.
//!
//! Signing and key files use ed25519-dalek. Verification follows ZIP-215 through
//! `ed25519-consensus`, whose single and batch verification agree on every input
//! (ed25519-dalek's `verify_batch` is cofactorless and can disagree with its
//! single check on crafted signatures, which would split a network).

use std::fmt;

use ed25519_consensus::{batch, VerificationKey, VerificationKeyBytes};
use rand_core::OsRng;

use crate::codec::{Reader, Writer};
use crate::error::{DecodeError, VerifyError};
use crate::primitives::Address;

/// A 64-byte ed25519 signature (R || S).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl Signature {
    /// Appends the 64 bytes.
    pub fn encode_to(&self, w: &mut Writer) {
        w.raw(&self.0);
    }
    /// Reads 64 bytes.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Signature(r.array("signature")?))
    }
}

/// An ed25519 signing key (the 32-byte seed).
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.address())
    }
}

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::generate(&mut OsRng))
    }
    /// The key for a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }
    /// The 32-byte seed (keep it secret).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    /// The public key, which is the address.
    pub fn address(&self) -> Address {
        Address(self.0.verifying_key().to_bytes())
    }
    /// Signs `message` (which must already start with its domain tag).
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.0.sign(message).to_bytes())
    }
}

/// Verifies one signature under the ZIP-215 rule.
pub fn verify(signer: &Address, message: &[u8], sig: &Signature) -> Result<(), VerifyError> {
    let bad = || VerifyError::BadSignature { signer: *signer };
    let key = VerificationKey::try_from(signer.0).map_err(|_| bad())?;
    key.verify(&ed25519_consensus::Signature::from(sig.0), message)
        .map_err(|_| bad())
}

/// Collects signatures and verifies them together (~3x cheaper each than
/// [`verify`] at batches of hundreds). Agrees exactly with [`verify`] on every
/// input, as ZIP-215 requires.
#[derive(Default)]
pub struct BatchVerifier<'m> {
    items: Vec<(Address, &'m [u8], Signature)>,
}

impl fmt::Debug for BatchVerifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchVerifier({} items)", self.items.len())
    }
}

impl<'m> BatchVerifier<'m> {
    /// An empty batch with room for `n` items.
    pub fn with_capacity(n: usize) -> Self {
        BatchVerifier {
            items: Vec::with_capacity(n),
        }
    }

    /// Adds one signature to check.
    pub fn push(&mut self, signer: Address, message: &'m [u8], sig: Signature) {
        self.items.push((signer, message, sig));
    }

    /// Number of queued items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Verifies every queued signature. On failure, names every bad position
    /// (found by checking each item singly, which gives the same answers).
    pub fn verify(self) -> Result<(), VerifyError> {
        match self.items.len() {
            0 => return Ok(()),
            1 => {
                let (signer, msg, sig) = &self.items[0];
                return verify(signer, msg, sig)
                    .map_err(|_| VerifyError::BadSignatures { positions: vec![0] });
            }
            _ => {}
        }
        let mut batch = batch::Verifier::new();
        for (signer, msg, sig) in &self.items {
            batch.queue((
                VerificationKeyBytes::from(signer.0),
                ed25519_consensus::Signature::from(sig.0),
                msg,
            ));
        }
        if batch.verify(OsRng).is_ok() {
            return Ok(());
        }
        let positions = self.bad_positions();
        debug_assert!(
            !positions.is_empty(),
            "batch and single verification disagree"
        );
        Err(VerifyError::BadSignatures { positions })
    }

    /// Positions of the items that fail single verification.
    pub fn bad_positions(&self) -> Vec<usize> {
        self.items
            .iter()
            .enumerate()
            .filter(|(_, (signer, msg, sig))| verify(signer, msg, sig).is_err())
            .map(|(i, _)| i)
            .collect()
    }
}
