//! Key generation and key files.
//!
//! A key file is JSON `{"address": "0x…", "secretKey": "0x…"}`: the address is
//! the 32-byte ed25519 public key, the secret the 32-byte ed25519 seed
//! (RFC 8032 private key). Validator and account keys use the same format.
//!
//! Files are created with mode 0600 and never overwritten. Reading a key file
//! that group or other users can access is an error, not a warning (as ssh
//! refuses such private keys): a validator key that others can read must be
//! assumed leaked, and a silent warning in a log is easy to miss. Reading also
//! checks that the address is the secret's public key.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use cairn_ledger::hash::parse_hex32;
use cairn_ledger::{Address, SecretKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{GenesisError, Result};
use crate::file::parse_json;

/// An ed25519 key pair as stored in a key file.
#[derive(Clone)]
pub struct KeyFile {
    secret: SecretKey,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        write!(f, "KeyFile({})", self.address())
    }
}

impl PartialEq for KeyFile {
    fn eq(&self, other: &Self) -> bool {
        self.secret.seed() == other.secret.seed()
    }
}
impl Eq for KeyFile {}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyFileJson {
    address: Address,
    secret_key: String,
}

impl KeyFile {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> KeyFile {
        KeyFile {
            secret: SecretKey::generate(),
        }
    }

    /// Wraps an existing secret key.
    pub fn from_secret(secret: SecretKey) -> KeyFile {
        KeyFile { secret }
    }

    /// A key derived deterministically from `seed` and `label`
    /// (SHA-256 of both): reproducible dev and test networks. Never for real funds.
    pub fn derive(seed: u64, label: &str) -> KeyFile {
        let mut h = Sha256::new();
        h.update(b"cairn/dev-key/v1");
        h.update(seed.to_le_bytes());
        h.update(label.as_bytes());
        KeyFile::from_secret(SecretKey::from_seed(h.finalize().into()))
    }

    /// The public key, which is the address.
    pub fn address(&self) -> Address {
        self.secret.address()
    }

    /// The secret key, for signing.
    pub fn secret(&self) -> &SecretKey {
        &self.secret
    }

    /// The key file's JSON text.
    pub fn to_json(&self) -> String {
        let json = KeyFileJson {
            address: self.address(),
            secret_key: format!("0x{}", hex::encode(self.secret.seed())),
        };
        let mut s = serde_json::to_string_pretty(&json).unwrap_or_else(|e| {
            unreachable!("a key file always serializes: {e}");
        });
        s.push('\n');
        s
    }

    /// Parses key file JSON and checks the address matches the secret.
    pub fn from_json(text: &str) -> Result<KeyFile> {
        let json: KeyFileJson = parse_json(text)?;
        let seed = parse_hex32(&json.secret_key, "secret key")
            .map_err(|reason| GenesisError::invalid("secretKey", reason))?;
        let key = KeyFile::from_secret(SecretKey::from_seed(seed));
        if key.address() != json.address {
            return Err(GenesisError::KeyMismatch {
                address: json.address,
                derived: key.address(),
            });
        }
        Ok(key)
    }

    /// Creates the key file at `path` with mode 0600. Refuses to overwrite an
    /// existing file: losing a validator key can halt a chain, losing an
    /// account key loses its funds.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        write_new_file(path.as_ref(), self.to_json().as_bytes(), 0o600)
    }

    /// Reads a key file. Fails if group or others can access it, if it is not
    /// a key file, or if its address does not match its secret.
    pub fn read(path: impl AsRef<Path>) -> Result<KeyFile> {
        let path = path.as_ref();
        let io = |source| GenesisError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(GenesisError::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        KeyFile::from_json(&text).map_err(|e| e.in_file(path))
    }
}

/// Creates `path` with `mode` (before the umask), failing if it exists, and
/// syncs it to disk.
pub(crate) fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let io = |source| GenesisError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => GenesisError::AlreadyExists {
                path: path.to_path_buf(),
            },
            _ => io(e),
        })?;
    f.write_all(contents).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_creates_0600_and_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let k = KeyFile::generate();
        k.write(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(KeyFile::read(&path).unwrap(), k);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["address"], k.address().to_string());
        let secret = v["secretKey"].as_str().unwrap();
        assert_eq!(secret.len(), 66);
        assert_eq!(
            SecretKey::from_seed(parse_hex32(secret, "s").unwrap()).address(),
            k.address()
        );
    }

    #[test]
    fn write_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let first = KeyFile::generate();
        first.write(&path).unwrap();
        let e = KeyFile::generate().write(&path).unwrap_err();
        assert!(matches!(e, GenesisError::AlreadyExists { .. }));
        assert!(e.to_string().contains("refusing to overwrite"));
        assert_eq!(KeyFile::read(&path).unwrap(), first);
    }

    #[test]
    fn read_rejects_group_or_world_access() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        KeyFile::generate().write(&path).unwrap();
        for mode in [0o640, 0o604, 0o660, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = KeyFile::read(&path).unwrap_err();
            assert!(
                matches!(e, GenesisError::InsecurePermissions { mode: m, .. } if m == mode),
                "{e}"
            );
            assert!(e.to_string().contains("chmod 600"));
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        KeyFile::read(&path).unwrap();
    }

    #[test]
    fn read_rejects_mismatched_address() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        let a = KeyFile::derive(1, "a");
        let b = KeyFile::derive(1, "b");
        let text = a
            .to_json()
            .replace(&a.address().to_string(), &b.address().to_string());
        write_new_file(&path, text.as_bytes(), 0o600).unwrap();
        let e = KeyFile::read(&path).unwrap_err();
        assert!(matches!(e.inner(), GenesisError::KeyMismatch { .. }), "{e}");
        assert!(e.to_string().starts_with(&path.display().to_string()));
    }

    #[test]
    fn from_json_names_bad_fields() {
        let e = KeyFile::from_json(r#"{"address":"0x00","secretKey":"0x00"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("address: address must be 0x"), "{e}");
        let k = KeyFile::derive(7, "x");
        let text = format!(r#"{{"address":"{}","secretKey":"0x1234"}}"#, k.address());
        let e = KeyFile::from_json(&text).unwrap_err().to_string();
        assert!(e.starts_with("secretKey: secret key must be 0x"), "{e}");
        let text = format!(
            r#"{{"address":"{}","secretKey":"0x{}","extra":1}}"#,
            k.address(),
            "00".repeat(32)
        );
        let e = KeyFile::from_json(&text).unwrap_err().to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
    }

    #[test]
    fn derive_is_deterministic_and_debug_hides_the_secret() {
        assert_eq!(KeyFile::derive(3, "v0"), KeyFile::derive(3, "v0"));
        assert_ne!(KeyFile::derive(3, "v0"), KeyFile::derive(3, "v1"));
        assert_ne!(KeyFile::derive(3, "v0"), KeyFile::derive(4, "v0"));
        let k = KeyFile::derive(3, "v0");
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&hex::encode(k.secret().seed())));
    }
}
