//! `Message::decode`, `decode_sealed` and `decode_plaintext` on arbitrary
//! bytes, with the round-trip invariant: whatever decodes re-encodes to bytes
//! that decode to an equal value.

use tacnode_messaging::{
    Message, decode_plaintext, decode_sealed, encode_plaintext, encode_sealed,
};

/// Feeds `data` to all three decoders.
pub fn run(data: &[u8]) {
    if let Ok(m) = Message::decode(data) {
        let bytes = m.encode();
        let again = Message::decode(&bytes).expect("re-encoded message must decode");
        assert_eq!(again, m, "message changed across a round trip");
        assert_eq!(again.encode(), bytes, "encoding is not deterministic");
    }
    if let Ok(s) = decode_sealed(data) {
        let bytes = encode_sealed(&s);
        let again = decode_sealed(&bytes).expect("re-encoded sealed message must decode");
        assert_eq!(again, s, "sealed message changed across a round trip");
    }
    if let Ok(p) = decode_plaintext(data) {
        let bytes = encode_plaintext(&p);
        let again = decode_plaintext(&bytes).expect("re-encoded plaintext must decode");
        assert_eq!(again, p, "plaintext changed across a round trip");
    }
}
