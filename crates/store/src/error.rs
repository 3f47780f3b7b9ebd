use tacnode_domain::{MessageId, NodeId};

use crate::mailbox::MAX_MAILBOX_PAYLOAD_BYTES;
use crate::messages::MAX_STORED_TEXT_BYTES;
use crate::meta::{MAX_META_KEY_BYTES, MAX_META_VALUE_BYTES};
use crate::prekeys::MAX_PREKEY_BYTES;
use crate::routing::{MAX_ROUTING_SNAPSHOT_ENTRIES, MAX_SNAPSHOT_ENDPOINTS};
use crate::sessions::MAX_SESSION_PICKLE_BYTES;
use tacnode_domain::store::{MAX_GROUP_PICKLE_BYTES, MAX_TRANSFER_PICKLE_BYTES};
use tacnode_domain::{MAX_CONTACT_NAME_BYTES, StoreError};

/// Everything that can go wrong in the SQLite store. Through the storage
/// port it becomes a [`StoreError`]: the variants the node decides on keep
/// their name, the rest (SQLite, I/O, keys, decryption) is
/// [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// SQLite reported an error (I/O, busy past the timeout, constraint, ...).
    #[error("sqlite: {0}")]
    Sqlite(rusqlite::Error),
    /// The disk holding the database is full (SQLite's `SQLITE_FULL`, or
    /// its shared-memory file could not grow: `SQLITE_IOERR_SHMSIZE`, which
    /// SQLite reports as "disk I/O error").
    #[error("the disk holding the database is full ({0}); free some space and try again")]
    DiskFull(rusqlite::Error),
    /// Creating or restricting the database file failed.
    #[error("database file: {0}")]
    Io(#[from] std::io::Error),
    /// `PRAGMA quick_check` found damage.
    #[error("the database file is damaged ({0}); restore it from a backup")]
    Damaged(String),
    /// The database was written by a newer tacnode; refusing to touch it.
    #[error(
        "database schema version {found} is newer than the {supported} this build knows; \
         upgrade tacnode before opening it"
    )]
    UnknownSchemaVersion {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// Latest version this build can migrate to.
        supported: i64,
    },
    /// The storage key does not open this database (it was created with another key).
    #[error("wrong storage key: this database was created with a different key")]
    WrongStorageKey,
    /// A sealed row failed authentication: tampered, swapped between rows, or
    /// written under another key.
    #[error(
        "cannot decrypt a row of `{table}`: the row was tampered with or sealed with another key"
    )]
    Decrypt {
        /// Table of the row.
        table: &'static str,
    },
    /// A row holds a value this build can never have written.
    #[error("corrupt row in `{table}`: {reason}")]
    Corrupt {
        /// Table of the row.
        table: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The operating system could not provide random bytes for a nonce.
    #[error("operating system randomness unavailable")]
    Randomness,
    /// The recipient already has [`crate::MailboxQuota::per_recipient`] messages held.
    #[error("mailbox of {recipient} is full: {held} messages held, the limit is {limit}")]
    MailboxRecipientQuota {
        /// Whose mailbox.
        recipient: NodeId,
        /// Messages currently held for it.
        held: u32,
        /// The per-recipient limit.
        limit: u32,
    },
    /// All mailboxes together would exceed [`crate::MailboxQuota::total_bytes`].
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
    /// A group channel pickle larger than its limit.
    #[error("group state of {0} bytes, the limit is {MAX_GROUP_PICKLE_BYTES}")]
    GroupPickleTooLarge(usize),
    /// A file transfer record larger than its limit.
    #[error("file transfer record of {0} bytes, the limit is {MAX_TRANSFER_PICKLE_BYTES}")]
    TransferPickleTooLarge(usize),
    /// A prekey blob larger than [`MAX_PREKEY_BYTES`].
    #[error("prekey blob of {0} bytes, the limit is {MAX_PREKEY_BYTES}")]
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
    /// No outbound message with this id.
    #[error("no outbound message {0}")]
    UnknownMessage(MessageId),
    /// No contact for this node.
    #[error("no contact for node {0}")]
    UnknownContact(NodeId),
}

impl From<SqliteError> for StoreError {
    fn from(e: SqliteError) -> Self {
        match e {
            SqliteError::MailboxRecipientQuota {
                recipient,
                held,
                limit,
            } => StoreError::MailboxRecipientQuota {
                recipient,
                held,
                limit,
            },
            SqliteError::MailboxTotalQuota {
                held,
                incoming,
                limit,
            } => StoreError::MailboxTotalQuota {
                held,
                incoming,
                limit,
            },
            SqliteError::MailboxPayloadTooLarge(n) => StoreError::MailboxPayloadTooLarge(n),
            SqliteError::MailboxAlreadyExpired => StoreError::MailboxAlreadyExpired,
            SqliteError::TextTooLong(n) => StoreError::TextTooLong(n),
            SqliteError::SessionPickleTooLarge(n) => StoreError::SessionPickleTooLarge(n),
            SqliteError::GroupPickleTooLarge(n) => StoreError::GroupPickleTooLarge(n),
            SqliteError::TransferPickleTooLarge(n) => StoreError::TransferPickleTooLarge(n),
            SqliteError::PrekeyTooLarge(n) => StoreError::PrekeyTooLarge(n),
            SqliteError::ContactNameTooLong(n) => StoreError::ContactNameTooLong(n),
            SqliteError::MetaKeyTooLong(n) => StoreError::MetaKeyTooLong(n),
            SqliteError::MetaValueTooLarge(n) => StoreError::MetaValueTooLarge(n),
            SqliteError::RoutingSnapshotTooLarge(n) => StoreError::RoutingSnapshotTooLarge(n),
            SqliteError::TooManyEndpoints(n) => StoreError::TooManyEndpoints(n),
            SqliteError::UnknownMessage(id) => StoreError::UnknownMessage(id),
            SqliteError::UnknownContact(id) => StoreError::UnknownContact(id),
            SqliteError::Corrupt { table, reason } => StoreError::Corrupt { table, reason },
            e @ (SqliteError::Sqlite(_)
            | SqliteError::DiskFull(_)
            | SqliteError::Damaged(_)
            | SqliteError::Io(_)
            | SqliteError::UnknownSchemaVersion { .. }
            | SqliteError::WrongStorageKey
            | SqliteError::Decrypt { .. }
            | SqliteError::Randomness) => StoreError::backend(e),
        }
    }
}

/// SQLite's extended result code for a shared-memory file that could not
/// grow (`SQLITE_IOERR | 19 << 8`): on a full disk or tmpfs.
const SQLITE_IOERR_SHMSIZE: std::ffi::c_int = 10 | (19 << 8);

impl From<rusqlite::Error> for SqliteError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::DiskFull
                    || f.extended_code == SQLITE_IOERR_SHMSIZE =>
            {
                SqliteError::DiskFull(e)
            }
            _ => SqliteError::Sqlite(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk said "disk I/O error … code 4874" (issue #17, bug 9).
    #[test]
    fn a_full_disk_is_called_so() {
        for code in [13, SQLITE_IOERR_SHMSIZE] {
            let e = SqliteError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ));
            assert!(matches!(e, SqliteError::DiskFull(_)), "{code}: {e}");
            assert!(
                e.to_string().contains("disk holding the database is full"),
                "{e}"
            );
        }
        let other = SqliteError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(5),
            None,
        ));
        assert!(matches!(other, SqliteError::Sqlite(_)));
    }
}
