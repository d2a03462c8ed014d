//! The node's network seen from a simulator: a [`NetworkHandle`] whose
//! commands go to a [`SimLink`] instead of a libp2p swarm. The simulator's
//! router reads the commands every node issues (the same encoded bytes the
//! swarm would send), decides delay, loss and partitions, and delivers
//! [`super::NetworkEvent`]s to the recipients. Everything above the link --
//! batching, encoding, the driver's use of the handle -- is production code.

use std::sync::Arc;
use std::time::Duration;

use libp2p::PeerId;
use tokio::sync::mpsc;

use super::handle::{Command, NetworkHandle, Shared};

/// Commands a simulated node's handle may queue before its callers wait
/// (as the swarm's command queue bounds them).
const SIM_COMMAND_QUEUE: usize = 1024;

/// The simulator's end of a node's network handle.
#[derive(Debug)]
pub struct SimLink {
    commands: mpsc::Receiver<Command>,
    peers: SimPeers,
}

/// Sets the peers a simulated node sees as connected (what libp2p's
/// connection events maintain for a real node).
#[derive(Clone, Debug)]
pub struct SimPeers(Arc<Shared>);

impl SimPeers {
    /// Replaces the connected peers.
    pub fn set(&self, peers: Vec<PeerId>) {
        *self.0.peers.write() = peers;
    }
}

impl SimLink {
    /// A handle for the node `local_peer_id` and the link the simulator reads.
    pub fn new(
        local_peer_id: PeerId,
        request_timeout: Duration,
        max_message_bytes: usize,
    ) -> (NetworkHandle, SimLink) {
        let (tx, rx) = mpsc::channel(SIM_COMMAND_QUEUE);
        let shared = Arc::new(Shared::default());
        let handle = NetworkHandle {
            commands: tx,
            shared: shared.clone(),
            local_peer_id,
            request_timeout,
            max_message_bytes,
        };
        (
            handle,
            SimLink {
                commands: rx,
                peers: SimPeers(shared),
            },
        )
    }

    /// The next command the node issued (`None` once every handle is gone).
    pub async fn recv(&mut self) -> Option<Command> {
        self.commands.recv().await
    }

    /// The node's connected-peers list, for the simulator to maintain.
    pub fn peers(&self) -> SimPeers {
        self.peers.clone()
    }
}
