//! An in-memory node store for the state tree: genesis computation, tests and
//! the simulator. The RocksDB store implements the same `TreeReader`.

use std::collections::BTreeMap;

use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};

/// Tree nodes and values held in memory.
#[derive(Debug, Default, Clone)]
pub struct MemTreeStore {
    nodes: BTreeMap<NodeKey, Node>,
    values: BTreeMap<(KeyHash, Version), Option<OwnedValue>>,
}

impl MemTreeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the nodes and values of an update.
    pub fn apply(&mut self, batch: TreeUpdateBatch) {
        let nb = batch.node_batch;
        for (k, n) in nb.nodes() {
            self.nodes.insert(k.clone(), n.clone());
        }
        for ((version, key), v) in nb.values() {
            self.values.insert((*key, *version), v.clone());
        }
    }
}

impl TreeReader for MemTreeStore {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.get(node_key).cloned())
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self
            .values
            .range((key_hash, 0)..=(key_hash, max_version))
            .next_back()
            .and_then(|(_, v)| v.clone()))
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used by jmt's state restore, which Cairn does not use.
        Ok(None)
    }
}
