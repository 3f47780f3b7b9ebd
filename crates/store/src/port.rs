//! The SQLite store behind the storage port: each method delegates to the
//! inherent one of the same name and turns its [`SqliteError`] into the
//! port's [`StoreError`]. Batches are SQLite transactions.

use tacnode_domain::file_transfer::TransferId;
use tacnode_domain::group::GroupId;
use tacnode_domain::ports::NodeStore;
use tacnode_domain::store::{
    InsertOutcome, MailboxItem, MailboxQuota, MailboxUsage, RoutingEntry, SecretBytes,
};
use tacnode_domain::{
    Contact, DeliveryState, Direction, MessageId, MessageStatus, NodeId, OutboxEntry, StoreError,
    StoredMessage, UnixMillis,
};

use crate::{SqliteError, Store};

fn port<T>(r: Result<T, SqliteError>) -> Result<T, StoreError> {
    r.map_err(StoreError::from)
}

impl NodeStore for Store {
    fn in_batch(&self) -> bool {
        !self.conn.is_autocommit()
    }

    fn begin_batch(&mut self) -> Result<(), StoreError> {
        port(
            self.conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(Into::into),
        )
    }

    fn commit_batch(&mut self) -> Result<(), StoreError> {
        port(self.conn.execute_batch("COMMIT").map_err(Into::into))
    }

    fn rollback_batch(&mut self) -> Result<(), StoreError> {
        port(self.conn.execute_batch("ROLLBACK").map_err(Into::into))
    }

    fn abandon_open_batch(&mut self) -> bool {
        Store::abandon_open_batch(self)
    }

    fn add_contact(&mut self, contact: &Contact) -> Result<InsertOutcome, StoreError> {
        port(Store::add_contact(self, contact))
    }

    fn contact(&self, node_id: &NodeId) -> Result<Option<Contact>, StoreError> {
        port(Store::contact(self, node_id))
    }

    fn unverified_contact_count(&self) -> Result<u64, StoreError> {
        port(Store::unverified_contact_count(self))
    }

    fn contacts(&self) -> Result<Vec<Contact>, StoreError> {
        port(Store::contacts(self))
    }

    fn rename_contact(&mut self, node_id: &NodeId, name: &str) -> Result<(), StoreError> {
        port(Store::rename_contact(self, node_id, name))
    }

    fn set_contact_verified(&mut self, node_id: &NodeId, verified: bool) -> Result<(), StoreError> {
        port(Store::set_contact_verified(self, node_id, verified))
    }

    fn flag_contact_key_change(&mut self, node_id: &NodeId) -> Result<(), StoreError> {
        port(Store::flag_contact_key_change(self, node_id))
    }

    fn acknowledge_identity_change(&mut self, node_id: &NodeId) -> Result<(), StoreError> {
        port(Store::acknowledge_identity_change(self, node_id))
    }

    fn remove_contact(&mut self, node_id: &NodeId) -> Result<bool, StoreError> {
        port(Store::remove_contact(self, node_id))
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        port(Store::meta(self, key))
    }

    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        port(Store::set_meta(self, key, value))
    }

    fn delete_meta(&mut self, key: &str) -> Result<bool, StoreError> {
        port(Store::delete_meta(self, key))
    }

    fn save_session(
        &mut self,
        peer: &NodeId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        port(Store::save_session(self, peer, pickle, now))
    }

    fn load_session(&self, peer: &NodeId) -> Result<Option<SecretBytes>, StoreError> {
        port(Store::load_session(self, peer))
    }

    fn delete_session(&mut self, peer: &NodeId) -> Result<bool, StoreError> {
        port(Store::delete_session(self, peer))
    }

    fn recent_session_peers(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, StoreError> {
        port(Store::recent_session_peers(self, since, limit))
    }

    fn save_prekey_state(&mut self, state: &[u8], now: UnixMillis) -> Result<(), StoreError> {
        port(Store::save_prekey_state(self, state, now))
    }

    fn load_prekey_state(&self) -> Result<Option<SecretBytes>, StoreError> {
        port(Store::load_prekey_state(self))
    }

    fn queue_outbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        now: UnixMillis,
    ) -> Result<InsertOutcome, StoreError> {
        port(Store::queue_outbound(self, peer, message_id, text, now))
    }

    fn outbound(&self, message_id: &MessageId) -> Result<Option<OutboxEntry>, StoreError> {
        port(Store::outbound(self, message_id))
    }

    fn latest_outbound_time(&self) -> Result<Option<UnixMillis>, StoreError> {
        port(Store::latest_outbound_time(self))
    }

    fn queued_outbound(
        &self,
        after: Option<(UnixMillis, MessageId)>,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId, UnixMillis)>, StoreError> {
        port(Store::queued_outbound(self, after, limit))
    }

    fn outbound_status(&self, message_id: &MessageId) -> Result<Option<MessageStatus>, StoreError> {
        port(Store::outbound_status(self, message_id))
    }

    fn mark_sent(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError> {
        port(Store::mark_sent(self, message_id, now))
    }

    fn mark_deposited(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError> {
        port(Store::mark_deposited(self, message_id, now))
    }

    fn expire_deposited(
        &mut self,
        deposited_before: UnixMillis,
        reason: &str,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId)>, StoreError> {
        port(Store::expire_deposited(
            self,
            deposited_before,
            reason,
            now,
            limit,
        ))
    }

    fn requeue_sent(
        &mut self,
        peer: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, UnixMillis)>, StoreError> {
        port(Store::requeue_sent(self, peer, now, limit))
    }

    fn mark_delivered(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        port(Store::mark_delivered(self, peer, message_id, now))
    }

    fn record_send_failure(
        &mut self,
        message_id: &MessageId,
        error: &str,
        now: UnixMillis,
    ) -> Result<DeliveryState, StoreError> {
        port(Store::record_send_failure(self, message_id, error, now))
    }

    fn mark_failed(
        &mut self,
        message_id: &MessageId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError> {
        port(Store::mark_failed(self, message_id, reason, now))
    }

    fn insert_inbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        received: UnixMillis,
    ) -> Result<InsertOutcome, StoreError> {
        port(Store::insert_inbound(
            self, peer, message_id, text, received,
        ))
    }

    fn latest_history(&self, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        port(Store::latest_history(self, limit))
    }

    fn save_group(
        &mut self,
        group: &GroupId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        port(Store::save_group(self, group, pickle, now))
    }

    fn groups(&self) -> Result<Vec<(GroupId, SecretBytes)>, StoreError> {
        port(Store::groups(self))
    }

    fn delete_group(&mut self, group: &GroupId) -> Result<bool, StoreError> {
        port(Store::delete_group(self, group))
    }

    fn save_transfer(
        &mut self,
        transfer: &TransferId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        port(Store::save_transfer(self, transfer, pickle, now))
    }

    fn transfers(&self) -> Result<Vec<(TransferId, SecretBytes)>, StoreError> {
        port(Store::transfers(self))
    }

    fn delete_transfer(&mut self, transfer: &TransferId) -> Result<bool, StoreError> {
        port(Store::delete_transfer(self, transfer))
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
        port(Store::insert_group_message(
            self, group, sender, direction, message_id, text, time,
        ))
    }

    fn set_mailbox_quota(&mut self, quota: MailboxQuota) {
        Store::set_mailbox_quota(self, quota);
    }

    fn mailbox_deposit(
        &mut self,
        recipient: &NodeId,
        message_id: &MessageId,
        payload: &[u8],
        expires: UnixMillis,
        now: UnixMillis,
    ) -> Result<InsertOutcome, StoreError> {
        port(Store::mailbox_deposit(
            self, recipient, message_id, payload, expires, now,
        ))
    }

    fn mailbox_recipients(
        &self,
        after: Option<&NodeId>,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, StoreError> {
        port(Store::mailbox_recipients(self, after, now, limit))
    }

    fn mailbox_fetch(
        &self,
        recipient: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<MailboxItem>, StoreError> {
        port(Store::mailbox_fetch(self, recipient, now, limit))
    }

    fn mailbox_remove(
        &mut self,
        recipient: &NodeId,
        message_ids: &[MessageId],
    ) -> Result<usize, StoreError> {
        port(Store::mailbox_remove(self, recipient, message_ids))
    }

    fn mailbox_purge_expired(&mut self, now: UnixMillis) -> Result<usize, StoreError> {
        port(Store::mailbox_purge_expired(self, now))
    }

    fn mailbox_usage(&self) -> Result<MailboxUsage, StoreError> {
        port(Store::mailbox_usage(self))
    }

    fn save_routing_snapshot(&mut self, entries: &[RoutingEntry]) -> Result<(), StoreError> {
        port(Store::save_routing_snapshot(self, entries))
    }

    fn load_routing_snapshot(&self) -> Result<Vec<RoutingEntry>, StoreError> {
        port(Store::load_routing_snapshot(self))
    }
}
