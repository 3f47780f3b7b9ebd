#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_domain::{DhPublicKey, NodeId, UnixMillis};
use x25519_dalek::StaticSecret;

use super::*;
use crate::dh::public_of;
use crate::dh::tests::low_order_points;

/// A node able to process packets: its id, secret and replay cache.
struct Node {
    id: NodeId,
    secret: StaticSecret,
    replays: ReplayCache,
}

impl Node {
    fn new(rng: &mut StdRng, n: u8) -> Self {
        Node {
            id: NodeId::from_bytes([n; 32]),
            secret: StaticSecret::random_from_rng(rng),
            replays: ReplayCache::new(60_000),
        }
    }

    fn hop(&self, delay_ms: u32) -> PathHop {
        PathHop {
            node: self.id,
            public_key: public_of(&self.secret),
            delay_ms,
        }
    }

    fn process(&mut self, packet: &SphinxPacket) -> Result<Processed, ProcessError> {
        packet.process(&self.secret, &mut self.replays, UnixMillis(1_000))
    }
}

fn nodes(rng: &mut StdRng, count: u8) -> Vec<Node> {
    (1..=count).map(|n| Node::new(rng, n)).collect()
}

fn path(nodes: &[Node]) -> Vec<PathHop> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| node.hop(100 * (i as u32 + 1)))
        .collect()
}

/// Runs `packet` along `nodes` (in order), checking each relay forwards to
/// the next with the delay asked for; returns what the last one got and the
/// packet bytes every node saw.
fn travel(nodes: &mut [Node], mut packet: SphinxPacket) -> (Processed, Vec<[u8; PACKET_LEN]>) {
    let mut seen = Vec::new();
    let count = nodes.len();
    for i in 0..count {
        seen.push(packet.to_bytes());
        let outcome = nodes[i].process(&packet).unwrap();
        if i + 1 == count {
            return (outcome, seen);
        }
        match outcome {
            Processed::Forward {
                next,
                delay_ms,
                packet: onward,
            } => {
                assert_eq!(next, nodes[i + 1].id, "hop {i} forwards to the next node");
                assert_eq!(delay_ms, 100 * (i as u32 + 1));
                packet = *onward;
            }
            other => panic!("hop {i} should forward, got {other:?}"),
        }
    }
    unreachable!("a path has a node")
}

fn equal_bytes(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x == y).count()
}

#[test]
fn a_packet_crosses_three_relays_and_only_the_destination_reads_it() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut nodes = nodes(&mut rng, 4);
    let packet = create_packet(&mut rng, &path(&nodes), b"hello through the onion").unwrap();
    let (outcome, seen) = travel(&mut nodes, packet);
    match outcome {
        Processed::Deliver { payload } => assert_eq!(payload, b"hello through the onion"),
        other => panic!("the destination should get the payload, got {other:?}"),
    }
    // The packet has one size and shares no more bytes between two hops
    // than chance would (1/256 of them).
    for (i, a) in seen.iter().enumerate() {
        assert_eq!(a.len(), PACKET_LEN);
        for b in seen.iter().skip(i + 1) {
            assert!(
                equal_bytes(a, b) < 16,
                "hops share {} bytes",
                equal_bytes(a, b)
            );
        }
        assert!(
            !a.windows(23).any(|w| w == b"hello through the onion"),
            "the payload is never in the clear on the wire"
        );
    }
}

#[test]
fn every_path_length_up_to_the_maximum_delivers_and_longer_is_refused() {
    let mut rng = StdRng::seed_from_u64(2);
    for count in 1..=MAX_HOPS as u8 {
        let mut nodes = nodes(&mut rng, count);
        let packet = create_packet(&mut rng, &path(&nodes), &[count; 40]).unwrap();
        match travel(&mut nodes, packet).0 {
            Processed::Deliver { payload } => assert_eq!(payload, vec![count; 40]),
            other => panic!("{count} hops: {other:?}"),
        }
    }
    let too_many = nodes(&mut rng, MAX_HOPS as u8 + 1);
    assert_eq!(
        create_packet(&mut rng, &path(&too_many), b"x").unwrap_err(),
        CreateError::PathTooLong {
            hops: MAX_HOPS + 1,
            max: MAX_HOPS
        }
    );
    assert_eq!(
        create_packet(&mut rng, &[], b"x").unwrap_err(),
        CreateError::EmptyPath
    );
}

#[test]
fn the_largest_payload_fits_and_one_more_byte_is_refused() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut nodes = nodes(&mut rng, 2);
    let payload = vec![0xa5; MAX_PAYLOAD_LEN];
    let packet = create_packet(&mut rng, &path(&nodes), &payload).unwrap();
    match travel(&mut nodes, packet).0 {
        Processed::Deliver { payload: got } => assert_eq!(got, payload),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        create_packet(&mut rng, &path(&nodes), &[0; MAX_PAYLOAD_LEN + 1]).unwrap_err(),
        CreateError::PayloadTooLong {
            len: MAX_PAYLOAD_LEN + 1,
            max: MAX_PAYLOAD_LEN
        }
    );
}

#[test]
fn a_hop_processes_a_packet_once() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut nodes = nodes(&mut rng, 3);
    let packet = create_packet(&mut rng, &path(&nodes), b"once").unwrap();
    assert!(matches!(
        nodes[0].process(&packet),
        Ok(Processed::Forward { .. })
    ));
    assert_eq!(
        nodes[0].process(&packet).unwrap_err(),
        ProcessError::Replayed
    );
    // The same payload sent again is a new packet with new tags.
    let again = create_packet(&mut rng, &path(&nodes), b"once").unwrap();
    assert!(nodes[0].process(&again).is_ok());
}

#[test]
fn a_packet_for_another_key_or_with_an_altered_header_is_refused() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut nodes = nodes(&mut rng, 3);
    let packet = create_packet(&mut rng, &path(&nodes), b"x").unwrap();
    assert_eq!(nodes[1].process(&packet).unwrap_err(), ProcessError::BadMac);
    let bytes = packet.to_bytes();
    for position in [0, 31, ALPHA_LEN, ALPHA_LEN + MAC_LEN, HEADER_LEN - 1] {
        let mut altered = bytes;
        altered[position] ^= 0x04;
        let altered = SphinxPacket::from_bytes(&altered).unwrap();
        let err = nodes[0].process(&altered).unwrap_err();
        assert!(
            matches!(err, ProcessError::BadMac | ProcessError::LowOrderElement),
            "byte {position}: {err:?}"
        );
    }
    // Nothing refused was recorded: the genuine packet still goes through.
    assert!(nodes[0].process(&packet).is_ok());
}

#[test]
fn an_altered_body_is_carried_but_refused_by_the_destination() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut nodes = nodes(&mut rng, 4);
    let packet = create_packet(&mut rng, &path(&nodes), b"tag me").unwrap();
    for position in [HEADER_LEN, HEADER_LEN + 100, PACKET_LEN - 1] {
        let mut bytes = packet.to_bytes();
        bytes[position] ^= 0x80;
        let mut fresh: Vec<Node> = Vec::new();
        for node in &nodes {
            fresh.push(Node {
                id: node.id,
                secret: node.secret.clone(),
                replays: ReplayCache::new(60_000),
            });
        }
        let mut current = SphinxPacket::from_bytes(&bytes).unwrap();
        for node in fresh.iter_mut().take(3) {
            match node.process(&current).unwrap() {
                Processed::Forward { packet, .. } => current = *packet,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            fresh[3].process(&current).unwrap_err(),
            ProcessError::Tampered
        );
    }
    let (outcome, _) = travel(&mut nodes, packet);
    assert!(matches!(outcome, Processed::Deliver { .. }));
}

#[test]
fn wrong_lengths_and_low_order_keys_are_refused() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut nodes = nodes(&mut rng, 2);
    assert_eq!(
        SphinxPacket::from_bytes(&[0; PACKET_LEN - 1]).unwrap_err(),
        ProcessError::WrongLength {
            actual: PACKET_LEN - 1,
            expected: PACKET_LEN
        }
    );
    for point in low_order_points() {
        let mut hops = path(&nodes);
        hops[1].public_key = DhPublicKey(point);
        assert_eq!(
            create_packet(&mut rng, &hops, b"x").unwrap_err(),
            CreateError::LowOrderKey { hop: 1 },
            "{point:02x?}"
        );
        let mut bytes = create_packet(&mut rng, &path(&nodes), b"x")
            .unwrap()
            .to_bytes();
        bytes[..32].copy_from_slice(&point);
        let packet = SphinxPacket::from_bytes(&bytes).unwrap();
        assert_eq!(
            nodes[0].process(&packet).unwrap_err(),
            ProcessError::LowOrderElement
        );
    }
}

#[test]
fn delays_round_up_to_the_unit_and_too_long_is_refused() {
    let mut rng = StdRng::seed_from_u64(8);
    let mut nodes = nodes(&mut rng, 2);
    let mut hops = path(&nodes);
    hops[0].delay_ms = 15;
    let packet = create_packet(&mut rng, &hops, b"x").unwrap();
    match nodes[0].process(&packet).unwrap() {
        Processed::Forward { delay_ms, .. } => assert_eq!(delay_ms, 20),
        other => panic!("{other:?}"),
    }
    hops[0].delay_ms = MAX_DELAY_MS + 1;
    assert_eq!(
        create_packet(&mut rng, &hops, b"x").unwrap_err(),
        CreateError::DelayTooLong {
            delay_ms: MAX_DELAY_MS + 1,
            max: MAX_DELAY_MS
        }
    );
}

#[test]
fn a_reply_block_brings_one_answer_back_to_its_creator() {
    let mut rng = StdRng::seed_from_u64(9);
    // Relays 1-3, then the creator (4).
    let mut nodes = nodes(&mut rng, 4);
    let (block, opener) = ReplyBlock::create(&mut rng, &path(&nodes)).unwrap();
    let block = ReplyBlock::from_bytes(&block.to_bytes()).unwrap();
    assert_eq!(block.first_hop(), nodes[0].id);
    assert_eq!(block.to_bytes().len(), REPLY_BLOCK_LEN);

    let reply = block.seal(b"receipt").unwrap();
    let (outcome, seen) = travel(&mut nodes, reply.clone());
    let body = match outcome {
        Processed::Reply { body } => body,
        other => panic!("{other:?}"),
    };
    assert_eq!(body.id(), opener.id());
    assert!(
        seen.iter()
            .all(|bytes| !bytes.windows(7).any(|w| w == b"receipt"))
    );
    assert_eq!(opener.open(&body).unwrap(), b"receipt");

    // The block is single use: its first hop refuses it again.
    let second = block.seal(b"again").unwrap();
    assert_eq!(
        nodes[0].process(&second).unwrap_err(),
        ProcessError::Replayed
    );
}

#[test]
fn a_reply_opens_only_with_its_own_opener_and_unaltered() {
    let mut rng = StdRng::seed_from_u64(10);
    let mut nodes = nodes(&mut rng, 3);
    let (block, opener) = ReplyBlock::create(&mut rng, &path(&nodes)).unwrap();
    let (_other_block, other_opener) = ReplyBlock::create(&mut rng, &path(&nodes)).unwrap();
    let mut bytes = block.seal(b"answer").unwrap().to_bytes();
    bytes[PACKET_LEN - 3] ^= 1;
    let (outcome, _) = travel(&mut nodes, SphinxPacket::from_bytes(&bytes).unwrap());
    let Processed::Reply { body } = outcome else {
        panic!("a reply")
    };
    assert_eq!(
        other_opener.open(&body).unwrap_err(),
        ReplyError::OtherReply
    );
    assert_eq!(opener.open(&body).unwrap_err(), ReplyError::Tampered);
    assert_eq!(
        ReplyBlock::from_bytes(&[0; 10]).unwrap_err(),
        ReplyError::WrongLength {
            actual: 10,
            expected: REPLY_BLOCK_LEN
        }
    );
}

#[test]
fn a_full_replay_cache_refuses_instead_of_forgetting() {
    let mut cache = ReplayCache::new(u64::MAX);
    for i in 0..MAX_REPLAY_TAGS {
        let mut tag = [0u8; 16];
        tag[..8].copy_from_slice(&(i as u64).to_le_bytes());
        cache.insert(UnixMillis(0), ReplayTag(tag)).unwrap();
    }
    assert_eq!(
        cache
            .insert(UnixMillis(1), ReplayTag([0xff; 16]))
            .unwrap_err(),
        ProcessError::ReplayCacheFull {
            max: MAX_REPLAY_TAGS
        }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the payload and path length, the destination reads exactly
    /// what was sent.
    #[test]
    fn any_payload_on_any_path_arrives_intact(
        seed in any::<u64>(),
        count in 1..=MAX_HOPS as u8,
        payload in proptest::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD_LEN),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut nodes = nodes(&mut rng, count);
        let packet = create_packet(&mut rng, &path(&nodes), &payload).unwrap();
        let decoded = SphinxPacket::from_bytes(&packet.to_bytes()).unwrap();
        prop_assert_eq!(&decoded, &packet);
        match travel(&mut nodes, decoded).0 {
            Processed::Deliver { payload: got } => prop_assert_eq!(got, payload),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
