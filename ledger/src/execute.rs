//! Deterministic block execution.
//!
//! Rules (DESIGN §3): a transaction executes iff its nonce equals the sender's
//! nonce. Executing increments the nonce; if the balance is short, or the
//! credit would overflow the recipient's balance, nothing moves but the nonce
//! still increments, and the receipt says why. A transaction whose nonce does
//! not match (a replay or a gap a faulty leader let through) changes nothing.
//! Signatures are checked before execution (mempool, block validation, audit).

use std::collections::BTreeMap;

use crate::primitives::Address;
use crate::types::account::{Account, Receipt, TxStatus};
use crate::types::tx::SignedTransaction;

/// Where execution reads accounts that the block has not touched yet.
pub trait AccountSource {
    /// The error a read can fail with.
    type Error;
    /// The account's current state (default if it does not exist).
    fn account(&self, address: &Address) -> Result<Account, Self::Error>;
}

/// The result of executing a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// One receipt per transaction, in order.
    pub receipts: Vec<Receipt>,
    /// Final state of every touched account, sorted by address.
    pub updates: BTreeMap<Address, Account>,
}

impl Execution {
    /// The touched accounts as a list, for the state tree.
    pub fn update_list(&self) -> Vec<(Address, Account)> {
        self.updates.iter().map(|(a, acct)| (*a, *acct)).collect()
    }
}

/// Executes `txs` in order on top of `state`.
pub fn execute_block<S: AccountSource>(
    state: &S,
    txs: &[SignedTransaction],
) -> Result<Execution, S::Error> {
    let mut updates: BTreeMap<Address, Account> = BTreeMap::new();
    let mut receipts = Vec::with_capacity(txs.len());
    for stx in txs {
        let tx = stx.tx();
        let mut sender = load(state, &mut updates, &tx.from)?;
        if tx.nonce != sender.nonce {
            receipts.push(Receipt {
                status: TxStatus::InvalidNonce,
            });
            continue;
        }
        sender.nonce += 1;
        let status = if sender.balance < tx.amount {
            TxStatus::InsufficientBalance
        } else if tx.from == tx.to {
            TxStatus::Success
        } else {
            let recipient = load(state, &mut updates, &tx.to)?;
            match recipient.balance.checked_add(tx.amount) {
                None => TxStatus::BalanceOverflow,
                Some(credited) => {
                    sender.balance = sender
                        .balance
                        .checked_sub(tx.amount)
                        .expect("checked above");
                    updates.insert(
                        tx.to,
                        Account {
                            balance: credited,
                            ..recipient
                        },
                    );
                    TxStatus::Success
                }
            }
        };
        updates.insert(tx.from, sender);
        receipts.push(Receipt { status });
    }
    Ok(Execution { receipts, updates })
}

fn load<S: AccountSource>(
    state: &S,
    updates: &mut BTreeMap<Address, Account>,
    a: &Address,
) -> Result<Account, S::Error> {
    match updates.get(a) {
        Some(acct) => Ok(*acct),
        None => state.account(a),
    }
}

impl AccountSource for BTreeMap<Address, Account> {
    type Error = std::convert::Infallible;
    fn account(&self, address: &Address) -> Result<Account, Self::Error> {
        Ok(self.get(address).copied().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::crypto::SecretKey;
    use crate::primitives::{Amount, ChainId};
    use crate::types::tx::Transaction;

    fn key(i: u8) -> SecretKey {
        SecretKey::from_seed([i; 32])
    }

    fn tx(from: u8, to: u8, amount: u64, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: ChainId::new("t").unwrap(),
            from: key(from).address(),
            to: key(to).address(),
            amount: Amount(amount),
            nonce,
            memo: vec![],
        }
        .sign(&key(from))
    }

    fn state(entries: &[(u8, u64, u64)]) -> BTreeMap<Address, Account> {
        entries
            .iter()
            .map(|(i, bal, nonce)| {
                (
                    key(*i).address(),
                    Account {
                        balance: Amount(*bal),
                        nonce: *nonce,
                    },
                )
            })
            .collect()
    }

    fn run(
        s: &BTreeMap<Address, Account>,
        txs: &[SignedTransaction],
    ) -> (Vec<TxStatus>, BTreeMap<Address, Account>) {
        let e = execute_block(s, txs).unwrap();
        let mut after = s.clone();
        after.extend(e.updates);
        (e.receipts.iter().map(|r| r.status).collect(), after)
    }

    fn bal(s: &BTreeMap<Address, Account>, i: u8) -> (u64, u64) {
        let a = s.get(&key(i).address()).copied().unwrap_or_default();
        (a.balance.0, a.nonce)
    }

    #[test]
    fn rules_case_by_case() {
        use TxStatus::*;
        // (name, initial state, txs, expected statuses, expected (balance, nonce) of accounts 1 and 2)
        type Case = (
            &'static str,
            Vec<(u8, u64, u64)>,
            Vec<SignedTransaction>,
            Vec<TxStatus>,
            (u64, u64),
            (u64, u64),
        );
        let cases: Vec<Case> = vec![
            (
                "plain transfer",
                vec![(1, 100, 0)],
                vec![tx(1, 2, 30, 0)],
                vec![Success],
                (70, 1),
                (30, 0),
            ),
            (
                "nonce sequence in one block",
                vec![(1, 100, 0)],
                vec![tx(1, 2, 10, 0), tx(1, 2, 10, 1)],
                vec![Success, Success],
                (80, 2),
                (20, 0),
            ),
            (
                "nonce too high changes nothing",
                vec![(1, 100, 0)],
                vec![tx(1, 2, 10, 1)],
                vec![InvalidNonce],
                (100, 0),
                (0, 0),
            ),
            (
                "replayed nonce changes nothing",
                vec![(1, 100, 3)],
                vec![tx(1, 2, 10, 2)],
                vec![InvalidNonce],
                (100, 3),
                (0, 0),
            ),
            (
                "short balance fails, nonce advances",
                vec![(1, 5, 0)],
                vec![tx(1, 2, 6, 0)],
                vec![InsufficientBalance],
                (5, 1),
                (0, 0),
            ),
            (
                "exact balance",
                vec![(1, 5, 0)],
                vec![tx(1, 2, 5, 0)],
                vec![Success],
                (0, 1),
                (5, 0),
            ),
            (
                "overflowing credit fails",
                vec![(1, 5, 0), (2, u64::MAX, 0)],
                vec![tx(1, 2, 1, 0)],
                vec![BalanceOverflow],
                (5, 1),
                (u64::MAX, 0),
            ),
            (
                "self transfer keeps balance",
                vec![(1, 5, 0)],
                vec![tx(1, 1, 5, 0)],
                vec![Success],
                (5, 1),
                (5, 1),
            ),
            (
                "missing sender account",
                vec![],
                vec![tx(1, 2, 0, 0)],
                vec![Success],
                (0, 1),
                (0, 0),
            ),
            (
                "failure then success",
                vec![(1, 10, 0)],
                vec![tx(1, 2, 11, 0), tx(1, 2, 10, 1)],
                vec![InsufficientBalance, Success],
                (0, 2),
                (10, 0),
            ),
        ];
        for (name, init, txs, want_status, want1, want2) in cases {
            let (status, after) = run(&state(&init), &txs);
            assert_eq!(status, want_status, "{name}");
            assert_eq!(bal(&after, 1), want1, "{name}: account 1");
            if name != "self transfer keeps balance" {
                assert_eq!(bal(&after, 2), want2, "{name}: account 2");
            }
        }
    }

    #[test]
    fn execution_is_deterministic_and_conserves_supply() {
        let s = state(&[(1, 1000, 0), (2, 1000, 0), (3, 0, 0)]);
        let txs: Vec<_> = (0..20u64)
            .map(|n| tx(1 + (n % 2) as u8, 3, 97, n / 2))
            .collect();
        let a = execute_block(&s, &txs).unwrap();
        let b = execute_block(&s, &txs).unwrap();
        assert_eq!(a, b);
        let mut after = s.clone();
        after.extend(a.updates);
        let total: u64 = after.values().map(|x| x.balance.0).sum();
        assert_eq!(total, 2000);
    }
}
