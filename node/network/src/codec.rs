//! The `/cairn/rr/1` codec: length-prefixed frames with hard limits.
//!
//! Every frame is a little-endian `u32` length followed by that many bytes of
//! canonical encoding ([`super::wire`]). The length is checked against a hard
//! limit before anything is read, and the body is read through a bounded
//! reader, so memory grows with the bytes a peer actually sends, never with
//! what it claims. A bad request frame is read as [`WireRequest::Refused`]
//! (libp2p drops a `read_request` error without saying who sent it); a bad
//! response frame fails the request with an [`io::ErrorKind::InvalidData`]
//! error carrying a [`FrameError`]. Either way the network task penalises the
//! peer.

use std::io;

use async_trait::async_trait;
use cairn_ledger::{ChainId, DecodeError};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use super::wire::{ErrorCode, Request, Response};

/// Largest request frame that is not a consensus message. Sync, fetch and
/// status requests are a few dozen bytes.
const MAX_SMALL_REQUEST: usize = 1024;

/// Why a frame from a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The declared length is above the limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body did not decode.
    #[error("malformed frame: {0}")]
    Malformed(#[from] DecodeError),
}

impl FrameError {
    /// The [`FrameError`] inside an I/O error from the codec, if any.
    pub fn from_io(err: &io::Error) -> Option<&FrameError> {
        err.get_ref()?.downcast_ref::<FrameError>()
    }
}

/// A request as the codec carries it. Outbound requests are always `Valid`.
// A proposal (a whole block header inline) dwarfs the other variants; these
// values are moved once, from decoder to consumer, so boxing would only add
// an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum WireRequest {
    /// A well-formed request.
    Valid(Request),
    /// A peer's frame that was oversized or malformed; answered
    /// [`ErrorCode::BadRequest`] and penalised.
    Refused(FrameError),
}

fn invalid(e: FrameError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Reads one length-prefixed frame of at most `max` bytes.
pub async fn read_frame<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(invalid(FrameError::TooLarge { len, max }));
    }
    // Grows with the bytes that arrive, not with the declared length.
    let mut buf = Vec::new();
    (&mut *io).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("frame ended after {} of {len} bytes", buf.len()),
        ));
    }
    Ok(buf)
}

/// Writes one length-prefixed frame (the caller checked the limit).
pub async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
    io.write_all(&len.to_le_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
}

/// The `/cairn/rr/1` codec: frames with hard limits, bodies decoded for one chain.
#[derive(Clone, Debug)]
pub struct Codec {
    chain: ChainId,
    max_request: usize,
    max_response: usize,
}

impl Codec {
    /// A codec for `chain` with these frame limits.
    pub fn new(chain: ChainId, max_request: usize, max_response: usize) -> Self {
        Codec {
            chain,
            max_request,
            max_response,
        }
    }
}

#[async_trait]
impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = WireRequest;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<WireRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = match read_frame(io, self.max_request).await {
            Ok(body) => body,
            Err(e) => match FrameError::from_io(&e) {
                // Refused before reading the body: nothing more is read.
                Some(bad) => return Ok(WireRequest::Refused(bad.clone())),
                None => return Err(e),
            },
        };
        let req = match Request::decode(&body, &self.chain) {
            Ok(req) => req,
            Err(e) => return Ok(WireRequest::Refused(e.into())),
        };
        if !matches!(req, Request::Consensus(_)) && body.len() > MAX_SMALL_REQUEST {
            return Ok(WireRequest::Refused(FrameError::TooLarge {
                len: body.len(),
                max: MAX_SMALL_REQUEST,
            }));
        }
        Ok(WireRequest::Valid(req))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, self.max_response).await?;
        Response::decode(&body, &self.chain).map_err(|e| invalid(e.into()))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: WireRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let WireRequest::Valid(req) = req else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a refused request is never sent",
            ));
        };
        let body = req.to_bytes();
        if body.len() > self.max_request {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "request of {} bytes exceeds the limit of {}",
                    body.len(),
                    self.max_request
                ),
            ));
        }
        write_frame(io, &body).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        resp: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        // A block too large for a response cannot exist when the config is
        // valid (responses fit a block plus overhead); say so rather than hang.
        let body = match resp.encode_within(self.max_response) {
            Some(b) => b,
            None => Response::Error(ErrorCode::Unavailable)
                .encode_within(self.max_response)
                .unwrap_or_default(),
        };
        write_frame(io, &body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_checked_before_they_are_read() {
        let mut claim = (1u32 << 30).to_le_bytes().to_vec();
        claim.extend_from_slice(&[0; 16]);
        let err = read_frame(&mut &claim[..], 1024).await.unwrap_err();
        assert!(matches!(
            FrameError::from_io(&err),
            Some(FrameError::TooLarge {
                len: 1_073_741_824,
                max: 1024
            })
        ));
        // A length the sender does not honour is an EOF, not a hang or a panic.
        let mut short = 10u32.to_le_bytes().to_vec();
        short.extend_from_slice(&[1, 2, 3]);
        let err = read_frame(&mut &short[..], 1024).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").await.unwrap();
        assert_eq!(read_frame(&mut &buf[..], 5).await.unwrap(), b"hello");
    }
}
