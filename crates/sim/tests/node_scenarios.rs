//! Scenario tests: the unmodified node × N in the simulator, seconds of
//! wall time each, seeded and replayable.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacnode_domain::NodeType;
use tacnode_domain::PeerAddress;
use tacnode_sim::LinkModel;
use tacnode_sim::node::harness::{NodeSim, StoreKind, address_of, block_on};
use tacnode_sim::node::scenario::{NodeScenario, run_node_scenario};
use tacnode_usecase::node::BootstrapPeer;

const MINUTE: u64 = 60_000;

/// The store these scenarios run on: memory by default,
/// `TACNODE_SIM_STORE=sqlite` runs them on the SQLite adapter.
fn store_kind() -> StoreKind {
    std::env::var("TACNODE_SIM_STORE")
        .map(|v| v.parse().unwrap())
        .unwrap_or_default()
}
const HOUR: u64 = 60 * MINUTE;

/// A network of `servers` servers then `clients` clients, bootstrapping
/// from the first (up to) three servers, all started and settled.
async fn network(seed: u64, servers: usize, clients: usize) -> NodeSim {
    network_on(seed, servers, clients, store_kind()).await
}

/// [`network`] on a given store (the scenarios that need the in-memory
/// store's facilities: a full disk, reading a stopped node's disk).
async fn network_on(seed: u64, servers: usize, clients: usize, store: StoreKind) -> NodeSim {
    let mut sim = NodeSim::with_store(seed, LinkModel::default(), 0.0, store).unwrap();
    for _ in 0..servers {
        sim.add_node(NodeType::Server, 0);
    }
    for _ in 0..clients {
        sim.add_node(NodeType::Client, 0);
    }
    let boot: Vec<u32> = (0..servers.min(3) as u32).collect();
    sim.set_bootstrap(&boot);
    for i in 0..(servers + clients) as u32 {
        sim.start(i).await.unwrap();
    }
    sim.advance(MINUTE).await;
    sim
}

#[test]
fn a_network_with_one_server_delivers_from_that_server_and_its_receipts_arrive() {
    block_on(async {
        // B is the only server; A and C are clients.
        let mut sim = network(11, 1, 2).await;
        let (b, a, c) = (0, 1, 2);
        let from_server = sim.send(b, a).await.unwrap();
        let to_server = sim.send(c, b).await.unwrap();
        assert!(sim.drain(5 * MINUTE).await, "{:?}", sim.fates());
        sim.advance(MINUTE).await;
        let to_server = sim.fate(&to_server).unwrap();
        assert!(
            to_server.delivered_at.is_some(),
            "C never learnt that B got its message: {to_server:?}"
        );
        assert!(sim.fate(&from_server).unwrap().received_at.is_some());
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn a_six_hour_partition_heals_with_everything_delivered_once_and_in_order() {
    block_on(async {
        let mut sim = network(12, 6, 4).await;
        let n = sim.len() as u32;
        sim.net().partition((0..n).map(|i| (i % 2) as u8).collect());
        let mut sent = 0;
        for round in 0..3u32 {
            for from in 0..n {
                let to = (from + 1 + round) % n;
                if to != from && sim.send(from, to).await.is_some() {
                    sent += 1;
                }
            }
            sim.advance(2 * HOUR).await;
        }
        sim.net().heal();
        assert!(sim.drain(2 * HOUR).await, "{:?}", sim.fates());
        let audit = sim.audit().await;
        assert_eq!(audit.accepted, sent);
        assert_eq!(audit.delivered, sent, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        assert_eq!(audit.order_violations, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn a_recipient_offline_for_three_days_gets_its_mail_from_the_mailboxes() {
    block_on(async {
        let mut sim = network(13, 6, 2).await;
        let (sender, recipient) = (6, 7);
        // A first exchange makes the session.
        sim.send(sender, recipient).await.unwrap();
        assert!(sim.drain(5 * MINUTE).await);
        sim.stop(recipient, true).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(sim.send(sender, recipient).await.unwrap());
        }
        sim.advance(72 * HOUR).await;
        sim.start(recipient).await.unwrap();
        assert!(sim.drain(10 * MINUTE).await, "{:?}", sim.fates());
        for id in ids {
            let fate = sim.fate(&id).unwrap();
            assert!(fate.received_at.unwrap() >= 72 * HOUR, "{fate:?}");
        }
        let audit = sim.audit().await;
        assert_eq!(audit.order_violations, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn a_recipient_that_wipes_its_database_gets_one_new_session_and_loses_nothing() {
    block_on(async {
        let mut sim = network(14, 4, 2).await;
        let (sender, recipient) = (4, 5);
        for _ in 0..3 {
            sim.send(sender, recipient).await.unwrap();
            sim.send(recipient, sender).await.unwrap();
        }
        assert!(sim.drain(5 * MINUTE).await);
        sim.wipe(recipient).await.unwrap();
        sim.advance(MINUTE).await;
        sim.start(recipient).await.unwrap();
        sim.advance(MINUTE).await;
        for _ in 0..3 {
            sim.send(sender, recipient).await.unwrap();
        }
        assert!(sim.drain(30 * MINUTE).await, "{:?}", sim.fates());
        let audit = sim.audit().await;
        assert_eq!(audit.session_restarts, 1, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn churn_with_kill_9_and_clean_stops_delivers_every_accepted_message_once_in_order() {
    let scenario = NodeScenario {
        nodes: 40,
        servers: 0.25,
        messages: 300,
        churn: 0.3,
        hours: 0.5,
        seed: 15,
        store: store_kind(),
        ..NodeScenario::default()
    };
    let report = run_node_scenario(&scenario).unwrap();
    assert!(report.accepted > 250, "{report:?}");
    assert_eq!(report.delivered, report.accepted, "{report:?}");
    assert_eq!(report.duplicates, 0, "{report:?}");
    assert_eq!(report.order_violations, 0, "{report:?}");
    // Replayable: the same seed gives the same trace, on the other store
    // too (the in-memory twin behaves as the SQLite file does, down to the
    // order of every answer).
    let other = match scenario.store {
        StoreKind::Memory => StoreKind::Sqlite,
        StoreKind::Sqlite => StoreKind::Memory,
    };
    let again = run_node_scenario(&NodeScenario {
        store: other,
        ..scenario
    })
    .unwrap();
    assert_eq!(again, report);
}

#[test]
fn after_kill_9_and_a_restart_within_10_s_delivery_resumes_within_5_s() {
    block_on(async {
        let mut sim = network(16, 4, 2).await;
        let (sender, recipient) = (4, 5);
        sim.send(sender, recipient).await.unwrap();
        assert!(sim.drain(MINUTE).await);
        sim.stop(recipient, true).await;
        sim.advance(2_000).await;
        let during = sim.send(sender, recipient).await.unwrap();
        sim.advance(6_000).await;
        sim.start(recipient).await.unwrap();
        let restarted = sim.elapsed_ms();
        let after = sim.send(sender, recipient).await.unwrap();
        sim.drain(MINUTE).await;
        for id in [during, after] {
            let fate = sim.fate(&id).unwrap();
            let at = fate.received_at.unwrap_or(u64::MAX);
            assert!(
                at <= restarted + 5_000,
                "received {} ms after the restart: {fate:?}",
                at.saturating_sub(restarted)
            );
        }
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn nodes_with_clocks_three_days_off_join_deliver_receive_and_are_warned() {
    block_on(async {
        const DAY: i64 = 24 * 60 * 60 * 1000;
        let mut sim = NodeSim::with_store(17, LinkModel::default(), 0.0, store_kind()).unwrap();
        // 15 nodes, 6 servers; one server and two clients 3 days off.
        let skewed = [4u32, 9, 12];
        for i in 0..15u32 {
            let node_type = if i < 6 {
                NodeType::Server
            } else {
                NodeType::Client
            };
            let offset = match skewed.iter().position(|s| *s == i) {
                Some(0 | 2) => 3 * DAY,
                Some(_) => -3 * DAY,
                None => 0,
            };
            sim.add_node(node_type, offset);
        }
        sim.set_bootstrap(&[0, 1, 2]);
        for i in 0..15 {
            sim.start(i).await.unwrap();
        }
        sim.advance(2 * MINUTE).await;
        let n = sim.len() as u32;
        for from in 0..n {
            for step in [1, 5] {
                sim.send(from, (from + step) % n).await.unwrap();
            }
        }
        assert!(sim.drain(30 * MINUTE).await, "{:?}", sim.fates());
        let audit = sim.audit().await;
        assert_eq!(audit.delivered, audit.accepted, "{audit:?}");
        assert_eq!(audit.order_violations, 0, "{audit:?}");
        for i in 0..n {
            let status = sim.handle(i).unwrap().status().await.unwrap();
            assert_eq!(
                status.clock.warning.is_some(),
                skewed.contains(&i),
                "node {i}: {:?}",
                status.clock
            );
        }
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn mail_that_expires_unfetched_is_reported_failed_to_its_sender() {
    block_on(async {
        let mut sim = NodeSim::with_store(18, LinkModel::default(), 0.0, store_kind()).unwrap();
        for i in 0..8 {
            let node_type = if i < 6 {
                NodeType::Server
            } else {
                NodeType::Client
            };
            let n = sim.add_node(node_type, 0);
            sim.configure(n, |c| c.mailbox.ttl_hours = 6);
        }
        sim.set_bootstrap(&[0, 1, 2]);
        for i in 0..8 {
            sim.start(i).await.unwrap();
        }
        sim.advance(MINUTE).await;
        let (sender, recipient) = (6, 7);
        sim.send(sender, recipient).await.unwrap();
        assert!(sim.drain(5 * MINUTE).await);
        sim.stop(recipient, true).await;
        let lost = sim.send(sender, recipient).await.unwrap();
        sim.advance(8 * HOUR).await;
        let fate = sim.fate(&lost).unwrap();
        let (at, reason) = fate.failed.clone().expect("the sender was never told");
        assert!(at - fate.sent_at >= 6 * HOUR, "{fate:?}");
        assert!(reason.contains("expired"), "{reason}");
        // The recipient comes back to nothing: the mail is gone.
        sim.start(recipient).await.unwrap();
        sim.advance(10 * MINUTE).await;
        assert_eq!(sim.fate(&lost).unwrap().received_at, None);
        sim.finish().await;
    })
    .unwrap();
}

/// A sender restored from a backup of its data directory has its sessions
/// rolled back: its next messages reuse ratchet state the recipient has
/// moved past (issue #13, finding 3). The recipient refuses them as
/// unreadable rather than "already received", the sender restarts its
/// session, and every accepted message arrives once.
#[test]
fn a_sender_restored_from_a_backup_restarts_its_session_and_loses_nothing() {
    block_on(async {
        let (mut sim, sender, recipient) = sent_across_a_backup(16).await;
        sim.restore(sender).await.unwrap();
        sim.advance(MINUTE).await;
        sim.start(sender).await.unwrap();
        sim.advance(MINUTE).await;
        for _ in 0..3 {
            sim.send(sender, recipient).await.unwrap();
        }
        assert!(sim.drain(30 * MINUTE).await, "{:?}", sim.fates());
        let audit = sim.audit().await;
        assert_eq!(audit.accepted, 9, "{audit:?}");
        assert_eq!(audit.delivered, audit.accepted, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        assert!(audit.session_restarts >= 1, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

/// Node 4 (the sender) sends 3 texts to node 5, is backed up, and sends 3
/// more; all 6 are delivered. Returns the network, the sender and the
/// recipient.
async fn sent_across_a_backup(seed: u64) -> (NodeSim, u32, u32) {
    let mut sim = network(seed, 4, 2).await;
    let (sender, recipient) = (4, 5);
    for _ in 0..3 {
        sim.send(sender, recipient).await.unwrap();
    }
    assert!(sim.drain(5 * MINUTE).await);
    sim.backup(sender).unwrap();
    for _ in 0..3 {
        sim.send(sender, recipient).await.unwrap();
    }
    assert!(sim.drain(5 * MINUTE).await);
    (sim, sender, recipient)
}

/// Node 4 (sender) sends 3 texts to node 5, is backed up, sends 3 more,
/// and is restored while 5 is offline; its next 3 texts reuse ratchet
/// headers 5 already opened and, an hour later, wait in 5's mailboxes.
async fn rewound_mail_deposited(seed: u64) -> (NodeSim, u32, u32, Vec<tacnode_domain::MessageId>) {
    let (mut sim, sender, recipient) = sent_across_a_backup(seed).await;
    sim.stop(recipient, true).await;
    sim.restore(sender).await.unwrap();
    sim.advance(MINUTE).await;
    sim.start(sender).await.unwrap();
    sim.advance(MINUTE).await;
    let mut rewound = Vec::new();
    for _ in 0..3 {
        rewound.push(sim.send(sender, recipient).await.unwrap());
    }
    // Long enough for every one of them to be deposited.
    sim.advance(HOUR).await;
    (sim, sender, recipient, rewound)
}

/// The same rollback while the recipient is offline: the sender's next
/// messages reuse ratchet headers the recipient already opened and go
/// through mailboxes, where no answer to a direct delivery can say
/// "cannot open" (issue #13, data integrity). The recipient tells the
/// sender in a new session, the sender sends them again, and they arrive
/// within minutes of the recipient's return, not at the deposits' expiry.
#[test]
fn a_rewound_message_fetched_from_a_mailbox_is_sent_again_and_delivered() {
    block_on(async {
        let (mut sim, _sender, recipient, rewound) = rewound_mail_deposited(19).await;
        for id in &rewound {
            assert_eq!(sim.fate(id).unwrap().received_at, None);
        }
        sim.start(recipient).await.unwrap();
        let back = sim.elapsed_ms();
        assert!(sim.drain(30 * MINUTE).await, "{:?}", sim.fates());
        for id in &rewound {
            let fate = sim.fate(id).unwrap();
            let received = fate.received_at.unwrap();
            // 3 s in the seeded run: the fetch at start, the notice, the
            // resend.
            assert!(received - back <= 5 * MINUTE, "{fate:?}");
        }
        sim.advance(5 * MINUTE).await;
        for id in &rewound {
            let fate = sim.fate(id).unwrap();
            assert!(fate.delivered_at.is_some(), "{fate:?}");
            assert_eq!(fate.failed, None, "{fate:?}");
        }
        let audit = sim.audit().await;
        assert_eq!(audit.accepted, 9, "{audit:?}");
        assert_eq!(audit.delivered, audit.accepted, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        assert_eq!(audit.order_violations, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

/// As above, but the sender is away too when the recipient fetches the
/// rewound mail: the notice waits in the sender's mailboxes (sealed in a
/// session started from the prekeys the sender published), and the mail
/// arrives within minutes of the sender's return.
#[test]
fn a_rewound_notice_waits_in_the_senders_mailbox_while_it_is_away() {
    block_on(async {
        let (mut sim, sender, recipient, rewound) = rewound_mail_deposited(20).await;
        sim.stop(sender, false).await;
        sim.start(recipient).await.unwrap();
        sim.advance(HOUR).await;
        for id in &rewound {
            assert_eq!(sim.fate(id).unwrap().received_at, None);
        }
        sim.start(sender).await.unwrap();
        let back = sim.elapsed_ms();
        assert!(sim.drain(30 * MINUTE).await, "{:?}", sim.fates());
        for id in &rewound {
            let fate = sim.fate(id).unwrap();
            assert!(fate.received_at.unwrap() - back <= 10 * MINUTE, "{fate:?}");
        }
        let audit = sim.audit().await;
        assert_eq!(audit.delivered, audit.accepted, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        assert_eq!(audit.order_violations, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

/// A recipient whose disk is full refuses incoming mail (nothing it cannot
/// store is acknowledged), says so at ERROR and in its status, and gets
/// every message once the disk has room again (issue #13, data integrity).
#[test]
fn a_full_disk_refuses_mail_says_so_and_loses_nothing() {
    block_on(async {
        let mut sim = network_on(17, 4, 2, StoreKind::Memory).await;
        let (sender, recipient) = (4, 5);
        sim.send(sender, recipient).await.unwrap();
        assert!(sim.drain(5 * MINUTE).await);
        assert!(sim.set_disk_full(recipient, true));
        for _ in 0..3 {
            sim.send(sender, recipient).await.unwrap();
        }
        sim.advance(5 * MINUTE).await;
        assert_eq!(sim.audit().await.delivered, 1, "{:?}", sim.fates());
        let status = sim.status(recipient).await.unwrap();
        assert!(status.storage_failure.is_some(), "{status:?}");
        sim.set_disk_full(recipient, false);
        assert!(sim.drain(30 * MINUTE).await, "{:?}", sim.fates());
        let audit = sim.audit().await;
        assert_eq!(audit.delivered, 4, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        assert_eq!(audit.order_violations, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

/// A sender whose pre-shared peer list names the recipient at an address
/// nobody answers at (the recipient moved). A listed peer is dialled where
/// the list has it, without a lookup first (on a radio a lookup costs
/// seconds, and at a cold start nobody has published a record yet); when
/// nobody answers there, the next attempt looks the recipient's record up,
/// and the message arrives directly, well before the sender would turn to
/// the mailboxes.
#[test]
fn a_peer_listed_at_an_address_it_left_is_looked_up_once_nobody_answers_there() {
    block_on(async {
        let mut sim = NodeSim::with_store(41, LinkModel::default(), 0.0, store_kind()).unwrap();
        for _ in 0..5 {
            sim.add_node(NodeType::Server, 0);
        }
        // A client: no server looks it up or calls it on its own.
        sim.add_node(NodeType::Client, 0);
        sim.set_bootstrap(&[0, 1, 2]);
        let (sender, moved) = (5, 2);
        let listed = |i: u32, endpoint| BootstrapPeer {
            address: PeerAddress::new(sim.identity_key(i).unwrap()),
            endpoint,
        };
        let list = vec![
            listed(0, address_of(0)),
            listed(1, address_of(1)),
            listed(moved, address_of(99)),
        ];
        sim.configure(sender, |c| c.bootstrap = list);
        // The sender joins before the recipient is up: what its routing
        // table holds of the recipient is the listed address.
        for i in [0, 1, 3, 4, sender] {
            sim.start(i).await.unwrap();
        }
        sim.advance(10_000).await;
        sim.start(moved).await.unwrap();
        sim.advance(10_000).await;
        let id = sim.send(sender, moved).await.unwrap();
        sim.advance(MINUTE).await;
        let fate = sim.fate(&id).unwrap();
        let received = fate.received_at.map(|t| t - fate.sent_at);
        eprintln!("a peer listed at an address it left: received after {received:?} ms");
        assert!(
            received.is_some_and(|ms| ms < 15_000),
            "not delivered in time: {fate:?}"
        );
        sim.finish().await;
    })
    .unwrap();
}

/// A node killed like `kill -9` runs nothing more: none of its lanes,
/// served calls or receipts may write to its disk after the kill. Its
/// lanes used to run on: a delivery on the wire at the kill came back
/// failed and was recorded, by a process that no longer existed.
#[test]
fn a_killed_node_writes_nothing_after_the_kill() {
    block_on(async {
        let mut sim = network_on(18, 4, 2, StoreKind::Memory).await;
        let (sender, recipient) = (4, 5);
        sim.send(sender, recipient).await.unwrap();
        assert!(sim.drain(5 * MINUTE).await);
        // The recipient is gone, so the sender's attempts fail slowly; kill
        // the sender while they are on the wire.
        sim.stop(recipient, true).await;
        for _ in 0..20 {
            sim.send(sender, recipient).await.unwrap();
        }
        sim.advance(200).await;
        sim.stop(sender, true).await;
        let at_kill = sim.disk_digest(sender).unwrap();
        sim.advance(10 * MINUTE).await;
        assert_eq!(
            sim.disk_digest(sender).unwrap(),
            at_kill,
            "written after the kill"
        );
        // Both back: everything arrives once.
        sim.start(sender).await.unwrap();
        sim.start(recipient).await.unwrap();
        assert!(sim.drain(60 * MINUTE).await, "{:?}", sim.fates());
        let audit = sim.audit().await;
        assert_eq!(audit.delivered, 21, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}

/// A signed prekey rotated while the disk is full must not be published:
/// the rotation changed memory, the save failed, and the unsaved key went
/// out to the DHT anyway (issue #13, finding 6). Now nothing new is
/// published until the rotation is on disk; then it is.
#[test]
fn a_prekey_rotation_that_cannot_be_saved_is_not_published() {
    block_on(async {
        let mut sim = network_on(19, 5, 0, StoreKind::Memory).await;
        let (node, observer) = (4, 0);
        let id = sim.node_id(node).unwrap();
        let before = sim
            .handle(observer)
            .unwrap()
            .lookup_prekeys(id)
            .await
            .unwrap()
            .expect("published at start")
            .signed_prekey;
        assert!(sim.set_disk_full(node, true));
        // Past the rotation age (7 days) and a republish period.
        sim.advance(7 * 24 * HOUR + 2 * HOUR).await;
        let during = sim
            .handle(observer)
            .unwrap()
            .lookup_prekeys(id)
            .await
            .unwrap()
            .expect("still published")
            .signed_prekey;
        assert_eq!(
            during.id, before.id,
            "an unsaved signed prekey was published"
        );
        sim.set_disk_full(node, false);
        sim.advance(2 * HOUR).await;
        let after = sim
            .handle(observer)
            .unwrap()
            .lookup_prekeys(id)
            .await
            .unwrap()
            .expect("published")
            .signed_prekey;
        assert_ne!(after.id, before.id, "the rotation never happened");
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn peers_lists_the_routing_table_and_the_connected_client_with_the_link_rtt() {
    block_on(async {
        // B is the only server, A a client that joined through it.
        let sim = network(23, 1, 1).await;
        let (b, a) = (0u32, 1u32);
        let (b_id, a_id) = (sim.node_id(b).unwrap(), sim.node_id(a).unwrap());
        let link_rtt =
            std::time::Duration::from_millis(2 * LinkModel::default().base_latency(b, a));
        // The server: the client is connected but never in its routing
        // table; its node type and endpoints come from its DHT requests.
        let seen_by_b = sim.handle(b).unwrap().peers().await.unwrap();
        let client = seen_by_b.iter().find(|p| p.node_id == a_id).unwrap();
        assert!(!client.in_routing_table, "{client:?}");
        assert_eq!(client.node_type, Some(NodeType::Client), "{client:?}");
        assert!(client.last_seen.is_some(), "{client:?}");
        assert_eq!(
            client.address.as_ref().map(|a| a.node_id()),
            Some(a_id),
            "{client:?}"
        );
        let c = client.connection.as_ref().unwrap();
        assert_eq!(c.rtt, link_rtt);
        assert_eq!(c.remote, tacnode_sim::node::harness::address_of(a));
        assert_eq!(c.path, tacnode_domain::ConnectionPath::Direct);
        // The client: the server is in its routing table, connected, at
        // the address it listens on.
        let seen_by_a = sim.handle(a).unwrap().peers().await.unwrap();
        let server = seen_by_a.iter().find(|p| p.node_id == b_id).unwrap();
        assert!(server.in_routing_table, "{server:?}");
        assert_eq!(server.node_type, Some(NodeType::Server), "{server:?}");
        let at = tacnode_domain::Endpoint(tacnode_sim::node::harness::address_of(b));
        assert_eq!(server.endpoints, vec![at], "{server:?}");
        assert_eq!(server.connection.as_ref().unwrap().rtt, link_rtt);
        sim.finish().await;
    })
    .unwrap();
}

/// What a mailbox holder keeps names no sender: not in a later message, not
/// in a first message (X3DH through the mailbox), not in the receipts that
/// come back through the sender's own mailbox. The mail still arrives and
/// its receipts make it delivered.
#[test]
fn a_mailbox_holder_keeps_no_sender_identity() {
    block_on(async {
        let mut sim = network_on(21, 4, 3, StoreKind::Memory).await;
        let servers = 0..4u32;
        let (sender, known, stranger) = (4, 5, 6);
        // A session with `known`; none with `stranger`.
        sim.send(sender, known).await.unwrap();
        assert!(sim.drain(5 * MINUTE).await, "{:?}", sim.fates());
        sim.stop(known, true).await;
        sim.stop(stranger, true).await;
        let mut ids = vec![
            sim.send(sender, known).await.unwrap(),
            sim.send(sender, stranger).await.unwrap(),
        ];
        ids.push(sim.send(sender, known).await.unwrap());
        sim.advance(HOUR).await;

        // Needles: every key that would name a party.
        let names = |sim: &NodeSim, i: u32| -> Vec<Vec<u8>> {
            vec![
                sim.identity_key(i).unwrap().as_bytes().to_vec(),
                sim.device_key(i).unwrap().as_bytes().to_vec(),
            ]
        };
        let held_for = |sim: &NodeSim, i: u32| -> Vec<Vec<u8>> {
            let id = sim.node_id(i).unwrap();
            servers
                .clone()
                .flat_map(|s| sim.held_mail(s).unwrap())
                .filter(|m| m.recipient == id)
                .map(|m| m.payload)
                .collect()
        };
        let assert_unnamed = |payloads: &[Vec<u8>], who: u32, needles: &[Vec<u8>]| {
            for p in payloads {
                for n in needles {
                    assert!(
                        !p.windows(n.len()).any(|w| w == n.as_slice()),
                        "a held entry names node {who}"
                    );
                }
            }
        };
        let sender_names = names(&sim, sender);
        for recipient in [known, stranger] {
            let held = held_for(&sim, recipient);
            assert!(!held.is_empty(), "nothing held for {recipient}");
            assert_unnamed(&held, sender, &sender_names);
        }

        // The recipients fetch while the sender is away: their receipts
        // wait in its mailbox, naming them no more.
        sim.stop(sender, false).await;
        sim.start(known).await.unwrap();
        sim.start(stranger).await.unwrap();
        sim.advance(HOUR).await;
        for id in &ids {
            assert!(
                sim.fate(id).unwrap().received_at.is_some(),
                "{:?}",
                sim.fates()
            );
        }
        let receipts = held_for(&sim, sender);
        assert!(!receipts.is_empty(), "no receipt waits for the sender");
        for recipient in [known, stranger] {
            assert_unnamed(&receipts, recipient, &names(&sim, recipient));
        }

        // Back, the sender fetches its receipts and opens them.
        sim.start(sender).await.unwrap();
        sim.advance(10 * MINUTE).await;
        for id in &ids {
            assert!(
                sim.fate(id).unwrap().delivered_at.is_some(),
                "{:?}",
                sim.fates()
            );
        }
        let audit = sim.audit().await;
        assert_eq!(audit.delivered, audit.accepted, "{audit:?}");
        assert_eq!(audit.duplicates, 0, "{audit:?}");
        sim.finish().await;
    })
    .unwrap();
}
