//! Cairn's JSON-RPC API: the [`CairnApi`] trait (jsonrpsee generates the
//! server trait `CairnApiServer`, implemented by the node, and the typed
//! client `CairnApiClient`, used by the CLI and tests), the JSON shapes of its
//! requests and responses ([`types`]), the conversions from ledger types to
//! them ([`convert`]) and its application error codes ([`error`]).
//!
//! Conventions (DESIGN §6): every method is namespaced `cairn_`; JSON field
//! names are camelCase; byte strings are `0x` + lowercase hex; heights,
//! rounds and nonces are JSON numbers; amounts are decimal strings.

pub mod api;
pub mod convert;
pub mod error;
pub mod types;

pub use api::CairnApiClient;
pub use api::CairnApiServer;
pub use error::{ErrorCode, ErrorData};
pub use types::*;
