//! Safety rules: what a validator may sign, and the data that must survive a
//! restart so it never signs two different things for one round.
//!
//! - Vote at most once per round, and never in a round already timed out of.
//! - 2-chain voting rule: vote for a block of round `r` only if its QC is for
//!   `r - 1`, or it carries TC(`r - 1`) and its QC is at least as high as every
//!   high QC in that TC (the lock).
//! - Sign at most one timeout per round; it carries our highest QC.
//!
//! [`SafetyData`] is emitted as `Output::Persist` before the vote or timeout that
//! depends on it. After a restart the same vote or timeout may be re-sent (it is
//! the same signed message), never a different one.

use cairn_ledger::codec::{Reader, Writer};
use cairn_ledger::{
    ChainId, Decode, DecodeError, Encode, Hash, Height, QuorumCertificate, Round, SecretKey,
    Timeout, TimeoutCertificate, Vote,
};

use crate::config::{Config, PlantedBug};

/// What a validator persists before it signs a vote or timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyData {
    /// Highest round voted or timed out in; no vote at or below it.
    pub last_voted_round: Round,
    /// The last vote signed, re-sent unchanged if asked again after a restart.
    pub last_vote: Option<Vote>,
    /// Highest QC seen; timeouts carry it (its round is the lock).
    pub high_qc: QuorumCertificate,
    /// The last timeout signed (its round is the highest timeout round).
    pub last_timeout: Option<Timeout>,
    /// The highest TC seen. Not needed for safety but for liveness: after a
    /// restart it still proves why we left its round, to laggards that missed it.
    pub high_tc: Option<TimeoutCertificate>,
}

impl SafetyData {
    /// Fresh data for a chain at genesis.
    pub fn genesis(genesis_hash: Hash) -> SafetyData {
        SafetyData {
            last_voted_round: Round(0),
            last_vote: None,
            high_qc: QuorumCertificate::genesis(genesis_hash),
            last_timeout: None,
            high_tc: None,
        }
    }

    /// The lock: the round of the highest QC.
    pub fn locked_round(&self) -> Round {
        self.high_qc.round
    }

    /// The highest round timed out of.
    pub fn highest_timeout_round(&self) -> Round {
        self.last_timeout
            .as_ref()
            .map(|t| t.round)
            .unwrap_or_default()
    }
}

impl Encode for SafetyData {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.last_voted_round.0);
        self.high_qc.encode_to(w);
        match &self.last_vote {
            None => w.u8(0),
            Some(v) => w.u8(1).raw(&v.to_bytes()),
        };
        match &self.last_timeout {
            None => w.u8(0),
            Some(t) => w.u8(1).raw(&t.to_bytes()),
        };
        match &self.high_tc {
            None => w.u8(0),
            Some(tc) => w.u8(1).raw(&tc.to_bytes()),
        };
    }
}

impl Decode for SafetyData {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let last_voted_round = Round(r.u64("last_voted_round")?);
        let high_qc = QuorumCertificate::decode_from(r)?;
        let last_vote = match r.u8("last_vote flag")? {
            0 => None,
            1 => Some(Vote::decode_from(r)?),
            v => return Err(unknown("last_vote flag", v)),
        };
        let last_timeout = match r.u8("last_timeout flag")? {
            0 => None,
            1 => Some(Timeout::decode_from(r)?),
            v => return Err(unknown("last_timeout flag", v)),
        };
        let high_tc = match r.u8("high_tc flag")? {
            0 => None,
            1 => Some(TimeoutCertificate::decode_from(r)?),
            v => return Err(unknown("high_tc flag", v)),
        };
        Ok(SafetyData {
            last_voted_round,
            last_vote,
            high_qc,
            last_timeout,
            high_tc,
        })
    }
}

fn unknown(field: &'static str, v: u8) -> DecodeError {
    DecodeError::UnknownTag {
        field,
        value: v.into(),
    }
}

/// Why the safety rules refuse a vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Already voted or timed out in this round or a later one.
    AlreadyVoted {
        /// Last voted round.
        last_voted_round: Round,
    },
    /// The block's round is not above its QC's round.
    RoundNotAfterQc,
    /// Neither QC(r-1) nor TC(r-1) justifies the round.
    NoCertificateForPreviousRound,
    /// Carries TC(r-1) but extends a QC below the TC's highest (the lock).
    BelowTcHighQc {
        /// The block's QC round.
        qc_round: Round,
        /// The TC's highest high-QC round.
        required: Round,
    },
}

/// What to do about a vote request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoteDecision {
    /// A new vote: persist, then send.
    New(Vote),
    /// The vote already signed for this round and block (after a restart): re-send.
    Resend(Vote),
    /// Refused.
    Refuse(Refusal),
}

/// The 2-chain voting rule for a block of `round` with QC round `qc_round`.
pub fn voting_rule(
    data: &SafetyData,
    round: Round,
    qc_round: Round,
    tc: Option<&TimeoutCertificate>,
    config: &Config,
) -> Result<(), Refusal> {
    // Vote at most once per round (planted bug b: allow the same round again).
    let fresh = if config.has_bug(PlantedBug::VoteTwice) {
        round >= data.last_voted_round
    } else {
        round > data.last_voted_round
    };
    if !fresh {
        return Err(Refusal::AlreadyVoted {
            last_voted_round: data.last_voted_round,
        });
    }
    if round <= qc_round {
        return Err(Refusal::RoundNotAfterQc);
    }
    if qc_round.next() == round {
        return Ok(());
    }
    match tc {
        Some(tc) if tc.round.next() == round => {
            let required = tc.max_high_qc_round();
            // The lock (planted bug a: skip it).
            if qc_round >= required || config.has_bug(PlantedBug::VoteWithoutLock) {
                Ok(())
            } else {
                Err(Refusal::BelowTcHighQc { qc_round, required })
            }
        }
        _ => Err(Refusal::NoCertificateForPreviousRound),
    }
}

/// Decides and, if allowed, signs a vote; updates `data` (the caller persists it).
#[allow(clippy::too_many_arguments)]
pub fn decide_vote(
    data: &mut SafetyData,
    config: &Config,
    key: &SecretKey,
    signer: u16,
    block_hash: Hash,
    height: Height,
    round: Round,
    qc_round: Round,
    tc: Option<&TimeoutCertificate>,
) -> VoteDecision {
    if let Some(v) = &data.last_vote {
        if v.round == round && v.block_hash == block_hash {
            return VoteDecision::Resend(v.clone());
        }
    }
    if let Err(refusal) = voting_rule(data, round, qc_round, tc, config) {
        return VoteDecision::Refuse(refusal);
    }
    let chain: &ChainId = &config.committee.chain_id;
    let vote = Vote::sign(chain, block_hash, height, round, signer, key);
    data.last_voted_round = round;
    data.last_vote = Some(vote.clone());
    VoteDecision::New(vote)
}

/// What to do about timing out of a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeoutDecision {
    /// A new timeout: persist, then broadcast.
    New(Timeout),
    /// Already timed out of this round: re-broadcast the same message.
    Resend(Timeout),
    /// We voted or timed out in a later round; nothing to sign.
    Refuse,
}

/// Timeout rule: at most one timeout per round, carrying our highest QC, and
/// none for a round below one we already voted in. Afterwards no vote in `round`.
pub fn decide_timeout(
    data: &mut SafetyData,
    config: &Config,
    key: &SecretKey,
    signer: u16,
    round: Round,
) -> TimeoutDecision {
    if let Some(t) = &data.last_timeout {
        if t.round == round {
            return TimeoutDecision::Resend(t.clone());
        }
        if t.round > round {
            return TimeoutDecision::Refuse;
        }
    }
    if round < data.last_voted_round || data.high_qc.round >= round {
        return TimeoutDecision::Refuse;
    }
    let chain = &config.committee.chain_id;
    let timeout = Timeout::sign(chain, round, data.high_qc.clone(), signer, key);
    data.last_voted_round = round;
    data.last_timeout = Some(timeout.clone());
    TimeoutDecision::New(timeout)
}

/// Keeps the highest TC.
pub fn observe_tc(data: &mut SafetyData, tc: &TimeoutCertificate) {
    if data.high_tc.as_ref().is_none_or(|t| tc.round > t.round) {
        data.high_tc = Some(tc.clone());
    }
}

/// Raises the high QC (the lock) if `qc` is higher. Returns true if it changed.
pub fn observe_qc(data: &mut SafetyData, qc: &QuorumCertificate) -> bool {
    if qc.round > data.high_qc.round {
        data.high_qc = qc.clone();
        true
    } else {
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testutil;

    fn data(last_voted: u64, timed_out: Option<u64>) -> SafetyData {
        let (committee, keys, genesis) = testutil::committee(4);
        let mut d = SafetyData::genesis(genesis.hash());
        d.last_voted_round = Round(last_voted);
        d.last_timeout = timed_out.map(|r| {
            Timeout::sign(
                &committee.chain_id,
                Round(r),
                d.high_qc.clone(),
                0,
                &keys[0],
            )
        });
        d
    }

    /// The 2-chain voting rule, case by case:
    /// (last voted round, block round, QC round, TC (round, high-QC rounds), expected).
    #[test]
    fn voting_rule_table() {
        use Refusal::*;
        let (committee, keys, _) = testutil::committee(4);
        let config = testutil::config(&committee, &keys, 0);
        type Case = (
            u64,
            u64,
            u64,
            Option<(u64, &'static [u64])>,
            Result<(), Refusal>,
        );
        let cases: [Case; 10] = [
            (4, 5, 4, None, Ok(())), // QC(r-1): vote
            (
                5,
                5,
                4,
                None,
                Err(AlreadyVoted {
                    last_voted_round: Round(5),
                }),
            ), // once per round
            (
                6,
                5,
                4,
                None,
                Err(AlreadyVoted {
                    last_voted_round: Round(6),
                }),
            ), // older round
            (4, 5, 3, None, Err(NoCertificateForPreviousRound)), // gap without TC
            (4, 5, 3, Some((4, &[3, 2, 3])), Ok(())), // TC(r-1), QC >= its highest
            (
                4,
                5,
                2,
                Some((4, &[3, 2, 3])),
                Err(BelowTcHighQc {
                    qc_round: Round(2),
                    required: Round(3),
                }),
            ), // the lock
            (
                4,
                5,
                3,
                Some((3, &[2, 2, 2])),
                Err(NoCertificateForPreviousRound),
            ), // TC of the wrong round
            (4, 5, 5, None, Err(RoundNotAfterQc)), // QC not below block
            (0, 1, 0, None, Ok(())), // first block after genesis
            (9, 12, 10, Some((11, &[10, 10, 9])), Ok(())), // jump after a timeout
        ];
        for (i, (lvr, round, qc_round, tc, expected)) in cases.into_iter().enumerate() {
            let d = data(lvr, None);
            let tc = tc.map(|(r, hq)| testutil::tc(&committee, &keys, r, hq));
            let got = voting_rule(&d, Round(round), Round(qc_round), tc.as_ref(), &config);
            assert_eq!(got, expected, "case {i}");
        }
    }

    #[test]
    fn vote_decisions_across_a_restart() {
        let (committee, keys, _) = testutil::committee(4);
        let config = testutil::config(&committee, &keys, 0);
        let mut d = data(0, None);
        let (a, b) = (Hash::digest(b"a"), Hash::digest(b"b"));
        let vote = |d: &mut SafetyData, h| {
            decide_vote(
                d,
                &config,
                &keys[0],
                0,
                h,
                Height(1),
                Round(1),
                Round(0),
                None,
            )
        };
        let VoteDecision::New(first) = vote(&mut d, a) else {
            panic!("first vote refused")
        };
        d.high_tc = Some(testutil::tc(&committee, &keys, 3, &[0, 0, 0]));
        // Persisted, restarted, asked again: the same vote is re-sent, never another.
        let mut restored = SafetyData::from_bytes(&d.to_bytes()).unwrap();
        assert_eq!(restored, d);
        assert_eq!(vote(&mut restored, a), VoteDecision::Resend(first));
        assert!(matches!(vote(&mut restored, b), VoteDecision::Refuse(_)));
    }

    /// Timeout rule: (last voted round, earlier timeout round, high QC round,
    /// round to time out, expected kind).
    #[test]
    fn timeout_rule_table() {
        let (committee, keys, genesis) = testutil::committee(4);
        let config = testutil::config(&committee, &keys, 0);
        #[derive(Debug, PartialEq)]
        enum K {
            New,
            Resend,
            Refuse,
        }
        let cases = [
            (4, None, 0, 5, K::New),       // plain timeout
            (5, None, 0, 5, K::New),       // voted in the round, then time out: allowed
            (6, None, 0, 5, K::Refuse),    // voted in a later round
            (5, Some(5), 0, 5, K::Resend), // one timeout per round: same message again
            (7, Some(7), 0, 5, K::Refuse), // timed out of a later round
            (4, None, 5, 5, K::Refuse),    // a QC for the round exists: no timeout
        ];
        for (i, (lvr, to, hq, round, expected)) in cases.into_iter().enumerate() {
            let mut d = data(lvr, to);
            if hq > 0 {
                d.high_qc = testutil::qc(&committee, &keys, genesis.hash(), 1, hq, 3);
            }
            let got = decide_timeout(&mut d, &config, &keys[0], 0, Round(round));
            let kind = match &got {
                TimeoutDecision::New(t) => {
                    assert_eq!(t.high_qc, d.high_qc, "case {i}: carries the high QC");
                    assert!(
                        d.last_voted_round >= Round(round),
                        "case {i}: no vote after"
                    );
                    K::New
                }
                TimeoutDecision::Resend(_) => K::Resend,
                TimeoutDecision::Refuse => K::Refuse,
            };
            assert_eq!(kind, expected, "case {i}");
        }
        // After timing out of round 5, a vote in round 5 is refused.
        let mut d = data(4, None);
        assert!(matches!(
            decide_timeout(&mut d, &config, &keys[0], 0, Round(5)),
            TimeoutDecision::New(_)
        ));
        assert_eq!(
            voting_rule(&d, Round(5), Round(4), None, &config),
            Err(Refusal::AlreadyVoted {
                last_voted_round: Round(5)
            })
        );
    }
}
