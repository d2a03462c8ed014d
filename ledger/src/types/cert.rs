//! Votes, timeouts and the certificates they form.
//!
//! Vote message:    `cairn/vote/v1` || chain_id || block_hash || height (u64) || round (u64).
//! Timeout message: `cairn/timeout/v1` || chain_id || round (u64) || high_qc_round (u64).
//! A TC carries its signers' highest QC, proving the highest round they signed.
//! A certificate lists each signer once, by index into the validator set, in
//! strictly ascending order (the canonical form; anything else is rejected).

use crate::codec::{Decode, Encode, Reader, Writer};
use crate::crypto::{BatchVerifier, SecretKey, Signature};
use crate::error::{DecodeError, VerifyError};
use crate::hash::{tag, Hash};
use crate::primitives::{ChainId, Height, Round};
use crate::types::validator::ValidatorSet;

/// What a certificate is checked against: the chain, its genesis block, its validators.
#[derive(Clone, Debug)]
pub struct Committee {
    /// This chain's id (part of every signed consensus message).
    pub chain_id: ChainId,
    /// Hash of the genesis block (height 0), certified by the round-0 certificate.
    pub genesis_hash: Hash,
    /// The validators and their voting power.
    pub validators: ValidatorSet,
}

/// The bytes a validator signs to vote for a block.
pub fn vote_signing_bytes(
    chain: &ChainId,
    block_hash: &Hash,
    height: Height,
    round: Round,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(96);
    w.raw(tag::VOTE);
    chain.encode_to(&mut w);
    w.raw(&block_hash.0).u64(height.0).u64(round.0);
    w.into_bytes()
}

/// The bytes a validator signs to time out of `round`.
pub fn timeout_signing_bytes(chain: &ChainId, round: Round, high_qc_round: Round) -> Vec<u8> {
    let mut w = Writer::with_capacity(96);
    w.raw(tag::TIMEOUT);
    chain.encode_to(&mut w);
    w.u64(round.0).u64(high_qc_round.0);
    w.into_bytes()
}

/// A signed vote for a block. Goes to the leader of `round + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// The block voted for.
    pub block_hash: Hash,
    /// Its height.
    pub height: Height,
    /// Its round.
    pub round: Round,
    /// Index of the voter in the validator set.
    pub signer: u16,
    /// Signature over [`vote_signing_bytes`].
    pub signature: Signature,
}

impl Vote {
    /// Signs a vote.
    pub fn sign(
        chain: &ChainId,
        block_hash: Hash,
        height: Height,
        round: Round,
        signer: u16,
        key: &SecretKey,
    ) -> Vote {
        let signature = key.sign(&vote_signing_bytes(chain, &block_hash, height, round));
        Vote {
            block_hash,
            height,
            round,
            signer,
            signature,
        }
    }

    /// Checks the signer is a validator and the signature is theirs.
    pub fn verify(&self, committee: &Committee) -> Result<(), VerifyError> {
        let v = committee
            .validators
            .get(self.signer)
            .ok_or(VerifyError::UnknownSigner {
                index: self.signer,
                count: committee.validators.len(),
            })?;
        let msg = vote_signing_bytes(
            &committee.chain_id,
            &self.block_hash,
            self.height,
            self.round,
        );
        crate::crypto::verify(&v.address, &msg, &self.signature)
    }
}

impl Encode for Vote {
    fn encode_to(&self, w: &mut Writer) {
        w.raw(&self.block_hash.0)
            .u64(self.height.0)
            .u64(self.round.0)
            .u16(self.signer);
        self.signature.encode_to(w);
    }
}

impl Decode for Vote {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Vote {
            block_hash: Hash(r.array("block_hash")?),
            height: Height(r.u64("height")?),
            round: Round(r.u64("round")?),
            signer: r.u16("signer")?,
            signature: Signature::decode_from(r)?,
        })
    }
}

/// A quorum certificate: > 2/3 of the voting power voted for `block_hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumCertificate {
    /// The certified block.
    pub block_hash: Hash,
    /// Its height.
    pub height: Height,
    /// Its round.
    pub round: Round,
    /// `(signer index, signature)`, signer indices strictly ascending.
    pub signatures: Vec<(u16, Signature)>,
}

impl QuorumCertificate {
    /// The certificate for the genesis block: round 0, no signatures.
    pub fn genesis(genesis_hash: Hash) -> QuorumCertificate {
        QuorumCertificate {
            block_hash: genesis_hash,
            height: Height(0),
            round: Round(0),
            signatures: Vec::new(),
        }
    }

    /// Verifies signers, quorum and every signature (batched).
    pub fn verify(&self, committee: &Committee) -> Result<(), VerifyError> {
        if self.round == Round(0) {
            return if *self == QuorumCertificate::genesis(committee.genesis_hash) {
                Ok(())
            } else {
                Err(VerifyError::BadGenesisCertificate {
                    expected: committee.genesis_hash,
                })
            };
        }
        if self.height == Height(0) {
            return Err(VerifyError::Malformed(
                "a certificate above round 0 cannot certify height 0",
            ));
        }
        let vals = &committee.validators;
        check_signers(self.signatures.iter().map(|(i, _)| *i), vals)?;
        let msg = vote_signing_bytes(
            &committee.chain_id,
            &self.block_hash,
            self.height,
            self.round,
        );
        let mut batch = BatchVerifier::with_capacity(self.signatures.len());
        for (i, sig) in &self.signatures {
            batch.push(vals.validators()[*i as usize].address, &msg, *sig);
        }
        batch
            .verify()
            .map_err(|e| first_bad_signer(e, &self.signatures, vals))
    }
}

impl Encode for QuorumCertificate {
    fn encode_to(&self, w: &mut Writer) {
        w.raw(&self.block_hash.0)
            .u64(self.height.0)
            .u64(self.round.0);
        w.u16(self.signatures.len() as u16);
        for (i, sig) in &self.signatures {
            w.u16(*i);
            sig.encode_to(w);
        }
    }
}

impl Decode for QuorumCertificate {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let block_hash = Hash(r.array("qc.block_hash")?);
        let height = Height(r.u64("qc.height")?);
        let round = Round(r.u64("qc.round")?);
        let n = r.u16("qc.signatures count")? as usize;
        let n = r.bounded(n, ValidatorSet::MAX_VALIDATORS, "qc.signatures")?;
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            let i = r.u16("qc.signer")?;
            ascending(signatures.last().map(|(j, _)| *j), i, "qc.signatures")?;
            signatures.push((i, Signature::decode_from(r)?));
        }
        Ok(QuorumCertificate {
            block_hash,
            height,
            round,
            signatures,
        })
    }
}

/// A signed timeout: the signer gives up on `round`, carrying its highest QC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// The round timed out.
    pub round: Round,
    /// The signer's highest quorum certificate.
    pub high_qc: QuorumCertificate,
    /// Index of the signer.
    pub signer: u16,
    /// Signature over [`timeout_signing_bytes`]`(round, high_qc.round)`.
    pub signature: Signature,
}

impl Timeout {
    /// Signs a timeout.
    pub fn sign(
        chain: &ChainId,
        round: Round,
        high_qc: QuorumCertificate,
        signer: u16,
        key: &SecretKey,
    ) -> Timeout {
        let signature = key.sign(&timeout_signing_bytes(chain, round, high_qc.round));
        Timeout {
            round,
            high_qc,
            signer,
            signature,
        }
    }

    /// Checks the signer, the signature and the carried QC.
    pub fn verify(&self, committee: &Committee) -> Result<(), VerifyError> {
        if self.high_qc.round >= self.round {
            return Err(VerifyError::Malformed(
                "timeout's high QC must be from an earlier round",
            ));
        }
        let v = committee
            .validators
            .get(self.signer)
            .ok_or(VerifyError::UnknownSigner {
                index: self.signer,
                count: committee.validators.len(),
            })?;
        let msg = timeout_signing_bytes(&committee.chain_id, self.round, self.high_qc.round);
        crate::crypto::verify(&v.address, &msg, &self.signature)?;
        self.high_qc.verify(committee)
    }
}

impl Encode for Timeout {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.round.0);
        self.high_qc.encode_to(w);
        w.u16(self.signer);
        self.signature.encode_to(w);
    }
}

impl Decode for Timeout {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Timeout {
            round: Round(r.u64("timeout.round")?),
            high_qc: QuorumCertificate::decode_from(r)?,
            signer: r.u16("timeout.signer")?,
            signature: Signature::decode_from(r)?,
        })
    }
}

/// A timeout certificate: > 2/3 of the voting power timed out of `round`.
///
/// It carries the highest of its signers' high QCs, and is valid only if that
/// QC's round is exactly the highest round the signers signed: a block extending
/// a TC must extend a QC at least that high (2-chain voting rule), so whoever
/// holds the TC holds such a QC. Without it, one Byzantine aggregator could
/// add an entry claiming a QC nobody has and leave the next leader unable to
/// propose (as in Aptos's 2-chain TC, which carries its highest QC too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeoutCertificate {
    /// The round that timed out.
    pub round: Round,
    /// The highest QC among the signers' timeouts; its round is the highest
    /// high-QC round in `signatures`.
    pub high_qc: QuorumCertificate,
    /// `(signer index, signer's high QC round, signature)`, signers strictly ascending.
    pub signatures: Vec<(u16, Round, Signature)>,
}

impl TimeoutCertificate {
    /// The highest high-QC round any signer reported: a block carrying this TC
    /// must extend a QC at least this high (2-chain voting rule).
    pub fn max_high_qc_round(&self) -> Round {
        self.signatures
            .iter()
            .map(|(_, r, _)| *r)
            .max()
            .unwrap_or_default()
    }

    /// Verifies signers, quorum, that the carried high QC is valid and is
    /// for exactly the highest round signed, and every signature (batched).
    pub fn verify(&self, committee: &Committee) -> Result<(), VerifyError> {
        if self.round == Round(0) {
            return Err(VerifyError::Malformed("no timeout certificate for round 0"));
        }
        let vals = &committee.validators;
        check_signers(self.signatures.iter().map(|(i, _, _)| *i), vals)?;
        if self.signatures.iter().any(|(_, hq, _)| *hq >= self.round) {
            return Err(VerifyError::Malformed(
                "a signer's high QC round is not below the TC round",
            ));
        }
        if self.high_qc.round != self.max_high_qc_round() {
            return Err(VerifyError::Malformed(
                "the TC's high QC is not for the highest round its signers report",
            ));
        }
        self.high_qc.verify(committee)?;
        let msgs: Vec<Vec<u8>> = self
            .signatures
            .iter()
            .map(|(_, hq, _)| timeout_signing_bytes(&committee.chain_id, self.round, *hq))
            .collect();
        let mut batch = BatchVerifier::with_capacity(msgs.len());
        for ((i, _, sig), m) in self.signatures.iter().zip(&msgs) {
            batch.push(vals.validators()[*i as usize].address, m, *sig);
        }
        let pairs: Vec<(u16, Signature)> =
            self.signatures.iter().map(|(i, _, s)| (*i, *s)).collect();
        batch
            .verify()
            .map_err(|e| first_bad_signer(e, &pairs, vals))
    }
}

impl Encode for TimeoutCertificate {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.round.0);
        self.high_qc.encode_to(w);
        w.u16(self.signatures.len() as u16);
        for (i, hq, sig) in &self.signatures {
            w.u16(*i).u64(hq.0);
            sig.encode_to(w);
        }
    }
}

impl Decode for TimeoutCertificate {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let round = Round(r.u64("tc.round")?);
        let high_qc = QuorumCertificate::decode_from(r)?;
        let n = r.u16("tc.signatures count")? as usize;
        let n = r.bounded(n, ValidatorSet::MAX_VALIDATORS, "tc.signatures")?;
        let mut signatures = Vec::with_capacity(n);
        for _ in 0..n {
            let i = r.u16("tc.signer")?;
            ascending(signatures.last().map(|(j, _, _)| *j), i, "tc.signatures")?;
            let hq = Round(r.u64("tc.high_qc_round")?);
            signatures.push((i, hq, Signature::decode_from(r)?));
        }
        Ok(TimeoutCertificate {
            round,
            high_qc,
            signatures,
        })
    }
}

fn ascending(prev: Option<u16>, next: u16, field: &'static str) -> Result<(), DecodeError> {
    match prev {
        Some(p) if p >= next => Err(DecodeError::NotCanonical {
            field,
            reason: "signer indices must be strictly ascending (no duplicates)",
        }),
        _ => Ok(()),
    }
}

/// Signers known, unique, ascending, and holding a quorum of power.
fn check_signers(
    indices: impl Iterator<Item = u16>,
    vals: &ValidatorSet,
) -> Result<(), VerifyError> {
    let mut power: u64 = 0;
    let mut prev: Option<u16> = None;
    for i in indices {
        let v = vals.get(i).ok_or(VerifyError::UnknownSigner {
            index: i,
            count: vals.len(),
        })?;
        if prev.is_some_and(|p| p >= i) {
            return Err(VerifyError::DuplicateSigner { index: i });
        }
        prev = Some(i);
        power += v.power;
    }
    if power < vals.quorum_power() {
        return Err(VerifyError::NoQuorum {
            have: power,
            need: vals.quorum_power(),
        });
    }
    Ok(())
}

fn first_bad_signer(e: VerifyError, sigs: &[(u16, Signature)], vals: &ValidatorSet) -> VerifyError {
    match e {
        VerifyError::BadSignatures { positions } => match positions.first() {
            Some(&p) => VerifyError::BadSignature {
                signer: vals.validators()[sigs[p].0 as usize].address,
            },
            None => VerifyError::BadSignatures { positions },
        },
        other => other,
    }
}
