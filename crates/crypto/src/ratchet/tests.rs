use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use tacnode_domain::UnixMillis;

use super::*;
use crate::dh::tests::low_order_points;
use crate::{Identity, PrekeyState, x3dh};

struct Pair {
    rng: StdRng,
    alice: Session,
    bob: Session,
}

/// Runs X3DH and delivers Alice's first message, so both sides have chains.
fn pair(seed: u64) -> Pair {
    let mut rng = StdRng::seed_from_u64(seed);
    let alice_id = Identity::generate(&mut rng);
    let bob_id = Identity::generate(&mut rng);
    let mut prekeys = PrekeyState::new(&mut rng, &bob_id, UnixMillis(1));
    prekeys.generate_one_time_prekeys(&mut rng, 1).unwrap();
    let bundle = prekeys.bundle(&bob_id, Some(1)).unwrap();
    let out = x3dh::initiate(&mut rng, &alice_id, &bundle).unwrap();
    let mut alice = Session::new_initiator(&mut rng, &out).unwrap();
    let first = alice.encrypt(&mut rng, b"hello bob").unwrap();
    let (bob, pt) = x3dh::respond(
        &bob_id,
        &mut prekeys,
        &out.initial_message(first),
        UnixMillis(2),
    )
    .unwrap();
    assert_eq!(pt.as_slice(), b"hello bob");
    assert_eq!(bob.remote_identity(), alice_id.identity_key());
    assert!(bob.has_received() && !alice.has_received());
    assert_eq!(alice.remote_identity(), bob_id.identity_key());
    Pair { rng, alice, bob }
}

fn pickle(s: &Session) -> Vec<u8> {
    s.to_bytes().to_vec()
}

#[test]
fn ping_pong_over_many_turns() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(1);
    for turn in 0..10u32 {
        let (from, to) = if turn % 2 == 0 {
            (&mut bob, &mut alice)
        } else {
            (&mut alice, &mut bob)
        };
        let before = from.ratchet_key();
        for i in 0..3u32 {
            let text = format!("turn {turn} message {i}");
            let m = from.encrypt(&mut rng, text.as_bytes()).unwrap();
            assert_eq!(m.header.message_number, i);
            assert_eq!(to.decrypt(&m).unwrap().as_slice(), text.as_bytes());
        }
        assert_ne!(
            from.ratchet_key(),
            before,
            "every turn moves the DH ratchet"
        );
    }
}

#[test]
fn responder_cannot_send_before_receiving() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut s = Session::new_responder(
        &SharedKey([1; 32]),
        AssociatedData([0; ASSOCIATED_DATA_LEN]),
        Identity::generate(&mut rng).identity_key(),
        StaticSecret::random_from_rng(&mut rng),
        DhPublicKey([9; 32]),
    );
    assert_eq!(
        s.encrypt(&mut rng, b"x").unwrap_err(),
        EncryptError::NoSendingChain
    );
    let big = vec![0u8; MAX_PLAINTEXT_BYTES + 1];
    assert_eq!(
        s.encrypt(&mut rng, &big).unwrap_err(),
        EncryptError::PlaintextTooLarge(MAX_PLAINTEXT_BYTES + 1)
    );
}

/// Asserts `message` is rejected with `expected`, the session is unchanged,
/// and `valid` still decrypts afterwards.
fn rejected_then_usable(
    session: &mut Session,
    message: &RatchetMessage,
    expected: DecryptError,
    valid: &RatchetMessage,
    text: &[u8],
) {
    let before = pickle(session);
    assert_eq!(session.decrypt(message).unwrap_err(), expected);
    assert_eq!(
        pickle(session),
        before,
        "state changed by a rejected message"
    );
    assert_eq!(session.decrypt(valid).unwrap().as_slice(), text);
}

#[test]
fn bad_messages_leave_the_session_usable() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(3);
    // Same chain.
    let m = alice.encrypt(&mut rng, b"one").unwrap();
    let mut bad = m.clone();
    *bad.ciphertext.last_mut().unwrap() ^= 1;
    rejected_then_usable(&mut bob, &bad, DecryptError::Authentication, &m, b"one");

    let m = alice.encrypt(&mut rng, b"two").unwrap();
    let mut bad = m.clone();
    bad.ciphertext[0] ^= 0x80;
    rejected_then_usable(&mut bob, &bad, DecryptError::Authentication, &m, b"two");

    let m = alice.encrypt(&mut rng, b"three").unwrap();
    let mut bad = m.clone();
    bad.header.previous_chain_length += 1;
    rejected_then_usable(&mut bob, &bad, DecryptError::Authentication, &m, b"three");

    let m = alice.encrypt(&mut rng, b"four").unwrap();
    let mut bad = m.clone();
    bad.header.message_number += 1;
    rejected_then_usable(&mut bob, &bad, DecryptError::Authentication, &m, b"four");

    let m = alice.encrypt(&mut rng, b"five").unwrap();
    let mut bad = m.clone();
    bad.ciphertext.truncate(TAG_LEN - 1);
    rejected_then_usable(&mut bob, &bad, DecryptError::Authentication, &m, b"five");

    // A changed ratchet key is a (bogus) new chain: tentative DH ratchet, then rejected.
    let m = alice.encrypt(&mut rng, b"six").unwrap();
    let mut bad = m.clone();
    bad.header.ratchet_key.0[0] ^= 0x40;
    rejected_then_usable(&mut bob, &bad, DecryptError::Authentication, &m, b"six");

    for point in low_order_points() {
        let m = alice.encrypt(&mut rng, b"seven").unwrap();
        let mut bad = m.clone();
        bad.header.ratchet_key = DhPublicKey(point);
        rejected_then_usable(
            &mut bob,
            &bad,
            DecryptError::InvalidRatchetKey,
            &m,
            b"seven",
        );
    }

    // Gap over MAX_SKIP in the current chain.
    let m = alice.encrypt(&mut rng, b"eight").unwrap();
    let mut bad = m.clone();
    bad.header.message_number += MAX_SKIP + 1;
    rejected_then_usable(
        &mut bob,
        &bad,
        DecryptError::TooManySkipped {
            skip: u64::from(MAX_SKIP) + 1,
        },
        &m,
        b"eight",
    );

    // Gap over MAX_SKIP in the chain being closed (pn) and in a new chain (n).
    let reply = bob.encrypt(&mut rng, b"reply").unwrap();
    alice.decrypt(&reply).unwrap();
    let m = alice.encrypt(&mut rng, b"nine").unwrap();
    let mut bad = m.clone();
    bad.header.previous_chain_length += MAX_SKIP + 1;
    let err = bob.decrypt(&bad).unwrap_err();
    assert!(
        matches!(err, DecryptError::TooManySkipped { .. }),
        "{err:?}"
    );
    let mut bad = m.clone();
    bad.header.message_number = MAX_SKIP + 1;
    rejected_then_usable(
        &mut bob,
        &bad,
        DecryptError::TooManySkipped {
            skip: u64::from(MAX_SKIP) + 1,
        },
        &m,
        b"nine",
    );

    // Exactly MAX_SKIP is allowed.
    let mut skipped = Vec::new();
    for _ in 0..MAX_SKIP {
        skipped.push(alice.encrypt(&mut rng, b"s").unwrap());
    }
    let m = alice.encrypt(&mut rng, b"ten").unwrap();
    assert_eq!(bob.decrypt(&m).unwrap().as_slice(), b"ten");
    assert_eq!(bob.skipped_keys().len(), MAX_SKIP as usize);
    assert_eq!(bob.decrypt(&skipped[7]).unwrap().as_slice(), b"s");

    let mut huge = m.clone();
    huge.ciphertext = vec![0; MAX_CIPHERTEXT_BYTES + 1];
    assert_eq!(
        bob.decrypt(&huge).unwrap_err(),
        DecryptError::CiphertextTooLarge(MAX_CIPHERTEXT_BYTES + 1)
    );
}

#[test]
fn duplicates_are_replays_in_every_position() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(4);
    let a: Vec<_> = (0..3)
        .map(|_| alice.encrypt(&mut rng, b"a").unwrap())
        .collect();
    bob.decrypt(&a[2]).unwrap();
    assert_eq!(bob.decrypt(&a[2]).unwrap_err(), DecryptError::Replay);
    bob.decrypt(&a[0]).unwrap();
    assert_eq!(bob.decrypt(&a[0]).unwrap_err(), DecryptError::Replay);
    // Finish the chain, then replay into it.
    let r = bob.encrypt(&mut rng, b"r").unwrap();
    alice.decrypt(&r).unwrap();
    assert_eq!(alice.decrypt(&r).unwrap_err(), DecryptError::Replay);
    let b = alice.encrypt(&mut rng, b"b").unwrap();
    bob.decrypt(&b).unwrap();
    let before = pickle(&bob);
    assert_eq!(bob.decrypt(&a[2]).unwrap_err(), DecryptError::Replay);
    assert_eq!(pickle(&bob), before);
    // The skipped a[1] still decrypts once.
    assert_eq!(bob.decrypt(&a[1]).unwrap().as_slice(), b"a");
    assert_eq!(bob.decrypt(&a[1]).unwrap_err(), DecryptError::Replay);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn forward_secrecy_used_keys_are_gone() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(5);
    let m0 = alice.encrypt(&mut rng, b"zero").unwrap();
    let m1 = alice.encrypt(&mut rng, b"one").unwrap();
    // Bob's next message key, computed from his state before decrypting.
    let (ck1, mk0) = bob.receiving.as_ref().unwrap().key.step();
    let (_, mk1) = ck1.step();
    bob.decrypt(&m1).unwrap();
    assert!(
        !contains(&pickle(&bob), &mk1.0),
        "used message key must not be stored"
    );
    assert!(
        !contains(&pickle(&bob), &ck1.0),
        "chain key before the used one must be gone"
    );
    let saved = pickle(&bob);
    assert!(contains(&saved, &mk0.0), "skipped key is stored until used");
    bob.decrypt(&m0).unwrap();
    let saved = pickle(&bob);
    assert!(
        !contains(&saved, &mk0.0),
        "used skipped key must be deleted"
    );
    let mut restored = Session::from_bytes(&saved).unwrap();
    assert_eq!(restored.decrypt(&m0).unwrap_err(), DecryptError::Replay);
    assert_eq!(restored.decrypt(&m1).unwrap_err(), DecryptError::Replay);
    // The chain key stored now cannot lead back to m1's key.
    let m2 = alice.encrypt(&mut rng, b"two").unwrap();
    assert_eq!(restored.decrypt(&m2).unwrap().as_slice(), b"two");
}

#[test]
fn post_compromise_security_after_one_dh_round() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(6);
    let stolen = pickle(&bob);
    let early = alice.encrypt(&mut rng, b"early").unwrap();
    // The stolen state reads messages of the current chain...
    assert_eq!(
        Session::from_bytes(&stolen)
            .unwrap()
            .decrypt(&early)
            .unwrap()
            .as_slice(),
        b"early"
    );
    bob.decrypt(&early).unwrap();
    // ...but not after a full DH round with fresh keys on both sides.
    let reply = bob.encrypt(&mut rng, b"reply").unwrap();
    alice.decrypt(&reply).unwrap();
    let late = alice.encrypt(&mut rng, b"late").unwrap();
    assert_eq!(bob.decrypt(&late).unwrap().as_slice(), b"late");
    let mut attacker = Session::from_bytes(&stolen).unwrap();
    assert!(attacker.decrypt(&late).is_err());
    assert!(attacker.decrypt(&reply).is_err());
}

#[test]
fn skipped_keys_are_capped_oldest_first() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(7);
    let mut firsts = Vec::new();
    for _ in 0..3 {
        let chain: Vec<_> = (0..=MAX_SKIP)
            .map(|_| alice.encrypt(&mut rng, b"x").unwrap())
            .collect();
        bob.decrypt(chain.last().unwrap()).unwrap();
        firsts.push(chain.into_iter().next().unwrap());
        let r = bob.encrypt(&mut rng, b"r").unwrap();
        alice.decrypt(&r).unwrap();
    }
    // Chain 0 of the pair's first turn had one message already; each new
    // chain skipped MAX_SKIP keys.
    assert_eq!(bob.skipped_keys().len(), MAX_SKIPPED_KEYS);
    assert_eq!(bob.decrypt(&firsts[0]).unwrap_err(), DecryptError::Replay);
    assert_eq!(bob.decrypt(&firsts[1]).unwrap().as_slice(), b"x");
    assert_eq!(bob.decrypt(&firsts[2]).unwrap().as_slice(), b"x");
}

#[test]
fn pickle_round_trips_exactly_and_keeps_working() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(8);
    let a: Vec<_> = (0..4)
        .map(|_| alice.encrypt(&mut rng, b"a").unwrap())
        .collect();
    bob.decrypt(&a[3]).unwrap();
    for s in [&alice, &bob] {
        let bytes = pickle(s);
        let restored = Session::from_bytes(&bytes).unwrap();
        assert_eq!(pickle(&restored), bytes);
        assert_eq!(restored.ratchet_key(), s.ratchet_key());
        assert!(format!("{restored:?}").contains("redacted"));
    }
    let mut bob2 = Session::from_bytes(&pickle(&bob)).unwrap();
    assert_eq!(bob2.decrypt(&a[1]).unwrap().as_slice(), b"a");
    let r = bob2.encrypt(&mut rng, b"r").unwrap();
    assert_eq!(alice.decrypt(&r).unwrap().as_slice(), b"r");

    let bytes = pickle(&bob);
    for len in 0..bytes.len() {
        assert!(Session::from_bytes(&bytes[..len]).is_err(), "prefix {len}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        Session::from_bytes(&long).unwrap_err(),
        PickleError::TrailingBytes(1)
    );
    let mut v3 = bytes.clone();
    v3[4] = 3;
    assert_eq!(
        Session::from_bytes(&v3).unwrap_err(),
        PickleError::UnsupportedVersion(3)
    );
    // Version 1 (no remembered headers) is still read: a fresh Alice has
    // received nothing, so her version 2 pickle ends with a zero count.
    let alice = pair(18).alice;
    let mut v1 = pickle(&alice);
    assert_eq!(v1.split_off(v1.len() - 4), [0, 0, 0, 0]);
    v1[4] = 1;
    let restored = Session::from_bytes(&v1).unwrap();
    assert_eq!(pickle(&restored), pickle(&alice));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn corrupted_pickles_error_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Session::from_bytes(&bytes);
        let mut with_magic = b"TNRS\x01".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Session::from_bytes(&with_magic);
    }

    #[test]
    fn flipped_pickle_bytes_never_panic(index in 0usize..2000, flip in 1u8..=255) {
        let Pair { mut rng, mut alice, mut bob } = pair(9);
        let a: Vec<_> = (0..3).map(|_| alice.encrypt(&mut rng, b"a").unwrap()).collect();
        bob.decrypt(&a[2]).unwrap();
        let mut bytes = pickle(&bob);
        let i = index % bytes.len();
        bytes[i] ^= flip;
        if let Ok(s) = Session::from_bytes(&bytes) {
            prop_assert_eq!(pickle(&s), bytes);
        }
    }

    /// Arbitrary headers and ciphertexts are rejected without a state change,
    /// and the session keeps working.
    #[test]
    fn forged_messages_change_nothing(
        key in any::<[u8; 32]>(),
        use_current_key in any::<bool>(),
        pn in prop_oneof![0u32..5, any::<u32>()],
        n in prop_oneof![0u32..5, any::<u32>()],
        ciphertext in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let Pair { mut rng, mut alice, mut bob } = pair(10);
        let valid = alice.encrypt(&mut rng, b"valid").unwrap();
        let ratchet_key = if use_current_key { valid.header.ratchet_key } else { DhPublicKey(key) };
        let forged = RatchetMessage {
            header: RatchetHeader { ratchet_key, previous_chain_length: pn, message_number: n, nonce: valid.header.nonce },
            ciphertext,
        };
        let before = pickle(&bob);
        prop_assert!(bob.decrypt(&forged).is_err());
        prop_assert_eq!(pickle(&bob), before);
        prop_assert_eq!(bob.decrypt(&valid).unwrap().to_vec(), b"valid".to_vec());
    }

    /// Alice sends turns of messages; Bob receives them in a random order with
    /// drops and duplicates, spread across later turns, replying after each
    /// turn so both DH ratchets keep turning.
    #[test]
    fn any_order_with_drops_and_duplicates(
        turns in proptest::collection::vec(1usize..40, 2..8),
        seed in any::<u64>(),
    ) {
        let Pair { mut rng, mut alice, mut bob } = pair(seed);
        let mut order = StdRng::seed_from_u64(seed ^ 0x5eed);
        // (message, text, delivered already)
        let mut pending: Vec<(RatchetMessage, Vec<u8>)> = Vec::new();
        let mut delivered: Vec<RatchetMessage> = Vec::new();
        let mut keys_seen = std::collections::HashSet::new();
        for (t, &count) in turns.iter().enumerate() {
            let mut this_turn = Vec::new();
            for i in 0..count {
                let text = format!("{t}/{i}").into_bytes();
                let m = alice.encrypt(&mut rng, &text).unwrap();
                keys_seen.insert(m.header.ratchet_key);
                this_turn.push((m, text));
            }
            // One message of this turn arrives now so Bob's reply ratchets.
            let forced = order.random_range(0..this_turn.len());
            let (m, text) = this_turn.swap_remove(forced);
            prop_assert_eq!(bob.decrypt(&m).unwrap().to_vec(), text.clone());
            delivered.push(m);
            pending.extend(this_turn);
            pending.shuffle(&mut order);
            // Some pending ones arrive now, some are dropped, some wait.
            let now = order.random_range(0..=pending.len());
            for (m, text) in pending.drain(..now).collect::<Vec<_>>() {
                if order.random_bool(0.15) {
                    continue; // dropped
                }
                prop_assert_eq!(bob.decrypt(&m).unwrap().to_vec(), text.clone());
                delivered.push(m);
            }
            // Duplicates of anything delivered so far.
            for _ in 0..order.random_range(0..4usize) {
                let i = order.random_range(0..delivered.len());
                let before = pickle(&bob);
                prop_assert_eq!(bob.decrypt(&delivered[i]).unwrap_err(), DecryptError::Replay);
                prop_assert_eq!(pickle(&bob), before);
            }
            let reply = bob.encrypt(&mut rng, b"ack").unwrap();
            prop_assert_eq!(alice.decrypt(&reply).unwrap().to_vec(), b"ack".to_vec());
        }
        prop_assert_eq!(keys_seen.len(), turns.len(), "one Alice ratchet key per turn");
        pending.shuffle(&mut order);
        for (m, text) in pending {
            if order.random_bool(0.15) {
                continue;
            }
            prop_assert_eq!(bob.decrypt(&m).unwrap().to_vec(), text.clone());
            delivered.push(m);
        }
        for m in &delivered {
            prop_assert_eq!(bob.decrypt(m).unwrap_err(), DecryptError::Replay);
        }
    }
}

/// A sender restored from a backup (its pickle from before two messages)
/// encrypts new texts under the message keys it already used. No two
/// ciphertexts may then share a keystream: XORing them must not give the
/// XOR of the plaintexts (issue #13, finding 3).
#[test]
fn a_rolled_back_sender_never_repeats_a_keystream() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(41);
    let backup = pickle(&alice);
    let p1 = b"rally at checkpoint three at 0400";
    let p2 = b"the password for the gate is 7731";
    let m1 = alice.encrypt(&mut rng, p1).unwrap();
    bob.decrypt(&m1).unwrap();
    let mut restored = Session::from_bytes(&backup).unwrap();
    let m2 = restored.encrypt(&mut rng, p2).unwrap();
    assert_eq!(m1.header.message_number, m2.header.message_number);
    assert_eq!(m1.header.ratchet_key, m2.header.ratchet_key);
    let xor_c: Vec<u8> = m1
        .ciphertext
        .iter()
        .zip(&m2.ciphertext)
        .map(|(a, b)| a ^ b)
        .collect();
    let xor_p: Vec<u8> = p1.iter().zip(p2).map(|(a, b)| a ^ b).collect();
    assert_ne!(&xor_c[..xor_p.len()], xor_p.as_slice(), "keystream reused");
    // AES-256-GCM-SIV, no nonce: what tells the two apart is their tags,
    // and the same plaintext under the reused key gives the same bytes
    // (as a retry would), nothing more.
    for m in [&m1, &m2] {
        assert!(m.header.is_synthetic());
    }
    assert_ne!(m1.ciphertext[p1.len()..], m2.ciphertext[p2.len()..]);
    let mut again = Session::from_bytes(&backup).unwrap();
    assert_eq!(again.encrypt(&mut rng, p1).unwrap(), m1);
}

/// A message from a node before the synthetic nonce (ChaCha20-Poly1305
/// under a random nonce in the header) still opens, and is told apart from
/// a replay and a rewound sender the same way.
#[test]
fn an_older_nodes_chacha_message_still_opens() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(43);
    // The first message sets up Bob's receiving chain; the next is sealed
    // the way older nodes sealed it.
    bob.decrypt(&alice.encrypt(&mut rng, b"hello").unwrap())
        .unwrap();
    let chain = alice.sending.clone().unwrap();
    let mut nonce = [0u8; MESSAGE_NONCE_LEN];
    nonce[..8].copy_from_slice(&[9, 8, 7, 6, 5, 4, 3, 2]);
    let header = RatchetHeader {
        ratchet_key: alice.ours.public,
        previous_chain_length: alice.previous_chain_length,
        message_number: chain.next,
        nonce,
    };
    let (_, key) = chain.key.step();
    let old = RatchetMessage {
        header,
        ciphertext: aead::seal(&key.0, &nonce, &alice.aead_ad(&header), b"older"),
    };
    assert_eq!(bob.decrypt(&old).unwrap().as_slice(), b"older");
    assert_eq!(bob.decrypt(&old), Err(DecryptError::Replay));
    // The same key again, now sealed the new way with other text: rewound.
    let new = alice.encrypt(&mut rng, b"newer").unwrap();
    assert_eq!(new.header.message_number, old.header.message_number);
    assert_eq!(bob.decrypt(&new), Err(DecryptError::Rewound));
}

/// The receiver tells a genuine duplicate (the same message again: a retry)
/// from a different message under a header it already received (a rolled
/// back sender): the first is a replay, the second means the session is
/// lost and must restart. Both leave the session unchanged.
#[test]
fn a_different_message_under_a_received_header_is_a_rewound_sender() {
    let Pair {
        mut rng,
        mut alice,
        mut bob,
    } = pair(42);
    let backup = pickle(&alice);
    let m1 = alice.encrypt(&mut rng, b"first").unwrap();
    assert_eq!(bob.decrypt(&m1).unwrap().as_slice(), b"first");
    let mut restored = Session::from_bytes(&backup).unwrap();
    let m1_again = restored.encrypt(&mut rng, b"other").unwrap();
    let before = pickle(&bob);
    assert_eq!(bob.decrypt(&m1), Err(DecryptError::Replay));
    assert_eq!(bob.decrypt(&m1_again), Err(DecryptError::Rewound));
    assert_eq!(pickle(&bob), before);
    // The memory of received headers survives a pickle round trip.
    let mut bob = Session::from_bytes(&before).unwrap();
    assert_eq!(bob.decrypt(&m1_again), Err(DecryptError::Rewound));
    // And the real sender goes on as before.
    let m2 = alice.encrypt(&mut rng, b"second").unwrap();
    assert_eq!(bob.decrypt(&m2).unwrap().as_slice(), b"second");
}
