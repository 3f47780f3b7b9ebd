#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_crypto::group::SenderChain;
use tacnode_domain::gossip::{GossipId, GossipMessage, gossip_id};
use tacnode_domain::group::{MembershipError, Role};
use tacnode_domain::{Content, IdentityKey, MessageId, NodeId, Plaintext, UnixMillis};
use tacnode_gossip::PlumtreeConfig;
use tacnode_messaging::{encode_group_broadcast, encode_plaintext};

use super::{GroupChannel, GroupOutput};
use crate::group::GroupError;

const T0: UnixMillis = UnixMillis(1_700_000_000_000);

fn text(s: &str, n: u8) -> Plaintext {
    Plaintext {
        message_id: MessageId([n; 16]),
        sent: T0,
        content: Content::Text(s.into()),
    }
}

/// Members linked all to all; everything they output is carried at once.
struct Group {
    rng: StdRng,
    identities: Vec<Identity>,
    channels: Vec<GroupChannel>,
    /// Pairwise sender keys not yet handed over, per recipient index.
    hold_keys_for: Option<usize>,
    held: Vec<(usize, usize, tacnode_crypto::group::SenderKeyDistribution)>,
    delivered: Vec<Vec<(IdentityKey, String)>>,
    now: UnixMillis,
    /// Every push payload seen.
    pushes: Vec<(GossipId, Vec<u8>)>,
}

impl Group {
    fn new(n: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(7);
        let identities: Vec<Identity> = (0..n).map(|_| Identity::generate(&mut rng)).collect();
        let mut creator = GroupChannel::create(
            &mut rng,
            &identities[0],
            "squad",
            T0,
            PlumtreeConfig::default(),
        )
        .unwrap();
        for id in &identities[1..] {
            creator
                .add(T0, &identities[0], id.identity_key(), Role::Member)
                .unwrap();
        }
        let ops = creator.ops();
        let mut channels = vec![creator];
        for id in &identities[1..] {
            channels.push(
                GroupChannel::join(&mut rng, id, ops.clone(), T0, PlumtreeConfig::default())
                    .unwrap(),
            );
        }
        let mut group = Self {
            rng,
            identities,
            channels,
            hold_keys_for: None,
            held: Vec::new(),
            delivered: vec![Vec::new(); n],
            now: T0,
            pushes: Vec::new(),
        };
        for a in 0..n {
            for b in (a + 1)..n {
                let (ia, ib) = (group.node(a), group.node(b));
                group.channels[a].neighbour_up(T0, ib).unwrap();
                group.channels[b].neighbour_up(T0, ia).unwrap();
            }
        }
        group.settle();
        group
    }

    /// A group of `n` where the creator removed member `removed` and member
    /// 1 then wrote "rotated" with its new chain, whose key member `behind`
    /// has not got (it is in `held`).
    fn rotated_behind(n: usize, behind: usize, removed: usize) -> Self {
        let mut g = Self::new(n);
        g.hold_keys_for = Some(behind);
        let key = g.identities[removed].identity_key();
        g.channels[0].remove(T0, &g.identities[0], key).unwrap();
        g.settle();
        g.send(1, "rotated", 1).unwrap();
        g
    }

    fn node(&self, i: usize) -> NodeId {
        self.identities[i].node_id()
    }

    fn index_of_node(&self, id: &NodeId) -> usize {
        self.identities
            .iter()
            .position(|i| i.node_id() == *id)
            .unwrap()
    }

    fn index_of_key(&self, key: &IdentityKey) -> Option<usize> {
        self.identities
            .iter()
            .position(|i| i.identity_key() == *key)
    }

    /// Carries every output until nothing moves.
    fn settle(&mut self) {
        let mut queue: VecDeque<(usize, usize, GossipMessage)> = VecDeque::new();
        loop {
            let mut moved = false;
            for i in 0..self.channels.len() {
                while let Some(out) = self.channels[i].poll_output() {
                    moved = true;
                    match out {
                        GroupOutput::Gossip { to, message } => {
                            if let GossipMessage::Push { payload, .. } = &message {
                                self.pushes.push((gossip_id(payload), payload.clone()));
                            }
                            let to = self.index_of_node(&to);
                            queue.push_back((i, to, message));
                        }
                        GroupOutput::Distribute {
                            to, distribution, ..
                        } => {
                            // A member outside this harness (a newcomer).
                            let Some(to) = self.index_of_key(&to) else {
                                continue;
                            };
                            if self.hold_keys_for == Some(to) {
                                self.held.push((i, to, *distribution));
                            } else {
                                let from = self.identities[i].identity_key();
                                let _ = self.channels[to].handle_distribution(from, *distribution);
                            }
                        }
                        GroupOutput::Delivered(d) => {
                            let Content::Text(t) = d.plaintext.content else {
                                panic!("a text")
                            };
                            self.delivered[i].push((d.sender, t));
                        }
                        GroupOutput::ViewChanged { .. } => {
                            self.channels[i].rotate_if_due(&mut self.rng, self.now);
                        }
                        GroupOutput::Invite { .. } => {}
                    }
                }
            }
            while let Some((from, to, message)) = queue.pop_front() {
                moved = true;
                let from = self.node(from);
                let now = self.now;
                let _ = self.channels[to].handle_gossip(now, from, message);
            }
            if !moved {
                // Run the overlay's timers (lazy announcements, grafts).
                let Some(next) = self.channels.iter().filter_map(|c| c.poll_timeout()).min() else {
                    return;
                };
                self.now = self.now.max(next);
                for c in &mut self.channels {
                    c.handle_timeout(self.now);
                }
            }
        }
    }

    fn send(&mut self, from: usize, s: &str, n: u8) -> Result<GossipId, GroupError> {
        let now = self.now;
        let id = self.channels[from].send(&mut self.rng, now, &text(s, n))?;
        self.settle();
        Ok(id)
    }

    fn texts(&self, member: usize) -> Vec<&str> {
        self.delivered[member]
            .iter()
            .map(|(_, t)| t.as_str())
            .collect()
    }
}

#[test]
fn every_member_reads_each_message_once_and_knows_who_wrote_it() {
    let mut g = Group::new(5);
    g.send(2, "contact north", 1).unwrap();
    g.send(0, "hold", 2).unwrap();
    for member in 0..5 {
        let expect: Vec<&str> = match member {
            2 => vec!["hold"],
            0 => vec!["contact north"],
            _ => vec!["contact north", "hold"],
        };
        assert_eq!(g.texts(member), expect, "member {member}");
    }
    assert_eq!(g.delivered[1][0].0, g.identities[2].identity_key());
    let views: Vec<[u8; 32]> = g.channels.iter().map(GroupChannel::view_hash).collect();
    assert!(views.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_removed_member_cannot_read_what_follows_its_removal() {
    let mut g = Group::new(5);
    g.send(3, "before", 1).unwrap();
    let removed = g.identities[4].identity_key();
    g.channels[0].remove(T0, &g.identities[0], removed).unwrap();
    g.settle();
    assert!(!g.channels[4].is_member());
    let seen = g.pushes.len();
    g.send(3, "after", 2).unwrap();
    g.send(0, "after too", 3).unwrap();
    // The removed member kept every key it had: hand it every push.
    let pushes: Vec<Vec<u8>> = g.pushes[seen..].iter().map(|(_, p)| p.clone()).collect();
    for p in pushes {
        let _ = g.channels[4].receive_broadcast(&p);
    }
    g.settle();
    assert_eq!(g.texts(4), vec!["before"]);
    assert_eq!(g.texts(1), vec!["before", "after", "after too"]);
    assert!(matches!(
        g.send(4, "still here?", 4),
        Err(GroupError::Removed)
    ));
}

#[test]
fn a_message_ahead_of_its_key_waits_for_the_key() {
    let mut g = Group::rotated_behind(4, 3, 2);
    assert!(g.texts(3).is_empty());
    assert_eq!(g.texts(0), vec!["rotated"]);
    for (from, to, distribution) in std::mem::take(&mut g.held) {
        let key = g.identities[from].identity_key();
        g.channels[to]
            .handle_distribution(key, distribution)
            .unwrap();
    }
    g.settle();
    assert_eq!(g.texts(3), vec!["rotated"]);
}

#[test]
fn a_forged_message_is_neither_delivered_nor_forwarded() {
    let mut g = Group::new(3);
    // Member 1 writes with a chain nobody was given, claiming nothing: it
    // waits; a chain whose signature does not match is dropped.
    let mut rogue = SenderChain::new(&mut g.rng);
    let topic = g.channels[0].topic();
    let group = g.channels[0].group_id();
    let ciphertext = rogue
        .encrypt(&group.0, &encode_plaintext(&text("forged", 9)))
        .unwrap();
    let mut bytes = ciphertext.to_bytes();
    // Member 0's real chain id, with the rogue's signature.
    let real = {
        g.send(0, "real", 1).unwrap();
        let (_, payload) = g.pushes.last().unwrap().clone();
        payload
    };
    let real_chain_id = &real[real.len() - bytes.len() + 1..real.len() - bytes.len() + 17];
    bytes[1..17].copy_from_slice(real_chain_id);
    let payload = encode_group_broadcast(&tacnode_domain::group::GroupBroadcast::Message(bytes));
    let id = gossip_id(&payload);
    let push = GossipMessage::Push {
        topic,
        round: 0,
        payload,
    };
    let from = g.node(1);
    g.channels[2].handle_gossip(T0, from, push).unwrap();
    let mut forwarded = false;
    while let Some(out) = g.channels[2].poll_output() {
        if let GroupOutput::Gossip {
            message: GossipMessage::Push { payload, .. },
            ..
        } = &out
        {
            forwarded |= gossip_id(payload) == id;
        }
        assert!(!matches!(out, GroupOutput::Delivered(_)));
    }
    assert!(!forwarded);
    assert_eq!(g.texts(2), vec!["real"]);
}

#[test]
fn only_admins_change_the_members_and_strangers_get_no_link() {
    let mut g = Group::new(3);
    let stranger = Identity::generate(&mut g.rng);
    let err = g.channels[1]
        .add(T0, &g.identities[1], stranger.identity_key(), Role::Member)
        .unwrap_err();
    assert!(matches!(
        err,
        GroupError::Membership(MembershipError::NotAdmin)
    ));
    assert!(matches!(
        g.channels[1].neighbour_up(T0, stranger.node_id()),
        Err(GroupError::NotAMember(_))
    ));
    let members: BTreeMap<_, _> = g.channels[0]
        .members()
        .into_iter()
        .map(|k| (k, ()))
        .collect();
    assert_eq!(members.len(), 3);
}

#[test]
fn an_added_member_is_invited_and_reads_what_follows() {
    let mut g = Group::new(3);
    let newcomer = Identity::generate(&mut g.rng);
    g.channels[0]
        .add(T0, &g.identities[0], newcomer.identity_key(), Role::Member)
        .unwrap();
    let mut invitation = None;
    let mut keys = Vec::new();
    while let Some(out) = g.channels[0].poll_output() {
        match out {
            GroupOutput::Invite { to, ops } if to == newcomer.identity_key() => {
                invitation = Some(ops);
            }
            GroupOutput::Distribute {
                to, distribution, ..
            } if to == newcomer.identity_key() => keys.push(*distribution),
            GroupOutput::Gossip { to, message } => {
                let to = g.index_of_node(&to);
                let from = g.node(0);
                let _ = g.channels[to].handle_gossip(T0, from, message);
            }
            _ => {}
        }
    }
    let mut joined = GroupChannel::join(
        &mut g.rng,
        &newcomer,
        invitation.expect("an invitation"),
        T0,
        PlumtreeConfig::default(),
    )
    .unwrap();
    for k in keys {
        joined
            .handle_distribution(g.identities[0].identity_key(), k)
            .unwrap();
    }
    assert_eq!(joined.view_hash(), g.channels[0].view_hash());
    let seen = g.pushes.len();
    g.send(0, "welcome", 1).unwrap();
    let (_, payload) = g.pushes[seen].clone();
    let push = GossipMessage::Push {
        topic: joined.topic(),
        round: 0,
        payload,
    };
    // Not linked yet: refused.
    assert!(matches!(
        joined.handle_gossip(T0, g.node(0), push.clone()),
        Err(GroupError::NotANeighbour(_))
    ));
    joined.neighbour_up(T0, g.node(0)).unwrap();
    joined.handle_gossip(T0, g.node(0), push).unwrap();
    let mut got = Vec::new();
    while let Some(out) = joined.poll_output() {
        if let GroupOutput::Delivered(d) = out {
            got.push(d.plaintext.content);
        }
    }
    assert_eq!(got, vec![Content::Text("welcome".into())]);
}

mod convergence {
    use proptest::prelude::*;

    use super::*;

    /// One step of a random run: a member sends, or an admin removes one.
    #[derive(Clone, Debug)]
    enum Step {
        Send(usize),
        Remove(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0usize..5).prop_map(Step::Send),
            1 => (1usize..5).prop_map(Step::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Members of a group of five, linked all to all, after any mix of
        /// texts and removals by the creator: every remaining member read
        /// every text a remaining member sent exactly once, their views are
        /// equal, and a removed member handed every later broadcast opens
        /// none sent after its removal.
        #[test]
        fn remaining_members_agree_and_removed_ones_read_nothing_new(
            steps in proptest::collection::vec(step(), 1..16),
        ) {
            let mut g = Group::new(5);
            let mut removed: Vec<usize> = Vec::new();
            let mut sent: Vec<(usize, String)> = Vec::new();
            let mut after_removal: Vec<(usize, String)> = Vec::new();
            for (n, s) in steps.iter().enumerate() {
                match s {
                    Step::Send(m) if !removed.contains(m) => {
                        let t = format!("t{n}");
                        g.send(*m, &t, n as u8).unwrap();
                        for r in &removed {
                            after_removal.push((*r, t.clone()));
                        }
                        sent.push((*m, t));
                    }
                    Step::Remove(m) if !removed.contains(m) => {
                        let key = g.identities[*m].identity_key();
                        g.channels[0].remove(T0, &g.identities[0], key).unwrap();
                        g.settle();
                        removed.push(*m);
                    }
                    _ => {}
                }
            }
            // The removed kept every key: hand them every broadcast.
            let pushes: Vec<Vec<u8>> = g.pushes.iter().map(|(_, p)| p.clone()).collect();
            for r in &removed {
                for p in &pushes {
                    let _ = g.channels[*r].receive_broadcast(p);
                }
            }
            g.settle();
            for member in 0..5 {
                if removed.contains(&member) {
                    for (r, t) in &after_removal {
                        if *r == member {
                            prop_assert!(!g.texts(member).contains(&t.as_str()));
                        }
                    }
                    continue;
                }
                let expect: Vec<&str> = sent
                    .iter()
                    .filter(|(s, _)| *s != member && !removed.contains(s))
                    .map(|(_, t)| t.as_str())
                    .collect();
                let got: Vec<&str> = g
                    .texts(member)
                    .into_iter()
                    .filter(|t| expect.contains(t))
                    .collect();
                prop_assert_eq!(got, expect);
            }
            let views: Vec<[u8; 32]> = (0..5)
                .filter(|m| !removed.contains(m))
                .map(|m| g.channels[m].view_hash())
                .collect();
            prop_assert!(views.windows(2).all(|w| w[0] == w[1]));
        }
    }
}

#[test]
fn a_channel_restored_from_its_pickle_reads_and_sends_on() {
    let mut g = Group::new(4);
    g.send(1, "one", 1).unwrap();
    g.send(2, "two", 2).unwrap();
    let pickle = g.channels[3].to_bytes();
    let restored =
        GroupChannel::from_bytes(&g.identities[3], &pickle, PlumtreeConfig::default()).unwrap();
    assert_eq!(restored.view_hash(), g.channels[3].view_hash());
    assert_eq!(restored.to_bytes().as_slice(), pickle.as_slice());
    g.channels[3] = restored;
    // The restart dropped its links: link it again.
    for peer in 0..3 {
        let (a, b) = (g.node(3), g.node(peer));
        g.channels[3].neighbour_up(g.now, b).unwrap();
        g.channels[peer].neighbour_down(&a);
        g.channels[peer].neighbour_up(g.now, a).unwrap();
    }
    g.settle();
    g.send(1, "three", 3).unwrap();
    g.send(3, "four", 4).unwrap();
    assert_eq!(g.texts(3), vec!["one", "two", "three"]);
    assert_eq!(g.texts(1), vec!["two", "four"]);

    assert!(matches!(
        GroupChannel::from_bytes(
            &g.identities[3],
            &pickle[..pickle.len() - 1],
            PlumtreeConfig::default()
        ),
        Err(crate::group::GroupPickleError::Length | crate::group::GroupPickleError::Chain(_))
    ));
    let mut trailing = pickle.to_vec();
    trailing.push(0);
    assert!(matches!(
        GroupChannel::from_bytes(&g.identities[3], &trailing, PlumtreeConfig::default()),
        Err(crate::group::GroupPickleError::Length)
    ));
    assert!(matches!(
        GroupChannel::from_bytes(&g.identities[3], b"TNGR\x01", PlumtreeConfig::default()),
        Err(crate::group::GroupPickleError::BadMagic)
    ));
}

#[test]
fn a_member_handing_out_anothers_chain_id_cannot_silence_it() {
    use tacnode_crypto::group::{GroupCiphertext, SenderKeyDistribution};
    use tacnode_domain::group::GroupBroadcast;
    use tacnode_messaging::decode_group_broadcast;

    // Member 1 writes with a new chain; member 3 has not got its key yet.
    let mut g = Group::rotated_behind(5, 3, 4);
    assert!(!g.texts(3).contains(&"rotated"));
    let (_, payload) = g.pushes.last().unwrap().clone();
    let Ok(GroupBroadcast::Message(bytes)) = decode_group_broadcast(&payload) else {
        panic!("a message")
    };
    let victim_chain = *GroupCiphertext::from_bytes(&bytes).unwrap().chain_id();
    // Member 2 hands member 3 a key of its own under member 1's chain id.
    let rogue = SenderChain::new(&mut g.rng);
    let mut forged = rogue.distribution().to_bytes().to_vec();
    forged[1..17].copy_from_slice(&victim_chain);
    let forged = SenderKeyDistribution::from_bytes(&forged).unwrap();
    let from = g.identities[2].identity_key();
    g.channels[3].handle_distribution(from, forged).unwrap();
    g.settle();
    assert!(!g.texts(3).contains(&"rotated"));
    // The real key arrives: the message opens, as member 1's.
    for (from, to, distribution) in std::mem::take(&mut g.held) {
        let key = g.identities[from].identity_key();
        g.channels[to]
            .handle_distribution(key, distribution)
            .unwrap();
    }
    g.settle();
    let got: Vec<&(IdentityKey, String)> = g.delivered[3]
        .iter()
        .filter(|(_, t)| t == "rotated")
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, g.identities[1].identity_key());
}
