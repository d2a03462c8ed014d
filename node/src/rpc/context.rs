//! What the RPC server reads: the store, the mempool, the genesis, and the
//! consensus driver's published status and committed blocks.

use std::sync::Arc;

use cairn_genesis::Genesis;
use cairn_ledger::store::Store;
use tokio::sync::{broadcast, watch};

use cairn_driver::{CommittedBlock, NodeStatus};
use cairn_mempool::Mempool;

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
