//! Group sender keys against vodozemac's Megolm, in the same run.
//!
//! - `group_steady_256B`: one 256-byte group message encrypted, wire-encoded,
//!   decoded and decrypted by one member. `tacnode` is
//!   [`SenderChain::encrypt`] → [`GroupCiphertext::to_bytes`] →
//!   [`GroupCiphertext::from_bytes`] → [`ReceiverChain::decrypt`];
//!   `vodozemac_megolm` is `GroupSession::encrypt` → `MegolmMessage::to_bytes`
//!   → `from_bytes` → `InboundGroupSession::decrypt`. `floor` is what both
//!   cannot avoid, give or take the SHA-512 blocks of what is signed: one
//!   Ed25519 signature and one strict verification of 256 bytes. Since the two are timed seconds apart and the machine
//!   may be shared, a paired run is printed too: rounds of 10 messages
//!   through each of the three, back to back in a rotating order; the
//!   median of the per-round ratios is the comparison least moved by other
//!   load.
//! - `group_removal_50_members`: what each member of a 50-member group does
//!   when a member is removed: a new chain for the 49 others.
//!   `tacnode_new_chain_49_distributions` is a new [`SenderChain`] and 49
//!   encoded distributions; `tacnode_sealed_49` the same and each sealed
//!   in its member's Double Ratchet session (sessions in a steady chain: a
//!   session whose turn is due adds a key generation and a DH);
//!   `vodozemac_new_session_49_session_keys` Megolm's equivalent (each
//!   session key is signed).

// A benchmark harness, like a test: failing loudly on setup errors is right.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use tacnode_crypto::group::{GroupCiphertext, ReceiverChain, SenderChain, SenderKeyDistribution};
use tacnode_crypto::{Identity, PrekeyState, Session, x3dh};
use tacnode_domain::UnixMillis;
use vodozemac::megolm::{GroupSession, InboundGroupSession, MegolmMessage, SessionConfig};

const MESSAGE_LEN: usize = 256;
const MEMBERS: usize = 50;
const AD: &[u8] = b"group id (16 bytes)+sender key (32 bytes)......";

fn plaintext(rng: &mut StdRng) -> Vec<u8> {
    let mut p = vec![0u8; MESSAGE_LEN];
    rng.fill_bytes(&mut p);
    p
}

fn bench_steady(c: &mut Criterion) {
    let mut g = c.benchmark_group("group_steady_256B");
    let mut rng = StdRng::seed_from_u64(1);
    let mut input_rng = StdRng::seed_from_u64(100);

    let mut ours = SenderChain::new(&mut rng);
    let distribution = SenderKeyDistribution::from_bytes(&ours.distribution().to_bytes()).unwrap();
    let mut theirs = ReceiverChain::new(&distribution);
    g.bench_function("tacnode", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let wire = ours.encrypt(AD, &pt).unwrap().to_bytes();
                let out = theirs
                    .decrypt(AD, &GroupCiphertext::from_bytes(&wire).unwrap())
                    .unwrap();
                black_box(out.len())
            },
            BatchSize::SmallInput,
        )
    });

    let mut outbound = GroupSession::new(SessionConfig::version_1());
    let mut inbound = InboundGroupSession::new(&outbound.session_key(), SessionConfig::version_1());
    let pt = plaintext(&mut input_rng);
    eprintln!(
        "wire bytes of a {MESSAGE_LEN}-byte message: tacnode {}, vodozemac megolm {}; \
         a distribution: tacnode {}, megolm session key {}",
        SenderChain::new(&mut rng)
            .encrypt(AD, &pt)
            .unwrap()
            .to_bytes()
            .len(),
        GroupSession::new(SessionConfig::version_1())
            .encrypt(&pt)
            .to_bytes()
            .len(),
        ours.distribution().to_bytes().len(),
        outbound.session_key().to_bytes().len(),
    );
    g.bench_function("vodozemac_megolm", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let wire = outbound.encrypt(&pt).to_bytes();
                let out = inbound
                    .decrypt(&MegolmMessage::from_bytes(&wire).unwrap())
                    .unwrap();
                black_box(out.plaintext.len())
            },
            BatchSize::SmallInput,
        )
    });

    paired(
        &mut ours,
        &mut theirs,
        &mut outbound,
        &mut inbound,
        &mut input_rng,
    );

    let signing = ed25519_dalek::SigningKey::generate(&mut rng);
    let verifying = signing.verifying_key();
    g.bench_function("floor", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let sig = signing.sign(&pt);
                verifying.verify_strict(black_box(&pt), &sig).unwrap();
                black_box(sig.to_bytes()[0])
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn run_ours(ours: &mut SenderChain, theirs: &mut ReceiverChain, messages: &[Vec<u8>]) -> f64 {
    let start = Instant::now();
    for pt in messages {
        let wire = ours.encrypt(AD, pt).unwrap().to_bytes();
        let out = theirs
            .decrypt(AD, &GroupCiphertext::from_bytes(&wire).unwrap())
            .unwrap();
        black_box(out.len());
    }
    start.elapsed().as_secs_f64()
}

fn run_vodozemac(
    outbound: &mut GroupSession,
    inbound: &mut InboundGroupSession,
    messages: &[Vec<u8>],
) -> f64 {
    let start = Instant::now();
    for pt in messages {
        let wire = outbound.encrypt(pt).to_bytes();
        let out = inbound
            .decrypt(&MegolmMessage::from_bytes(&wire).unwrap())
            .unwrap();
        black_box(out.plaintext.len());
    }
    start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run_floor(signing: &ed25519_dalek::SigningKey, messages: &[Vec<u8>]) -> f64 {
    let verifying = signing.verifying_key();
    let start = Instant::now();
    for pt in messages {
        let sig = signing.sign(pt);
        verifying.verify_strict(black_box(pt), &sig).unwrap();
        black_box(sig.to_bytes()[0]);
    }
    start.elapsed().as_secs_f64()
}

/// Prints per-message medians of the three (tacnode, vodozemac, floor) run
/// back to back in each round, in a rotating order, and the median of the
/// per-round ratio tacnode/vodozemac.
fn paired(
    ours: &mut SenderChain,
    theirs: &mut ReceiverChain,
    outbound: &mut GroupSession,
    inbound: &mut InboundGroupSession,
    rng: &mut StdRng,
) {
    const ROUNDS: usize = 300;
    const BATCH: usize = 10;
    let messages: Vec<Vec<u8>> = (0..BATCH).map(|_| plaintext(rng)).collect();
    let signing = ed25519_dalek::SigningKey::generate(rng);
    let (mut a, mut b, mut f, mut ratio) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let mut t = [0f64; 3];
        for k in 0..3 {
            let which = (round + k) % 3;
            t[which] = match which {
                0 => run_ours(ours, theirs, &messages),
                1 => run_vodozemac(outbound, inbound, &messages),
                _ => run_floor(&signing, &messages),
            };
        }
        a.push(t[0] / BATCH as f64 * 1e6);
        b.push(t[1] / BATCH as f64 * 1e6);
        f.push(t[2] / BATCH as f64 * 1e6);
        ratio.push(t[0] / t[1]);
    }
    eprintln!(
        "paired, {ROUNDS} rounds of {BATCH} messages each: tacnode median {:.1} µs, \
         vodozemac megolm median {:.1} µs, floor median {:.1} µs; \
         median ratio tacnode/vodozemac {:.3}",
        median(a),
        median(b),
        median(f),
        median(ratio)
    );
}

/// A steady Double Ratchet session from us to a member (both directions
/// used once, so our sending chain does not turn at the next message).
fn pairwise(rng: &mut StdRng, us: &Identity) -> Session {
    let them = Identity::generate(rng);
    let mut prekeys = PrekeyState::new(rng, &them, UnixMillis(1));
    prekeys.generate_one_time_prekeys(rng, 1).unwrap();
    let bundle = prekeys.bundle(&them, Some(1)).unwrap();
    let out = x3dh::initiate(rng, us, &bundle).unwrap();
    let mut ours = Session::new_initiator(rng, &out).unwrap();
    let first = ours.encrypt(rng, b"hi").unwrap();
    let (mut theirs, _) = x3dh::respond(
        &them,
        &mut prekeys,
        &out.initial_message(first),
        UnixMillis(2),
    )
    .unwrap();
    let reply = theirs.encrypt(rng, b"hi").unwrap();
    ours.decrypt(&reply).unwrap();
    let _ = ours.encrypt(rng, b"turned").unwrap();
    ours
}

fn bench_removal(c: &mut Criterion) {
    let mut g = c.benchmark_group("group_removal_50_members");
    let mut rng = StdRng::seed_from_u64(2);
    g.bench_function("tacnode_new_chain_49_distributions", |b| {
        b.iter(|| {
            let chain = SenderChain::new(&mut rng);
            let out: Vec<_> = (0..MEMBERS - 1)
                .map(|_| chain.distribution().to_bytes())
                .collect();
            black_box((chain.iteration(), out.len()))
        })
    });

    let us = Identity::generate(&mut rng);
    let mut sessions: Vec<Session> = (0..MEMBERS - 1).map(|_| pairwise(&mut rng, &us)).collect();
    g.bench_function("tacnode_sealed_49", |b| {
        b.iter(|| {
            let chain = SenderChain::new(&mut rng);
            let mut bytes = 0;
            for session in &mut sessions {
                let sealed = session
                    .encrypt(&mut rng, &chain.distribution().to_bytes())
                    .unwrap();
                bytes += sealed.ciphertext.len();
            }
            black_box(bytes)
        })
    });

    g.bench_function("vodozemac_new_session_49_session_keys", |b| {
        b.iter(|| {
            let session = GroupSession::new(SessionConfig::version_1());
            let out: Vec<_> = (0..MEMBERS - 1)
                .map(|_| session.session_key().to_bytes())
                .collect();
            black_box(out.len())
        })
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
    targets = bench_steady, bench_removal
}
criterion_main!(benches);
