//! What the same text costs sent to each member one by one: the baseline
//! of the group figures, from real encoded frames.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::{Identity, PrekeyState, Session, x3dh};
use tacnode_domain::e2e::{PrekeyBundle, SealedBody, SealedMessage};
use tacnode_domain::{Content, MessageId, Plaintext, UnixMillis};
use tacnode_messaging::{Message, encode_plaintext_with};

/// Bytes of one direct delivery of `plaintext` on an established session
/// (the `Direct` frame) and of its answer (the `DirectAck` frame), both with
/// our 4-byte frame length. With `derived_id`, a text gets the id the node
/// gives a text, derived by both ends and so left out (a stand-in for other
/// content keeps its id on the wire). `None` if the crypto refuses (it
/// does not).
pub(crate) fn direct_frame_bytes(
    plaintext: &Plaintext,
    derived_id: bool,
) -> Option<(usize, usize)> {
    let mut rng = StdRng::seed_from_u64(0x0411_ca57);
    let alice = Identity::generate(&mut rng);
    let bob = Identity::generate(&mut rng);
    let prekeys = PrekeyState::new(&mut rng, &bob, UnixMillis(0));
    let bundle = PrekeyBundle {
        identity_key: bob.identity_key(),
        device_key: bob.device_key(),
        device_key_signature: bob.device_key_signature(),
        signed_prekey: prekeys.signed_prekey(),
        one_time_prekey: None,
    };
    let out = x3dh::initiate(&mut rng, &alice, &bundle).ok()?;
    let mut session = Session::new_initiator(&mut rng, &out).ok()?;
    // The first message opens the session; the measured one is a later one.
    session.encrypt(&mut rng, b"open").ok()?;
    let mut plaintext = plaintext.clone();
    let (a, b) = (alice.identity_key(), bob.identity_key());
    let key = tacnode_crypto::TextIdKey::between(&alice, &b, &bob.device_key()).ok()?;
    if let (true, Content::Text(text)) = (derived_id, &plaintext.content) {
        plaintext.message_id = key.id_of(&a, &b, plaintext.sent, text);
    }
    let encoded = encode_plaintext_with(&plaintext, |t, x| key.id_of(&a, &b, t, x));
    let message = session.encrypt(&mut rng, &encoded).ok()?;
    let direct = Message::Direct(SealedMessage {
        sender_identity_key: alice.identity_key(),
        body: SealedBody::Message(message),
    })
    .encode()
    .len();
    let ack = Message::DirectAck
        .encode_answer(UnixMillis(1_700_000_000_000), None)
        .len();
    Some((direct + 4, ack + 4))
}

/// A text of `len` bytes as one member writes it.
pub(crate) fn text_plaintext(len: usize, id: [u8; 16], sent: UnixMillis) -> Plaintext {
    Plaintext {
        message_id: MessageId(id),
        sent,
        content: Content::Text("x".repeat(len)),
    }
}
