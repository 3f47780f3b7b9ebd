//! [`MemoryStore`]: the storage port in memory, a twin of the SQLite
//! [`crate::Store`] with the same observable behaviour (limits, dedupe,
//! status transitions, query order, quotas, batches) and none of its cost:
//! no file, no fsync, no sealing. The simulator runs whole networks on it;
//! the conformance suite (`tests/conformance.rs`) holds both stores to one
//! contract.
//!
//! The tables live behind an `Arc`, the "disk": [`MemoryStore::reopen`]
//! gives another handle on the same tables, as opening the same file again
//! would, so a simulated node restarts with its data. A batch keeps an undo
//! log; rolling back (or dropping the handle with the batch still open, as
//! closing a SQLite connection does) replays it backwards.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tacnode_domain::file_transfer::TransferId;
use tacnode_domain::group::GroupId;
use tacnode_domain::ports::NodeStore;
use tacnode_domain::store::{
    InsertOutcome, MAX_GROUP_PICKLE_BYTES, MAX_MAILBOX_PAYLOAD_BYTES, MAX_META_KEY_BYTES,
    MAX_META_VALUE_BYTES, MAX_PREKEY_STATE_BYTES, MAX_QUERY_ROWS, MAX_ROUTING_SNAPSHOT_ENTRIES,
    MAX_SESSION_PICKLE_BYTES, MAX_SNAPSHOT_ENDPOINTS, MAX_STORED_TEXT_BYTES,
    MAX_TRANSFER_PICKLE_BYTES, MailboxItem, MailboxQuota, MailboxUsage, RoutingEntry, SecretBytes,
    truncate_last_error,
};
use tacnode_domain::{
    Contact, DeliveryState, Direction, MAX_CONTACT_NAME_BYTES, MessageId, MessageStatus, NodeId,
    OutboxEntry, StoreError, StoredMessage, UnixMillis,
};
use zeroize::Zeroizing;

/// Misuse of a [`MemoryStore`] batch (SQLite refuses the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoryBatchError {
    /// `begin_batch` with a batch already open.
    #[error("a batch is already open")]
    AlreadyOpen,
    /// `commit_batch` or `rollback_batch` with no batch open.
    #[error("no batch is open")]
    NoneOpen,
    /// The simulated disk is full ([`MemoryStore::set_full`]).
    #[error("database or disk is full")]
    DiskFull,
}

/// An outbox row.
#[derive(Clone)]
struct Outbound {
    peer: NodeId,
    time: UnixMillis,
    text: String,
    delivery: DeliveryState,
    /// First deposit in mailboxes, for `expire_deposited`.
    deposited: Option<UnixMillis>,
}

/// A mailbox holding (the key holds recipient and message id).
#[derive(Clone)]
struct Held {
    payload: Vec<u8>,
    deposited: UnixMillis,
    expires: UnixMillis,
}

/// Everything a node stores: the "disk".
#[derive(Default, Clone)]
struct Tables {
    contacts: BTreeMap<NodeId, Contact>,
    meta: BTreeMap<String, Vec<u8>>,
    /// Pickle and when it was last saved.
    sessions: BTreeMap<NodeId, (Zeroizing<Vec<u8>>, UnixMillis)>,
    prekey_state: Option<Zeroizing<Vec<u8>>>,
    outbox: BTreeMap<MessageId, Outbound>,
    /// Time and text by (peer, id).
    inbox: BTreeMap<(NodeId, MessageId), (UnixMillis, String)>,
    mailbox: BTreeMap<(NodeId, MessageId), Held>,
    routing: BTreeMap<NodeId, RoutingEntry>,
    /// Group channel pickles by group.
    groups: BTreeMap<GroupId, Zeroizing<Vec<u8>>>,
    /// File transfer records by transfer.
    transfers: BTreeMap<TransferId, Zeroizing<Vec<u8>>>,
    /// Group messages by (group, sender, id): time, direction, text.
    group_messages: BTreeMap<(GroupId, NodeId, MessageId), (UnixMillis, Direction, String)>,
    /// Writes fail as on a full disk ([`MemoryStore::set_full`]).
    full: bool,
}

/// One step back of an open batch.
type Undo = Box<dyn FnOnce(&mut Tables) + Send>;

/// The tables, locked, and the undo log of the open batch if any: every
/// write goes through [`Tx::set`] or [`Tx::replace`], which log its inverse.
struct Tx<'a> {
    t: MutexGuard<'a, Tables>,
    undo: Option<&'a mut Vec<Undo>>,
}

impl Tx<'_> {
    /// Sets (`Some`) or removes (`None`) `key` of a table; returns the old value.
    fn set<K, V>(
        &mut self,
        table: fn(&mut Tables) -> &mut BTreeMap<K, V>,
        key: K,
        value: Option<V>,
    ) -> Option<V>
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let map = table(&mut self.t);
        let old = match value {
            Some(v) => map.insert(key.clone(), v),
            None => map.remove(&key),
        };
        if let Some(undo) = self.undo.as_deref_mut() {
            let previous = old.clone();
            undo.push(Box::new(move |t: &mut Tables| {
                let map = table(t);
                match previous {
                    Some(v) => {
                        map.insert(key, v);
                    }
                    None => {
                        map.remove(&key);
                    }
                }
            }));
        }
        old
    }

    /// Replaces a whole field; returns the old value.
    fn replace<V: Clone + Send + 'static>(
        &mut self,
        field: fn(&mut Tables) -> &mut V,
        value: V,
    ) -> V {
        let old = std::mem::replace(field(&mut self.t), value);
        if let Some(undo) = self.undo.as_deref_mut() {
            let previous = old.clone();
            undo.push(Box::new(move |t: &mut Tables| *field(t) = previous));
        }
        old
    }
}

/// The storage port in memory (see the module documentation).
pub struct MemoryStore {
    disk: Arc<Mutex<Tables>>,
    mailbox_quota: MailboxQuota,
    /// The undo log of the open batch.
    batch: Option<Vec<Undo>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("in_batch", &self.batch.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for MemoryStore {
    fn drop(&mut self) {
        // As closing a SQLite connection: an unfinished batch is undone.
        self.abandon_open_batch();
    }
}

fn lock(disk: &Mutex<Tables>) -> MutexGuard<'_, Tables> {
    disk.lock().unwrap_or_else(PoisonError::into_inner)
}

fn capped(limit: usize) -> usize {
    limit.min(MAX_QUERY_ROWS)
}

fn check_text(text: &str) -> Result<(), StoreError> {
    if text.len() > MAX_STORED_TEXT_BYTES {
        return Err(StoreError::TextTooLong(text.len()));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), StoreError> {
    if name.len() > MAX_CONTACT_NAME_BYTES {
        return Err(StoreError::ContactNameTooLong(name.len()));
    }
    Ok(())
}

fn check_meta_key(key: &str) -> Result<(), StoreError> {
    if key.len() > MAX_META_KEY_BYTES {
        return Err(StoreError::MetaKeyTooLong(key.len()));
    }
    Ok(())
}

fn byte_len(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

impl MemoryStore {
    /// An empty store (a fresh "disk").
    pub fn new() -> MemoryStore {
        MemoryStore {
            disk: Arc::new(Mutex::new(Tables::default())),
            mailbox_quota: MailboxQuota::default(),
            batch: None,
        }
    }

    /// Another handle on the same tables, as opening the same file again:
    /// what was committed is there, the quota is the default, no batch is open.
    pub fn reopen(&self) -> MemoryStore {
        MemoryStore {
            disk: Arc::clone(&self.disk),
            mailbox_quota: MailboxQuota::default(),
            batch: None,
        }
    }

    /// A copy of what is committed, as copying the file would make (a
    /// backup): later writes to either do not reach the other.
    pub fn snapshot(&self) -> MemoryStore {
        MemoryStore {
            disk: Arc::new(Mutex::new(self.read().clone())),
            mailbox_quota: MailboxQuota::default(),
            batch: None,
        }
    }

    /// Makes the disk full (or frees it), for every handle on these tables:
    /// a batch then fails at its commit and is undone, and the single
    /// writes the node makes outside batches (`save_prekey_state`,
    /// `set_meta`, `insert_inbound`, `queue_outbound`) fail before writing,
    /// as SQLite does when the disk is full.
    pub fn set_full(&self, full: bool) {
        lock(&self.disk).full = full;
    }

    fn refuse_if_full(&self) -> Result<(), StoreError> {
        if self.batch.is_none() && self.read().full {
            return Err(StoreError::backend(MemoryBatchError::DiskFull));
        }
        Ok(())
    }

    fn read(&self) -> MutexGuard<'_, Tables> {
        lock(&self.disk)
    }

    fn write(&mut self) -> Tx<'_> {
        Tx {
            t: lock(&self.disk),
            undo: self.batch.as_mut(),
        }
    }

    fn update_contact(
        &mut self,
        node_id: &NodeId,
        change: impl FnOnce(&mut Contact),
    ) -> Result<(), StoreError> {
        let mut tx = self.write();
        let Some(mut c) = tx.t.contacts.get(node_id).cloned() else {
            return Err(StoreError::UnknownContact(*node_id));
        };
        change(&mut c);
        tx.set(|t| &mut t.contacts, *node_id, Some(c));
        Ok(())
    }

    /// Changes the outbox row `id` (when present and `applies`); returns the
    /// row as it ends up, `None` for an unknown id.
    fn update_outbound(
        &mut self,
        message_id: &MessageId,
        applies: impl FnOnce(&Outbound) -> bool,
        change: impl FnOnce(&mut Outbound),
    ) -> Option<Outbound> {
        let mut tx = self.write();
        let mut row = tx.t.outbox.get(message_id).cloned()?;
        if applies(&row) {
            change(&mut row);
            tx.set(|t| &mut t.outbox, *message_id, Some(row.clone()));
        }
        Some(row)
    }

    fn status_after(
        &mut self,
        message_id: &MessageId,
        applies: impl FnOnce(&Outbound) -> bool,
        change: impl FnOnce(&mut Outbound),
    ) -> Result<MessageStatus, StoreError> {
        self.update_outbound(message_id, applies, change)
            .map(|row| row.delivery.status)
            .ok_or(StoreError::UnknownMessage(*message_id))
    }
}

fn is_queued(row: &Outbound) -> bool {
    row.delivery.status == MessageStatus::Queued
}

fn purge_expired(tx: &mut Tx<'_>, now: UnixMillis) -> usize {
    let expired: Vec<(NodeId, MessageId)> =
        tx.t.mailbox
            .iter()
            .filter(|(_, h)| h.expires <= now)
            .map(|(k, _)| *k)
            .collect();
    for k in &expired {
        tx.set(|t| &mut t.mailbox, *k, None);
    }
    expired.len()
}

impl NodeStore for MemoryStore {
    fn in_batch(&self) -> bool {
        self.batch.is_some()
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_some() {
            return Err(StoreError::backend(MemoryBatchError::AlreadyOpen));
        }
        self.batch = Some(Vec::new());
        Ok(())
    }

    fn commit_batch(&mut self) -> Result<(), StoreError> {
        if self.batch.is_some() && self.read().full {
            self.abandon_open_batch();
            return Err(StoreError::backend(MemoryBatchError::DiskFull));
        }
        match self.batch.take() {
            Some(_) => Ok(()),
            None => Err(StoreError::backend(MemoryBatchError::NoneOpen)),
        }
    }

    fn rollback_batch(&mut self) -> Result<(), StoreError> {
        let Some(undo) = self.batch.take() else {
            return Err(StoreError::backend(MemoryBatchError::NoneOpen));
        };
        let mut t = lock(&self.disk);
        for step in undo.into_iter().rev() {
            step(&mut t);
        }
        Ok(())
    }

    fn abandon_open_batch(&mut self) -> bool {
        self.batch.is_some() && self.rollback_batch().is_ok()
    }

    fn add_contact(&mut self, contact: &Contact) -> Result<InsertOutcome, StoreError> {
        check_name(&contact.name)?;
        let mut tx = self.write();
        if tx.t.contacts.contains_key(&contact.node_id) {
            return Ok(InsertOutcome::AlreadyPresent);
        }
        tx.set(|t| &mut t.contacts, contact.node_id, Some(contact.clone()));
        Ok(InsertOutcome::Inserted)
    }

    fn contact(&self, node_id: &NodeId) -> Result<Option<Contact>, StoreError> {
        Ok(self.read().contacts.get(node_id).cloned())
    }

    fn unverified_contact_count(&self) -> Result<u64, StoreError> {
        let n = self
            .read()
            .contacts
            .values()
            .filter(|c| !c.verified)
            .count();
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        let mut contacts: Vec<Contact> = self
            .read()
            .contacts
            .values()
            .take(MAX_QUERY_ROWS)
            .cloned()
            .collect();
        contacts.sort_by(|a, b| a.name.cmp(&b.name).then(a.node_id.cmp(&b.node_id)));
        Ok(contacts)
    }

    fn rename_contact(&mut self, node_id: &NodeId, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        self.update_contact(node_id, |c| c.name = name.to_owned())
    }

    fn set_contact_verified(&mut self, node_id: &NodeId, verified: bool) -> Result<(), StoreError> {
        self.update_contact(node_id, |c| c.verified = verified)
    }

    fn flag_contact_key_change(&mut self, node_id: &NodeId) -> Result<(), StoreError> {
        self.update_contact(node_id, |c| {
            c.verified = false;
            c.identity_changed = true;
        })
    }

    fn acknowledge_identity_change(&mut self, node_id: &NodeId) -> Result<(), StoreError> {
        self.update_contact(node_id, |c| c.identity_changed = false)
    }

    fn remove_contact(&mut self, node_id: &NodeId) -> Result<bool, StoreError> {
        Ok(self
            .write()
            .set(|t| &mut t.contacts, *node_id, None)
            .is_some())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_meta_key(key)?;
        Ok(self.read().meta.get(key).cloned())
    }

    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_meta_key(key)?;
        self.refuse_if_full()?;
        if value.len() > MAX_META_VALUE_BYTES {
            return Err(StoreError::MetaValueTooLarge(value.len()));
        }
        self.write()
            .set(|t| &mut t.meta, key.to_owned(), Some(value.to_vec()));
        Ok(())
    }

    fn delete_meta(&mut self, key: &str) -> Result<bool, StoreError> {
        check_meta_key(key)?;
        Ok(self
            .write()
            .set(|t| &mut t.meta, key.to_owned(), None)
            .is_some())
    }

    fn save_session(
        &mut self,
        peer: &NodeId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        if pickle.len() > MAX_SESSION_PICKLE_BYTES {
            return Err(StoreError::SessionPickleTooLarge(pickle.len()));
        }
        self.write().set(
            |t| &mut t.sessions,
            *peer,
            Some((Zeroizing::new(pickle.to_vec()), now)),
        );
        Ok(())
    }

    fn load_session(&self, peer: &NodeId) -> Result<Option<SecretBytes>, StoreError> {
        Ok(self
            .read()
            .sessions
            .get(peer)
            .map(|(pickle, _)| SecretBytes::from(pickle.clone())))
    }

    fn delete_session(&mut self, peer: &NodeId) -> Result<bool, StoreError> {
        Ok(self.write().set(|t| &mut t.sessions, *peer, None).is_some())
    }

    fn recent_session_peers(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, StoreError> {
        let mut peers: Vec<(UnixMillis, NodeId)> = self
            .read()
            .sessions
            .iter()
            .filter(|(_, (_, updated))| *updated >= since)
            .map(|(peer, (_, updated))| (*updated, *peer))
            .collect();
        peers.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok(peers
            .into_iter()
            .take(capped(limit))
            .map(|(_, p)| p)
            .collect())
    }

    fn save_prekey_state(&mut self, state: &[u8], _now: UnixMillis) -> Result<(), StoreError> {
        if state.len() > MAX_PREKEY_STATE_BYTES {
            return Err(StoreError::PrekeyTooLarge(state.len()));
        }
        self.refuse_if_full()?;
        self.write().replace(
            |t| &mut t.prekey_state,
            Some(Zeroizing::new(state.to_vec())),
        );
        Ok(())
    }

    fn load_prekey_state(&self) -> Result<Option<SecretBytes>, StoreError> {
        Ok(self.read().prekey_state.clone().map(SecretBytes::from))
    }

    fn queue_outbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        now: UnixMillis,
    ) -> Result<InsertOutcome, StoreError> {
        check_text(text)?;
        self.refuse_if_full()?;
        let mut tx = self.write();
        if tx.t.outbox.contains_key(message_id) {
            return Ok(InsertOutcome::AlreadyPresent);
        }
        let row = Outbound {
            peer: *peer,
            time: now,
            text: text.to_owned(),
            delivery: DeliveryState {
                status: MessageStatus::Queued,
                attempts: 0,
                next_attempt: Some(now),
                last_error: None,
                updated: now,
            },
            deposited: None,
        };
        tx.set(|t| &mut t.outbox, *message_id, Some(row));
        Ok(InsertOutcome::Inserted)
    }

    fn outbound(&self, message_id: &MessageId) -> Result<Option<OutboxEntry>, StoreError> {
        Ok(self.read().outbox.get(message_id).map(|row| OutboxEntry {
            message: StoredMessage {
                time: row.time,
                peer: row.peer,
                direction: Direction::Outbound,
                message_id: *message_id,
                text: row.text.clone(),
                group: None,
            },
            delivery: row.delivery.clone(),
        }))
    }

    fn latest_outbound_time(&self) -> Result<Option<UnixMillis>, StoreError> {
        Ok(self.read().outbox.values().map(|r| r.time).max())
    }

    fn queued_outbound(
        &self,
        after: Option<(UnixMillis, MessageId)>,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId, UnixMillis)>, StoreError> {
        let mut rows: Vec<(UnixMillis, MessageId, NodeId)> = self
            .read()
            .outbox
            .iter()
            .filter(|(id, row)| is_queued(row) && after.is_none_or(|a| (row.time, **id) > a))
            .map(|(id, row)| (row.time, *id, row.peer))
            .collect();
        rows.sort();
        Ok(rows
            .into_iter()
            .take(capped(limit))
            .map(|(t, id, peer)| (id, peer, t))
            .collect())
    }

    fn outbound_status(&self, message_id: &MessageId) -> Result<Option<MessageStatus>, StoreError> {
        Ok(self
            .read()
            .outbox
            .get(message_id)
            .map(|r| r.delivery.status))
    }

    fn mark_sent(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError> {
        self.status_after(message_id, is_queued, |row| {
            row.delivery.status = MessageStatus::Sent;
            row.delivery.next_attempt = None;
            row.delivery.updated = now;
        })
    }

    fn mark_deposited(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError> {
        self.update_outbound(
            message_id,
            |row| is_queued(row) && row.deposited.is_none(),
            |row| row.deposited = Some(now),
        );
        self.mark_sent(message_id, now)
    }

    fn expire_deposited(
        &mut self,
        deposited_before: UnixMillis,
        reason: &str,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId)>, StoreError> {
        let mut due: Vec<(UnixMillis, MessageId, NodeId)> = self
            .read()
            .outbox
            .iter()
            .filter_map(|(id, row)| match row.deposited {
                Some(d) if d <= deposited_before && row.delivery.status == MessageStatus::Sent => {
                    Some((d, *id, row.peer))
                }
                _ => None,
            })
            .collect();
        due.sort();
        due.truncate(capped(limit));
        let reason = truncate_last_error(reason);
        for (_, id, _) in &due {
            self.update_outbound(
                id,
                |_| true,
                |row| {
                    row.delivery.status = MessageStatus::Failed;
                    row.delivery.last_error = Some(reason.to_owned());
                    row.delivery.updated = now;
                },
            );
        }
        Ok(due.into_iter().map(|(_, id, peer)| (id, peer)).collect())
    }

    fn requeue_sent(
        &mut self,
        peer: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, UnixMillis)>, StoreError> {
        let mut due: Vec<(UnixMillis, MessageId)> = self
            .read()
            .outbox
            .iter()
            .filter(|(_, row)| row.peer == *peer && row.delivery.status == MessageStatus::Sent)
            .map(|(id, row)| (row.time, *id))
            .collect();
        due.sort();
        due.truncate(capped(limit));
        if !due.is_empty() {
            self.refuse_if_full()?;
        }
        for (_, id) in &due {
            self.update_outbound(
                id,
                |_| true,
                |row| {
                    row.delivery.status = MessageStatus::Queued;
                    row.delivery.attempts = 0;
                    row.delivery.next_attempt = Some(now);
                    row.delivery.last_error = None;
                    row.delivery.updated = now;
                    row.deposited = None;
                },
            );
        }
        Ok(due.into_iter().map(|(time, id)| (id, time)).collect())
    }

    fn mark_delivered(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut applied = false;
        self.update_outbound(
            message_id,
            |row| row.peer == *peer,
            |row| {
                applied = true;
                if row.delivery.status != MessageStatus::Delivered {
                    row.delivery.updated = now;
                }
                row.delivery.status = MessageStatus::Delivered;
                row.delivery.next_attempt = None;
            },
        );
        if applied {
            Ok(())
        } else {
            Err(StoreError::UnknownMessage(*message_id))
        }
    }

    fn record_send_failure(
        &mut self,
        message_id: &MessageId,
        error: &str,
        now: UnixMillis,
    ) -> Result<DeliveryState, StoreError> {
        self.update_outbound(message_id, is_queued, |row| {
            row.delivery.attempts = row.delivery.attempts.saturating_add(1);
            row.delivery.next_attempt = None;
            row.delivery.last_error = Some(truncate_last_error(error).to_owned());
            row.delivery.updated = now;
        })
        .map(|row| row.delivery)
        .ok_or(StoreError::UnknownMessage(*message_id))
    }

    fn mark_failed(
        &mut self,
        message_id: &MessageId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError> {
        self.status_after(message_id, is_queued, |row| {
            row.delivery.status = MessageStatus::Failed;
            row.delivery.next_attempt = None;
            row.delivery.last_error = Some(truncate_last_error(reason).to_owned());
            row.delivery.updated = now;
        })
    }

    fn insert_inbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        received: UnixMillis,
    ) -> Result<InsertOutcome, StoreError> {
        check_text(text)?;
        self.refuse_if_full()?;
        let mut tx = self.write();
        let key = (*peer, *message_id);
        if tx.t.inbox.contains_key(&key) {
            return Ok(InsertOutcome::AlreadyPresent);
        }
        tx.set(|t| &mut t.inbox, key, Some((received, text.to_owned())));
        Ok(InsertOutcome::Inserted)
    }

    fn latest_history(&self, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        let t = self.read();
        // Inbound sorts before outbound at the same time, as in SQLite.
        type Row<'a> = (
            UnixMillis,
            u8,
            NodeId,
            MessageId,
            Option<GroupId>,
            &'a String,
        );
        let mut all: Vec<Row<'_>> = t
            .inbox
            .iter()
            .map(|((peer, id), (time, text))| (*time, 1, *peer, *id, None, text))
            .chain(
                t.outbox
                    .iter()
                    .map(|(id, row)| (row.time, 2, row.peer, *id, None, &row.text)),
            )
            .chain(
                t.group_messages
                    .iter()
                    .map(|((group, sender, id), (time, dir, text))| {
                        let dir = if *dir == Direction::Inbound { 1 } else { 2 };
                        (*time, dir, *sender, *id, Some(*group), text)
                    }),
            )
            .collect();
        all.sort();
        let skip = all.len().saturating_sub(capped(limit));
        Ok(all
            .into_iter()
            .skip(skip)
            .map(|(time, dir, peer, message_id, group, text)| StoredMessage {
                time,
                peer,
                direction: if dir == 1 {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                },
                message_id,
                text: text.clone(),
                group,
            })
            .collect())
    }

    fn save_group(
        &mut self,
        group: &GroupId,
        pickle: &[u8],
        _now: UnixMillis,
    ) -> Result<(), StoreError> {
        if pickle.len() > MAX_GROUP_PICKLE_BYTES {
            return Err(StoreError::GroupPickleTooLarge(pickle.len()));
        }
        self.refuse_if_full()?;
        self.write().set(
            |t| &mut t.groups,
            *group,
            Some(Zeroizing::new(pickle.to_vec())),
        );
        Ok(())
    }

    fn groups(&self) -> Result<Vec<(GroupId, SecretBytes)>, StoreError> {
        Ok(self
            .read()
            .groups
            .iter()
            .map(|(g, p)| (*g, SecretBytes::from(p.clone())))
            .collect())
    }

    fn delete_group(&mut self, group: &GroupId) -> Result<bool, StoreError> {
        Ok(self.write().set(|t| &mut t.groups, *group, None).is_some())
    }

    fn save_transfer(
        &mut self,
        transfer: &TransferId,
        pickle: &[u8],
        _now: UnixMillis,
    ) -> Result<(), StoreError> {
        if pickle.len() > MAX_TRANSFER_PICKLE_BYTES {
            return Err(StoreError::TransferPickleTooLarge(pickle.len()));
        }
        self.refuse_if_full()?;
        self.write().set(
            |t| &mut t.transfers,
            *transfer,
            Some(Zeroizing::new(pickle.to_vec())),
        );
        Ok(())
    }

    fn transfers(&self) -> Result<Vec<(TransferId, SecretBytes)>, StoreError> {
        Ok(self
            .read()
            .transfers
            .iter()
            .map(|(id, p)| (*id, SecretBytes::from(p.clone())))
            .collect())
    }

    fn delete_transfer(&mut self, transfer: &TransferId) -> Result<bool, StoreError> {
        Ok(self
            .write()
            .set(|t| &mut t.transfers, *transfer, None)
            .is_some())
    }

    fn insert_group_message(
        &mut self,
        group: &GroupId,
        sender: &NodeId,
        direction: Direction,
        message_id: &MessageId,
        text: &str,
        time: UnixMillis,
    ) -> Result<InsertOutcome, StoreError> {
        check_text(text)?;
        self.refuse_if_full()?;
        let mut tx = self.write();
        let key = (*group, *sender, *message_id);
        if tx.t.group_messages.contains_key(&key) {
            return Ok(InsertOutcome::AlreadyPresent);
        }
        tx.set(
            |t| &mut t.group_messages,
            key,
            Some((time, direction, text.to_owned())),
        );
        Ok(InsertOutcome::Inserted)
    }

    fn set_mailbox_quota(&mut self, quota: MailboxQuota) {
        self.mailbox_quota = quota;
    }

    fn mailbox_deposit(
        &mut self,
        recipient: &NodeId,
        message_id: &MessageId,
        payload: &[u8],
        expires: UnixMillis,
        now: UnixMillis,
    ) -> Result<InsertOutcome, StoreError> {
        if payload.len() > MAX_MAILBOX_PAYLOAD_BYTES {
            return Err(StoreError::MailboxPayloadTooLarge(payload.len()));
        }
        if expires <= now {
            return Err(StoreError::MailboxAlreadyExpired);
        }
        let quota = self.mailbox_quota;
        let mut tx = self.write();
        // The purge stays even when the deposit is refused.
        purge_expired(&mut tx, now);
        let key = (*recipient, *message_id);
        if tx.t.mailbox.contains_key(&key) {
            return Ok(InsertOutcome::AlreadyPresent);
        }
        let held =
            tx.t.mailbox
                .range((*recipient, MessageId([0; 16]))..)
                .take_while(|((r, _), _)| r == recipient)
                .count();
        let held = u32::try_from(held).unwrap_or(u32::MAX);
        let held_bytes: u64 = tx.t.mailbox.values().map(|h| byte_len(&h.payload)).sum();
        let incoming = byte_len(payload);
        if held >= quota.per_recipient {
            return Err(StoreError::MailboxRecipientQuota {
                recipient: *recipient,
                held,
                limit: quota.per_recipient,
            });
        }
        if held_bytes.saturating_add(incoming) > quota.total_bytes {
            return Err(StoreError::MailboxTotalQuota {
                held: held_bytes,
                incoming,
                limit: quota.total_bytes,
            });
        }
        tx.set(
            |t| &mut t.mailbox,
            key,
            Some(Held {
                payload: payload.to_vec(),
                deposited: now,
                expires,
            }),
        );
        Ok(InsertOutcome::Inserted)
    }

    fn mailbox_recipients(
        &self,
        after: Option<&NodeId>,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, StoreError> {
        let mut out: Vec<NodeId> = Vec::new();
        for ((recipient, _), held) in self.read().mailbox.iter() {
            if out.len() >= capped(limit) {
                break;
            }
            if held.expires > now
                && after.is_none_or(|a| recipient > a)
                && out.last() != Some(recipient)
            {
                out.push(*recipient);
            }
        }
        Ok(out)
    }

    fn mailbox_fetch(
        &self,
        recipient: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<MailboxItem>, StoreError> {
        let mut items: Vec<MailboxItem> = self
            .read()
            .mailbox
            .range((*recipient, MessageId([0; 16]))..)
            .take_while(|((r, _), _)| r == recipient)
            .filter(|(_, h)| h.expires > now)
            .map(|((_, id), h)| MailboxItem {
                recipient: *recipient,
                message_id: *id,
                payload: h.payload.clone(),
                deposited: h.deposited,
                expires: h.expires,
            })
            .collect();
        items.sort_by(|a, b| {
            a.deposited
                .cmp(&b.deposited)
                .then(a.message_id.cmp(&b.message_id))
        });
        items.truncate(capped(limit));
        Ok(items)
    }

    fn mailbox_remove(
        &mut self,
        recipient: &NodeId,
        message_ids: &[MessageId],
    ) -> Result<usize, StoreError> {
        let mut tx = self.write();
        Ok(message_ids
            .iter()
            .filter(|id| {
                tx.set(|t| &mut t.mailbox, (*recipient, **id), None)
                    .is_some()
            })
            .count())
    }

    fn mailbox_purge_expired(&mut self, now: UnixMillis) -> Result<usize, StoreError> {
        Ok(purge_expired(&mut self.write(), now))
    }

    fn mailbox_usage(&self) -> Result<MailboxUsage, StoreError> {
        let t = self.read();
        Ok(MailboxUsage {
            messages: u64::try_from(t.mailbox.len()).unwrap_or(u64::MAX),
            bytes: t.mailbox.values().map(|h| byte_len(&h.payload)).sum(),
        })
    }

    fn save_routing_snapshot(&mut self, entries: &[RoutingEntry]) -> Result<(), StoreError> {
        if entries.len() > MAX_ROUTING_SNAPSHOT_ENTRIES {
            return Err(StoreError::RoutingSnapshotTooLarge(entries.len()));
        }
        if let Some(e) = entries
            .iter()
            .find(|e| e.endpoints.len() > MAX_SNAPSHOT_ENDPOINTS)
        {
            return Err(StoreError::TooManyEndpoints(e.endpoints.len()));
        }
        let snapshot: BTreeMap<NodeId, RoutingEntry> =
            entries.iter().map(|e| (e.node_id, e.clone())).collect();
        self.write().replace(|t| &mut t.routing, snapshot);
        Ok(())
    }

    fn load_routing_snapshot(&self) -> Result<Vec<RoutingEntry>, StoreError> {
        let mut out: Vec<RoutingEntry> = self.read().routing.values().cloned().collect();
        out.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.node_id.cmp(&b.node_id))
        });
        out.truncate(MAX_ROUTING_SNAPSHOT_ENTRIES);
        Ok(out)
    }
}
