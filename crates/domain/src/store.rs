//! What the node keeps on disk, as data: the rows the storage port
//! ([`crate::ports::NodeStore`]) reads and writes besides the domain types it
//! shares with the rest of the node ([`crate::Contact`],
//! [`crate::OutboxEntry`], [`crate::StoredMessage`]), and the limits every
//! implementation enforces alike.

use std::fmt;

use zeroize::Zeroizing;

use crate::id::NodeId;
use crate::message::{MAX_TEXT_BYTES, MessageId};
use crate::record::{Endpoint, MAX_ENDPOINTS, NodeType};
use crate::time::UnixMillis;

pub use crate::store_error::StoreError;

/// Most rows one listing query returns.
pub const MAX_QUERY_ROWS: usize = 10_000;
/// Longest message text a store accepts, in bytes of UTF-8.
pub const MAX_STORED_TEXT_BYTES: usize = MAX_TEXT_BYTES;
/// Longest last-error text kept per message; longer texts are truncated.
pub const MAX_LAST_ERROR_BYTES: usize = 512;
/// Longest meta key, in bytes.
pub const MAX_META_KEY_BYTES: usize = 64;
/// Largest meta value, in bytes.
pub const MAX_META_VALUE_BYTES: usize = 4096;
/// Meta key of the sequence number of the node's own published peer record.
pub const META_PEER_RECORD_SEQUENCE: &str = "peer_record.sequence";
/// Largest session pickle accepted, in bytes.
pub const MAX_SESSION_PICKLE_BYTES: usize = 1024 * 1024;
/// Largest group channel pickle accepted, in bytes (its operations, at
/// most [`crate::group::MAX_GROUP_OPS`], and the chains it holds).
pub const MAX_GROUP_PICKLE_BYTES: usize = 2 * 1024 * 1024;
/// Largest file transfer record accepted, in bytes (its offer, path,
/// progress and state, and the blocks of a small file that came through
/// the mailboxes before they were written: at most
/// [`crate::file_transfer::MAILBOX_FILE_BYTES`]).
pub const MAX_TRANSFER_PICKLE_BYTES: usize =
    8 * 1024 + crate::file_transfer::MAILBOX_FILE_BYTES as usize + 64 * 1024;
/// Largest prekey state accepted, in bytes.
pub const MAX_PREKEY_STATE_BYTES: usize = 512 * 1024;
/// Largest payload one mailbox deposit may carry, in bytes.
pub const MAX_MAILBOX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Default most messages held for one recipient.
pub const DEFAULT_MAILBOX_PER_RECIPIENT: u32 = 1_000;
/// Default most payload bytes held for all recipients together.
pub const DEFAULT_MAILBOX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;
/// Most entries one routing snapshot may hold (256 buckets of 20).
pub const MAX_ROUTING_SNAPSHOT_ENTRIES: usize = 256 * 20;
/// Most endpoints one routing snapshot entry may hold.
pub const MAX_SNAPSHOT_ENDPOINTS: usize = MAX_ENDPOINTS;

/// Result of an idempotent insert.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InsertOutcome {
    /// The row is new.
    Inserted,
    /// A row with the same key was already there; nothing changed.
    AlreadyPresent,
}

/// Secret bytes read back from the store (a session pickle, the prekey
/// state): zeroized on drop, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
}

impl From<Vec<u8>> for SecretBytes {
    /// Takes the vector over without copying it.
    fn from(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }
}

/// Limits on what this node holds for others.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MailboxQuota {
    /// Most unexpired messages held for one recipient.
    pub per_recipient: u32,
    /// Most unexpired payload bytes held for all recipients.
    pub total_bytes: u64,
}

impl Default for MailboxQuota {
    fn default() -> Self {
        Self {
            per_recipient: DEFAULT_MAILBOX_PER_RECIPIENT,
            total_bytes: DEFAULT_MAILBOX_TOTAL_BYTES,
        }
    }
}

/// A message held for a recipient.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MailboxItem {
    /// Whom it is for.
    pub recipient: NodeId,
    /// The sender-chosen message id.
    pub message_id: MessageId,
    /// Opaque end-to-end encrypted payload.
    pub payload: Vec<u8>,
    /// When it was deposited.
    pub deposited: UnixMillis,
    /// When it is dropped if not fetched.
    pub expires: UnixMillis,
}

/// How much the mailboxes hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MailboxUsage {
    /// Messages held (including expired ones not yet purged).
    pub messages: u64,
    /// Payload bytes held (including expired ones not yet purged).
    pub bytes: u64,
}

/// One node of the routing-table snapshot.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RoutingEntry {
    /// The node.
    pub node_id: NodeId,
    /// Where it was reachable.
    pub endpoints: Vec<Endpoint>,
    /// Server or client.
    pub node_type: NodeType,
    /// When it was last heard from.
    pub last_seen: UnixMillis,
}

/// Cuts `s` to at most [`MAX_LAST_ERROR_BYTES`] on a character boundary:
/// how every store keeps the last error of a send.
pub fn truncate_last_error(s: &str) -> &str {
    if s.len() <= MAX_LAST_ERROR_BYTES {
        return s;
    }
    let mut end = MAX_LAST_ERROR_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bytes_are_redacted() {
        let s = SecretBytes::from(&[0x41u8; 3][..]);
        assert_eq!(format!("{s:?}"), "SecretBytes(<3 bytes redacted>)");
        assert_eq!(s.as_slice(), b"AAA");
    }

    #[test]
    fn last_errors_are_cut_on_a_character_boundary() {
        assert_eq!(truncate_last_error("short"), "short");
        let long = "é".repeat(MAX_LAST_ERROR_BYTES);
        let cut = truncate_last_error(&long);
        assert!(cut.len() <= MAX_LAST_ERROR_BYTES);
        assert!(cut.len() >= MAX_LAST_ERROR_BYTES - 1);
    }
}
