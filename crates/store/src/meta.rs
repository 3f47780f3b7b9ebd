//! A small key/value table for node bookkeeping. Values are sealed, bound to
//! their key: some are security decisions (the device key pinned for a
//! contact, a pending one), which offline write access to the file must not
//! be able to change.

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::SqliteError;
use crate::seal::{SEAL_OVERHEAD, Sealer};

const META: &str = "meta";

pub use tacnode_domain::store::{
    MAX_META_KEY_BYTES, MAX_META_VALUE_BYTES, META_PEER_RECORD_SEQUENCE,
};

fn check_key(key: &str) -> Result<(), SqliteError> {
    if key.len() > MAX_META_KEY_BYTES {
        return Err(SqliteError::MetaKeyTooLong(key.len()));
    }
    Ok(())
}

impl Store {
    /// The value stored under `key`.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, SqliteError> {
        check_key(key)?;
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        if sealed.len() > MAX_META_VALUE_BYTES + SEAL_OVERHEAD {
            return Err(SqliteError::Corrupt {
                table: META,
                reason: "value longer than its limit",
            });
        }
        let value = self
            .sealer
            .open(META, &[key.as_bytes()], &sealed, MAX_META_VALUE_BYTES)?;
        Ok(Some(value.to_vec()))
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), SqliteError> {
        check_key(key)?;
        if value.len() > MAX_META_VALUE_BYTES {
            return Err(SqliteError::MetaValueTooLarge(value.len()));
        }
        let sealed = self.sealer.seal(META, &[key.as_bytes()], value)?;
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, sealed],
        )?;
        Ok(())
    }

    /// Removes `key`; `false` if it was absent.
    pub fn delete_meta(&mut self, key: &str) -> Result<bool, SqliteError> {
        check_key(key)?;
        Ok(self
            .conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])?
            > 0)
    }

    /// The `u64` stored under `key` by [`Store::set_meta_u64`].
    pub fn meta_u64(&self, key: &str) -> Result<Option<u64>, SqliteError> {
        self.meta(key)?
            .map(|v| {
                <[u8; 8]>::try_from(v.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| SqliteError::Corrupt {
                        table: "meta",
                        reason: "value is not a u64",
                    })
            })
            .transpose()
    }

    /// Stores `value` under `key` as 8 big-endian bytes.
    pub fn set_meta_u64(&mut self, key: &str, value: u64) -> Result<(), SqliteError> {
        self.set_meta(key, &value.to_be_bytes())
    }
}

/// Seals every value of a file from before meta values were sealed.
pub(crate) fn seal_all(conn: &rusqlite::Connection, sealer: &Sealer) -> Result<(), SqliteError> {
    let rows: Vec<(String, Vec<u8>)> = {
        let mut stmt = conn.prepare("SELECT key, value FROM meta")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (key, value) in rows {
        let sealed = sealer.seal(META, &[key.as_bytes()], &value)?;
        conn.execute(
            "UPDATE meta SET value = ?2 WHERE key = ?1",
            params![key, sealed],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::key;

    #[test]
    fn meta_round_trips_and_checks_limits() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        assert_eq!(s.meta_u64(META_PEER_RECORD_SEQUENCE).unwrap(), None);
        s.set_meta_u64(META_PEER_RECORD_SEQUENCE, 41).unwrap();
        s.set_meta_u64(META_PEER_RECORD_SEQUENCE, 42).unwrap();
        assert_eq!(s.meta_u64(META_PEER_RECORD_SEQUENCE).unwrap(), Some(42));
        s.set_meta("name", b"abc").unwrap();
        assert_eq!(s.meta("name").unwrap(), Some(b"abc".to_vec()));
        assert!(matches!(
            s.meta_u64("name"),
            Err(SqliteError::Corrupt { .. })
        ));
        assert!(s.delete_meta("name").unwrap());
        assert!(!s.delete_meta("name").unwrap());
        assert!(matches!(
            s.set_meta(&"k".repeat(MAX_META_KEY_BYTES + 1), b""),
            Err(SqliteError::MetaKeyTooLong(_))
        ));
        assert!(matches!(
            s.set_meta("k", &[0; MAX_META_VALUE_BYTES + 1]),
            Err(SqliteError::MetaValueTooLarge(_))
        ));
    }
}
