//! Structure-aware fuzzing of every decoder a peer can reach: request and
//! response frames of `/cairn/rr/1`, gossiped consensus messages and
//! transaction batches, and the sync batches inside responses.
//!
//! Each property generates *valid* values (blocks with real transactions,
//! proposals, votes, timeouts, QCs, TCs, sync batches with commit proofs,
//! every request and response), encodes them, then mutates the bytes the
//! way a hostile or broken peer would: bit flips, byte overwrites,
//! truncation, extension, insertion and removal, length and count fields
//! inflated to huge values, and splices of fields from another message.
//! Every decoder then runs on the result and must
//! - return (never panic), and
//! - either refuse it with a `DecodeError` / `FrameError`, or produce a value
//!   whose canonical encoding is exactly those bytes (one encoding per value,
//!   so a message id or signature cannot be malleated).
//!
//! Valid values must round-trip exactly. Frames whose length prefix claims
//! more than the limit are refused before their body is read.
//!
//! The budget is fixed: `CAIRN_FUZZ_CASES` cases per property (default 1024).
//! The seed is random per run and printed; `CAIRN_FUZZ_SEED=<seed>` replays a
//! run exactly, e.g. `CAIRN_FUZZ_SEED=42 cargo test --workspace --test
//! wire_fuzz`. A failure prints the seed and the shrunk failing input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use cairn_consensus::Message;
use cairn_ledger::types::tx::MAX_MEMO_LEN;
use cairn_ledger::{
    Address, Amount, Block, BlockHeader, ChainId, CommitProof, DecodeError, Encode, Hash, Height,
    Proposal, QuorumCertificate, Round, SecretKey, Signature, SignedTransaction, Timeout,
    TimeoutCertificate, Transaction, Vote,
};
use cairn_network::{
    decode_consensus, decode_tx_batch, encode_tx_batch, Codec, ErrorCode, FrameError, PeerStatus,
    Request, Response, SyncBatch, WireRequest, MAX_TX_BATCH, RR_PROTOCOL,
};
use libp2p::request_response::Codec as _;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

// ------------------------------------------------------------- the harness

/// The chain every generated value belongs to (decoders check it).
fn chain() -> ChainId {
    ChainId::new("fuzz-chain").unwrap()
}

/// The run's seed: `CAIRN_FUZZ_SEED`, or a fresh random one.
fn seed() -> u64 {
    match std::env::var("CAIRN_FUZZ_SEED") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("CAIRN_FUZZ_SEED={s:?} is not a u64")),
        Err(_) => rand::random(),
    }
}

/// Cases per property: `CAIRN_FUZZ_CASES`, default 1024.
fn cases() -> u32 {
    std::env::var("CAIRN_FUZZ_CASES").map_or(1024, |s| {
        s.parse()
            .unwrap_or_else(|_| panic!("CAIRN_FUZZ_CASES={s:?} is not a number"))
    })
}

/// Runs `test` on `cases()` values of `strategy` from a printed seed.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let (seed, cases) = (seed(), cases());
    // Shown with the failure (cargo prints a failing test's output).
    println!(
        "{name}: seed {seed}, {cases} cases; replay with CAIRN_FUZZ_SEED={seed} cargo test \
         --workspace --test wire_fuzz -- {name}"
    );
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    };
    if let Err(e) = TestRunner::new(config).run(&strategy, test) {
        panic!("{name} failed (seed {seed}; replay with CAIRN_FUZZ_SEED={seed}): {e}");
    }
}

// ------------------------------------------------ valid values of each type

fn key() -> impl Strategy<Value = SecretKey> {
    any::<[u8; 32]>().prop_map(SecretKey::from_seed)
}

fn sig() -> impl Strategy<Value = Signature> {
    any::<[[u8; 32]; 2]>().prop_map(|[a, b]| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        Signature(s)
    })
}

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

fn tx() -> impl Strategy<Value = SignedTransaction> {
    let memo = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..16),
        1 => prop::collection::vec(any::<u8>(), MAX_MEMO_LEN - 2..=MAX_MEMO_LEN),
    ];
    (key(), key(), any::<u64>(), any::<u64>(), memo).prop_map(|(from, to, amount, nonce, memo)| {
        Transaction {
            chain_id: chain(),
            from: from.address(),
            to: to.address(),
            amount: Amount(amount),
            nonce,
            memo,
        }
        .sign(&from)
    })
}

/// Signers ascending and distinct, as the decoder requires.
fn signers() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::btree_set(0u16..64, 0..8).prop_map(|s| s.into_iter().collect())
}

fn qc() -> impl Strategy<Value = QuorumCertificate> {
    (
        hash(),
        any::<u64>(),
        any::<u64>(),
        signers(),
        prop::collection::vec(sig(), 8),
    )
        .prop_map(
            |(block_hash, height, round, signers, sigs)| QuorumCertificate {
                block_hash,
                height: Height(height),
                round: Round(round),
                signatures: signers.into_iter().zip(sigs).collect(),
            },
        )
}

fn tc() -> impl Strategy<Value = TimeoutCertificate> {
    (
        any::<u64>(),
        qc(),
        signers(),
        prop::collection::vec((any::<u64>(), sig()), 8),
    )
        .prop_map(|(round, high_qc, signers, rest)| TimeoutCertificate {
            round: Round(round),
            high_qc,
            signatures: signers
                .into_iter()
                .zip(rest)
                .map(|(i, (r, s))| (i, Round(r), s))
                .collect(),
        })
}

fn header_fields() -> impl Strategy<Value = (u64, u64, Hash, Address, u64, Hash, u64)> {
    (
        any::<u64>(),
        any::<u64>(),
        hash(),
        key().prop_map(|k| k.address()),
        any::<u64>(),
        hash(),
        any::<u64>(),
    )
}

fn block() -> impl Strategy<Value = Block> {
    (
        header_fields(),
        qc(),
        prop::option::of(tc()),
        prop::collection::vec(tx(), 0..4),
    )
        .prop_map(
            |((height, round, parent, proposer, ts, state, sh), justify, timeout_cert, txs)| {
                Block {
                    header: BlockHeader {
                        chain_id: chain(),
                        height: Height(height),
                        round: Round(round),
                        parent_hash: parent,
                        proposer,
                        timestamp_ms: ts,
                        tx_root: Block::compute_tx_root(&txs),
                        tx_count: txs.len() as u32,
                        state_root: state,
                        state_height: Height(sh),
                        justify,
                        timeout_cert,
                    },
                    txs,
                }
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (block(), key()).prop_map(|(mut b, k)| {
            b.header.proposer = k.address();
            Message::Proposal(Proposal::sign(b, &k))
        }),
        (hash(), any::<u64>(), any::<u64>(), any::<u16>(), sig()).prop_map(
            |(block_hash, h, r, signer, signature)| Message::Vote(Vote {
                block_hash,
                height: Height(h),
                round: Round(r),
                signer,
                signature,
            })
        ),
        (any::<u64>(), qc(), any::<u16>(), sig()).prop_map(|(r, high_qc, signer, signature)| {
            Message::Timeout(Timeout {
                round: Round(r),
                high_qc,
                signer,
                signature,
            })
        }),
        tc().prop_map(Message::TimeoutCertificate),
    ]
}

fn sync_batch() -> impl Strategy<Value = SyncBatch> {
    (
        prop::collection::vec((block(), qc()), 0..3),
        prop::option::of((block(), qc())),
    )
        .prop_map(|(blocks, proof)| SyncBatch {
            blocks,
            proof: proof.map(|(child, child_qc)| CommitProof {
                child: child.header,
                child_qc,
            }),
        })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        3 => message().prop_map(Request::Consensus),
        1 => (any::<u64>(), any::<u16>()).prop_map(|(from, max)| Request::SyncBlocks {
            from: Height(from),
            max
        }),
        1 => hash().prop_map(|hash| Request::FetchBlock { hash }),
        1 => Just(Request::Status),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        1 => Just(Response::Ack),
        3 => sync_batch().prop_map(Response::Blocks),
        2 => prop::option::of(block()).prop_map(Response::Block),
        1 => (any::<u64>(), any::<u64>()).prop_map(|(h, r)| Response::Status(PeerStatus {
            committed_height: Height(h),
            round: Round(r),
        })),
        1 => prop_oneof![
            Just(ErrorCode::Busy),
            Just(ErrorCode::Unavailable),
            Just(ErrorCode::BadRequest)
        ]
        .prop_map(Response::Error),
    ]
}

/// One value of any kind a peer can send, in its place on the wire.
#[derive(Clone, Debug)]
enum Wire {
    Request(Request),
    Response(Response),
    Consensus(Message),
    Txs(Vec<SignedTransaction>),
}

impl Wire {
    fn encode(&self) -> Vec<u8> {
        match self {
            Wire::Request(r) => r.to_bytes(),
            Wire::Response(r) => r.encode_within(usize::MAX).unwrap(),
            Wire::Consensus(m) => m.to_bytes(),
            Wire::Txs(txs) => encode_tx_batch(txs),
        }
    }
}

fn wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        request().prop_map(Wire::Request),
        response().prop_map(Wire::Response),
        message().prop_map(Wire::Consensus),
        prop::collection::vec(tx(), 1..5).prop_map(Wire::Txs),
    ]
}

// ------------------------------------------------------------- mutations

/// Where in the bytes a mutation lands. Tags, flags and counts sit mostly
/// at the two ends of a message (kind byte and counts first; proof, TC and
/// block flags last), so a third of positions fall in the first 16 bytes,
/// a third in the last 16, and a third anywhere.
#[derive(Clone, Debug)]
struct Pos(u8, Index);

impl Pos {
    /// A position in `0..len` (`len` > 0).
    fn resolve(&self, len: usize) -> usize {
        let edge = len.min(16);
        match self.0 % 3 {
            0 => self.1.index(edge),
            1 => len - edge + self.1.index(edge),
            _ => self.1.index(len),
        }
    }
}

fn pos() -> impl Strategy<Value = Pos> {
    (any::<u8>(), any::<Index>()).prop_map(|(r, i)| Pos(r, i))
}

/// One corruption of an encoding.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Pos, u8),
    SetByte(Pos, u8),
    Truncate(Pos),
    Extend(Vec<u8>),
    Insert(Pos, Vec<u8>),
    Remove(Pos, usize),
    /// Overwrites `width` bytes (1, 2, 4 or 8) with a huge little-endian
    /// value: where a count or length prefix sits, it now claims far more
    /// than the message holds.
    Inflate(Pos, usize, u64),
    /// Copies `len` bytes from the donor (another valid message) over or
    /// into this one: a field from elsewhere, in the wrong place.
    Splice {
        at: Pos,
        from: Index,
        len: usize,
        insert: bool,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let huge = prop_oneof![
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(u64::from(u16::MAX)),
        Just(u64::from(u8::MAX)),
        Just(MAX_TX_BATCH as u64 + 1),
        Just(1 << 30),
        any::<u64>(),
    ];
    // Small values too: tags and flags are 0..=5.
    let byte = prop_oneof![0u8..8, any::<u8>()];
    prop_oneof![
        3 => (pos(), 0u8..8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        3 => (pos(), byte).prop_map(|(p, v)| Mutation::SetByte(p, v)),
        2 => pos().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        1 => (pos(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, v)| Mutation::Insert(p, v)),
        1 => (pos(), 1usize..64).prop_map(|(p, n)| Mutation::Remove(p, n)),
        3 => (pos(), prop_oneof![Just(1usize), Just(2), Just(4), Just(8)], huge)
            .prop_map(|(p, w, v)| Mutation::Inflate(p, w, v)),
        2 => (pos(), any::<Index>(), 1usize..200, any::<bool>())
            .prop_map(|(at, from, len, insert)| Mutation::Splice { at, from, len, insert }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, donor: &[u8]) {
    let len = bytes.len();
    // Where an insertion or a cut goes: 0..=len.
    let gap = |p: &Pos| if len == 0 { 0 } else { p.resolve(len + 1) };
    match m {
        Mutation::FlipBit(p, bit) if len > 0 => bytes[p.resolve(len)] ^= 1 << bit,
        Mutation::SetByte(p, v) if len > 0 => bytes[p.resolve(len)] = *v,
        Mutation::Truncate(p) => bytes.truncate(gap(p)),
        Mutation::Extend(tail) => bytes.extend_from_slice(tail),
        Mutation::Insert(p, v) => {
            let at = gap(p);
            bytes.splice(at..at, v.iter().copied());
        }
        Mutation::Remove(p, n) if len > 0 => {
            let at = p.resolve(len);
            bytes.drain(at..(at + n).min(len));
        }
        Mutation::Inflate(p, width, value) if len >= *width => {
            let at = p.resolve(len - width + 1);
            bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..*width]);
        }
        Mutation::Splice {
            at,
            from,
            len: n,
            insert,
        } if !donor.is_empty() => {
            let src = from.index(donor.len());
            let chunk = &donor[src..(src + n).min(donor.len())];
            let at = gap(at);
            if *insert {
                bytes.splice(at..at, chunk.iter().copied());
            } else {
                let end = (at + chunk.len()).min(len);
                bytes.splice(at..end, chunk.iter().copied());
            }
        }
        _ => {}
    }
}

// ------------------------------------------------------------- the checks

/// Runs every network decoder on `bytes`: each returns, and whatever it
/// accepts re-encodes to exactly `bytes`. Returns how many accepted.
fn decode_everything(bytes: &[u8]) -> Result<usize, TestCaseError> {
    let c = chain();
    let mut accepted = 0;
    if let Ok(r) = Request::decode(bytes, &c) {
        prop_assert_eq!(r.to_bytes(), bytes, "request {:?} is not canonical", r);
        accepted += 1;
    }
    if let Ok(r) = Response::decode(bytes, &c) {
        let again = r.encode_within(usize::MAX).unwrap();
        prop_assert_eq!(again, bytes, "response {:?} is not canonical", r);
        accepted += 1;
    }
    if let Ok(m) = decode_consensus(bytes, &c) {
        prop_assert_eq!(m.to_bytes(), bytes, "message {:?} is not canonical", m);
        accepted += 1;
    }
    if let Ok(txs) = decode_tx_batch(bytes, &c) {
        prop_assert!(!txs.is_empty() && txs.len() <= MAX_TX_BATCH);
        prop_assert_eq!(encode_tx_batch(&txs), bytes, "tx batch is not canonical");
        accepted += 1;
    }
    Ok(accepted)
}

/// Decodes `bytes` as the kind `w` is, expecting exactly `w` back.
fn round_trip(w: &Wire, bytes: &[u8]) -> Result<(), TestCaseError> {
    let c = chain();
    match w {
        Wire::Request(r) => prop_assert_eq!(&Request::decode(bytes, &c).unwrap(), r),
        Wire::Response(r) => prop_assert_eq!(&Response::decode(bytes, &c).unwrap(), r),
        Wire::Consensus(m) => prop_assert_eq!(&decode_consensus(bytes, &c).unwrap(), m),
        Wire::Txs(txs) => prop_assert_eq!(&decode_tx_batch(bytes, &c).unwrap(), txs),
    }
    prop_assert_eq!(w.encode(), bytes);
    Ok(())
}

/// Frame limits for the codec under test: small, so inflated length
/// prefixes land above them.
const MAX_REQUEST: usize = 64 * 1024;
const MAX_RESPONSE: usize = 256 * 1024;

/// Reads `frame` as an inbound request and as a response, checking the
/// codec's contract.
fn read_frames(frame: &[u8]) -> Result<(), TestCaseError> {
    let mut codec = Codec::new(chain(), MAX_REQUEST, MAX_RESPONSE);
    let declared = frame
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
    let body = frame.get(4..).unwrap_or_default();
    let request = futures::executor::block_on(
        codec.read_request(&RR_PROTOCOL, &mut futures::io::Cursor::new(frame)),
    );
    match (&request, declared) {
        (Ok(WireRequest::Valid(r)), Some(len)) => {
            prop_assert!(len <= MAX_REQUEST && len <= body.len());
            prop_assert_eq!(
                r.to_bytes(),
                &body[..len],
                "accepted a non-canonical request"
            );
        }
        (Ok(WireRequest::Refused(FrameError::TooLarge { len, max })), Some(d)) => {
            prop_assert!(*len > *max, "refused {} as too large for {}", len, max);
            prop_assert!(d > MAX_REQUEST || Request::decode(&body[..d], &chain()).is_ok());
        }
        (Ok(WireRequest::Refused(FrameError::Malformed(_))), Some(len)) => {
            prop_assert!(len <= MAX_REQUEST && len <= body.len());
        }
        // A frame shorter than it claims (or than its length prefix) is an
        // I/O error: the stream ended early.
        (Err(e), d) => {
            prop_assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
            prop_assert!(d.is_none_or(|d| d > body.len()), "EOF on a complete frame");
        }
        (other, d) => prop_assert!(false, "unexpected {:?} for declared length {:?}", other, d),
    }
    let response = futures::executor::block_on(
        codec.read_response(&RR_PROTOCOL, &mut futures::io::Cursor::new(frame)),
    );
    match (response, declared) {
        (Ok(r), Some(len)) => {
            prop_assert!(len <= MAX_RESPONSE && len <= body.len());
            let again = r.encode_within(usize::MAX).unwrap();
            prop_assert_eq!(again, &body[..len], "accepted a non-canonical response");
        }
        (Ok(r), None) => prop_assert!(false, "a response {:?} from no frame", r),
        (Err(e), d) => match FrameError::from_io(&e) {
            Some(FrameError::TooLarge { .. }) => prop_assert!(d.is_some_and(|d| d > MAX_RESPONSE)),
            Some(FrameError::Malformed(_)) => {}
            None => prop_assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        },
    }
    Ok(())
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

// ------------------------------------------------------------- properties

#[test]
fn valid_messages_round_trip_exactly() {
    fuzz("valid_messages_round_trip_exactly", wire(), |w| {
        let bytes = w.encode();
        round_trip(&w, &bytes)?;
        // Exactly one decoder of the four takes it, or the kinds overlap
        // (a request and a response may share a tag byte).
        prop_assert!(decode_everything(&bytes)? >= 1);
        read_frames(&frame(&bytes))
    });
}

#[test]
fn mutated_messages_are_refused_or_canonical() {
    // Mostly one mutation (so the others do not mask it), sometimes several.
    let mutations = prop_oneof![
        3 => prop::collection::vec(mutation(), 1..=1),
        1 => prop::collection::vec(mutation(), 2..6),
    ];
    let strategy = (wire(), wire(), mutations);
    fuzz(
        "mutated_messages_are_refused_or_canonical",
        strategy,
        |(w, donor, mutations)| {
            let mut bytes = w.encode();
            let donor = donor.encode();
            for m in &mutations {
                apply(&mut bytes, m, &donor);
            }
            decode_everything(&bytes)?;
            Ok(())
        },
    );
}

#[test]
fn mutated_frames_are_refused_before_they_are_read_or_decoded_exactly() {
    let strategy = (wire(), wire(), prop::collection::vec(mutation(), 0..4));
    fuzz(
        "mutated_frames_are_refused_before_they_are_read_or_decoded_exactly",
        strategy,
        |(w, donor, mutations)| {
            // Mutations hit the length prefix as well as the body.
            let mut bytes = frame(&w.encode());
            let donor = frame(&donor.encode());
            for m in &mutations {
                apply(&mut bytes, m, &donor);
            }
            read_frames(&bytes)
        },
    );
}

#[test]
fn random_bytes_are_refused_or_canonical() {
    fuzz(
        "random_bytes_are_refused_or_canonical",
        prop::collection::vec(any::<u8>(), 0..512),
        |bytes| {
            decode_everything(&bytes)?;
            read_frames(&bytes)
        },
    );
}

/// One small value of every variant of every kind (a proposal with a TC and
/// transactions, a sync batch with a commit proof, ...), from a fixed seed.
fn samples() -> Vec<Wire> {
    let small_block = || {
        (block(), key())
            .prop_filter("small", |(b, _)| b.txs.len() <= 2)
            .prop_map(|(mut b, k)| {
                b.header.proposer = k.address();
                b
            })
    };
    let variants: Vec<BoxedStrategy<Wire>> = vec![
        (small_block(), key(), tc())
            .prop_map(|(mut b, k, tc)| {
                b.header.proposer = k.address();
                b.header.timeout_cert = Some(tc);
                Wire::Consensus(Message::Proposal(Proposal::sign(b, &k)))
            })
            .boxed(),
        message()
            .prop_filter("vote", |m| matches!(m, Message::Vote(_)))
            .prop_map(|m| Wire::Request(Request::Consensus(m)))
            .boxed(),
        message()
            .prop_filter("timeout", |m| matches!(m, Message::Timeout(_)))
            .prop_map(Wire::Consensus)
            .boxed(),
        tc().prop_map(|tc| Wire::Consensus(Message::TimeoutCertificate(tc)))
            .boxed(),
        request()
            .prop_filter("not consensus", |r| !matches!(r, Request::Consensus(_)))
            .prop_map(Wire::Request)
            .boxed(),
        (small_block(), qc(), small_block(), qc())
            .prop_map(|(b, qc, child, child_qc)| {
                Wire::Response(Response::Blocks(SyncBatch {
                    blocks: vec![(b, qc)],
                    proof: Some(CommitProof {
                        child: child.header,
                        child_qc,
                    }),
                }))
            })
            .boxed(),
        small_block()
            .prop_map(|b| Wire::Response(Response::Block(Some(b))))
            .boxed(),
        response()
            .prop_filter("small", |r| {
                !matches!(r, Response::Blocks(_) | Response::Block(_))
            })
            .prop_map(Wire::Response)
            .boxed(),
        prop::collection::vec(tx(), 1..3)
            .prop_map(Wire::Txs)
            .boxed(),
    ];
    let mut runner = TestRunner::deterministic();
    variants
        .iter()
        .map(|v| loop {
            let w = v.new_tree(&mut runner).unwrap().current();
            if w.encode().len() <= 3000 {
                break w;
            }
        })
        .collect()
}

/// Not random: every byte of one small value of each variant is set to
/// each of a few telling values (small tags and flags, bit flips, extremes),
/// and every prefix is tried. Decoders refuse or decode canonically.
#[test]
fn every_byte_of_every_variant_altered_is_refused_or_canonical() {
    for w in &samples() {
        let valid = w.encode();
        for p in 0..valid.len() {
            let v = valid[p];
            for new in [
                0,
                1,
                2,
                3,
                4,
                5,
                0x7f,
                0x80,
                0xff,
                v ^ 1,
                v ^ 0x80,
                v.wrapping_add(1),
            ] {
                if new == v {
                    continue;
                }
                let mut bytes = valid.clone();
                bytes[p] = new;
                decode_everything(&bytes)
                    .unwrap_or_else(|e| panic!("byte {p} set to {new:#x} in {w:?}: {e}"));
            }
            decode_everything(&valid[..p])
                .unwrap_or_else(|e| panic!("prefix of {p} bytes of {w:?}: {e}"));
        }
    }
}

/// Not random: every offset of one valid value of each kind gets a huge
/// value of every width. Whatever sits there (a count, a length, a tag),
/// the decoders refuse or decode canonically.
#[test]
fn a_huge_value_at_every_offset_is_refused_or_canonical() {
    for w in &samples() {
        let valid = w.encode();
        for width in [1usize, 2, 4, 8] {
            if valid.len() < width {
                continue;
            }
            for p in 0..=valid.len() - width {
                let mut bytes = valid.clone();
                bytes[p..p + width].fill(0xff);
                decode_everything(&bytes).unwrap_or_else(|e| {
                    panic!("{width} bytes of 0xff at offset {p} of {w:?}: {e}")
                });
            }
        }
    }
}

#[test]
fn a_message_for_another_chain_is_refused() {
    // Decoding is per chain: a valid block or transaction of another chain
    // is malformed here, whatever carries it.
    let other = ChainId::new("other-chain").unwrap();
    fuzz("a_message_for_another_chain_is_refused", wire(), |w| {
        let bytes = w.encode();
        let foreign = match &w {
            Wire::Txs(_) => true,
            Wire::Consensus(Message::Proposal(_)) => true,
            Wire::Request(Request::Consensus(Message::Proposal(_))) => true,
            Wire::Response(Response::Block(Some(_))) => true,
            Wire::Response(Response::Blocks(b)) => !b.blocks.is_empty(),
            _ => false,
        };
        if foreign {
            let refused = match &w {
                Wire::Txs(_) => decode_tx_batch(&bytes, &other).err(),
                Wire::Consensus(_) => decode_consensus(&bytes, &other).err(),
                Wire::Request(_) => Request::decode(&bytes, &other).err(),
                Wire::Response(_) => Response::decode(&bytes, &other).err(),
            };
            prop_assert!(
                matches!(refused, Some(DecodeError::WrongChainId { .. })),
                "{:?}",
                refused
            );
        }
        Ok(())
    });
}
