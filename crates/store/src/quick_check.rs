//! The integrity check at start: SQLite's `PRAGMA quick_check` (page and
//! index structure), bounded in time. It is linear in the file's size, so
//! on a large file or a slow card it could hold a node's start for minutes;
//! past [`QUICK_CHECK_TIME_LIMIT`] it stops and says so, and the caller
//! starts anyway (damage it did not reach shows later as a failed read, an
//! error, never as an empty answer).

use std::ffi::c_int;
use std::time::{Duration, Instant};

use crate::{SqliteError, Store};

/// Longest the integrity check at start may take.
pub const QUICK_CHECK_TIME_LIMIT: Duration = Duration::from_secs(10);

/// SQLite steps between two looks at the clock while the check runs (the
/// integrity check calls the progress handler too, per page and cell).
const QUICK_CHECK_PROGRESS_STEPS: c_int = 1_000;

/// How a bounded integrity check ended, when it found no damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickCheck {
    /// The whole file was checked.
    Passed,
    /// The time limit came first: no damage in what was checked, the rest
    /// is unchecked.
    CutShort {
        /// How long it ran.
        after: Duration,
    },
}

impl Store {
    /// SQLite's `PRAGMA quick_check`, stopped once `limit` has passed (a
    /// clock read every [`QUICK_CHECK_PROGRESS_STEPS`] SQLite steps):
    /// [`SqliteError::Damaged`] with SQLite's first finding when the file
    /// is damaged, [`QuickCheck::CutShort`] when the limit came first.
    pub fn quick_check(&mut self, limit: Duration) -> Result<QuickCheck, SqliteError> {
        let started = Instant::now();
        // A limit past the end of time is no limit.
        let deadline = started.checked_add(limit);
        self.conn.progress_handler(
            QUICK_CHECK_PROGRESS_STEPS,
            Some(move || deadline.is_some_and(|d| Instant::now() >= d)),
        )?;
        let first = self
            .conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get::<_, String>(0));
        self.conn.progress_handler(0, None::<fn() -> bool>)?;
        match first {
            Ok(first) if first == "ok" => Ok(QuickCheck::Passed),
            Ok(first) => Err(SqliteError::Damaged(first)),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                Ok(QuickCheck::CutShort {
                    after: started.elapsed(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::testutil::TempDir;
    use crate::{StorageKey, UnixMillis};
    use tacnode_domain::{MessageId, NodeId};

    fn store_with_rows(dir: &TempDir, rows: u32) -> Store {
        let mut store =
            Store::open(dir.path().join("node.db"), StorageKey::from_bytes([1; 32])).unwrap();
        store
            .batch(|s| {
                for i in 0..rows {
                    let mut id = [0u8; 16];
                    id[..4].copy_from_slice(&i.to_be_bytes());
                    s.insert_inbound(
                        &NodeId::from_bytes([3; 32]),
                        &MessageId(id),
                        "some text to fill a few pages",
                        UnixMillis(u64::from(i)),
                    )?;
                }
                Ok::<_, SqliteError>(())
            })
            .unwrap();
        store
    }

    /// The check at start is bounded (issue #13, data integrity): with its
    /// time already up it stops at the first look at the clock, whatever
    /// the machine's speed, and says it was cut short, not damaged.
    #[test]
    fn a_check_past_its_time_limit_is_cut_short_not_failed() {
        let dir = TempDir::new();
        let mut store = store_with_rows(&dir, 2_000);
        let checked = store.quick_check(Duration::ZERO).unwrap();
        assert!(
            matches!(checked, QuickCheck::CutShort { .. }),
            "{checked:?}"
        );
        // The handler is gone afterwards: later queries are not interrupted.
        assert_eq!(
            store.quick_check(Duration::MAX).unwrap(),
            QuickCheck::Passed
        );
        assert_eq!(
            store.quick_check(QUICK_CHECK_TIME_LIMIT).unwrap(),
            QuickCheck::Passed
        );
    }
}
