//! Why a group message or a sender key could not be made, read or opened.

use super::{MAX_GROUP_ASSOCIATED_DATA_BYTES, MAX_GROUP_PLAINTEXT_BYTES, MAX_GROUP_SKIP};

/// A group crypto operation failed. A failed [`super::ReceiverChain::decrypt`]
/// leaves the chain unchanged in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupCryptoError {
    /// More than [`MAX_GROUP_PLAINTEXT_BYTES`].
    #[error("plaintext of {0} bytes, the limit is {MAX_GROUP_PLAINTEXT_BYTES}")]
    PlaintextTooLarge(usize),
    /// A ciphertext over [`MAX_GROUP_PLAINTEXT_BYTES`] plus its tag.
    #[error("ciphertext of {0} bytes is over the limit")]
    CiphertextTooLarge(usize),
    /// More than [`MAX_GROUP_ASSOCIATED_DATA_BYTES`] of associated data.
    #[error("associated data of {0} bytes, the limit is {MAX_GROUP_ASSOCIATED_DATA_BYTES}")]
    AssociatedDataTooLarge(usize),
    /// The sending chain reached its last iteration (`u32::MAX`); rotate.
    #[error("sending chain exhausted")]
    ChainExhausted,
    /// The message names another chain than this receiving chain.
    #[error("message of another sender chain")]
    WrongChain,
    /// The signature does not verify under this chain's signing key: the
    /// message, its header or its associated data was altered, or another
    /// member (or anyone else) made it.
    #[error("group message signature does not verify")]
    BadSignature,
    /// The signature verified but the ciphertext did not open: the chain's
    /// owner signed something not encrypted under this chain.
    #[error("group message authentication failed")]
    Authentication,
    /// The message is more than [`MAX_GROUP_SKIP`] iterations ahead of the
    /// next one expected.
    #[error("message {iteration} is {ahead} ahead of the chain, the limit is {MAX_GROUP_SKIP}")]
    TooFarAhead {
        /// The message's iteration.
        iteration: u32,
        /// Iterations that would be skipped.
        ahead: u32,
    },
    /// The message was received already, or its skipped key was evicted.
    #[error("message {0} already received or its key was discarded")]
    Duplicate(u32),
    /// The message is older than the chain we were given: its key was never
    /// ours to hold.
    #[error("message {iteration} is older than the chain held (from {first})")]
    BeforeChain {
        /// The message's iteration.
        iteration: u32,
        /// The first iteration the held chain opens.
        first: u32,
    },
    /// Encoded bytes ended early or have the wrong length.
    #[error("{what}: {actual} bytes, {expected} expected")]
    WrongLength {
        /// What was decoded.
        what: &'static str,
        /// The length required (the least one for a ciphertext).
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// A format version this build does not read.
    #[error("{what}: unsupported version {version}")]
    UnsupportedVersion {
        /// What was decoded.
        what: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// The signing public key does not parse or is a weak (small-order) key.
    #[error("invalid signing key")]
    InvalidSigningKey,
}
