//! Malformed input: every way untrusted bytes can be wrong gets its own
//! `DecodeError`, and no input at all can make a decoder panic.
//!
//! Each case builds the bytes by hand from a valid encoding, so the test says
//! exactly which byte is wrong and what the decoder must answer.
#![allow(clippy::unwrap_used)]

mod fixtures;

use cairn_ledger::state::AccountProof;
use cairn_ledger::types::block::MAX_BLOCK_TXS;
use cairn_ledger::types::tx::MAX_MEMO_LEN;
use cairn_ledger::{
    Account, Address, Block, BlockHeader, ChainId, Decode, DecodeError, Encode, Hash, Height,
    Proposal, QuorumCertificate, Receipt, Round, SignedTransaction, Timeout, TimeoutCertificate,
    Transaction, ValidatorSet, Vote,
};
use fixtures::*;
use proptest::prelude::*;

/// Offsets in the spec transaction (chain id "cairn-spec", 10 bytes; memo "hello").
const FROM: usize = 1 + 10;
const TO: usize = FROM + 32;
const AMOUNT: usize = TO + 32;
const NONCE: usize = AMOUNT + 8;
const MEMO_LEN: usize = NONCE + 8;
const MEMO: usize = MEMO_LEN + 2;
const SIG: usize = MEMO + 5;

fn tx_bytes() -> Vec<u8> {
    spec_txs()[0].to_bytes()
}

fn truncated(field: &'static str, needed: usize, remaining: usize) -> DecodeError {
    DecodeError::Truncated {
        field,
        needed,
        remaining,
    }
}

/// A 32-byte string that is not the encoding of any curve point: y = 2 has
/// no x with -x^2 + y^2 = 1 + d x^2 y^2 (the right-hand side over the
/// left is not a square mod p).
fn not_a_point() -> Address {
    let mut b = [0u8; 32];
    b[0] = 2;
    let a = Address(b);
    assert!(!a.is_valid_public_key(), "y = 2 must not be a point");
    a
}

/// Every strict prefix of a valid encoding is `Truncated`, never another error or a panic.
fn assert_every_prefix_truncated<T: Decode + std::fmt::Debug>(bytes: &[u8]) {
    for cut in 0..bytes.len() {
        match T::from_bytes(&bytes[..cut]) {
            Err(DecodeError::Truncated { .. }) => {}
            other => panic!("prefix of {cut} bytes gave {other:?}"),
        }
    }
    T::from_bytes(bytes).unwrap();
}

fn assert_trailing_rejected<T: Decode + std::fmt::Debug>(bytes: &[u8]) {
    for extra in [1usize, 7] {
        let mut b = bytes.to_vec();
        b.extend(std::iter::repeat_n(0u8, extra));
        assert_eq!(
            T::from_bytes(&b).unwrap_err(),
            DecodeError::TrailingBytes { count: extra }
        );
    }
}

fn vote_bytes() -> Vec<u8> {
    let c = committee(&[1, 1, 1, 1], Hash::ZERO);
    Vote::sign(
        &c.chain_id,
        Hash::digest(b"b"),
        Height(1),
        Round(1),
        2,
        &validator_key(2),
    )
    .to_bytes()
}

fn timeout_bytes() -> Vec<u8> {
    let b = full_block();
    let c = committee(&[1, 1, 1, 1], Hash::ZERO);
    Timeout::sign(
        &c.chain_id,
        Round(2),
        b.header.justify.clone(),
        1,
        &validator_key(1),
    )
    .to_bytes()
}

// ---------------------------------------------------------------- truncation

#[test]
fn transaction_truncated_at_each_field() {
    let b = tx_bytes();
    let cases = [
        (0, truncated("chain_id length", 1, 0)),
        (1, truncated("chain_id", 10, 0)),
        (6, truncated("chain_id", 10, 5)),
        (FROM, truncated("from", 32, 0)),
        (FROM + 31, truncated("from", 32, 31)),
        (TO + 1, truncated("to", 32, 1)),
        (AMOUNT + 7, truncated("amount", 8, 7)),
        (NONCE, truncated("nonce", 8, 0)),
        (MEMO_LEN + 1, truncated("memo length", 2, 1)),
        (MEMO + 4, truncated("memo", 5, 4)),
        (SIG, truncated("signature", 64, 0)),
        (b.len() - 1, truncated("signature", 64, 63)),
    ];
    for (cut, want) in cases {
        assert_eq!(
            SignedTransaction::from_bytes(&b[..cut]).unwrap_err(),
            want,
            "cut at {cut}"
        );
    }
    assert_every_prefix_truncated::<SignedTransaction>(&b);
    // The unsigned body alone is a complete Transaction.
    assert_every_prefix_truncated::<Transaction>(&b[..SIG]);
}

#[test]
fn block_truncated_anywhere() {
    let b = full_block().to_bytes();
    // Inside the header's fixed fields, in the QC, in the TC, in a transaction.
    let header_len = full_block().header.to_bytes().len();
    assert_eq!(
        Block::from_bytes(&b[..11 + 3]).unwrap_err(),
        truncated("height", 8, 3)
    );
    assert_eq!(
        Block::from_bytes(&b[..header_len]).unwrap_err(),
        truncated("chain_id length", 1, 0)
    );
    assert_every_prefix_truncated::<Block>(&b);
    assert_every_prefix_truncated::<BlockHeader>(&full_block().header.to_bytes());
    let proposal = Proposal::sign(full_block(), &validator_key(3)).to_bytes();
    assert_every_prefix_truncated::<Proposal>(&proposal);
}

#[test]
fn certificates_and_votes_truncated_anywhere() {
    let block = full_block();
    let qc = block.header.justify.to_bytes();
    assert_eq!(
        QuorumCertificate::from_bytes(&qc[..32 + 8 + 8 + 1]).unwrap_err(),
        truncated("qc.signatures count", 2, 1)
    );
    assert_eq!(
        QuorumCertificate::from_bytes(&qc[..32 + 8 + 8 + 2 + 2 + 10]).unwrap_err(),
        truncated("signature", 64, 10)
    );
    assert_every_prefix_truncated::<QuorumCertificate>(&qc);
    let cert = block.header.timeout_cert.as_ref().unwrap();
    let tc = cert.to_bytes();
    let q = cert.high_qc.to_bytes().len(); // the carried high QC follows the round
    assert_eq!(
        TimeoutCertificate::from_bytes(&tc[..8 + 32 + 8 + 1]).unwrap_err(),
        truncated("qc.round", 8, 1)
    );
    assert_eq!(
        TimeoutCertificate::from_bytes(&tc[..8 + q + 2 + 2 + 3]).unwrap_err(),
        truncated("tc.high_qc_round", 8, 3)
    );
    assert_every_prefix_truncated::<TimeoutCertificate>(&tc);
    let vote = vote_bytes();
    assert_eq!(
        Vote::from_bytes(&vote[..32 + 8 + 8 + 1]).unwrap_err(),
        truncated("signer", 2, 1)
    );
    assert_every_prefix_truncated::<Vote>(&vote);
    assert_every_prefix_truncated::<Timeout>(&timeout_bytes());
    assert_every_prefix_truncated::<Account>(&Account::default().to_bytes());
    assert_eq!(
        Receipt::from_bytes(&[]).unwrap_err(),
        truncated("receipt status", 1, 0)
    );
}

// ------------------------------------------------------------- trailing bytes

#[test]
fn trailing_bytes_are_rejected_everywhere() {
    let block = full_block();
    assert_trailing_rejected::<SignedTransaction>(&tx_bytes());
    assert_trailing_rejected::<Block>(&block.to_bytes());
    assert_trailing_rejected::<BlockHeader>(&block.header.to_bytes());
    assert_trailing_rejected::<QuorumCertificate>(&block.header.justify.to_bytes());
    assert_trailing_rejected::<TimeoutCertificate>(
        &block.header.timeout_cert.as_ref().unwrap().to_bytes(),
    );
    assert_trailing_rejected::<Vote>(&vote_bytes());
    assert_trailing_rejected::<Timeout>(&timeout_bytes());
    assert_trailing_rejected::<Account>(&Account::default().to_bytes());
    assert_trailing_rejected::<Receipt>(&[0]);
    assert_trailing_rejected::<Proposal>(&Proposal::sign(block, &validator_key(3)).to_bytes());
}

// ----------------------------------------------------------- oversized fields

#[test]
fn oversized_memo_is_rejected() {
    let mut b = tx_bytes();
    b[MEMO_LEN..MEMO].copy_from_slice(&((MAX_MEMO_LEN + 1) as u16).to_le_bytes());
    assert_eq!(
        SignedTransaction::from_bytes(&b).unwrap_err(),
        DecodeError::TooLong {
            field: "memo",
            len: 1025,
            max: 1024
        }
    );
    b[MEMO_LEN..MEMO].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(matches!(
        SignedTransaction::from_bytes(&b).unwrap_err(),
        DecodeError::TooLong { field: "memo", .. }
    ));
    // Exactly the limit is fine.
    let max = transfer(&alice(), bob().address(), 1, 0, &[7; MAX_MEMO_LEN]);
    assert_eq!(SignedTransaction::from_bytes(&max.to_bytes()).unwrap(), max);
}

#[test]
fn oversized_chain_id_is_rejected() {
    let mut b = vec![65u8];
    b.extend([b'x'; 65]);
    b.extend(&tx_bytes()[FROM..]);
    assert_eq!(
        SignedTransaction::from_bytes(&b).unwrap_err(),
        DecodeError::TooLong {
            field: "chain_id",
            len: 65,
            max: 64
        }
    );
    let mut b = vec![255u8];
    b.extend([b'x'; 255]);
    assert!(matches!(
        ChainId::from_bytes(&b).unwrap_err(),
        DecodeError::TooLong { len: 255, .. }
    ));
}

#[test]
fn oversized_tx_count_is_rejected() {
    let header = full_block().header;
    let at = 1 + 10 + 8 + 8 + 32 + 32 + 8 + 32;
    let mut b = header.to_bytes();
    assert_eq!(&b[at..at + 4], &3u32.to_le_bytes());
    b[at..at + 4].copy_from_slice(&((MAX_BLOCK_TXS + 1) as u32).to_le_bytes());
    assert_eq!(
        Block::from_bytes(&b).unwrap_err(),
        DecodeError::TooLong {
            field: "tx_count",
            len: MAX_BLOCK_TXS + 1,
            max: MAX_BLOCK_TXS
        }
    );
    // A plausible count with no transactions behind it is truncation, not an allocation.
    b[at..at + 4].copy_from_slice(&(MAX_BLOCK_TXS as u32).to_le_bytes());
    assert_eq!(
        Block::from_bytes(&b).unwrap_err(),
        truncated("chain_id length", 1, 0)
    );
}

#[test]
fn oversized_signer_count_is_rejected() {
    let over = (ValidatorSet::MAX_VALIDATORS + 1) as u16;
    let mut qc = full_block().header.justify.to_bytes();
    qc[48..50].copy_from_slice(&over.to_le_bytes());
    assert_eq!(
        QuorumCertificate::from_bytes(&qc).unwrap_err(),
        DecodeError::TooLong {
            field: "qc.signatures",
            len: 1025,
            max: 1024
        }
    );
    let cert = full_block().header.timeout_cert.unwrap();
    let q = cert.high_qc.to_bytes().len();
    let mut tc = cert.to_bytes();
    tc[8 + q..8 + q + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    assert_eq!(
        TimeoutCertificate::from_bytes(&tc).unwrap_err(),
        DecodeError::TooLong {
            field: "tc.signatures",
            len: 65535,
            max: 1024
        }
    );
}

// ------------------------------------------------------------------ chain id

#[test]
fn empty_chain_id_is_rejected() {
    let mut b = vec![0u8];
    b.extend(&tx_bytes()[FROM..]);
    assert_eq!(
        SignedTransaction::from_bytes(&b).unwrap_err(),
        DecodeError::Empty { field: "chain_id" }
    );
    let mut h = vec![0u8];
    h.extend(&full_block().header.to_bytes()[FROM..]);
    assert_eq!(
        Block::from_bytes(&h).unwrap_err(),
        DecodeError::Empty { field: "chain_id" }
    );
}

#[test]
fn bad_utf8_and_control_characters_in_chain_id_are_rejected() {
    let mut b = tx_bytes();
    b[1] = 0xff; // not valid UTF-8 anywhere
    assert_eq!(
        SignedTransaction::from_bytes(&b).unwrap_err(),
        DecodeError::InvalidUtf8 { field: "chain_id" }
    );
    let mut b = tx_bytes();
    b[1] = 0xc3; // a lone lead byte of a two-byte sequence followed by ASCII
    assert_eq!(
        SignedTransaction::from_bytes(&b).unwrap_err(),
        DecodeError::InvalidUtf8 { field: "chain_id" }
    );
    let mut b = tx_bytes();
    b[1] = b'\n';
    assert!(matches!(
        SignedTransaction::from_bytes(&b).unwrap_err(),
        DecodeError::NotCanonical {
            field: "chain_id",
            ..
        }
    ));
}

#[test]
fn wrong_chain_id_is_rejected() {
    let other = ChainId::new("cairn-other").unwrap();
    let want = DecodeError::WrongChainId {
        expected: "cairn-other".into(),
        found: CHAIN.into(),
    };
    assert_eq!(
        SignedTransaction::decode_for_chain(&tx_bytes(), &other).unwrap_err(),
        want
    );
    SignedTransaction::decode_for_chain(&tx_bytes(), &chain()).unwrap();
    let block = full_block().to_bytes();
    assert_eq!(Block::decode_for_chain(&block, &other).unwrap_err(), want);
    Block::decode_for_chain(&block, &chain()).unwrap();
}

#[test]
fn transaction_for_another_chain_inside_a_block_is_rejected() {
    let mut block = full_block();
    let foreign = Transaction {
        chain_id: ChainId::new("cairn-other").unwrap(),
        ..spec_txs()[1].tx().clone()
    }
    .sign(&alice());
    block.txs[1] = foreign;
    assert_eq!(
        Block::from_bytes(&block.to_bytes()).unwrap_err(),
        DecodeError::WrongChainId {
            expected: CHAIN.into(),
            found: "cairn-other".into()
        }
    );
}

// --------------------------------------------------------------- public keys

#[test]
fn invalid_public_key_in_from_or_to_is_rejected() {
    let bad = not_a_point();
    for (at, field) in [(FROM, "from"), (TO, "to")] {
        let mut b = tx_bytes();
        b[at..at + 32].copy_from_slice(&bad.0);
        assert_eq!(
            SignedTransaction::from_bytes(&b).unwrap_err(),
            DecodeError::InvalidPublicKey {
                field,
                address: bad
            }
        );
    }
}

// -------------------------------------------------------------- enum values

#[test]
fn unknown_receipt_status_is_rejected() {
    for s in 0..=3u8 {
        assert_eq!(Receipt::from_bytes(&[s]).unwrap().to_bytes(), vec![s]);
    }
    for s in [4u8, 0x80, 0xff] {
        assert_eq!(
            Receipt::from_bytes(&[s]).unwrap_err(),
            DecodeError::UnknownTag {
                field: "receipt status",
                value: s.into()
            }
        );
    }
}

#[test]
fn unknown_timeout_certificate_flag_is_rejected() {
    let mut header = full_block().header;
    header.timeout_cert = None;
    let mut b = header.to_bytes();
    assert_eq!(*b.last().unwrap(), 0);
    *b.last_mut().unwrap() = 2;
    assert_eq!(
        BlockHeader::from_bytes(&b).unwrap_err(),
        DecodeError::UnknownTag {
            field: "timeout_cert flag",
            value: 2
        }
    );
}

// ------------------------------------------------------------ signer order

#[test]
fn non_ascending_or_duplicate_signers_are_rejected() {
    let c = committee(&[1, 1, 1, 1], Hash::ZERO);
    let h = Hash::digest(b"b");
    for order in [&[1u16, 0, 2][..], &[0, 2, 2], &[3, 3]] {
        let bytes = qc(&c, h, 1, 1, order).to_bytes();
        assert!(
            matches!(
                QuorumCertificate::from_bytes(&bytes).unwrap_err(),
                DecodeError::NotCanonical {
                    field: "qc.signatures",
                    ..
                }
            ),
            "{order:?}"
        );
        let pairs: Vec<(u16, u64)> = order.iter().map(|i| (*i, 0)).collect();
        let bytes = tc(&c, 2, &pairs).to_bytes();
        assert!(
            matches!(
                TimeoutCertificate::from_bytes(&bytes).unwrap_err(),
                DecodeError::NotCanonical {
                    field: "tc.signatures",
                    ..
                }
            ),
            "{order:?}"
        );
    }
}

#[test]
fn oversized_proof_is_rejected_before_parsing() {
    let e = AccountProof::from_bytes(&vec![0u8; 20_000]).unwrap_err();
    assert!(e.to_string().contains("above the"), "{e}");
    assert!(AccountProof::from_bytes(&[1, 2, 3]).is_err());
}

// ------------------------------------------------------------ property tests

/// Runs every decoder on `bytes`; each must return, and anything that
/// decodes must re-encode to exactly `bytes` (one canonical encoding).
fn decode_everything(bytes: &[u8]) {
    fn canonical<T: Decode + Encode>(bytes: &[u8]) {
        if let Ok(v) = T::from_bytes(bytes) {
            assert_eq!(
                v.to_bytes(),
                bytes,
                "{} is not canonical",
                std::any::type_name::<T>()
            );
        }
    }
    canonical::<Transaction>(bytes);
    canonical::<SignedTransaction>(bytes);
    canonical::<BlockHeader>(bytes);
    canonical::<Block>(bytes);
    canonical::<Proposal>(bytes);
    canonical::<QuorumCertificate>(bytes);
    canonical::<TimeoutCertificate>(bytes);
    canonical::<Vote>(bytes);
    canonical::<Timeout>(bytes);
    canonical::<Account>(bytes);
    canonical::<Receipt>(bytes);
    canonical::<ChainId>(bytes);
    let _ = SignedTransaction::decode_for_chain(bytes, &chain());
    let _ = Block::decode_for_chain(bytes, &chain());
    if let Ok(p) = AccountProof::from_bytes(bytes) {
        let _ = p.verify(&Hash::ZERO, &alice().address(), None);
    }
}

fn sig_strategy() -> impl Strategy<Value = cairn_ledger::Signature> {
    prop::collection::vec(any::<u8>(), 64)
        .prop_map(|v| cairn_ledger::Signature(v.try_into().unwrap()))
}

fn chain_strategy() -> impl Strategy<Value = ChainId> {
    "[a-zA-Z0-9._/-]{1,64}".prop_map(|s| ChainId::new(s).unwrap())
}

fn tx_strategy() -> impl Strategy<Value = SignedTransaction> {
    (
        chain_strategy(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..=MAX_MEMO_LEN),
    )
        .prop_map(|(chain_id, from, to, amount, nonce, memo)| {
            let key = cairn_ledger::SecretKey::from_seed(from);
            Transaction {
                chain_id,
                from: key.address(),
                to: cairn_ledger::SecretKey::from_seed(to).address(),
                amount: cairn_ledger::Amount(amount),
                nonce,
                memo,
            }
            .sign(&key)
        })
}

fn signers_strategy() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::btree_set(0u16..ValidatorSet::MAX_VALIDATORS as u16, 0..12)
        .prop_map(|s| s.into_iter().collect())
}

fn qc_strategy() -> impl Strategy<Value = QuorumCertificate> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        signers_strategy(),
        prop::collection::vec(sig_strategy(), 12),
    )
        .prop_map(|(h, height, round, signers, sigs)| QuorumCertificate {
            block_hash: Hash(h),
            height: Height(height),
            round: Round(round),
            signatures: signers.into_iter().zip(sigs).collect(),
        })
}

fn tc_strategy() -> impl Strategy<Value = TimeoutCertificate> {
    (
        any::<u64>(),
        signers_strategy(),
        prop::collection::vec((any::<u64>(), sig_strategy()), 12),
        qc_strategy(),
    )
        .prop_map(|(round, signers, rest, high_qc)| TimeoutCertificate {
            round: Round(round),
            high_qc,
            signatures: signers
                .into_iter()
                .zip(rest)
                .map(|(i, (hq, s))| (i, Round(hq), s))
                .collect(),
        })
}

fn block_strategy() -> impl Strategy<Value = Block> {
    (
        (
            any::<u64>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<u64>(),
        ),
        qc_strategy(),
        prop::option::of(tc_strategy()),
        prop::collection::vec(tx_strategy(), 0..4),
    )
        .prop_map(
            |((height, round, parent, proposer, ts, state, sh), justify, timeout_cert, txs)| {
                // Every transaction in a block carries the block's chain id.
                let chain_id = txs
                    .first()
                    .map(|t| t.tx().chain_id.clone())
                    .unwrap_or_else(chain);
                let txs: Vec<SignedTransaction> = txs
                    .into_iter()
                    .map(|t| {
                        SignedTransaction::new(
                            Transaction {
                                chain_id: chain_id.clone(),
                                ..t.tx().clone()
                            },
                            *t.signature(),
                        )
                    })
                    .collect();
                Block {
                    header: BlockHeader {
                        chain_id,
                        height: Height(height),
                        round: Round(round),
                        parent_hash: Hash(parent),
                        proposer: Address(proposer),
                        timestamp_ms: ts,
                        tx_root: Block::compute_tx_root(&txs),
                        tx_count: txs.len() as u32,
                        state_root: Hash(state),
                        state_height: Height(sh),
                        justify,
                        timeout_cert,
                    },
                    txs,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        decode_everything(&bytes);
    }

    #[test]
    fn mutated_valid_encodings_never_panic(
        which in 0usize..5,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = match which {
            0 => tx_bytes(),
            1 => full_block().to_bytes(),
            2 => full_block().header.justify.to_bytes(),
            3 => timeout_bytes(),
            _ => Proposal::sign(full_block(), &validator_key(3)).to_bytes(),
        };
        for (i, v) in edits {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        decode_everything(&bytes);
    }

    #[test]
    fn transactions_round_trip(tx in tx_strategy()) {
        let bytes = tx.to_bytes();
        prop_assert_eq!(bytes.len(), tx.encoded_len());
        let back = SignedTransaction::decode_for_chain(&bytes, &tx.tx().chain_id).unwrap();
        prop_assert_eq!(back.hash(), Hash::digest(&bytes));
        prop_assert_eq!(&back, &tx);
        prop_assert!(back.verify().is_ok());
        prop_assert_eq!(Transaction::from_bytes(&bytes[..bytes.len() - 64]).unwrap(), tx.tx().clone());
    }

    #[test]
    fn blocks_round_trip(block in block_strategy()) {
        let bytes = block.to_bytes();
        let back = Block::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back.hash(), block.hash());
        prop_assert_eq!(&back, &block);
        let header = BlockHeader::from_bytes(&block.header.to_bytes()).unwrap();
        prop_assert_eq!(header, block.header);
    }

    #[test]
    fn certificates_votes_and_accounts_round_trip(
        qc in qc_strategy(),
        tc in tc_strategy(),
        signer in any::<u16>(),
        sig in sig_strategy(),
        round in any::<u64>(),
        balance in any::<u64>(),
        nonce in any::<u64>(),
        status in 0u8..4,
    ) {
        prop_assert_eq!(QuorumCertificate::from_bytes(&qc.to_bytes()).unwrap(), qc.clone());
        prop_assert_eq!(TimeoutCertificate::from_bytes(&tc.to_bytes()).unwrap(), tc);
        let vote = Vote { block_hash: qc.block_hash, height: qc.height, round: qc.round, signer, signature: sig };
        prop_assert_eq!(Vote::from_bytes(&vote.to_bytes()).unwrap(), vote);
        let timeout = Timeout { round: Round(round), high_qc: qc, signer, signature: sig };
        prop_assert_eq!(Timeout::from_bytes(&timeout.to_bytes()).unwrap(), timeout);
        let account = Account { balance: cairn_ledger::Amount(balance), nonce };
        prop_assert_eq!(Account::from_bytes(&account.to_bytes()).unwrap(), account);
        prop_assert_eq!(Receipt::from_bytes(&[status]).unwrap().to_bytes(), vec![status]);
    }
}
