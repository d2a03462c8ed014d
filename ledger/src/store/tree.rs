//! The state tree's node storage over RocksDB column families.

use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};
use rocksdb::WriteBatch;

use super::{cf, keys, Store};

impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let key = borsh::to_vec(node_key)?;
        match self.db.get_pinned_cf(self.cf(cf::TREE_NODES), key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        let mut it = self.db.raw_iterator_cf(self.cf(cf::TREE_VALUES));
        it.seek_for_prev(keys::tree_value(&key_hash, max_version));
        if !it.valid() {
            it.status()?;
            return Ok(None);
        }
        match (it.key(), it.value()) {
            (Some(k), Some(v)) if k.len() == 40 && k[..32] == key_hash.0 => match v.split_first() {
                Some((1, rest)) => Ok(Some(rest.to_vec())),
                Some((0, _)) => Ok(None),
                _ => anyhow::bail!(
                    "corrupt tree value record for key hash {}",
                    hex::encode(key_hash.0)
                ),
            },
            _ => Ok(None),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only jmt's state restore uses this; Cairn syncs by blocks instead.
        Ok(None)
    }
}

impl Store {
    /// Adds a tree update's nodes and values to a write batch.
    pub(crate) fn batch_tree(&self, wb: &mut WriteBatch, update: &TreeUpdateBatch) {
        let nodes = self.cf(cf::TREE_NODES);
        for (k, n) in update.node_batch.nodes() {
            wb.put_cf(
                nodes,
                borsh::to_vec(k).expect("serializing to a Vec cannot fail"),
                borsh::to_vec(n).expect("serializing to a Vec cannot fail"),
            );
        }
        let values = self.cf(cf::TREE_VALUES);
        for ((version, key), v) in update.node_batch.values() {
            let record = match v {
                Some(bytes) => [&[1u8][..], bytes].concat(),
                None => vec![0u8],
            };
            wb.put_cf(values, keys::tree_value(key, *version), record);
        }
    }
}
