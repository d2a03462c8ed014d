//! The genesis crate's errors. Each names the file and the field at fault and
//! says what a valid value looks like.

use std::path::PathBuf;

use cairn_ledger::Address;

/// Why a genesis file, a key file or the genesis state could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// A field holds a value outside what Cairn accepts.
    #[error("{field}: {reason}")]
    Invalid {
        /// JSON path of the field, e.g. `validators[2].power`.
        field: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// The text is not JSON of the expected shape (unknown field, wrong type, bad hex...).
    #[error("{field}: {message}")]
    Json {
        /// JSON path of the offending value (`.` for the document itself).
        field: String,
        /// serde's explanation, with line and column.
        message: String,
    },
    /// An error in a named file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong inside it.
        #[source]
        source: Box<GenesisError>,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file that would be overwritten already exists.
    #[error(
        "{} already exists; refusing to overwrite it (move it away or choose another path)",
        path.display()
    )]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// A key file that group or other users can read or write.
    #[error(
        "{} has mode {mode:o}, so other users can read or change the secret key; run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file whose address is not the public key of its secret.
    #[error(
        "address {address} does not match the secret key, whose public key is {derived}; \
         the file is corrupt or was edited by hand"
    )]
    KeyMismatch {
        /// The address written in the file.
        address: Address,
        /// The public key derived from the secret.
        derived: Address,
    },
    /// The state tree failed while building the genesis state (a bug).
    #[error("building the genesis state tree failed: {0}")]
    State(String),
}

impl GenesisError {
    /// An [`GenesisError::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        GenesisError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Wraps `self` with the file it came from.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        GenesisError::InFile {
            path: path.into(),
            source: Box::new(self),
        }
    }

    /// The innermost error, without the file wrapper.
    pub fn inner(&self) -> &GenesisError {
        match self {
            GenesisError::InFile { source, .. } => source.inner(),
            other => other,
        }
    }
}

/// The genesis crate's result type.
pub type Result<T> = std::result::Result<T, GenesisError>;
