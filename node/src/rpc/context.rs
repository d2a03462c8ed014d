//! What the RPC server reads: the store, the mempool, the genesis, and the
//! consensus driver's published status and committed blocks.

use std::sync::Arc;

use cairn_genesis::Genesis;
use cairn_ledger::store::Store;
use cairn_ledger::Round;
use tokio::sync::{broadcast, watch};

use crate::node::driver::CommittedBlock;
use cairn_mempool::Mempool;

/// Live facts only the consensus driver and the network know. The driver
/// publishes a new value through a `tokio::sync::watch` channel whenever one
/// changes; the server reads the latest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// The consensus round the node is in.
    pub round: Round,
    /// True while the node is catching up (block sync) rather than voting.
    pub syncing: bool,
    /// Connected peers.
    pub peers: u32,
}

/// Everything the handlers need; cheap to clone.
#[derive(Clone, Debug)]
pub struct RpcContext {
    /// The committed chain and state.
    pub store: Arc<Store>,
    /// Pending transactions; submissions go here.
    pub mempool: Arc<Mempool>,
    /// The driver's latest status.
    pub status: watch::Receiver<NodeStatus>,
    /// The chain's genesis file.
    pub genesis: Arc<Genesis>,
    /// Every block as it commits (the driver publishes; subscriptions read).
    pub committed: broadcast::Sender<CommittedBlock>,
}
