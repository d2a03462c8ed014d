//! Messages validators exchange, and their wire encoding: a one-byte kind
//! (1 proposal, 2 vote, 3 timeout, 4 timeout certificate) followed by the ledger encoding of the body.

use cairn_ledger::codec::{Reader, Writer};
use cairn_ledger::{
    Decode, DecodeError, Encode, Proposal, Round, Timeout, TimeoutCertificate, Vote,
};

/// A consensus message between validators.
// Messages are moved one at a time, never stored in bulk; boxing the common
// variant would cost an allocation per message for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A leader's signed block, broadcast.
    Proposal(Proposal),
    /// A vote, sent to the next round's leader.
    Vote(Vote),
    /// A signed timeout, broadcast.
    Timeout(Timeout),
    /// A timeout certificate, broadcast by whoever forms it and sent to
    /// validators still timing out of an earlier round, so rounds re-align.
    TimeoutCertificate(TimeoutCertificate),
}

impl Message {
    /// The round the message is about.
    pub fn round(&self) -> Round {
        match self {
            Message::Proposal(p) => p.block.header.round,
            Message::Vote(v) => v.round,
            Message::Timeout(t) => t.round,
            Message::TimeoutCertificate(tc) => tc.round,
        }
    }
}

impl Encode for Message {
    fn encode_to(&self, w: &mut Writer) {
        match self {
            Message::Proposal(p) => {
                w.u8(1);
                p.encode_to(w);
            }
            Message::Vote(v) => {
                w.u8(2);
                v.encode_to(w);
            }
            Message::Timeout(t) => {
                w.u8(3);
                t.encode_to(w);
            }
            Message::TimeoutCertificate(tc) => {
                w.u8(4);
                tc.encode_to(w);
            }
        }
    }
}

impl Decode for Message {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8("message kind")? {
            1 => Ok(Message::Proposal(Proposal::decode_from(r)?)),
            2 => Ok(Message::Vote(Vote::decode_from(r)?)),
            3 => Ok(Message::Timeout(Timeout::decode_from(r)?)),
            4 => Ok(Message::TimeoutCertificate(
                TimeoutCertificate::decode_from(r)?,
            )),
            v => Err(DecodeError::UnknownTag {
                field: "message kind",
                value: v.into(),
            }),
        }
    }
}
