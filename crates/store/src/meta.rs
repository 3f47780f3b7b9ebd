//! A small key/value table for node bookkeeping (not secrets: values are
//! stored as given, unsealed).

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::SqliteError;

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
        let value: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        if value
            .as_ref()
            .is_some_and(|v| v.len() > MAX_META_VALUE_BYTES)
        {
            return Err(SqliteError::Corrupt {
                table: "meta",
                reason: "value longer than its limit",
            });
        }
        Ok(value)
    }

    /// Stores `value` under `key`, replacing any previous value.
    pub fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), SqliteError> {
        check_key(key)?;
        if value.len() > MAX_META_VALUE_BYTES {
            return Err(SqliteError::MetaValueTooLarge(value.len()));
        }
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
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
