//! What can go wrong when using the network, each saying what to do about it.

use libp2p::PeerId;

use super::wire::ErrorCode;

/// A network error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// A configuration value is unusable.
    #[error("network config `{field}` {why}")]
    Config {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {why}; pick a free port or check the address")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        why: String,
    },
    /// The transport could not be built.
    #[error("cannot start the libp2p transport: {0}")]
    Transport(String),
    /// The network task has stopped (shutdown or a crash).
    #[error("the network task has stopped; restart the node")]
    Stopped,
    /// An outgoing message is larger than the configured limit.
    #[error("message of {len} bytes exceeds the network limit of {max} bytes")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// No response within the request timeout.
    #[error("peer {peer} did not answer within the request timeout")]
    Timeout {
        /// The peer asked.
        peer: PeerId,
    },
    /// The request could not be delivered or answered.
    #[error("request to {peer} failed: {why}")]
    RequestFailed {
        /// The peer asked.
        peer: PeerId,
        /// What happened.
        why: String,
    },
    /// The peer answered with an error.
    #[error("peer {peer} refused the request: {code}")]
    Refused {
        /// The peer asked.
        peer: PeerId,
        /// Its reason.
        code: ErrorCode,
    },
}

/// Result of a network operation.
pub type Result<T> = std::result::Result<T, NetError>;
