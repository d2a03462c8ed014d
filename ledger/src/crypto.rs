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
    if let Some(ok) = memo::get(signer, message, sig) {
        return if ok { Ok(()) } else { Err(bad()) };
    }
    let result = verify_uncached(signer, message, sig);
    memo::put(signer, message, sig, result.is_ok());
    result
}

fn verify_uncached(signer: &Address, message: &[u8], sig: &Signature) -> Result<(), VerifyError> {
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
        // Under a simulator's memo only the answers not known yet are
        // checked (the batch is valid iff every item is).
        let todo: Vec<&(Address, &[u8], Signature)> = self
            .items
            .iter()
            .filter(|(signer, msg, sig)| {
                !memo::enabled() || memo::get(signer, msg, sig) != Some(true)
            })
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        let mut batch = batch::Verifier::new();
        for (signer, msg, sig) in &todo {
            batch.queue((
                VerificationKeyBytes::from(signer.0),
                ed25519_consensus::Signature::from(sig.0),
                msg,
            ));
        }
        if batch.verify(OsRng).is_ok() {
            for (signer, msg, sig) in todo {
                memo::put(signer, msg, sig, true);
            }
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

/// A memo of signature checks for one thread, off unless turned on.
///
/// Verification is a pure function of (key, message, signature), so
/// remembering its answers changes no outcome, only the time taken. The
/// deterministic simulator turns it on: there every simulated validator checks
/// the same votes, timeouts and certificates in one thread, and the check
/// dominates its run time. A node never turns it on (each of its checks is of
/// a message it has not seen).
pub mod memo {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use sha2::{Digest, Sha256};

    use super::Signature;
    use crate::primitives::Address;

    /// Entries kept before the memo starts over (about 50 MB).
    const CAPACITY: usize = 1 << 20;

    thread_local! {
        static MEMO: RefCell<Option<HashMap<[u8; 32], bool>>> = const { RefCell::new(None) };
    }

    /// Turns the memo on for this thread, empty.
    pub fn start() {
        MEMO.with(|m| *m.borrow_mut() = Some(HashMap::new()));
    }

    /// Turns the memo off for this thread and forgets it.
    pub fn stop() {
        MEMO.with(|m| *m.borrow_mut() = None);
    }

    /// Whether this thread's memo is on.
    pub fn enabled() -> bool {
        MEMO.with(|m| m.borrow().is_some())
    }

    fn key(signer: &Address, message: &[u8], sig: &Signature) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(signer.0);
        h.update(sig.0);
        h.update(message);
        h.finalize().into()
    }

    /// The remembered answer, if the memo is on and has one.
    pub(super) fn get(signer: &Address, message: &[u8], sig: &Signature) -> Option<bool> {
        MEMO.with(|m| {
            let m = m.borrow();
            let map = m.as_ref()?;
            map.get(&key(signer, message, sig)).copied()
        })
    }

    /// Remembers an answer, if the memo is on.
    pub(super) fn put(signer: &Address, message: &[u8], sig: &Signature, ok: bool) {
        MEMO.with(|m| {
            if let Some(map) = m.borrow_mut().as_mut() {
                if map.len() >= CAPACITY {
                    map.clear();
                }
                map.insert(key(signer, message, sig), ok);
            }
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// With the memo on, every answer — good, bad, single, batched, and the
    /// positions of bad items — is the one given with it off.
    #[test]
    fn the_memo_changes_no_answer() {
        let key = SecretKey::from_seed([7; 32]);
        let other = SecretKey::from_seed([8; 32]);
        let msgs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 40]).collect();
        let good: Vec<Signature> = msgs.iter().map(|m| key.sign(m)).collect();
        let forged = other.sign(&msgs[2]);
        // Only ever checked in a batch: round 0's batches mix remembered
        // answers with one not known yet.
        let fresh = vec![9u8; 40];
        let fresh_sig = key.sign(&fresh);
        let answers = || {
            let mut out = Vec::new();
            for round in 0..2 {
                for (m, s) in msgs.iter().zip(&good) {
                    out.push(format!("{round} {:?}", verify(&key.address(), m, s)));
                }
                out.push(format!(
                    "{round} {:?}",
                    verify(&key.address(), &msgs[2], &forged)
                ));
                let mut all_good = BatchVerifier::default();
                let mut one_bad = BatchVerifier::default();
                for (i, (m, s)) in msgs.iter().zip(&good).enumerate() {
                    all_good.push(key.address(), m, *s);
                    one_bad.push(key.address(), m, if i == 2 { forged } else { *s });
                }
                all_good.push(key.address(), &fresh, fresh_sig);
                one_bad.push(key.address(), &fresh, fresh_sig);
                out.push(format!("{round} {:?}", all_good.verify()));
                out.push(format!("{round} {:?}", one_bad.verify()));
            }
            out
        };
        let without = answers();
        memo::start();
        assert!(memo::enabled());
        let with = answers();
        memo::stop();
        assert!(!memo::enabled());
        assert_eq!(with, without);
        assert!(without
            .iter()
            .any(|a| a.contains("BadSignatures { positions: [2] }")));
        assert!(without.iter().any(|a| a.contains("BadSignature {")));
    }
}
