//! The auditor's own copy of the account state: every account in memory,
//! and a Jellyfish Merkle tree over them that keeps only its latest version
//! (stale nodes are dropped as each block is applied), so memory grows with
//! the number of accounts, not with the length of the chain.
//!
//! Tree versions are counted from the audit's starting height (`base`):
//! a jmt root depends only on the set of (key, value) pairs, never on the
//! version numbers, so the roots equal the node's roots at the same heights.

use std::collections::HashMap;

use cairn_ledger::execute::{execute_block, AccountSource};
use cairn_ledger::state::StateTree;
use cairn_ledger::types::account::Receipt;
use cairn_ledger::{Account, Address, Hash, Height, SignedTransaction};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};

/// Tree nodes of the latest version only.
#[derive(Debug, Default)]
pub struct PrunedTree {
    nodes: HashMap<NodeKey, Node>,
}

impl PrunedTree {
    fn apply(&mut self, batch: TreeUpdateBatch) {
        for (k, n) in batch.node_batch.nodes() {
            self.nodes.insert(k.clone(), n.clone());
        }
        for stale in &batch.stale_node_index_batch {
            self.nodes.remove(&stale.node_key);
        }
    }
}

impl TreeReader for PrunedTree {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.get(node_key).cloned())
    }

    fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        // Updates read nodes only; values live in `AuditState::accounts`.
        anyhow::bail!("the audit tree keeps no values; read AuditState::accounts")
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        Ok(None)
    }
}

struct Accounts<'a>(&'a HashMap<Address, Account>);

impl AccountSource for Accounts<'_> {
    type Error = std::convert::Infallible;
    fn account(&self, address: &Address) -> Result<Account, Self::Error> {
        Ok(self.0.get(address).copied().unwrap_or_default())
    }
}

/// The recomputed state and every state root since `base`.
#[derive(Debug)]
pub struct AuditState {
    accounts: HashMap<Address, Account>,
    tree: PrunedTree,
    base: Height,
    roots: Vec<Hash>,
}

impl AuditState {
    /// The state at `base` holding `accounts`.
    pub fn new(base: Height, accounts: &[(Address, Account)]) -> Result<AuditState, String> {
        let mut sorted = accounts.to_vec();
        sorted.sort_by_key(|(a, _)| *a);
        let mut state = AuditState {
            accounts: sorted.iter().copied().collect(),
            tree: PrunedTree::default(),
            base,
            roots: Vec::new(),
        };
        let root = state.update(&sorted, 0)?;
        state.roots.push(root);
        Ok(state)
    }

    fn update(&mut self, list: &[(Address, Account)], version: u64) -> Result<Hash, String> {
        let (root, batch) = StateTree::new(&self.tree)
            .update(list, Height(version))
            .map_err(|e| format!("recomputing the state tree: {e}"))?;
        self.tree.apply(batch);
        Ok(root)
    }

    /// Executes the block at `height` (the next one) and returns its receipts
    /// and the new state root.
    pub fn execute(
        &mut self,
        height: Height,
        txs: &[SignedTransaction],
    ) -> Result<(Vec<Receipt>, Hash), String> {
        assert_eq!(
            height.0,
            self.base.0 + self.roots.len() as u64,
            "blocks are executed in height order"
        );
        let exec = match execute_block(&Accounts(&self.accounts), txs) {
            Ok(e) => e,
            Err(never) => match never {},
        };
        let list = exec.update_list();
        self.accounts.extend(exec.updates);
        let root = self.update(&list, height.0 - self.base.0)?;
        self.roots.push(root);
        Ok((exec.receipts, root))
    }

    /// The recomputed root after `height`, if it is at or above `base`.
    pub fn root_at(&self, height: Height) -> Option<Hash> {
        let i = height.0.checked_sub(self.base.0)?;
        self.roots.get(usize::try_from(i).ok()?).copied()
    }

    /// The latest root.
    pub fn root(&self) -> Hash {
        *self
            .roots
            .last()
            .expect("a state has at least its base root")
    }

    /// Every account, in address order.
    pub fn accounts(&self) -> Vec<(Address, Account)> {
        let mut v: Vec<(Address, Account)> = self.accounts.iter().map(|(a, x)| (*a, *x)).collect();
        v.sort_by_key(|(a, _)| *a);
        v
    }

    /// Number of accounts.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cairn_ledger::state::MemTreeStore;
    use cairn_ledger::{Amount, ChainId, SecretKey, Transaction};

    fn key(i: u8) -> SecretKey {
        SecretKey::from_seed([i; 32])
    }

    #[test]
    fn roots_match_an_unpruned_tree_and_ignore_the_version_offset() {
        let accounts: Vec<(Address, Account)> = (1..=5)
            .map(|i| {
                (
                    key(i).address(),
                    Account {
                        balance: Amount(1000),
                        nonce: 0,
                    },
                )
            })
            .collect();
        // Base 7: versions are offset, roots must not be.
        let mut state = AuditState::new(Height(7), &accounts).unwrap();
        let mut reference = MemTreeStore::new();
        let (r0, b) = StateTree::new(&reference)
            .update(&accounts, Height(0))
            .unwrap();
        reference.apply(b);
        assert_eq!(state.root(), r0);
        let mut map: std::collections::BTreeMap<Address, Account> =
            accounts.iter().copied().collect();
        for h in 1..=4u64 {
            let tx = Transaction {
                chain_id: ChainId::new("t").unwrap(),
                from: key(1).address(),
                to: key((h % 5 + 1) as u8).address(),
                amount: Amount(h),
                nonce: h - 1,
                memo: vec![],
            }
            .sign(&key(1));
            let (receipts, root) = state
                .execute(Height(7 + h), std::slice::from_ref(&tx))
                .unwrap();
            let exec = execute_block(&map, &[tx]).unwrap();
            assert_eq!(receipts, exec.receipts);
            let list = exec.update_list();
            map.extend(exec.updates);
            let (want, b) = StateTree::new(&reference).update(&list, Height(h)).unwrap();
            reference.apply(b);
            assert_eq!(root, want, "root after block {h}");
            assert_eq!(state.root_at(Height(7 + h)), Some(want));
        }
        // Empty blocks keep the root.
        let (_, root) = state.execute(Height(12), &[]).unwrap();
        assert_eq!(Some(root), state.root_at(Height(11)));
        assert_eq!(state.root_at(Height(6)), None);
        assert_eq!(state.accounts(), map.into_iter().collect::<Vec<_>>());
    }
}
