//! What travels between nodes: gossip topics and payloads, and the requests
//! and responses of `/cairn/rr/1` with their canonical encodings. Decoding
//! is for one chain: blocks and transactions of another chain are malformed.
//! Framing and size limits are in [`super::codec`].

use std::fmt;

use cairn_consensus::Message;
use cairn_ledger::codec::{Reader, Writer};
use cairn_ledger::{
    Block, ChainId, CommitProof, Decode, DecodeError, Encode, Hash, Height, QuorumCertificate,
    Round, SignedTransaction,
};
use libp2p::gossipsub::IdentTopic;
use libp2p::StreamProtocol;

/// Committed blocks with their certificates, and a proof for the last one:
/// a block sync response (verified and applied by `cairn_driver::sync`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncBatch {
    /// Consecutive committed blocks, each with a QC certifying it.
    pub blocks: Vec<(Block, QuorumCertificate)>,
    /// Proves the last block committed (absent if the server has none).
    pub proof: Option<CommitProof>,
}

/// The request-response protocol name.
pub const RR_PROTOCOL: StreamProtocol = StreamProtocol::new("/cairn/rr/1");

/// Most transactions in one gossiped batch.
pub const MAX_TX_BATCH: usize = 10_000;

/// The gossip topic for transaction batches: `cairn/<chain>/txs/1`.
pub fn txs_topic(chain: &ChainId) -> IdentTopic {
    IdentTopic::new(format!("cairn/{}/txs/1", chain.as_str()))
}

/// The gossip topic for proposals and timeouts: `cairn/<chain>/consensus/1`.
pub fn consensus_topic(chain: &ChainId) -> IdentTopic {
    IdentTopic::new(format!("cairn/{}/consensus/1", chain.as_str()))
}

/// A request to one peer.
// A proposal (a whole block header inline) dwarfs the other variants; these
// values are moved once, from decoder to consumer, so boxing would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A consensus message for this peer (a vote to the next leader). The
    /// network answers [`Response::Ack`] once the message is queued.
    Consensus(Message),
    /// Up to `max` committed blocks with their certificates, from height `from`.
    SyncBlocks {
        /// First height wanted.
        from: Height,
        /// Most blocks wanted.
        max: u16,
    },
    /// The block with this hash, committed or not.
    FetchBlock {
        /// Its hash.
        hash: Hash,
    },
    /// The peer's progress.
    Status,
}

/// A peer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The consensus message was received.
    Ack,
    /// Committed blocks in height order, each with the QC that certifies it,
    /// and a commit proof for the last. When the response size limit cuts
    /// the blocks, the proof (which was for the last block) is dropped.
    Blocks(SyncBatch),
    /// The block asked for, if the peer has it.
    Block(Option<Block>),
    /// The peer's progress.
    Status(PeerStatus),
    /// The peer could not answer.
    Error(ErrorCode),
}

/// A peer's progress, answered to [`Request::Status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    /// Its highest committed height.
    pub committed_height: Height,
    /// Its current consensus round.
    pub round: Round,
}

/// Why a peer could not answer a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// Its queues are full; retry later or ask another peer.
    Busy,
    /// It did not answer in time or could not serve this request.
    Unavailable,
    /// The request made no sense to it (e.g. a height it cannot serve).
    BadRequest,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorCode::Busy => "busy; retry later or ask another peer",
            ErrorCode::Unavailable => "unavailable; it could not serve the request in time",
            ErrorCode::BadRequest => "bad request",
        })
    }
}

impl Request {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            Request::Consensus(m) => {
                w.u8(1);
                m.encode_to(w);
            }
            Request::SyncBlocks { from, max } => {
                w.u8(2).u64(from.0).u16(*max);
            }
            Request::FetchBlock { hash } => {
                w.u8(3).raw(&hash.0);
            }
            Request::Status => {
                w.u8(4);
            }
        }
    }

    /// Decodes a request for `chain`; a proposal for another chain is malformed.
    pub fn decode(bytes: &[u8], chain: &ChainId) -> Result<Request, DecodeError> {
        let mut r = Reader::new(bytes);
        let req = match r.u8("request kind")? {
            1 => {
                let m = Message::decode_from(&mut r)?;
                check_message_chain(&m, chain)?;
                Request::Consensus(m)
            }
            2 => Request::SyncBlocks {
                from: Height(r.u64("sync.from")?),
                max: r.u16("sync.max")?,
            },
            3 => Request::FetchBlock {
                hash: Hash(r.array("fetch.hash")?),
            },
            4 => Request::Status,
            v => return Err(unknown("request kind", v)),
        };
        r.finish()?;
        Ok(req)
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.encode_to(&mut w);
        w.into_bytes()
    }
}

impl Response {
    /// The canonical encoding, at most `max` bytes: a [`Response::Blocks`]
    /// keeps the longest prefix of its blocks that fits (possibly none).
    /// Returns `None` when another response does not fit.
    pub fn encode_within(&self, max: usize) -> Option<Vec<u8>> {
        let mut w = Writer::default();
        match self {
            Response::Ack => {
                w.u8(1);
            }
            Response::Blocks(batch) => {
                w.u8(2);
                encode_batch(batch, max, &mut w);
            }
            Response::Block(b) => {
                w.u8(3);
                match b {
                    None => {
                        w.u8(0);
                    }
                    Some(b) => {
                        w.u8(1);
                        b.encode_to(&mut w);
                    }
                }
            }
            Response::Status(s) => {
                w.u8(4).u64(s.committed_height.0).u64(s.round.0);
            }
            Response::Error(code) => {
                w.u8(5).u8(match code {
                    ErrorCode::Busy => 1,
                    ErrorCode::Unavailable => 2,
                    ErrorCode::BadRequest => 3,
                });
            }
        }
        let bytes = w.into_bytes();
        (bytes.len() <= max).then_some(bytes)
    }

    /// Decodes a response for `chain`; blocks of another chain are malformed.
    pub fn decode(bytes: &[u8], chain: &ChainId) -> Result<Response, DecodeError> {
        let mut r = Reader::new(bytes);
        let resp = match r.u8("response kind")? {
            1 => Response::Ack,
            2 => Response::Blocks(decode_batch(&mut r, chain)?),
            3 => match r.u8("block flag")? {
                0 => Response::Block(None),
                1 => {
                    let block = Block::decode_from(&mut r)?;
                    check_block_chain(&block, chain)?;
                    Response::Block(Some(block))
                }
                v => return Err(unknown("block flag", v)),
            },
            4 => Response::Status(PeerStatus {
                committed_height: Height(r.u64("status.committed_height")?),
                round: Round(r.u64("status.round")?),
            }),
            5 => Response::Error(match r.u8("error code")? {
                1 => ErrorCode::Busy,
                2 => ErrorCode::Unavailable,
                3 => ErrorCode::BadRequest,
                v => return Err(unknown("error code", v)),
            }),
            v => return Err(unknown("response kind", v)),
        };
        r.finish()?;
        Ok(resp)
    }
}

/// A sync batch: `u16` count, block || QC pairs, then a flag byte and the
/// commit proof. Keeps the longest prefix of pairs that fits in `max`; if
/// that is not all of them, the proof (for the last pair) is left out.
fn encode_batch(batch: &SyncBatch, max: usize, w: &mut Writer) {
    let proof = batch.proof.as_ref().map(|p| p.to_bytes());
    let fixed = 1 + 2 + 1; // tag, count, proof flag
    let mut body = Vec::new();
    let mut count: u16 = 0;
    for (block, qc) in batch.blocks.iter().take(u16::MAX as usize) {
        let mut pw = Writer::default();
        block.encode_to(&mut pw);
        qc.encode_to(&mut pw);
        let pair = pw.into_bytes();
        if fixed + body.len() + pair.len() > max {
            break;
        }
        body.extend_from_slice(&pair);
        count += 1;
    }
    let all = usize::from(count) == batch.blocks.len();
    w.u16(count).raw(&body);
    match proof {
        Some(p) if all && fixed + body.len() + p.len() <= max => {
            w.u8(1).raw(&p);
        }
        _ => {
            w.u8(0);
        }
    }
}

fn decode_batch(r: &mut Reader<'_>, chain: &ChainId) -> Result<SyncBatch, DecodeError> {
    let n = r.u16("blocks count")? as usize;
    // Capacity from what is present, not what is claimed.
    let mut blocks = Vec::with_capacity(n.min(r.remaining() / 256));
    for _ in 0..n {
        let block = Block::decode_from(r)?;
        check_block_chain(&block, chain)?;
        blocks.push((block, QuorumCertificate::decode_from(r)?));
    }
    let proof = match r.u8("commit proof flag")? {
        0 => None,
        1 => Some(CommitProof::decode_from(r)?),
        v => return Err(unknown("commit proof flag", v)),
    };
    Ok(SyncBatch { blocks, proof })
}

fn unknown(field: &'static str, value: u8) -> DecodeError {
    DecodeError::UnknownTag {
        field,
        value: value.into(),
    }
}

fn check_block_chain(block: &Block, chain: &ChainId) -> Result<(), DecodeError> {
    if &block.header.chain_id != chain {
        return Err(DecodeError::WrongChainId {
            expected: chain.to_string(),
            found: block.header.chain_id.to_string(),
        });
    }
    Ok(())
}

/// A proposal must be for this chain (votes and timeouts carry no chain id;
/// their signatures bind it).
pub fn check_message_chain(m: &Message, chain: &ChainId) -> Result<(), DecodeError> {
    match m {
        Message::Proposal(p) => check_block_chain(&p.block, chain),
        Message::Vote(_) | Message::Timeout(_) | Message::TimeoutCertificate(_) => Ok(()),
    }
}

/// Decodes a gossiped consensus message for `chain`.
pub fn decode_consensus(bytes: &[u8], chain: &ChainId) -> Result<Message, DecodeError> {
    let m = Message::from_bytes(bytes)?;
    check_message_chain(&m, chain)?;
    Ok(m)
}

/// Encodes a transaction batch: `u32` count, then the signed transactions.
pub fn encode_tx_batch(txs: &[SignedTransaction]) -> Vec<u8> {
    assert!(txs.len() <= MAX_TX_BATCH, "tx batch over MAX_TX_BATCH");
    let len: usize = txs.iter().map(|t| t.encoded_len()).sum();
    let mut w = Writer::with_capacity(4 + len);
    w.u32(txs.len() as u32);
    for tx in txs {
        tx.encode_to(&mut w);
    }
    w.into_bytes()
}

/// Decodes a gossiped transaction batch; every transaction must be for `chain`.
/// Signatures are not checked here.
pub fn decode_tx_batch(
    bytes: &[u8],
    chain: &ChainId,
) -> Result<Vec<SignedTransaction>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.u32("batch count")? as usize;
    let n = r.bounded(n, MAX_TX_BATCH, "batch count")?;
    if n == 0 {
        return Err(DecodeError::Empty { field: "tx batch" });
    }
    let mut txs = Vec::with_capacity(n.min(r.remaining() / 128));
    for _ in 0..n {
        let tx = SignedTransaction::decode_from(&mut r)?;
        if &tx.tx().chain_id != chain {
            return Err(DecodeError::WrongChainId {
                expected: chain.to_string(),
                found: tx.tx().chain_id.to_string(),
            });
        }
        txs.push(tx);
    }
    r.finish()?;
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{block, chain, timeout_msg, transfer};

    fn proof() -> CommitProof {
        let (child, qc) = block(3);
        CommitProof {
            child: child.header,
            child_qc: qc,
        }
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let c = chain();
        for req in [
            Request::Consensus(timeout_msg(4)),
            Request::SyncBlocks {
                from: Height(7),
                max: 64,
            },
            Request::FetchBlock {
                hash: Hash([3; 32]),
            },
            Request::Status,
        ] {
            assert_eq!(Request::decode(&req.to_bytes(), &c).unwrap(), req);
        }
        for resp in [
            Response::Ack,
            Response::Blocks(SyncBatch {
                blocks: vec![block(1), block(2)],
                proof: Some(proof()),
            }),
            Response::Block(Some(block(1).0)),
            Response::Block(None),
            Response::Status(PeerStatus {
                committed_height: Height(9),
                round: Round(12),
            }),
            Response::Error(ErrorCode::Busy),
        ] {
            let bytes = resp.encode_within(usize::MAX).unwrap();
            assert_eq!(Response::decode(&bytes, &c).unwrap(), resp);
        }
    }

    #[test]
    fn a_sync_batch_is_cut_to_fit_and_loses_its_proof() {
        let batch = SyncBatch {
            blocks: vec![block(1), block(2), block(3)],
            proof: Some(proof()),
        };
        let full = Response::Blocks(batch.clone())
            .encode_within(usize::MAX)
            .unwrap();
        let proof_len = proof().to_bytes().len();
        let decode = |max: usize| {
            let bytes = Response::Blocks(batch.clone()).encode_within(max).unwrap();
            assert!(bytes.len() <= max);
            match Response::decode(&bytes, &chain()).unwrap() {
                Response::Blocks(got) => got,
                other => panic!("{other:?}"),
            }
        };
        // Room for every block but not the proof: the proof goes.
        let got = decode(full.len() - 1);
        assert_eq!((got.blocks.len(), got.proof), (3, None));
        // Room for two blocks: cut, and the proof (for block 3) goes too.
        let got = decode(full.len() - proof_len - 1);
        assert_eq!(got.blocks, batch.blocks[..2].to_vec());
        assert_eq!(got.proof, None);
        assert_eq!(Response::Block(Some(block(1).0)).encode_within(10), None);
    }

    #[test]
    fn another_chains_blocks_and_transactions_are_malformed() {
        let other = ChainId::new("other").unwrap();
        let resp = Response::Block(Some(block(1).0));
        let bytes = resp.encode_within(usize::MAX).unwrap();
        assert!(matches!(
            Response::decode(&bytes, &other),
            Err(DecodeError::WrongChainId { .. })
        ));
        let batch = encode_tx_batch(&[transfer(1)]);
        assert!(decode_tx_batch(&batch, &chain()).is_ok());
        assert!(matches!(
            decode_tx_batch(&batch, &other),
            Err(DecodeError::WrongChainId { .. })
        ));
    }

    #[test]
    fn tx_batches_are_bounded_and_exact() {
        let c = chain();
        let txs = vec![transfer(1), transfer(2)];
        let bytes = encode_tx_batch(&txs);
        assert_eq!(decode_tx_batch(&bytes, &c).unwrap(), txs);
        // Empty, truncated, trailing bytes, and a count above the cap.
        assert!(decode_tx_batch(&0u32.to_le_bytes(), &c).is_err());
        assert!(decode_tx_batch(&bytes[..bytes.len() - 1], &c).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_tx_batch(&long, &c).is_err());
        let huge = ((MAX_TX_BATCH + 1) as u32).to_le_bytes();
        assert!(matches!(
            decode_tx_batch(&huge, &c),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let c = chain();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..400 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = Request::decode(&bytes, &c);
            let _ = Response::decode(&bytes, &c);
            let _ = decode_tx_batch(&bytes, &c);
            let _ = decode_consensus(&bytes, &c);
        }
    }
}
