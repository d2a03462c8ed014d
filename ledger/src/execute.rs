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
