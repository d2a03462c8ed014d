//! Signature validity is consensus-critical: single and batched verification
//! must reach the same verdict on every input, or two honest nodes that batch
//! differently would disagree about a block. Cairn's rule is ZIP-215 (cofactored
//! verification, non-canonical point encodings accepted, non-canonical S rejected).
//!
//! The edge cases are built here from the curve's eight torsion points: a
//! cofactorless verifier (ed25519-dalek's `verify_batch`, or RFC 8032 without
//! the cofactor) accepts or rejects many of them differently from a cofactored
//! one. Each case states its ZIP-215 verdict, and `crypto::verify`,
//! `crypto::BatchVerifier` and `types::tx::verify_all` must all give it.
//!
//! The second half checks certificate verification against a validator set
//! with unequal voting power.
#![allow(clippy::unwrap_used)]

mod fixtures;

use cairn_ledger::crypto::{self, BatchVerifier};
use cairn_ledger::types::cert::{timeout_signing_bytes, vote_signing_bytes};
use cairn_ledger::types::tx::verify_all;
use cairn_ledger::{
    Address, Amount, ChainId, Hash, Height, QuorumCertificate, Round, SecretKey, Signature,
    SignedTransaction, Timeout, Transaction, VerifyError, Vote,
};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use fixtures::*;
use sha2::{Digest, Sha512};

// ------------------------------------------------------------ building cases

/// The group order l, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Non-canonical encodings of small-order points (x = 0, so y = ±1):
/// y = 1 with the sign bit set, y = -1 with the sign bit set, y = 1 + p (= 2^255 - 18)
/// with and without the sign bit.
fn non_canonical_small_order() -> Vec<[u8; 32]> {
    let mut y1_signed = [0u8; 32];
    y1_signed[0] = 1;
    y1_signed[31] = 0x80;
    let mut ym1_signed = [0xff; 32];
    ym1_signed[0] = 0xec;
    let mut y1_plus_p = [0xff; 32];
    y1_plus_p[0] = 0xee;
    y1_plus_p[31] = 0x7f;
    let mut y1_plus_p_signed = y1_plus_p;
    y1_plus_p_signed[31] = 0xff;
    let all = vec![y1_signed, ym1_signed, y1_plus_p, y1_plus_p_signed];
    for e in &all {
        let p = CompressedEdwardsY(*e).decompress().unwrap();
        assert!(p.is_small_order());
        assert_ne!(p.compress().to_bytes(), *e, "must be non-canonical");
    }
    all
}

fn torsion_encodings() -> Vec<[u8; 32]> {
    EIGHT_TORSION
        .iter()
        .map(|p| p.compress().to_bytes())
        .collect()
}

/// The secret scalar of an ed25519 seed (RFC 8032 §5.1.5).
fn secret_scalar(seed: [u8; 32]) -> Scalar {
    let h = Sha512::digest(seed);
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    Scalar::from_bytes_mod_order(a)
}

/// k = SHA-512(R || A || M) mod l, over the encodings exactly as given.
fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let h: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(msg)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&h)
}

fn nonce(label: &str) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&Sha512::digest(label.as_bytes()).into())
}

fn sig(r: [u8; 32], s: [u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&r);
    out[32..].copy_from_slice(&s);
    out
}

/// `s + l` as 32 little-endian bytes (fits: s < l < 2^253).
fn add_l(s: [u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = s[i] as u16 + L[i] as u16 + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// One edge case: a public key, a signature over the message the key implies.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    key: [u8; 32],
    sig: [u8; 64],
    msg: Vec<u8>,
    /// The ZIP-215 verdict.
    valid: bool,
}

/// Builds every case. `message(A)` gives the message signed under key `A`
/// (for transactions, the signing bytes of a transfer from `A`).
fn cases(message: &dyn Fn(&[u8; 32]) -> Vec<u8>) -> Vec<Case> {
    let mut out = Vec::new();
    let seed = [0x42u8; 32];
    let a = secret_scalar(seed);
    let big_a = EdwardsPoint::mul_base(&a).compress().to_bytes();
    assert_eq!(big_a, SecretKey::from_seed(seed).address().0);
    let small: Vec<[u8; 32]> = torsion_encodings()
        .into_iter()
        .chain(non_canonical_small_order())
        .collect();

    // An ordinary signature, as a baseline.
    {
        let m = message(&big_a);
        let r = nonce("plain");
        let rb = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let s = r + challenge(&rb, &big_a, &m) * a;
        out.push(Case {
            name: "ordinary".into(),
            key: big_a,
            sig: sig(rb, s.to_bytes()),
            msg: m,
            valid: true,
        });
    }

    // Small-order A and small-order R with S = 0: [8]0B = [8]R + [8]kA = 0.
    // Valid under ZIP-215 for every pair, canonical or not.
    for (i, ka) in small.iter().enumerate() {
        for (j, kr) in small.iter().enumerate() {
            out.push(Case {
                name: format!("small-order A #{i}, small-order R #{j}, S = 0"),
                key: *ka,
                sig: sig(*kr, [0; 32]),
                msg: message(ka),
                valid: true,
            });
        }
    }

    // Large-order A, small-order R: s = k·a, so [8]sB = [8]kA and [8]R = 0.
    for (j, kr) in small.iter().enumerate() {
        let m = message(&big_a);
        let s = challenge(kr, &big_a, &m) * a;
        out.push(Case {
            name: format!("large-order A, small-order R #{j}"),
            key: big_a,
            sig: sig(*kr, s.to_bytes()),
            msg: m,
            valid: true,
        });
    }

    // Small-order A, large-order R: s = r; [8]kA = 0.
    for (i, ka) in small.iter().enumerate() {
        let r = nonce(&format!("small-A {i}"));
        let rb = EdwardsPoint::mul_base(&r).compress().to_bytes();
        out.push(Case {
            name: format!("small-order A #{i}, large-order R"),
            key: *ka,
            sig: sig(rb, r.to_bytes()),
            msg: message(ka),
            valid: true,
        });
    }

    // Mixed-order A = aB + T and mixed-order R = rB + T: the torsion parts
    // vanish under the cofactor. A cofactorless check rejects most of these.
    for (t, torsion) in EIGHT_TORSION.iter().enumerate().skip(1) {
        let mixed_a = (EdwardsPoint::mul_base(&a) + torsion).compress().to_bytes();
        let m = message(&mixed_a);
        let r = nonce(&format!("mixed-A {t}"));
        let rb = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let s = r + challenge(&rb, &mixed_a, &m) * a;
        out.push(Case {
            name: format!("mixed-order A (torsion #{t})"),
            key: mixed_a,
            sig: sig(rb, s.to_bytes()),
            msg: m,
            valid: true,
        });

        let m = message(&big_a);
        let r = nonce(&format!("mixed-R {t}"));
        let mixed_r = (EdwardsPoint::mul_base(&r) + torsion).compress().to_bytes();
        let s = r + challenge(&mixed_r, &big_a, &m) * a;
        out.push(Case {
            name: format!("mixed-order R (torsion #{t})"),
            key: big_a,
            sig: sig(mixed_r, s.to_bytes()),
            msg: m,
            valid: true,
        });

        // Both mixed at once.
        let m = message(&mixed_a);
        let s = r + challenge(&mixed_r, &mixed_a, &m) * a;
        out.push(Case {
            name: format!("mixed-order A and R (torsion #{t})"),
            key: mixed_a,
            sig: sig(mixed_r, s.to_bytes()),
            msg: m,
            valid: true,
        });
    }

    // Non-canonical S (S + l, same residue): rejected. ZIP-215 requires S < l.
    let base = out[0].clone();
    let mut s = [0u8; 32];
    s.copy_from_slice(&base.sig[32..]);
    let mut r = [0u8; 32];
    r.copy_from_slice(&base.sig[..32]);
    out.push(Case {
        name: "non-canonical S = S + l".into(),
        sig: sig(r, add_l(s)),
        valid: false,
        ..base.clone()
    });
    // S = 0 + l on an otherwise valid small-order case.
    out.push(Case {
        name: "small-order A and R, S = l".into(),
        key: small[1],
        sig: sig(small[2], L),
        msg: message(&small[1]),
        valid: false,
    });
    // The top bit of S set.
    let mut high = s;
    high[31] |= 0x80;
    out.push(Case {
        name: "S with the top bit set".into(),
        sig: sig(r, high),
        valid: false,
        ..base.clone()
    });

    // Non-canonical A encoding of the identity (y = 1 + p), large-order R, s = r:
    // the hash uses the bytes as given. Accepted by ZIP-215.
    {
        let ka = non_canonical_small_order()[2];
        let r = nonce("nc-A");
        let rb = EdwardsPoint::mul_base(&r).compress().to_bytes();
        out.push(Case {
            name: "non-canonical A (identity as y = 1 + p)".into(),
            key: ka,
            sig: sig(rb, r.to_bytes()),
            msg: message(&ka),
            valid: true,
        });
    }

    // A signature moved to another message or key: rejected.
    out.push(Case {
        name: "ordinary signature, other message".into(),
        msg: b"another message".to_vec(),
        valid: false,
        ..base.clone()
    });
    let mut flipped = base.sig;
    flipped[40] ^= 1;
    out.push(Case {
        name: "ordinary signature, one bit of S flipped".into(),
        sig: flipped,
        valid: false,
        ..base.clone()
    });
    // R that is not a point (y = 2 has no x).
    let mut not_point = [0u8; 32];
    not_point[0] = 2;
    assert!(CompressedEdwardsY(not_point).decompress().is_none());
    out.push(Case {
        name: "R is not a curve point".into(),
        sig: sig(not_point, s),
        valid: false,
        ..base.clone()
    });
    out
}

fn plain_message(_: &[u8; 32]) -> Vec<u8> {
    b"cairn/test/zip215".to_vec()
}

/// Some ordinary valid signatures to batch the edge case with, so the batch
/// path (not the single-item shortcut) decides.
fn ordinary_items() -> Vec<(Address, Vec<u8>, Signature)> {
    (0..5u8)
        .map(|i| {
            let k = key(0x60 + i);
            let m = format!("filler {i}").into_bytes();
            let s = k.sign(&m);
            (k.address(), m, s)
        })
        .collect()
}

// ----------------------------------------------------------- signature tests

#[test]
fn single_verification_follows_zip215() {
    for c in cases(&plain_message) {
        let got = crypto::verify(&Address(c.key), &c.msg, &Signature(c.sig)).is_ok();
        assert_eq!(got, c.valid, "{}", c.name);
    }
}

/// The cases discriminate: a cofactorless verifier (ed25519-dalek's
/// `verify`, the check its `verify_batch` can disagree with) rejects some
/// that ZIP-215 accepts. Were the rule accidentally cofactorless, the tests
/// above would fail on exactly these.
#[test]
fn cases_separate_zip215_from_cofactorless_verification() {
    let mut differ = Vec::new();
    for c in cases(&plain_message) {
        let dalek = ed25519_dalek::VerifyingKey::from_bytes(&c.key)
            .and_then(|k| k.verify_strict(&c.msg, &ed25519_dalek::Signature::from_bytes(&c.sig)))
            .is_ok();
        if dalek != c.valid {
            differ.push(c.name);
        }
    }
    assert!(
        differ.iter().any(|n| n.starts_with("mixed-order A")),
        "{differ:?}"
    );
    assert!(differ.iter().any(|n| n.starts_with("small-order A")));
    assert!(differ.iter().any(|n| n.starts_with("non-canonical A")));
}

#[test]
fn batch_agrees_with_single_on_every_case() {
    let fill = ordinary_items();
    for c in cases(&plain_message) {
        let mut b = BatchVerifier::with_capacity(fill.len() + 1);
        for (a, m, s) in &fill[..2] {
            b.push(*a, m, *s);
        }
        b.push(Address(c.key), &c.msg, Signature(c.sig));
        for (a, m, s) in &fill[2..] {
            b.push(*a, m, *s);
        }
        match b.verify() {
            Ok(()) => assert!(c.valid, "batch accepted {}", c.name),
            Err(VerifyError::BadSignatures { positions }) => {
                assert!(!c.valid, "batch rejected {}", c.name);
                assert_eq!(positions, vec![2], "{}", c.name);
            }
            Err(e) => panic!("{}: {e}", c.name),
        }
    }
}

#[test]
fn one_batch_of_every_case_names_exactly_the_invalid_ones() {
    let all = cases(&plain_message);
    let mut b = BatchVerifier::with_capacity(all.len());
    for c in &all {
        b.push(Address(c.key), &c.msg, Signature(c.sig));
    }
    let want: Vec<usize> = (0..all.len()).filter(|i| !all[*i].valid).collect();
    assert!(!want.is_empty());
    assert_eq!(
        b.verify().unwrap_err(),
        VerifyError::BadSignatures { positions: want }
    );
    // And the valid ones alone pass as one batch.
    let mut b = BatchVerifier::with_capacity(all.len());
    for c in all.iter().filter(|c| c.valid) {
        b.push(Address(c.key), &c.msg, Signature(c.sig));
    }
    b.verify().unwrap();
}

/// The same edge cases as transactions: `SignedTransaction::verify` (single)
/// and `verify_all` (batched across cores) must agree.
#[test]
fn transaction_verification_single_and_batched_agree() {
    let to = bob().address();
    let tx_for = |a: &[u8; 32]| Transaction {
        chain_id: chain(),
        from: Address(*a),
        to,
        amount: Amount(5),
        nonce: 0,
        memo: Vec::new(),
    };
    let all = cases(&|a| tx_for(a).signing_bytes());
    let txs: Vec<SignedTransaction> = all
        .iter()
        .filter(|c| !c.name.contains("other message"))
        .map(|c| SignedTransaction::new(tx_for(&c.key), Signature(c.sig)))
        .collect();
    let kept: Vec<&Case> = all
        .iter()
        .filter(|c| !c.name.contains("other message"))
        .collect();
    for (t, c) in txs.iter().zip(&kept) {
        assert!(Address(c.key).is_valid_public_key(), "{}", c.name);
        assert_eq!(t.verify().is_ok(), c.valid, "{}", c.name);
    }
    let want: Vec<usize> = (0..kept.len()).filter(|i| !kept[*i].valid).collect();
    assert_eq!(verify_all(&txs), want);
    // Spread over more than one 256-transaction chunk, with a bad one in each.
    let mut many: Vec<SignedTransaction> = Vec::new();
    for i in 0..600u64 {
        many.push(
            Transaction {
                nonce: i,
                ..tx_for(&alice().address().0)
            }
            .sign(&alice()),
        );
    }
    many[3] = txs[want[0]].clone();
    many[300] = txs[want[1]].clone();
    many[599] = txs[0].clone(); // a valid edge case
    assert_eq!(verify_all(&many), vec![3, 300]);
}

#[test]
fn small_order_keys_are_valid_public_keys_but_not_points_are_not() {
    for e in torsion_encodings()
        .into_iter()
        .chain(non_canonical_small_order())
    {
        assert!(Address(e).is_valid_public_key());
    }
    let mut y2 = [0u8; 32];
    y2[0] = 2;
    assert!(!Address(y2).is_valid_public_key());
}

// --------------------------------------------------------- certificate tests

/// Powers 5, 3, 1, 1: total 10, quorum 7.
fn unequal() -> cairn_ledger::Committee {
    let c = committee(&[5, 3, 1, 1], Hash::digest(b"genesis"));
    assert_eq!(c.validators.total_power(), 10);
    assert_eq!(c.validators.quorum_power(), 7);
    c
}

fn block_hash() -> Hash {
    Hash::digest(b"block")
}

#[test]
fn qc_with_exact_quorum_verifies() {
    let c = unequal();
    qc(&c, block_hash(), 1, 1, &[0, 2, 3]).verify(&c).unwrap(); // 5+1+1 = 7
    qc(&c, block_hash(), 1, 1, &[0, 1]).verify(&c).unwrap(); // 8
    qc(&c, block_hash(), 1, 1, &[0, 1, 2, 3])
        .verify(&c)
        .unwrap();
}

#[test]
fn qc_one_short_of_quorum_fails() {
    let c = unequal();
    for signers in [&[0u16, 2][..], &[0, 3], &[1, 2, 3], &[0]] {
        let have = signers
            .iter()
            .map(|i| c.validators.get(*i).unwrap().power)
            .sum();
        assert_eq!(
            qc(&c, block_hash(), 1, 1, signers).verify(&c).unwrap_err(),
            VerifyError::NoQuorum { have, need: 7 },
            "{signers:?}"
        );
    }
}

#[test]
fn qc_duplicate_signer_is_not_counted_twice() {
    let c = unequal();
    // Validator 0 twice would be 10 >= 7 if counted twice.
    let mut q = qc(&c, block_hash(), 1, 1, &[0]);
    q.signatures.push(q.signatures[0]);
    assert_eq!(
        q.verify(&c).unwrap_err(),
        VerifyError::DuplicateSigner { index: 0 }
    );
    // Out of order is rejected the same way.
    let q = qc(&c, block_hash(), 1, 1, &[1, 0]);
    assert_eq!(
        q.verify(&c).unwrap_err(),
        VerifyError::DuplicateSigner { index: 0 }
    );
}

#[test]
fn qc_unknown_signer_fails() {
    let c = unequal();
    let mut q = qc(&c, block_hash(), 1, 1, &[0, 1]);
    q.signatures.push((4, q.signatures[0].1));
    assert_eq!(
        q.verify(&c).unwrap_err(),
        VerifyError::UnknownSigner { index: 4, count: 4 }
    );
}

#[test]
fn qc_with_a_bad_signature_names_the_signer() {
    let c = unequal();
    let mut q = qc(&c, block_hash(), 1, 1, &[0, 1, 2]);
    // Validator 2's slot carries validator 3's signature of the same vote.
    let msg = vote_signing_bytes(&c.chain_id, &block_hash(), Height(1), Round(1));
    q.signatures[2].1 = validator_key(3).sign(&msg);
    assert_eq!(
        q.verify(&c).unwrap_err(),
        VerifyError::BadSignature {
            signer: validator_key(2).address()
        }
    );
    // A QC for another height (same signatures) fails.
    let mut q = qc(&c, block_hash(), 1, 1, &[0, 1]);
    q.height = Height(2);
    assert!(matches!(
        q.verify(&c).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
}

#[test]
fn qc_for_another_chain_fails() {
    let c = unequal();
    let mut other = c.clone();
    other.chain_id = ChainId::new("cairn-other").unwrap();
    let q = qc(&other, block_hash(), 1, 1, &[0, 1]);
    q.verify(&other).unwrap();
    assert_eq!(
        q.verify(&c).unwrap_err(),
        VerifyError::BadSignature {
            signer: validator_key(0).address()
        }
    );
}

#[test]
fn genesis_qc_rule() {
    let c = unequal();
    QuorumCertificate::genesis(c.genesis_hash)
        .verify(&c)
        .unwrap();
    let bad = VerifyError::BadGenesisCertificate {
        expected: c.genesis_hash,
    };
    // Round 0 for another block.
    assert_eq!(
        QuorumCertificate::genesis(block_hash())
            .verify(&c)
            .unwrap_err(),
        bad
    );
    // Round 0 with signatures, even a quorum of valid ones.
    let signed = qc(&c, c.genesis_hash, 0, 0, &[0, 1]);
    assert_eq!(signed.verify(&c).unwrap_err(), bad);
    // Round 0 at a height other than 0.
    let mut q = QuorumCertificate::genesis(c.genesis_hash);
    q.height = Height(1);
    assert_eq!(q.verify(&c).unwrap_err(), bad);
    // A round above 0 cannot certify height 0, even with a quorum.
    let q = qc(&c, c.genesis_hash, 0, 1, &[0, 1]);
    assert!(matches!(
        q.verify(&c).unwrap_err(),
        VerifyError::Malformed(_)
    ));
}

#[test]
fn tc_quorum_rules() {
    let c = unequal();
    let t = tc(&c, 5, &[(0, 3), (2, 4), (3, 0)]);
    t.verify(&c).unwrap();
    assert_eq!(t.max_high_qc_round(), Round(4));
    assert_eq!(
        tc(&c, 5, &[(0, 3), (2, 4)]).verify(&c).unwrap_err(),
        VerifyError::NoQuorum { have: 6, need: 7 }
    );
    assert_eq!(
        tc(&c, 5, &[(1, 3), (2, 4), (3, 4)]).verify(&c).unwrap_err(),
        VerifyError::NoQuorum { have: 5, need: 7 }
    );
}

#[test]
fn tc_duplicate_and_unknown_signers_fail() {
    let c = unequal();
    let mut t = tc(&c, 5, &[(0, 3)]);
    t.signatures.push(t.signatures[0]);
    assert_eq!(
        t.verify(&c).unwrap_err(),
        VerifyError::DuplicateSigner { index: 0 }
    );
    let mut t = tc(&c, 5, &[(0, 3), (1, 3)]);
    t.signatures.push((7, Round(3), t.signatures[0].2));
    assert_eq!(
        t.verify(&c).unwrap_err(),
        VerifyError::UnknownSigner { index: 7, count: 4 }
    );
}

#[test]
fn tc_bad_signature_or_misreported_high_qc_fails() {
    let c = unequal();
    // Validator 1 signed high_qc_round 3, but the TC claims 4.
    let mut t = tc(&c, 5, &[(0, 3), (1, 3)]);
    t.signatures[1].1 = Round(4);
    t.high_qc = tc_high_qc(&c, 4);
    assert_eq!(
        t.verify(&c).unwrap_err(),
        VerifyError::BadSignature {
            signer: validator_key(1).address()
        }
    );
    // A signature by the wrong validator.
    let mut t = tc(&c, 5, &[(0, 3), (1, 3)]);
    t.signatures[0].2 =
        validator_key(1).sign(&timeout_signing_bytes(&c.chain_id, Round(5), Round(3)));
    assert_eq!(
        t.verify(&c).unwrap_err(),
        VerifyError::BadSignature {
            signer: validator_key(0).address()
        }
    );
}

/// A TC proves its highest high-QC round with the QC itself: an entry
/// claiming a round that no carried QC backs (one Byzantine aggregator's
/// inflated entry) is refused, as is a carried QC that does not verify.
#[test]
fn tc_must_carry_a_valid_qc_for_its_highest_round() {
    let c = unequal();
    // Honest: max 4, carries a QC of round 4; all reports 0: the genesis QC.
    tc(&c, 5, &[(0, 3), (1, 4)]).verify(&c).unwrap();
    tc(&c, 5, &[(0, 0), (1, 0)]).verify(&c).unwrap();
    // The signers' max is 4, but the QC carried is of a lower round; or the
    // QC is higher than any round signed.
    for carried in [3, 2, 0] {
        let t = tc_with(&c, 5, &[(0, 3), (1, 4)], tc_high_qc(&c, carried));
        assert!(
            matches!(t.verify(&c).unwrap_err(), VerifyError::Malformed(m) if m.contains("high QC")),
            "carried round {carried}"
        );
    }
    let t = tc_with(&c, 5, &[(0, 3), (1, 3)], tc_high_qc(&c, 4));
    assert!(matches!(
        t.verify(&c).unwrap_err(),
        VerifyError::Malformed(_)
    ));
    // The right round but a forged QC: a signature of the QC fails.
    let mut forged = tc_high_qc(&c, 4);
    forged.signatures[0].1 = forged.signatures[1].1;
    let t = tc_with(&c, 5, &[(0, 3), (1, 4)], forged);
    assert!(matches!(
        t.verify(&c).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
    // A QC without a quorum behind it.
    let mut thin = tc_high_qc(&c, 4);
    thin.signatures.truncate(1);
    let t = tc_with(&c, 5, &[(0, 3), (1, 4)], thin);
    assert!(matches!(
        t.verify(&c).unwrap_err(),
        VerifyError::NoQuorum { .. }
    ));
}

#[test]
fn tc_for_another_chain_round_zero_or_future_high_qc_fails() {
    let c = unequal();
    let mut other = c.clone();
    other.chain_id = ChainId::new("cairn-other").unwrap();
    let t = tc(&other, 5, &[(0, 3), (1, 3)]);
    t.verify(&other).unwrap();
    assert!(matches!(
        t.verify(&c).unwrap_err(),
        VerifyError::BadSignature { .. }
    ));
    assert!(matches!(
        tc(&c, 0, &[(0, 0), (1, 0)]).verify(&c).unwrap_err(),
        VerifyError::Malformed(_)
    ));
    assert!(matches!(
        tc(&c, 5, &[(0, 3), (1, 5)]).verify(&c).unwrap_err(),
        VerifyError::Malformed(_)
    ));
}

#[test]
fn votes_and_timeouts_verify_against_their_signer() {
    let c = unequal();
    let v = Vote::sign(
        &c.chain_id,
        block_hash(),
        Height(1),
        Round(1),
        1,
        &validator_key(1),
    );
    v.verify(&c).unwrap();
    let forged = Vote {
        signer: 0,
        ..v.clone()
    };
    assert_eq!(
        forged.verify(&c).unwrap_err(),
        VerifyError::BadSignature {
            signer: validator_key(0).address()
        }
    );
    let unknown = Vote { signer: 9, ..v };
    assert_eq!(
        unknown.verify(&c).unwrap_err(),
        VerifyError::UnknownSigner { index: 9, count: 4 }
    );
    let high = qc(&c, block_hash(), 1, 1, &[0, 1]);
    let t = Timeout::sign(&c.chain_id, Round(3), high.clone(), 2, &validator_key(2));
    t.verify(&c).unwrap();
    // The carried QC is checked too.
    let weak = qc(&c, block_hash(), 1, 1, &[2, 3]);
    let t = Timeout::sign(&c.chain_id, Round(3), weak, 2, &validator_key(2));
    assert!(matches!(
        t.verify(&c).unwrap_err(),
        VerifyError::NoQuorum { .. }
    ));
    let t = Timeout::sign(&c.chain_id, Round(1), high, 2, &validator_key(2));
    assert!(matches!(
        t.verify(&c).unwrap_err(),
        VerifyError::Malformed(_)
    ));
}

#[test]
fn certificates_verify_with_one_validator_too() {
    let c = committee(&[1], Hash::digest(b"g"));
    assert_eq!(c.validators.quorum_power(), 1);
    qc(&c, block_hash(), 1, 1, &[0]).verify(&c).unwrap();
    assert_eq!(
        qc(&c, block_hash(), 1, 1, &[]).verify(&c).unwrap_err(),
        VerifyError::NoQuorum { have: 0, need: 1 }
    );
}
