//! Transactions: the signed transfer and its one canonical encoding.
//!
//! Layout (little-endian): `chain_id` (u8 len + UTF-8), `from` (32), `to` (32),
//! `amount` (u64), `nonce` (u64), `memo` (u16 len + bytes), then in the signed
//! form the 64-byte signature. Signed message = `cairn/tx/v1` || body.
//! Hash = SHA-256(signed transaction).

use crate::codec::{Decode, Encode, Reader, Writer};
use crate::crypto::{self, SecretKey, Signature};
use crate::error::{DecodeError, VerifyError};
use crate::hash::{tag, Hash};
use crate::primitives::{decode_key, Address, Amount, ChainId};

/// Longest memo, in bytes.
pub const MAX_MEMO_LEN: usize = 1024;
/// Longest signed transaction, in bytes (all fields at their maximum).
pub const MAX_TX_LEN: usize = 1 + 64 + 32 + 32 + 8 + 8 + 2 + MAX_MEMO_LEN + 64;

/// An unsigned transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The chain this transaction is valid on.
    pub chain_id: ChainId,
    /// Sender: the public key that signs.
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount moved.
    pub amount: Amount,
    /// Must equal the sender's account nonce to execute.
    pub nonce: u64,
    /// Free bytes, at most [`MAX_MEMO_LEN`].
    pub memo: Vec<u8>,
}

impl Encode for Transaction {
    fn encode_to(&self, w: &mut Writer) {
        assert!(self.memo.len() <= MAX_MEMO_LEN, "memo over limit");
        self.chain_id.encode_to(w);
        w.raw(&self.from.0)
            .raw(&self.to.0)
            .u64(self.amount.0)
            .u64(self.nonce)
            .u16(self.memo.len() as u16)
            .raw(&self.memo);
    }
}

impl Decode for Transaction {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let chain_id = ChainId::decode_from(r)?;
        let from = decode_key(r, "from")?;
        let to = decode_key(r, "to")?;
        let amount = Amount(r.u64("amount")?);
        let nonce = r.u64("nonce")?;
        let memo_len = r.u16("memo length")? as usize;
        let memo_len = r.bounded(memo_len, MAX_MEMO_LEN, "memo")?;
        let memo = r.take(memo_len, "memo")?.to_vec();
        Ok(Transaction {
            chain_id,
            from,
            to,
            amount,
            nonce,
            memo,
        })
    }
}

impl Transaction {
    /// The bytes the sender signs: `cairn/tx/v1` || body.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(tag::TX.len() + 180 + self.memo.len());
        w.raw(tag::TX);
        self.encode_to(&mut w);
        w.into_bytes()
    }

    /// Signs with `key`, which must be the key of `from`.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        assert_eq!(key.address(), self.from, "signing key is not the sender's");
        let signature = key.sign(&self.signing_bytes());
        SignedTransaction::new(self, signature)
    }
}

/// A transaction with its signature, and its hash computed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    tx: Transaction,
    signature: Signature,
    hash: Hash,
    encoded_len: usize,
}

impl SignedTransaction {
    /// Pairs a transaction with a signature (not verified here).
    pub fn new(tx: Transaction, signature: Signature) -> Self {
        let mut w = Writer::with_capacity(256);
        tx.encode_to(&mut w);
        signature.encode_to(&mut w);
        let bytes = w.into_bytes();
        SignedTransaction {
            hash: Hash::digest(&bytes),
            encoded_len: bytes.len(),
            tx,
            signature,
        }
    }

    /// Decodes untrusted bytes for the chain `chain`: rejects truncation,
    /// trailing bytes, oversized fields, another chain's id and invalid keys.
    /// The signature is not checked; see [`SignedTransaction::verify`].
    pub fn decode_for_chain(bytes: &[u8], chain: &ChainId) -> Result<Self, DecodeError> {
        let st = Self::from_bytes(bytes)?;
        if &st.tx.chain_id != chain {
            return Err(DecodeError::WrongChainId {
                expected: chain.to_string(),
                found: st.tx.chain_id.to_string(),
            });
        }
        Ok(st)
    }

    /// The unsigned transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }
    /// SHA-256 of the signed encoding.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    /// Length of the signed encoding.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// Checks the signature (single, ZIP-215).
    pub fn verify(&self) -> Result<(), VerifyError> {
        crypto::verify(&self.tx.from, &self.tx.signing_bytes(), &self.signature)
    }
}

impl Encode for SignedTransaction {
    fn encode_to(&self, w: &mut Writer) {
        self.tx.encode_to(w);
        self.signature.encode_to(w);
    }
}

impl Decode for SignedTransaction {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = r.position();
        let tx = Transaction::decode_from(r)?;
        let signature = Signature::decode_from(r)?;
        let bytes = r.consumed_since(start);
        Ok(SignedTransaction {
            tx,
            signature,
            hash: Hash::digest(bytes),
            encoded_len: bytes.len(),
        })
    }
}

/// Verifies many transactions' signatures in batches spread over all cores.
/// Returns the positions of the invalid ones (empty if all are valid).
pub fn verify_all<T: std::borrow::Borrow<SignedTransaction> + Sync>(txs: &[T]) -> Vec<usize> {
    use rayon::prelude::*;
    const CHUNK: usize = 256;
    let check = |(c, chunk): (usize, &[T])| {
        let msgs: Vec<Vec<u8>> = chunk
            .iter()
            .map(|t| t.borrow().tx.signing_bytes())
            .collect();
        let mut batch = crypto::BatchVerifier::with_capacity(chunk.len());
        for (t, m) in chunk.iter().zip(&msgs) {
            let t = t.borrow();
            batch.push(t.tx.from, m, t.signature);
        }
        let bad = match batch.verify() {
            Ok(()) => Vec::new(),
            Err(VerifyError::BadSignatures { positions }) => positions,
            Err(_) => (0..chunk.len()).collect(),
        };
        bad.into_iter().map(move |i| c * CHUNK + i)
    };
    // A simulator's memo of answers is this thread's (`crypto::memo`): check
    // here, not on the pool, so it is used.
    if crypto::memo::enabled() {
        return txs.chunks(CHUNK).enumerate().flat_map(check).collect();
    }
    txs.par_chunks(CHUNK)
        .enumerate()
        .flat_map_iter(check)
        .collect()
}
