//! File transfers: each one's record (an opaque pickle from usecase, which
//! holds the file's key), sealed under the storage key and bound to the
//! transfer's id.

use rusqlite::params;
use tacnode_domain::UnixMillis;
use tacnode_domain::file_transfer::{TRANSFER_ID_LEN, TransferId};
use tacnode_domain::store::MAX_TRANSFER_PICKLE_BYTES;

use crate::error::SqliteError;
use crate::seal::SecretBytes;
use crate::{Store, sql_time};

const TRANSFERS: &str = "transfers";

impl Store {
    /// Keeps (or replaces) a transfer's record, sealed.
    pub fn save_transfer(
        &mut self,
        transfer: &TransferId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), SqliteError> {
        if pickle.len() > MAX_TRANSFER_PICKLE_BYTES {
            return Err(SqliteError::TransferPickleTooLarge(pickle.len()));
        }
        let sealed = self
            .sealer
            .seal(TRANSFERS, &[transfer.as_bytes()], pickle)?;
        self.conn
            .prepare_cached(
                "INSERT INTO transfers (transfer_id, sealed, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (transfer_id) DO UPDATE SET sealed = excluded.sealed,
                                                         updated = excluded.updated",
            )?
            .execute(params![transfer.as_bytes(), sealed, sql_time(now)])?;
        Ok(())
    }

    /// Every transfer's record, by id.
    pub fn transfers(&self) -> Result<Vec<(TransferId, SecretBytes)>, SqliteError> {
        let mut stmt = self
            .conn
            .prepare("SELECT transfer_id, sealed FROM transfers ORDER BY transfer_id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, sealed)| {
                let transfer = <[u8; TRANSFER_ID_LEN]>::try_from(id.as_slice())
                    .map(TransferId)
                    .map_err(|_| SqliteError::Corrupt {
                        table: TRANSFERS,
                        reason: "transfer id is not 16 bytes",
                    })?;
                let pickle = self.sealer.open(
                    TRANSFERS,
                    &[transfer.as_bytes()],
                    &sealed,
                    MAX_TRANSFER_PICKLE_BYTES,
                )?;
                Ok((transfer, SecretBytes::from(pickle)))
            })
            .collect()
    }

    /// Forgets a transfer's record; whether there was one.
    pub fn delete_transfer(&mut self, transfer: &TransferId) -> Result<bool, SqliteError> {
        let n = self.conn.execute(
            "DELETE FROM transfers WHERE transfer_id = ?1",
            [transfer.as_bytes()],
        )?;
        Ok(n > 0)
    }
}
