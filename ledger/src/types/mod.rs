//! The ledger's data types and their canonical encodings.

pub mod account;
pub mod block;
pub mod cert;
pub mod tx;
pub mod validator;
