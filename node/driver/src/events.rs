//! Network events: gossip to validate, direct consensus messages, requests
//! to answer.

use cairn_consensus::{Input, Message};
use cairn_ledger::{Height, SignedTransaction};

use super::{Driver, Verdict};
use crate::sync;
use cairn_mempool::{MempoolError, Origin};
use cairn_network::{
    ErrorCode, GossipPayload, MessageId, Misbehaviour, NetworkEvent, PeerId, PeerStatus, Request,
    Responder, Response, Validation,
};

impl Driver {
    pub(super) async fn on_network(&mut self, ev: NetworkEvent) {
        match ev {
            NetworkEvent::Gossip {
                source,
                id,
                payload: GossipPayload::Consensus(msg),
            } => self.on_consensus_gossip(source, id, msg).await,
            NetworkEvent::Gossip {
                source,
                id,
                payload: GossipPayload::Txs(txs),
            } => self.on_tx_gossip(source, id, txs),
            NetworkEvent::Direct { peer, message } => {
                if self.sync.is_some() {
                    self.hold(Input::Message(message));
                } else if self.feed(Input::Message(message)).await == Verdict::Forged {
                    let _ = self.net.penalise(peer, Misbehaviour::BadSignature).await;
                }
            }
            NetworkEvent::Request {
                peer: _,
                request: Request::SyncBlocks { from, max },
                respond,
            } => self.serve_sync_request(from, max, respond),
            NetworkEvent::Request {
                peer: _,
                request,
                respond,
            } => {
                let response = self.answer(request);
                respond.respond(response);
            }
            NetworkEvent::PeerConnected(peer) => {
                tracing::debug!(%peer, "peer connected");
                self.metrics
                    .peers
                    .set(self.net.connected_peers().len() as i64);
            }
            NetworkEvent::PeerDisconnected(peer) => {
                tracing::debug!(%peer, "peer disconnected");
                self.metrics
                    .peers
                    .set(self.net.connected_peers().len() as i64);
            }
        }
    }

    /// A gossiped consensus message: checked by the core, and the verdict
    /// told to gossipsub (forward, drop, or blame the sender).
    async fn on_consensus_gossip(&mut self, source: PeerId, id: MessageId, msg: Message) {
        // A paused core (syncing) gets it after the sync (bounded);
        // unchecked meanwhile, so it is not forwarded.
        let verdict = if self.sync.is_some() {
            self.hold(Input::Message(msg));
            Verdict::Refused
        } else {
            self.feed(Input::Message(msg)).await
        };
        let outcome = match verdict {
            Verdict::Accepted => Validation::Accept,
            Verdict::Refused => Validation::Ignore,
            // An honest forwarder checks what it forwards: a message
            // that does not verify blames the peer that sent it.
            Verdict::Forged => {
                let _ = self.net.penalise(source, Misbehaviour::BadSignature).await;
                Validation::Reject
            }
        };
        let _ = self.net.report_validation(id, source, outcome).await;
    }

    /// Gossiped transactions: into the mempool, their signatures checked on
    /// the rayon pool, off this task.
    fn on_tx_gossip(&mut self, source: PeerId, id: MessageId, txs: Vec<SignedTransaction>) {
        let mempool = self.mempool.clone();
        let store = self.store.clone();
        let net = self.net.clone();
        self.env.spawn(async move {
            let results = mempool
                .submit_decoded(txs.into_iter().map(Ok).collect(), Origin::Peer, &*store)
                .await;
            let forged = results
                .iter()
                .any(|r| matches!(r, Err(MempoolError::BadSignature { .. })));
            let verdict = if forged {
                Validation::Reject
            } else {
                Validation::Accept
            };
            if forged {
                let _ = net.penalise(source, Misbehaviour::BadSignature).await;
            }
            let _ = net.report_validation(id, source, verdict).await;
        });
    }

    /// A block sync request: reading up to a batch of blocks is disk work,
    /// so it runs off this task, a few at a time (peers choose how many
    /// they ask for).
    fn serve_sync_request(&mut self, from: Height, max: u16, respond: Responder) {
        let Ok(permit) = self.sync_serving.clone().try_acquire_owned() else {
            respond.respond(Response::Error(ErrorCode::Unavailable));
            return;
        };
        let store = self.store.clone();
        self.env.spawn_cpu(move || {
            respond.respond(serve_sync(&store, from, max));
            drop(permit);
        });
    }

    fn answer(&self, request: Request) -> Response {
        match request {
            Request::Status => {
                let committed_height = match self.store.tip() {
                    Ok(Some(t)) => t.height,
                    _ => Height(0),
                };
                Response::Status(PeerStatus {
                    committed_height,
                    round: self.core.round(),
                })
            }
            Request::FetchBlock { hash } => {
                if let Some(b) = self.core.block(&hash) {
                    return Response::Block(Some(b.clone()));
                }
                match self.store.block_by_hash(&hash) {
                    Ok(b) => Response::Block(b),
                    Err(_) => Response::Error(ErrorCode::Unavailable),
                }
            }
            Request::SyncBlocks { from, max } => serve_sync(&self.store, from, max),
            // The network delivers these as `Direct` events.
            Request::Consensus(_) => Response::Ack,
        }
    }
}

/// The answer to a block sync request.
fn serve_sync(store: &cairn_ledger::store::Store, from: Height, max: u16) -> Response {
    match sync::serve(store, from, max as usize) {
        Ok(batch) => Response::Blocks(batch),
        Err(e) => {
            tracing::warn!(error = %e, "cannot serve block sync");
            Response::Error(ErrorCode::Unavailable)
        }
    }
}
