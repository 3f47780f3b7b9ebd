//! The typed error of the storage port: what the node decides on (a full
//! mailbox, an unknown message, a limit) by name, and whatever else the
//! backend reports (I/O, SQLite, a row that does not decrypt) boxed.

use crate::contact::MAX_CONTACT_NAME_BYTES;
use crate::id::NodeId;
use crate::message::MessageId;
use crate::store::{
    MAX_GROUP_PICKLE_BYTES, MAX_MAILBOX_PAYLOAD_BYTES, MAX_META_KEY_BYTES, MAX_META_VALUE_BYTES,
    MAX_ROUTING_SNAPSHOT_ENTRIES, MAX_SESSION_PICKLE_BYTES, MAX_SNAPSHOT_ENDPOINTS,
    MAX_STORED_TEXT_BYTES, MAX_TRANSFER_PICKLE_BYTES,
};

/// Why a call to the storage port ([`crate::ports::NodeStore`]) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The recipient already has [`crate::store::MailboxQuota::per_recipient`]
    /// messages held.
    #[error("mailbox of {recipient} is full: {held} messages held, the limit is {limit}")]
    MailboxRecipientQuota {
        /// Whose mailbox.
        recipient: NodeId,
        /// Messages currently held for it.
        held: u32,
        /// The per-recipient limit.
        limit: u32,
    },
    /// All mailboxes together would exceed
    /// [`crate::store::MailboxQuota::total_bytes`].
    #[error("mailbox storage is full: {held} bytes held plus {incoming} would exceed {limit}")]
    MailboxTotalQuota {
        /// Payload bytes currently held for all recipients.
        held: u64,
        /// Size of the rejected payload.
        incoming: u64,
        /// The total limit.
        limit: u64,
    },
    /// A mailbox payload larger than [`MAX_MAILBOX_PAYLOAD_BYTES`].
    #[error("mailbox payload of {0} bytes, the limit is {MAX_MAILBOX_PAYLOAD_BYTES}")]
    MailboxPayloadTooLarge(usize),
    /// A mailbox deposit whose expiry is not after the deposit time.
    #[error("mailbox deposit already expired")]
    MailboxAlreadyExpired,
    /// A message text longer than [`MAX_STORED_TEXT_BYTES`].
    #[error("message text of {0} bytes, the limit is {MAX_STORED_TEXT_BYTES}")]
    TextTooLong(usize),
    /// A session pickle larger than [`MAX_SESSION_PICKLE_BYTES`].
    #[error("session pickle of {0} bytes, the limit is {MAX_SESSION_PICKLE_BYTES}")]
    SessionPickleTooLarge(usize),
    /// A group channel pickle larger than
    /// [`crate::store::MAX_GROUP_PICKLE_BYTES`].
    #[error("group state of {0} bytes, the limit is {MAX_GROUP_PICKLE_BYTES}")]
    GroupPickleTooLarge(usize),
    /// A file transfer record larger than
    /// [`crate::store::MAX_TRANSFER_PICKLE_BYTES`].
    #[error("file transfer record of {0} bytes, the limit is {MAX_TRANSFER_PICKLE_BYTES}")]
    TransferPickleTooLarge(usize),
    /// Prekey material larger than its limit
    /// ([`crate::store::MAX_PREKEY_STATE_BYTES`] for the state).
    #[error("prekey data of {0} bytes is over its limit")]
    PrekeyTooLarge(usize),
    /// A contact name longer than [`MAX_CONTACT_NAME_BYTES`].
    #[error("contact name of {0} bytes, the limit is {MAX_CONTACT_NAME_BYTES}")]
    ContactNameTooLong(usize),
    /// A meta key longer than [`MAX_META_KEY_BYTES`].
    #[error("meta key of {0} bytes, the limit is {MAX_META_KEY_BYTES}")]
    MetaKeyTooLong(usize),
    /// A meta value larger than [`MAX_META_VALUE_BYTES`].
    #[error("meta value of {0} bytes, the limit is {MAX_META_VALUE_BYTES}")]
    MetaValueTooLarge(usize),
    /// A routing snapshot with more than [`MAX_ROUTING_SNAPSHOT_ENTRIES`] entries.
    #[error("routing snapshot of {0} entries, the limit is {MAX_ROUTING_SNAPSHOT_ENTRIES}")]
    RoutingSnapshotTooLarge(usize),
    /// A routing entry with more than [`MAX_SNAPSHOT_ENDPOINTS`] endpoints.
    #[error("routing entry with {0} endpoints, the limit is {MAX_SNAPSHOT_ENDPOINTS}")]
    TooManyEndpoints(usize),
    /// No outbound message with this id (or not to this peer).
    #[error("no outbound message {0}")]
    UnknownMessage(MessageId),
    /// No contact for this node.
    #[error("no contact for node {0}")]
    UnknownContact(NodeId),
    /// A stored value this build can never have written.
    #[error("corrupt row in `{table}`: {reason}")]
    Corrupt {
        /// Table (or kind) of the row.
        table: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The backend failed (I/O, SQLite, a row that does not decrypt, the
    /// wrong storage key, ...): nothing the node decides on but "storage
    /// failed".
    #[error("storage backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}
