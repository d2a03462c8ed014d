//! Decoding gossip off the swarm task.
//!
//! Decoding a transaction checks both keys are curve points (~10 µs each), so
//! a 10,000-transaction batch or a full proposal costs a few hundred
//! milliseconds of CPU. Done on the swarm task, that would stall every
//! connection (votes included) behind it; instead large messages are decoded
//! on the rayon pool and the result comes back to the task as a future. At
//! most [`MAX_DECODING`] messages are in flight; beyond that, gossip is
//! shed like it is when the node's queue is full.

use cairn_ledger::{ChainId, DecodeError};
use futures::future::BoxFuture;
use futures::FutureExt;
use libp2p::gossipsub::MessageId;
use libp2p::PeerId;
use tokio::sync::oneshot;

use super::event::GossipPayload;
use super::wire::{decode_consensus, decode_tx_batch};

/// Most gossip messages being decoded at once.
pub(crate) const MAX_DECODING: usize = 256;

/// Messages up to this size decode in place (a vote or a timeout takes
/// microseconds; a hop to another thread would cost more).
const INLINE_BYTES: usize = 8 * 1024;

/// Which topic a message came on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Txs,
    Consensus,
}

/// A decoded message: its forwarder, its id, and the outcome (`None` if the
/// decoding thread went away, which only happens at shutdown).
pub(crate) type Decoded = (
    PeerId,
    MessageId,
    Option<Result<GossipPayload, DecodeError>>,
);

fn decode_now(kind: Kind, data: &[u8], chain: &ChainId) -> Result<GossipPayload, DecodeError> {
    match kind {
        Kind::Txs => decode_tx_batch(data, chain).map(GossipPayload::Txs),
        Kind::Consensus => decode_consensus(data, chain).map(GossipPayload::Consensus),
    }
}

/// Decodes `data`, in place if small, else on the rayon pool.
pub(crate) fn decode(
    kind: Kind,
    data: Vec<u8>,
    chain: ChainId,
    source: PeerId,
    id: MessageId,
) -> BoxFuture<'static, Decoded> {
    if data.len() <= INLINE_BYTES {
        let result = decode_now(kind, &data, &chain);
        return futures::future::ready((source, id, Some(result))).boxed();
    }
    let (tx, rx) = oneshot::channel();
    rayon::spawn(move || {
        // The task may have stopped meanwhile; nothing to deliver then.
        let _ = tx.send(decode_now(kind, &data, &chain));
    });
    async move { (source, id, rx.await.ok()) }.boxed()
}
