//! The DHT over real QUIC: discovery from one bootstrap peer, and records
//! refused over the wire.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use rand::SeedableRng;
use tacnode_domain::dht::{DhtRequest, DhtResponse, Record, RecordValue, RefusalCode, SenderInfo};
use tacnode_domain::{NodeType, UnixMillis, UnsignedPeerRecord};
use tacnode_messaging::Message;
use tacnode_tests::{TestNode, test_node};
use tacnode_transport::{Transport, TransportConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_nodes_find_every_other_node_from_one_bootstrap_peer() {
    let root = tempfile::tempdir().unwrap();
    let mut nodes: Vec<TestNode> = Vec::new();
    let mut first = test_node(root.path(), "n0", 500, None);
    first.start().await.unwrap();
    nodes.push(first);
    for i in 1..20u64 {
        let mut n = test_node(root.path(), &format!("n{i}"), 500 + i, Some(&nodes[0]));
        n.start().await.unwrap();
        nodes.push(n);
    }
    let handles: Vec<_> = nodes.iter().map(|n| n.handle().unwrap()).collect();
    for h in &handles {
        h.wait_for_routing(3, Duration::from_secs(20)).await;
        h.publish().await.unwrap();
    }
    let ids: Vec<_> = handles.iter().map(|h| h.node_id()).collect();
    let mut missing = Vec::new();
    for (i, h) in handles.iter().enumerate() {
        for (j, id) in ids.iter().enumerate() {
            if i == j {
                continue;
            }
            match h.lookup_peer(*id).await.unwrap() {
                Some(r) => {
                    assert_eq!(r.node_id, *id);
                    assert_eq!(r.body.endpoints[0].0, handles[j].local_addr());
                }
                None => missing.push((i, j)),
            }
        }
    }
    assert!(missing.is_empty(), "lookups that failed: {missing:?}");
    for n in &mut nodes {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_stale_records_are_refused_over_the_wire() {
    let root = tempfile::tempdir().unwrap();
    let mut holder = test_node(root.path(), "holder", 600, None);
    let h = holder.start().await.unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(601);
    let owner = tacnode_crypto::Identity::generate(&mut rng);
    let forger = tacnode_crypto::Identity::generate(&mut rng);
    let (t, _inbound) = Transport::bind(
        TransportConfig::with_listen("127.0.0.1:0".parse().unwrap()),
        &owner,
    )
    .unwrap();
    let body = |seq: u64| UnsignedPeerRecord {
        identity_key: owner.identity_key(),
        device_key: owner.device_key(),
        device_key_signature: owner.device_key_signature(),
        endpoints: vec![tacnode_domain::Endpoint(t.local_addr().unwrap())],
        node_type: NodeType::Server,
        last_seen: UnixMillis(seq),
        metadata: BTreeMap::new(),
        sequence: seq,
        member: None,
        reachability: None,
        relay: None,
    };
    let store = |value: RecordValue| {
        let key = match &value {
            RecordValue::Peer(p) => p.node_id,
            _ => unreachable!(),
        };
        Message::DhtRequest(DhtRequest::Store {
            sender: SenderInfo {
                node_type: NodeType::Server,
                endpoints: vec![],
                time: None,
            },
            key,
            record: Box::new(Record {
                value,
                expires: UnixMillis(u64::MAX / 4),
            }),
        })
    };
    let call = |m: Message| {
        let t = t.clone();
        let (id, addr) = (h.node_id(), h.local_addr());
        async move { Message::decode(&t.request(id, &[addr], m.encode()).await.unwrap()).unwrap() }
    };
    let refusal = |m: &Message| match m {
        Message::DhtResponse(DhtResponse::Stored(Err(c))) | Message::Error { code: c, .. } => {
            Some(*c)
        }
        _ => None,
    };
    let now = tacnode::node::now().0;

    // Signed by another key.
    let b = body(now);
    let forged = b.clone().with_signature(forger.sign(&b.signing_bytes()));
    let r = call(store(RecordValue::Peer(forged))).await;
    assert_eq!(refusal(&r), Some(RefusalCode::Unauthorized), "{r:?}");

    // A genuine record is stored; an older one is then stale, and so is a replay.
    let fresh = owner.sign_peer_record(body(now + 10));
    let r = call(store(RecordValue::Peer(fresh.clone()))).await;
    assert_eq!(r, Message::DhtResponse(DhtResponse::Stored(Ok(()))));
    let old = owner.sign_peer_record(body(now + 5));
    let r = call(store(RecordValue::Peer(old))).await;
    assert_eq!(refusal(&r), Some(RefusalCode::Stale), "{r:?}");

    // The holder serves the genuine one.
    let r = call(Message::DhtRequest(DhtRequest::FindValue {
        sender: SenderInfo {
            node_type: NodeType::Client,
            endpoints: vec![],
            time: None,
        },
        key: owner.node_id(),
        kind: tacnode_domain::dht::RecordKind::Peer,
    }))
    .await;
    match r {
        Message::DhtResponse(DhtResponse::Value {
            record: Some(rec), ..
        }) => assert_eq!(rec.value, RecordValue::Peer(fresh)),
        other => panic!("{other:?}"),
    }
    holder.stop().await;
}
