//! Announcements over the network-wide overlay: 100 nodes, each linked to
//! 3 random others; services reach everyone once, a flooding author gets
//! its hourly share across and no more.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tacnode_crypto::Identity;
use tacnode_domain::gossip::GossipMessage;
use tacnode_domain::{AnnouncementKind, NodeId, UnixMillis, UnsignedAnnouncement};
use tacnode_gossip::PlumtreeConfig;
use tacnode_messaging::{Message, encode_announcement};
use tacnode_usecase::announcements::{
    AnnouncementBoard, AnnouncementOutput, MAX_ANNOUNCEMENTS_PER_HOUR,
};

const T0: UnixMillis = UnixMillis(1_700_000_000_000);
const NODES: usize = 100;

struct Net {
    now: UnixMillis,
    ids: Vec<Identity>,
    index: BTreeMap<NodeId, usize>,
    boards: Vec<AnnouncementBoard>,
    in_flight: VecDeque<(UnixMillis, usize, usize, GossipMessage)>,
    heard: Vec<usize>,
    bytes: u64,
}

impl Net {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let ids: Vec<Identity> = (0..NODES).map(|_| Identity::generate(&mut rng)).collect();
        let boards = ids
            .iter()
            .map(|i| AnnouncementBoard::new(i, T0, PlumtreeConfig::default()))
            .collect();
        let mut net = Self {
            now: T0,
            index: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.node_id(), i))
                .collect(),
            ids,
            boards,
            in_flight: VecDeque::new(),
            heard: vec![0; NODES],
            bytes: 0,
        };
        let mut links = BTreeSet::new();
        for a in 0..NODES {
            links.insert((a, (a + 1) % NODES));
            for _ in 0..2 {
                let b = rng.random_range(0..NODES);
                if a != b {
                    links.insert((a.min(b), a.max(b)));
                }
            }
        }
        for (a, b) in links {
            let (ia, ib) = (net.ids[a].node_id(), net.ids[b].node_id());
            net.boards[a].neighbour_up(T0, ib);
            net.boards[b].neighbour_up(T0, ia);
        }
        net
    }

    fn collect(&mut self) {
        for i in 0..NODES {
            while let Some(out) = self.boards[i].poll_output() {
                match out {
                    AnnouncementOutput::Gossip { to, message } => {
                        self.bytes += Message::Gossip(message.clone()).encode().len() as u64 + 4;
                        let to = self.index[&to];
                        let at = self.now.saturating_add_millis(50);
                        self.in_flight.push_back((at, i, to, message));
                    }
                    AnnouncementOutput::Heard(_) => self.heard[i] += 1,
                }
            }
        }
    }

    fn run(&mut self) {
        loop {
            self.collect();
            let next_message = self.in_flight.front().map(|m| m.0);
            let next_timer = self.boards.iter().filter_map(|b| b.poll_timeout()).min();
            let next = match (next_message, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => return,
            };
            self.now = self.now.max(next);
            while self.in_flight.front().is_some_and(|m| m.0 <= self.now) {
                let (_, from, to, message) = self.in_flight.pop_front().unwrap();
                let from = self.ids[from].node_id();
                let now = self.now;
                // Refusals are the point of one test; they change nothing.
                let _ = self.boards[to].handle_gossip(now, from, message);
            }
            for board in &mut self.boards {
                board.handle_timeout(self.now);
            }
        }
    }
}

#[test]
fn services_reach_every_node_once() {
    let mut net = Net::new(1);
    // A first announcement carves the tree out of the links (every link
    // starts eager); the figures are for the settled tree.
    let now = net.now;
    let first = &net.ids[50];
    net.boards[50]
        .announce(
            now,
            first,
            AnnouncementKind::Alert {
                text: "net up".into(),
            },
        )
        .unwrap();
    net.run();
    net.bytes = 0;
    net.heard = vec![0; NODES];
    for (n, author) in [3usize, 40, 77].into_iter().enumerate() {
        let now = net.now;
        let identity = &net.ids[author];
        net.boards[author]
            .announce(
                now,
                identity,
                AnnouncementKind::Service {
                    name: format!("service {n}"),
                    detail: "grid 4417".into(),
                    until: now.saturating_add_millis(3_600_000),
                },
            )
            .unwrap();
    }
    net.run();
    for (i, board) in net.boards.iter().enumerate() {
        assert_eq!(board.services(net.now).len(), 3, "node {i}");
    }
    let authors = [3usize, 40, 77];
    for (i, heard) in net.heard.iter().enumerate() {
        let expected = if authors.contains(&i) { 2 } else { 3 };
        assert_eq!(*heard, expected, "node {i}");
    }
    // Bytes per announcement per node: pushes along the tree plus lazy ids.
    let per = net.bytes as f64 / 3.0 / NODES as f64;
    assert!(per < 400.0, "{per} bytes per announcement per node");
    println!("announcement: {per:.0} bytes per node (frames, no datagram overhead)");
}

#[test]
fn a_flooding_author_reaches_the_network_with_its_share_only() {
    let mut net = Net::new(2);
    let flooder = 10;
    // A modified node that skips its own limit: it pushes twenty signed
    // alerts straight to its neighbours.
    let identity = &net.ids[flooder];
    let mut pushes = Vec::new();
    for n in 1..=20u64 {
        let body = UnsignedAnnouncement {
            author: identity.identity_key(),
            sequence: n,
            time: T0,
            kind: AnnouncementKind::Alert {
                text: format!("flood {n}"),
            },
        };
        let signature = identity.sign(&body.signing_bytes());
        pushes.push(GossipMessage::Push {
            topic: tacnode_domain::ANNOUNCEMENT_TOPIC,
            round: 0,
            payload: encode_announcement(&body.with_signature(signature)),
        });
    }
    let neighbours: Vec<usize> = (0..NODES)
        .filter(|&i| i != flooder && (i == 9 || i == 11))
        .collect();
    for push in pushes {
        for &to in &neighbours {
            net.in_flight.push_back((T0, flooder, to, push.clone()));
        }
    }
    net.run();
    for (i, heard) in net.heard.iter().enumerate() {
        if i != flooder {
            assert_eq!(*heard, MAX_ANNOUNCEMENTS_PER_HOUR, "node {i}");
        }
    }
}
