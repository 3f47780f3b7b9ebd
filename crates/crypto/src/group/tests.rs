use ed25519_dalek::Signer as _;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tacnode_domain::Signature;

use super::ciphertext::signed_digest;
use super::*;

const AD: &[u8] = b"group 7 / sender alice";

/// Alice's chain and Bob's receiving copy of it (through the encoded
/// distribution, as it travels).
fn alice_and_bob(seed: u64) -> (StdRng, SenderChain, ReceiverChain) {
    let mut rng = StdRng::seed_from_u64(seed);
    let alice = SenderChain::new(&mut rng);
    let bytes = alice.distribution().to_bytes();
    assert_eq!(bytes.len(), SENDER_KEY_DISTRIBUTION_LEN);
    let bob = ReceiverChain::new(&SenderKeyDistribution::from_bytes(&bytes).unwrap());
    (rng, alice, bob)
}

fn text(i: u32) -> Vec<u8> {
    format!("message {i}").into_bytes()
}

fn send(alice: &mut SenderChain, n: u32) -> Vec<GroupCiphertext> {
    (0..n)
        .map(|i| alice.encrypt(AD, &text(i)).unwrap())
        .collect()
}

fn pickle(chain: &ReceiverChain) -> Vec<u8> {
    chain.to_bytes().to_vec()
}

/// `decrypt` fails with `expected` and leaves the chain byte-for-byte as it was.
fn refused(bob: &mut ReceiverChain, ad: &[u8], m: &GroupCiphertext, expected: GroupCryptoError) {
    let before = pickle(bob);
    assert_eq!(bob.decrypt(ad, m).map(|p| p.to_vec()), Err(expected));
    assert_eq!(pickle(bob), before);
}

#[test]
fn messages_round_trip_over_the_wire_with_the_stated_overhead() {
    let (_, mut alice, mut bob) = alice_and_bob(1);
    assert_eq!(GROUP_CIPHERTEXT_OVERHEAD, 101);
    for i in 0..20 {
        let m = alice.encrypt(AD, &text(i)).unwrap();
        assert_eq!(m.iteration(), i);
        assert_eq!(m.chain_id(), alice.chain_id());
        let wire = m.to_bytes();
        assert_eq!(wire.len(), text(i).len() + GROUP_CIPHERTEXT_OVERHEAD);
        let back = GroupCiphertext::from_bytes(&wire).unwrap();
        assert_eq!(back, m);
        assert_eq!(bob.decrypt(AD, &back).unwrap().as_slice(), text(i));
    }
    assert_eq!((alice.iteration(), bob.next_iteration()), (20, 20));
    assert_eq!(bob.skipped_keys(), 0);
    assert_eq!(bob.signing_key(), alice.signing_key());
    let empty = alice.encrypt(b"", b"").unwrap();
    assert_eq!(bob.decrypt(b"", &empty).unwrap().len(), 0);
}

#[test]
fn out_of_order_messages_open_once_each() {
    let (_, mut alice, mut bob) = alice_and_bob(2);
    let m = send(&mut alice, 10);
    assert_eq!(bob.decrypt(AD, &m[7]).unwrap().as_slice(), text(7));
    assert_eq!(bob.skipped_keys(), 7);
    for i in [3usize, 0, 6, 1, 2, 5, 4] {
        assert_eq!(bob.decrypt(AD, &m[i]).unwrap().as_slice(), text(i as u32));
    }
    assert_eq!(bob.skipped_keys(), 0);
    for i in [9usize, 8] {
        assert_eq!(bob.decrypt(AD, &m[i]).unwrap().as_slice(), text(i as u32));
    }
    for (i, msg) in m.iter().enumerate() {
        refused(&mut bob, AD, msg, GroupCryptoError::Duplicate(i as u32));
    }
}

#[test]
fn the_window_is_bounded_and_old_skipped_keys_are_dropped() {
    let (_, mut alice, mut bob) = alice_and_bob(3);
    let m = send(&mut alice, MAX_GROUP_SKIP + 2);
    let last = m.last().unwrap();
    refused(
        &mut bob,
        AD,
        last,
        GroupCryptoError::TooFarAhead {
            iteration: MAX_GROUP_SKIP + 1,
            ahead: MAX_GROUP_SKIP + 1,
        },
    );
    bob.decrypt(AD, &m[MAX_GROUP_SKIP as usize]).unwrap();
    assert_eq!(bob.skipped_keys(), MAX_GROUP_SKIP as usize);
    // Two more full jumps: beyond MAX_SKIPPED_GROUP_KEYS the lowest go.
    // Iterations 1002..=3001; bob expects 1001 next.
    let more = send(&mut alice, 2 * MAX_GROUP_SKIP);
    bob.decrypt(AD, &more[MAX_GROUP_SKIP as usize - 1]).unwrap();
    assert_eq!(bob.skipped_keys(), 2 * MAX_GROUP_SKIP as usize);
    bob.decrypt(AD, more.last().unwrap()).unwrap();
    assert_eq!(bob.skipped_keys(), MAX_SKIPPED_GROUP_KEYS);
    // 999 more keys pushed out the 999 lowest.
    refused(&mut bob, AD, &m[0], GroupCryptoError::Duplicate(0));
    refused(&mut bob, AD, &m[998], GroupCryptoError::Duplicate(998));
    assert_eq!(bob.decrypt(AD, &m[999]).unwrap().as_slice(), text(999));
    assert_eq!(
        bob.decrypt(AD, last).unwrap().as_slice(),
        text(MAX_GROUP_SKIP + 1)
    );
    // The pickle carries the full set of skipped keys.
    let back = ReceiverChain::from_bytes(&pickle(&bob)).unwrap();
    assert_eq!(pickle(&back), pickle(&bob));
}

#[test]
fn altered_messages_are_refused_without_a_state_change() {
    let (_, mut alice, mut bob) = alice_and_bob(4);
    let m = send(&mut alice, 3);
    bob.decrypt(AD, &m[0]).unwrap();
    let target = &m[2];

    let mut bad = target.clone();
    bad.signature.0[10] ^= 1;
    refused(&mut bob, AD, &bad, GroupCryptoError::BadSignature);
    let mut bad = target.clone();
    bad.ciphertext[0] ^= 1;
    refused(&mut bob, AD, &bad, GroupCryptoError::BadSignature);
    let mut bad = target.clone();
    let tag_at = bad.ciphertext.len() - 1;
    bad.ciphertext[tag_at] ^= 1;
    refused(&mut bob, AD, &bad, GroupCryptoError::BadSignature);
    let mut bad = target.clone();
    bad.iteration = 1;
    refused(&mut bob, AD, &bad, GroupCryptoError::BadSignature);
    let mut bad = target.clone();
    bad.ciphertext.truncate(3);
    refused(&mut bob, AD, &bad, GroupCryptoError::BadSignature);
    refused(
        &mut bob,
        b"group 7 / sender mallory",
        target,
        GroupCryptoError::BadSignature,
    );
    let mut bad = target.clone();
    bad.chain_id[0] ^= 1;
    refused(&mut bob, AD, &bad, GroupCryptoError::WrongChain);

    // Every byte of the wire form matters.
    let wire = target.to_bytes();
    for i in 0..wire.len() {
        let mut flipped = wire.clone();
        flipped[i] ^= 0x40;
        if let Ok(bad) = GroupCiphertext::from_bytes(&flipped) {
            let before = pickle(&bob);
            assert!(bob.decrypt(AD, &bad).is_err(), "byte {i}");
            assert_eq!(pickle(&bob), before);
        }
    }
    assert_eq!(bob.decrypt(AD, target).unwrap().as_slice(), text(2));
    assert_eq!(bob.decrypt(AD, &m[1]).unwrap().as_slice(), text(1));
}

#[test]
fn a_signed_message_that_does_not_open_changes_nothing() {
    // Only the owner can make this: a valid signature over a ciphertext
    // not made under the chain's key.
    let (_, mut alice, mut bob) = alice_and_bob(5);
    let mut m = alice.encrypt(AD, b"real").unwrap();
    m.ciphertext[0] ^= 1;
    m.signature = Signature(
        alice
            .signing
            .sign(&signed_digest(&m.chain_id, m.iteration, AD, &m.ciphertext))
            .to_bytes(),
    );
    refused(&mut bob, AD, &m, GroupCryptoError::Authentication);
}

#[test]
fn a_member_cannot_forge_another_members_messages() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut alice = SenderChain::new(&mut rng);
    let mut mallory = SenderChain::new(&mut rng);
    let alice_key = alice.distribution();
    let mut carol = ReceiverChain::new(&alice_key);
    // Mallory's own message relabelled as Alice's chain.
    let mut forged = mallory.encrypt(AD, b"from alice, honest").unwrap();
    forged.chain_id = *alice.chain_id();
    refused(&mut carol, AD, &forged, GroupCryptoError::BadSignature);
    // Mallory holds Alice's chain key (every member does): she encrypts
    // correctly under it but can only sign with her own key.
    let mut copy = ReceiverChain::new(&alice_key);
    let mut as_alice = SenderChain::from_parts(
        *alice.chain_id(),
        0,
        alice_key.chain_key.clone(),
        mallory.signing.clone(),
    );
    let forged = as_alice.encrypt(AD, b"retreat").unwrap();
    // The ciphertext is right (it opens under Alice's keys once re-signed by
    // Alice), the signature is not Alice's.
    refused(&mut carol, AD, &forged, GroupCryptoError::BadSignature);
    let mut resigned = forged.clone();
    resigned.signature = Signature(
        alice
            .signing
            .sign(&signed_digest(
                &resigned.chain_id,
                0,
                AD,
                &resigned.ciphertext,
            ))
            .to_bytes(),
    );
    assert_eq!(copy.decrypt(AD, &resigned).unwrap().as_slice(), b"retreat");
    // Carol still reads Alice.
    let real = alice.encrypt(AD, b"hold").unwrap();
    assert_eq!(carol.decrypt(AD, &real).unwrap().as_slice(), b"hold");
}

#[test]
fn forward_secrecy_a_later_state_opens_no_earlier_message() {
    let (_, mut alice, mut bob) = alice_and_bob(7);
    let m = send(&mut alice, 5);
    // Sender side: the chain after message 3 cannot derive message 3's key.
    let mut rng = StdRng::seed_from_u64(70);
    let mut alice2 = SenderChain::new(&mut rng);
    let early = alice2.encrypt(AD, b"early").unwrap();
    let _ = alice2.encrypt(AD, b"later").unwrap();
    let captured = SenderChain::from_bytes(&alice2.to_bytes()).unwrap();
    let mut from_capture = ReceiverChain::new(&captured.distribution());
    refused(
        &mut from_capture,
        AD,
        &early,
        GroupCryptoError::BeforeChain {
            iteration: 0,
            first: 2,
        },
    );
    // Receiver side: after 3 and 4 are opened, a pickle holds neither key.
    bob.decrypt(AD, &m[3]).unwrap();
    bob.decrypt(AD, &m[4]).unwrap();
    let mut captured = ReceiverChain::from_bytes(&pickle(&bob)).unwrap();
    refused(&mut captured, AD, &m[3], GroupCryptoError::Duplicate(3));
    refused(&mut captured, AD, &m[4], GroupCryptoError::Duplicate(4));
    // Messages skipped and not yet received still open from the pickle.
    assert_eq!(captured.decrypt(AD, &m[2]).unwrap().as_slice(), text(2));
    // A member added later reads from its distribution on, nothing before.
    let mut late = ReceiverChain::new(&alice.distribution());
    assert_eq!(late.first_iteration(), 5);
    refused(
        &mut late,
        AD,
        &m[4],
        GroupCryptoError::BeforeChain {
            iteration: 4,
            first: 5,
        },
    );
    let after = alice.encrypt(AD, b"after").unwrap();
    assert_eq!(late.decrypt(AD, &after).unwrap().as_slice(), b"after");
}

#[test]
fn rotation_is_a_new_chain_the_old_receivers_cannot_read() {
    let (mut rng, mut alice, mut removed) = alice_and_bob(8);
    assert!(!alice.should_rotate(ROTATE_AFTER_MESSAGES));
    let m = send(&mut alice, 3);
    assert!(alice.should_rotate(3) && !alice.should_rotate(4));
    removed.decrypt(AD, &m[0]).unwrap();
    let mut rotated = SenderChain::new(&mut rng);
    assert_ne!(rotated.chain_id(), alice.chain_id());
    let mut kept = ReceiverChain::new(&rotated.distribution());
    let fresh = rotated.encrypt(AD, b"after removal").unwrap();
    refused(&mut removed, AD, &fresh, GroupCryptoError::WrongChain);
    assert_eq!(
        kept.decrypt(AD, &fresh).unwrap().as_slice(),
        b"after removal"
    );
}

#[test]
fn pickles_round_trip_and_continue() {
    let (_, mut alice, mut bob) = alice_and_bob(9);
    let m = send(&mut alice, 4);
    bob.decrypt(AD, &m[3]).unwrap();
    let mut alice = SenderChain::from_bytes(&alice.to_bytes()).unwrap();
    assert_eq!(
        alice.to_bytes(),
        SenderChain::from_bytes(&alice.to_bytes())
            .unwrap()
            .to_bytes()
    );
    let mut bob = ReceiverChain::from_bytes(&pickle(&bob)).unwrap();
    assert_eq!(bob.skipped_keys(), 3);
    assert_eq!((bob.first_iteration(), bob.next_iteration()), (0, 4));
    let next = alice.encrypt(AD, b"after restore").unwrap();
    assert_eq!(next.iteration(), 4);
    assert_eq!(bob.decrypt(AD, &next).unwrap().as_slice(), b"after restore");
    assert_eq!(bob.decrypt(AD, &m[1]).unwrap().as_slice(), text(1));
}

#[test]
fn bad_pickles_are_refused() {
    let (_, mut alice, mut bob) = alice_and_bob(10);
    let m = send(&mut alice, 3);
    bob.decrypt(AD, &m[2]).unwrap();
    let sender = alice.to_bytes().to_vec();
    let receiver = pickle(&bob);
    for good in [&sender, &receiver] {
        for cut in 0..good.len() {
            assert!(SenderChain::from_bytes(&good[..cut]).is_err());
            assert!(ReceiverChain::from_bytes(&good[..cut]).is_err());
        }
        let mut long = good.clone();
        long.push(0);
        assert!(SenderChain::from_bytes(&long).is_err());
        assert!(ReceiverChain::from_bytes(&long).is_err());
    }
    assert_eq!(
        SenderChain::from_bytes(&receiver).map(|_| ()),
        Err(crate::PickleError::BadMagic("group sender chain"))
    );
    let mut v2 = sender.clone();
    v2[4] = 2;
    assert_eq!(
        SenderChain::from_bytes(&v2).map(|_| ()),
        Err(crate::PickleError::UnsupportedVersion(2))
    );
    // Layout: magic 4, version 1, chain id 16, first 4, next 4, chain key
    // 32, signing key 32, count 4, then (iteration 4, key 32) × count.
    let skipped_at = 4 + 1 + 16 + 4 + 4 + 32 + 32 + 4;
    let mut outside = receiver.clone();
    outside[skipped_at..skipped_at + 4].copy_from_slice(&7u32.to_be_bytes());
    assert!(matches!(
        ReceiverChain::from_bytes(&outside),
        Err(crate::PickleError::Inconsistent(_))
    ));
    let mut reversed = receiver.clone();
    reversed[skipped_at..skipped_at + 4].copy_from_slice(&1u32.to_be_bytes());
    reversed[skipped_at + 36..skipped_at + 40].copy_from_slice(&0u32.to_be_bytes());
    assert!(matches!(
        ReceiverChain::from_bytes(&reversed),
        Err(crate::PickleError::Inconsistent(_))
    ));
    let mut first_after_next = receiver.clone();
    first_after_next[21..25].copy_from_slice(&9u32.to_be_bytes());
    assert!(ReceiverChain::from_bytes(&first_after_next).is_err());
    let mut many = receiver.clone();
    many[skipped_at - 4..skipped_at].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        ReceiverChain::from_bytes(&many),
        Err(crate::PickleError::LimitExceeded { .. })
    ));
}

#[test]
fn an_exhausted_chain_refuses_to_encrypt() {
    let (_, alice, _) = alice_and_bob(11);
    let mut bytes = alice.to_bytes().to_vec();
    bytes[21..25].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut last = SenderChain::from_bytes(&bytes).unwrap();
    assert_eq!(
        last.encrypt(AD, b"x").map(|_| ()),
        Err(GroupCryptoError::ChainExhausted)
    );
    assert_eq!(last.iteration(), u32::MAX);
}

#[test]
fn distributions_decode_strictly_and_print_no_secret() {
    let (_, alice, _) = alice_and_bob(12);
    let d = alice.distribution();
    let bytes = d.to_bytes().to_vec();
    let back = SenderKeyDistribution::from_bytes(&bytes).unwrap();
    assert_eq!(back.to_bytes().as_slice(), bytes.as_slice());
    assert_eq!((back.chain_id(), back.iteration()), (alice.chain_id(), 0));
    assert_eq!(back.signing_key(), alice.signing_key());
    for len in [0, 1, bytes.len() - 1, bytes.len() + 1] {
        let mut b = bytes.clone();
        b.resize(len, 0);
        let err = SenderKeyDistribution::from_bytes(&b).unwrap_err();
        if len == 0 || len > 1 {
            assert!(matches!(err, GroupCryptoError::WrongLength { .. }), "{len}");
        }
    }
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert_eq!(
        SenderKeyDistribution::from_bytes(&v2).map(|_| ()),
        Err(GroupCryptoError::UnsupportedVersion {
            what: "sender key distribution",
            version: 2
        })
    );
    // The identity point: small order, any signature would verify.
    let mut weak = bytes.clone();
    let key_at = weak.len() - 32;
    weak[key_at..].copy_from_slice(&[0; 32]);
    weak[key_at] = 1;
    assert_eq!(
        SenderKeyDistribution::from_bytes(&weak).map(|_| ()),
        Err(GroupCryptoError::InvalidSigningKey)
    );
    let secret_hex: String = bytes[21..53].iter().map(|b| format!("{b:02x}")).collect();
    for printed in [
        format!("{d:?}"),
        format!("{alice:?}"),
        format!("{:?}", ReceiverChain::new(&d)),
    ] {
        assert!(printed.contains("<redacted>"), "{printed}");
        assert!(!printed.contains(&secret_hex));
        assert!(!printed.contains(&format!("{:?}", &bytes[21..53])));
    }
}

#[test]
fn ciphertexts_decode_strictly() {
    let (_, mut alice, _) = alice_and_bob(13);
    let wire = alice.encrypt(AD, b"").unwrap().to_bytes();
    assert_eq!(wire.len(), GROUP_CIPHERTEXT_OVERHEAD);
    assert!(GroupCiphertext::from_bytes(&wire).is_ok());
    for cut in 0..wire.len() {
        assert!(GroupCiphertext::from_bytes(&wire[..cut]).is_err());
    }
    let mut v0 = wire.clone();
    v0[0] = 0;
    assert!(matches!(
        GroupCiphertext::from_bytes(&v0),
        Err(GroupCryptoError::UnsupportedVersion { version: 0, .. })
    ));
    let mut huge = wire.clone();
    huge.resize(GROUP_CIPHERTEXT_OVERHEAD + MAX_GROUP_PLAINTEXT_BYTES + 1, 0);
    assert!(matches!(
        GroupCiphertext::from_bytes(&huge),
        Err(GroupCryptoError::CiphertextTooLarge(_))
    ));
    assert_eq!(
        alice
            .encrypt(AD, &vec![0; MAX_GROUP_PLAINTEXT_BYTES + 1])
            .map(|_| ()),
        Err(GroupCryptoError::PlaintextTooLarge(
            MAX_GROUP_PLAINTEXT_BYTES + 1
        ))
    );
    assert_eq!(
        alice
            .encrypt(&[0; MAX_GROUP_ASSOCIATED_DATA_BYTES + 1], b"")
            .map(|_| ()),
        Err(GroupCryptoError::AssociatedDataTooLarge(
            MAX_GROUP_ASSOCIATED_DATA_BYTES + 1
        ))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any delivery order of messages within the window opens every message
    /// exactly once; a second delivery of any is a duplicate.
    #[test]
    fn any_order_within_the_window_opens_each_exactly_once(
        seed in any::<u64>(),
        count in 1u32..80,
        gap in 0u32..(MAX_GROUP_SKIP - 80),
        redeliver in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let (_, mut alice, mut bob) = alice_and_bob(seed);
        // Messages before `gap` are never delivered: the window is about
        // the distance from the next expected, not from zero.
        send(&mut alice, gap);
        let messages: Vec<(u32, GroupCiphertext)> = (gap..gap + count)
            .map(|i| (i, alice.encrypt(AD, &text(i)).unwrap()))
            .collect();
        let mut order = messages.clone();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut opened = std::collections::BTreeSet::new();
        for (i, m) in &order {
            let plaintext = bob.decrypt(AD, m).unwrap().to_vec();
            prop_assert_eq!(plaintext, text(*i));
            prop_assert!(opened.insert(*i));
        }
        prop_assert_eq!(opened.len(), count as usize);
        prop_assert_eq!(bob.skipped_keys(), gap as usize);
        for index in redeliver {
            let (i, m) = index.get(&messages);
            let before = pickle(&bob);
            prop_assert_eq!(bob.decrypt(AD, m).map(|_| ()), Err(GroupCryptoError::Duplicate(*i)));
            prop_assert_eq!(pickle(&bob), before);
        }
    }

    #[test]
    fn corrupted_inputs_error_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = GroupCiphertext::from_bytes(&bytes);
        let _ = SenderKeyDistribution::from_bytes(&bytes);
        let _ = SenderChain::from_bytes(&bytes);
        let _ = ReceiverChain::from_bytes(&bytes);
        for magic in [&b"TNGS\x01"[..], &b"TNGR\x01"[..]] {
            let mut with_magic = magic.to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = SenderChain::from_bytes(&with_magic);
            let _ = ReceiverChain::from_bytes(&with_magic);
        }
    }
}
