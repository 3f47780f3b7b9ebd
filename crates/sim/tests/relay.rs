//! Relays in the whole-node simulator: clients behind NATs, which nobody
//! can dial, keep a reservation at a server and are called through it, so
//! a message between two of them arrives in a round trip or two instead
//! of waiting in a mailbox for the recipient's next fetch.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacnode_domain::{NodeType, Reachability};
use tacnode_sim::LinkModel;
use tacnode_sim::node::harness::{NodeSim, block_on};

/// Three public servers (0 to 2, joined through 0) and two clients behind
/// NATs (3 and 4), settled; `relays` off takes the servers' relaying away.
async fn network(seed: u64, relays: bool) -> NodeSim {
    network_with(seed, relays, true, true).await
}

/// [`network`], with the clients behind NATs or not, and hole punching on
/// or off.
async fn network_with(seed: u64, relays: bool, natted: bool, punching: bool) -> NodeSim {
    let mut sim = NodeSim::new(seed, LinkModel::default(), 0.0).unwrap();
    for _ in 0..3 {
        sim.add_node(NodeType::Server, 0);
    }
    for _ in 0..2 {
        let c = sim.add_node(NodeType::Client, 0);
        if natted {
            sim.put_behind_nat(c);
        }
        sim.configure(c, |c| c.relay.hole_punching = punching);
    }
    if !relays {
        for i in 0..3 {
            sim.configure(i, |c| c.relay.serve = false);
        }
    }
    sim.set_bootstrap(&[0]);
    for i in 0..3 {
        sim.start(i).await.unwrap();
        sim.advance(1_000).await;
    }
    sim.start(3).await.unwrap();
    sim.start(4).await.unwrap();
    // Joining, a dial-back that times out (5 s), reserving, republishing.
    sim.advance(30_000).await;
    sim
}

/// Client 4's peer record as server 1 finds it.
async fn record_of_4(sim: &NodeSim) -> tacnode_domain::PeerRecord {
    let h = sim.handle(1).unwrap().clone();
    let id = sim.node_id(4).unwrap();
    h.lookup_peer(id).await.unwrap().expect("record found")
}

/// Sends `count` messages from 3 to 4, one every 5 s, then waits
/// `settle_ms`; the time each took to arrive, in ms (`None`: not within
/// 120 s).
async fn latencies(sim: &mut NodeSim, count: usize, settle_ms: u64) -> Vec<Option<u64>> {
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(sim.send(3, 4).await.unwrap());
        sim.advance(5_000).await;
    }
    sim.advance(settle_ms).await;
    ids.iter()
        .map(|id| {
            let f = sim.fate(id).unwrap();
            f.received_at
                .map(|r| r - f.sent_at)
                .filter(|ms| *ms <= 120_000)
        })
        .collect()
}

#[test]
fn two_clients_behind_nats_talk_through_a_relay_then_punch_a_direct_connection() {
    block_on(async {
        let mut sim = network(1, true).await;
        // The recipient's record names its relay, and says why.
        let record = record_of_4(&sim).await;
        assert_eq!(record.body.reachability, Some(Reachability::Private));
        let relay = record.body.relay.expect("the record names a relay");
        assert!((0..3).any(|i| sim.node_id(i).unwrap() == relay.node_id));
        record.verify().unwrap();
        let took = latencies(&mut sim, 10, 2_000).await;
        println!("through a relay: {took:?} ms");
        assert!(
            took.iter().all(|t| t.is_some_and(|ms| ms <= 1_000)),
            "each within a second: {took:?}"
        );
        // The receipts came back the same way (the sender is behind a NAT
        // too), and nothing went to a mailbox.
        for f in sim.fates() {
            let delivered = f.delivered_at.expect("acknowledged");
            assert!(delivered - f.sent_at <= 2_000, "{f:?}");
        }
        assert_eq!(sim.audit().await.duplicates, 0);
        // After the first relayed message the sender punched a direct
        // connection (both NATs keep one mapping for every destination):
        // with every server gone, messages still arrive over it (in use,
        // it does not linger out).
        let punched = sim.status(3).await.unwrap().hole_punches;
        assert_eq!(punched, 1, "one punch");
        for server in 0..3 {
            sim.stop(server, true).await;
        }
        let took = latencies(&mut sim, 5, 120_000).await;
        println!("every server gone: {took:?} ms");
        assert!(
            took.iter().all(|t| t.is_some_and(|ms| ms <= 1_000)),
            "over the punched connection: {took:?}"
        );
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn without_relays_the_same_messages_wait_for_a_mailbox_fetch() {
    block_on(async {
        let mut sim = network(1, false).await;
        let record = record_of_4(&sim).await;
        assert_eq!(record.body.relay, None);
        let took = latencies(&mut sim, 10, 120_000).await;
        println!("through mailboxes: {took:?} ms");
        assert!(took.iter().all(Option::is_some), "all delivered: {took:?}");
        assert!(
            took.iter()
                .filter(|t| t.is_some_and(|ms| ms > 1_000))
                .count()
                >= 5,
            "most wait for a fetch: {took:?}"
        );
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn when_its_relay_stops_a_client_moves_to_another_and_nothing_is_lost() {
    block_on(async {
        let mut sim = network(2, true).await;
        let relay = record_of_4(&sim).await.body.relay.expect("a relay");
        let relay_index = (0..3)
            .find(|i| sim.node_id(*i).unwrap() == relay.node_id)
            .unwrap();
        // The sender knows the old relay, then it goes.
        assert!(latencies(&mut sim, 1, 120_000).await[0].is_some_and(|ms| ms <= 1_000));
        sim.stop(relay_index, true).await;
        // A renewal (at most a minute away) finds it gone.
        sim.advance(90_000).await;
        let moved = record_of_4(&sim).await.body.relay.expect("a relay again");
        assert_ne!(moved.node_id, relay.node_id, "moved to another relay");
        let took = latencies(&mut sim, 6, 120_000).await;
        println!("after the move: {took:?} ms");
        assert!(took.iter().all(Option::is_some), "all delivered: {took:?}");
        // The sender's first call goes to the old relay and fails; from
        // then on it looks the record up again and uses the new one.
        assert!(
            took.iter().skip(2).all(|t| t.is_some_and(|ms| ms <= 1_000)),
            "through the new relay: {took:?}"
        );
        assert_eq!(sim.audit().await.duplicates, 0);
        sim.finish().await;
    })
    .unwrap();
}

/// What a relay costs: the bytes on the wire, every node together, of ten
/// messages (sessions in place, receipts included) between two clients
/// behind NATs through a relay (hole punching off), against the same
/// between two public clients.
#[test]
fn relayed_messages_cost_about_twice_the_bytes_of_direct_ones() {
    block_on(async {
        let mut per_message = Vec::new();
        for natted in [false, true] {
            let mut sim = network_with(3, true, natted, false).await;
            // The session (X3DH) first.
            assert!(latencies(&mut sim, 1, 10_000).await[0].is_some());
            let before = sim.net().bytes_sent();
            let took = latencies(&mut sim, 10, 10_000).await;
            let bytes = sim.net().bytes_sent() - before;
            assert!(took.iter().all(Option::is_some), "{took:?}");
            assert_eq!(sim.status(3).await.unwrap().hole_punches, 0);
            per_message.push(bytes as f64 / 10.0);
            sim.finish().await;
        }
        let (direct, relayed) = (per_message[0], per_message[1]);
        println!(
            "bytes per message, receipt included, every node's traffic in the window: \
             direct {direct:.0} B, through a relay {relayed:.0} B ({:.2}x)",
            relayed / direct
        );
        assert!(relayed <= 3.0 * direct, "{relayed} vs {direct}");
    })
    .unwrap();
}

/// A rogue endpoint (not a node) plays the relay of a caller it owns and
/// calls a server through "itself": the server answers a well-formed
/// relayed call once, and refuses it played again, with a forged caller
/// signature, from another peer than the relay it names, and, as a relay,
/// refuses to pass on a call signed by anyone but the peer that sent it.
#[test]
fn relayed_calls_played_again_forged_or_passed_for_someone_else_are_refused() {
    use rand::SeedableRng as _;
    use tacnode_domain::dht::RefusalCode;
    use tacnode_domain::{RELAY_NONCE_LEN, RelayedCall};
    use tacnode_messaging::Message;
    use tacnode_sim::node::harness::address_of;

    block_on(async {
        let sim = network(4, true).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let rogue = tacnode_crypto::Identity::generate(&mut rng);
        let caller = tacnode_crypto::Identity::generate(&mut rng);
        let index = sim.net().add(
            rogue.identity_key(),
            std::net::SocketAddr::from(([10, 77, 9, 9], 4500)),
        );
        let (net, _incoming) = sim.net().attach(index);
        let rogue_id = tacnode_domain::NodeId::from_identity(&rogue.identity_key());
        let server = sim.node_id(1).unwrap();
        let call_as = |signer: &tacnode_crypto::Identity, relay, to, nonce: u8| {
            let body = Message::PrekeyBundleRequest.encode();
            let nonce = [nonce; RELAY_NONCE_LEN];
            RelayedCall {
                caller: caller.identity_key(),
                relay,
                to,
                nonce,
                member: None,
                signature: signer.sign(&RelayedCall::signing_bytes(&relay, &to, &nonce, &body)),
                body,
            }
        };
        let send = |call: RelayedCall| {
            let net = net.clone();
            async move {
                let bytes = net
                    .call(
                        server,
                        &[address_of(1)],
                        Message::RelayedCall(Box::new(call)).encode(),
                    )
                    .await
                    .unwrap();
                Message::decode_answer(&bytes).unwrap().message
            }
        };
        let refused = |m: &Message| match m {
            Message::Error { code, .. } => Some(*code),
            _ => None,
        };
        let good = call_as(&caller, rogue_id, server, 1);
        let first = send(good.clone()).await;
        let Message::RelayedAnswer(a) = &first else {
            panic!("a well-formed relayed call is answered: {first:?}");
        };
        a.verify(&sim.identity_key(1).unwrap(), &good.signature)
            .unwrap();
        assert_eq!(
            refused(&send(good).await),
            Some(RefusalCode::Stale),
            "replay"
        );
        let forged = call_as(&rogue, rogue_id, server, 2);
        assert_eq!(
            refused(&send(forged).await),
            Some(RefusalCode::Unauthorized),
            "signed by another key than the caller's"
        );
        let other_relay = call_as(&caller, sim.node_id(2).unwrap(), server, 3);
        assert_eq!(
            refused(&send(other_relay).await),
            Some(RefusalCode::Unauthorized),
            "from another peer than the relay it names"
        );
        // The server as the relay: a call to client 4 signed by `caller`,
        // sent by the rogue.
        let passed = call_as(&caller, server, sim.node_id(4).unwrap(), 4);
        assert_eq!(
            refused(&send(passed).await),
            Some(RefusalCode::Unauthorized),
            "passed on only for the caller who signed it"
        );
        sim.finish().await;
    })
    .unwrap();
}
