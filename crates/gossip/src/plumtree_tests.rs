#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use tacnode_domain::UnixMillis;
use tacnode_domain::gossip::{
    Announced, GossipId, GossipMessage, MAX_GOSSIP_IDS, MAX_GOSSIP_PAYLOAD, MAX_GOSSIP_ROUND,
    Topic, gossip_id,
};

use super::{GossipEvent, Plumtree};
use crate::{GossipError, PlumtreeConfig};

const TOPIC: Topic = Topic([7; 8]);
const LATENCY_MS: u64 = 20;

fn payload(n: u32) -> Vec<u8> {
    n.to_be_bytes().repeat(25)
}

fn id(n: u32) -> GossipId {
    gossip_id(&payload(n))
}

fn push(n: u32) -> GossipMessage {
    GossipMessage::Push {
        topic: TOPIC,
        round: 0,
        payload: payload(n),
    }
}

/// Trees on a graph with a fixed latency; links can be cut both ways.
struct Mesh {
    now: UnixMillis,
    trees: Vec<Plumtree<usize>>,
    links: BTreeSet<(usize, usize)>,
    in_flight: VecDeque<(UnixMillis, usize, usize, GossipMessage)>,
    delivered: Vec<BTreeMap<GossipId, usize>>,
    pushes: usize,
    announcements: usize,
}

impl Mesh {
    fn new(n: usize, edges: &[(usize, usize)]) -> Self {
        let mut mesh = Self {
            now: UnixMillis(1_000),
            trees: (0..n)
                .map(|i| {
                    Plumtree::new(TOPIC, PlumtreeConfig::default()).with_salt(&i.to_be_bytes())
                })
                .collect(),
            links: BTreeSet::new(),
            in_flight: VecDeque::new(),
            delivered: vec![BTreeMap::new(); n],
            pushes: 0,
            announcements: 0,
        };
        for &(a, b) in edges {
            mesh.link(a, b);
        }
        mesh
    }

    fn link(&mut self, a: usize, b: usize) {
        if a == b || !self.links.insert((a.min(b), a.max(b))) {
            return;
        }
        let now = self.now;
        self.trees[a].neighbour_up(now, b);
        self.trees[b].neighbour_up(now, a);
    }

    fn cut(&mut self, a: usize, b: usize) {
        self.links.remove(&(a.min(b), a.max(b)));
        self.trees[a].neighbour_down(&b);
        self.trees[b].neighbour_down(&a);
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        self.links.contains(&(a.min(b), a.max(b)))
    }

    fn broadcast(&mut self, origin: usize, n: u32) {
        let now = self.now;
        self.trees[origin].broadcast(now, payload(n)).unwrap();
        *self.delivered[origin].entry(id(n)).or_default() += 1;
    }

    fn collect(&mut self) {
        for from in 0..self.trees.len() {
            while let Some((to, message)) = self.trees[from].poll_transmit() {
                match &message {
                    GossipMessage::Push { .. } => self.pushes += 1,
                    GossipMessage::IHave { .. } => self.announcements += 1,
                    _ => {}
                }
                if self.linked(from, to) {
                    let at = self.now.saturating_add_millis(LATENCY_MS);
                    self.in_flight.push_back((at, from, to, message));
                }
            }
            while let Some(GossipEvent::Delivered { id, .. }) = self.trees[from].poll_event() {
                *self.delivered[from].entry(id).or_default() += 1;
            }
        }
    }

    /// Runs until nothing is in flight and no timer is pending (or `limit`).
    fn run(&mut self, limit_ms: u64) {
        let end = self.now.saturating_add_millis(limit_ms);
        loop {
            self.collect();
            let next_message = self.in_flight.front().map(|m| m.0);
            let next_timer = self.trees.iter().filter_map(|t| t.poll_timeout()).min();
            let next = match (next_message, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => return,
            };
            if next > end {
                return;
            }
            self.now = self.now.max(next);
            while self.in_flight.front().is_some_and(|m| m.0 <= self.now) {
                let (_, from, to, message) = self.in_flight.pop_front().unwrap();
                if self.linked(from, to) {
                    let now = self.now;
                    self.trees[to].handle_message(now, from, message).unwrap();
                }
            }
            for tree in &mut self.trees {
                tree.handle_timeout(self.now);
            }
        }
    }

    fn everyone_has_exactly_once(&self, ids: &[u32]) -> bool {
        self.delivered.iter().all(|seen| {
            ids.iter().all(|n| seen.get(&id(*n)) == Some(&1)) && seen.len() == ids.len()
        })
    }
}

fn ring_with_chords(n: usize) -> Vec<(usize, usize)> {
    let mut edges: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
    edges.extend((0..n).map(|i| (i, (i + n / 3) % n)));
    edges
}

#[test]
fn a_broadcast_reaches_every_member_exactly_once() {
    let mut mesh = Mesh::new(20, &ring_with_chords(20));
    mesh.broadcast(0, 1);
    mesh.run(60_000);
    assert!(mesh.everyone_has_exactly_once(&[1]));
}

#[test]
fn once_the_tree_settles_each_payload_crosses_each_member_once() {
    let n = 30;
    let mut mesh = Mesh::new(n, &ring_with_chords(n));
    for k in 0..5 {
        mesh.broadcast((k * 7) % n, k as u32);
        mesh.run(60_000);
    }
    let before = mesh.pushes;
    mesh.broadcast(3, 100);
    mesh.run(60_000);
    assert_eq!(mesh.pushes - before, n - 1, "one push per tree edge");
    assert!(mesh.everyone_has_exactly_once(&[0, 1, 2, 3, 4, 100]));
}

#[test]
fn a_cut_tree_edge_is_repaired_from_announcements() {
    let n = 20;
    let mut mesh = Mesh::new(n, &ring_with_chords(n));
    mesh.broadcast(0, 1);
    mesh.run(60_000);
    // Cut every eager link of node 5: it must be reached over a lazy one.
    let eager: Vec<usize> = mesh.trees[5].eager_peers().copied().collect();
    for peer in eager {
        mesh.cut(5, peer);
    }
    mesh.broadcast(0, 2);
    mesh.run(60_000);
    assert!(mesh.everyone_has_exactly_once(&[1, 2]));
}

#[test]
fn after_a_partition_heals_each_half_gets_what_the_other_said() {
    let n = 12;
    let edges = ring_with_chords(n);
    let mut mesh = Mesh::new(n, &edges);
    // Partition: nodes < 6 and ≥ 6 lose every link between them.
    let crossing: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|&(a, b)| (a < 6) != (b < 6))
        .collect();
    for &(a, b) in &crossing {
        mesh.cut(a, b);
    }
    mesh.broadcast(1, 1);
    mesh.broadcast(8, 2);
    mesh.run(60_000);
    assert!(!mesh.everyone_has_exactly_once(&[1, 2]));
    for &(a, b) in &crossing {
        mesh.link(a, b);
    }
    mesh.run(60_000);
    assert!(mesh.everyone_has_exactly_once(&[1, 2]));
}

#[test]
fn announcements_are_batched_per_neighbour() {
    let n = 10;
    let mut mesh = Mesh::new(n, &ring_with_chords(n));
    mesh.broadcast(0, 0);
    mesh.run(60_000);
    let before = mesh.announcements;
    for k in 1..=20 {
        mesh.broadcast(0, k);
    }
    mesh.run(60_000);
    let lazy_links: usize = mesh.trees.iter().map(|t| t.lazy_peers().count()).sum();
    // Twenty broadcasts cost each lazy link about one announcement, not twenty.
    assert!(mesh.announcements - before <= lazy_links * 2);
    assert!(mesh.everyone_has_exactly_once(&(0..=20).collect::<Vec<_>>()));
}

/// Two members that both hold a broadcast and would announce it to each
/// other: the one whose announcement arrives first spares the other its
/// own.
#[test]
fn a_neighbour_that_announced_a_broadcast_is_not_told_of_it() {
    let config = PlumtreeConfig::default();
    let mut a: Plumtree<usize> = Plumtree::new(TOPIC, config.clone());
    let now = UnixMillis(1_000);
    a.neighbour_up(now, 1);
    a.neighbour_up(now, 2);
    // 2 is lazy (it pushed a copy we had), 1 eager.
    a.handle_message(now, 1, push(0)).unwrap();
    a.handle_message(now, 2, push(0)).unwrap();
    while a.poll_transmit().is_some() {}
    // A new broadcast from 1: an announcement to 2 is queued...
    a.handle_message(now, 1, push(1)).unwrap();
    while a.poll_transmit().is_some() {}
    // ...until 2 announces it first.
    a.handle_message(
        now,
        2,
        GossipMessage::IHave {
            topic: TOPIC,
            ids: vec![Announced {
                id: id(1),
                round: 1,
            }],
        },
    )
    .unwrap();
    a.handle_timeout(now.saturating_add_millis(config.lazy_flush_ms));
    let mut sent = Vec::new();
    while let Some(t) = a.poll_transmit() {
        sent.push(t);
    }
    assert!(
        !sent
            .iter()
            .any(|(to, m)| *to == 2 && matches!(m, GossipMessage::IHave { .. })),
        "{sent:?}"
    );
}

#[test]
fn malformed_messages_are_refused_without_effect() {
    let now = UnixMillis(1);
    let mut tree: Plumtree<usize> = Plumtree::new(TOPIC, PlumtreeConfig::default());
    let other = Topic([8; 8]);
    assert_eq!(
        tree.handle_message(now, 1, GossipMessage::Prune { topic: other }),
        Err(GossipError::WrongTopic {
            expected: TOPIC,
            got: other
        })
    );
    let too_many = vec![
        Announced {
            id: id(1),
            round: 0
        };
        MAX_GOSSIP_IDS + 1
    ];
    assert!(matches!(
        tree.handle_message(
            now,
            1,
            GossipMessage::IHave {
                topic: TOPIC,
                ids: too_many
            }
        ),
        Err(GossipError::TooManyIds { .. })
    ));
    let big = GossipMessage::Push {
        topic: TOPIC,
        round: 0,
        payload: vec![0; MAX_GOSSIP_PAYLOAD + 1],
    };
    assert!(matches!(
        tree.handle_message(now, 1, big),
        Err(GossipError::PayloadTooLarge { .. })
    ));
    let looping = GossipMessage::Push {
        topic: TOPIC,
        round: MAX_GOSSIP_ROUND + 1,
        payload: payload(1),
    };
    assert!(matches!(
        tree.handle_message(now, 1, looping),
        Err(GossipError::RoundTooLarge { .. })
    ));
    assert!(!tree.has(&id(1)));
    assert!(tree.poll_event().is_none());
    assert_eq!(tree.broadcast(now, payload(2)), Ok(id(2)));
    assert_eq!(
        tree.broadcast(now, payload(2)),
        Err(GossipError::AlreadyKnown)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// On any connected graph, with links cut and restored between
    /// broadcasts (the graph staying connected at the end), every node
    /// delivers every broadcast exactly once.
    #[test]
    fn every_broadcast_reaches_everyone_once(
        n in 3usize..16,
        extra in proptest::collection::vec((0usize..16, 0usize..16), 0..20),
        steps in proptest::collection::vec((0usize..16, proptest::option::of((0usize..16, 0usize..16))), 1..12),
    ) {
        let mut edges: Vec<(usize, usize)> = (1..n).map(|i| (i - 1, i)).collect();
        edges.extend(extra.iter().map(|&(a, b)| (a % n, b % n)).filter(|&(a, b)| a != b));
        let mut mesh = Mesh::new(n, &edges);
        let mut sent = Vec::new();
        for (k, (origin, cut)) in steps.iter().enumerate() {
            if let Some((a, b)) = cut {
                let (a, b) = (a % n, b % n);
                if a != b && mesh.linked(a, b) {
                    mesh.cut(a, b);
                }
            }
            mesh.broadcast(origin % n, k as u32);
            sent.push(k as u32);
            mesh.run(5_000);
        }
        // Heal: the path graph comes back, so everything must get everywhere.
        for i in 1..n {
            mesh.link(i - 1, i);
        }
        mesh.run(120_000);
        prop_assert!(mesh.everyone_has_exactly_once(&sent));
    }
}

#[test]
fn a_push_the_layer_above_refuses_is_neither_forwarded_nor_remembered() {
    let now = UnixMillis(1);
    let mut tree: Plumtree<usize> = Plumtree::new(TOPIC, PlumtreeConfig::default());
    tree.neighbour_up(now, 1);
    tree.neighbour_up(now, 2);
    while tree.poll_transmit().is_some() {}
    let push = |payload: Vec<u8>| GossipMessage::Push {
        topic: TOPIC,
        round: 0,
        payload,
    };
    tree.handle_message_checked(now, 1, push(vec![0xba]), |_, p| p != [0xba])
        .unwrap();
    assert!(!tree.has(&gossip_id(&[0xba])));
    assert!(tree.poll_transmit().is_none());
    assert!(tree.poll_event().is_none());
    tree.handle_message_checked(now, 2, push(vec![1]), |_, p| p != [0xba])
        .unwrap();
    assert!(tree.has(&gossip_id(&[1])));
    assert!(matches!(
        tree.poll_transmit(),
        Some((1, GossipMessage::Push { .. }))
    ));
}

#[test]
fn members_holding_the_same_exchange_summaries_only() {
    let mut mesh = Mesh::new(6, &[(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]);
    for k in 0..30 {
        mesh.broadcast(k as usize % 6, k);
    }
    mesh.run(60_000);
    let before = mesh.announcements;
    // A new link between two members that hold the same: no list sent.
    mesh.link(0, 5);
    mesh.run(60_000);
    assert_eq!(mesh.announcements, before);
    // A member that missed some, linking back: lists go both ways.
    mesh.cut(2, 3);
    mesh.broadcast(0, 100);
    mesh.broadcast(4, 101);
    mesh.run(60_000);
    let before = mesh.announcements;
    mesh.cut(0, 5);
    mesh.run(60_000);
    mesh.broadcast(0, 102);
    mesh.run(60_000);
    mesh.link(2, 3);
    mesh.run(60_000);
    assert!(mesh.announcements > before);
    assert!(mesh.everyone_has_exactly_once(&(0..30).chain(100..103).collect::<Vec<_>>()));
}
