//! The simulated network behaves as the QUIC adapter would where it
//! matters to the node: uplink bandwidth, dial backoff, keep-alives.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacnode_domain::NodeType;
use tacnode_sim::LinkModel;
use tacnode_sim::node::harness::{NodeSim, block_on};

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
