//! One simulated validator: the real consensus core plus what a node keeps
//! durable across a crash (persisted safety data, the committed chain, the
//! application state) and what it loses (the core's memory, timers, replies).

use std::collections::BTreeMap;

use cairn_consensus::{Consensus, SafetyData};
use cairn_ledger::{Block, Hash, QuorumCertificate, SecretKey};

use super::app::App;
use crate::adversary::Adversary;

/// How a node behaves.
#[derive(Debug)]
pub enum Role {
    /// Follows the protocol; held to every invariant.
    Honest,
    /// Runs a real core but misbehaves on top of it (`None` only while its
    /// adversary is at work: see `byzantine.rs`).
    Byzantine(Option<Box<Adversary>>),
    /// One of two honest-looking nodes sharing a key.
    Twin,
}

/// A simulated node.
#[derive(Debug)]
pub struct SimNode {
    /// Its validator index (shared by twins).
    pub validator: u16,
    /// Its key.
    pub key: SecretKey,
    /// Honest, Byzantine or twin.
    pub role: Role,
    /// The running core; `None` while crashed.
    pub core: Option<Consensus>,
    /// Bumped on every crash so replies and timers from before it are dropped.
    pub incarnation: u64,
    /// Bumped on every `ScheduleTimeout`: only the latest timer fires.
    pub timer_gen: u64,
    /// The bytes of the last safety data made durable: a restart decodes them.
    pub persisted_bytes: Vec<u8>,
    /// `persisted_bytes` decoded at persist time (what a restart will read),
    /// against which persist-before-send is checked.
    pub persisted: SafetyData,
    /// The committed chain with a QC per block, genesis first (durable).
    pub committed: Vec<(Block, QuorumCertificate)>,
    /// Index into `committed` by block hash.
    pub by_hash: BTreeMap<Hash, usize>,
    /// Blocks stored on `PersistBlock` (durable), pruned as they commit.
    pub pending_blocks: BTreeMap<Hash, Block>,
    /// The application (durable state, mempool).
    pub app: App,
    /// Crash in the middle of the next input's outputs.
    pub crash_armed: bool,
}

impl SimNode {
    /// True for nodes held to the invariants.
    pub fn is_honest(&self) -> bool {
        matches!(self.role, Role::Honest)
    }

    /// The committed block and its certificate at the tip.
    pub fn tip(&self) -> &(Block, QuorumCertificate) {
        &self.committed[self.committed.len() - 1]
    }

    /// Stores a committed block.
    pub fn store(&mut self, block: Block, cert: QuorumCertificate) {
        let height = block.header.height;
        self.pending_blocks.retain(|_, b| b.header.height > height);
        self.by_hash.insert(block.hash(), self.committed.len());
        self.committed.push((block, cert));
    }

    /// A block this node can serve to a peer: uncommitted ones from the core,
    /// committed ones from the store.
    pub fn find_block(&self, hash: &Hash) -> Option<Block> {
        if let Some(b) = self.core.as_ref().and_then(|c| c.block(hash)) {
            return Some(b.clone());
        }
        self.by_hash.get(hash).map(|i| self.committed[*i].0.clone())
    }

    /// What it answers to a fetch of `hash`: the block and a run of its
    /// ancestors, nearest first (empty if it lacks the block).
    pub fn serve(&self, hash: Hash) -> Vec<Block> {
        let mut blocks = Vec::new();
        let mut cursor = hash;
        while blocks.len() < 32 {
            let Some(b) = self.find_block(&cursor) else {
                break;
            };
            cursor = b.header.parent_hash;
            let genesis = b.header.height.0 == 0;
            blocks.push(b);
            if genesis {
                break;
            }
        }
        blocks
    }
}
