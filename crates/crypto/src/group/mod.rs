//! Group messaging keys in the style of Signal's Sender Key and Matrix's
//! Megolm: each member encrypts to the whole group with its own sending
//! chain, and every other member holds a receiving copy of that chain.
//!
//! - A [`SenderChain`] (ours) is a random 16-byte chain id, a symmetric
//!   chain key ratchet, the iteration of the next message and a per-chain
//!   Ed25519 signing key. Each message key is `HMAC(CK, 0x01)` and the next
//!   chain key `HMAC(CK, 0x02)`; the old chain key is overwritten, so a
//!   chain captured later does not open earlier messages (forward secrecy).
//!   The ChaCha20-Poly1305 key and nonce of a message are HKDF-Expand of
//!   its message key (info `"tacnode/group/message/v1"`, 44 bytes); each
//!   message key encrypts exactly one message.
//! - A [`SenderKeyDistribution`] is what the owner sends every member over
//!   the pairwise Double Ratchet session: chain id, iteration, chain key and
//!   the signing public key. With it a member builds a [`ReceiverChain`],
//!   which opens the owner's messages from that iteration on and can verify
//!   but not make the owner's signatures: members cannot forge each other.
//! - A [`GroupCiphertext`] carries chain id, iteration, ciphertext and an
//!   Ed25519 signature over all of it and the caller's associated data.
//!   [`ReceiverChain::decrypt`] verifies the signature before it derives any
//!   key, keeps keys of messages skipped within [`MAX_GROUP_SKIP`] (at most
//!   [`MAX_SKIPPED_GROUP_KEYS`]), refuses duplicates, and changes nothing
//!   when it fails.
//!
//! Rotation is the caller's decision: a new [`SenderChain`] and new
//! distributions when a member leaves or is removed (the removed member
//! holds only the old chain), after [`ROTATE_AFTER_MESSAGES`] messages
//! ([`SenderChain::should_rotate`]), or after a time the caller measures:
//! this crate reads no clock.
//!
//! The sender must persist its advanced chain (the pickle,
//! [`SenderChain::to_bytes`]) before the ciphertext leaves: a chain
//! restored from an older copy would encrypt again under message keys it
//! already used, with the same derived nonce.

mod ciphertext;
mod distribution;
mod error;
mod keys;
mod receiver;
mod sender;

pub use ciphertext::{CHAIN_ID_LEN, GROUP_CIPHERTEXT_OVERHEAD, GroupCiphertext};
pub use distribution::{SENDER_KEY_DISTRIBUTION_LEN, SenderKeyDistribution};
pub use error::GroupCryptoError;
pub use receiver::{MAX_GROUP_SKIP, MAX_SKIPPED_GROUP_KEYS, ReceiverChain};
pub use sender::{ROTATE_AFTER_MESSAGES, SenderChain};

/// Largest plaintext [`SenderChain::encrypt`] accepts.
pub const MAX_GROUP_PLAINTEXT_BYTES: usize =
    tacnode_domain::e2e::MAX_CIPHERTEXT_BYTES - crate::aead::TAG_LEN;

/// Largest associated data [`SenderChain::encrypt`] and
/// [`ReceiverChain::decrypt`] accept (the group id and sender, typically).
pub const MAX_GROUP_ASSOCIATED_DATA_BYTES: usize = 4096;

#[cfg(test)]
mod tests;
