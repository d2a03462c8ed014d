//! Memory a peer can make a decoder allocate grows with the bytes it sends,
//! never with the counts and lengths it claims.
//!
//! A counting global allocator measures every decode of every network
//! message (requests, responses with sync batches, consensus messages,
//! transaction batches, and frames) after each of its counts, lengths and
//! tags has been forged to a huge value: a decoder that reserved room for a
//! claimed count (`Vec::with_capacity(n)`) would allocate megabytes for a
//! message of a few hundred bytes. What is allowed: 64 bytes per byte
//! received plus 256 KiB (a QC or TC may claim up to 1,024 signers, and room
//! for them is reserved up front). This file holds one test so that no other
//! test allocates while it measures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;

use cairn_consensus::Message;
use cairn_ledger::{
    Amount, Block, ChainId, CommitProof, Encode, Hash, Height, Proposal, QuorumCertificate, Round,
    SecretKey, Signature, SignedTransaction, Timeout, TimeoutCertificate, Transaction,
};
use cairn_network::{
    decode_consensus, decode_tx_batch, encode_tx_batch, Codec, Request, Response, SyncBatch,
    RR_PROTOCOL,
};
use libp2p::request_response::Codec as _;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const PER_BYTE: usize = 64;
const FIXED: usize = 256 * 1024;

fn chain() -> ChainId {
    ChainId::new("alloc-chain").unwrap()
}

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

fn transfer(n: u8) -> SignedTransaction {
    Transaction {
        chain_id: chain(),
        from: key(n).address(),
        to: key(n + 1).address(),
        amount: Amount(u64::from(n)),
        nonce: u64::from(n),
        memo: vec![n; 3],
    }
    .sign(&key(n))
}

fn qc(h: u64) -> QuorumCertificate {
    QuorumCertificate {
        block_hash: Hash([h as u8; 32]),
        height: Height(h),
        round: Round(h),
        signatures: vec![(0, Signature([1; 64])), (2, Signature([2; 64]))],
    }
}

fn tc(r: u64) -> TimeoutCertificate {
    TimeoutCertificate {
        round: Round(r),
        high_qc: qc(r - 1),
        signatures: vec![(1, Round(r - 1), Signature([3; 64]))],
    }
}

fn block(h: u64) -> Block {
    let mut b = Block::genesis(chain(), 1_000, Hash::ZERO);
    b.header.height = Height(h);
    b.header.round = Round(h);
    b.header.proposer = key(9).address();
    b.header.justify = qc(h - 1);
    b.header.timeout_cert = Some(tc(h));
    b.txs = vec![transfer(1), transfer(2)];
    b.header.tx_count = 2;
    b.header.tx_root = Block::compute_tx_root(&b.txs);
    b
}

/// One valid message of each kind, encoded as it travels.
fn samples() -> Vec<Vec<u8>> {
    let batch = SyncBatch {
        blocks: vec![(block(3), qc(3)), (block(4), qc(4))],
        proof: Some(CommitProof {
            child: block(5).header,
            child_qc: qc(5),
        }),
    };
    let timeout = Timeout {
        round: Round(7),
        high_qc: qc(6),
        signer: 1,
        signature: Signature([4; 64]),
    };
    vec![
        Request::Consensus(Message::Proposal(Proposal::sign(block(3), &key(9)))).to_bytes(),
        Request::SyncBlocks {
            from: Height(1),
            max: 64,
        }
        .to_bytes(),
        Message::Timeout(timeout).to_bytes(),
        Message::TimeoutCertificate(tc(8)).to_bytes(),
        Response::Blocks(batch).encode_within(usize::MAX).unwrap(),
        Response::Block(Some(block(3)))
            .encode_within(usize::MAX)
            .unwrap(),
        encode_tx_batch(&[transfer(1), transfer(2), transfer(3)]),
    ]
}

/// Bytes allocated while every decoder (and the frame codec) reads `bytes`.
fn allocated_decoding(bytes: &[u8]) -> usize {
    let c = chain();
    let mut framed = (bytes.len() as u32).to_le_bytes().to_vec();
    framed.extend_from_slice(bytes);
    let mut codec = Codec::new(c.clone(), 1 << 20, 1 << 20);
    let region = Region::new(GLOBAL);
    let _ = Request::decode(bytes, &c);
    let _ = Response::decode(bytes, &c);
    let _ = decode_consensus(bytes, &c);
    let _ = decode_tx_batch(bytes, &c);
    for input in [bytes, &framed] {
        let _ = futures::executor::block_on(
            codec.read_request(&RR_PROTOCOL, &mut futures::io::Cursor::new(input)),
        );
        let _ = futures::executor::block_on(
            codec.read_response(&RR_PROTOCOL, &mut futures::io::Cursor::new(input)),
        );
    }
    let used = region.change();
    used.bytes_allocated + used.bytes_reallocated.max(0) as usize
}

#[test]
fn forged_counts_and_lengths_allocate_nothing_they_do_not_carry() {
    let mut worst = (0usize, String::new());
    // The first decode makes one-time lazy initialisations (~2.6 MB
    // here); they are not per message.
    for valid in samples() {
        allocated_decoding(&valid);
    }
    for valid in samples() {
        // The honest message itself, for scale.
        let honest = allocated_decoding(&valid);
        assert!(
            honest <= PER_BYTE * valid.len() + FIXED,
            "{honest} bytes allocated decoding a valid message of {} bytes",
            valid.len()
        );
        for width in [1usize, 2, 4] {
            for p in 0..=valid.len() - width {
                let mut bytes = valid.clone();
                bytes[p..p + width].fill(0xff);
                let used = allocated_decoding(&bytes);
                let allowed = PER_BYTE * bytes.len() + FIXED;
                assert!(
                    used <= allowed,
                    "{used} bytes allocated decoding {} bytes with {width} bytes of 0xff at \
                     offset {p} (allowed {allowed}): a decoder reserves room for a claimed count",
                    bytes.len()
                );
                if used > worst.0 {
                    worst = (
                        used,
                        format!("{width}x0xff at {p} of {} bytes", bytes.len()),
                    );
                }
            }
        }
    }
    println!(
        "most allocated by one forged message: {} bytes ({})",
        worst.0, worst.1
    );
}
