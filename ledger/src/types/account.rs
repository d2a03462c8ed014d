//! Accounts and receipts.
//!
//! Account bytes (the state tree's values): `balance` (u64) || `nonce` (u64).
//! Receipt bytes: `status` (u8).

use crate::codec::{Decode, Encode, Reader, Writer};
use crate::error::DecodeError;
use crate::primitives::Amount;

/// An account's state. A missing account reads as balance 0, nonce 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Spendable balance.
    pub balance: Amount,
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
}

impl Encode for Account {
    fn encode_to(&self, w: &mut Writer) {
        w.u64(self.balance.0).u64(self.nonce);
    }
}

impl Decode for Account {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Account {
            balance: Amount(r.u64("balance")?),
            nonce: r.u64("nonce")?,
        })
    }
}

/// What executing one transaction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxStatus {
    /// The amount moved.
    Success = 0,
    /// The sender's balance was below the amount; only the nonce advanced.
    InsufficientBalance = 1,
    /// The credit would overflow the recipient's balance; only the nonce advanced.
    BalanceOverflow = 2,
    /// The nonce did not equal the sender's at execution; nothing changed.
    InvalidNonce = 3,
}

impl TxStatus {
    /// A sentence for users.
    pub fn describe(self) -> &'static str {
        match self {
            TxStatus::Success => "transfer executed",
            TxStatus::InsufficientBalance => {
                "sender balance was below the amount; nothing moved, the nonce advanced"
            }
            TxStatus::BalanceOverflow => {
                "recipient balance would overflow; nothing moved, the nonce advanced"
            }
            TxStatus::InvalidNonce => {
                "nonce did not equal the sender's account nonce at execution; nothing changed"
            }
        }
    }
    /// The status name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            TxStatus::Success => "success",
            TxStatus::InsufficientBalance => "insufficientBalance",
            TxStatus::BalanceOverflow => "balanceOverflow",
            TxStatus::InvalidNonce => "invalidNonce",
        }
    }
}

/// The outcome of one executed transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// What happened.
    pub status: TxStatus,
}

impl Encode for Receipt {
    fn encode_to(&self, w: &mut Writer) {
        w.u8(self.status as u8);
    }
}

impl Decode for Receipt {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let status = match r.u8("receipt status")? {
            0 => TxStatus::Success,
            1 => TxStatus::InsufficientBalance,
            2 => TxStatus::BalanceOverflow,
            3 => TxStatus::InvalidNonce,
            v => {
                return Err(DecodeError::UnknownTag {
                    field: "receipt status",
                    value: v.into(),
                })
            }
        };
        Ok(Receipt { status })
    }
}
