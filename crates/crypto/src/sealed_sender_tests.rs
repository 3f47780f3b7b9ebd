#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_domain::e2e::{RatchetHeader, X3dhInitial};

use super::*;
use crate::dh::tests::low_order_points;

fn ratchet_message(rng: &mut StdRng, len: usize) -> RatchetMessage {
    use rand::{Rng as _, RngExt as _};
    let mut ciphertext = vec![0u8; len];
    rng.fill_bytes(&mut ciphertext);
    RatchetMessage {
        header: RatchetHeader {
            ratchet_key: DhPublicKey(rng.random()),
            previous_chain_length: 3,
            message_number: 7,
            nonce: rng.random(),
        },
        ciphertext,
    }
}

fn later_message(rng: &mut StdRng, sender: &Identity) -> SealedMessage {
    SealedMessage {
        sender_identity_key: sender.identity_key(),
        body: SealedBody::Message(ratchet_message(rng, 208)),
    }
}

fn first_message(rng: &mut StdRng, sender: &Identity) -> SealedMessage {
    SealedMessage {
        sender_identity_key: sender.identity_key(),
        body: SealedBody::Initial(Box::new(X3dhInitial {
            identity_key: sender.identity_key(),
            device_key: sender.device_key(),
            device_key_signature: sender.device_key_signature(),
            ephemeral_key: public_of(&StaticSecret::random_from_rng(&mut *rng)),
            signed_prekey_id: 4,
            one_time_prekey_id: Some(9),
            message: ratchet_message(rng, 208),
        })),
    }
}

fn parties() -> (StdRng, Identity, Identity) {
    let mut rng = StdRng::seed_from_u64(14);
    let alice = Identity::generate(&mut rng);
    let bob = Identity::generate(&mut rng);
    (rng, alice, bob)
}

#[test]
fn round_trip_of_a_later_and_a_first_message() {
    let (mut rng, alice, bob) = parties();
    for sealed in [
        later_message(&mut rng, &alice),
        first_message(&mut rng, &alice),
    ] {
        let boxed = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
        assert_eq!(open(&bob, &boxed).unwrap(), sealed);
    }
}

#[test]
fn nothing_in_the_sealed_form_names_the_sender() {
    let (mut rng, alice, bob) = parties();
    let sealed = first_message(&mut rng, &alice);
    let boxed = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    let AnonymousBody::Initial(i) = &boxed.body else {
        panic!("a first message stays one");
    };
    // Everything the holder sees: the box and the anonymous body.
    let mut seen = boxed.sealed_sender.ciphertext.clone();
    seen.extend_from_slice(boxed.sealed_sender.ephemeral_key.as_bytes());
    seen.extend_from_slice(i.ephemeral_key.as_bytes());
    seen.extend_from_slice(&i.message.ciphertext);
    for needle in [
        &alice.identity_key().as_bytes()[..],
        &alice.device_key().as_bytes()[..],
        &alice.device_key_signature().as_bytes()[..],
    ] {
        assert!(!seen.windows(needle.len()).any(|w| w == needle));
    }
    assert_eq!(
        boxed.sealed_sender.ciphertext.len(),
        SEALED_SENDER_CIPHERTEXT_LEN_INITIAL
    );
}

#[test]
fn every_box_has_its_own_ephemeral_key() {
    let (mut rng, alice, bob) = parties();
    let sealed = later_message(&mut rng, &alice);
    let a = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    let b = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    assert_ne!(a.sealed_sender, b.sealed_sender);
    assert_eq!(
        a.sealed_sender.ciphertext.len(),
        SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE
    );
}

#[test]
fn another_recipient_cannot_open_it() {
    let (mut rng, alice, bob) = parties();
    let carol = Identity::generate(&mut rng);
    let sealed = later_message(&mut rng, &alice);
    let boxed = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    assert_eq!(open(&carol, &boxed), Err(SealedSenderError::Unauthentic));
    assert_eq!(open(&alice, &boxed), Err(SealedSenderError::Unauthentic));
}

#[test]
fn a_tampered_box_is_refused() {
    let (mut rng, alice, bob) = parties();
    let sealed = later_message(&mut rng, &alice);
    let boxed = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    for i in 0..boxed.sealed_sender.ciphertext.len() {
        let mut bad = boxed.clone();
        bad.sealed_sender.ciphertext[i] ^= 0x01;
        assert_eq!(open(&bob, &bad), Err(SealedSenderError::Unauthentic), "{i}");
    }
    let mut bad = boxed.clone();
    bad.sealed_sender.ephemeral_key.0[0] ^= 0x01;
    assert!(open(&bob, &bad).is_err());
    let mut short = boxed.clone();
    short.sealed_sender.ciphertext.pop();
    assert!(matches!(
        open(&bob, &short),
        Err(SealedSenderError::WrongLength { .. })
    ));
}

#[test]
fn a_tampered_ratchet_message_or_header_is_refused() {
    let (mut rng, alice, bob) = parties();
    let sealed = first_message(&mut rng, &alice);
    let boxed = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    let edits: [fn(&mut AnonymousInitial); 9] = [
        |i| i.message.ciphertext[0] ^= 1,
        |i| i.message.ciphertext.push(0),
        |i| i.message.header.ratchet_key.0[5] ^= 1,
        |i| i.message.header.message_number += 1,
        |i| i.message.header.previous_chain_length += 1,
        |i| i.message.header.nonce[0] ^= 1,
        |i| i.ephemeral_key.0[0] ^= 1,
        |i| i.signed_prekey_id += 1,
        |i| i.one_time_prekey_id = None,
    ];
    for (n, edit) in edits.iter().enumerate() {
        let mut bad = boxed.clone();
        let AnonymousBody::Initial(i) = &mut bad.body else {
            panic!("a first message stays one");
        };
        edit(i);
        assert_eq!(open(&bob, &bad), Err(SealedSenderError::Unauthentic), "{n}");
    }
}

#[test]
fn a_box_moved_onto_another_ratchet_message_is_refused() {
    let (mut rng, alice, bob) = parties();
    let sealed = later_message(&mut rng, &alice);
    let one = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    let sealed = later_message(&mut rng, &alice);
    let other = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    let moved = SenderSealedMessage {
        sealed_sender: one.sealed_sender.clone(),
        body: other.body.clone(),
    };
    assert_eq!(open(&bob, &moved), Err(SealedSenderError::Unauthentic));
    // A first message's box on a later message: the length gives it away.
    let sealed = first_message(&mut rng, &alice);
    let first = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    let moved = SenderSealedMessage {
        sealed_sender: first.sealed_sender,
        body: other.body,
    };
    assert!(matches!(
        open(&bob, &moved),
        Err(SealedSenderError::WrongLength { .. })
    ));
}

#[test]
fn low_order_keys_are_refused_both_ways() {
    let (mut rng, alice, bob) = parties();
    let sealed = later_message(&mut rng, &alice);
    let boxed = seal(&mut rng, &bob.device_key(), &sealed).unwrap();
    for p in low_order_points() {
        assert_eq!(
            seal(&mut rng, &DhPublicKey(p), &sealed),
            Err(SealedSenderError::NonContributory)
        );
        let mut bad = boxed.clone();
        bad.sealed_sender.ephemeral_key = DhPublicKey(p);
        assert_eq!(open(&bob, &bad), Err(SealedSenderError::NonContributory));
    }
}

#[test]
fn a_box_naming_an_invalid_key_is_refused() {
    // Sealed by hand around bytes that are not an Ed25519 point.
    let (mut rng, _alice, bob) = parties();
    let body = AnonymousBody::Message(ratchet_message(&mut rng, 32));
    let ephemeral = StaticSecret::random_from_rng(&mut rng);
    let ephemeral_key = public_of(&ephemeral);
    let shared = dh(&ephemeral, &bob.device_key()).unwrap();
    let key = box_key(shared.as_bytes(), &ephemeral_key, &bob.device_key());
    let ad = associated_data(&bob.device_key(), &ephemeral_key, &body);
    // Half of all y coordinates are not on the curve: find one.
    let not_a_point = (2u8..=255)
        .map(|b| {
            let mut k = [0u8; 32];
            k[0] = b;
            k
        })
        .find(|k| IdentityKey::from_bytes(k).is_err())
        .unwrap();
    let ciphertext = aead::seal(&key, &ZERO_NONCE, &ad, &not_a_point);
    let message = SenderSealedMessage {
        sealed_sender: SealedSender {
            ephemeral_key,
            ciphertext,
        },
        body,
    };
    assert_eq!(
        open(&bob, &message),
        Err(SealedSenderError::InvalidIdentityKey)
    );
}
