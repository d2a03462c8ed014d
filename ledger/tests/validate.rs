//! The block rules of `cairn_ledger::validate`, one row per rule: a valid
//! child of a valid parent passes every stage, and each row breaks exactly
//! one thing and must be refused with the error naming that rule (the node,
//! block sync and the audit all report through these).
#![allow(clippy::unwrap_used)]

mod fixtures;

use cairn_ledger::validate::{self, BlockError, BlockLimits, Certificate, Checks};
use cairn_ledger::{Block, BlockHeader, Committee, Hash, Height, Round};
use fixtures::*;

const LIMITS: BlockLimits = BlockLimits {
    max_txs: 10,
    max_bytes: 4_096,
    max_memo_bytes: 16,
};

struct Case {
    committee: Committee,
    parent: BlockHeader,
    parent_hash: Hash,
    block: Block,
}

/// Parent P (height 4, round 7, justify of round 6: it directly follows its
/// QC, so its QC commits height 3) and its child B in round 8 carrying QC(P),
/// with three transfers and the state of height 3.
fn case() -> Case {
    let committee = committee(&[1, 1, 1, 1], Hash::digest(b"genesis"));
    let parent = BlockHeader {
        chain_id: chain(),
        height: Height(4),
        round: Round(7),
        parent_hash: Hash::digest(b"grandparent"),
        proposer: validator_key(3).address(),
        timestamp_ms: 1_000,
        tx_root: Block::compute_tx_root(&[]),
        tx_count: 0,
        state_root: Hash::digest(b"state 2"),
        state_height: Height(2),
        justify: qc(&committee, Hash::digest(b"grandparent"), 3, 6, &[0, 1, 2]),
        timeout_cert: None,
    };
    let parent_hash = parent.hash();
    let txs = spec_txs();
    let block = Block {
        header: BlockHeader {
            chain_id: chain(),
            height: Height(5),
            round: Round(8),
            parent_hash,
            proposer: validator_key(0).address(),
            timestamp_ms: 1_001,
            tx_root: Block::compute_tx_root(&txs),
            tx_count: txs.len() as u32,
            state_root: Hash::digest(b"state 3"),
            state_height: Height(3),
            justify: qc(&committee, parent_hash, 4, 7, &[0, 1, 3]),
            timeout_cert: None,
        },
        txs,
    };
    Case {
        committee,
        parent,
        parent_hash,
        block,
    }
}

/// Every stage on, as block sync runs them (with a QC for the block).
fn check(c: &Case) -> Result<(), BlockError> {
    let qc = qc(
        &c.committee,
        c.block.hash(),
        c.block.header.height.0,
        c.block.header.round.0,
        &[1, 2, 3],
    );
    validate::validate(
        &c.block,
        Checks {
            chain_id: &c.committee.chain_id,
            limits: &LIMITS,
            parent: Some((&c.parent, c.parent_hash)),
            certificates: Some((&c.committee, false)),
            certified_by: Some(&qc),
            verified: Some(|_: &Hash| false),
            state_root: Some(Hash::digest(b"state 3")),
        },
    )
}

/// Re-derives what depends on the transactions after a row changed them.
fn reroot(b: &mut Block) {
    b.header.tx_root = Block::compute_tx_root(&b.txs);
    b.header.tx_count = b.txs.len() as u32;
}

#[test]
fn a_valid_block_passes_every_stage() {
    check(&case()).unwrap();
}

#[test]
fn each_broken_rule_is_named() {
    type Breaker = fn(&mut Case);
    type Named = fn(&BlockError) -> bool;
    #[rustfmt::skip]
    let rows: Vec<(&str, Breaker, Named)> = vec![
        ("another chain", |c| c.block.header.chain_id = cairn_ledger::ChainId::new("other").unwrap(),
            |e| matches!(e, BlockError::WrongChain { .. })),
        ("too many transactions", |c| { let t = c.block.txs[0].clone(); c.block.txs = vec![t; 11]; reroot(&mut c.block) },
            |e| matches!(e, BlockError::TooLarge { count: 11, .. })),
        ("a memo over the chain's limit", |c| { c.block.txs[1] = transfer(&alice(), bob().address(), 1, 1, &[7; 17]); reroot(&mut c.block) },
            |e| matches!(e, BlockError::MemoTooLong { index: 1, len: 17, .. })),
        ("tx_root of other transactions", |c| c.block.txs.swap(0, 2),
            |e| matches!(e, BlockError::TxRoot { .. })),
        ("a height that skips one", |c| c.block.header.height = Height(6),
            |e| matches!(e, BlockError::Height { .. })),
        ("a parent_hash of another block", |c| c.block.header.parent_hash = Hash::digest(b"x"),
            |e| matches!(e, BlockError::ParentHash { .. })),
        ("justify for the parent's hash at a wrong height", |c| c.block.header.justify = qc(&c.committee, c.parent_hash, 9, 7, &[0, 1, 2]),
            |e| matches!(e, BlockError::Justify { .. })),
        ("a round that skips one without a TC", |c| c.block.header.round = Round(9),
            |e| matches!(e, BlockError::Round { .. })),
        ("a state height the parent's chain does not commit", |c| c.block.header.state_height = Height(4),
            |e| matches!(e, BlockError::StateHeightRule { .. })),
        ("a state root execution disagrees with", |c| c.block.header.state_root = Hash::digest(b"lie"),
            |e| matches!(e, BlockError::StateRoot { .. })),
        ("a justify short of a quorum", |c| c.block.header.justify = qc(&c.committee, c.parent_hash, 4, 7, &[0, 1]),
            |e| matches!(e, BlockError::Certificate { which: Certificate::Justify, source: cairn_ledger::VerifyError::NoQuorum { .. } })),
        ("a transaction with a broken signature", |c| { let mut bytes = cairn_ledger::Encode::to_bytes(&c.block.txs[2]); let n = bytes.len(); bytes[n - 5] ^= 1; c.block.txs[2] = cairn_ledger::Decode::from_bytes(&bytes).unwrap(); reroot(&mut c.block) },
            |e| matches!(e, BlockError::BadSignature { index: 2, .. })),
    ];
    for (name, breaks, named) in rows {
        let mut c = case();
        breaks(&mut c);
        match check(&c) {
            Err(e) => assert!(named(&e), "{name}: refused for another rule: {e}"),
            Ok(()) => panic!("{name}: accepted"),
        }
    }
}

#[test]
fn the_qc_offered_must_certify_this_block() {
    let c = case();
    let hash = c.block.hash();
    let other = qc(&c.committee, hash, 5, 9, &[0, 1, 2]);
    assert!(matches!(
        validate::check_certified_by(&c.block, &hash, &other, &c.committee),
        Err(BlockError::QcTarget { .. })
    ));
    let short = qc(&c.committee, hash, 5, 8, &[0, 1]);
    assert!(matches!(
        validate::check_certified_by(&c.block, &hash, &short, &c.committee),
        Err(BlockError::Certificate {
            which: Certificate::Qc,
            ..
        })
    ));
}

#[test]
fn after_a_timeout_the_round_may_skip_and_state_height_follows_the_parent() {
    // B in round 9 with TC(8) whose highest QC round is 7 (P's): allowed.
    let mut c = case();
    c.block.header.round = Round(9);
    c.block.header.timeout_cert = Some(tc_with(
        &c.committee,
        8,
        &[(0, 7), (1, 6), (2, 7)],
        qc(&c.committee, c.parent_hash, 4, 7, &[0, 1, 3]),
    ));
    check(&c).unwrap();
    // A TC whose highest QC is above the justify's round does not allow it.
    c.block.header.timeout_cert = Some(tc(&c.committee, 8, &[(0, 8), (1, 6), (2, 7)]));
    assert!(matches!(check(&c), Err(BlockError::Round { .. })));
    // A parent that came after a timeout commits nothing new: its state height stays.
    let mut c = case();
    c.parent.round = Round(9);
    c.parent_hash = c.parent.hash();
    c.block.header.parent_hash = c.parent_hash;
    c.block.header.round = Round(10);
    c.block.header.justify = qc(&c.committee, c.parent_hash, 4, 9, &[0, 1, 3]);
    assert!(matches!(
        check(&c),
        Err(BlockError::StateHeightRule {
            expected: Height(2),
            ..
        })
    ));
}

#[test]
fn signatures_already_verified_are_not_checked_again() {
    let mut c = case();
    let mut bytes = cairn_ledger::Encode::to_bytes(&c.block.txs[0]);
    let n = bytes.len();
    bytes[n - 5] ^= 1;
    c.block.txs[0] = cairn_ledger::Decode::from_bytes(&bytes).unwrap();
    reroot(&mut c.block);
    let bad = c.block.txs[0].hash();
    assert!(validate::check_signatures(&c.block, |_| false).is_err());
    // A caller that verified it (a mempool) says so: the stage trusts it.
    validate::check_signatures(&c.block, |h| *h == bad).unwrap();
}
