//! The outbox, the inbox and the conversation history.
//!
//! An outbound message is committed before [`Store::queue_outbound`] returns;
//! its delivery status then only moves forward (see
//! [`MessageStatus`]). Inbound messages are deduplicated by
//! `(peer, message id)`. Bodies are sealed; the associated data binds each
//! body to its table, peer and message id.

use rusqlite::{OptionalExtension, Row, params};
use tacnode_domain::{
    DeliveryState, Direction, MessageId, MessageStatus, NodeId, OutboxEntry, StoredMessage,
    UnixMillis,
};

use crate::error::SqliteError;
use crate::{
    InsertOutcome, Store, message_id_from_sql, node_id_from_sql, sql_limit, sql_time, time_from_sql,
};

use tacnode_domain::store::truncate_last_error as truncate_error;
pub use tacnode_domain::store::{MAX_LAST_ERROR_BYTES, MAX_QUERY_ROWS, MAX_STORED_TEXT_BYTES};
const OUTBOX: &str = "outbox";
const INBOX: &str = "inbox";

/// Every message of the history, pairwise and group, as rows of (time,
/// dir, peer, message id, sealed body, group id or NULL): a group message's
/// peer is its sender.
const HISTORY_ROWS: &str = "
    SELECT time, 1 AS dir, peer, message_id, sealed, NULL AS group_id FROM inbox
    UNION ALL
    SELECT time, 2 AS dir, peer, message_id, sealed, NULL AS group_id FROM outbox
    UNION ALL
    SELECT time, dir, sender AS peer, message_id, sealed, group_id FROM group_messages";

/// What [`Store::import_history`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ImportSummary {
    /// Messages that were new.
    pub inserted: u64,
    /// Messages already present (same table, peer and id).
    pub skipped: u64,
}

fn status_code(s: MessageStatus) -> i64 {
    match s {
        MessageStatus::Queued => 1,
        MessageStatus::Sent => 2,
        MessageStatus::Delivered => 3,
        MessageStatus::Failed => 4,
    }
}

fn status_from_code(c: i64) -> Result<MessageStatus, SqliteError> {
    match c {
        1 => Ok(MessageStatus::Queued),
        2 => Ok(MessageStatus::Sent),
        3 => Ok(MessageStatus::Delivered),
        4 => Ok(MessageStatus::Failed),
        _ => Err(SqliteError::Corrupt {
            table: OUTBOX,
            reason: "unknown status",
        }),
    }
}

pub(crate) fn check_text(text: &str) -> Result<(), SqliteError> {
    if text.len() > MAX_STORED_TEXT_BYTES {
        return Err(SqliteError::TextTooLong(text.len()));
    }
    Ok(())
}

const OUTBOX_COLUMNS: &str =
    "message_id, peer, time, sealed, status, attempts, next_attempt, last_error, updated";

/// Raw outbox row, before the body is opened.
struct OutboxRow {
    message_id: Vec<u8>,
    peer: Vec<u8>,
    time: i64,
    sealed: Vec<u8>,
    status: i64,
    attempts: i64,
    next_attempt: Option<i64>,
    last_error: Option<String>,
    updated: i64,
}

impl OutboxRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            message_id: row.get(0)?,
            peer: row.get(1)?,
            time: row.get(2)?,
            sealed: row.get(3)?,
            status: row.get(4)?,
            attempts: row.get(5)?,
            next_attempt: row.get(6)?,
            last_error: row.get(7)?,
            updated: row.get(8)?,
        })
    }
}

impl Store {
    fn open_text(
        &self,
        table: &'static str,
        peer: &NodeId,
        message_id: &MessageId,
        sealed: &[u8],
    ) -> Result<String, SqliteError> {
        let plain = self.sealer.open(
            table,
            &[peer.as_bytes(), message_id.as_bytes()],
            sealed,
            MAX_STORED_TEXT_BYTES,
        )?;
        String::from_utf8(plain.to_vec()).map_err(|_| SqliteError::Corrupt {
            table,
            reason: "text is not UTF-8",
        })
    }

    fn outbox_entry(&self, row: OutboxRow) -> Result<OutboxEntry, SqliteError> {
        let message_id = message_id_from_sql(OUTBOX, &row.message_id)?;
        let peer = node_id_from_sql(OUTBOX, &row.peer)?;
        let text = self.open_text(OUTBOX, &peer, &message_id, &row.sealed)?;
        Ok(OutboxEntry {
            message: StoredMessage {
                time: time_from_sql(OUTBOX, row.time)?,
                peer,
                direction: Direction::Outbound,
                message_id,
                text,
                group: None,
            },
            delivery: DeliveryState {
                status: status_from_code(row.status)?,
                attempts: u32::try_from(row.attempts).map_err(|_| SqliteError::Corrupt {
                    table: OUTBOX,
                    reason: "attempt count out of range",
                })?,
                next_attempt: row
                    .next_attempt
                    .map(|t| time_from_sql(OUTBOX, t))
                    .transpose()?,
                last_error: row.last_error,
                updated: time_from_sql(OUTBOX, row.updated)?,
            },
        })
    }

    /// Puts an outbound text for `peer` in the outbox as
    /// [`MessageStatus::Queued`], due at `now`. Returns only after the row is
    /// committed; a second call with the same id changes nothing.
    pub fn queue_outbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        now: UnixMillis,
    ) -> Result<InsertOutcome, SqliteError> {
        check_text(text)?;
        let sealed = self.sealer.seal(
            OUTBOX,
            &[peer.as_bytes(), message_id.as_bytes()],
            text.as_bytes(),
        )?;
        let t = sql_time(now);
        // A single autocommit statement: committed (and synced per
        // `synchronous`) when `execute` returns.
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO outbox (message_id, peer, time, sealed, status, attempts,
                                     next_attempt, last_error, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?3, NULL, ?3)
                 ON CONFLICT (message_id) DO NOTHING",
            )?
            .execute(params![
                message_id.as_bytes(),
                peer.as_bytes(),
                t,
                sealed,
                status_code(MessageStatus::Queued)
            ])?;
        Ok(if changed == 0 {
            InsertOutcome::AlreadyPresent
        } else {
            InsertOutcome::Inserted
        })
    }

    /// The outbound message `message_id` with its delivery state.
    pub fn outbound(&self, message_id: &MessageId) -> Result<Option<OutboxEntry>, SqliteError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE message_id = ?1"),
                [message_id.as_bytes()],
                OutboxRow::read,
            )
            .optional()?;
        row.map(|r| self.outbox_entry(r)).transpose()
    }

    /// The latest queue time in the outbox, if any: a restart continues
    /// after it even if the clock went back, so queue order survives.
    pub fn latest_outbound_time(&self) -> Result<Option<UnixMillis>, SqliteError> {
        let t: Option<i64> = self
            .conn
            .query_row("SELECT MAX(time) FROM outbox", [], |r| r.get(0))?;
        t.map(|t| time_from_sql(OUTBOX, t)).transpose()
    }

    /// Queued messages in queue order (time, then id) after `after`
    /// (exclusive), at most `limit` (capped at [`MAX_QUERY_ROWS`]): what a
    /// restart puts back into the delivery schedule, read page by page
    /// without decrypting any text. Returns (id, recipient, queue time).
    pub fn queued_outbound(
        &self,
        after: Option<(UnixMillis, MessageId)>,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId, UnixMillis)>, SqliteError> {
        let (time, id) = match &after {
            Some((t, id)) => (sql_time(*t), id.as_bytes().to_vec()),
            // An empty blob sorts before every id.
            None => (i64::MIN, Vec::new()),
        };
        let mut stmt = self.conn.prepare(
            "SELECT message_id, peer, time FROM outbox
             WHERE status = ?1 AND (time, message_id) > (?2, ?3)
             ORDER BY time, message_id LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(
                params![
                    status_code(MessageStatus::Queued),
                    time,
                    id,
                    sql_limit(limit)
                ],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, peer, t)| {
                Ok((
                    message_id_from_sql(OUTBOX, &id)?,
                    node_id_from_sql(OUTBOX, &peer)?,
                    time_from_sql(OUTBOX, t)?,
                ))
            })
            .collect()
    }

    /// The delivery status of an outgoing message, without decrypting it;
    /// `None` for an unknown id.
    pub fn outbound_status(
        &self,
        message_id: &MessageId,
    ) -> Result<Option<MessageStatus>, SqliteError> {
        match self.status_of(message_id) {
            Ok(s) => Ok(Some(s)),
            Err(SqliteError::UnknownMessage(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn status_of(&self, message_id: &MessageId) -> Result<MessageStatus, SqliteError> {
        let code: Option<i64> = self
            .conn
            .query_row(
                "SELECT status FROM outbox WHERE message_id = ?1",
                [message_id.as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        status_from_code(code.ok_or(SqliteError::UnknownMessage(*message_id))?)
    }

    /// Records that the message was handed to the peer or deposited in a
    /// mailbox: `Queued → Sent`, no further retries. Later states are kept.
    /// Returns the resulting status.
    pub fn mark_sent(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, SqliteError> {
        self.conn.execute(
            "UPDATE outbox SET status = ?2, next_attempt = NULL, updated = ?3
             WHERE message_id = ?1 AND status = ?4",
            params![
                message_id.as_bytes(),
                status_code(MessageStatus::Sent),
                sql_time(now),
                status_code(MessageStatus::Queued)
            ],
        )?;
        self.status_of(message_id)
    }

    /// Records that the message was deposited in mailboxes: `Queued → Sent`
    /// as [`Store::mark_sent`], and the first deposit time is kept for
    /// [`Store::expire_deposited`]. Returns the resulting status.
    pub fn mark_deposited(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, SqliteError> {
        self.conn.execute(
            "UPDATE outbox SET deposited = ?2 WHERE message_id = ?1 AND status = ?3
                 AND deposited IS NULL",
            params![
                message_id.as_bytes(),
                sql_time(now),
                status_code(MessageStatus::Queued)
            ],
        )?;
        self.mark_sent(message_id, now)
    }

    /// Gives up on messages deposited at or before `deposited_before` that
    /// no receipt followed (still `Sent`): their mail has expired at the
    /// holders. They become `Failed` with `reason`. At most `limit` per call
    /// (capped at [`MAX_QUERY_ROWS`]); returns them with their recipients.
    pub fn expire_deposited(
        &mut self,
        deposited_before: UnixMillis,
        reason: &str,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId)>, SqliteError> {
        let tx = self.conn.savepoint()?;
        let rows = {
            let mut stmt = tx.prepare(
                "SELECT message_id, peer FROM outbox
                 WHERE deposited IS NOT NULL AND deposited <= ?1 AND status = ?2
                 ORDER BY deposited, message_id LIMIT ?3",
            )?;
            stmt.query_map(
                params![
                    sql_time(deposited_before),
                    status_code(MessageStatus::Sent),
                    sql_limit(limit)
                ],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, peer) in rows {
            tx.execute(
                "UPDATE outbox SET status = ?2, last_error = ?3, updated = ?4
                 WHERE message_id = ?1",
                params![
                    id,
                    status_code(MessageStatus::Failed),
                    truncate_error(reason),
                    sql_time(now)
                ],
            )?;
            out.push((
                message_id_from_sql(OUTBOX, &id)?,
                node_id_from_sql(OUTBOX, &peer)?,
            ));
        }
        tx.commit()?;
        Ok(out)
    }

    /// Puts our messages to `peer` that are still `Sent` (handed over or
    /// deposited, no receipt) back in the queue, due at `now`, with their
    /// attempts, last error and first deposit time cleared: `peer` could
    /// not open them (our sending state was rolled back) and asked for
    /// them again. Oldest first (time, then id), at most `limit` (capped at
    /// [`MAX_QUERY_ROWS`]); returns them with their queue times.
    pub fn requeue_sent(
        &mut self,
        peer: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, UnixMillis)>, SqliteError> {
        let tx = self.conn.savepoint()?;
        let rows = {
            let mut stmt = tx.prepare(
                "SELECT message_id, time FROM outbox
                 WHERE peer = ?1 AND status = ?2
                 ORDER BY time, message_id LIMIT ?3",
            )?;
            stmt.query_map(
                params![
                    peer.as_bytes(),
                    status_code(MessageStatus::Sent),
                    sql_limit(limit)
                ],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, time) in rows {
            tx.execute(
                "UPDATE outbox SET status = ?2, attempts = 0, next_attempt = ?3,
                        last_error = NULL, deposited = NULL, updated = ?3
                 WHERE message_id = ?1",
                params![id, status_code(MessageStatus::Queued), sql_time(now)],
            )?;
            out.push((
                message_id_from_sql(OUTBOX, &id)?,
                time_from_sql(OUTBOX, time)?,
            ));
        }
        tx.commit()?;
        Ok(out)
    }

    /// Records `peer`'s delivery receipt for `message_id`: any state becomes
    /// `Delivered`. A receipt from another peer than the recipient is
    /// [`SqliteError::UnknownMessage`].
    pub fn mark_delivered(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<(), SqliteError> {
        let changed = self.conn.execute(
            "UPDATE outbox SET status = ?3, next_attempt = NULL,
                    updated = CASE WHEN status = ?3 THEN updated ELSE ?4 END
             WHERE message_id = ?1 AND peer = ?2",
            params![
                message_id.as_bytes(),
                peer.as_bytes(),
                status_code(MessageStatus::Delivered),
                sql_time(now)
            ],
        )?;
        if changed == 0 {
            return Err(SqliteError::UnknownMessage(*message_id));
        }
        Ok(())
    }

    /// Records a failed send attempt of a queued message: counts it and
    /// keeps `error` (truncated to [`MAX_LAST_ERROR_BYTES`], stored
    /// unsealed: keep message content out of it), for the operator. When to
    /// try again, deposit or give up is the node's delivery queue's call
    /// alone (one retry policy): the message stays queued. Messages no
    /// longer queued are left unchanged.
    pub fn record_send_failure(
        &mut self,
        message_id: &MessageId,
        error: &str,
        now: UnixMillis,
    ) -> Result<DeliveryState, SqliteError> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt = NULL,
                    last_error = ?2, updated = ?3
             WHERE message_id = ?1 AND status = ?4",
            params![
                message_id.as_bytes(),
                truncate_error(error),
                sql_time(now),
                status_code(MessageStatus::Queued)
            ],
        )?;
        self.outbound(message_id)?
            .map(|e| e.delivery)
            .ok_or(SqliteError::UnknownMessage(*message_id))
    }

    /// Gives up on a queued message: `Queued → Failed` with `reason`,
    /// whatever its attempt count (the caller's retry policy decided).
    /// Later states are kept. Returns the resulting status.
    pub fn mark_failed(
        &mut self,
        message_id: &MessageId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<MessageStatus, SqliteError> {
        self.conn.execute(
            "UPDATE outbox SET status = ?2, next_attempt = NULL, last_error = ?3, updated = ?4
             WHERE message_id = ?1 AND status = ?5",
            params![
                message_id.as_bytes(),
                status_code(MessageStatus::Failed),
                truncate_error(reason),
                sql_time(now),
                status_code(MessageStatus::Queued)
            ],
        )?;
        self.status_of(message_id)
    }

    /// Puts a `Failed` message back in the queue, due at `now`, with its
    /// attempt count reset (the user asked to retry). Other states are kept.
    /// Returns the resulting status.
    pub fn requeue_failed(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, SqliteError> {
        self.conn.execute(
            "UPDATE outbox SET status = ?2, attempts = 0, next_attempt = ?3, updated = ?3
             WHERE message_id = ?1 AND status = ?4",
            params![
                message_id.as_bytes(),
                status_code(MessageStatus::Queued),
                sql_time(now),
                status_code(MessageStatus::Failed)
            ],
        )?;
        self.status_of(message_id)
    }

    /// Stores a text received from `peer` at `received`. A message already
    /// stored (same peer and id) is [`InsertOutcome::AlreadyPresent`], not an
    /// error, so redelivered copies are recognised.
    pub fn insert_inbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        received: UnixMillis,
    ) -> Result<InsertOutcome, SqliteError> {
        check_text(text)?;
        let sealed = self.sealer.seal(
            INBOX,
            &[peer.as_bytes(), message_id.as_bytes()],
            text.as_bytes(),
        )?;
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO inbox (peer, message_id, time, sealed) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (peer, message_id) DO NOTHING",
            )?
            .execute(params![
                peer.as_bytes(),
                message_id.as_bytes(),
                sql_time(received),
                sealed
            ])?;
        Ok(if changed == 0 {
            InsertOutcome::AlreadyPresent
        } else {
            InsertOutcome::Inserted
        })
    }

    /// The latest `limit` messages (capped at [`MAX_QUERY_ROWS`]) exchanged
    /// with `peer`, both directions, oldest first.
    pub fn conversation(
        &self,
        peer: &NodeId,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, SqliteError> {
        let mut stmt = self.conn.prepare(
            "SELECT time, dir, message_id, sealed, NULL AS group_id FROM (
                 SELECT time, 1 AS dir, message_id, sealed FROM inbox WHERE peer = ?1
                 UNION ALL
                 SELECT time, 2 AS dir, message_id, sealed FROM outbox WHERE peer = ?1
             ) ORDER BY time DESC, dir DESC, message_id DESC LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![peer.as_bytes(), sql_limit(limit)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(self.history_row(row, Some(peer))?);
        }
        out.reverse();
        Ok(out)
    }

    fn history_row(
        &self,
        row: &Row<'_>,
        peer: Option<&NodeId>,
    ) -> Result<StoredMessage, SqliteError> {
        let dir: i64 = row.get("dir")?;
        let group = row
            .get::<_, Option<Vec<u8>>>("group_id")?
            .map(|g| crate::groups::group_id_from_sql(&g))
            .transpose()?;
        let direction = match dir {
            1 => Direction::Inbound,
            _ => Direction::Outbound,
        };
        let table = match (&group, direction) {
            (Some(_), _) => crate::groups::GROUP_MESSAGES,
            (None, Direction::Inbound) => INBOX,
            (None, Direction::Outbound) => OUTBOX,
        };
        let peer = match peer {
            Some(p) => *p,
            None => node_id_from_sql(table, &row.get::<_, Vec<u8>>("peer")?)?,
        };
        let message_id = message_id_from_sql(table, &row.get::<_, Vec<u8>>("message_id")?)?;
        let sealed: Vec<u8> = row.get("sealed")?;
        let text = match &group {
            Some(g) => self.open_group_text(g, &peer, &message_id, &sealed)?,
            None => self.open_text(table, &peer, &message_id, &sealed)?,
        };
        Ok(StoredMessage {
            time: time_from_sql(table, row.get("time")?)?,
            peer,
            direction,
            text,
            message_id,
            group,
        })
    }

    /// The latest `limit` messages (capped at [`MAX_QUERY_ROWS`]) of every
    /// conversation, both directions, oldest first, in the order of
    /// [`Store::export_history`]. Decrypts only those rows.
    pub fn latest_history(&self, limit: usize) -> Result<Vec<StoredMessage>, SqliteError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT time, dir, peer, message_id, sealed, group_id FROM ({HISTORY_ROWS})
                 ORDER BY time DESC, dir DESC, peer DESC, message_id DESC LIMIT ?1"
        ))?;
        let mut rows = stmt.query([sql_limit(limit)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(self.history_row(row, None)?);
        }
        out.reverse();
        Ok(out)
    }

    /// Every stored message, oldest first, as a result per row: a row that
    /// cannot be read (a damaged page, a value that does not decrypt) is
    /// an `Err` and the walk goes on.
    pub(crate) fn export_history_rows<F>(&self, mut each: F) -> Result<(), SqliteError>
    where
        F: FnMut(Result<StoredMessage, SqliteError>),
    {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT time, dir, peer, message_id, sealed, group_id FROM ({HISTORY_ROWS})
                 ORDER BY time, dir, peer, message_id"
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            each(self.history_row(row, None));
        }
        Ok(())
    }

    /// Feeds the whole message history, both directions, to `each` in time
    /// order (ties broken by direction, peer, id), without loading it all in
    /// memory. Returns how many messages were exported.
    pub fn export_history<F>(&self, mut each: F) -> Result<u64, SqliteError>
    where
        F: FnMut(StoredMessage),
    {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT time, dir, peer, message_id, sealed, group_id FROM ({HISTORY_ROWS})
                 ORDER BY time, dir, peer, message_id"
        ))?;
        let mut rows = stmt.query([])?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            each(self.history_row(row, None)?);
            n += 1;
        }
        Ok(n)
    }

    /// Inserts exported history in one transaction, skipping messages already
    /// present, so importing twice changes nothing. Imported outbound messages
    /// are recorded as [`MessageStatus::Sent`] with no retry planned: they
    /// left the old device, and are never sent again.
    pub fn import_history<I>(&mut self, messages: I) -> Result<ImportSummary, SqliteError>
    where
        I: IntoIterator<Item = StoredMessage>,
    {
        let tx = self.conn.savepoint()?;
        let mut summary = ImportSummary::default();
        {
            let mut inbox = tx.prepare(
                "INSERT INTO inbox (peer, message_id, time, sealed) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (peer, message_id) DO NOTHING",
            )?;
            let mut outbox = tx.prepare(
                "INSERT INTO outbox (message_id, peer, time, sealed, status, attempts,
                                     next_attempt, last_error, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL, NULL, ?3)
                 ON CONFLICT (message_id) DO NOTHING",
            )?;
            let mut group_rows = tx.prepare(crate::groups::INSERT_GROUP_MESSAGE)?;
            for m in messages {
                check_text(&m.text)?;
                if let Some(group) = &m.group {
                    let sealed = crate::groups::seal_group_text(
                        &self.sealer,
                        group,
                        &m.peer,
                        &m.message_id,
                        &m.text,
                    )?;
                    let changed = group_rows.execute(params![
                        group.as_bytes(),
                        m.peer.as_bytes(),
                        m.message_id.as_bytes(),
                        crate::groups::dir_code(m.direction),
                        sql_time(m.time),
                        sealed
                    ])?;
                    if changed == 0 {
                        summary.skipped += 1;
                    } else {
                        summary.inserted += 1;
                    }
                    continue;
                }
                let changed = match m.direction {
                    Direction::Inbound => {
                        let sealed = self.sealer.seal(
                            INBOX,
                            &[m.peer.as_bytes(), m.message_id.as_bytes()],
                            m.text.as_bytes(),
                        )?;
                        inbox.execute(params![
                            m.peer.as_bytes(),
                            m.message_id.as_bytes(),
                            sql_time(m.time),
                            sealed
                        ])?
                    }
                    Direction::Outbound => {
                        let sealed = self.sealer.seal(
                            OUTBOX,
                            &[m.peer.as_bytes(), m.message_id.as_bytes()],
                            m.text.as_bytes(),
                        )?;
                        outbox.execute(params![
                            m.message_id.as_bytes(),
                            m.peer.as_bytes(),
                            sql_time(m.time),
                            sealed,
                            status_code(MessageStatus::Sent)
                        ])?
                    }
                };
                if changed == 0 {
                    summary.skipped += 1;
                } else {
                    summary.inserted += 1;
                }
            }
        }
        tx.commit()?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, contains, key, raw_bytes};

    fn peer(b: u8) -> NodeId {
        NodeId::from_bytes([b; 32])
    }

    fn mid(b: u8) -> MessageId {
        MessageId([b; 16])
    }

    fn store() -> Store {
        Store::open_in_memory(key(7)).unwrap()
    }

    #[test]
    fn outbox_insert_is_durable_and_idempotent() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        assert_eq!(
            s.queue_outbound(&peer(1), &mid(1), "hello", UnixMillis(100))
                .unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.queue_outbound(&peer(1), &mid(1), "other", UnixMillis(200))
                .unwrap(),
            InsertOutcome::AlreadyPresent
        );
        // Simulate a crash: no close, just drop; a second connection sees it.
        drop(s);
        let s = Store::open(&path, key(1)).unwrap();
        let e = s.outbound(&mid(1)).unwrap().unwrap();
        assert_eq!(e.message.text, "hello");
        assert_eq!(e.message.peer, peer(1));
        assert_eq!(e.message.direction, Direction::Outbound);
        assert_eq!(e.delivery.status, MessageStatus::Queued);
        assert_eq!(e.delivery.attempts, 0);
        assert_eq!(e.delivery.next_attempt, Some(UnixMillis(100)));
    }

    #[test]
    fn deposited_mail_without_a_receipt_fails_once_it_expired() {
        let mut s = store();
        for b in 1..=4 {
            s.queue_outbound(&peer(1), &mid(b), "a", UnixMillis(1))
                .unwrap();
        }
        // 1 deposited early, 2 deposited late, 3 sent directly, 4 deposited
        // early but its receipt came.
        s.mark_deposited(&mid(1), UnixMillis(10)).unwrap();
        s.mark_deposited(&mid(2), UnixMillis(500)).unwrap();
        s.mark_sent(&mid(3), UnixMillis(10)).unwrap();
        s.mark_deposited(&mid(4), UnixMillis(10)).unwrap();
        s.mark_delivered(&peer(1), &mid(4), UnixMillis(20)).unwrap();
        // A second deposit keeps the first time.
        s.mark_deposited(&mid(1), UnixMillis(400)).unwrap();
        let expired = s
            .expire_deposited(UnixMillis(100), "expired", UnixMillis(600), 10)
            .unwrap();
        assert_eq!(expired, vec![(mid(1), peer(1))]);
        let e = s.outbound(&mid(1)).unwrap().unwrap();
        assert_eq!(e.delivery.status, MessageStatus::Failed);
        assert_eq!(e.delivery.last_error.as_deref(), Some("expired"));
        for (b, status) in [
            (2, MessageStatus::Sent),
            (3, MessageStatus::Sent),
            (4, MessageStatus::Delivered),
        ] {
            assert_eq!(
                s.outbound(&mid(b)).unwrap().unwrap().delivery.status,
                status
            );
        }
        // A late receipt still wins.
        s.mark_delivered(&peer(1), &mid(1), UnixMillis(700))
            .unwrap();
        assert_eq!(
            s.outbound(&mid(1)).unwrap().unwrap().delivery.status,
            MessageStatus::Delivered
        );
    }

    #[test]
    fn status_moves_forward_only() {
        let mut s = store();
        s.queue_outbound(&peer(1), &mid(1), "a", UnixMillis(1))
            .unwrap();
        assert_eq!(
            s.mark_sent(&mid(1), UnixMillis(2)).unwrap(),
            MessageStatus::Sent
        );
        assert_eq!(
            s.outbound(&mid(1)).unwrap().unwrap().delivery.next_attempt,
            None
        );
        // Receipt from the wrong peer is refused.
        assert!(matches!(
            s.mark_delivered(&peer(2), &mid(1), UnixMillis(3)),
            Err(SqliteError::UnknownMessage(_))
        ));
        s.mark_delivered(&peer(1), &mid(1), UnixMillis(3)).unwrap();
        // Sent after delivered does not go back.
        assert_eq!(
            s.mark_sent(&mid(1), UnixMillis(4)).unwrap(),
            MessageStatus::Delivered
        );
        let d = s.outbound(&mid(1)).unwrap().unwrap().delivery;
        assert_eq!(d.status, MessageStatus::Delivered);
        assert_eq!(d.updated, UnixMillis(3));
        assert!(matches!(
            s.mark_sent(&mid(9), UnixMillis(4)),
            Err(SqliteError::UnknownMessage(_))
        ));
    }

    #[test]
    fn mark_failed_gives_up_on_queued_messages_only() {
        let mut s = Store::open_in_memory(key(1)).unwrap();
        let peer = NodeId::from_bytes([3; 32]);
        let (a, b) = (MessageId([1; 16]), MessageId([2; 16]));
        s.queue_outbound(&peer, &a, "a", UnixMillis(1)).unwrap();
        s.queue_outbound(&peer, &b, "b", UnixMillis(1)).unwrap();
        s.mark_sent(&b, UnixMillis(2)).unwrap();
        assert_eq!(
            s.mark_failed(&a, "gave up", UnixMillis(3)).unwrap(),
            MessageStatus::Failed
        );
        assert_eq!(
            s.mark_failed(&b, "gave up", UnixMillis(3)).unwrap(),
            MessageStatus::Sent
        );
        let e = s.outbound(&a).unwrap().unwrap();
        assert_eq!(e.delivery.last_error.as_deref(), Some("gave up"));
        assert_eq!(e.delivery.next_attempt, None);
    }

    #[test]
    fn failures_are_counted_and_explained_but_never_fail_a_message() {
        let mut s = store();
        s.queue_outbound(&peer(1), &mid(1), "a", UnixMillis(0))
            .unwrap();
        let d = s
            .record_send_failure(&mid(1), "unreachable", UnixMillis(1))
            .unwrap();
        assert_eq!(d.status, MessageStatus::Queued);
        assert_eq!(d.attempts, 1);
        assert_eq!(d.next_attempt, None);
        assert_eq!(d.last_error.as_deref(), Some("unreachable"));
        // However many: the delivery queue alone decides to give up.
        let long = "x".repeat(2 * MAX_LAST_ERROR_BYTES);
        for t in 2..100 {
            s.record_send_failure(&mid(1), &long, UnixMillis(t))
                .unwrap();
        }
        let d = s.outbound(&mid(1)).unwrap().unwrap().delivery;
        assert_eq!(d.status, MessageStatus::Queued);
        assert_eq!(d.attempts, 99);
        assert_eq!(d.last_error.unwrap().len(), MAX_LAST_ERROR_BYTES);
        // A message no longer queued is left alone.
        s.mark_failed(&mid(1), "gave up", UnixMillis(200)).unwrap();
        let d = s
            .record_send_failure(&mid(1), "late", UnixMillis(201))
            .unwrap();
        assert_eq!(d.status, MessageStatus::Failed);
        assert_eq!(d.attempts, 99);
        assert_eq!(
            s.requeue_failed(&mid(1), UnixMillis(300)).unwrap(),
            MessageStatus::Queued
        );
        let d = s.outbound(&mid(1)).unwrap().unwrap().delivery;
        assert_eq!(d.attempts, 0);
    }

    #[test]
    fn error_truncation_respects_char_boundaries() {
        let s = "é".repeat(MAX_LAST_ERROR_BYTES);
        let t = truncate_error(&s);
        assert!(t.len() <= MAX_LAST_ERROR_BYTES);
        assert!(t.len() >= MAX_LAST_ERROR_BYTES - 1);
    }

    #[test]
    fn inbox_dedupes_by_message_id_per_peer() {
        let mut s = store();
        assert_eq!(
            s.insert_inbound(&peer(1), &mid(1), "hi", UnixMillis(1))
                .unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(
            s.insert_inbound(&peer(1), &mid(1), "hi", UnixMillis(2))
                .unwrap(),
            InsertOutcome::AlreadyPresent
        );
        // Another peer cannot shadow the id.
        assert_eq!(
            s.insert_inbound(&peer(2), &mid(1), "hi", UnixMillis(2))
                .unwrap(),
            InsertOutcome::Inserted
        );
        assert_eq!(s.conversation(&peer(1), 10).unwrap().len(), 1);
    }

    #[test]
    fn oversized_text_is_refused() {
        let mut s = store();
        let text = "a".repeat(MAX_STORED_TEXT_BYTES + 1);
        assert!(matches!(
            s.insert_inbound(&peer(1), &mid(1), &text, UnixMillis(1)),
            Err(SqliteError::TextTooLong(_))
        ));
        assert!(matches!(
            s.queue_outbound(&peer(1), &mid(1), &text, UnixMillis(1)),
            Err(SqliteError::TextTooLong(_))
        ));
    }

    #[test]
    fn conversation_interleaves_directions_oldest_first() {
        let mut s = store();
        s.insert_inbound(&peer(1), &mid(1), "one", UnixMillis(10))
            .unwrap();
        s.queue_outbound(&peer(1), &mid(2), "two", UnixMillis(20))
            .unwrap();
        s.insert_inbound(&peer(1), &mid(3), "three", UnixMillis(30))
            .unwrap();
        s.insert_inbound(&peer(2), &mid(4), "elsewhere", UnixMillis(15))
            .unwrap();
        let texts: Vec<_> = s
            .conversation(&peer(1), 10)
            .unwrap()
            .into_iter()
            .map(|m| (m.text, m.direction))
            .collect();
        assert_eq!(
            texts,
            vec![
                ("one".to_string(), Direction::Inbound),
                ("two".to_string(), Direction::Outbound),
                ("three".to_string(), Direction::Inbound)
            ]
        );
        let last: Vec<_> = s
            .conversation(&peer(1), 2)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(last, vec!["two", "three"]);
    }

    #[test]
    fn bodies_are_not_stored_in_plaintext() {
        let dir = TempDir::new();
        let path = dir.path().join("n.db");
        let mut s = Store::open(&path, key(1)).unwrap();
        s.insert_inbound(&peer(1), &mid(1), "MARKER-INBOUND-7f3a", UnixMillis(1))
            .unwrap();
        s.queue_outbound(&peer(1), &mid(2), "MARKER-OUTBOUND-7f3a", UnixMillis(2))
            .unwrap();
        // Control: mailbox payloads (end-to-end encrypted already) are
        // stored as given, so the scan can find text.
        s.mailbox_deposit(
            &peer(2),
            &mid(3),
            b"MARKER-PLAIN-7f3a",
            UnixMillis(100),
            UnixMillis(1),
        )
        .unwrap();
        // Meta values (pins among them) are sealed.
        s.set_meta("pin", b"MARKER-META-7f3a").unwrap();
        let live = raw_bytes(&path);
        assert!(contains(&live, b"MARKER-PLAIN-7f3a"));
        assert!(!contains(&live, b"MARKER-INBOUND-7f3a"));
        assert!(!contains(&live, b"MARKER-OUTBOUND-7f3a"));
        assert!(!contains(&live, b"MARKER-META-7f3a"));
        s.close().unwrap();
        let closed = raw_bytes(&path);
        assert!(contains(&closed, b"MARKER-PLAIN-7f3a"));
        assert!(!contains(&closed, b"MARKER-INBOUND-7f3a"));
        assert!(!contains(&closed, b"MARKER-OUTBOUND-7f3a"));
    }

    #[test]
    fn tampered_row_fails_and_others_still_read() {
        let mut s = store();
        s.insert_inbound(&peer(1), &mid(1), "first", UnixMillis(1))
            .unwrap();
        s.insert_inbound(&peer(1), &mid(2), "second", UnixMillis(2))
            .unwrap();
        s.queue_outbound(&peer(1), &mid(3), "third", UnixMillis(3))
            .unwrap();
        // Flip one ciphertext bit of the first row.
        let mut sealed: Vec<u8> = s
            .conn
            .query_row(
                "SELECT sealed FROM inbox WHERE message_id = ?1",
                [mid(1).as_bytes()],
                |r| r.get(0),
            )
            .unwrap();
        sealed[crate::NONCE_LEN + 1] ^= 0x01;
        s.conn
            .execute(
                "UPDATE inbox SET sealed = ?1 WHERE message_id = ?2",
                rusqlite::params![sealed, mid(1).as_bytes()],
            )
            .unwrap();
        assert!(matches!(
            s.conversation(&peer(1), 10),
            Err(SqliteError::Decrypt { table: "inbox" })
        ));
        // Other rows remain readable.
        assert_eq!(s.outbound(&mid(3)).unwrap().unwrap().message.text, "third");
        s.conn
            .execute(
                "DELETE FROM inbox WHERE message_id = ?1",
                [mid(1).as_bytes()],
            )
            .unwrap();
        let texts: Vec<_> = s
            .conversation(&peer(1), 10)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts, vec!["second", "third"]);
    }

    #[test]
    fn swapped_bodies_do_not_open() {
        let mut s = store();
        s.queue_outbound(&peer(1), &mid(1), "to one", UnixMillis(1))
            .unwrap();
        s.queue_outbound(&peer(2), &mid(2), "to two", UnixMillis(1))
            .unwrap();
        // Copy row 1's sealed body over row 2's.
        s.conn
            .execute(
                "UPDATE outbox SET sealed = (SELECT sealed FROM outbox WHERE message_id = ?1)
                 WHERE message_id = ?2",
                [mid(1).as_bytes(), mid(2).as_bytes()],
            )
            .unwrap();
        assert!(matches!(
            s.outbound(&mid(2)),
            Err(SqliteError::Decrypt { table: "outbox" })
        ));
        // Moving a row to another peer is caught too.
        s.conn
            .execute(
                "UPDATE outbox SET peer = ?1 WHERE message_id = ?2",
                [peer(3).as_bytes().as_slice(), mid(1).as_bytes().as_slice()],
            )
            .unwrap();
        assert!(matches!(
            s.outbound(&mid(1)),
            Err(SqliteError::Decrypt { .. })
        ));
    }

    #[test]
    fn history_exports_in_time_order_and_imports_idempotently() {
        let mut a = store();
        a.insert_inbound(&peer(1), &mid(1), "in 30", UnixMillis(30))
            .unwrap();
        a.queue_outbound(&peer(2), &mid(2), "out 10", UnixMillis(10))
            .unwrap();
        a.insert_inbound(&peer(2), &mid(3), "in 20", UnixMillis(20))
            .unwrap();
        let mut exported = Vec::new();
        assert_eq!(a.export_history(|m| exported.push(m)).unwrap(), 3);
        let times: Vec<_> = exported.iter().map(|m| m.time.0).collect();
        assert_eq!(times, vec![10, 20, 30]);
        assert_eq!(exported[0].direction, Direction::Outbound);
        assert_eq!(exported[0].peer, peer(2));
        assert_eq!(exported[0].text, "out 10");
        // The latest ones: the tail of the export, in the same order.
        assert_eq!(a.latest_history(2).unwrap(), exported[1..].to_vec());
        assert_eq!(a.latest_history(100).unwrap(), exported);
        assert!(a.latest_history(0).unwrap().is_empty());

        let mut b = Store::open_in_memory(key(9)).unwrap();
        b.insert_inbound(&peer(1), &mid(1), "in 30", UnixMillis(30))
            .unwrap();
        let s = b.import_history(exported.clone()).unwrap();
        assert_eq!(
            s,
            ImportSummary {
                inserted: 2,
                skipped: 1
            }
        );
        let s = b.import_history(exported.clone()).unwrap();
        assert_eq!(
            s,
            ImportSummary {
                inserted: 0,
                skipped: 3
            }
        );
        let mut again = Vec::new();
        b.export_history(|m| again.push(m)).unwrap();
        assert_eq!(again, exported);
        // Imported outbound messages are not re-sent.
        let e = b.outbound(&mid(2)).unwrap().unwrap();
        assert_eq!(e.delivery.status, MessageStatus::Sent);
        assert!(b.queued_outbound(None, 10).unwrap().is_empty());
    }

    #[test]
    fn queued_messages_page_in_queue_order() {
        let mut s = store();
        // Same time for 1 and 2: the id breaks the tie.
        for (m, t) in [(3u8, 20u64), (2, 10), (1, 10), (4, 30)] {
            s.queue_outbound(&peer(1), &mid(m), "x", UnixMillis(t))
                .unwrap();
        }
        s.mark_sent(&mid(3), UnixMillis(40)).unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = s.queued_outbound(after, 1).unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.2, last.0));
            seen.extend(page.iter().map(|(id, p, t)| (id.as_bytes()[0], *p, t.0)));
        }
        assert_eq!(
            seen,
            vec![(1, peer(1), 10), (2, peer(1), 10), (4, peer(1), 30)]
        );
        assert_eq!(s.latest_outbound_time().unwrap(), Some(UnixMillis(30)));
        assert_eq!(store().latest_outbound_time().unwrap(), None);
    }
}
