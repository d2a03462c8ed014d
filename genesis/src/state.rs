//! The genesis state: the funded accounts, their state root at height 0, the
//! genesis block that commits to it and to the genesis config (validator set
//! and consensus parameters, through [`config_hash`]), and the committee that
//! certificates are checked against. Also the generator of local testnets.
//!
//! The state root depends only on the set of accounts, never on their order in
//! the file: accounts are sorted by address before they enter the tree, and the
//! tree itself is a function of its contents.

use cairn_ledger::state::{MemTreeStore, StateTree};
use cairn_ledger::{Account, Address, Amount, Block, ChainId, Committee, Hash, Height};
use jmt::storage::TreeUpdateBatch;

use crate::config_hash::config_hash;
use crate::error::{GenesisError, Result};
use crate::file::{ConsensusParams, Genesis, GenesisAccount, GenesisTime, GenesisValidator};
use crate::keys::KeyFile;

/// Everything height 0 consists of.
#[derive(Clone, Debug)]
pub struct GenesisState {
    /// The funded accounts (nonce 0), sorted by address.
    pub accounts: Vec<(Address, Account)>,
    /// The state tree root at height 0.
    pub state_root: Hash,
    /// The genesis block (height 0, round 0), committing to `state_root` and,
    /// through `parent_hash`, to the genesis config ([`config_hash`]).
    pub block: Block,
    /// Chain id, genesis block hash and validator set, for verifying certificates.
    pub committee: Committee,
    /// The state-tree nodes of version 0, for a store to persist.
    pub tree_update: TreeUpdateBatch,
}

/// Validates `genesis` and builds its state, state root and genesis block.
/// The genesis hash covers the chain id, the genesis time, the accounts (via
/// the state root), the validator set and the consensus parameters (via the
/// config hash); not the validator names.
pub fn build_genesis_state(genesis: &Genesis) -> Result<GenesisState> {
    genesis.validate()?;
    let mut accounts: Vec<(Address, Account)> = genesis
        .accounts
        .iter()
        .map(|a| {
            (
                a.address,
                Account {
                    balance: a.balance,
                    nonce: 0,
                },
            )
        })
        .collect();
    accounts.sort_by_key(|(address, _)| *address);
    let store = MemTreeStore::new();
    let (state_root, tree_update) = StateTree::new(&store)
        .update(&accounts, Height(0))
        .map_err(|e| GenesisError::State(e.to_string()))?;
    let block = Block::genesis_with_config(
        genesis.chain_id.clone(),
        genesis.genesis_time.unix_ms(),
        state_root,
        config_hash(genesis),
    );
    let committee = Committee {
        chain_id: genesis.chain_id.clone(),
        genesis_hash: block.hash(),
        validators: genesis.validator_set()?,
    };
    Ok(GenesisState {
        accounts,
        state_root,
        block,
        committee,
        tree_update,
    })
}

/// A testnet genesis with fresh random keys: `n_validators` validators of
/// power 1 (named `validator-0`, ...) and `n_accounts` accounts holding
/// `balance` each, starting now. Returns the genesis, the validator keys (in
/// validator index order) and the account keys (in `genesis.accounts` order).
pub fn testnet(
    chain_id: ChainId,
    n_validators: usize,
    n_accounts: usize,
    balance: Amount,
) -> Result<(Genesis, Vec<KeyFile>, Vec<KeyFile>)> {
    let validator_keys = (0..n_validators).map(|_| KeyFile::generate()).collect();
    let account_keys = (0..n_accounts).map(|_| KeyFile::generate()).collect();
    assemble(
        chain_id,
        GenesisTime::now(),
        validator_keys,
        account_keys,
        balance,
    )
}

/// Like [`testnet`], but every key is derived from `seed` (see
/// [`KeyFile::derive`]) and the time is given: the same arguments always give
/// the same chain. For `cairn dev`, simulations and tests; never for real funds.
pub fn testnet_deterministic(
    chain_id: ChainId,
    n_validators: usize,
    n_accounts: usize,
    balance: Amount,
    seed: u64,
    genesis_time: GenesisTime,
) -> Result<(Genesis, Vec<KeyFile>, Vec<KeyFile>)> {
    let validator_keys = (0..n_validators)
        .map(|i| KeyFile::derive(seed, &format!("validator-{i}")))
        .collect();
    let account_keys = (0..n_accounts)
        .map(|i| KeyFile::derive(seed, &format!("account-{i}")))
        .collect();
    assemble(
        chain_id,
        genesis_time,
        validator_keys,
        account_keys,
        balance,
    )
}

fn assemble(
    chain_id: ChainId,
    genesis_time: GenesisTime,
    validator_keys: Vec<KeyFile>,
    account_keys: Vec<KeyFile>,
    balance: Amount,
) -> Result<(Genesis, Vec<KeyFile>, Vec<KeyFile>)> {
    let genesis = Genesis {
        chain_id,
        genesis_time,
        validators: validator_keys
            .iter()
            .enumerate()
            .map(|(i, k)| GenesisValidator {
                name: format!("validator-{i}"),
                address: k.address(),
                power: 1,
            })
            .collect(),
        accounts: account_keys
            .iter()
            .map(|k| GenesisAccount {
                address: k.address(),
                balance,
            })
            .collect(),
        consensus: ConsensusParams::default(),
    };
    genesis.validate()?;
    Ok((genesis, validator_keys, account_keys))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cairn_ledger::QuorumCertificate;

    fn chain() -> ChainId {
        ChainId::new("cairn-test").unwrap()
    }

    fn fixed() -> Genesis {
        testnet_deterministic(
            chain(),
            4,
            10,
            Amount(1_000_000),
            42,
            GenesisTime::from_unix_ms(1_795_219_200_000),
        )
        .unwrap()
        .0
    }

    #[test]
    fn state_root_ignores_account_order() {
        let g = fixed();
        let a = build_genesis_state(&g).unwrap();
        let mut reversed = g.clone();
        reversed.accounts.reverse();
        let b = build_genesis_state(&reversed).unwrap();
        assert_eq!(a.state_root, b.state_root);
        assert_eq!(a.block.hash(), b.block.hash());
        assert_eq!(a.accounts, b.accounts);
        assert!(a.accounts.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn state_root_depends_on_balances() {
        let g = fixed();
        let mut h = g.clone();
        h.accounts[3].balance = Amount(999_999);
        assert_ne!(
            build_genesis_state(&g).unwrap().state_root,
            build_genesis_state(&h).unwrap().state_root
        );
    }

    #[test]
    fn genesis_block_and_committee_are_consistent() {
        let g = fixed();
        let s = build_genesis_state(&g).unwrap();
        let h = &s.block.header;
        assert_eq!(h.height, Height(0));
        assert_eq!(h.state_root, s.state_root);
        assert_eq!(h.state_height, Height(0));
        assert_eq!(h.parent_hash, config_hash(&g));
        assert_eq!(h.timestamp_ms, 1_795_219_200_000);
        assert_eq!(h.chain_id, g.chain_id);
        assert!(s.block.txs.is_empty());
        assert_eq!(s.committee.genesis_hash, s.block.hash());
        assert_eq!(s.committee.validators.len(), 4);
        QuorumCertificate::genesis(s.block.hash())
            .verify(&s.committee)
            .unwrap();
    }

    #[test]
    fn accounts_are_provable_from_the_tree_update() {
        let g = fixed();
        let s = build_genesis_state(&g).unwrap();
        let mut store = MemTreeStore::new();
        store.apply(s.tree_update.clone());
        let tree = StateTree::new(&store);
        assert_eq!(tree.root(Height(0)).unwrap(), s.state_root);
        for (address, account) in &s.accounts {
            let (got, proof) = tree.get_with_proof(address, Height(0)).unwrap();
            assert_eq!(got.as_ref(), Some(account));
            proof.verify(&s.state_root, address, Some(account)).unwrap();
        }
        let stranger = KeyFile::derive(0, "stranger").address();
        let (got, proof) = tree.get_with_proof(&stranger, Height(0)).unwrap();
        assert_eq!(got, None);
        proof.verify(&s.state_root, &stranger, None).unwrap();
    }

    #[test]
    fn no_accounts_gives_the_empty_tree_root() {
        let mut g = fixed();
        g.accounts.clear();
        let s = build_genesis_state(&g).unwrap();
        assert_eq!(s.state_root, Hash(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__"));
    }

    #[test]
    fn invalid_genesis_is_rejected() {
        let mut g = fixed();
        g.validators[0].power = 0;
        let e = build_genesis_state(&g).unwrap_err().to_string();
        assert_eq!(e, "validators[0].power: must be greater than 0");
    }

    #[test]
    fn testnet_keys_match_the_genesis() {
        let (g, vk, ak) = testnet(chain(), 4, 3, Amount(5)).unwrap();
        assert_eq!(vk.len(), 4);
        assert_eq!(ak.len(), 3);
        for (v, k) in g.validators.iter().zip(&vk) {
            assert_eq!(v.address, k.address());
        }
        for (a, k) in g.accounts.iter().zip(&ak) {
            assert_eq!(a.address, k.address());
            assert_eq!(a.balance, Amount(5));
        }
        assert_eq!(g.validators[3].name, "validator-3");
        build_genesis_state(&g).unwrap();
        assert!(testnet(chain(), 0, 1, Amount(1)).is_err());
        assert!(testnet(chain(), 1, 2, Amount(u64::MAX)).is_err());
    }

    fn genesis_hash(g: &Genesis) -> Hash {
        build_genesis_state(g).unwrap().block.hash()
    }

    #[test]
    fn identical_files_give_the_same_genesis_hash() {
        let g = fixed();
        let reparsed = Genesis::from_json(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(genesis_hash(&g), genesis_hash(&reparsed));
    }

    #[test]
    fn genesis_hash_commits_to_the_validator_set() {
        let g = fixed();
        let base = genesis_hash(&g);
        let mut power = g.clone();
        power.validators[2].power = 2;
        let mut address = g.clone();
        address.validators[2].address = KeyFile::derive(42, "outsider").address();
        let mut order = g.clone();
        order.validators.swap(0, 1);
        let mut fewer = g.clone();
        fewer.validators.pop();
        for (what, changed) in [
            ("a validator's power", power),
            ("a validator's address", address),
            ("the validators' order (signer indices)", order),
            ("the number of validators", fewer),
        ] {
            // Same accounts, so the state root alone cannot tell them apart.
            let s = build_genesis_state(&changed).unwrap();
            assert_eq!(s.state_root, build_genesis_state(&g).unwrap().state_root);
            assert_ne!(
                s.block.hash(),
                base,
                "changing {what} kept the genesis hash"
            );
            assert_eq!(s.committee.genesis_hash, s.block.hash());
        }
    }

    #[test]
    fn genesis_hash_commits_to_every_consensus_parameter() {
        let g = fixed();
        let base = genesis_hash(&g);
        type Edit = fn(&mut ConsensusParams);
        let edits: [(&str, Edit); 6] = [
            ("roundTimeoutMs", |c| c.round_timeout_ms += 1),
            ("timeoutBackoff", |c| c.timeout_backoff = 1.5),
            ("maxRoundTimeoutMs", |c| c.max_round_timeout_ms -= 1),
            ("maxBlockTxs", |c| c.max_block_txs -= 1),
            ("maxBlockBytes", |c| c.max_block_bytes -= 1),
            ("maxMemoBytes", |c| c.max_memo_bytes -= 1),
        ];
        let mut seen = vec![base];
        for (field, edit) in edits {
            let mut changed = g.clone();
            edit(&mut changed.consensus);
            let h = genesis_hash(&changed);
            assert!(!seen.contains(&h), "changing {field} kept the genesis hash");
            seen.push(h);
        }
    }

    #[test]
    fn validator_names_do_not_change_the_genesis_hash() {
        let g = fixed();
        let mut renamed = g.clone();
        for (i, v) in renamed.validators.iter_mut().enumerate() {
            v.name = format!("node-{}", 9 - i);
        }
        assert_eq!(genesis_hash(&g), genesis_hash(&renamed));
    }

    #[test]
    fn deterministic_testnet_repeats() {
        let a = build_genesis_state(&fixed()).unwrap();
        let b = build_genesis_state(&fixed()).unwrap();
        assert_eq!(a.block, b.block);
    }
}
