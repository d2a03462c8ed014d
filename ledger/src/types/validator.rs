//! The validator set: public keys and voting power, fixed by genesis.

use serde::{Deserialize, Serialize};

use crate::primitives::{Address, Round};

/// One validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// Consensus public key.
    pub address: Address,
    /// Voting power, > 0.
    pub power: u64,
}

/// The ordered validator set. Index `i` is the signer index in certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_power: u64,
}

impl ValidatorSet {
    /// Most validators a set may hold (signer indices are u16).
    pub const MAX_VALIDATORS: usize = 1024;

    /// Builds a set; rejects an empty set, zero power, duplicates and overflow.
    pub fn new(validators: Vec<Validator>) -> Result<ValidatorSet, String> {
        if validators.is_empty() {
            return Err("validator set is empty; genesis needs at least one validator".into());
        }
        if validators.len() > Self::MAX_VALIDATORS {
            return Err(format!(
                "{} validators is above the maximum of {}",
                validators.len(),
                Self::MAX_VALIDATORS
            ));
        }
        let mut total: u64 = 0;
        for (i, v) in validators.iter().enumerate() {
            if v.power == 0 {
                return Err(format!("validators[{i}].power must be greater than 0"));
            }
            if !v.address.is_valid_public_key() {
                return Err(format!(
                    "validators[{i}].address {} is not a valid ed25519 public key",
                    v.address
                ));
            }
            if validators[..i].iter().any(|w| w.address == v.address) {
                return Err(format!(
                    "validators[{i}].address {} appears twice",
                    v.address
                ));
            }
            // Keep total * 2 within u64 for the quorum computation.
            total = total
                .checked_add(v.power)
                .filter(|t| *t <= u64::MAX / 4)
                .ok_or_else(|| {
                    format!("validators' total voting power overflows at validators[{i}]")
                })?;
        }
        Ok(ValidatorSet {
            validators,
            total_power: total,
        })
    }

    /// The validators in index order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
    /// Number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }
    /// Always false: a set is never empty.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }
    /// Sum of all voting power.
    pub fn total_power(&self) -> u64 {
        self.total_power
    }
    /// Smallest power that is more than 2/3 of the total.
    pub fn quorum_power(&self) -> u64 {
        self.total_power * 2 / 3 + 1
    }
    /// Power above which a set of validators must contain an honest one (> 1/3).
    pub fn validity_power(&self) -> u64 {
        self.total_power / 3 + 1
    }
    /// The validator at `index`.
    pub fn get(&self, index: u16) -> Option<&Validator> {
        self.validators.get(index as usize)
    }
    /// The index of `address`, if it is a validator.
    pub fn index_of(&self, address: &Address) -> Option<u16> {
        self.validators
            .iter()
            .position(|v| &v.address == address)
            .map(|i| i as u16)
    }
    /// The leader of `round`: round-robin, `validators[round mod n]`.
    pub fn leader(&self, round: Round) -> u16 {
        (round.0 % self.validators.len() as u64) as u16
    }
}
