//! Wire overhead of a normal Double Ratchet message against vodozemac's Olm.

use prost::Message as _;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::{Identity, PrekeyState, Session, x3dh};
use tacnode_domain::UnixMillis;
use tacnode_domain::e2e::RatchetMessage;
use vodozemac::olm::{Account, OlmMessage, SessionConfig};

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

fn wire_len(m: &RatchetMessage) -> usize {
    WireMessage {
        header: Some(WireHeader {
            ratchet_key: m.header.ratchet_key.0.to_vec(),
            previous_chain_length: m.header.previous_chain_length,
            message_number: m.header.message_number,
            nonce: m.header.nonce.to_vec(),
        }),
        ciphertext: m.ciphertext.clone(),
    }
    .encoded_len()
}

const PLAINTEXT: [u8; 256] = [0x61; 256];

#[test]
fn normal_message_overhead_is_within_16_bytes_of_olm() {
    // Ours: a message in the middle of a conversation (pn > 0, n > 0).
    let mut rng = StdRng::seed_from_u64(1);
    let alice_id = Identity::generate(&mut rng);
    let bob_id = Identity::generate(&mut rng);
    let mut prekeys = PrekeyState::new(&mut rng, &bob_id, UnixMillis(1));
    let bundle = prekeys.bundle(&bob_id, None).unwrap();
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
    for _ in 0..3 {
        let m = bob.encrypt(&mut rng, b"x").unwrap();
        alice.decrypt(&m).unwrap();
    }
    alice.encrypt(&mut rng, b"y").unwrap();
    let m = alice.encrypt(&mut rng, &PLAINTEXT).unwrap();
    assert!(m.header.previous_chain_length > 0 && m.header.message_number > 0);
    let ours = wire_len(&m) - PLAINTEXT.len();

    // vodozemac: a normal (not pre-key) message after one round trip.
    let valice = Account::new();
    let mut vbob = Account::new();
    vbob.generate_one_time_keys(1);
    let otk = *vbob.one_time_keys().values().next().unwrap();
    let mut a = valice
        .create_outbound_session(SessionConfig::version_1(), vbob.curve25519_key(), otk)
        .unwrap();
    let OlmMessage::PreKey(pre) = a.encrypt(b"hi").unwrap() else {
        panic!("first Olm message is a pre-key message")
    };
    let mut b = vbob
        .create_inbound_session(SessionConfig::version_1(), valice.curve25519_key(), &pre)
        .unwrap()
        .session;
    a.decrypt(&b.encrypt(b"x").unwrap()).unwrap();
    a.encrypt(b"y").unwrap();
    let olm = a.encrypt(PLAINTEXT).unwrap();
    assert!(matches!(olm, OlmMessage::Normal(_)));
    let theirs = olm.to_parts().1.len() - PLAINTEXT.len();

    println!("wire overhead of a 256-byte message: tacnode {ours} B, vodozemac Olm v1 {theirs} B");
    assert!(
        ours <= theirs + 16,
        "tacnode {ours} B > vodozemac {theirs} B + 16"
    );
}
