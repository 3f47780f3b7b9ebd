//! Sphinx onion packets beside a ratchet encryption, in the same run.
//!
//! - `create_4_hops`: a packet for three relays and the destination, 256
//!   bytes of payload (the sender's cost per onion message), and a reply
//!   block for the same path length.
//! - `process_one_hop`: one relay's work on a packet (X25519, blinding,
//!   header MAC and keystream, one LIONESS layer over the body, the replay
//!   check), and the destination's.
//! - `ratchet_encrypt_256B`: one Double Ratchet encryption of 256 bytes in
//!   a chain that does not turn, and one X25519 DH (the floor of a hop).

// A benchmark harness, like a test: failing loudly on setup errors is right.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use tacnode_crypto::sphinx::{
    PathHop, Processed, ReplayCache, ReplyBlock, SphinxPacket, create_packet,
};
use tacnode_crypto::{Identity, PrekeyState, Session, x3dh};
use tacnode_domain::{DhPublicKey, NodeId, UnixMillis};
use x25519_dalek::{PublicKey, StaticSecret};

const PAYLOAD_LEN: usize = 256;
const HOPS: usize = 4;

struct Hop {
    secret: StaticSecret,
    hop: PathHop,
}

fn hops(rng: &mut StdRng) -> Vec<Hop> {
    (0..HOPS)
        .map(|i| {
            let secret = StaticSecret::random_from_rng(&mut *rng);
            let public_key = DhPublicKey(PublicKey::from(&secret).to_bytes());
            Hop {
                secret,
                hop: PathHop {
                    node: NodeId::from_bytes([i as u8; 32]),
                    public_key,
                    delay_ms: 50,
                },
            }
        })
        .collect()
}

fn payload(rng: &mut StdRng) -> Vec<u8> {
    let mut out = vec![0u8; PAYLOAD_LEN];
    rng.fill_bytes(&mut out);
    out
}

fn bench_create(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_4_hops");
    let mut rng = StdRng::seed_from_u64(1);
    let nodes = hops(&mut rng);
    let path: Vec<PathHop> = nodes.iter().map(|n| n.hop.clone()).collect();
    let data = payload(&mut rng);
    g.bench_function("packet", |b| {
        b.iter(|| black_box(create_packet(&mut rng, &path, &data).unwrap().to_bytes()[0]))
    });
    g.bench_function("reply_block", |b| {
        b.iter(|| black_box(ReplyBlock::create(&mut rng, &path).unwrap().0.to_bytes()[0]))
    });
    g.finish();
}

fn bench_process(c: &mut Criterion) {
    let mut g = c.benchmark_group("process_one_hop");
    let mut rng = StdRng::seed_from_u64(2);
    let nodes = hops(&mut rng);
    let path: Vec<PathHop> = nodes.iter().map(|n| n.hop.clone()).collect();
    let data = payload(&mut rng);
    // Tags expire at once, so the cache neither refuses nor grows.
    let mut replays = ReplayCache::new(0);
    let mut now = 0u64;
    g.bench_function("relay", |b| {
        b.iter_batched(
            || create_packet(&mut rng, &path, &data).unwrap(),
            |packet| {
                now += 1;
                match packet
                    .process(&nodes[0].secret, &mut replays, UnixMillis(now))
                    .unwrap()
                {
                    Processed::Forward { packet, .. } => black_box(packet.to_bytes()[0]),
                    _ => unreachable!("the first hop forwards"),
                }
            },
            BatchSize::SmallInput,
        )
    });
    let last = &nodes[HOPS - 1];
    let direct = [last.hop.clone()];
    g.bench_function("destination", |b| {
        b.iter_batched(
            || create_packet(&mut rng, &direct, &data).unwrap(),
            |packet: SphinxPacket| {
                now += 1;
                match packet
                    .process(&last.secret, &mut replays, UnixMillis(now))
                    .unwrap()
                {
                    Processed::Deliver { payload } => black_box(payload.len()),
                    _ => unreachable!("a one-node path delivers"),
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_ratchet(c: &mut Criterion) {
    let mut g = c.benchmark_group("ratchet_encrypt_256B");
    let mut rng = StdRng::seed_from_u64(3);
    let alice_id = Identity::generate(&mut rng);
    let bob_id = Identity::generate(&mut rng);
    let mut prekeys = PrekeyState::new(&mut rng, &bob_id, UnixMillis(1));
    prekeys.generate_one_time_prekeys(&mut rng, 1).unwrap();
    let bundle = prekeys.bundle(&bob_id, Some(1)).unwrap();
    let out = x3dh::initiate(&mut rng, &alice_id, &bundle).unwrap();
    let mut alice = Session::new_initiator(&mut rng, &out).unwrap();
    let data = payload(&mut rng);
    g.bench_function("tacnode", |b| {
        b.iter(|| black_box(alice.encrypt(&mut rng, &data).unwrap().ciphertext.len()))
    });
    let peer = PublicKey::from(&StaticSecret::random_from_rng(&mut rng));
    let fixed = StaticSecret::random_from_rng(&mut rng);
    g.bench_function("x25519_dh", |b| {
        b.iter(|| black_box(fixed.diffie_hellman(black_box(&peer)).to_bytes()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_create, bench_process, bench_ratchet
}
criterion_main!(benches);
