//! The network task's side of `/cairn/rr/1`: inbound requests go to the node
//! with a [`Responder`] (or are acknowledged at once, for consensus
//! messages); answers to our requests go back to whoever asked; bad frames
//! cost the sender points.

use std::sync::atomic::Ordering;

use futures::FutureExt;
use libp2p::request_response::{self as rr, ResponseChannel};
use libp2p::PeerId;
use tokio::sync::oneshot;
use tracing::debug;

use super::codec::{FrameError, WireRequest};
use super::error::NetError;
use super::event::{NetworkEvent, Responder};
use super::peers::Misbehaviour;
use super::task::Task;
use super::wire::{ErrorCode, Request, Response};

impl Task {
    pub(crate) fn on_rr(&mut self, event: rr::Event<WireRequest, Response>) {
        match event {
            rr::Event::Message {
                peer,
                message:
                    rr::Message::Request {
                        request, channel, ..
                    },
                ..
            } => match request {
                WireRequest::Valid(request) => self.on_request(peer, request, channel),
                WireRequest::Refused(bad) => {
                    self.bad_frame(peer, &bad);
                    let answer = Response::Error(ErrorCode::BadRequest);
                    let _ = self.swarm.behaviour_mut().rr.send_response(channel, answer);
                }
            },
            rr::Event::Message {
                peer,
                message:
                    rr::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some((_, reply)) = self.outbound.remove(&request_id) {
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(Ok(response));
                        }
                        None if response != Response::Ack => {
                            debug!(%peer, ?response, "consensus message not acknowledged");
                        }
                        None => {}
                    }
                }
            }
            rr::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let rr::OutboundFailure::Io(e) = &error {
                    self.frame_failure(peer, e);
                }
                let err = match error {
                    rr::OutboundFailure::Timeout => NetError::Timeout { peer },
                    other => NetError::RequestFailed {
                        peer,
                        why: other.to_string(),
                    },
                };
                debug!(%peer, error = %err, "outbound request failed");
                if let Some((_, Some(reply))) = self.outbound.remove(&request_id) {
                    let _ = reply.send(Err(err));
                }
            }
            rr::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "inbound request failed");
            }
            rr::Event::ResponseSent { .. } => {}
        }
    }

    /// Penalises a peer whose response frame was oversized or malformed.
    fn frame_failure(&mut self, peer: PeerId, error: &std::io::Error) {
        if let Some(bad) = FrameError::from_io(error) {
            let bad = bad.clone();
            self.bad_frame(peer, &bad);
        }
    }

    fn bad_frame(&mut self, peer: PeerId, bad: &FrameError) {
        let why = match bad {
            FrameError::TooLarge { .. } => Misbehaviour::Oversized,
            FrameError::Malformed(_) => Misbehaviour::Malformed,
        };
        debug!(%peer, error = %bad, "bad frame");
        self.shared
            .counters
            .malformed
            .fetch_add(1, Ordering::Relaxed);
        self.penalise(peer, why);
    }

    fn on_request(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
        if let Request::Consensus(message) = request {
            let answer = match self.events.try_send(NetworkEvent::Direct { peer, message }) {
                Ok(()) => Response::Ack,
                Err(_) => self.refuse(),
            };
            let _ = self.swarm.behaviour_mut().rr.send_response(channel, answer);
            return;
        }
        let (tx, rx) = oneshot::channel();
        let event = NetworkEvent::Request {
            peer,
            request,
            respond: Responder(tx),
        };
        if self.events.try_send(event).is_err() {
            let busy = self.refuse();
            let _ = self.swarm.behaviour_mut().rr.send_response(channel, busy);
            return;
        }
        let timeout = self.request_timeout;
        self.answers.push(
            async move {
                let response = match tokio::time::timeout(timeout, rx).await {
                    Ok(Ok(response)) => response,
                    // Dropped unanswered, or too slow: say so.
                    Ok(Err(_)) | Err(_) => Response::Error(ErrorCode::Unavailable),
                };
                (channel, response)
            }
            .boxed(),
        );
    }

    fn refuse(&self) -> Response {
        self.shared
            .counters
            .requests_refused
            .fetch_add(1, Ordering::Relaxed);
        Response::Error(ErrorCode::Busy)
    }
}
