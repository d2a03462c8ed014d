//! The simulated network: per-message delay (hence reordering), loss,
//! duplication, and partitions that cut traffic between groups until healed.

use cairn_consensus::Message;
use cairn_ledger::{Block, Hash, SignedTransaction};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Node index in the simulation (twins make this differ from a validator index).
pub type NodeId = usize;

/// What travels between simulated nodes.
// A simulation's packets live briefly in the event queue: size is not a concern.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Packet {
    /// A consensus message.
    Msg(Message),
    /// "Send me this block."
    FetchReq(Hash),
    /// A block and some of its ancestors, nearest first.
    FetchResp(Vec<Block>),
    /// A transaction for the mempool (gossip).
    Tx(SignedTransaction),
}

/// Link behaviour.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Shortest one-way delay.
    pub min_delay_ms: u64,
    /// Longest one-way delay.
    pub max_delay_ms: u64,
    /// Probability a message is lost.
    pub loss: f64,
    /// Probability a message is delivered twice.
    pub dup: f64,
}

/// Link state: the configuration and the current partition.
#[derive(Clone, Debug)]
pub struct Network {
    /// Current link behaviour.
    pub cfg: NetConfig,
    /// Group of each node while partitioned.
    partition: Option<Vec<u8>>,
    /// Nodes cut off from everyone until the given time.
    isolated: Vec<(NodeId, u64)>,
}

impl Network {
    /// A fully connected network.
    pub fn new(cfg: NetConfig) -> Network {
        Network {
            cfg,
            partition: None,
            isolated: Vec::new(),
        }
    }

    /// Cuts the network into groups (`groups[node]`).
    pub fn partition(&mut self, groups: Vec<u8>) {
        self.partition = Some(groups);
    }

    /// Heals every partition and isolation.
    pub fn heal(&mut self) {
        self.partition = None;
        self.isolated.clear();
    }

    /// Cuts `node` off from everyone until `until_ms`.
    pub fn isolate(&mut self, node: NodeId, until_ms: u64) {
        self.isolated.push((node, until_ms));
    }

    /// True while partitioned.
    pub fn is_partitioned(&self) -> bool {
        self.partition.is_some()
    }

    fn connected(&self, a: NodeId, b: NodeId, now_ms: u64) -> bool {
        if self
            .isolated
            .iter()
            .any(|(n, until)| (*n == a || *n == b) && now_ms < *until)
        {
            return false;
        }
        match &self.partition {
            None => true,
            Some(g) => g.get(a) == g.get(b),
        }
    }

    /// Delivery delays for one message: none if lost or cut, two if duplicated.
    pub fn delays(
        &self,
        rng: &mut ChaCha8Rng,
        from: NodeId,
        to: NodeId,
        reliable: bool,
        now_ms: u64,
    ) -> Vec<u64> {
        if !self.connected(from, to, now_ms) || (!reliable && rng.gen_bool(self.cfg.loss)) {
            return Vec::new();
        }
        let range = self.cfg.min_delay_ms..=self.cfg.max_delay_ms;
        let mut out = vec![rng.gen_range(range.clone())];
        if !reliable && rng.gen_bool(self.cfg.dup) {
            out.push(rng.gen_range(range));
        }
        out
    }
}
