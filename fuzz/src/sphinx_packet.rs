//! Onion packets on hostile bytes: `SphinxPacket::from_bytes` and
//! `process` on raw input, and a genuine two-hop packet with bytes flipped.
//!
//! Input: the first byte picks the mode. Even: the rest is a packet as
//! received. Odd: the rest is a list of (position u16, xor byte) flips
//! applied to a genuine packet for the fixed relay and destination.
//! Invariants: an unaltered packet is forwarded by the relay and delivered
//! intact by the destination; a packet with an altered header is refused
//! by the relay; one with only its body altered is forwarded, then refused
//! by the destination as tampered.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_crypto::sphinx::{
    HEADER_LEN, PACKET_LEN, PathHop, ProcessError, Processed, ReplayCache, SphinxPacket,
    create_packet,
};
use tacnode_domain::{NodeId, UnixMillis};

const PAYLOAD: &[u8] = b"onion payload under test";

/// The fixed relay and destination.
pub fn nodes() -> (Identity, Identity) {
    let mut rng = StdRng::seed_from_u64(0x5f1e);
    (Identity::generate(&mut rng), Identity::generate(&mut rng))
}

fn hop(identity: &Identity) -> PathHop {
    PathHop {
        node: NodeId::from_identity(&identity.identity_key()),
        public_key: identity.device_key(),
        delay_ms: 30,
    }
}

/// A genuine packet for the fixed path, the same for every run.
pub fn genuine() -> SphinxPacket {
    let (relay, destination) = nodes();
    let mut rng = StdRng::seed_from_u64(0x0a10);
    match create_packet(&mut rng, &[hop(&relay), hop(&destination)], PAYLOAD) {
        Ok(packet) => packet,
        Err(e) => panic!("a genuine packet must build: {e}"),
    }
}

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (relay, destination) = nodes();
    let mut replays = ReplayCache::new(60_000);
    let now = UnixMillis(1);
    if mode % 2 == 0 {
        match SphinxPacket::from_bytes(rest) {
            Ok(packet) => {
                assert_eq!(rest.len(), PACKET_LEN);
                assert_eq!(packet.to_bytes().as_slice(), rest, "a packet reads back");
                let _ = packet.process(relay.device_secret(), &mut replays, now);
            }
            Err(e) => assert!(matches!(e, ProcessError::WrongLength { .. })),
        }
        return;
    }

    let original = genuine().to_bytes();
    let mut bytes = original;
    for flip in rest.chunks_exact(3) {
        let position = usize::from(u16::from_be_bytes([flip[0], flip[1]])) % PACKET_LEN;
        bytes[position] ^= flip[2];
    }
    let header_altered = bytes[..HEADER_LEN] != original[..HEADER_LEN];
    let body_altered = bytes[HEADER_LEN..] != original[HEADER_LEN..];
    let Ok(packet) = SphinxPacket::from_bytes(&bytes) else {
        panic!("a packet of the right length must read");
    };
    let outcome = packet.process(relay.device_secret(), &mut replays, now);
    if header_altered {
        assert!(outcome.is_err(), "an altered header was accepted: {outcome:?}");
        return;
    }
    let Ok(Processed::Forward { packet, next, .. }) = outcome else {
        panic!("the relay must forward an unaltered header: {outcome:?}");
    };
    assert_eq!(next, NodeId::from_identity(&destination.identity_key()));
    let mut at_destination = ReplayCache::new(60_000);
    let delivered = packet.process(destination.device_secret(), &mut at_destination, now);
    if body_altered {
        assert!(
            matches!(delivered, Err(ProcessError::Tampered)),
            "an altered body was delivered: {delivered:?}"
        );
    } else {
        match delivered {
            Ok(Processed::Deliver { payload }) => assert_eq!(payload, PAYLOAD),
            other => panic!("an unaltered packet must be delivered: {other:?}"),
        }
    }
}
