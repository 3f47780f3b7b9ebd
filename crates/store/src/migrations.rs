//! Versioned schema: `PRAGMA user_version` holds how many entries of
//! [`MIGRATIONS`] have been applied. Each migration runs in its own
//! transaction together with the version bump, so a crash leaves the file at
//! a known version. A file newer than this build is refused untouched.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::SqliteError;

/// Version 1: contacts, sealed sessions and prekeys, outbox and inbox, meta.
const V1: &str = "
CREATE TABLE key_check (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    sealed BLOB NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE contacts (
    node_id BLOB PRIMARY KEY NOT NULL CHECK (length(node_id) = 32),
    sealed_name BLOB NOT NULL,
    identity_key BLOB NOT NULL CHECK (length(identity_key) = 32),
    first_seen INTEGER NOT NULL,
    verified INTEGER NOT NULL CHECK (verified IN (0, 1)),
    identity_changed INTEGER NOT NULL CHECK (identity_changed IN (0, 1))
) WITHOUT ROWID;
CREATE TABLE sessions (
    peer BLOB PRIMARY KEY NOT NULL CHECK (length(peer) = 32),
    sealed BLOB NOT NULL,
    updated INTEGER NOT NULL
);
CREATE TABLE prekeys (
    id INTEGER PRIMARY KEY NOT NULL,
    kind INTEGER NOT NULL CHECK (kind IN (1, 2)),
    sealed BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE outbox (
    message_id BLOB PRIMARY KEY NOT NULL CHECK (length(message_id) = 16),
    peer BLOB NOT NULL CHECK (length(peer) = 32),
    time INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    status INTEGER NOT NULL CHECK (status BETWEEN 1 AND 4),
    attempts INTEGER NOT NULL,
    next_attempt INTEGER,
    last_error TEXT,
    updated INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt) WHERE next_attempt IS NOT NULL;
CREATE INDEX outbox_peer_time ON outbox (peer, time);
CREATE TABLE inbox (
    peer BLOB NOT NULL CHECK (length(peer) = 32),
    message_id BLOB NOT NULL CHECK (length(message_id) = 16),
    time INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (peer, message_id)
);
CREATE INDEX inbox_peer_time ON inbox (peer, time);
";

/// Version 2: mailbox holdings for other nodes and the routing-table snapshot.
const V2: &str = "
CREATE TABLE mailbox (
    recipient BLOB NOT NULL CHECK (length(recipient) = 32),
    message_id BLOB NOT NULL CHECK (length(message_id) = 16),
    payload BLOB NOT NULL,
    deposited INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (recipient, message_id)
);
CREATE INDEX mailbox_expires ON mailbox (expires);
CREATE TABLE routing_snapshot (
    node_id BLOB PRIMARY KEY NOT NULL CHECK (length(node_id) = 32),
    node_type INTEGER NOT NULL CHECK (node_type IN (1, 2)),
    last_seen INTEGER NOT NULL,
    endpoints TEXT NOT NULL
) WITHOUT ROWID;
";

/// Version 3: the crypto crate's whole prekey state (signed prekeys in their
/// grace period and every unused one-time prekey) as one sealed row.
const V3: &str = "
CREATE TABLE prekey_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    sealed BLOB NOT NULL,
    updated INTEGER NOT NULL
);
";

/// Version 4: when an outgoing message was first deposited in mailboxes
/// (so one that no receipt followed before its mail expired can be
/// reported failed).
const V4: &str = "
ALTER TABLE outbox ADD COLUMN deposited INTEGER;
CREATE INDEX outbox_deposited ON outbox (deposited) WHERE deposited IS NOT NULL;
";

/// Version 5: group channels (each one's sealed pickle) and their messages,
/// both directions (ours have `dir` 2), bodies sealed like the inbox's.
const V5: &str = "
CREATE TABLE groups (
    group_id BLOB PRIMARY KEY NOT NULL CHECK (length(group_id) = 32),
    sealed BLOB NOT NULL,
    updated INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE group_messages (
    group_id BLOB NOT NULL CHECK (length(group_id) = 32),
    sender BLOB NOT NULL CHECK (length(sender) = 32),
    message_id BLOB NOT NULL CHECK (length(message_id) = 16),
    dir INTEGER NOT NULL CHECK (dir IN (1, 2)),
    time INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (group_id, sender, message_id)
);
CREATE INDEX group_messages_time ON group_messages (time);
";

/// Version 6: file transfers, each one's record sealed (it holds the
/// file's key).
const V6: &str = "
CREATE TABLE transfers (
    transfer_id BLOB PRIMARY KEY NOT NULL CHECK (length(transfer_id) = 16),
    sealed BLOB NOT NULL,
    updated INTEGER NOT NULL
) WITHOUT ROWID;
";

/// The schema migrations, oldest first; entry `i` takes the file from
/// version `i` to `i + 1`. Append only: never edit a released entry.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The schema version this build writes (the length of [`MIGRATIONS`]).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The file's schema version.
pub(crate) fn current_version(conn: &Connection) -> Result<i64, SqliteError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Brings the file up to [`SCHEMA_VERSION`], or refuses a newer file.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), SqliteError> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Applies migrations up to `target` (tests build old files with this).
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), SqliteError> {
    // An immediate transaction holds the write lock from the start, so two
    // processes opening the same file cannot both run a migration.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = current_version(&tx)?;
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(SqliteError::UnknownSchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = i64::try_from(index).unwrap_or(i64::MAX).saturating_add(1);
        if version <= found || version > target {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_file_reaches_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(current_version(&conn).unwrap(), 0);
        migrate(&mut conn).unwrap();
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
        // Idempotent.
        migrate(&mut conn).unwrap();
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn old_file_is_migrated_forward() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 1).unwrap();
        assert_eq!(current_version(&conn).unwrap(), 1);
        let has_mailbox = |c: &Connection| -> bool {
            c.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'mailbox'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        };
        assert!(!has_mailbox(&conn));
        migrate(&mut conn).unwrap();
        assert!(has_mailbox(&conn));
    }

    #[test]
    fn newer_file_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(
            err,
            SqliteError::UnknownSchemaVersion { found, supported }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ));
        assert!(err.to_string().contains("upgrade tacnode"));
        // Untouched.
        assert_eq!(current_version(&conn).unwrap(), SCHEMA_VERSION + 1);
    }
}
