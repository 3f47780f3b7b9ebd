//! Tables of pickles keyed by an id (group channels, file transfers):
//! `(id, sealed, updated)`, each value an opaque pickle from usecase sealed
//! under the storage key and bound to its table and id, so a row moved to
//! another id or table does not open.

use rusqlite::params;
use tacnode_domain::UnixMillis;

use crate::error::SqliteError;
use crate::seal::SecretBytes;
use crate::{Store, sql_time};

/// One such table.
pub(crate) struct PickleTable {
    /// Its name (also the label its values are sealed under).
    pub(crate) table: &'static str,
    /// The id column.
    pub(crate) id: &'static str,
    /// Largest pickle (the caller refuses larger ones with its own error).
    pub(crate) max: usize,
}

impl Store {
    /// Keeps (or replaces) the pickle of `id`, sealed.
    pub(crate) fn save_pickle(
        &mut self,
        t: &PickleTable,
        id: &[u8],
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), SqliteError> {
        let sealed = self.sealer.seal(t.table, &[id], pickle)?;
        let sql = format!(
            "INSERT INTO {table} ({id}, sealed, updated) VALUES (?1, ?2, ?3)
             ON CONFLICT ({id}) DO UPDATE SET sealed = excluded.sealed, updated = excluded.updated",
            table = t.table,
            id = t.id
        );
        self.conn
            .prepare_cached(&sql)?
            .execute(params![id, sealed, sql_time(now)])?;
        Ok(())
    }

    /// Every pickle of the table, by id (ids of `N` bytes, in order).
    pub(crate) fn pickles<const N: usize>(
        &self,
        t: &PickleTable,
    ) -> Result<Vec<([u8; N], SecretBytes)>, SqliteError> {
        let sql = format!(
            "SELECT {id}, sealed FROM {table} ORDER BY {id}",
            table = t.table,
            id = t.id
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, sealed)| {
                let id = <[u8; N]>::try_from(id.as_slice()).map_err(|_| SqliteError::Corrupt {
                    table: t.table,
                    reason: "an id of the wrong length",
                })?;
                let pickle = self.sealer.open(t.table, &[&id], &sealed, t.max)?;
                Ok((id, SecretBytes::from(pickle)))
            })
            .collect()
    }

    /// Forgets the pickle of `id`; whether there was one.
    pub(crate) fn delete_pickle(
        &mut self,
        t: &PickleTable,
        id: &[u8],
    ) -> Result<bool, SqliteError> {
        let sql = format!("DELETE FROM {} WHERE {} = ?1", t.table, t.id);
        Ok(self.conn.execute(&sql, [id])? > 0)
    }
}
