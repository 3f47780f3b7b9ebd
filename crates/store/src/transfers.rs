//! File transfers: each one's record (an opaque pickle from usecase, which
//! holds the file's key), sealed under the storage key and bound to the
//! transfer's id (see [`crate::pickle_table`]).

use tacnode_domain::UnixMillis;
use tacnode_domain::file_transfer::TransferId;
use tacnode_domain::store::MAX_TRANSFER_PICKLE_BYTES;

use crate::Store;
use crate::error::SqliteError;
use crate::pickle_table::PickleTable;
use crate::seal::SecretBytes;

const TRANSFERS: PickleTable = PickleTable {
    table: "transfers",
    id: "transfer_id",
    max: MAX_TRANSFER_PICKLE_BYTES,
};

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
        self.save_pickle(&TRANSFERS, transfer.as_bytes(), pickle, now)
    }

    /// Every transfer's record, by id.
    pub fn transfers(&self) -> Result<Vec<(TransferId, SecretBytes)>, SqliteError> {
        Ok(self
            .pickles(&TRANSFERS)?
            .into_iter()
            .map(|(id, p)| (TransferId(id), p))
            .collect())
    }

    /// Forgets a transfer's record; whether there was one.
    pub fn delete_transfer(&mut self, transfer: &TransferId) -> Result<bool, SqliteError> {
        self.delete_pickle(&TRANSFERS, transfer.as_bytes())
    }
}
