//! Mailbox holdings: messages this node keeps for other nodes until they
//! fetch them or they expire. Payloads are end-to-end ciphertext already and
//! are stored as given. Deposits are deduplicated by (recipient, message id)
//! and bounded by a per-recipient message quota and a total byte quota.

use rusqlite::params;
use tacnode_domain::{MessageId, NodeId, UnixMillis};

use crate::error::SqliteError;
use crate::{InsertOutcome, Store, message_id_from_sql, sql_limit, sql_time, time_from_sql};
pub use tacnode_domain::store::{
    DEFAULT_MAILBOX_PER_RECIPIENT, DEFAULT_MAILBOX_TOTAL_BYTES, MAX_MAILBOX_PAYLOAD_BYTES,
    MailboxItem, MailboxQuota, MailboxUsage,
};

const MAILBOX: &str = "mailbox";

impl Store {
    /// Replaces the mailbox quota (default [`MailboxQuota::default`]).
    /// Holdings over a lowered quota stay until fetched or expired.
    pub fn set_mailbox_quota(&mut self, quota: MailboxQuota) {
        self.mailbox_quota = quota;
    }

    /// The mailbox quota in force.
    pub fn mailbox_quota(&self) -> MailboxQuota {
        self.mailbox_quota
    }

    /// Holds `payload` for `recipient` until `expires`. Expired holdings are
    /// purged first; a deposit already held is
    /// [`InsertOutcome::AlreadyPresent`] (even when the quota is full); a new
    /// one over quota is [`SqliteError::MailboxRecipientQuota`] or
    /// [`SqliteError::MailboxTotalQuota`].
    pub fn mailbox_deposit(
        &mut self,
        recipient: &NodeId,
        message_id: &MessageId,
        payload: &[u8],
        expires: UnixMillis,
        now: UnixMillis,
    ) -> Result<InsertOutcome, SqliteError> {
        if payload.len() > MAX_MAILBOX_PAYLOAD_BYTES {
            return Err(SqliteError::MailboxPayloadTooLarge(payload.len()));
        }
        if expires <= now {
            return Err(SqliteError::MailboxAlreadyExpired);
        }
        let quota = self.mailbox_quota;
        // A savepoint: atomic on its own, and part of an enclosing batch.
        let tx = self.conn.savepoint()?;
        tx.execute("DELETE FROM mailbox WHERE expires <= ?1", [sql_time(now)])?;
        let held_already: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM mailbox WHERE recipient = ?1 AND message_id = ?2)",
            params![recipient.as_bytes(), message_id.as_bytes()],
            |r| r.get(0),
        )?;
        let outcome = if held_already {
            Ok(InsertOutcome::AlreadyPresent)
        } else {
            let held: u32 = tx.query_row(
                "SELECT count(*) FROM mailbox WHERE recipient = ?1",
                [recipient.as_bytes()],
                |r| r.get(0),
            )?;
            // length() of a blob reads the record header, not the payload.
            let held_bytes: i64 = tx.query_row(
                "SELECT coalesce(sum(length(payload)), 0) FROM mailbox",
                [],
                |r| r.get(0),
            )?;
            let held_bytes = u64::try_from(held_bytes).unwrap_or(0);
            let incoming = u64::try_from(payload.len()).unwrap_or(u64::MAX);
            if held >= quota.per_recipient {
                Err(SqliteError::MailboxRecipientQuota {
                    recipient: *recipient,
                    held,
                    limit: quota.per_recipient,
                })
            } else if held_bytes.saturating_add(incoming) > quota.total_bytes {
                Err(SqliteError::MailboxTotalQuota {
                    held: held_bytes,
                    incoming,
                    limit: quota.total_bytes,
                })
            } else {
                tx.execute(
                    "INSERT INTO mailbox (recipient, message_id, payload, deposited, expires)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        recipient.as_bytes(),
                        message_id.as_bytes(),
                        payload,
                        sql_time(now),
                        sql_time(expires)
                    ],
                )?;
                Ok(InsertOutcome::Inserted)
            }
        };
        // Keep the purge even when the deposit is refused.
        tx.commit()?;
        outcome
    }

    /// Recipients this node holds unexpired mail for, in id order, after
    /// `after` (exclusive), at most `limit` (capped at [`crate::MAX_QUERY_ROWS`]).
    pub fn mailbox_recipients(
        &self,
        after: Option<&NodeId>,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, SqliteError> {
        let after: Vec<u8> = after.map(|a| a.as_bytes().to_vec()).unwrap_or_default();
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT recipient FROM mailbox
             WHERE expires > ?1 AND recipient > ?2
             ORDER BY recipient LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![sql_time(now), after, sql_limit(limit)], |r| {
                r.get::<_, Vec<u8>>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter()
            .map(|r| crate::node_id_from_sql(MAILBOX, r))
            .collect()
    }

    /// Unexpired holdings for `recipient`, oldest first, at most `limit`
    /// (capped at [`crate::MAX_QUERY_ROWS`]). Fetching does not remove them:
    /// call [`Store::mailbox_remove`] once the recipient acknowledged.
    pub fn mailbox_fetch(
        &self,
        recipient: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<MailboxItem>, SqliteError> {
        let mut stmt = self.conn.prepare(
            "SELECT message_id, payload, deposited, expires FROM mailbox
             WHERE recipient = ?1 AND expires > ?2
             ORDER BY deposited, message_id LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![
            recipient.as_bytes(),
            sql_time(now),
            sql_limit(limit)
        ])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let payload: Vec<u8> = row.get(1)?;
            if payload.len() > MAX_MAILBOX_PAYLOAD_BYTES {
                return Err(SqliteError::Corrupt {
                    table: MAILBOX,
                    reason: "payload longer than its limit",
                });
            }
            out.push(MailboxItem {
                recipient: *recipient,
                message_id: message_id_from_sql(MAILBOX, &row.get::<_, Vec<u8>>(0)?)?,
                payload,
                deposited: time_from_sql(MAILBOX, row.get(2)?)?,
                expires: time_from_sql(MAILBOX, row.get(3)?)?,
            });
        }
        Ok(out)
    }

    /// Removes the listed holdings of `recipient` (after it acknowledged
    /// them); returns how many were removed.
    pub fn mailbox_remove(
        &mut self,
        recipient: &NodeId,
        message_ids: &[MessageId],
    ) -> Result<usize, SqliteError> {
        let tx = self.conn.savepoint()?;
        let mut removed = 0;
        {
            let mut stmt =
                tx.prepare("DELETE FROM mailbox WHERE recipient = ?1 AND message_id = ?2")?;
            for id in message_ids {
                removed += stmt.execute(params![recipient.as_bytes(), id.as_bytes()])?;
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Drops every holding expired at `now`; returns how many.
    pub fn mailbox_purge_expired(&mut self, now: UnixMillis) -> Result<usize, SqliteError> {
        Ok(self
            .conn
            .execute("DELETE FROM mailbox WHERE expires <= ?1", [sql_time(now)])?)
    }

    /// How much the mailboxes hold right now.
    pub fn mailbox_usage(&self) -> Result<MailboxUsage, SqliteError> {
        let (messages, bytes): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(payload)), 0) FROM mailbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(MailboxUsage {
            messages: u64::try_from(messages).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::key;
    use proptest::prelude::*;

    fn r(b: u8) -> NodeId {
        NodeId::from_bytes([b; 32])
    }

    fn m(b: u8) -> MessageId {
        MessageId([b; 16])
    }

    #[test]
    fn recipients_with_unexpired_mail_page_in_id_order() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let t = UnixMillis(100);
        s.mailbox_deposit(&r(3), &m(1), b"a", UnixMillis(1000), t)
            .unwrap();
        s.mailbox_deposit(&r(1), &m(2), b"b", UnixMillis(1000), t)
            .unwrap();
        s.mailbox_deposit(&r(1), &m(3), b"c", UnixMillis(1000), t)
            .unwrap();
        s.mailbox_deposit(&r(2), &m(4), b"d", UnixMillis(150), t)
            .unwrap();
        assert_eq!(
            s.mailbox_recipients(None, t, 10).unwrap(),
            [r(1), r(2), r(3)]
        );
        // Expired holdings name no recipient.
        let later = UnixMillis(200);
        assert_eq!(s.mailbox_recipients(None, later, 10).unwrap(), [r(1), r(3)]);
        assert_eq!(s.mailbox_recipients(Some(&r(1)), later, 1).unwrap(), [r(3)]);
    }

    #[test]
    fn deposit_fetch_remove_and_dedupe() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let t = UnixMillis(100);
        let exp = UnixMillis(1000);
        assert_eq!(
            s.mailbox_deposit(&r(1), &m(1), b"p1", exp, t).unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.mailbox_deposit(&r(1), &m(1), b"p1 again", exp, t)
                .unwrap(),
            InsertOutcome::AlreadyPresent
        );
        // Same id for another recipient is a different holding.
        assert_eq!(
            s.mailbox_deposit(&r(2), &m(1), b"p2", exp, t).unwrap(),
            InsertOutcome::Inserted
        );
        s.mailbox_deposit(&r(1), &m(2), b"p3", exp, UnixMillis(101))
            .unwrap();
        let got = s.mailbox_fetch(&r(1), t, 10).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].payload, b"p1");
        assert_eq!(got[0].deposited, t);
        assert_eq!(got[0].expires, exp);
        assert_eq!(got[1].message_id, m(2));
        assert_eq!(s.mailbox_remove(&r(1), &[m(1), m(9)]).unwrap(), 1);
        assert_eq!(s.mailbox_fetch(&r(1), t, 10).unwrap().len(), 1);
        assert_eq!(
            s.mailbox_usage().unwrap(),
            MailboxUsage {
                messages: 2,
                bytes: 4
            }
        );
    }

    #[test]
    fn quotas_are_enforced_with_distinct_errors() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        s.set_mailbox_quota(MailboxQuota {
            per_recipient: 2,
            total_bytes: 25,
        });
        let (t, exp) = (UnixMillis(1), UnixMillis(100));
        s.mailbox_deposit(&r(1), &m(1), &[0; 10], exp, t).unwrap();
        s.mailbox_deposit(&r(1), &m(2), &[0; 10], exp, t).unwrap();
        let err = s
            .mailbox_deposit(&r(1), &m(3), &[0; 1], exp, t)
            .unwrap_err();
        assert!(
            matches!(
                err,
                SqliteError::MailboxRecipientQuota {
                    held: 2,
                    limit: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        // A duplicate of something held is still recognised when full.
        assert_eq!(
            s.mailbox_deposit(&r(1), &m(2), &[0; 10], exp, t).unwrap(),
            InsertOutcome::AlreadyPresent
        );
        let err = s
            .mailbox_deposit(&r(2), &m(4), &[0; 6], exp, t)
            .unwrap_err();
        assert!(
            matches!(
                err,
                SqliteError::MailboxTotalQuota {
                    held: 20,
                    incoming: 6,
                    limit: 25
                }
            ),
            "{err:?}"
        );
        s.mailbox_deposit(&r(2), &m(4), &[0; 5], exp, t).unwrap();
        assert!(matches!(
            s.mailbox_deposit(
                &r(3),
                &m(5),
                &vec![0; MAX_MAILBOX_PAYLOAD_BYTES + 1],
                exp,
                t
            ),
            Err(SqliteError::MailboxPayloadTooLarge(_))
        ));
        assert!(matches!(
            s.mailbox_deposit(&r(3), &m(5), b"x", t, t),
            Err(SqliteError::MailboxAlreadyExpired)
        ));
    }

    #[test]
    fn expired_holdings_are_purged_and_free_quota() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        s.set_mailbox_quota(MailboxQuota {
            per_recipient: 1,
            total_bytes: 1000,
        });
        s.mailbox_deposit(&r(1), &m(1), b"old", UnixMillis(50), UnixMillis(1))
            .unwrap();
        s.mailbox_deposit(&r(2), &m(2), b"new", UnixMillis(500), UnixMillis(1))
            .unwrap();
        // Expired holdings are not fetched.
        assert!(
            s.mailbox_fetch(&r(1), UnixMillis(50), 10)
                .unwrap()
                .is_empty()
        );
        // A deposit after expiry purges first, so the quota has room again.
        s.mailbox_deposit(&r(1), &m(3), b"fresh", UnixMillis(500), UnixMillis(60))
            .unwrap();
        assert_eq!(s.mailbox_usage().unwrap().messages, 2);
        assert_eq!(s.mailbox_purge_expired(UnixMillis(499)).unwrap(), 0);
        assert_eq!(s.mailbox_purge_expired(UnixMillis(500)).unwrap(), 2);
        assert_eq!(s.mailbox_usage().unwrap(), MailboxUsage::default());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever is deposited, unexpired holdings never exceed either
        /// quota, and deposits fail only with a quota error.
        #[test]
        fn holdings_stay_within_quota(
            ops in proptest::collection::vec(
                (0u8..4, 0u8..12, 0usize..60, 1u64..50, 0u64..5),
                1..60,
            )
        ) {
            let quota = MailboxQuota { per_recipient: 3, total_bytes: 150 };
            let mut s = Store::open_in_memory(key(1)).unwrap();
            s.set_mailbox_quota(quota);
            let mut now = 1u64;
            for (recipient, id, size, ttl, step) in ops {
                now += step;
                let t = UnixMillis(now);
                let payload = vec![id; size];
                let result = s.mailbox_deposit(&r(recipient), &m(id), &payload, UnixMillis(now + ttl), t);
                prop_assert!(matches!(
                    result,
                    Ok(_) | Err(SqliteError::MailboxRecipientQuota { .. })
                        | Err(SqliteError::MailboxTotalQuota { .. })
                ), "{result:?}");
                let mut total = 0u64;
                for who in 0..4 {
                    let held = s.mailbox_fetch(&r(who), t, usize::MAX).unwrap();
                    prop_assert!(held.len() <= quota.per_recipient as usize);
                    total += held.iter().map(|h| h.payload.len() as u64).sum::<u64>();
                }
                prop_assert!(total <= quota.total_bytes);
            }
        }
    }
}
