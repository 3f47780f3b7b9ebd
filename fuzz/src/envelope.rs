//! `Message::decode`, `Message::decode_request`, `Message::decode_answer`,
//! `decode_sealed`, `decode_mailbox_payload` and `decode_plaintext` on
//! arbitrary bytes, with the round-trip invariant: whatever decodes
//! re-encodes to bytes that decode to an equal value (a direct delivery
//! leaves its senders' keys to the connection, and gets the peer's back).

use std::sync::OnceLock;

use rand::SeedableRng;
use tacnode_domain::e2e::MailboxPayload;
use tacnode_domain::{IdentityKey, UnixMillis};
use tacnode_messaging::{
    Message, decode_mailbox_payload, decode_plaintext, decode_plaintext_with, decode_sealed,
    encode_mailbox_payload, encode_plaintext, encode_plaintext_with, encode_sealed,
};

/// The authenticated peer requests come from in these runs.
fn peer() -> IdentityKey {
    static PEER: OnceLock<IdentityKey> = OnceLock::new();
    *PEER.get_or_init(|| {
        tacnode_crypto::Identity::generate(&mut rand::rngs::StdRng::seed_from_u64(7)).identity_key()
    })
}

/// `m` as the peer's connection delivers it: every direct delivery's
/// sender is the peer.
fn from_peer(m: Message) -> Message {
    match m {
        Message::Direct(mut s) => {
            s.sender_identity_key = peer();
            Message::Direct(s)
        }
        Message::DirectBatch(mut list) => {
            for s in &mut list {
                s.sender_identity_key = peer();
            }
            Message::DirectBatch(list)
        }
        other => other,
    }
}

fn round_trip(m: Message) {
    let bytes = m.encode();
    let again = Message::decode_request(&bytes, &peer()).expect("re-encoded message must decode");
    assert_eq!(again, from_peer(m), "message changed across a round trip");
    assert_eq!(again.encode(), bytes, "encoding is not deterministic");
}

/// Feeds `data` to every decoder.
pub fn run(data: &[u8]) {
    if let Ok(m) = Message::decode(data) {
        round_trip(m);
    }
    if let Ok(m) = Message::decode_request(data, &peer()) {
        round_trip(m);
    }
    if let Ok(a) = Message::decode_answer(data) {
        let bytes = a
            .message
            .encode_answer(a.time.unwrap_or(UnixMillis(0)), a.observed);
        let again = Message::decode_answer(&bytes).expect("re-encoded answer must decode");
        assert_eq!(again, a, "answer changed across a round trip");
    }
    if let Ok(s) = decode_sealed(data) {
        let bytes = encode_sealed(&s);
        let again = decode_sealed(&bytes).expect("re-encoded sealed message must decode");
        assert_eq!(again, s, "sealed message changed across a round trip");
    }
    if let Ok(p) = decode_mailbox_payload(data) {
        let bytes = match &p {
            MailboxPayload::SenderSealed(m) => encode_mailbox_payload(m),
            MailboxPayload::Unsealed(s) => encode_sealed(s),
        };
        let again = decode_mailbox_payload(&bytes).expect("re-encoded mailbox payload must decode");
        assert_eq!(again, p, "mailbox payload changed across a round trip");
    }
    // A text's id derived by both ends (a stand-in for the node's keyed
    // MAC): left out when it matches, restored on decoding.
    let id_of = |sent: UnixMillis, text: &str| {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&sent.0.to_be_bytes());
        id[8] = u8::try_from(text.len() % 256).unwrap_or(0);
        tacnode_domain::MessageId(id)
    };
    if let Ok(p) = decode_plaintext_with(data, id_of) {
        let bytes = encode_plaintext_with(&p, id_of);
        let again = decode_plaintext_with(&bytes, id_of).expect("re-encoded plaintext must decode");
        assert_eq!(again, p, "plaintext changed across a round trip");
    }
    if let Ok(p) = decode_plaintext(data) {
        let bytes = encode_plaintext(&p);
        let again = decode_plaintext(&bytes).expect("re-encoded plaintext must decode");
        assert_eq!(again, p, "plaintext changed across a round trip");
    }
}
