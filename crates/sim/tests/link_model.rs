//! The simulated network behaves as the QUIC adapter would where it
//! matters to the node: uplink bandwidth, dial backoff, keep-alives.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_domain::ports::{CallError, Incoming, PeerNetwork};
use tacnode_domain::{NodeId, NodeType};
use tacnode_sim::LinkModel;
use tacnode_sim::node::backoff::DIAL_BACKOFF_BASE_MS;
use tacnode_sim::node::harness::{NodeSim, SIM_REQUEST_TIMEOUT_MS, address_of, block_on};
use tacnode_sim::node::keepalive::{KEEPALIVE_INTERVAL_MS, KEEPALIVE_PING_BYTES};
use tacnode_sim::node::network::ACK_BYTES;
use tacnode_sim::node::network::{
    HANDSHAKE_ANSWERER_BYTES, HANDSHAKE_DIALLER_BYTES, HANDSHAKE_TIMEOUT_MS, LINGER_MS, SimNet,
};
use tacnode_sim::node::scenario::{NodeScenario, Profile, run_node_scenario};

const MINUTE: u64 = 60_000;
const HOUR: u64 = 60 * MINUTE;

/// The latency of the last of `burst` messages sent at once from one client
/// to another over a settled session, every node's uplink at `uplink_bps`.
fn burst_latency_ms(uplink_bps: Option<u64>, burst: usize) -> u64 {
    block_on(async {
        let mut link = LinkModel::default();
        link.uplink_bps = uplink_bps;
        let mut sim = NodeSim::new(21, link, 0.0).unwrap();
        for _ in 0..4 {
            sim.add_node(NodeType::Server, 0);
        }
        let (sender, recipient) = (
            sim.add_node(NodeType::Client, 0),
            sim.add_node(NodeType::Client, 0),
        );
        sim.set_bootstrap(&[0, 1, 2]);
        for i in 0..sim.len() as u32 {
            sim.start(i).await.unwrap();
        }
        sim.advance(MINUTE).await;
        sim.send(sender, recipient).await.unwrap();
        assert!(sim.drain(HOUR).await);
        let mut ids = Vec::with_capacity(burst);
        for _ in 0..burst {
            ids.push(sim.send(sender, recipient).await.unwrap());
        }
        assert!(sim.drain(HOUR).await, "{:?}", sim.fates());
        let latency = ids
            .iter()
            .map(|id| {
                let fate = sim.fate(id).unwrap();
                fate.received_at.unwrap() - fate.sent_at
            })
            .max()
            .unwrap();
        sim.finish().await;
        latency
    })
    .unwrap()
}

#[test]
fn on_a_64_kbit_s_uplink_latency_grows_with_load() {
    let radio = Some(64_000);
    let one = burst_latency_ms(radio, 1);
    let many = burst_latency_ms(radio, 200);
    // 200 sealed texts are tens of kilobytes: seconds at 8 kB/s.
    assert!(many >= one + 3_000, "one {one} ms, 200 {many} ms");
    // Unlimited, the same burst arrives about as fast as one message.
    let unlimited = burst_latency_ms(None, 200);
    assert!(
        unlimited < one + 1_000,
        "one {one} ms, 200 unlimited {unlimited} ms"
    );
}

/// A bare simulated network of `n` nodes, none of them up.
fn bare_network(n: u8) -> (SimNet, Vec<NodeId>) {
    let net = SimNet::new(
        LinkModel::default(),
        0.0,
        SIM_REQUEST_TIMEOUT_MS,
        StdRng::seed_from_u64(5),
    );
    let mut rng = StdRng::seed_from_u64(6);
    let mut ids = Vec::new();
    for i in 0..u32::from(n) {
        let identity = Identity::generate(&mut rng);
        ids.push(identity.node_id());
        net.add(identity.identity_key(), address_of(i));
    }
    (net, ids)
}

/// Answers every call on `incoming` with its own body.
fn echo(mut incoming: Box<dyn Incoming>) {
    tokio::spawn(async move {
        while let Some(call) = incoming.next().await {
            let _ = call.reply.send(call.body).await;
        }
    });
}

/// Calls node `index` (`peer`) with a one-byte request: the outcome and
/// the virtual ms it took.
async fn timed_call(
    port: &Arc<dyn PeerNetwork>,
    peer: NodeId,
    index: u32,
) -> (Result<Vec<u8>, CallError>, u64) {
    let began = tokio::time::Instant::now();
    let result = port.call(peer, &[address_of(index)], vec![7]).await;
    (result, began.elapsed().as_millis() as u64)
}

#[test]
fn a_failed_dial_backs_off_fails_fast_meanwhile_and_redials_after() {
    block_on(async {
        let (net, ids) = bare_network(2);
        let (a, _a_in) = net.attach(0);
        // B is down: the dial gives up at the handshake timeout.
        let (result, took) = timed_call(&a, ids[1], 1).await;
        assert_eq!(took, HANDSHAKE_TIMEOUT_MS);
        match result {
            Err(CallError::Unreachable(why)) => assert!(why.contains("handshake"), "{why}"),
            other => panic!("{other:?}"),
        }
        // B comes up, but A backs off: its calls fail at once.
        let (_b, b_in) = net.attach(1);
        echo(b_in);
        let (result, took) = timed_call(&a, ids[1], 1).await;
        assert_eq!(took, 0);
        match result {
            Err(CallError::Unreachable(why)) => assert!(why.contains("retry in"), "{why}"),
            other => panic!("{other:?}"),
        }
        // After the backoff, the next call dials again and goes through.
        tokio::time::sleep(Duration::from_millis(DIAL_BACKOFF_BASE_MS)).await;
        let (result, _) = timed_call(&a, ids[1], 1).await;
        assert_eq!(result.unwrap(), vec![7]);
    })
    .unwrap();
}

#[test]
fn a_dial_into_a_partition_fails_at_the_handshake_timeout_and_backs_off() {
    block_on(async {
        let (net, ids) = bare_network(2);
        let (a, _a_in) = net.attach(0);
        let (_b, b_in) = net.attach(1);
        echo(b_in);
        net.partition(vec![0, 1]);
        let (result, took) = timed_call(&a, ids[1], 1).await;
        assert_eq!(took, HANDSHAKE_TIMEOUT_MS, "{result:?}");
        assert!(
            matches!(result, Err(CallError::Unreachable(_))),
            "{result:?}"
        );
        net.heal();
        let (result, took) = timed_call(&a, ids[1], 1).await;
        assert_eq!(took, 0);
        assert!(
            matches!(result, Err(CallError::Unreachable(_))),
            "{result:?}"
        );
        // A restarted process has forgotten the backoff.
        let (a, _a_in) = net.attach(0);
        let (result, _) = timed_call(&a, ids[1], 1).await;
        assert_eq!(result.unwrap(), vec![7]);
    })
    .unwrap();
}

#[test]
fn an_idle_connection_sends_keep_alives_until_its_peer_is_gone() {
    block_on(async {
        let (net, ids) = bare_network(2);
        // Kept open however long it is unused.
        net.set_linger_ms(0);
        let (a, _a_in) = net.attach(0);
        let (_b, b_in) = net.attach(1);
        echo(b_in);
        let (result, _) = timed_call(&a, ids[1], 1).await;
        assert_eq!(result.unwrap(), vec![7]);
        assert_eq!(net.keepalive_bytes(), 0);
        let after_call = net.bytes_sent();
        // Ten idle minutes: one PING and its acknowledgement per interval
        // (plus the link's one-way latency, as the ends take turns).
        tokio::time::sleep(Duration::from_millis(10 * MINUTE)).await;
        let period = KEEPALIVE_INTERVAL_MS + LinkModel::default().base_latency(0, 1);
        let exchanges = (10 * MINUTE) / period;
        let expected = exchanges * (KEEPALIVE_PING_BYTES + ACK_BYTES);
        // The call's start, not its end, starts the idle time: at most one
        // exchange early.
        let counted = net.keepalive_bytes();
        assert!(
            counted == expected || counted == expected + KEEPALIVE_PING_BYTES + ACK_BYTES,
            "{counted} of {expected}"
        );
        assert_eq!(net.bytes_sent() - after_call, counted);
        // B killed: its connection carries nothing more.
        net.detach(1);
        tokio::time::sleep(Duration::from_millis(10 * MINUTE)).await;
        assert_eq!(net.keepalive_bytes(), counted);
    })
    .unwrap();
}

#[test]
fn an_unused_connection_closes_after_the_linger_time_and_the_next_call_dials() {
    block_on(async {
        let (net, ids) = bare_network(2);
        let (a, _a_in) = net.attach(0);
        let (_b, b_in) = net.attach(1);
        echo(b_in);
        let (result, _) = timed_call(&a, ids[1], 1).await;
        assert_eq!(result.unwrap(), vec![7]);
        assert_eq!(net.handshakes(), 1);
        // Ten unused minutes: keep-alives only until the linger time.
        tokio::time::sleep(Duration::from_millis(10 * MINUTE)).await;
        let period = KEEPALIVE_INTERVAL_MS + LinkModel::default().base_latency(0, 1);
        let most = (LINGER_MS / period + 1) * (KEEPALIVE_PING_BYTES + ACK_BYTES);
        let counted = net.keepalive_bytes();
        assert!(
            counted > 0 && counted <= most,
            "{counted} of at most {most}"
        );
        // The next call dials again: a second handshake.
        let before = net.bytes_sent();
        let (result, _) = timed_call(&a, ids[1], 1).await;
        assert_eq!(result.unwrap(), vec![7]);
        assert_eq!(net.handshakes(), 2);
        assert!(net.bytes_sent() - before >= HANDSHAKE_DIALLER_BYTES + HANDSHAKE_ANSWERER_BYTES);
        assert_eq!(net.keepalive_bytes(), counted, "none while it was closed");
    })
    .unwrap();
}

#[test]
fn idle_traffic_counts_the_keep_alives_of_open_connections() {
    let report = run_node_scenario(&NodeScenario {
        nodes: 12,
        servers: 1.0,
        messages: 0,
        hours: 0.0,
        drain_hours: 0.0,
        seed: 22,
        ..NodeScenario::default()
    })
    .unwrap();
    assert!(report.keepalive_bytes_per_node_per_s > 0.0, "{report:?}");
    assert!(
        report.idle_bytes_per_node_per_s > report.keepalive_bytes_per_node_per_s,
        "{report:?}"
    );
}

/// Bytes an idle node may send per second on the radio profile (issue:
/// at most 50 B/s in a 50-node radio network).
const RADIO_IDLE_BUDGET: f64 = 50.0;

#[test]
fn an_idle_radio_network_stays_within_its_byte_budget() {
    let idle = |profile_schedule: bool| {
        let mut s = NodeScenario {
            nodes: 50,
            servers: 1.0,
            messages: 0,
            hours: 0.0,
            drain_hours: 0.0,
            seed: 1,
            idle_window_ms: HOUR,
            ..NodeScenario::default()
        };
        Profile::Radio.apply(&mut s);
        if !profile_schedule {
            // The radio link with the LAN schedule.
            s.profile = Profile::Lan;
        }
        run_node_scenario(&s).unwrap().idle_bytes_per_node_per_s
    };
    let radio = idle(true);
    assert!(
        radio <= RADIO_IDLE_BUDGET,
        "{radio:.1} B/node/s over the budget of {RADIO_IDLE_BUDGET}"
    );
    // The LAN schedule on the same link is well over it.
    let lan = idle(false);
    assert!(lan > 2.0 * RADIO_IDLE_BUDGET, "{lan:.1} B/node/s");
}
