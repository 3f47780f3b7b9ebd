#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_domain::gossip::GossipMessage;
use tacnode_domain::{ANNOUNCEMENT_TOPIC, AnnouncementKind, UnixMillis, UnsignedAnnouncement};
use tacnode_gossip::PlumtreeConfig;
use tacnode_messaging::encode_announcement;

use super::{
    AnnouncementBoard, AnnouncementOutput, AnnouncementRefusal, MAX_ANNOUNCEMENTS_PER_HOUR,
};

const T0: UnixMillis = UnixMillis(1_700_000_000_000);

fn push_of(identity: &Identity, sequence: u64, time: UnixMillis, text: &str) -> GossipMessage {
    let body = UnsignedAnnouncement {
        author: identity.identity_key(),
        sequence,
        time,
        kind: AnnouncementKind::Alert { text: text.into() },
    };
    let signature = identity.sign(&body.signing_bytes());
    GossipMessage::Push {
        topic: ANNOUNCEMENT_TOPIC,
        round: 0,
        payload: encode_announcement(&body.with_signature(signature)),
    }
}

/// What `board` would send on, and what it heard.
fn drain(board: &mut AnnouncementBoard) -> (usize, usize) {
    let (mut forwarded, mut heard) = (0, 0);
    while let Some(out) = board.poll_output() {
        match out {
            AnnouncementOutput::Gossip {
                message: GossipMessage::Push { .. },
                ..
            } => forwarded += 1,
            AnnouncementOutput::Heard(_) => heard += 1,
            AnnouncementOutput::Gossip { .. } => {}
        }
    }
    (forwarded, heard)
}

fn pair() -> (Identity, Identity, Identity, AnnouncementBoard) {
    let mut rng = StdRng::seed_from_u64(3);
    let author = Identity::generate(&mut rng);
    let relay = Identity::generate(&mut rng);
    let next = Identity::generate(&mut rng);
    let mut board = AnnouncementBoard::new(&relay, T0, PlumtreeConfig::default());
    board.neighbour_up(T0, author.node_id());
    board.neighbour_up(T0, next.node_id());
    drain(&mut board);
    (author, relay, next, board)
}

#[test]
fn a_service_is_listed_until_it_lapses_and_forwarded_once() {
    let (author, _, _, mut board) = pair();
    let body = UnsignedAnnouncement {
        author: author.identity_key(),
        sequence: 1,
        time: T0,
        kind: AnnouncementKind::Service {
            name: "medic".into(),
            detail: "tent 3".into(),
            until: T0.saturating_add_millis(3_600_000),
        },
    };
    let signature = author.sign(&body.signing_bytes());
    let push = GossipMessage::Push {
        topic: ANNOUNCEMENT_TOPIC,
        round: 0,
        payload: encode_announcement(&body.with_signature(signature)),
    };
    board
        .handle_gossip(T0, author.node_id(), push.clone())
        .unwrap();
    assert_eq!(drain(&mut board), (1, 1));
    board.handle_gossip(T0, author.node_id(), push).unwrap();
    assert_eq!(drain(&mut board).1, 0);
    let listed = board.services(T0);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "medic");
    assert!(
        board
            .services(T0.saturating_add_millis(3_600_000))
            .is_empty()
    );
}

#[test]
fn a_flooding_author_gets_its_hourly_share_forwarded_and_no_more() {
    let (author, _, _, mut board) = pair();
    let mut refused = 0;
    for n in 1..=10u64 {
        let push = push_of(&author, n, T0, &format!("alert {n}"));
        match board.handle_gossip(T0, author.node_id(), push) {
            Ok(()) => {}
            Err(AnnouncementRefusal::RateLimited) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let (forwarded, heard) = drain(&mut board);
    assert_eq!(heard, MAX_ANNOUNCEMENTS_PER_HOUR);
    assert_eq!(forwarded, MAX_ANNOUNCEMENTS_PER_HOUR);
    assert_eq!(refused, 10 - MAX_ANNOUNCEMENTS_PER_HOUR);
    // An hour later the author may speak again.
    let later = T0.saturating_add_millis(3_600_000);
    board
        .handle_gossip(
            later,
            author.node_id(),
            push_of(&author, 11, later, "again"),
        )
        .unwrap();
    assert_eq!(drain(&mut board).1, 1);
}

#[test]
fn replays_forgeries_and_skewed_clocks_go_no_further() {
    let (author, relay, _, mut board) = pair();
    board
        .handle_gossip(T0, author.node_id(), push_of(&author, 5, T0, "first"))
        .unwrap();
    drain(&mut board);
    // The same sequence with other words: a replay.
    assert!(matches!(
        board.handle_gossip(T0, author.node_id(), push_of(&author, 5, T0, "other")),
        Err(AnnouncementRefusal::Replayed { .. })
    ));
    // Signed by someone else in the author's name.
    let GossipMessage::Push { mut payload, .. } = push_of(&author, 6, T0, "forged") else {
        panic!()
    };
    let body = tacnode_messaging::decode_announcement(&payload)
        .unwrap()
        .body;
    let forged = body
        .clone()
        .with_signature(relay.sign(&body.signing_bytes()));
    payload = encode_announcement(&forged);
    let forged_push = GossipMessage::Push {
        topic: ANNOUNCEMENT_TOPIC,
        round: 0,
        payload,
    };
    assert!(matches!(
        board.handle_gossip(T0, author.node_id(), forged_push),
        Err(AnnouncementRefusal::Invalid(_))
    ));
    let far = T0.saturating_add_millis(8 * 24 * 3_600_000);
    assert!(matches!(
        board.handle_gossip(T0, author.node_id(), push_of(&author, 7, far, "future")),
        Err(AnnouncementRefusal::ClockSkew { .. })
    ));
    assert_eq!(drain(&mut board), (0, 0));
}

#[test]
fn our_own_announcements_obey_the_same_share() {
    let mut rng = StdRng::seed_from_u64(4);
    let me = Identity::generate(&mut rng);
    let mut board = AnnouncementBoard::new(&me, T0, PlumtreeConfig::default());
    for n in 0..MAX_ANNOUNCEMENTS_PER_HOUR {
        board
            .announce(
                T0,
                &me,
                AnnouncementKind::Alert {
                    text: format!("a{n}"),
                },
            )
            .unwrap();
    }
    assert!(matches!(
        board.announce(
            T0,
            &me,
            AnnouncementKind::Alert {
                text: "one more".into()
            }
        ),
        Err(AnnouncementRefusal::RateLimited)
    ));
}

#[test]
fn an_announcement_overtaken_by_a_later_one_is_still_taken_once() {
    let (author, _, _, mut board) = pair();
    board
        .handle_gossip(T0, author.node_id(), push_of(&author, 9, T0, "later"))
        .unwrap();
    // The earlier one came another, slower way.
    board
        .handle_gossip(T0, author.node_id(), push_of(&author, 8, T0, "earlier"))
        .unwrap();
    assert_eq!(drain(&mut board).1, 2);
    // Again: nothing new.
    let _ = board.handle_gossip(T0, author.node_id(), push_of(&author, 8, T0, "earlier"));
    assert_eq!(drain(&mut board).1, 0);
}
