//! Double Ratchet and X3DH speed against vodozemac's Olm, each beside a floor
//! measured from the primitives alone in the same run.
//!
//! - `a_steady_256B`: one 256-byte message encrypted, wire-encoded, decoded
//!   and decrypted in a chain that does not turn (floor: 2 × HMAC + AEAD seal
//!   or open on each side; the message key is the AEAD key, the nonce zero).
//!   `tacnode_sealed_sender` is the same message as deposited in a mailbox:
//!   its sender sealed to the recipient's device key and opened before the
//!   ratchet message (one more X25519 key generation and two DHs).
//! - `b_ping_pong`: one message whose sending and receipt each turn the DH
//!   ratchet (floor: key generation + 2 DH).
//! - `c_session_setup`: both sides of session establishment incl. the first
//!   message (floor: our handshake's signature checks, key generations and DHs).
//! - `primitives`: one Ed25519 strict verification, X25519 key generation, X25519 DH.

// A benchmark harness, like a test: failing loudly on setup errors is right.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use aes_gcm_siv::aead::AeadInOut;
use aes_gcm_siv::{Aes256GcmSiv, KeyInit as _, Nonce};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use hmac::{Hmac, Mac};
use prost::Message as _;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use sha2::Sha256;
use tacnode_crypto::{Identity, PrekeyState, Session, sealed_sender, x3dh};
use tacnode_domain::e2e::{RatchetHeader, RatchetMessage, SealedBody, SealedMessage};
use tacnode_domain::{DhPublicKey, UnixMillis};
use vodozemac::olm::{Account, OlmMessage, SessionConfig};
use x25519_dalek::{PublicKey, StaticSecret};

const MESSAGE_LEN: usize = 256;

/// Mirror of `tacnode.v1.RatchetHeader` (proto/tacnode/v1/e2e.proto).
#[derive(Clone, PartialEq, prost::Message)]
struct WireHeader {
    #[prost(bytes = "vec", tag = "1")]
    ratchet_key: Vec<u8>,
    #[prost(uint32, tag = "2")]
    previous_chain_length: u32,
    #[prost(uint32, tag = "3")]
    message_number: u32,
    #[prost(bytes = "vec", tag = "4")]
    nonce: Vec<u8>,
}

/// Mirror of `tacnode.v1.RatchetMessage`.
#[derive(Clone, PartialEq, prost::Message)]
struct WireMessage {
    #[prost(message, optional, tag = "1")]
    header: Option<WireHeader>,
    #[prost(bytes = "vec", tag = "2")]
    ciphertext: Vec<u8>,
}

fn to_wire(m: RatchetMessage) -> Vec<u8> {
    WireMessage {
        header: Some(WireHeader {
            ratchet_key: m.header.ratchet_key.0.to_vec(),
            previous_chain_length: m.header.previous_chain_length,
            message_number: m.header.message_number,
            nonce: m.header.nonce.to_vec(),
        }),
        ciphertext: m.ciphertext,
    }
    .encode_to_vec()
}

fn from_wire(bytes: &[u8]) -> RatchetMessage {
    let w = WireMessage::decode(bytes).unwrap();
    let h = w.header.unwrap();
    RatchetMessage {
        header: RatchetHeader {
            ratchet_key: DhPublicKey::from_slice(&h.ratchet_key).unwrap(),
            previous_chain_length: h.previous_chain_length,
            message_number: h.message_number,
            nonce: h.nonce.as_slice().try_into().unwrap(),
        },
        ciphertext: w.ciphertext,
    }
}

struct Ours {
    rng: StdRng,
    alice: Session,
    bob: Session,
    alice_id: Identity,
    bob_id: Identity,
}

fn ours_pair(seed: u64) -> Ours {
    let mut rng = StdRng::seed_from_u64(seed);
    let alice_id = Identity::generate(&mut rng);
    let bob_id = Identity::generate(&mut rng);
    let mut prekeys = PrekeyState::new(&mut rng, &bob_id, UnixMillis(1));
    prekeys.generate_one_time_prekeys(&mut rng, 1).unwrap();
    let bundle = prekeys.bundle(&bob_id, Some(1)).unwrap();
    let out = x3dh::initiate(&mut rng, &alice_id, &bundle).unwrap();
    let mut alice = Session::new_initiator(&mut rng, &out).unwrap();
    let first = alice.encrypt(&mut rng, b"hi").unwrap();
    let (mut bob, _) = x3dh::respond(
        &bob_id,
        &mut prekeys,
        &out.initial_message(first),
        UnixMillis(2),
    )
    .unwrap();
    let reply = bob.encrypt(&mut rng, b"hi").unwrap();
    alice.decrypt(&reply).unwrap();
    Ours {
        rng,
        alice,
        bob,
        alice_id,
        bob_id,
    }
}

fn vodozemac_pair() -> (vodozemac::olm::Session, vodozemac::olm::Session) {
    let alice = Account::new();
    let mut bob = Account::new();
    bob.generate_one_time_keys(1);
    let otk = *bob.one_time_keys().values().next().unwrap();
    bob.mark_keys_as_published();
    let mut a = alice
        .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
        .unwrap();
    let OlmMessage::PreKey(pre) = a.encrypt(b"hi").unwrap() else {
        unreachable!()
    };
    let mut b = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &pre)
        .unwrap()
        .session;
    let reply = b.encrypt(b"hi").unwrap();
    a.decrypt(&reply).unwrap();
    (a, b)
}

fn plaintext(rng: &mut StdRng) -> Vec<u8> {
    let mut p = vec![0u8; MESSAGE_LEN];
    rng.fill_bytes(&mut p);
    p
}

type HmacSha256 = Hmac<Sha256>;

/// One side of the per-message primitives: KDF_CK (2 HMAC) giving the
/// message key, which keys AES-256-GCM-SIV with a zero nonce (as the
/// ratchet seals).
fn floor_keys(ck: &mut [u8; 32]) -> (Aes256GcmSiv, Nonce) {
    let mut m = <HmacSha256 as hmac::KeyInit>::new_from_slice(ck).unwrap();
    m.update(&[1]);
    let mk: [u8; 32] = m.finalize().into_bytes().into();
    let mut m = <HmacSha256 as hmac::KeyInit>::new_from_slice(ck).unwrap();
    m.update(&[2]);
    *ck = m.finalize().into_bytes().into();
    (Aes256GcmSiv::new(&mk.into()), Nonce::from([0u8; 12]))
}

fn bench_steady(c: &mut Criterion) {
    let mut g = c.benchmark_group("a_steady_256B");
    let Ours {
        mut rng,
        mut alice,
        mut bob,
        ..
    } = ours_pair(1);
    let mut input_rng = StdRng::seed_from_u64(100);
    g.bench_function("tacnode", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let wire = to_wire(alice.encrypt(&mut rng, &pt).unwrap());
                let out = bob.decrypt(&from_wire(&wire)).unwrap();
                black_box(out.len())
            },
            BatchSize::SmallInput,
        )
    });
    let Ours {
        mut rng,
        mut alice,
        mut bob,
        alice_id,
        bob_id,
    } = ours_pair(5);
    g.bench_function("tacnode_sealed_sender", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let sealed = SealedMessage {
                    sender_identity_key: alice_id.identity_key(),
                    body: SealedBody::Message(from_wire(&to_wire(
                        alice.encrypt(&mut rng, &pt).unwrap(),
                    ))),
                };
                let deposit = sealed_sender::seal(&mut rng, &bob_id.device_key(), &sealed).unwrap();
                let opened = sealed_sender::open(&bob_id, &deposit).unwrap();
                let SealedBody::Message(m) = opened.body else {
                    unreachable!()
                };
                let out = bob.decrypt(&m).unwrap();
                black_box(out.len())
            },
            BatchSize::SmallInput,
        )
    });
    let (mut va, mut vb) = vodozemac_pair();
    g.bench_function("vodozemac", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let (kind, wire) = va.encrypt(&pt).unwrap().to_parts();
                let out = vb
                    .decrypt(&OlmMessage::from_parts(kind, &wire).unwrap())
                    .unwrap();
                black_box(out.len())
            },
            BatchSize::SmallInput,
        )
    });
    let mut send_ck = [7u8; 32];
    let mut recv_ck = [7u8; 32];
    let ad = [9u8; 168];
    g.bench_function("floor", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |mut buf| {
                let (cipher, nonce) = floor_keys(&mut send_ck);
                let tag = cipher
                    .encrypt_inout_detached(&nonce, &ad, buf.as_mut_slice().into())
                    .unwrap();
                let (cipher, nonce) = floor_keys(&mut recv_ck);
                cipher
                    .decrypt_inout_detached(&nonce, &ad, buf.as_mut_slice().into(), &tag)
                    .unwrap();
                black_box(buf.len())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("b_ping_pong");
    let Ours {
        mut rng,
        mut alice,
        mut bob,
        ..
    } = ours_pair(2);
    let mut input_rng = StdRng::seed_from_u64(200);
    let mut turn = false;
    g.bench_function("tacnode", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let (from, to) = if turn {
                    (&mut alice, &mut bob)
                } else {
                    (&mut bob, &mut alice)
                };
                turn = !turn;
                let m = from.encrypt(&mut rng, &pt).unwrap();
                black_box(to.decrypt(&m).unwrap().len())
            },
            BatchSize::SmallInput,
        )
    });
    let (mut va, mut vb) = vodozemac_pair();
    let mut turn = false;
    g.bench_function("vodozemac", |b| {
        b.iter_batched(
            || plaintext(&mut input_rng),
            |pt| {
                let (from, to) = if turn {
                    (&mut va, &mut vb)
                } else {
                    (&mut vb, &mut va)
                };
                turn = !turn;
                let m = from.encrypt(&pt).unwrap();
                black_box(to.decrypt(&m).unwrap().len())
            },
            BatchSize::SmallInput,
        )
    });
    let mut floor_rng = StdRng::seed_from_u64(201);
    let peer = PublicKey::from(&StaticSecret::random_from_rng(&mut floor_rng));
    let receiver = StaticSecret::random_from_rng(&mut floor_rng);
    g.bench_function("floor", |b| {
        b.iter(|| {
            let ours = StaticSecret::random_from_rng(&mut floor_rng);
            let public = PublicKey::from(&ours);
            let s1 = ours.diffie_hellman(&peer);
            let s2 = receiver.diffie_hellman(&public);
            black_box((s1.as_bytes()[0], s2.as_bytes()[0]))
        })
    });
    g.finish();
}

fn bench_setup(c: &mut Criterion) {
    let mut g = c.benchmark_group("c_session_setup");
    let mut rng = StdRng::seed_from_u64(3);
    let alice_id = Identity::generate(&mut rng);
    let bob_id = Identity::generate(&mut rng);
    let mut setup_rng = StdRng::seed_from_u64(300);
    g.bench_function("tacnode", |b| {
        b.iter_batched(
            || {
                let mut prekeys = PrekeyState::new(&mut setup_rng, &bob_id, UnixMillis(1));
                prekeys
                    .generate_one_time_prekeys(&mut setup_rng, 1)
                    .unwrap();
                let bundle = prekeys.bundle(&bob_id, Some(1)).unwrap();
                (prekeys, bundle)
            },
            |(mut prekeys, bundle)| {
                let out = x3dh::initiate(&mut rng, &alice_id, &bundle).unwrap();
                let mut alice = Session::new_initiator(&mut rng, &out).unwrap();
                let first = alice.encrypt(&mut rng, b"hello").unwrap();
                let (bob, pt) = x3dh::respond(
                    &bob_id,
                    &mut prekeys,
                    &out.initial_message(first),
                    UnixMillis(2),
                )
                .unwrap();
                black_box((alice, bob, pt.len(), prekeys))
            },
            BatchSize::SmallInput,
        )
    });
    let valice = Account::new();
    g.bench_function("vodozemac", |b| {
        b.iter_batched(
            || {
                let mut bob = Account::new();
                bob.generate_one_time_keys(1);
                let otk = *bob.one_time_keys().values().next().unwrap();
                bob.mark_keys_as_published();
                (bob, otk)
            },
            |(mut bob, otk)| {
                let mut a = valice
                    .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
                    .unwrap();
                let OlmMessage::PreKey(pre) = a.encrypt(b"hello").unwrap() else {
                    unreachable!()
                };
                let r = bob
                    .create_inbound_session(
                        SessionConfig::version_1(),
                        valice.curve25519_key(),
                        &pre,
                    )
                    .unwrap();
                black_box((a, r.session, r.plaintext.len(), bob))
            },
            BatchSize::SmallInput,
        )
    });
    // Floor: what our handshake must compute at least: 3 Ed25519 signature
    // checks (bundle certificate, signed prekey, initiator certificate),
    // 2 key generations (ephemeral, first ratchet key) and 10 DH (4 + 4 for
    // X3DH with a one-time prekey, 1 + 1 for the first ratchet step).
    let signing = ed25519_dalek::SigningKey::generate(&mut rng);
    let verifying = signing.verifying_key();
    let sig = signing.sign(b"message");
    let peer = PublicKey::from(&StaticSecret::random_from_rng(&mut rng));
    let fixed = StaticSecret::random_from_rng(&mut rng);
    g.bench_function("floor", |b| {
        b.iter(|| {
            for _ in 0..3 {
                verifying
                    .verify_strict(black_box(b"message"), &sig)
                    .unwrap();
            }
            let mut acc = 0u8;
            for _ in 0..2 {
                let k = StaticSecret::random_from_rng(&mut rng);
                acc ^= PublicKey::from(&k).as_bytes()[0];
            }
            for _ in 0..10 {
                acc ^= fixed.diffie_hellman(black_box(&peer)).as_bytes()[0];
            }
            black_box(acc)
        })
    });
    g.finish();
}

/// The single operations the floors are made of, to read the ratios.
fn bench_primitives(c: &mut Criterion) {
    let mut g = c.benchmark_group("primitives");
    let mut rng = StdRng::seed_from_u64(4);
    let signing = ed25519_dalek::SigningKey::generate(&mut rng);
    let verifying = signing.verifying_key();
    let sig = signing.sign(b"message");
    let peer = PublicKey::from(&StaticSecret::random_from_rng(&mut rng));
    let fixed = StaticSecret::random_from_rng(&mut rng);
    g.bench_function("ed25519_verify_strict", |b| {
        b.iter(|| {
            verifying
                .verify_strict(black_box(b"message"), &sig)
                .unwrap()
        })
    });
    g.bench_function("x25519_keygen", |b| {
        b.iter(|| black_box(PublicKey::from(&StaticSecret::random_from_rng(&mut rng)).to_bytes()))
    });
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
    targets = bench_steady, bench_ping_pong, bench_setup, bench_primitives
}
criterion_main!(benches);
