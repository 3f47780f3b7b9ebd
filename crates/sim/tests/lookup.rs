//! Small simulations that run in the normal test suite.

// Test helpers outside `#[test]` functions may unwrap.
#![allow(clippy::unwrap_used)]

use tacnode_dht::DhtConfig;
use tacnode_domain::{NodeId, NodeType, UnixMillis};
use tacnode_sim::{LinkModel, LookupScenario, Network, run_lookup_scenario};

#[test]
fn two_hundred_nodes_with_clients_find_every_target() {
    let s = LookupScenario {
        nodes: 200,
        lookups: 100,
        seed: 7,
        clients: 0.2,
        ..LookupScenario::default()
    };
    let r = run_lookup_scenario(&s);
    assert_eq!(r.dht.lookups, 100, "seed {}", s.seed);
    assert_eq!(
        r.dht.successes, r.dht.lookups,
        "seed {}: {:?}",
        s.seed, r.dht
    );
    assert_eq!(r.oracle.successes, r.oracle.lookups, "seed {}", s.seed);
}

#[test]
fn same_seed_replays_the_same_run() {
    let s = LookupScenario {
        nodes: 60,
        lookups: 20,
        seed: 3,
        crash: 0.1,
        loss: 0.01,
        ..LookupScenario::default()
    };
    let a = run_lookup_scenario(&s).json();
    let b = run_lookup_scenario(&s).json();
    assert_eq!(a, b, "seed {}", s.seed);
}

fn id(i: u32) -> NodeId {
    let mut b = [0u8; 32];
    // Spread ids over the key space.
    for (j, x) in b.iter_mut().enumerate() {
        *x = (i.wrapping_mul(2_654_435_761).rotate_left(j as u32 % 32) >> (j % 4 * 8)) as u8;
    }
    b[31] = i as u8;
    b[30] = (i >> 8) as u8;
    NodeId::from_bytes(b)
}

/// Joins `n` servers one by one through node 0 and lets them settle.
fn joined(n: u32, seed: u64) -> Network {
    let mut net = Network::new(seed, LinkModel::default());
    let config = DhtConfig::new(NodeType::Server);
    for i in 0..n {
        net.add_node(id(i), &config).unwrap();
    }
    for i in 0..n {
        let t = net.now().0 + 50;
        net.run_until(UnixMillis(t));
        let peers: Vec<u32> = if i == 0 { vec![] } else { vec![0] };
        net.bootstrap(i, &peers);
    }
    let t = net.now().0 + 20_000;
    net.run_until(UnixMillis(t));
    net.take_finished();
    net
}

fn find(net: &mut Network, from: u32, target: u32) -> bool {
    let lookup = net.start_lookup(from, id(target)).unwrap();
    loop {
        let done: Vec<_> = net
            .take_finished()
            .into_iter()
            .filter(|f| f.node == from && f.id == lookup)
            .collect();
        if let Some(f) = done.first() {
            return f.result.closest.iter().any(|c| c.node_id == id(target));
        }
        assert!(net.step(), "lookup never finished");
    }
}

#[test]
fn partition_hides_the_other_side_until_healed() {
    let mut net = joined(40, 11);
    // Node 5 alone on one side.
    let mut groups = vec![0u8; 40];
    groups[5] = 1;
    net.link.partition(groups);
    assert!(!find(&mut net, 1, 5));
    net.link.heal();
    // Its failures may have dropped node 5 from some tables; it is still
    // known to others and answers again.
    assert!(find(&mut net, 2, 5));
}

#[test]
fn crashed_node_is_not_found_and_rejoins_after_restart() {
    let mut net = joined(40, 12);
    net.crash(9);
    assert!(!find(&mut net, 3, 9));
    net.restart(9, &DhtConfig::new(NodeType::Server));
    net.bootstrap(9, &[0]);
    let t = net.now().0 + 20_000;
    net.run_until(UnixMillis(t));
    assert!(find(&mut net, 3, 9));
    assert!(find(&mut net, 9, 20));
}

/// Join-time Sybil attackers (20 % of the servers, answering lookups with
/// each other only from their first join) cost an open network lookups; in
/// a closed network they are outsiders whose handshakes every member
/// refuses, and every lookup finds its target.
#[test]
fn a_closed_network_shuts_out_join_time_sybil_attackers() {
    let open = LookupScenario {
        nodes: 1_500,
        lookups: 200,
        seed: 3,
        k: 8,
        disjoint: 3,
        malicious: 0.2,
        malicious_from_join: true,
        ..LookupScenario::default()
    };
    let r = run_lookup_scenario(&open);
    assert!(
        r.dht.success_rate() < 0.97,
        "the attack no longer bites: {:?}",
        r.dht
    );
    let closed = LookupScenario {
        admission: true,
        ..open
    };
    let r = run_lookup_scenario(&closed);
    assert!(r.refused_handshakes > 0);
    assert!(r.dht.success_rate() >= 0.999, "{:?}", r.dht);
}
