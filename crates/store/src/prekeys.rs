//! The node's own prekey secrets: opaque blobs from the crypto crate keyed by
//! prekey id, sealed under the storage key. One-time prekeys are deleted in
//! the same transaction that hands them out, so each is used at most once.

use rusqlite::{OptionalExtension, params};
use tacnode_domain::UnixMillis;

use crate::error::SqliteError;
use crate::seal::SecretBytes;
use crate::{Store, sql_limit, sql_time};

/// Largest prekey blob accepted, in bytes.
pub const MAX_PREKEY_BYTES: usize = 4096;

const PREKEYS: &str = "prekeys";

/// A stored prekey secret and its kind.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Prekey {
    /// Signed or one-time.
    pub kind: PrekeyKind,
    /// The opaque secret blob as saved.
    pub secret: SecretBytes,
}

/// Which kind of prekey a blob holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PrekeyKind {
    /// The medium-term signed prekey (kept until rotated out).
    Signed,
    /// A one-time prekey (deleted once consumed).
    OneTime,
}

impl PrekeyKind {
    fn code(self) -> u8 {
        match self {
            Self::Signed => 1,
            Self::OneTime => 2,
        }
    }

    fn from_code(c: i64) -> Result<Self, SqliteError> {
        match c {
            1 => Ok(Self::Signed),
            2 => Ok(Self::OneTime),
            _ => Err(SqliteError::Corrupt {
                table: PREKEYS,
                reason: "unknown prekey kind",
            }),
        }
    }
}

fn aad_parts(kind: PrekeyKind, id: u32) -> ([u8; 1], [u8; 4]) {
    ([kind.code()], id.to_be_bytes())
}

pub use tacnode_domain::store::MAX_PREKEY_STATE_BYTES;
const PREKEY_STATE: &str = "prekey_state";

impl Store {
    /// Stores (replaces) the whole prekey state, sealed. Committed when it returns.
    pub fn save_prekey_state(&mut self, state: &[u8], now: UnixMillis) -> Result<(), SqliteError> {
        if state.len() > MAX_PREKEY_STATE_BYTES {
            return Err(SqliteError::PrekeyTooLarge(state.len()));
        }
        let sealed = self.sealer.seal(PREKEY_STATE, &[], state)?;
        self.conn.execute(
            "INSERT INTO prekey_state (id, sealed, updated) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, updated = excluded.updated",
            params![sealed, sql_time(now)],
        )?;
        Ok(())
    }

    /// The prekey state saved by [`Store::save_prekey_state`], if any.
    pub fn load_prekey_state(&self) -> Result<Option<SecretBytes>, SqliteError> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT sealed FROM prekey_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        row.map(|sealed| {
            self.sealer
                .open(PREKEY_STATE, &[], &sealed, MAX_PREKEY_STATE_BYTES)
                .map(Into::into)
        })
        .transpose()
    }

    /// Stores (or replaces) prekey `id` of `kind`, sealed.
    pub fn save_prekey(
        &mut self,
        id: u32,
        kind: PrekeyKind,
        secret: &[u8],
        now: UnixMillis,
    ) -> Result<(), SqliteError> {
        if secret.len() > MAX_PREKEY_BYTES {
            return Err(SqliteError::PrekeyTooLarge(secret.len()));
        }
        let (k, i) = aad_parts(kind, id);
        let sealed = self.sealer.seal(PREKEYS, &[&k, &i], secret)?;
        self.conn.execute(
            "INSERT INTO prekeys (id, kind, sealed, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, sealed = excluded.sealed,
                                            created = excluded.created",
            params![id, kind.code(), sealed, sql_time(now)],
        )?;
        Ok(())
    }

    fn open_prekey(&self, id: u32, kind: i64, sealed: &[u8]) -> Result<Prekey, SqliteError> {
        let kind = PrekeyKind::from_code(kind)?;
        let (k, i) = aad_parts(kind, id);
        let secret = self
            .sealer
            .open(PREKEYS, &[&k, &i], sealed, MAX_PREKEY_BYTES)?;
        Ok(Prekey {
            kind,
            secret: secret.into(),
        })
    }

    /// Prekey `id` and its kind, without consuming it.
    pub fn load_prekey(&self, id: u32) -> Result<Option<Prekey>, SqliteError> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT kind, sealed FROM prekeys WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(kind, sealed)| self.open_prekey(id, kind, &sealed))
            .transpose()
    }

    /// Hands out one-time prekey `id` and deletes it in the same transaction.
    /// `None` if it does not exist (already used, or never issued): the
    /// session setup that names it must be refused.
    pub fn take_one_time_prekey(&mut self, id: u32) -> Result<Option<SecretBytes>, SqliteError> {
        let tx = self.conn.savepoint()?;
        let row: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT kind, sealed FROM prekeys WHERE id = ?1 AND kind = ?2",
                params![id, PrekeyKind::OneTime.code()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((kind, sealed)) = row else {
            return Ok(None);
        };
        // Open before deleting: a row that fails to open stays for inspection.
        let (k, i) = aad_parts(PrekeyKind::from_code(kind)?, id);
        let secret = self
            .sealer
            .open(PREKEYS, &[&k, &i], &sealed, MAX_PREKEY_BYTES)?;
        tx.execute("DELETE FROM prekeys WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(Some(secret.into()))
    }

    /// Deletes prekey `id` (e.g. a rotated-out signed prekey); `false` if absent.
    pub fn delete_prekey(&mut self, id: u32) -> Result<bool, SqliteError> {
        Ok(self
            .conn
            .execute("DELETE FROM prekeys WHERE id = ?1", [id])?
            > 0)
    }

    /// Ids of stored prekeys of `kind`, ascending (at most [`crate::MAX_QUERY_ROWS`]).
    pub fn prekey_ids(&self, kind: PrekeyKind) -> Result<Vec<u32>, SqliteError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM prekeys WHERE kind = ?1 ORDER BY id LIMIT ?2")?;
        let ids = stmt
            .query_map(params![kind.code(), sql_limit(usize::MAX)], |r| r.get(0))?
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, contains, key, raw_bytes};

    #[test]
    fn one_time_prekeys_are_consumed_once() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        s.save_prekey(1, PrekeyKind::Signed, b"spk", UnixMillis(1))
            .unwrap();
        for id in 10..13 {
            s.save_prekey(id, PrekeyKind::OneTime, &[id as u8; 32], UnixMillis(1))
                .unwrap();
        }
        assert_eq!(s.prekey_ids(PrekeyKind::OneTime).unwrap(), vec![10, 11, 12]);
        assert_eq!(s.prekey_ids(PrekeyKind::Signed).unwrap(), vec![1]);
        assert_eq!(
            s.take_one_time_prekey(11).unwrap().unwrap().as_slice(),
            &[11; 32]
        );
        assert!(s.take_one_time_prekey(11).unwrap().is_none());
        assert_eq!(s.prekey_ids(PrekeyKind::OneTime).unwrap(), vec![10, 12]);
        // The signed prekey is never taken as one-time.
        assert!(s.take_one_time_prekey(1).unwrap().is_none());
        let prekey = s.load_prekey(1).unwrap().unwrap();
        assert_eq!(prekey.kind, PrekeyKind::Signed);
        assert_eq!(prekey.secret.as_slice(), b"spk");
        assert!(!format!("{prekey:?}").contains("115")); // 's'
        assert!(format!("{prekey:?}").contains("redacted"));
        assert!(s.delete_prekey(1).unwrap());
        assert!(s.load_prekey(1).unwrap().is_none());
        assert!(matches!(
            s.save_prekey(
                2,
                PrekeyKind::OneTime,
                &[0; MAX_PREKEY_BYTES + 1],
                UnixMillis(1)
            ),
            Err(SqliteError::PrekeyTooLarge(_))
        ));
    }

    #[test]
    fn prekey_state_is_replaced_and_survives_reopen() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        assert!(s.load_prekey_state().unwrap().is_none());
        s.save_prekey_state(b"state one", UnixMillis(1)).unwrap();
        s.save_prekey_state(b"state two", UnixMillis(2)).unwrap();
        drop(s);
        let s = Store::open(&path, key(1)).unwrap();
        assert_eq!(
            s.load_prekey_state().unwrap().unwrap().as_slice(),
            b"state two"
        );
        assert!(!contains(&raw_bytes(&path), b"state two"));
        let mut s = s;
        assert!(matches!(
            s.save_prekey_state(&vec![0; MAX_PREKEY_STATE_BYTES + 1], UnixMillis(3)),
            Err(SqliteError::PrekeyTooLarge(_))
        ));
    }

    #[test]
    fn prekeys_are_sealed_and_bound_to_id_and_kind() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        s.save_prekey(5, PrekeyKind::OneTime, b"PREKEY-SECRET-55aa", UnixMillis(1))
            .unwrap();
        assert!(!contains(&raw_bytes(&path), b"PREKEY-SECRET-55aa"));
        // Relabelling a one-time prekey as signed breaks the binding.
        s.conn
            .execute("UPDATE prekeys SET kind = 1 WHERE id = 5", [])
            .unwrap();
        assert!(matches!(
            s.load_prekey(5),
            Err(SqliteError::Decrypt { table: "prekeys" })
        ));
    }
}
