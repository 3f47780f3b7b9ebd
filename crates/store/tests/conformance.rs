//! The contract of the storage port, run against both implementations:
//! every test below is one generic body over [`Disk`] (a place a store can
//! be opened, and opened again), instantiated for the SQLite [`Store`] on a
//! file and for the in-memory [`MemoryStore`]. A twin that diverged from
//! SQLite (an order, a dedupe, a status transition, a quota, a rollback)
//! fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tacnode_domain::store::{
    InsertOutcome, MAX_LAST_ERROR_BYTES, MAX_MAILBOX_PAYLOAD_BYTES, MAX_META_KEY_BYTES,
    MAX_META_VALUE_BYTES, MAX_PREKEY_STATE_BYTES, MAX_QUERY_ROWS, MAX_ROUTING_SNAPSHOT_ENTRIES,
    MAX_SESSION_PICKLE_BYTES, MAX_SNAPSHOT_ENDPOINTS, MAX_STORED_TEXT_BYTES, MailboxQuota,
    MailboxUsage, RoutingEntry,
};
use tacnode_domain::{
    Contact, Direction, Endpoint, IdentityKey, MAX_CONTACT_NAME_BYTES, MessageId, MessageStatus,
    NodeId, NodeType, StoreError, UnixMillis,
};
use tacnode_store::{MemoryStore, NodeStore, StorageKey, Store, batch_within};

/// Where a store lives: opening it again sees what was committed.
trait Disk {
    fn open(&self) -> Box<dyn NodeStore>;
}

/// A SQLite file in a directory removed on drop.
struct SqliteDisk(PathBuf);

impl SqliteDisk {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tacnode-conformance-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for SqliteDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Disk for SqliteDisk {
    fn open(&self) -> Box<dyn NodeStore> {
        Box::new(Store::open(self.0.join("node.db"), StorageKey::from_bytes([3; 32])).unwrap())
    }
}

/// The tables of a [`MemoryStore`].
struct MemoryDisk(MemoryStore);

impl Disk for MemoryDisk {
    fn open(&self) -> Box<dyn NodeStore> {
        Box::new(self.0.reopen())
    }
}

/// Instantiates every listed contract for both stores.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::SqliteDisk::new()); })*
        }
        mod memory {
            $(#[test] fn $name() {
                super::$name(&super::MemoryDisk(tacnode_store::MemoryStore::new()));
            })*
        }
    };
}

conformance!(
    meta_round_trips_replaces_deletes_and_checks_limits,
    contacts_keep_the_first_key_sort_by_name_and_update_flags,
    sessions_replace_delete_and_list_recent_peers,
    prekey_state_replaces_and_checks_its_limit,
    transfers_replace_delete_survive_reopen_and_check_their_limit,
    outbox_queues_once_and_lists_queued_in_order,
    outbox_statuses_only_move_forward,
    send_failures_count_truncate_and_leave_later_states_alone,
    deposited_messages_expire_in_order_once,
    sent_messages_to_a_peer_go_back_to_the_queue_oldest_first,
    inbox_dedupes_by_peer_and_id,
    history_orders_by_time_direction_peer_and_id,
    listings_are_capped_at_max_query_rows,
    mailbox_dedupes_orders_and_expires,
    mailbox_quotas_refuse_new_deposits_only,
    mailbox_recipients_are_distinct_ordered_and_paged,
    routing_snapshot_replaces_orders_and_checks_limits,
    committed_writes_survive_reopen,
    failed_batch_writes_nothing,
    nested_batch_joins_the_outer_one,
    abandoned_and_dropped_batches_roll_back,
    batch_misuse_is_refused,
);

// Fixtures.

fn t(ms: u64) -> UnixMillis {
    UnixMillis(ms)
}

fn peer(b: u8) -> NodeId {
    NodeId::from_bytes([b; 32])
}

fn mid(b: u8) -> MessageId {
    MessageId([b; 16])
}

/// Two valid Ed25519 points (the base point; RFC 8032 test vector 1).
fn ik(which: u8) -> IdentityKey {
    const BASEPOINT: [u8; 32] = [
        0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66,
    ];
    const OTHER_POINT: [u8; 32] = [
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07,
        0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
        0x51, 0x1a,
    ];
    IdentityKey::from_bytes(if which == 0 { &BASEPOINT } else { &OTHER_POINT }).unwrap()
}

fn contact(name: &str, node: u8, verified: bool) -> Contact {
    Contact {
        name: name.into(),
        node_id: peer(node),
        identity_key: ik(node % 2),
        first_seen: t(u64::from(node)),
        verified,
        identity_changed: false,
    }
}

fn route(node: u8, seen: u64, eps: &[&str]) -> RoutingEntry {
    RoutingEntry {
        node_id: peer(node),
        endpoints: eps.iter().map(|e| e.parse::<Endpoint>().unwrap()).collect(),
        node_type: if node.is_multiple_of(2) {
            NodeType::Server
        } else {
            NodeType::Client
        },
        last_seen: t(seen),
    }
}

fn status(s: &dyn NodeStore, id: u8) -> MessageStatus {
    s.outbound_status(&mid(id)).unwrap().unwrap()
}

fn ids(v: &[(MessageId, NodeId)]) -> Vec<MessageId> {
    v.iter().map(|(id, _)| *id).collect()
}

// Contracts.

fn meta_round_trips_replaces_deletes_and_checks_limits(disk: &dyn Disk) {
    let mut s = disk.open();
    assert_eq!(s.meta("k").unwrap(), None);
    s.set_meta("k", b"one").unwrap();
    s.set_meta("k", b"two").unwrap();
    assert_eq!(s.meta("k").unwrap(), Some(b"two".to_vec()));
    s.set_meta("empty", b"").unwrap();
    assert_eq!(s.meta("empty").unwrap(), Some(Vec::new()));
    assert!(s.delete_meta("k").unwrap());
    assert!(!s.delete_meta("k").unwrap());
    assert_eq!(s.meta("k").unwrap(), None);

    assert_eq!(s.meta_u64("n").unwrap(), None);
    s.set_meta_u64("n", 41).unwrap();
    s.set_meta_u64("n", u64::MAX - 1).unwrap();
    assert_eq!(s.meta_u64("n").unwrap(), Some(u64::MAX - 1));
    assert_eq!(
        s.meta("n").unwrap(),
        Some((u64::MAX - 1).to_be_bytes().to_vec())
    );
    s.set_meta("n", b"abc").unwrap();
    assert!(matches!(
        s.meta_u64("n").unwrap_err(),
        StoreError::Corrupt { table: "meta", .. }
    ));

    let long_key = "k".repeat(MAX_META_KEY_BYTES + 1);
    let max_key = "k".repeat(MAX_META_KEY_BYTES);
    assert!(
        matches!(s.meta(&long_key), Err(StoreError::MetaKeyTooLong(n)) if n == MAX_META_KEY_BYTES + 1)
    );
    assert!(matches!(
        s.set_meta(&long_key, b"v"),
        Err(StoreError::MetaKeyTooLong(_))
    ));
    assert!(matches!(
        s.delete_meta(&long_key),
        Err(StoreError::MetaKeyTooLong(_))
    ));
    s.set_meta(&max_key, &[7; MAX_META_VALUE_BYTES]).unwrap();
    assert_eq!(
        s.meta(&max_key).unwrap().unwrap().len(),
        MAX_META_VALUE_BYTES
    );
    assert!(matches!(
        s.set_meta("v", &[7; MAX_META_VALUE_BYTES + 1]),
        Err(StoreError::MetaValueTooLarge(n)) if n == MAX_META_VALUE_BYTES + 1
    ));
    assert_eq!(s.meta("v").unwrap(), None);
}

fn contacts_keep_the_first_key_sort_by_name_and_update_flags(disk: &dyn Disk) {
    let mut s = disk.open();
    assert_eq!(s.contact(&peer(1)).unwrap(), None);
    assert!(s.contacts().unwrap().is_empty());
    assert_eq!(
        s.add_contact(&contact("zed", 1, false)).unwrap(),
        InsertOutcome::Inserted
    );
    // A second add for the same node changes nothing.
    let mut other = contact("other", 1, true);
    other.identity_key = ik(0);
    assert_eq!(
        s.add_contact(&other).unwrap(),
        InsertOutcome::AlreadyPresent
    );
    assert_eq!(s.contact(&peer(1)).unwrap(), Some(contact("zed", 1, false)));
    s.add_contact(&contact("amy", 4, true)).unwrap();
    s.add_contact(&contact("amy", 2, false)).unwrap();
    let names: Vec<(String, NodeId)> = s
        .contacts()
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.node_id))
        .collect();
    assert_eq!(
        names,
        vec![
            ("amy".into(), peer(2)),
            ("amy".into(), peer(4)),
            ("zed".into(), peer(1))
        ]
    );
    assert_eq!(s.unverified_contact_count().unwrap(), 2);

    s.rename_contact(&peer(1), "bob").unwrap();
    assert_eq!(s.contact(&peer(1)).unwrap().unwrap().name, "bob");
    let long = "x".repeat(MAX_CONTACT_NAME_BYTES + 1);
    assert!(matches!(
        s.rename_contact(&peer(1), &long),
        Err(StoreError::ContactNameTooLong(_))
    ));
    assert!(matches!(
        s.add_contact(&contact(&long, 9, false)),
        Err(StoreError::ContactNameTooLong(n)) if n == MAX_CONTACT_NAME_BYTES + 1
    ));
    s.add_contact(&contact(&"x".repeat(MAX_CONTACT_NAME_BYTES), 9, false))
        .unwrap();

    s.set_contact_verified(&peer(1), true).unwrap();
    assert_eq!(s.unverified_contact_count().unwrap(), 2);
    s.flag_contact_key_change(&peer(1)).unwrap();
    let c = s.contact(&peer(1)).unwrap().unwrap();
    assert!(!c.verified && c.identity_changed);
    assert_eq!(s.unverified_contact_count().unwrap(), 3);
    s.acknowledge_identity_change(&peer(1)).unwrap();
    let c = s.contact(&peer(1)).unwrap().unwrap();
    assert!(!c.verified && !c.identity_changed);
    // The key and first sighting never change.
    assert_eq!((c.identity_key, c.first_seen), (ik(1), t(1)));

    for r in [
        s.rename_contact(&peer(7), "x"),
        s.set_contact_verified(&peer(7), true),
        s.flag_contact_key_change(&peer(7)),
        s.acknowledge_identity_change(&peer(7)),
    ] {
        assert!(
            matches!(r, Err(StoreError::UnknownContact(id)) if id == peer(7)),
            "{r:?}"
        );
    }
    assert!(s.remove_contact(&peer(1)).unwrap());
    assert!(!s.remove_contact(&peer(1)).unwrap());
    assert_eq!(s.contact(&peer(1)).unwrap(), None);
    assert_eq!(s.contacts().unwrap().len(), 3);
}

fn sessions_replace_delete_and_list_recent_peers(disk: &dyn Disk) {
    let mut s = disk.open();
    assert!(s.load_session(&peer(1)).unwrap().is_none());
    s.save_session(&peer(1), b"first", t(10)).unwrap();
    s.save_session(&peer(1), b"second", t(30)).unwrap();
    assert_eq!(
        s.load_session(&peer(1)).unwrap().unwrap().as_slice(),
        b"second"
    );
    s.save_session(&peer(3), b"c", t(20)).unwrap();
    s.save_session(&peer(2), b"b", t(20)).unwrap();
    s.save_session(&peer(4), b"d", t(5)).unwrap();
    // Most recent first, ties by id; `since` is inclusive.
    assert_eq!(
        s.recent_session_peers(t(20), 10).unwrap(),
        vec![peer(1), peer(2), peer(3)]
    );
    assert_eq!(
        s.recent_session_peers(t(0), 2).unwrap(),
        vec![peer(1), peer(2)]
    );
    assert!(s.recent_session_peers(t(31), 10).unwrap().is_empty());
    assert!(s.delete_session(&peer(1)).unwrap());
    assert!(!s.delete_session(&peer(1)).unwrap());
    assert!(s.load_session(&peer(1)).unwrap().is_none());
    s.save_session(&peer(5), &vec![1; MAX_SESSION_PICKLE_BYTES], t(1))
        .unwrap();
    assert!(matches!(
        s.save_session(&peer(6), &vec![1; MAX_SESSION_PICKLE_BYTES + 1], t(1)),
        Err(StoreError::SessionPickleTooLarge(n)) if n == MAX_SESSION_PICKLE_BYTES + 1
    ));
    assert!(s.load_session(&peer(6)).unwrap().is_none());
}

fn prekey_state_replaces_and_checks_its_limit(disk: &dyn Disk) {
    let mut s = disk.open();
    assert!(s.load_prekey_state().unwrap().is_none());
    s.save_prekey_state(b"one", t(1)).unwrap();
    s.save_prekey_state(b"two", t(2)).unwrap();
    assert_eq!(s.load_prekey_state().unwrap().unwrap().as_slice(), b"two");
    assert!(matches!(
        s.save_prekey_state(&vec![0; MAX_PREKEY_STATE_BYTES + 1], t(3)),
        Err(StoreError::PrekeyTooLarge(n)) if n == MAX_PREKEY_STATE_BYTES + 1
    ));
    assert_eq!(s.load_prekey_state().unwrap().unwrap().as_slice(), b"two");
}

fn transfers_replace_delete_survive_reopen_and_check_their_limit(disk: &dyn Disk) {
    use tacnode_domain::file_transfer::TransferId;
    use tacnode_domain::store::MAX_TRANSFER_PICKLE_BYTES;
    let (a, b) = (TransferId([2; 16]), TransferId([1; 16]));
    let mut s = disk.open();
    assert!(s.transfers().unwrap().is_empty());
    s.save_transfer(&a, b"a1", t(1)).unwrap();
    s.save_transfer(&b, b"b1", t(1)).unwrap();
    s.save_transfer(&a, b"a2", t(2)).unwrap();
    assert!(matches!(
        s.save_transfer(&a, &vec![0; MAX_TRANSFER_PICKLE_BYTES + 1], t(3)),
        Err(StoreError::TransferPickleTooLarge(n)) if n == MAX_TRANSFER_PICKLE_BYTES + 1
    ));
    drop(s);
    let mut s = disk.open();
    let listed: Vec<_> = s
        .transfers()
        .unwrap()
        .into_iter()
        .map(|(id, p)| (id, p.as_slice().to_vec()))
        .collect();
    assert_eq!(listed, vec![(b, b"b1".to_vec()), (a, b"a2".to_vec())]);
    assert!(s.delete_transfer(&a).unwrap());
    assert!(!s.delete_transfer(&a).unwrap());
    assert_eq!(s.transfers().unwrap().len(), 1);
}

fn outbox_queues_once_and_lists_queued_in_order(disk: &dyn Disk) {
    let mut s = disk.open();
    assert_eq!(s.latest_outbound_time().unwrap(), None);
    assert_eq!(s.outbound(&mid(1)).unwrap(), None);
    assert_eq!(s.outbound_status(&mid(1)).unwrap(), None);
    assert_eq!(
        s.queue_outbound(&peer(1), &mid(5), "hello", t(100))
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.queue_outbound(&peer(2), &mid(5), "other", t(300))
            .unwrap(),
        InsertOutcome::AlreadyPresent
    );
    let e = s.outbound(&mid(5)).unwrap().unwrap();
    assert_eq!(
        (e.message.peer, e.message.time, e.message.text.as_str()),
        (peer(1), t(100), "hello")
    );
    assert_eq!(e.message.direction, Direction::Outbound);
    assert_eq!(e.message.message_id, mid(5));
    assert_eq!(e.delivery.status, MessageStatus::Queued);
    assert_eq!(e.delivery.attempts, 0);
    assert_eq!(e.delivery.next_attempt, Some(t(100)));
    assert_eq!(e.delivery.last_error, None);
    assert_eq!(e.delivery.updated, t(100));

    s.queue_outbound(&peer(2), &mid(3), "b", t(100)).unwrap();
    s.queue_outbound(&peer(2), &mid(1), "c", t(200)).unwrap();
    s.queue_outbound(&peer(3), &mid(9), "d", t(50)).unwrap();
    s.queue_outbound(&peer(3), &mid(7), "sent", t(60)).unwrap();
    s.mark_sent(&mid(7), t(61)).unwrap();
    assert_eq!(s.latest_outbound_time().unwrap(), Some(t(200)));
    let all = s.queued_outbound(None, 100).unwrap();
    assert_eq!(
        all,
        vec![
            (mid(9), peer(3), t(50)),
            (mid(3), peer(2), t(100)),
            (mid(5), peer(1), t(100)),
            (mid(1), peer(2), t(200)),
        ]
    );
    // Paged: `after` is exclusive.
    assert_eq!(s.queued_outbound(None, 2).unwrap(), all[..2].to_vec());
    assert_eq!(
        s.queued_outbound(Some((t(100), mid(3))), 100).unwrap(),
        all[2..].to_vec()
    );
    assert_eq!(
        s.queued_outbound(Some((t(100), mid(4))), 1).unwrap(),
        all[2..3].to_vec()
    );
    assert!(
        s.queued_outbound(Some((t(200), mid(1))), 100)
            .unwrap()
            .is_empty()
    );

    let max = "é".repeat(MAX_STORED_TEXT_BYTES / 2);
    s.queue_outbound(&peer(1), &mid(20), &max, t(1)).unwrap();
    assert_eq!(s.outbound(&mid(20)).unwrap().unwrap().message.text, max);
    let long = "x".repeat(MAX_STORED_TEXT_BYTES + 1);
    assert!(matches!(
        s.queue_outbound(&peer(1), &mid(21), &long, t(1)),
        Err(StoreError::TextTooLong(n)) if n == MAX_STORED_TEXT_BYTES + 1
    ));
    assert_eq!(s.outbound_status(&mid(21)).unwrap(), None);
}

fn outbox_statuses_only_move_forward(disk: &dyn Disk) {
    let mut s = disk.open();
    for id in 1..=4 {
        s.queue_outbound(&peer(1), &mid(id), "m", t(10)).unwrap();
    }
    // Queued → Sent, once.
    assert_eq!(s.mark_sent(&mid(1), t(20)).unwrap(), MessageStatus::Sent);
    assert_eq!(s.mark_sent(&mid(1), t(25)).unwrap(), MessageStatus::Sent);
    let d = s.outbound(&mid(1)).unwrap().unwrap().delivery;
    assert_eq!((d.next_attempt, d.updated), (None, t(20)));
    // Queued → Failed; Sent stays Sent.
    assert_eq!(
        s.mark_failed(&mid(2), "gave up", t(30)).unwrap(),
        MessageStatus::Failed
    );
    let d = s.outbound(&mid(2)).unwrap().unwrap().delivery;
    assert_eq!(d.last_error.as_deref(), Some("gave up"));
    assert_eq!((d.next_attempt, d.updated), (None, t(30)));
    assert_eq!(
        s.mark_failed(&mid(1), "late", t(31)).unwrap(),
        MessageStatus::Sent
    );
    assert_eq!(
        s.outbound(&mid(1)).unwrap().unwrap().delivery.last_error,
        None
    );
    // Failed stays Failed when sent.
    assert_eq!(s.mark_sent(&mid(2), t(32)).unwrap(), MessageStatus::Failed);
    // A receipt makes any state Delivered, only from the recipient.
    s.mark_delivered(&peer(1), &mid(2), t(40)).unwrap();
    s.mark_delivered(&peer(1), &mid(1), t(41)).unwrap();
    s.mark_delivered(&peer(1), &mid(3), t(42)).unwrap();
    for id in 1..=3 {
        assert_eq!(status(&*s, id), MessageStatus::Delivered);
    }
    // A second receipt keeps the first time.
    s.mark_delivered(&peer(1), &mid(1), t(50)).unwrap();
    assert_eq!(
        s.outbound(&mid(1)).unwrap().unwrap().delivery.updated,
        t(41)
    );
    assert!(matches!(
        s.mark_delivered(&peer(2), &mid(4), t(43)),
        Err(StoreError::UnknownMessage(id)) if id == mid(4)
    ));
    assert_eq!(status(&*s, 4), MessageStatus::Queued);
    // Delivered never goes back.
    assert_eq!(
        s.mark_sent(&mid(3), t(60)).unwrap(),
        MessageStatus::Delivered
    );
    assert_eq!(
        s.mark_failed(&mid(3), "x", t(60)).unwrap(),
        MessageStatus::Delivered
    );
    // Unknown ids.
    for r in [
        s.mark_sent(&mid(99), t(1)).map(|_| ()),
        s.mark_deposited(&mid(99), t(1)).map(|_| ()),
        s.mark_failed(&mid(99), "x", t(1)).map(|_| ()),
        s.mark_delivered(&peer(1), &mid(99), t(1)),
        s.record_send_failure(&mid(99), "x", t(1)).map(|_| ()),
    ] {
        assert!(
            matches!(r, Err(StoreError::UnknownMessage(id)) if id == mid(99)),
            "{r:?}"
        );
    }
}

fn send_failures_count_truncate_and_leave_later_states_alone(disk: &dyn Disk) {
    let mut s = disk.open();
    s.queue_outbound(&peer(1), &mid(1), "m", t(10)).unwrap();
    let d = s.record_send_failure(&mid(1), "down", t(11)).unwrap();
    assert_eq!(d.status, MessageStatus::Queued);
    assert_eq!(d.attempts, 1);
    assert_eq!(d.next_attempt, None);
    assert_eq!(d.last_error.as_deref(), Some("down"));
    assert_eq!(d.updated, t(11));
    let long = "é".repeat(MAX_LAST_ERROR_BYTES);
    let d = s.record_send_failure(&mid(1), &long, t(12)).unwrap();
    assert_eq!(d.attempts, 2);
    let kept = d.last_error.unwrap();
    assert!(kept.len() <= MAX_LAST_ERROR_BYTES && kept.len() >= MAX_LAST_ERROR_BYTES - 1);
    assert!(long.starts_with(&kept));
    assert_eq!(s.outbound(&mid(1)).unwrap().unwrap().delivery.attempts, 2);
    // Still listed as queued.
    assert_eq!(s.queued_outbound(None, 10).unwrap().len(), 1);
    // Not queued any more: unchanged.
    s.mark_sent(&mid(1), t(13)).unwrap();
    let d = s.record_send_failure(&mid(1), "again", t(14)).unwrap();
    assert_eq!(d.status, MessageStatus::Sent);
    assert_eq!(d.attempts, 2);
    assert_eq!(d.updated, t(13));
    assert!(s.queued_outbound(None, 10).unwrap().is_empty());
}

fn deposited_messages_expire_in_order_once(disk: &dyn Disk) {
    let mut s = disk.open();
    for id in 1..=6 {
        s.queue_outbound(&peer(id), &mid(id), "m", t(1)).unwrap();
    }
    assert_eq!(
        s.mark_deposited(&mid(3), t(100)).unwrap(),
        MessageStatus::Sent
    );
    // A second deposit keeps the first deposit time.
    assert_eq!(
        s.mark_deposited(&mid(3), t(500)).unwrap(),
        MessageStatus::Sent
    );
    s.mark_deposited(&mid(2), t(100)).unwrap();
    s.mark_deposited(&mid(1), t(200)).unwrap();
    s.mark_deposited(&mid(4), t(300)).unwrap();
    s.mark_delivered(&peer(4), &mid(4), t(301)).unwrap();
    // Sent directly: never deposited, never expired.
    s.mark_sent(&mid(5), t(50)).unwrap();
    // Sent first, deposited later: no deposit time recorded.
    s.mark_sent(&mid(6), t(50)).unwrap();
    s.mark_deposited(&mid(6), t(60)).unwrap();

    assert!(
        s.expire_deposited(t(99), "gone", t(1000), 10)
            .unwrap()
            .is_empty()
    );
    let first = s.expire_deposited(t(200), "gone", t(1000), 2).unwrap();
    assert_eq!(first, vec![(mid(2), peer(2)), (mid(3), peer(3))]);
    let rest = s.expire_deposited(t(10_000), "gone", t(1001), 10).unwrap();
    assert_eq!(ids(&rest), vec![mid(1)]);
    assert!(
        s.expire_deposited(t(10_000), "gone", t(1002), 10)
            .unwrap()
            .is_empty()
    );
    let d = s.outbound(&mid(3)).unwrap().unwrap().delivery;
    assert_eq!(d.status, MessageStatus::Failed);
    assert_eq!(d.last_error.as_deref(), Some("gone"));
    assert_eq!(d.updated, t(1000));
    assert_eq!(status(&*s, 4), MessageStatus::Delivered);
    assert_eq!(status(&*s, 5), MessageStatus::Sent);
    assert_eq!(status(&*s, 6), MessageStatus::Sent);
    // A late receipt still turns Failed into Delivered.
    s.mark_delivered(&peer(3), &mid(3), t(2000)).unwrap();
    assert_eq!(status(&*s, 3), MessageStatus::Delivered);
}

fn sent_messages_to_a_peer_go_back_to_the_queue_oldest_first(disk: &dyn Disk) {
    let mut s = disk.open();
    // 1..=4 to peer 1 (queued in the order 3, 1, 4, 2), 5 to peer 2.
    for (id, at) in [(3, 10), (1, 20), (4, 30), (2, 40)] {
        s.queue_outbound(&peer(1), &mid(id), "m", t(at)).unwrap();
    }
    s.queue_outbound(&peer(2), &mid(5), "m", t(50)).unwrap();
    s.record_send_failure(&mid(3), "offline", t(60)).unwrap();
    s.mark_deposited(&mid(3), t(100)).unwrap();
    s.mark_sent(&mid(1), t(100)).unwrap();
    s.mark_deposited(&mid(4), t(100)).unwrap();
    s.mark_delivered(&peer(1), &mid(4), t(110)).unwrap();
    s.mark_deposited(&mid(5), t(100)).unwrap();
    // 2 stays queued, 4 is delivered, 5 is another peer's.
    let first = s.requeue_sent(&peer(1), t(200), 1).unwrap();
    assert_eq!(first, vec![(mid(3), t(10))]);
    let rest = s.requeue_sent(&peer(1), t(201), 10).unwrap();
    assert_eq!(rest, vec![(mid(1), t(20))]);
    assert!(s.requeue_sent(&peer(1), t(202), 10).unwrap().is_empty());
    let d = s.outbound(&mid(3)).unwrap().unwrap().delivery;
    assert_eq!(d.status, MessageStatus::Queued);
    assert_eq!(d.attempts, 0);
    assert_eq!(d.last_error, None);
    assert_eq!(d.next_attempt, Some(t(200)));
    assert_eq!(d.updated, t(200));
    assert_eq!(status(&*s, 4), MessageStatus::Delivered);
    assert_eq!(status(&*s, 5), MessageStatus::Sent);
    let queued: Vec<MessageId> = s
        .queued_outbound(None, 10)
        .unwrap()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(queued, vec![mid(3), mid(1), mid(2)]);
    // The first deposit time went with it: deposited again later, it
    // expires from the new deposit, not the old one.
    s.mark_deposited(&mid(3), t(1000)).unwrap();
    assert_eq!(
        ids(&s.expire_deposited(t(999), "gone", t(2000), 10).unwrap()),
        vec![mid(5)]
    );
    assert_eq!(
        ids(&s.expire_deposited(t(1000), "gone", t(2000), 10).unwrap()),
        vec![mid(3)]
    );
}

fn inbox_dedupes_by_peer_and_id(disk: &dyn Disk) {
    let mut s = disk.open();
    assert_eq!(
        s.insert_inbound(&peer(1), &mid(1), "hi", t(10)).unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.insert_inbound(&peer(1), &mid(1), "changed", t(20))
            .unwrap(),
        InsertOutcome::AlreadyPresent
    );
    // The same id from another peer is another message.
    assert_eq!(
        s.insert_inbound(&peer(2), &mid(1), "also", t(30)).unwrap(),
        InsertOutcome::Inserted
    );
    assert!(matches!(
        s.insert_inbound(
            &peer(1),
            &mid(2),
            &"x".repeat(MAX_STORED_TEXT_BYTES + 1),
            t(1)
        ),
        Err(StoreError::TextTooLong(_))
    ));
    let h = s.latest_history(10).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].peer, h[0].text.as_str(), h[0].time),
        (peer(1), "hi", t(10))
    );
    assert_eq!(h[0].direction, Direction::Inbound);
    assert_eq!((h[1].peer, h[1].text.as_str()), (peer(2), "also"));
}

fn history_orders_by_time_direction_peer_and_id(disk: &dyn Disk) {
    let mut s = disk.open();
    assert!(s.latest_history(10).unwrap().is_empty());
    s.queue_outbound(&peer(1), &mid(9), "out-1-9", t(100))
        .unwrap();
    s.insert_inbound(&peer(2), &mid(1), "in-2-1", t(100))
        .unwrap();
    s.insert_inbound(&peer(1), &mid(5), "in-1-5", t(100))
        .unwrap();
    s.insert_inbound(&peer(1), &mid(3), "in-1-3", t(100))
        .unwrap();
    s.queue_outbound(&peer(1), &mid(2), "out-1-2", t(100))
        .unwrap();
    s.queue_outbound(&peer(0), &mid(8), "out-0-8", t(100))
        .unwrap();
    s.insert_inbound(&peer(9), &mid(9), "in-early", t(5))
        .unwrap();
    s.queue_outbound(&peer(9), &mid(10), "out-late", t(200))
        .unwrap();
    // Delivery status does not move a message in the history.
    s.mark_sent(&mid(10), t(300)).unwrap();
    let texts = |h: Vec<tacnode_domain::StoredMessage>| -> Vec<String> {
        h.into_iter().map(|m| m.text).collect()
    };
    let all = texts(s.latest_history(100).unwrap());
    assert_eq!(
        all,
        vec![
            "in-early", "in-1-3", "in-1-5", "in-2-1", "out-0-8", "out-1-2", "out-1-9", "out-late"
        ]
    );
    // The latest `limit`, still oldest first.
    assert_eq!(texts(s.latest_history(3).unwrap()), all[5..].to_vec());
    assert!(s.latest_history(0).unwrap().is_empty());
    let m = s.latest_history(1).unwrap().pop().unwrap();
    assert_eq!(
        (m.peer, m.message_id, m.direction, m.time),
        (peer(9), mid(10), Direction::Outbound, t(200))
    );
}

fn listings_are_capped_at_max_query_rows(disk: &dyn Disk) {
    let mut s = disk.open();
    batch_within(
        &mut s,
        |s| &mut **s,
        |s| -> Result<(), StoreError> {
            for i in 0..=MAX_QUERY_ROWS {
                let n = u32::try_from(i).unwrap();
                let mut id = [0; 16];
                id[..4].copy_from_slice(&n.to_be_bytes());
                s.queue_outbound(&peer(1), &MessageId(id), "q", t(u64::from(n)))?;
            }
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(s.latest_history(usize::MAX).unwrap().len(), MAX_QUERY_ROWS);
    let q = s.queued_outbound(None, usize::MAX).unwrap();
    assert_eq!(q.len(), MAX_QUERY_ROWS);
    assert_eq!(q[0].2, t(0));
    // The newest are the ones the history keeps.
    let h = s.latest_history(usize::MAX).unwrap();
    assert_eq!(h[0].time, t(1));
    assert_eq!(
        h[MAX_QUERY_ROWS - 1].time,
        t(u64::try_from(MAX_QUERY_ROWS).unwrap())
    );
}

fn mailbox_dedupes_orders_and_expires(disk: &dyn Disk) {
    let mut s = disk.open();
    let r = peer(1);
    assert_eq!(s.mailbox_usage().unwrap(), MailboxUsage::default());
    assert_eq!(
        s.mailbox_deposit(&r, &mid(5), b"aaaa", t(1000), t(10))
            .unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.mailbox_deposit(&r, &mid(5), b"other", t(2000), t(11))
            .unwrap(),
        InsertOutcome::AlreadyPresent
    );
    s.mailbox_deposit(&r, &mid(2), b"bb", t(500), t(10))
        .unwrap();
    s.mailbox_deposit(&r, &mid(1), b"c", t(3000), t(20))
        .unwrap();
    s.mailbox_deposit(&peer(2), &mid(5), b"dd", t(3000), t(5))
        .unwrap();
    assert_eq!(
        s.mailbox_usage().unwrap(),
        MailboxUsage {
            messages: 4,
            bytes: 9
        }
    );
    // Oldest deposit first, ties by id; fetching removes nothing.
    let got = s.mailbox_fetch(&r, t(100), 10).unwrap();
    let order: Vec<MessageId> = got.iter().map(|i| i.message_id).collect();
    assert_eq!(order, vec![mid(2), mid(5), mid(1)]);
    assert_eq!(got[1].payload, b"aaaa");
    assert_eq!(
        (got[1].recipient, got[1].deposited, got[1].expires),
        (r, t(10), t(1000))
    );
    assert_eq!(s.mailbox_fetch(&r, t(100), 2).unwrap().len(), 2);
    // Expired holdings are not fetched (expiry is exclusive) ...
    let later: Vec<MessageId> = s
        .mailbox_fetch(&r, t(500), 10)
        .unwrap()
        .iter()
        .map(|i| i.message_id)
        .collect();
    assert_eq!(later, vec![mid(5), mid(1)]);
    // ... but count until purged.
    assert_eq!(s.mailbox_usage().unwrap().messages, 4);
    assert_eq!(s.mailbox_purge_expired(t(999)).unwrap(), 1);
    assert_eq!(s.mailbox_purge_expired(t(999)).unwrap(), 0);
    assert_eq!(s.mailbox_usage().unwrap().messages, 3);
    // A deposit purges what expired first.
    s.mailbox_deposit(&peer(3), &mid(7), b"e", t(5000), t(1000))
        .unwrap();
    assert_eq!(
        s.mailbox_usage().unwrap(),
        MailboxUsage {
            messages: 3,
            bytes: 4
        }
    );
    // Removal is per recipient and counts what went.
    assert_eq!(s.mailbox_remove(&r, &[mid(1), mid(5), mid(9)]).unwrap(), 1);
    assert_eq!(s.mailbox_remove(&peer(2), &[mid(5), mid(5)]).unwrap(), 1);
    assert_eq!(s.mailbox_remove(&peer(2), &[]).unwrap(), 0);
    assert!(s.mailbox_fetch(&r, t(1000), 10).unwrap().is_empty());

    assert!(matches!(
        s.mailbox_deposit(&r, &mid(8), b"x", t(10), t(10)),
        Err(StoreError::MailboxAlreadyExpired)
    ));
    assert!(matches!(
        s.mailbox_deposit(&r, &mid(8), &vec![0; MAX_MAILBOX_PAYLOAD_BYTES + 1], t(9000), t(10)),
        Err(StoreError::MailboxPayloadTooLarge(n)) if n == MAX_MAILBOX_PAYLOAD_BYTES + 1
    ));
    s.mailbox_deposit(
        &r,
        &mid(8),
        &vec![0; MAX_MAILBOX_PAYLOAD_BYTES],
        t(9000),
        t(10),
    )
    .unwrap();
}

fn mailbox_quotas_refuse_new_deposits_only(disk: &dyn Disk) {
    let mut s = disk.open();
    s.set_mailbox_quota(MailboxQuota {
        per_recipient: 2,
        total_bytes: 10,
    });
    s.mailbox_deposit(&peer(1), &mid(1), b"1234", t(100), t(1))
        .unwrap();
    s.mailbox_deposit(&peer(1), &mid(2), b"12", t(900), t(1))
        .unwrap();
    let err = s
        .mailbox_deposit(&peer(1), &mid(3), b"1", t(900), t(2))
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MailboxRecipientQuota { recipient, held: 2, limit: 2 } if recipient == peer(1)),
        "{err:?}"
    );
    // A deposit already held is recognised even when full.
    assert_eq!(
        s.mailbox_deposit(&peer(1), &mid(2), b"12", t(900), t(3))
            .unwrap(),
        InsertOutcome::AlreadyPresent
    );
    // Another recipient, within the total.
    s.mailbox_deposit(&peer(2), &mid(4), b"1234", t(900), t(3))
        .unwrap();
    let err = s
        .mailbox_deposit(&peer(2), &mid(5), b"12345", t(900), t(4))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MailboxTotalQuota {
                held: 10,
                incoming: 5,
                limit: 10
            }
        ),
        "{err:?}"
    );
    // The purge a refused deposit made stays: mid(1) expired at 100.
    let err = s
        .mailbox_deposit(&peer(2), &mid(5), b"12345", t(900), t(100))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::MailboxTotalQuota {
                held: 6,
                incoming: 5,
                limit: 10
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.mailbox_usage().unwrap().messages, 2);
    // Room again once expired holdings go.
    assert_eq!(
        s.mailbox_deposit(&peer(1), &mid(3), b"1", t(900), t(100))
            .unwrap(),
        InsertOutcome::Inserted
    );
    // Exactly at the total is allowed.
    s.mailbox_deposit(&peer(3), &mid(6), b"123", t(900), t(100))
        .unwrap();
    assert_eq!(s.mailbox_usage().unwrap().bytes, 10);
}

fn mailbox_recipients_are_distinct_ordered_and_paged(disk: &dyn Disk) {
    let mut s = disk.open();
    for (r, m, expires) in [
        (5, 1, 900),
        (5, 2, 900),
        (2, 1, 900),
        (9, 1, 50),
        (7, 3, 900),
    ] {
        s.mailbox_deposit(&peer(r), &mid(m), b"x", t(expires), t(1))
            .unwrap();
    }
    assert_eq!(
        s.mailbox_recipients(None, t(10), 10).unwrap(),
        vec![peer(2), peer(5), peer(7), peer(9)]
    );
    // Expired-only recipients are left out.
    assert_eq!(
        s.mailbox_recipients(None, t(50), 10).unwrap(),
        vec![peer(2), peer(5), peer(7)]
    );
    assert_eq!(
        s.mailbox_recipients(None, t(10), 2).unwrap(),
        vec![peer(2), peer(5)]
    );
    assert_eq!(
        s.mailbox_recipients(Some(&peer(5)), t(10), 10).unwrap(),
        vec![peer(7), peer(9)]
    );
    assert!(
        s.mailbox_recipients(Some(&peer(9)), t(10), 10)
            .unwrap()
            .is_empty()
    );
}

fn routing_snapshot_replaces_orders_and_checks_limits(disk: &dyn Disk) {
    let mut s = disk.open();
    assert!(s.load_routing_snapshot().unwrap().is_empty());
    s.save_routing_snapshot(&[route(9, 1, &["1.2.3.4:5"])])
        .unwrap();
    let entries = [
        route(3, 100, &["10.0.0.1:4500", "[2001:db8::1]:4500"]),
        route(1, 200, &[]),
        route(2, 100, &["10.0.0.2:1"]),
        route(4, 50, &["10.0.0.4:1"]),
        // Listed twice: the later one wins.
        route(4, 300, &["10.0.0.5:2"]),
    ];
    s.save_routing_snapshot(&entries).unwrap();
    let loaded = s.load_routing_snapshot().unwrap();
    assert_eq!(
        loaded,
        vec![
            entries[4].clone(),
            entries[1].clone(),
            entries[2].clone(),
            entries[0].clone()
        ]
    );
    let too_many: Vec<RoutingEntry> = (0..=MAX_ROUTING_SNAPSHOT_ENTRIES)
        .map(|i| {
            let mut e = route(0, 1, &[]);
            e.node_id = NodeId::from_bytes(std::array::from_fn(|b| {
                if b < 8 { (i >> (8 * b)) as u8 } else { 0 }
            }));
            e
        })
        .collect();
    assert!(matches!(
        s.save_routing_snapshot(&too_many),
        Err(StoreError::RoutingSnapshotTooLarge(n)) if n == MAX_ROUTING_SNAPSHOT_ENTRIES + 1
    ));
    let eps: Vec<String> = (0..=MAX_SNAPSHOT_ENDPOINTS)
        .map(|p| format!("10.0.0.1:{}", p + 1))
        .collect();
    let eps: Vec<&str> = eps.iter().map(String::as_str).collect();
    assert!(matches!(
        s.save_routing_snapshot(&[route(1, 1, &eps)]),
        Err(StoreError::TooManyEndpoints(n)) if n == MAX_SNAPSHOT_ENDPOINTS + 1
    ));
    // A refused snapshot leaves the saved one.
    assert_eq!(s.load_routing_snapshot().unwrap(), loaded);
    s.save_routing_snapshot(&too_many[..MAX_ROUTING_SNAPSHOT_ENTRIES])
        .unwrap();
    assert_eq!(
        s.load_routing_snapshot().unwrap().len(),
        MAX_ROUTING_SNAPSHOT_ENTRIES
    );
    s.save_routing_snapshot(&[]).unwrap();
    assert!(s.load_routing_snapshot().unwrap().is_empty());
}

/// One write of every kind, for the batch contracts.
fn write_everything(s: &mut dyn NodeStore) -> Result<(), StoreError> {
    s.set_meta("a", b"1")?;
    s.add_contact(&contact("c", 1, false))?;
    s.save_session(&peer(1), b"session", t(5))?;
    s.save_prekey_state(b"prekeys", t(5))?;
    s.queue_outbound(&peer(1), &mid(1), "out", t(5))?;
    s.record_send_failure(&mid(1), "down", t(6))?;
    s.insert_inbound(&peer(1), &mid(2), "in", t(6))?;
    s.mailbox_deposit(&peer(2), &mid(3), b"held", t(1000), t(6))?;
    s.save_routing_snapshot(&[route(1, 6, &["10.0.0.1:1"])])?;
    Ok(())
}

fn assert_everything_written(s: &dyn NodeStore) {
    assert_eq!(s.meta("a").unwrap(), Some(b"1".to_vec()));
    assert!(s.contact(&peer(1)).unwrap().is_some());
    assert_eq!(
        s.load_session(&peer(1)).unwrap().unwrap().as_slice(),
        b"session"
    );
    assert_eq!(
        s.load_prekey_state().unwrap().unwrap().as_slice(),
        b"prekeys"
    );
    assert_eq!(s.outbound(&mid(1)).unwrap().unwrap().delivery.attempts, 1);
    assert_eq!(s.latest_history(10).unwrap().len(), 2);
    assert_eq!(s.mailbox_usage().unwrap().messages, 1);
    assert_eq!(s.load_routing_snapshot().unwrap().len(), 1);
}

/// What the store holds before the batch contracts write (a meta value, a
/// held deposit that expires at 5, a saved snapshot), and checks that it is
/// still exactly that.
fn write_baseline(s: &mut dyn NodeStore) {
    s.set_meta("a", b"before").unwrap();
    s.mailbox_deposit(&peer(9), &mid(9), b"old", t(5), t(1))
        .unwrap();
    s.save_routing_snapshot(&[route(8, 1, &[])]).unwrap();
    s.save_session(&peer(1), b"old session", t(1)).unwrap();
}

fn assert_only_baseline(s: &dyn NodeStore) {
    assert_eq!(s.meta("a").unwrap(), Some(b"before".to_vec()));
    assert!(s.contact(&peer(1)).unwrap().is_none());
    assert_eq!(
        s.load_session(&peer(1)).unwrap().unwrap().as_slice(),
        b"old session"
    );
    assert!(s.load_prekey_state().unwrap().is_none());
    assert!(s.outbound(&mid(1)).unwrap().is_none());
    assert!(s.latest_history(10).unwrap().is_empty());
    // The deposit's purge of the expired holding was undone too.
    assert_eq!(
        s.mailbox_usage().unwrap(),
        MailboxUsage {
            messages: 1,
            bytes: 3
        }
    );
    assert_eq!(s.load_routing_snapshot().unwrap(), vec![route(8, 1, &[])]);
}

fn committed_writes_survive_reopen(disk: &dyn Disk) {
    {
        let mut s = disk.open();
        write_everything(&mut *s).unwrap();
        batch_within(&mut s, |s| &mut **s, |s| s.set_meta("b", b"2")).unwrap();
        assert!(!s.in_batch());
    }
    let s = disk.open();
    assert_everything_written(&*s);
    assert_eq!(s.meta("b").unwrap(), Some(b"2".to_vec()));
}

fn failed_batch_writes_nothing(disk: &dyn Disk) {
    let mut s = disk.open();
    write_baseline(&mut *s);
    let err = batch_within(
        &mut s,
        |s| &mut **s,
        |s| -> Result<(), StoreError> {
            assert!(s.in_batch());
            write_everything(&mut **s)?;
            assert_everything_written(&**s);
            // Unknown message: the whole batch goes.
            s.mark_sent(&mid(42), t(7))?;
            Ok(())
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownMessage(id) if id == mid(42)),
        "{err:?}"
    );
    assert!(!s.in_batch());
    assert_only_baseline(&*s);
    drop(s);
    let mut s = disk.open();
    assert_only_baseline(&*s);
    // The store stays usable: plain writes commit on their own.
    s.set_meta("c", b"3").unwrap();
    drop(s);
    assert_eq!(disk.open().meta("c").unwrap(), Some(b"3".to_vec()));
}

fn nested_batch_joins_the_outer_one(disk: &dyn Disk) {
    let mut s = disk.open();
    write_baseline(&mut *s);
    let r: Result<(), StoreError> = batch_within(
        &mut s,
        |s| &mut **s,
        |s| {
            batch_within(s, |s| &mut **s, |s| write_everything(&mut **s))?;
            // Still inside the outer batch.
            assert!(s.in_batch());
            Err(StoreError::UnknownContact(peer(77)))
        },
    );
    assert!(matches!(r, Err(StoreError::UnknownContact(_))));
    assert_only_baseline(&*s);
    // And both commit together.
    batch_within(
        &mut s,
        |s| &mut **s,
        |s| batch_within(s, |s| &mut **s, |s| write_everything(&mut **s)),
    )
    .unwrap();
    drop(s);
    assert_everything_written(&*disk.open());
}

fn abandoned_and_dropped_batches_roll_back(disk: &dyn Disk) {
    let mut s = disk.open();
    write_baseline(&mut *s);
    assert!(!s.abandon_open_batch());
    s.begin_batch().unwrap();
    write_everything(&mut *s).unwrap();
    assert!(s.abandon_open_batch());
    assert!(!s.in_batch());
    assert_only_baseline(&*s);
    // A handle closed inside a batch commits nothing.
    s.begin_batch().unwrap();
    write_everything(&mut *s).unwrap();
    drop(s);
    let mut s = disk.open();
    assert!(!s.in_batch());
    assert_only_baseline(&*s);
    // Explicit commit and rollback.
    s.begin_batch().unwrap();
    s.set_meta("x", b"1").unwrap();
    s.rollback_batch().unwrap();
    assert_eq!(s.meta("x").unwrap(), None);
    s.begin_batch().unwrap();
    s.set_meta("x", b"2").unwrap();
    s.commit_batch().unwrap();
    drop(s);
    assert_eq!(disk.open().meta("x").unwrap(), Some(b"2".to_vec()));
}

fn batch_misuse_is_refused(disk: &dyn Disk) {
    let mut s = disk.open();
    assert!(matches!(s.commit_batch(), Err(StoreError::Backend(_))));
    assert!(matches!(s.rollback_batch(), Err(StoreError::Backend(_))));
    s.begin_batch().unwrap();
    s.set_meta("k", b"v").unwrap();
    assert!(matches!(s.begin_batch(), Err(StoreError::Backend(_))));
    // The open batch is intact.
    assert!(s.in_batch());
    s.commit_batch().unwrap();
    assert_eq!(s.meta("k").unwrap(), Some(b"v".to_vec()));
}
