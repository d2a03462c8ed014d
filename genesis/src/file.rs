//! The `genesis.json` format and its validation.
//!
//! A genesis file fixes everything a chain starts from: its id, its start
//! time, the validators (in index order: the order of `validators` is the
//! signer index in certificates and the round-robin leader order), the funded
//! accounts and the consensus parameters. Every node of a chain must load a
//! byte-identical file; the genesis block hash commits to the resulting state.
//!
//! Unknown fields are rejected, so a typo is an error rather than a silently
//! ignored setting. Every validation error names the field (`validators[2].power`).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_ledger::types::block::MAX_BLOCK_TXS;
use cairn_ledger::types::tx::MAX_MEMO_LEN;
use cairn_ledger::{Address, Amount, ChainId, Validator, ValidatorSet};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{GenesisError, Result};

/// The contents of `genesis.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Genesis {
    /// The chain id every transaction and consensus message is signed for.
    pub chain_id: ChainId,
    /// When the chain starts; the genesis block's timestamp.
    pub genesis_time: GenesisTime,
    /// The validators, in signer-index order.
    pub validators: Vec<GenesisValidator>,
    /// Accounts funded at genesis (any order; the state root does not depend on it).
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// Consensus parameters; every field has a default.
    #[serde(default)]
    pub consensus: ConsensusParams,
}

/// One validator in `genesis.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisValidator {
    /// A label for logs and the explorer, 1..=64 bytes, unique.
    pub name: String,
    /// The validator's consensus public key.
    pub address: Address,
    /// Voting power, > 0.
    pub power: u64,
}

/// One funded account in `genesis.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisAccount {
    /// The account's public key.
    pub address: Address,
    /// Its starting balance (JSON: a decimal string).
    pub balance: Amount,
}

/// Consensus parameters fixed at genesis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ConsensusParams {
    /// Timeout of a round with no progress, before backoff.
    pub round_timeout_ms: u64,
    /// Factor by which the round timeout grows after each consecutive timeout.
    pub timeout_backoff: f64,
    /// Upper bound of the round timeout after backoff.
    pub max_round_timeout_ms: u64,
    /// Most transactions in one block.
    pub max_block_txs: u32,
    /// Most bytes in one encoded block.
    pub max_block_bytes: u64,
    /// Longest memo a transaction may carry on this chain (at most the wire limit, 1024).
    pub max_memo_bytes: u16,
}

impl ConsensusParams {
    /// The limits on a block's contents these parameters set.
    pub fn block_limits(&self) -> cairn_ledger::validate::BlockLimits {
        cairn_ledger::validate::BlockLimits {
            max_txs: self.max_block_txs,
            max_bytes: self.max_block_bytes,
            max_memo_bytes: self.max_memo_bytes,
        }
    }

    /// Accepted range of `roundTimeoutMs`.
    pub const ROUND_TIMEOUT_MS: (u64, u64) = (50, 60_000);
    /// Accepted range of `timeoutBackoff`.
    pub const TIMEOUT_BACKOFF: (f64, f64) = (1.0, 4.0);
    /// Upper limit of `maxRoundTimeoutMs` (the lower is `roundTimeoutMs`).
    pub const MAX_ROUND_TIMEOUT_MS: u64 = 600_000;
    /// Accepted range of `maxBlockBytes`.
    pub const MAX_BLOCK_BYTES: (u64, u64) = (65_536, 64 << 20);
}

impl Default for ConsensusParams {
    fn default() -> Self {
        ConsensusParams {
            round_timeout_ms: 1_000,
            // The consensus core's pacemaker doubles the timeout per failed round.
            timeout_backoff: 2.0,
            max_round_timeout_ms: 60_000,
            max_block_txs: 10_000,
            max_block_bytes: 16 << 20,
            max_memo_bytes: MAX_MEMO_LEN as u16,
        }
    }
}

fn in_range<T: PartialOrd + fmt::Display>(field: &str, v: T, lo: T, hi: T) -> Result<()> {
    // Written so that NaN fails too.
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(GenesisError::invalid(
            field,
            format!("{v} is out of range; must be {lo} to {hi}"),
        ))
    }
}

impl ConsensusParams {
    /// Rejects values outside their ranges, naming the field and the range.
    pub fn validate(&self) -> Result<()> {
        let (lo, hi) = Self::ROUND_TIMEOUT_MS;
        in_range("consensus.roundTimeoutMs", self.round_timeout_ms, lo, hi)?;
        let (lo, hi) = Self::TIMEOUT_BACKOFF;
        in_range("consensus.timeoutBackoff", self.timeout_backoff, lo, hi)?;
        in_range(
            "consensus.maxRoundTimeoutMs",
            self.max_round_timeout_ms,
            self.round_timeout_ms,
            Self::MAX_ROUND_TIMEOUT_MS,
        )?;
        in_range(
            "consensus.maxBlockTxs",
            self.max_block_txs,
            1,
            MAX_BLOCK_TXS as u32,
        )?;
        let (lo, hi) = Self::MAX_BLOCK_BYTES;
        in_range("consensus.maxBlockBytes", self.max_block_bytes, lo, hi)?;
        in_range(
            "consensus.maxMemoBytes",
            self.max_memo_bytes,
            0,
            MAX_MEMO_LEN as u16,
        )
    }
}

/// The genesis time: whole milliseconds since the Unix epoch.
/// JSON: an RFC 3339 UTC timestamp, `2026-11-21T00:00:00Z` (fractional
/// seconds allowed down to milliseconds; no offsets other than `Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GenesisTime(u64);

impl GenesisTime {
    /// The time `ms` milliseconds after the Unix epoch.
    pub fn from_unix_ms(ms: u64) -> Self {
        GenesisTime(ms)
    }

    /// Now, truncated to whole seconds (so the file reads cleanly).
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        GenesisTime(secs * 1000)
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_ms(self) -> u64 {
        self.0
    }

    /// Parses an RFC 3339 UTC timestamp.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let t = humantime::parse_rfc3339(s).map_err(|e| {
            format!("{s:?} is not an RFC 3339 UTC time like \"2026-11-21T00:00:00Z\": {e}")
        })?;
        let d = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| format!("{s:?} is before 1970-01-01T00:00:00Z"))?;
        if d.subsec_nanos() % 1_000_000 != 0 {
            return Err(format!(
                "{s:?} is more precise than a millisecond; drop the extra digits"
            ));
        }
        u64::try_from(d.as_millis())
            .map(GenesisTime)
            .map_err(|_| format!("{s:?} is too far in the future"))
    }
}

impl fmt::Display for GenesisTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = UNIX_EPOCH + Duration::from_millis(self.0);
        if self.0 % 1000 == 0 {
            humantime::format_rfc3339_seconds(t).fmt(f)
        } else {
            humantime::format_rfc3339_millis(t).fmt(f)
        }
    }
}

impl Serialize for GenesisTime {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GenesisTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        GenesisTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses JSON, naming the path of the first bad value in the error.
pub(crate) fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| GenesisError::Json {
        field: e.path().to_string(),
        message: e.into_inner().to_string(),
    })?;
    de.end().map_err(|e| GenesisError::Json {
        field: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// Longest validator name, in bytes.
pub const MAX_VALIDATOR_NAME_LEN: usize = 64;

impl Genesis {
    /// Parses and validates genesis JSON.
    pub fn from_json(text: &str) -> Result<Genesis> {
        let g: Genesis = parse_json(text)?;
        g.validate()?;
        Ok(g)
    }

    /// Reads, parses and validates a genesis file; errors name the file and the field.
    pub fn load(path: impl AsRef<Path>) -> Result<Genesis> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Genesis::from_json(&text).map_err(|e| e.in_file(path))
    }

    /// Pretty JSON, as written to `genesis.json`.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            unreachable!("a genesis value always serializes: {e}");
        });
        s.push('\n');
        s
    }

    /// Writes `genesis.json` to `path`, refusing to overwrite an existing file.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::keys::write_new_file(path.as_ref(), self.to_json().as_bytes(), 0o644)
    }

    /// Checks every rule; the first violation is returned, naming its field.
    pub fn validate(&self) -> Result<()> {
        self.validate_validators()?;
        self.validate_accounts()?;
        self.consensus.validate()
    }

    fn validate_validators(&self) -> Result<()> {
        let n = self.validators.len();
        if n == 0 {
            return Err(GenesisError::invalid(
                "validators",
                "must list at least one validator",
            ));
        }
        if n > ValidatorSet::MAX_VALIDATORS {
            return Err(GenesisError::invalid(
                "validators",
                format!(
                    "{n} validators is above the maximum of {}",
                    ValidatorSet::MAX_VALIDATORS
                ),
            ));
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut addresses: HashMap<Address, usize> = HashMap::new();
        let mut total: u64 = 0;
        for (i, v) in self.validators.iter().enumerate() {
            if v.name.is_empty()
                || v.name.len() > MAX_VALIDATOR_NAME_LEN
                || v.name.chars().any(char::is_control)
            {
                return Err(GenesisError::invalid(
                    format!("validators[{i}].name"),
                    format!(
                        "must be 1 to {MAX_VALIDATOR_NAME_LEN} bytes without control characters"
                    ),
                ));
            }
            if let Some(j) = names.insert(&v.name, i) {
                return Err(GenesisError::invalid(
                    format!("validators[{i}].name"),
                    format!("{:?} appears twice (also validators[{j}].name)", v.name),
                ));
            }
            if !v.address.is_valid_public_key() {
                return Err(GenesisError::invalid(
                    format!("validators[{i}].address"),
                    format!(
                        "{} is not a valid ed25519 public key; copy the address from the validator's key file",
                        v.address
                    ),
                ));
            }
            if let Some(j) = addresses.insert(v.address, i) {
                return Err(GenesisError::invalid(
                    format!("validators[{i}].address"),
                    format!("appears twice (also validators[{j}].address)"),
                ));
            }
            if v.power == 0 {
                return Err(GenesisError::invalid(
                    format!("validators[{i}].power"),
                    "must be greater than 0",
                ));
            }
            const MAX_TOTAL_POWER: u64 = u64::MAX / 4;
            total = total
                .checked_add(v.power)
                .filter(|t| *t <= MAX_TOTAL_POWER)
                .ok_or_else(|| {
                    GenesisError::invalid(
                        format!("validators[{i}].power"),
                        format!("total voting power exceeds the maximum of {MAX_TOTAL_POWER}"),
                    )
                })?;
        }
        // The ledger's own checks are the same rules; this is a guard against drift.
        self.validator_set().map(|_| ())
    }

    fn validate_accounts(&self) -> Result<()> {
        let mut seen: HashMap<Address, usize> = HashMap::new();
        let mut supply = Amount(0);
        for (i, a) in self.accounts.iter().enumerate() {
            if !a.address.is_valid_public_key() {
                return Err(GenesisError::invalid(
                    format!("accounts[{i}].address"),
                    format!("{} is not a valid ed25519 public key", a.address),
                ));
            }
            if let Some(j) = seen.insert(a.address, i) {
                return Err(GenesisError::invalid(
                    format!("accounts[{i}].address"),
                    format!("appears twice (also accounts[{j}].address)"),
                ));
            }
            supply = supply.checked_add(a.balance).ok_or_else(|| {
                GenesisError::invalid(
                    format!("accounts[{i}].balance"),
                    format!(
                        "total supply overflows: the balances so far add up to more than {}",
                        u64::MAX
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// The validator set, in file order.
    pub fn validator_set(&self) -> Result<ValidatorSet> {
        ValidatorSet::new(
            self.validators
                .iter()
                .map(|v| Validator {
                    address: v.address,
                    power: v.power,
                })
                .collect(),
        )
        .map_err(|e| GenesisError::invalid("validators", e))
    }

    /// Sum of all genesis balances (`None` if it overflows; never after `validate`).
    pub fn total_supply(&self) -> Option<Amount> {
        self.accounts
            .iter()
            .try_fold(Amount(0), |sum, a| sum.checked_add(a.balance))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cairn_ledger::SecretKey;

    fn key(i: u8) -> Address {
        SecretKey::from_seed([i; 32]).address()
    }

    fn sample() -> Genesis {
        Genesis {
            chain_id: ChainId::new("cairn-test").unwrap(),
            genesis_time: GenesisTime::parse("2026-11-21T00:00:00Z").unwrap(),
            validators: (0..4)
                .map(|i| GenesisValidator {
                    name: format!("validator-{i}"),
                    address: key(i + 1),
                    power: 1 + i as u64,
                })
                .collect(),
            accounts: (0..6)
                .map(|i| GenesisAccount {
                    address: key(100 + i),
                    balance: Amount(1_000),
                })
                .collect(),
            consensus: ConsensusParams::default(),
        }
    }

    fn err_text(g: &Genesis) -> String {
        g.validate().unwrap_err().to_string()
    }

    /// A 32-byte string that is not a point: y = 2 has no x on the curve.
    fn not_a_point() -> Address {
        let mut b = [0u8; 32];
        b[0] = 2;
        let a = Address(b);
        assert!(!a.is_valid_public_key());
        a
    }

    #[test]
    fn sample_is_valid_and_round_trips() {
        let g = sample();
        g.validate().unwrap();
        let text = g.to_json();
        assert!(text.contains("\"chainId\": \"cairn-test\""));
        assert!(text.contains("\"genesisTime\": \"2026-11-21T00:00:00Z\""));
        assert!(text.contains("\"balance\": \"1000\""));
        assert!(text.contains("\"roundTimeoutMs\": 1000"));
        assert_eq!(Genesis::from_json(&text).unwrap(), g);
    }

    #[test]
    fn genesis_time_parses_to_ms() {
        let t = GenesisTime::parse("2026-11-21T00:00:00Z").unwrap();
        assert_eq!(t.unix_ms(), 1_795_219_200_000);
        let t = GenesisTime::parse("1970-01-01T00:00:01.250Z").unwrap();
        assert_eq!(t.unix_ms(), 1_250);
        assert_eq!(t.to_string(), "1970-01-01T00:00:01.250Z");
        assert!(GenesisTime::parse("2026-11-21 00:00:00")
            .unwrap_err()
            .contains("RFC 3339"));
        assert!(GenesisTime::parse("2026-11-21T00:00:00+01:00").is_err());
        assert!(GenesisTime::parse("2026-11-21T00:00:00.0001Z")
            .unwrap_err()
            .contains("millisecond"));
    }

    #[test]
    fn consensus_defaults_apply_to_missing_fields() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["consensus"] = serde_json::json!({ "roundTimeoutMs": 500 });
        let g = Genesis::from_json(&v.to_string()).unwrap();
        assert_eq!(g.consensus.round_timeout_ms, 500);
        assert_eq!(g.consensus.max_block_txs, 10_000);
        v.as_object_mut().unwrap().remove("consensus");
        v.as_object_mut().unwrap().remove("accounts");
        let g = Genesis::from_json(&v.to_string()).unwrap();
        assert_eq!(g.consensus, ConsensusParams::default());
        assert!(g.accounts.is_empty());
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_path() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["consensus"]["roundTimeout"] = serde_json::json!(5);
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(
            e.starts_with("consensus.roundTimeout: unknown field"),
            "{e}"
        );
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["validators"][1]["weight"] = serde_json::json!(5);
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(e.starts_with("validators[1].weight: unknown field"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["extra"] = serde_json::json!(true);
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
    }

    #[test]
    fn json_type_errors_name_the_field() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["chainId"] = serde_json::json!("");
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(
            e.starts_with("chainId: chain id must be 1 to 64 bytes"),
            "{e}"
        );
        v["chainId"] = serde_json::json!("x".repeat(65));
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(
            e.starts_with("chainId: chain id must be 1 to 64 bytes"),
            "{e}"
        );
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["accounts"][3]["balance"] = serde_json::json!("-5");
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(e.starts_with("accounts[3].balance: amount"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["validators"][2]["address"] = serde_json::json!("0x1234");
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(
            e.starts_with("validators[2].address: address must be 0x"),
            "{e}"
        );
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["genesisTime"] = serde_json::json!("yesterday");
        let e = Genesis::from_json(&v.to_string()).unwrap_err().to_string();
        assert!(
            e.starts_with("genesisTime: \"yesterday\" is not an RFC 3339"),
            "{e}"
        );
        let e = Genesis::from_json(&format!("{} x", sample().to_json()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("trailing characters"), "{e}");
    }

    #[test]
    fn zero_power_is_rejected() {
        let mut g = sample();
        g.validators[2].power = 0;
        assert_eq!(err_text(&g), "validators[2].power: must be greater than 0");
    }

    #[test]
    fn total_power_overflow_is_rejected() {
        let mut g = sample();
        g.validators[1].power = u64::MAX / 4;
        assert!(
            err_text(&g).starts_with("validators[1].power: total voting power exceeds the maximum")
        );
    }

    #[test]
    fn no_validators_is_rejected() {
        let mut g = sample();
        g.validators.clear();
        assert_eq!(err_text(&g), "validators: must list at least one validator");
    }

    #[test]
    fn too_many_validators_is_rejected() {
        let mut g = sample();
        let v = g.validators[0].clone();
        g.validators = vec![v; ValidatorSet::MAX_VALIDATORS + 1];
        assert!(err_text(&g).contains("above the maximum of 1024"));
    }

    #[test]
    fn duplicate_validator_address_is_rejected() {
        let mut g = sample();
        g.validators[3].address = g.validators[1].address;
        assert_eq!(
            err_text(&g),
            "validators[3].address: appears twice (also validators[1].address)"
        );
    }

    #[test]
    fn duplicate_or_bad_validator_name_is_rejected() {
        let mut g = sample();
        g.validators[2].name = g.validators[0].name.clone();
        assert!(err_text(&g).starts_with("validators[2].name: \"validator-0\" appears twice"));
        g.validators[2].name = String::new();
        assert!(err_text(&g).starts_with("validators[2].name: must be 1 to 64 bytes"));
        g.validators[2].name = "a\nb".into();
        assert!(err_text(&g).starts_with("validators[2].name:"));
    }

    #[test]
    fn invalid_validator_key_is_rejected() {
        let mut g = sample();
        g.validators[1].address = not_a_point();
        assert!(err_text(&g)
            .starts_with("validators[1].address: 0x0200000000000000000000000000000000000000000000000000000000000000 is not a valid ed25519 public key"));
    }

    #[test]
    fn invalid_account_key_is_rejected() {
        let mut g = sample();
        g.accounts[4].address = not_a_point();
        assert!(err_text(&g).starts_with("accounts[4].address: 0x02"));
    }

    #[test]
    fn duplicate_account_is_rejected() {
        let mut g = sample();
        g.accounts[5].address = g.accounts[2].address;
        assert_eq!(
            err_text(&g),
            "accounts[5].address: appears twice (also accounts[2].address)"
        );
    }

    #[test]
    fn supply_overflow_is_rejected() {
        let mut g = sample();
        g.accounts[3].balance = Amount(u64::MAX - 2_000);
        assert_eq!(g.total_supply(), None);
        assert!(err_text(&g).starts_with("accounts[3].balance: total supply overflows"));
        // Exactly u64::MAX in total is fine.
        g.accounts[3].balance = Amount(u64::MAX - 5_000);
        g.validate().unwrap();
        assert_eq!(g.total_supply(), Some(Amount(u64::MAX)));
    }

    #[test]
    fn consensus_params_out_of_range_name_field_and_range() {
        type Mutation = fn(&mut ConsensusParams);
        let cases: Vec<(Mutation, &str)> = vec![
            (
                |c| c.round_timeout_ms = 10,
                "consensus.roundTimeoutMs: 10 is out of range; must be 50 to 60000",
            ),
            (
                |c| c.timeout_backoff = 0.5,
                "consensus.timeoutBackoff: 0.5 is out of range; must be 1 to 4",
            ),
            (
                |c| c.timeout_backoff = f64::NAN,
                "consensus.timeoutBackoff: NaN is out of range; must be 1 to 4",
            ),
            (
                |c| c.max_round_timeout_ms = 999,
                "consensus.maxRoundTimeoutMs: 999 is out of range; must be 1000 to 600000",
            ),
            (
                |c| c.max_block_txs = 0,
                "consensus.maxBlockTxs: 0 is out of range; must be 1 to 100000",
            ),
            (
                |c| c.max_block_bytes = 1_000,
                "consensus.maxBlockBytes: 1000 is out of range; must be 65536 to 67108864",
            ),
            (
                |c| c.max_memo_bytes = 2_000,
                "consensus.maxMemoBytes: 2000 is out of range; must be 0 to 1024",
            ),
        ];
        for (mutate, want) in cases {
            let mut g = sample();
            mutate(&mut g.consensus);
            assert_eq!(err_text(&g), want);
        }
    }

    #[test]
    fn load_names_the_file_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis.json");
        let mut g = sample();
        g.validators[2].power = 0;
        std::fs::write(&path, g.to_json()).unwrap();
        let e = Genesis::load(&path).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: validators[2].power: must be greater than 0",
                path.display()
            )
        );
        let missing = dir.path().join("nope.json");
        let e = Genesis::load(&missing).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
    }

    #[test]
    fn write_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis.json");
        sample().write(&path).unwrap();
        assert_eq!(Genesis::load(&path).unwrap(), sample());
        let e = sample().write(&path).unwrap_err();
        assert!(matches!(e, GenesisError::AlreadyExists { .. }), "{e}");
    }
}
