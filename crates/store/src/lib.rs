//! The storage adapters of tacnode: the node's durable state in one SQLite
//! file ([`Store`]), and its in-memory twin ([`MemoryStore`]). Both implement
//! the storage port [`NodeStore`] of `tacnode-domain`, through which the node
//! (`tacnode-usecase`) reaches them; the port's rows, limits and
//! [`StoreError`] are re-exported here. `tests/conformance.rs` runs one
//! contract against both.
//!
//! [`Store`] is a concrete adapter over one `rusqlite` connection (WAL
//! journal, foreign keys on, a busy timeout, [`Synchronous::DEFAULT`]). Its
//! methods are grouped by repository, one module per concept:
//!
//! - contacts: names bound to node ids and the identity key first seen;
//! - sessions: Double Ratchet session pickles, sealed;
//! - prekeys: own signed and one-time prekey secrets, sealed; one-time ones
//!   are deleted when taken;
//! - messages: the durable outbox with per-message delivery status and retry
//!   schedule, the deduplicating inbox, history export and import;
//! - mailbox: messages held for other nodes, with quotas, expiry and dedupe;
//! - routing: a snapshot of the routing table for warm restarts;
//! - meta: a small key/value table (e.g. the own peer record's sequence number);
//! - migrations: the versioned schema ([`SCHEMA_VERSION`]);
//! - quick_check: the integrity check at start, bounded in time
//!   ([`QUICK_CHECK_TIME_LIMIT`]);
//! - seal: AES-256-GCM at-rest encryption under the [`StorageKey`].
//!
//! Drive it from one task: open with [`Store::open`], pass the current time in
//! as [`UnixMillis`] (the store never reads a clock), and treat every `Ok` of a
//! write as committed to disk. Writes that belong together (a ratchet step
//! and the rows it produced, a batch of messages) go through [`Store::batch`]:
//! one transaction, one fsync, all or nothing. The store is `Send` but not `Sync`; share it
//! behind a mutex or a dedicated thread.

mod contacts;
mod error;
mod files;
mod groups;
mod history_file;
mod mailbox;
mod memory;
mod messages;
mod meta;
mod migrations;
mod pickle_table;
mod port;
mod prekeys;
mod quick_check;
mod routing;
mod seal;
mod sessions;
#[cfg(test)]
mod testutil;
mod transfers;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use tacnode_domain::{MessageId, NodeId, UnixMillis};

pub use error::SqliteError;
pub use files::{BACKGROUND_FLUSH_BYTES, DiskFiles, MAX_NAME_TRIES, MemoryFiles, PARTIAL_DIR};
pub use history_file::{
    ExportSummary, HISTORY_FILE_VERSION, HistoryFileError, MAX_HISTORY_LINE_BYTES,
    create_history_file,
};
pub use mailbox::{
    DEFAULT_MAILBOX_PER_RECIPIENT, DEFAULT_MAILBOX_TOTAL_BYTES, MAX_MAILBOX_PAYLOAD_BYTES,
    MailboxItem, MailboxQuota, MailboxUsage,
};
pub use memory::{MemoryBatchError, MemoryStore};
pub use messages::{ImportSummary, MAX_LAST_ERROR_BYTES, MAX_QUERY_ROWS, MAX_STORED_TEXT_BYTES};
pub use meta::{MAX_META_KEY_BYTES, MAX_META_VALUE_BYTES, META_PEER_RECORD_SEQUENCE};
pub use migrations::{MIGRATIONS, SCHEMA_VERSION};
pub use prekeys::{MAX_PREKEY_BYTES, MAX_PREKEY_STATE_BYTES, Prekey, PrekeyKind};
pub use quick_check::{QUICK_CHECK_TIME_LIMIT, QuickCheck};
pub use routing::{MAX_ROUTING_SNAPSHOT_ENTRIES, MAX_SNAPSHOT_ENDPOINTS, RoutingEntry};
pub use seal::{NONCE_LEN, SEAL_OVERHEAD, STORAGE_KEY_LEN, SecretBytes, StorageKey, TAG_LEN};
pub use sessions::MAX_SESSION_PICKLE_BYTES;
pub use tacnode_domain::StoreError;
pub use tacnode_domain::ports::{NodeStore, batch_within};
pub use tacnode_domain::store::InsertOutcome;

use seal::Sealer;

/// How long a write waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Plaintext sealed into the `key_check` row to recognise the right key. Its
/// version is the format of the security metadata: in version 2 meta values
/// are sealed and a contact's flags and identity key are authenticated by
/// its sealed name (see [`contacts`] and [`meta`]).
const KEY_CHECK_PLAINTEXT: &[u8] = b"tacnode storage key check v2";
/// The same for files whose meta values and contact flags are not yet
/// authenticated; upgraded once, at open.
const KEY_CHECK_PLAINTEXT_V1: &[u8] = b"tacnode storage key check v1";
const KEY_CHECK_TABLE: &str = "key_check";

/// SQLite's `synchronous` setting: what a committed write survives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Synchronous {
    /// Every commit is fsynced to the WAL before it returns: a committed
    /// write survives power loss.
    Full,
    /// Commits reach the OS but are fsynced only at checkpoints: a crash of
    /// the process loses nothing, a power loss may lose the latest commits
    /// (never corrupts).
    Normal,
}

impl Synchronous {
    /// The setting [`Store::open`] uses. Field laptops lose power, and a
    /// message the user saw as queued must still be there after a power cut,
    /// so commits are fsynced. The insert benchmark (`benches/store.rs`)
    /// puts the price at roughly 5× per commit (about 110–130 µs against
    /// 22–26 µs on the reference VM), still thousands of messages a second,
    /// far above what people type or radio links carry.
    pub const DEFAULT: Synchronous = Synchronous::Full;

    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// The node's durable state: one SQLite file, rows sealed with the storage key.
pub struct Store {
    conn: Connection,
    sealer: Sealer,
    /// Kept for keys derived from it (the history file's MAC key).
    storage_key: StorageKey,
    mailbox_quota: MailboxQuota,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed, owner-only permissions on unix) the database
    /// at `path` with [`Synchronous::DEFAULT`], migrates it to
    /// [`SCHEMA_VERSION`] and checks that `storage_key` is the key it was
    /// created with.
    pub fn open(path: impl AsRef<Path>, storage_key: StorageKey) -> Result<Store, SqliteError> {
        Self::open_with(path, storage_key, Synchronous::DEFAULT)
    }

    /// [`Store::open`] with an explicit `synchronous` setting.
    pub fn open_with(
        path: impl AsRef<Path>,
        storage_key: StorageKey,
        synchronous: Synchronous,
    ) -> Result<Store, SqliteError> {
        let path = path.as_ref();
        create_private(path)?;
        let conn = Connection::open(path)?;
        Self::init(conn, &storage_key, synchronous)
    }

    /// A fresh database in memory (tests, simulations).
    pub fn open_in_memory(storage_key: StorageKey) -> Result<Store, SqliteError> {
        Self::init(
            Connection::open_in_memory()?,
            &storage_key,
            Synchronous::DEFAULT,
        )
    }

    fn init(
        mut conn: Connection,
        key: &StorageKey,
        synchronous: Synchronous,
    ) -> Result<Store, SqliteError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // In-memory databases answer "memory"; files switch to WAL.
        let _mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        conn.pragma_update(None, "synchronous", synchronous.pragma())?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut conn)?;
        let sealer = Sealer::new(key);
        if check_key(&conn, &sealer)? == KeyCheck::Upgrade {
            authenticate_metadata(&mut conn, &sealer)?;
        }
        Ok(Store {
            conn,
            sealer,
            storage_key: key.clone(),
            mailbox_quota: MailboxQuota::default(),
        })
    }

    /// Closes the connection, checkpointing the WAL; reports errors that a
    /// plain drop would swallow.
    pub fn close(self) -> Result<(), SqliteError> {
        self.conn.close().map_err(|(_, e)| SqliteError::from(e))
    }

    /// Writes a consistent copy of the database to `path`, which must not
    /// exist (`VACUUM INTO`), as a backup of the data directory would.
    pub fn backup_to(&self, path: &Path) -> Result<(), SqliteError> {
        let target = path
            .to_str()
            .ok_or_else(|| rusqlite::Error::InvalidPath(path.to_path_buf()))?;
        self.conn.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }

    /// The file's schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, SqliteError> {
        migrations::current_version(&self.conn)
    }

    /// Runs `f` as one transaction: every write it makes is committed
    /// together (one fsync under `synchronous=FULL`), or none is when `f`
    /// fails or the commit does. A batch inside a batch joins the outer one.
    ///
    /// This is what makes throughput possible at `FULL`: a commit costs a
    /// disk flush, so a ratchet step, the rows it produced and the status
    /// changes of a whole batch of messages share one.
    pub fn batch<T, E>(&mut self, f: impl FnOnce(&mut Store) -> Result<T, E>) -> Result<T, E>
    where
        E: From<SqliteError>,
    {
        Store::batch_within(self, |s| s, f)
    }

    /// Rolls back a batch left open (its owner panicked inside it, so it
    /// never reached COMMIT or ROLLBACK); returns whether there was one.
    /// Without this every later batch would join the dead one and nothing
    /// would ever be committed again.
    pub fn abandon_open_batch(&mut self) -> bool {
        if self.conn.is_autocommit() {
            return false;
        }
        let _ = self.conn.execute_batch("ROLLBACK");
        true
    }

    /// [`Store::batch`] for a store owned by `owner`: `f` gets the owner, so
    /// it can change the owner's other state (say, a session cache) together
    /// with the rows that persist it. `store` picks the store out of it.
    pub fn batch_within<C, T, E>(
        owner: &mut C,
        store: impl Fn(&mut C) -> &mut Store,
        f: impl FnOnce(&mut C) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<SqliteError>,
    {
        if !store(owner).conn.is_autocommit() {
            return f(owner);
        }
        store(owner)
            .conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| E::from(e.into()))?;
        let result = f(owner);
        let conn = &store(owner).conn;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        match conn.execute_batch(end) {
            Ok(()) => result,
            Err(e) => {
                // A failed COMMIT may leave the transaction open: end it so
                // the next write does not silently join a dead batch.
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                match result {
                    Ok(_) => Err(E::from(e.into())),
                    Err(first) => Err(first),
                }
            }
        }
    }
}

/// What the key check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyCheck {
    /// The right key, current format.
    Current,
    /// The right key, a file from before the security metadata was
    /// authenticated.
    Upgrade,
}

/// Seals every meta value and re-seals every contact name over its flags
/// and identity key, then marks the file as upgraded, in one transaction.
/// Runs once: the mark is inside the sealed key check, which nobody without
/// the key can turn back.
fn authenticate_metadata(conn: &mut Connection, sealer: &Sealer) -> Result<(), SqliteError> {
    let tx = conn.transaction()?;
    meta::seal_all(&tx, sealer)?;
    contacts::reseal_all(&tx, sealer)?;
    let sealed = sealer.seal(KEY_CHECK_TABLE, &[], KEY_CHECK_PLAINTEXT)?;
    tx.execute("UPDATE key_check SET sealed = ?1 WHERE id = 1", [&sealed])?;
    tx.commit()?;
    Ok(())
}

/// Verifies the key against the sealed check row, writing it on first open.
fn check_key(conn: &Connection, sealer: &Sealer) -> Result<KeyCheck, SqliteError> {
    let read = |conn: &Connection| -> Result<Option<Vec<u8>>, SqliteError> {
        Ok(conn
            .query_row("SELECT sealed FROM key_check WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?)
    };
    let sealed = match read(conn)? {
        Some(sealed) => sealed,
        None => {
            // A new file. One that already holds security metadata but no
            // key check was not written by this store: refuse it rather than
            // seal what someone put there.
            let held: i64 = conn.query_row(
                "SELECT (SELECT COUNT(*) FROM meta) + (SELECT COUNT(*) FROM contacts)",
                [],
                |r| r.get(0),
            )?;
            if held > 0 {
                return Err(SqliteError::Corrupt {
                    table: KEY_CHECK_TABLE,
                    reason: "the key check is missing from a database that holds data (damaged or edited; restore it from a backup)",
                });
            }
            let sealed = sealer.seal(KEY_CHECK_TABLE, &[], KEY_CHECK_PLAINTEXT)?;
            // Another process may have won the race; re-read what is stored.
            conn.execute(
                "INSERT OR IGNORE INTO key_check (id, sealed) VALUES (1, ?1)",
                [&sealed],
            )?;
            read(conn)?.ok_or(SqliteError::Corrupt {
                table: KEY_CHECK_TABLE,
                reason: "key check row vanished",
            })?
        }
    };
    match sealer.open(KEY_CHECK_TABLE, &[], &sealed, KEY_CHECK_PLAINTEXT.len()) {
        Ok(plain) if plain.as_slice() == KEY_CHECK_PLAINTEXT => Ok(KeyCheck::Current),
        Ok(plain) if plain.as_slice() == KEY_CHECK_PLAINTEXT_V1 => Ok(KeyCheck::Upgrade),
        Ok(_) | Err(SqliteError::Decrypt { .. }) => Err(SqliteError::WrongStorageKey),
        Err(e) => Err(e),
    }
}

/// Creates the file with mode 0600 (and tightens an existing one) before
/// SQLite opens it; SQLite gives the `-wal` and `-shm` files the same mode.
fn create_private(path: &Path) -> Result<(), SqliteError> {
    #[cfg(unix)]
    {
        use std::fs::{OpenOptions, Permissions};
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        file.set_permissions(Permissions::from_mode(0o600))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            if Path::new(&side).exists() {
                std::fs::set_permissions(&side, Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Times are stored as SQLite integers; `u64` beyond `i64::MAX` saturates.
pub(crate) fn sql_time(t: UnixMillis) -> i64 {
    i64::try_from(t.0).unwrap_or(i64::MAX)
}

pub(crate) fn time_from_sql(table: &'static str, v: i64) -> Result<UnixMillis, SqliteError> {
    u64::try_from(v)
        .map(UnixMillis)
        .map_err(|_| SqliteError::Corrupt {
            table,
            reason: "negative time",
        })
}

pub(crate) fn node_id_from_sql(table: &'static str, v: &[u8]) -> Result<NodeId, SqliteError> {
    NodeId::from_slice(v).map_err(|_| SqliteError::Corrupt {
        table,
        reason: "node id is not 32 bytes",
    })
}

pub(crate) fn message_id_from_sql(table: &'static str, v: &[u8]) -> Result<MessageId, SqliteError> {
    MessageId::from_slice(v).map_err(|_| SqliteError::Corrupt {
        table,
        reason: "message id is not 16 bytes",
    })
}

/// Row limits handed to SQLite as integers.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_QUERY_ROWS)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, key};
    use sha2::{Digest, Sha256};

    /// The Ed25519 base point: a valid identity key.
    const BASEPOINT: [u8; 32] = [
        0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66,
    ];

    fn peer() -> NodeId {
        NodeId::from_slice(&[7; 32]).unwrap()
    }

    #[test]
    fn batch_commits_every_write_together() {
        let dir = TempDir::new();
        let path = dir.path().join("node.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        s.batch(|s| -> Result<(), SqliteError> {
            s.set_meta("a", b"1")?;
            s.set_meta("b", b"2")?;
            // A nested batch joins the outer transaction.
            s.batch(|s| s.set_meta("k", b"v"))?;
            // Methods with their own savepoint work inside a batch.
            s.queue_outbound(&peer(), &MessageId([1; 16]), "hi", UnixMillis(5))?;
            s.record_send_failure(&MessageId([1; 16]), "down", UnixMillis(6))?;
            s.mailbox_deposit(
                &peer(),
                &MessageId([2; 16]),
                b"sealed",
                UnixMillis(1_000),
                UnixMillis(6),
            )?;
            Ok(())
        })
        .unwrap();
        s.close().unwrap();
        let s = Store::open(&path, key(1)).unwrap();
        assert_eq!(s.meta("a").unwrap().unwrap().as_slice(), b"1");
        assert_eq!(s.meta("b").unwrap().unwrap().as_slice(), b"2");
        assert_eq!(s.meta("k").unwrap().unwrap().as_slice(), b"v");
        assert_eq!(
            s.outbound(&MessageId([1; 16]))
                .unwrap()
                .unwrap()
                .delivery
                .attempts,
            1
        );
        assert_eq!(s.mailbox_usage().unwrap().messages, 1);
    }

    #[test]
    fn a_batch_left_open_is_rolled_back_when_abandoned() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        assert!(!s.abandon_open_batch());
        // A batch whose owner never finished it.
        s.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        s.set_meta("a", b"1").unwrap();
        assert!(s.abandon_open_batch());
        assert!(s.meta("a").unwrap().is_none());
        // Batches commit again.
        s.batch(|s| s.set_meta("b", b"2")).unwrap();
        assert!(s.conn.is_autocommit());
        assert_eq!(s.meta("b").unwrap().unwrap().as_slice(), b"2");
    }

    #[test]
    fn failed_batch_writes_nothing_and_the_store_stays_usable() {
        let dir = TempDir::new();
        let path = dir.path().join("node.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        let err = s
            .batch(|s| -> Result<(), SqliteError> {
                s.set_meta("a", b"1")?;
                s.set_meta("k", b"v")?;
                // Unknown message: the whole batch must roll back.
                s.mark_sent(&MessageId([9; 16]), UnixMillis(1))?;
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(err, SqliteError::UnknownMessage(_)), "{err:?}");
        assert!(s.meta("a").unwrap().is_none());
        assert!(s.meta("k").unwrap().is_none());
        // Not left inside a transaction: a plain write commits on its own.
        s.set_meta("c", b"3").unwrap();
        s.close().unwrap();
        let s = Store::open(&path, key(1)).unwrap();
        assert_eq!(s.meta("c").unwrap().unwrap().as_slice(), b"3");
        assert!(s.meta("a").unwrap().is_none());
    }

    #[test]
    fn wrong_storage_key_is_a_clear_error() {
        let dir = TempDir::new();
        let path = dir.path().join("node.db");
        Store::open(&path, key(1)).unwrap().close().unwrap();
        let err = Store::open(&path, key(2)).unwrap_err();
        assert!(matches!(err, SqliteError::WrongStorageKey), "{err:?}");
        assert!(err.to_string().contains("wrong storage key"));
        // The right key still opens it.
        Store::open(&path, key(1)).unwrap();
    }

    /// Damaged pages are found at open or by the quick check, not later as
    /// refused mail (issue #13, data integrity).
    #[test]
    fn a_damaged_file_fails_the_quick_check() {
        let dir = TempDir::new();
        let path = dir.path().join("node.db");
        let mut store = Store::open(&path, key(1)).unwrap();
        for i in 0..400u32 {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            store
                .insert_inbound(
                    &NodeId::from_bytes([3; 32]),
                    &MessageId(id),
                    "some text",
                    UnixMillis(u64::from(i)),
                )
                .unwrap();
        }
        assert_eq!(
            store.quick_check(QUICK_CHECK_TIME_LIMIT).unwrap(),
            QuickCheck::Passed
        );
        store.close().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let len = bytes.len();
        for b in &mut bytes[len / 2..len / 2 + 4096] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, &bytes).unwrap();
        let checked =
            Store::open(&path, key(1)).and_then(|mut s| s.quick_check(QUICK_CHECK_TIME_LIMIT));
        assert!(checked.is_err(), "damage went unnoticed");
    }

    #[test]
    fn newer_schema_is_refused_on_open() {
        let dir = TempDir::new();
        let path = dir.path().join("node.db");
        Store::open(&path, key(1)).unwrap().close().unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
            .unwrap();
        conn.close().unwrap();
        let err = Store::open(&path, key(1)).unwrap_err();
        assert!(
            matches!(err, SqliteError::UnknownSchemaVersion { found, .. } if found == SCHEMA_VERSION + 5),
            "{err:?}"
        );
    }

    #[test]
    fn older_schema_is_migrated_on_open_keeping_data() {
        let dir = TempDir::new();
        let path = dir.path().join("node.db");
        {
            // A version 1 file as this store wrote it then: the key check of
            // that time, meta values and contact names not yet authenticated.
            let mut conn = Connection::open(&path).unwrap();
            migrations::migrate_to(&mut conn, 1).unwrap();
            let sealer = Sealer::new(&key(1));
            let check = sealer
                .seal(KEY_CHECK_TABLE, &[], KEY_CHECK_PLAINTEXT_V1)
                .unwrap();
            conn.execute(
                "INSERT INTO key_check (id, sealed) VALUES (1, ?1)",
                [&check],
            )
            .unwrap();
            conn.execute("INSERT INTO meta (key, value) VALUES ('k', x'2a')", [])
                .unwrap();
            let node = NodeId::from_bytes(Sha256::digest(BASEPOINT).into());
            let name = sealer
                .seal("contacts", &[node.as_bytes()], b"alpha")
                .unwrap();
            conn.execute(
                "INSERT INTO contacts (node_id, sealed_name, identity_key, first_seen, verified, identity_changed)
                 VALUES (?1, ?2, ?3, 1, 1, 0)",
                rusqlite::params![node.as_bytes(), name, BASEPOINT],
            )
            .unwrap();
        }
        let mut store = Store::open(&path, key(1)).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.meta("k").unwrap(), Some(vec![0x2a]));
        let contact = store
            .contact(&NodeId::from_bytes(Sha256::digest(BASEPOINT).into()))
            .unwrap()
            .unwrap();
        assert_eq!((contact.name.as_str(), contact.verified), ("alpha", true));
        // Version 2 tables work.
        let out = store
            .mailbox_deposit(
                &NodeId::from_bytes([1; 32]),
                &MessageId([2; 16]),
                b"x",
                UnixMillis(10),
                UnixMillis(1),
            )
            .unwrap();
        assert_eq!(out, InsertOutcome::Inserted);
    }

    #[test]
    fn pragmas_are_applied() {
        let dir = TempDir::new();
        let store = Store::open_with(dir.path().join("a.db"), key(1), Synchronous::Normal).unwrap();
        let q = |p: &str| -> String {
            store
                .conn
                .pragma_query_value(None, p, |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| format!("{v:?}"))
                .unwrap()
        };
        assert!(q("journal_mode").contains("wal"));
        assert!(q("synchronous").contains('1')); // NORMAL
        assert!(q("foreign_keys").contains('1'));
        assert!(q("busy_timeout").contains("5000"));
        let full = Store::open(dir.path().join("b.db"), key(1)).unwrap();
        let sync: i64 = full
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2); // FULL
    }

    #[cfg(unix)]
    #[test]
    fn database_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new();
        let path = dir.path().join("node.db");
        let mut store = Store::open(&path, key(1)).unwrap();
        store.set_meta("x", b"y").unwrap();
        for p in [path.clone(), dir.path().join("node.db-wal")] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
        drop(store);
        // An existing file with loose permissions is tightened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Store::open(&path, key(1)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn store_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Store>();
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let store = Store::open_in_memory(key(0x41)).unwrap();
        let shown = format!("{store:?}");
        assert!(shown.starts_with("Store"));
        assert!(!shown.contains("65, 65"));
    }
}
