//! Observed addresses and reachability in the whole-node simulator: a node
//! behind a NAT learns the address its NAT maps it to from the peers it
//! talks to, publishes it next to its local endpoint, and a server's
//! dial-back finds it cannot be reached from outside; a public node is
//! found reachable and publishes nothing more than its own endpoint.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tacnode_domain::{Endpoint, NodeType, PeerRecord, Reachability};
use tacnode_sim::LinkModel;
use tacnode_sim::node::harness::{NodeSim, address_of, block_on, mapped_address_of};

/// Three public servers (0 to 2, joined through 0) and two clients: 3
/// behind a NAT, 4 public. Returns the records server 1 finds for both
/// clients once they have settled.
async fn network(seed: u64) -> (NodeSim, PeerRecord, PeerRecord) {
    let mut sim = NodeSim::new(seed, LinkModel::default(), 0.0).unwrap();
    for _ in 0..3 {
        sim.add_node(NodeType::Server, 0);
    }
    let natted = sim.add_node(NodeType::Client, 0);
    let public = sim.add_node(NodeType::Client, 0);
    sim.set_bootstrap(&[0]);
    sim.put_behind_nat(natted);
    for i in 0..3 {
        sim.start(i).await.unwrap();
        sim.advance(1_000).await;
    }
    sim.start(natted).await.unwrap();
    sim.start(public).await.unwrap();
    // Joining, a dial-back that times out (5 s), republishing.
    sim.advance(30_000).await;
    let lookup = |i: u32| {
        let h = sim.handle(1).unwrap().clone();
        let id = sim.node_id(i).unwrap();
        async move { h.lookup_peer(id).await.unwrap().expect("record found") }
    };
    let natted_record = lookup(natted).await;
    let public_record = lookup(public).await;
    (sim, natted_record, public_record)
}

#[test]
fn a_node_behind_a_nat_learns_its_mapped_address_and_is_published_unreachable() {
    block_on(async {
        let (sim, record, _) = network(1).await;
        assert_eq!(
            record.body.endpoints,
            vec![Endpoint(address_of(3)), Endpoint(mapped_address_of(3))],
            "the local endpoint, then the mapped address the servers saw"
        );
        assert_eq!(record.body.reachability, Some(Reachability::Private));
        record.verify().unwrap();
        // The operator sees the same in `status`.
        let status = sim.status(3).await.unwrap();
        assert_eq!(status.observed_address, Some(mapped_address_of(3)));
        assert_eq!(status.reachability, Some(Reachability::Private));
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn a_public_node_is_found_reachable() {
    block_on(async {
        let (sim, _, record) = network(2).await;
        assert_eq!(record.body.endpoints, vec![Endpoint(address_of(4))]);
        assert_eq!(record.body.reachability, Some(Reachability::Public));
        record.verify().unwrap();
        // Servers that joined through another are found reachable too.
        let server = sim
            .handle(1)
            .unwrap()
            .lookup_peer(sim.node_id(2).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(server.body.reachability, Some(Reachability::Public));
        sim.finish().await;
    })
    .unwrap();
}

#[test]
fn a_new_nat_mapping_is_learnt_and_republished() {
    block_on(async {
        let (sim, record, _) = network(3).await;
        assert!(
            record
                .body
                .endpoints
                .contains(&Endpoint(mapped_address_of(3)))
        );
        let moved = std::net::SocketAddr::from(([198, 51, 200, 3], 41_234));
        sim.net().set_behind_nat(3, Some(moved));
        // The client's next lookups (bucket refreshes, republishing) hear
        // the new mapping from the servers.
        let mut republished = None;
        for _ in 0..120 {
            sim.advance(60_000).await;
            let r = sim
                .handle(1)
                .unwrap()
                .lookup_peer(sim.node_id(3).unwrap())
                .await
                .unwrap()
                .unwrap();
            if r.body.endpoints.contains(&Endpoint(moved)) {
                republished = Some((sim.elapsed_ms(), r));
                break;
            }
        }
        let (at, r) = republished.expect("the new mapping is published within 2 h");
        println!("new mapping published after {} s", at / 1000);
        assert_eq!(
            r.body.endpoints,
            vec![Endpoint(address_of(3)), Endpoint(moved)]
        );
        assert_eq!(r.body.reachability, Some(Reachability::Private));
        sim.finish().await;
    })
    .unwrap();
}
