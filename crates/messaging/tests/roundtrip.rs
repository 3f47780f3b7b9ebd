//! Property tests: every message round-trips; arbitrary bytes never panic.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use tacnode_domain::dht::{
    Contact, DhtRequest, DhtResponse, Record, RecordKind, RecordValue, RefusalCode, SenderInfo,
};
use tacnode_domain::e2e::{
    AnonymousBody, MailboxPayload, OneTimePrekey, PrekeyBundle, PublishedPrekeys, RatchetHeader,
    RatchetMessage, SEALED_SENDER_CIPHERTEXT_LEN_INITIAL, SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE,
    SealedBody, SealedMessage, SealedSender, SenderSealedMessage, SignedPrekey, X3dhInitial,
};
use tacnode_domain::mailbox::{
    EntryId, MailboxAck, MailboxDeposit, MailboxEntry, MailboxFetch, MailboxProof,
};
use tacnode_domain::{
    Content, DhPublicKey, Endpoint, IdentityKey, MessageId, NodeId, NodeType, Plaintext, Signature,
    UnixMillis, UnsignedPeerRecord,
};
use tacnode_messaging::frame::{FrameDecoder, encode_frame};
use tacnode_messaging::{
    DecodeErrorKind, Message, PLAINTEXT_BLOCK, decode_mailbox_payload, decode_plaintext,
    decode_plaintext_with, decode_sealed, encode_mailbox_payload, encode_plaintext,
    encode_plaintext_with, encode_sealed, padded_plaintext_len, pb,
};

fn identity() -> impl Strategy<Value = IdentityKey> {
    any::<[u8; 32]>().prop_map(|seed| {
        IdentityKey::from(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key())
    })
}

fn sig() -> impl Strategy<Value = Signature> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        Signature(s)
    })
}

fn dh() -> impl Strategy<Value = DhPublicKey> {
    any::<[u8; 32]>().prop_map(DhPublicKey)
}

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 32]>().prop_map(NodeId::from_bytes)
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    prop_oneof![
        (any::<[u8; 4]>(), 1u16..)
            .prop_map(|(ip, p)| Endpoint(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), p))),
        (any::<[u8; 16]>(), 1u16..)
            .prop_map(|(ip, p)| Endpoint(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), p))),
    ]
}

fn node_type() -> impl Strategy<Value = NodeType> {
    prop_oneof![Just(NodeType::Server), Just(NodeType::Client)]
}

fn peer_record() -> impl Strategy<Value = tacnode_domain::PeerRecord> {
    (
        identity(),
        dh(),
        sig(),
        prop::collection::vec(endpoint(), 0..=8),
        node_type(),
        any::<u64>(),
        prop::collection::btree_map("[a-z]{1,16}", "\\PC{0,32}", 0..=4),
        any::<u64>(),
        sig(),
        prop::option::of((node_id(), endpoint())),
    )
        .prop_map(|(ik, dk, dks, eps, nt, ls, md, seq, s, relay)| {
            UnsignedPeerRecord {
                identity_key: ik,
                device_key: dk,
                device_key_signature: dks,
                endpoints: eps,
                node_type: nt,
                last_seen: UnixMillis(ls),
                metadata: md.into_iter().collect::<BTreeMap<_, _>>(),
                sequence: seq,
                member: None,
                reachability: None,
                relay: relay.map(|(node_id, e)| tacnode_domain::RelayHint {
                    node_id,
                    endpoint: e.0,
                }),
            }
            .with_signature(s)
        })
}

fn signed_prekey() -> impl Strategy<Value = SignedPrekey> {
    (any::<u32>(), dh(), any::<u64>(), sig()).prop_map(|(id, pk, c, s)| SignedPrekey {
        id,
        public_key: pk,
        created: UnixMillis(c),
        signature: s,
    })
}

fn published() -> impl Strategy<Value = PublishedPrekeys> {
    (
        identity(),
        dh(),
        sig(),
        signed_prekey(),
        any::<u64>(),
        sig(),
    )
        .prop_map(|(ik, dk, dks, sp, seq, s)| PublishedPrekeys {
            identity_key: ik,
            device_key: dk,
            device_key_signature: dks,
            signed_prekey: sp,
            sequence: seq,
            signature: s,
        })
}

fn record() -> impl Strategy<Value = Record> {
    (
        prop_oneof![
            peer_record().prop_map(RecordValue::Peer),
            published().prop_map(RecordValue::Prekeys)
        ],
        any::<u64>(),
    )
        .prop_map(|(value, e)| Record {
            value,
            expires: UnixMillis(e),
        })
}

fn sender() -> impl Strategy<Value = SenderInfo> {
    (
        node_type(),
        prop::collection::vec(endpoint(), 0..=3),
        prop::option::of(1u64..),
    )
        .prop_map(|(nt, eps, t)| SenderInfo {
            node_type: nt,
            endpoints: eps,
            time: t.map(UnixMillis),
        })
}

fn contacts() -> impl Strategy<Value = Vec<Contact>> {
    prop::collection::vec(
        (node_id(), prop::collection::vec(endpoint(), 0..=2))
            .prop_map(|(node_id, endpoints)| Contact { node_id, endpoints }),
        0..=20,
    )
}

fn refusal() -> impl Strategy<Value = RefusalCode> {
    prop_oneof![
        Just(RefusalCode::Malformed),
        Just(RefusalCode::Unsupported),
        Just(RefusalCode::Quota),
        Just(RefusalCode::Unauthorized),
        Just(RefusalCode::Stale),
        Just(RefusalCode::Internal),
    ]
}

fn ratchet() -> impl Strategy<Value = RatchetMessage> {
    (
        dh(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(any::<u8>(), 0..300),
        // This node's nonce (none: AES-256-GCM-SIV), the 8-byte salt it
        // drew before (then zeros: the compact form) and the 12 random
        // bytes of nodes before that.
        prop_oneof![
            Just(tacnode_domain::e2e::SYNTHETIC_NONCE),
            any::<[u8; 12]>(),
            any::<[u8; 8]>().prop_map(|salt| {
                let mut nonce = [0; 12];
                nonce[..8].copy_from_slice(&salt);
                nonce
            }),
        ],
    )
        .prop_map(|(k, pn, n, ct, nonce)| RatchetMessage {
            header: RatchetHeader {
                ratchet_key: k,
                previous_chain_length: pn,
                message_number: n,
                nonce,
            },
            ciphertext: ct,
        })
}

fn sealed() -> impl Strategy<Value = SealedMessage> {
    let initial = (
        identity(),
        dh(),
        sig(),
        dh(),
        any::<u32>(),
        any::<Option<u32>>(),
        ratchet(),
    )
        .prop_map(|(ik, dk, dks, ek, spk, otk, m)| {
            SealedBody::Initial(Box::new(X3dhInitial {
                identity_key: ik,
                device_key: dk,
                device_key_signature: dks,
                ephemeral_key: ek,
                signed_prekey_id: spk,
                one_time_prekey_id: otk,
                message: m,
            }))
        });
    (
        identity(),
        prop_oneof![initial, ratchet().prop_map(SealedBody::Message)],
    )
        .prop_map(|(ik, body)| SealedMessage {
            sender_identity_key: ik,
            body,
        })
}

/// `s` as a node deposits it: its sender in a box (random bytes of the
/// box's length here: the codec does not open it).
fn sender_sealed(s: &SealedMessage, ephemeral: DhPublicKey, fill: u8) -> SenderSealedMessage {
    let len = match s.body {
        SealedBody::Initial(_) => SEALED_SENDER_CIPHERTEXT_LEN_INITIAL,
        SealedBody::Message(_) => SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE,
    };
    SenderSealedMessage {
        sealed_sender: SealedSender {
            ephemeral_key: ephemeral,
            ciphertext: vec![fill; len],
        },
        body: s.anonymous_body(),
    }
}

fn proof() -> impl Strategy<Value = MailboxProof> {
    (identity(), any::<[u8; 32]>(), sig()).prop_map(|(ik, nonce, s)| MailboxProof {
        identity_key: ik,
        nonce,
        signature: s,
    })
}

fn entry_id() -> impl Strategy<Value = EntryId> {
    any::<[u8; 16]>().prop_map(EntryId)
}

fn message() -> impl Strategy<Value = Message> {
    let dht_req = prop_oneof![
        sender().prop_map(|sender| DhtRequest::Ping { sender }),
        (sender(), node_id()).prop_map(|(sender, target)| DhtRequest::FindNode { sender, target }),
        (
            sender(),
            node_id(),
            prop_oneof![Just(RecordKind::Peer), Just(RecordKind::Prekeys)]
        )
            .prop_map(|(sender, key, kind)| DhtRequest::FindValue { sender, key, kind }),
        (sender(), node_id(), record()).prop_map(|(sender, key, r)| DhtRequest::Store {
            sender,
            key,
            record: Box::new(r)
        }),
    ];
    let dht_resp = prop_oneof![
        Just(DhtResponse::Pong),
        contacts().prop_map(DhtResponse::Nodes),
        (prop::option::of(record()), contacts()).prop_map(|(r, closer)| DhtResponse::Value {
            record: r.map(Box::new),
            closer
        }),
        prop::result::maybe_ok(Just(()), refusal()).prop_map(DhtResponse::Stored),
    ];
    let bundle = (
        identity(),
        dh(),
        sig(),
        signed_prekey(),
        prop::option::of((any::<u32>(), dh())),
    )
        .prop_map(|(ik, dk, dks, sp, otk)| PrekeyBundle {
            identity_key: ik,
            device_key: dk,
            device_key_signature: dks,
            signed_prekey: sp,
            one_time_prekey: otk.map(|(id, public_key)| OneTimePrekey { id, public_key }),
        });
    prop_oneof![
        (refusal(), "\\PC{0,40}").prop_map(|(code, detail)| Message::Error { code, detail }),
        dht_req.prop_map(Message::DhtRequest),
        dht_resp.prop_map(Message::DhtResponse),
        Just(Message::PrekeyBundleRequest),
        bundle.prop_map(Message::PrekeyBundle),
        sealed().prop_map(Message::Direct),
        Just(Message::DirectAck),
        prop::collection::vec(any::<u8>(), tacnode_domain::onion::ONION_PACKET_LEN)
            .prop_map(Message::Onion),
        Just(Message::OnionAccepted),
        // A batch comes from one sender (the connection's peer).
        prop::collection::vec(sealed(), 1..4).prop_map(|mut list| {
            let sender = list[0].sender_identity_key;
            for s in &mut list {
                s.sender_identity_key = sender;
            }
            Message::DirectBatch(list)
        }),
        prop::collection::vec(any::<u32>(), 0..5)
            .prop_map(|refused| Message::DirectBatchAck { refused }),
        (
            node_id(),
            entry_id(),
            prop::collection::vec(any::<u8>(), 0..200),
            any::<u64>()
        )
            .prop_map(|(recipient, entry_id, payload, e)| Message::MailboxDeposit(
                MailboxDeposit {
                    recipient,
                    entry_id,
                    payload,
                    expires: UnixMillis(e)
                }
            )),
        any::<bool>().prop_map(|accepted| Message::MailboxDeposited { accepted }),
        node_id().prop_map(|recipient| Message::MailboxChallengeRequest { recipient }),
        (any::<[u8; 32]>(), any::<bool>()).prop_map(|(nonce, nothing_held)| {
            Message::MailboxChallenge {
                nonce,
                nothing_held,
            }
        }),
        (node_id(), proof(), any::<u32>()).prop_map(|(recipient, proof, max_entries)| {
            Message::MailboxFetch(MailboxFetch {
                recipient,
                proof,
                max_entries,
            })
        }),
        (
            prop::collection::vec(
                (
                    entry_id(),
                    prop::collection::vec(any::<u8>(), 0..100),
                    any::<u64>()
                )
                    .prop_map(|(entry_id, payload, d)| MailboxEntry {
                        entry_id,
                        payload,
                        deposited: UnixMillis(d)
                    }),
                0..5
            ),
            any::<bool>()
        )
            .prop_map(|(entries, more)| Message::MailboxEntries { entries, more }),
        (node_id(), proof(), prop::collection::vec(entry_id(), 0..10)).prop_map(
            |(recipient, proof, entry_ids)| Message::MailboxAck(MailboxAck {
                recipient,
                proof,
                entry_ids
            })
        ),
        any::<u32>().prop_map(|deleted| Message::MailboxAcked { deleted }),
        Just(Message::DialBackRequest),
        any::<bool>().prop_map(|reachable| Message::DialedBack { reachable }),
        Just(Message::RelayReserve),
        endpoint().prop_map(|e| Message::HolePunch { observed: e.0 }),
        endpoint().prop_map(|e| Message::HolePunchAnswer { observed: e.0 }),
        any::<u64>().prop_map(|ttl_ms| Message::RelayReservation { ttl_ms }),
        (
            identity(),
            node_id(),
            node_id(),
            any::<[u8; 16]>(),
            prop::collection::vec(any::<u8>(), 0..200),
            sig()
        )
            .prop_map(
                |(caller, relay, to, nonce, body, signature)| Message::RelayedCall(Box::new(
                    tacnode_domain::RelayedCall {
                        caller,
                        relay,
                        to,
                        nonce,
                        member: None,
                        body,
                        signature
                    }
                ))
            ),
        (prop::collection::vec(any::<u8>(), 0..200), sig()).prop_map(|(body, signature)| {
            Message::RelayedAnswer(tacnode_domain::RelayedAnswer { body, signature })
        }),
    ]
}

proptest! {
    #[test]
    fn every_message_round_trips(m in message()) {
        let bytes = m.encode();
        // A direct delivery's sender is the authenticated peer.
        let decoded = match &m {
            Message::Direct(s) => Message::decode_request(&bytes, &s.sender_identity_key),
            Message::DirectBatch(list) => {
                Message::decode_request(&bytes, &list[0].sender_identity_key)
            }
            _ => Message::decode(&bytes),
        };
        prop_assert_eq!(decoded.unwrap(), m);
    }

    #[test]
    fn a_direct_delivery_leaves_the_sender_key_to_the_connection(s in sealed()) {
        let direct = Message::Direct(s.clone()).encode();
        let deposit = tacnode_messaging::encode_sealed(&s);
        // The mailbox payload names its sender; the direct one does not.
        prop_assert!(direct.len() < deposit.len() + 8, "{} vs {}", direct.len(), deposit.len());
        prop_assert!(!direct.windows(32).any(|w| w == s.sender_identity_key.as_bytes()));
        // Without the connection's peer it cannot be told who sent it.
        prop_assert!(Message::decode(&direct).is_err());
    }

    #[test]
    fn a_mailbox_payload_round_trips_names_no_sender_and_costs_at_most_48_bytes_more(
        s in sealed(),
        ephemeral in dh(),
        fill in any::<u8>(),
    ) {
        let m = sender_sealed(&s, ephemeral, fill);
        let payload = encode_mailbox_payload(&m);
        prop_assert_eq!(
            decode_mailbox_payload(&payload).unwrap(),
            MailboxPayload::SenderSealed(m)
        );
        let mut names = vec![s.sender_identity_key.as_bytes().to_vec()];
        if let SealedBody::Initial(i) = &s.body {
            names.push(i.device_key.as_bytes().to_vec());
            names.push(i.device_key_signature.as_bytes().to_vec());
        }
        for n in &names {
            prop_assert!(!payload.windows(n.len()).any(|w| w == n.as_slice()));
        }
        // Against the payload with the sender in clear: +48 bytes for a later
        // message (the box's ephemeral key and tag); a first message moves
        // its 128 bytes of identity into the box, so it costs less.
        let clear = encode_sealed(&s).len();
        match s.body {
            SealedBody::Message(_) => prop_assert_eq!(payload.len(), clear + 48),
            SealedBody::Initial(_) => prop_assert!(payload.len() <= clear + 16, "{} vs {}", payload.len(), clear),
        }
        // The form written before sealed sender is still read.
        prop_assert_eq!(
            decode_mailbox_payload(&encode_sealed(&s)).unwrap(),
            MailboxPayload::Unsealed(s)
        );
    }

    #[test]
    fn sealed_and_plaintext_round_trip(
        s in sealed(),
        id in any::<[u8; 16]>(),
        sent in any::<u64>(),
        text in "\\PC{0,100}",
        ids in prop::collection::vec(any::<[u8; 16]>(), 1..10),
        kind in 0u8..3,
    ) {
        prop_assert_eq!(decode_sealed(&encode_sealed(&s)).unwrap(), s);
        let content = match kind {
            0 => Content::Receipt(ids.into_iter().map(MessageId).collect()),
            1 => Content::Rewound,
            _ => Content::Text(text),
        };
        let p = Plaintext { message_id: MessageId(id), sent: UnixMillis(sent), content };
        let bytes = encode_plaintext(&p);
        prop_assert_eq!(padded_plaintext_len(bytes.len()), bytes.len(), "padded to a bucket");
        prop_assert_eq!(decode_plaintext(&bytes).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::decode(&bytes);
        let _ = decode_sealed(&bytes);
        let _ = decode_plaintext(&bytes);
        let mut d = FrameDecoder::new(256);
        if d.feed(&bytes).is_ok() {
            while let Ok(Some(_)) = d.next_frame() {}
        }
    }

    #[test]
    fn mutated_valid_messages_never_panic(m in message(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = m.encode();
        if !bytes.is_empty() {
            for (i, v) in flips {
                let at = i.index(bytes.len());
                bytes[at] ^= v;
            }
        }
        let _ = Message::decode(&bytes);
    }
}

fn encode_env(body: pb::envelope::Body) -> Vec<u8> {
    use prost::Message as _;
    pb::Envelope {
        version: 1,
        body: Some(body),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn decode_error_names_the_offending_field() {
    let short_target = encode_env(pb::envelope::Body::FindNode(pb::FindNodeRequest {
        sender: Some(pb::SenderInfo {
            node_type: pb::NodeType::Server as i32,
            endpoints: vec![],
            time_ms: 0,
        }),
        target: vec![0; 31],
    }));
    let err = Message::decode(&short_target).unwrap_err();
    assert_eq!(err.field(), "find_node.target");
    assert_eq!(
        err.kind(),
        &DecodeErrorKind::Length {
            expected: 32,
            actual: 31
        }
    );
    assert!(err.to_string().contains("find_node.target"));

    let bad_sig = encode_env(pb::envelope::Body::Store(pb::StoreRequest {
        sender: Some(pb::SenderInfo {
            node_type: pb::NodeType::Client as i32,
            endpoints: vec![],
            time_ms: 0,
        }),
        key: vec![0; 32],
        record: Some(pb::Record {
            value: Some(pb::record::Value::Peer(pb::PeerRecord {
                identity_key: ed25519_dalek::SigningKey::from_bytes(&[1; 32])
                    .verifying_key()
                    .to_bytes()
                    .to_vec(),
                device_key: vec![0; 32],
                device_key_signature: vec![0; 64],
                node_type: pb::NodeType::Server as i32,
                signature: vec![0; 63],
                ..Default::default()
            })),
            expires_ms: 0,
        }),
    }));
    let err = Message::decode(&bad_sig).unwrap_err();
    assert_eq!(err.field(), "store.record.peer.signature");

    let unspecified_type = encode_env(pb::envelope::Body::Ping(pb::PingRequest {
        sender: Some(pb::SenderInfo::default()),
    }));
    let err = Message::decode(&unspecified_type).unwrap_err();
    assert_eq!(err.field(), "ping.sender.node_type");
    assert_eq!(err.kind(), &DecodeErrorKind::BadEnum(0));
}

#[test]
fn an_answer_carries_the_clock_of_the_node_that_answered() {
    let answer = Message::DirectAck;
    let bytes = answer.encode_answer(UnixMillis(1_700_000_123_456), None);
    let got = Message::decode_answer(&bytes).unwrap();
    assert_eq!(got.message, Message::DirectAck);
    assert_eq!(got.time, Some(UnixMillis(1_700_000_123_456)));
    assert_eq!(got.observed, None);
    // Unstamped (requests, older nodes): no clock, same message.
    let got = Message::decode_answer(&answer.encode()).unwrap();
    assert_eq!((got.message, got.time), (Message::DirectAck, None));
    assert_eq!(Message::decode(&bytes).unwrap(), Message::DirectAck);
}

#[test]
fn an_answer_tells_the_caller_where_it_came_from_in_8_bytes() {
    let pong = Message::DhtResponse(tacnode_domain::dht::DhtResponse::Pong);
    let at = UnixMillis(1_700_000_123_456);
    let from: std::net::SocketAddr = "203.0.113.9:41000".parse().unwrap();
    let plain = pong.encode_answer(at, None);
    let told = pong.encode_answer(at, Some(from));
    // Tag, length, 4 address bytes and 2 port bytes.
    assert_eq!(told.len() - plain.len(), 8);
    let got = Message::decode_answer(&told).unwrap();
    assert_eq!(got.observed, Some(from));
    assert_eq!(got.message, pong);
    // A node that does not know the field reads the same message.
    assert_eq!(Message::decode(&told).unwrap(), pong);
    // A malformed observed address fails the answer, naming the field.
    use prost::Message as _;
    let bad = pb::Envelope {
        version: 1,
        body: Some(pb::envelope::Body::PingResponse(pb::PingResponse {})),
        time_ms: 0,
        observed: vec![1, 2, 3],
    }
    .encode_to_vec();
    assert_eq!(
        Message::decode_answer(&bad).unwrap_err().field(),
        "observed"
    );
}

#[test]
fn unknown_version_and_missing_body_are_refused() {
    use prost::Message as _;
    let v2 = pb::Envelope {
        version: 2,
        body: Some(pb::envelope::Body::DirectAck(pb::DirectMessageAck {})),
        ..Default::default()
    }
    .encode_to_vec();
    assert_eq!(
        Message::decode(&v2).unwrap_err().kind(),
        &DecodeErrorKind::UnsupportedVersion(2)
    );
    let empty = pb::Envelope {
        version: 1,
        body: None,
        ..Default::default()
    }
    .encode_to_vec();
    assert_eq!(Message::decode(&empty).unwrap_err().field(), "body");
}

#[test]
fn too_many_contacts_are_refused_before_conversion() {
    let many = encode_env(pb::envelope::Body::FindNodeResponse(pb::FindNodeResponse {
        closer: vec![
            pb::Contact {
                node_id: vec![0; 32],
                endpoints: vec![]
            };
            65
        ],
    }));
    let err = Message::decode(&many).unwrap_err();
    assert_eq!(err.field(), "find_node_response.closer");
    assert!(matches!(
        err.kind(),
        DecodeErrorKind::TooMany {
            max: 64,
            actual: 65
        }
    ));
}

#[test]
fn plaintexts_are_padded_to_buckets_and_overlong_padding_is_refused() {
    use prost::Message as _;
    // The buckets: 64 bytes at least, then multiples of 8 below 128, of 16
    // below 512, of 32 below 1024 and of 64 from there.
    for (len, padded) in [
        (1, 64),
        (64, 64),
        (65, 72),
        (127, 128),
        (128, 128),
        (129, 144),
        (511, 512),
        (513, 544),
        (1025, 1088),
        (70_000, 70_016),
    ] {
        assert_eq!(padded_plaintext_len(len), padded, "{len} bytes");
    }
    // Every length lands on a bucket, adding less than one step plus the
    // padding field's two bytes, and never more than 1/8 beyond 64 bytes.
    for n in 0..3000 {
        let p = Plaintext {
            message_id: MessageId([1; 16]),
            sent: UnixMillis(1_700_000_000_000),
            content: Content::Text("x".repeat(n)),
        };
        let bytes = encode_plaintext(&p);
        assert_eq!(
            padded_plaintext_len(bytes.len()),
            bytes.len(),
            "text of {n} bytes"
        );
        let unpadded = pb::Plaintext::from(&p).encode_to_vec().len();
        assert!(
            bytes.len() <= unpadded + PLAINTEXT_BLOCK + 2,
            "text of {n} bytes"
        );
        assert!(
            bytes.len() <= PLAINTEXT_BLOCK.max(unpadded + 2 + (unpadded + 2) / 8),
            "text of {n} bytes"
        );
        assert_eq!(decode_plaintext(&bytes).unwrap(), p);
    }
    // The 100-byte text of the testbed's wire budget: 127 bytes, in the
    // 144-byte bucket (it was 192 with 64-byte blocks).
    let p = Plaintext {
        message_id: MessageId([1; 16]),
        sent: UnixMillis(1_790_000_000_000),
        content: Content::Text("m".repeat(100)),
    };
    assert_eq!(pb::Plaintext::from(&p).encode_to_vec().len(), 127);
    assert_eq!(encode_plaintext(&p).len(), 144);
    let mut w = pb::Plaintext::from(&Plaintext {
        message_id: MessageId([1; 16]),
        sent: UnixMillis(1),
        content: Content::Text("hi".into()),
    });
    w.padding = vec![0; PLAINTEXT_BLOCK + 1];
    let err = decode_plaintext(&w.encode_to_vec()).unwrap_err();
    assert_eq!(err.field(), "padding");
}

#[test]
fn a_text_id_derived_by_both_ends_is_left_out() {
    use prost::Message as _;
    let key = |n: u8| {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        IdentityKey::from(signing.verifying_key())
    };
    let (alice, bob) = (key(1), key(2));
    // The ends derive a text's id as they agreed (a keyed MAC in the
    // node); here, a stand-in over the same inputs.
    let of_text = |from: &IdentityKey, to: &IdentityKey, t: UnixMillis, x: &str| {
        let mut id = [0u8; 16];
        for (i, b) in from
            .as_bytes()
            .iter()
            .chain(to.as_bytes())
            .chain(&t.0.to_be_bytes())
            .chain(x.as_bytes())
            .enumerate()
        {
            id[i % 16] = id[i % 16].rotate_left(3) ^ b;
        }
        MessageId(id)
    };
    let sent = UnixMillis(1_790_000_000_000);
    let text = "m".repeat(100);
    let p = Plaintext {
        message_id: of_text(&alice, &bob, sent, &text),
        sent,
        content: Content::Text(text.clone()),
    };
    // The testbed's 100-byte text: 109 bytes without its id, in the
    // 112-byte bucket (144 with it).
    let bytes = encode_plaintext_with(&p, |t, x| of_text(&alice, &bob, t, x));
    assert_eq!(bytes.len(), 112);
    assert_eq!(encode_plaintext(&p).len(), 144);
    assert_eq!(
        decode_plaintext_with(&bytes, |t, x| of_text(&alice, &bob, t, x)).unwrap(),
        p
    );
    // Without the parties the id is missing; other parties derive another.
    assert_eq!(decode_plaintext(&bytes).unwrap_err().field(), "message_id");
    assert_ne!(
        decode_plaintext_with(&bytes, |t, x| of_text(&bob, &alice, t, x))
            .unwrap()
            .message_id,
        p.message_id
    );
    // An id not derived (a text queued before, a receipt) is written.
    for q in [
        Plaintext {
            message_id: MessageId([7; 16]),
            ..p.clone()
        },
        Plaintext {
            message_id: MessageId([7; 16]),
            sent,
            content: Content::Receipt(vec![MessageId([8; 16])]),
        },
    ] {
        let bytes = encode_plaintext_with(&q, |t, x| of_text(&alice, &bob, t, x));
        assert_eq!(decode_plaintext(&bytes).unwrap(), q);
        assert_eq!(
            decode_plaintext_with(&bytes, |t, x| of_text(&alice, &bob, t, x)).unwrap(),
            q
        );
    }
    // Only a text may leave its id out.
    let mut w = pb::Plaintext::from(&Plaintext {
        message_id: MessageId([7; 16]),
        sent,
        content: Content::Receipt(vec![MessageId([8; 16])]),
    });
    w.message_id.clear();
    let err =
        decode_plaintext_with(&w.encode_to_vec(), |t, x| of_text(&alice, &bob, t, x)).unwrap_err();
    assert_eq!(err.field(), "message_id");
}

#[test]
fn direct_batches_are_bounded_and_never_empty() {
    let empty = encode_env(pb::envelope::Body::DirectBatch(pb::DirectBatch {
        sealed: vec![],
    }));
    let err = Message::decode(&empty).unwrap_err();
    assert_eq!(err.field(), "direct_batch.sealed");
    assert!(matches!(err.kind(), DecodeErrorKind::TooFew { min: 1, .. }));

    let over = tacnode_domain::MAX_DIRECT_BATCH + 1;
    let many = encode_env(pb::envelope::Body::DirectBatch(pb::DirectBatch {
        sealed: vec![pb::SealedMessage::default(); over],
    }));
    let err = Message::decode(&many).unwrap_err();
    assert_eq!(err.field(), "direct_batch.sealed");
    assert!(matches!(err.kind(), DecodeErrorKind::TooMany { actual, .. } if *actual == over));

    let acks = encode_env(pb::envelope::Body::DirectBatchAck(pb::DirectBatchAck {
        refused: vec![0; over],
    }));
    let err = Message::decode(&acks).unwrap_err();
    assert_eq!(err.field(), "direct_batch_ack.refused");

    // A bad message inside a batch is named by its path.
    let bad = encode_env(pb::envelope::Body::DirectBatch(pb::DirectBatch {
        sealed: vec![pb::SealedMessage::default()],
    }));
    let err = Message::decode(&bad).unwrap_err();
    assert!(
        err.field().starts_with("direct_batch.sealed."),
        "{}",
        err.field()
    );
}

#[test]
fn frames_carry_encoded_messages() {
    let m = Message::DirectAck;
    let framed = encode_frame(&m.encode(), 1024).unwrap();
    let mut d = FrameDecoder::new(1024);
    d.feed(&framed).unwrap();
    let body = d.next_frame().unwrap().unwrap();
    assert_eq!(Message::decode(&body).unwrap(), m);
}

#[test]
fn a_sealed_sender_payload_with_the_sender_in_clear_or_a_wrong_box_is_refused() {
    use prost::Message as _;
    let ratchet = pb::RatchetMessage {
        header: Some(pb::RatchetHeader {
            ratchet_key: vec![9; 32],
            previous_chain_length: 0,
            message_number: 1,
            nonce: vec![3; 12],
        }),
        ciphertext: vec![1; 48],
    };
    let later = pb::SealedMessage {
        sender_identity_key: Vec::new(),
        body: Some(pb::sealed_message::Body::Message(ratchet.clone())),
        sealed_sender: vec![7; 32 + SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE],
    };
    assert!(matches!(
        decode_mailbox_payload(&later.encode_to_vec()).unwrap(),
        MailboxPayload::SenderSealed(SenderSealedMessage {
            body: AnonymousBody::Message(_),
            ..
        })
    ));
    let field = |w: &pb::SealedMessage| {
        decode_mailbox_payload(&w.encode_to_vec())
            .unwrap_err()
            .field()
            .to_owned()
    };
    // The sender's key in clear beside the box.
    let mut w = later.clone();
    w.sender_identity_key = vec![5; 32];
    assert_eq!(field(&w), "sender_identity_key");
    // A box of a first message's length on a later message, and one cut short.
    let mut w = later.clone();
    w.sealed_sender = vec![7; 32 + SEALED_SENDER_CIPHERTEXT_LEN_INITIAL];
    assert_eq!(field(&w), "sealed_sender");
    let mut w = later.clone();
    w.sealed_sender.pop();
    assert_eq!(field(&w), "sealed_sender");
    // A first message naming its initiator beside the box.
    let initial = |identity: Vec<u8>, device: Vec<u8>, signature: Vec<u8>| pb::SealedMessage {
        sender_identity_key: Vec::new(),
        body: Some(pb::sealed_message::Body::Initial(pb::X3dhInitial {
            identity_key: identity,
            device_key: device,
            device_key_signature: signature,
            ephemeral_key: vec![3; 32],
            signed_prekey_id: 1,
            one_time_prekey_id: None,
            message: Some(ratchet.clone()),
        })),
        sealed_sender: vec![7; 32 + SEALED_SENDER_CIPHERTEXT_LEN_INITIAL],
    };
    assert!(decode_mailbox_payload(&initial(vec![], vec![], vec![]).encode_to_vec()).is_ok());
    assert_eq!(
        field(&initial(vec![5; 32], vec![], vec![])),
        "initial.identity_key"
    );
    assert_eq!(
        field(&initial(vec![], vec![5; 32], vec![])),
        "initial.device_key"
    );
    assert_eq!(
        field(&initial(vec![], vec![], vec![5; 64])),
        "initial.device_key_signature"
    );
    // A box has no place in a direct delivery.
    let direct = encode_env(pb::envelope::Body::Direct(pb::DirectMessage {
        sealed: Some(later),
    }));
    let sender = IdentityKey::from(ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key());
    let err = Message::decode_request(&direct, &sender).unwrap_err();
    assert!(err.field().ends_with("sealed_sender"), "{err}");
}

#[test]
fn a_ratchet_message_goes_compact_and_the_older_forms_are_still_read() {
    use prost::Message as _;
    let sender = IdentityKey::from(ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key());
    let mut nonce = [0; 12];
    nonce[..8].copy_from_slice(&[4; 8]);
    let ratchet = RatchetMessage {
        header: RatchetHeader {
            ratchet_key: DhPublicKey([9; 32]),
            previous_chain_length: 300,
            message_number: 2,
            nonce,
        },
        ciphertext: vec![1; 160],
    };
    let s = SealedMessage {
        sender_identity_key: sender,
        body: SealedBody::Message(ratchet.clone()),
    };
    // Compact: the envelope's one-byte `direct_sealed`, then the ratchet
    // key, two varints, the 8-byte salt and the ciphertext.
    let direct = Message::Direct(s.clone()).encode();
    let env = pb::Envelope::decode(direct.as_slice()).unwrap();
    let Some(pb::envelope::Body::DirectSealed(w)) = env.body else {
        panic!("not direct_sealed: {env:?}");
    };
    let Some(pb::sealed_message::Body::Compact(c)) = w.body else {
        panic!("not compact: {w:?}");
    };
    assert_eq!(c.len(), 32 + 2 + 1 + 8 + 160);
    // version (2), tag and 2-byte length of direct_sealed (3), tag and
    // 2-byte length of compact (3).
    assert_eq!(direct.len(), c.len() + 8);
    assert_eq!(
        Message::decode_request(&direct, &sender).unwrap(),
        Message::Direct(s.clone())
    );
    // The forms written before: a DirectMessage around a RatchetMessage,
    // with a 12-byte nonce or an 8-byte one.
    for nonce_bytes in [nonce.to_vec(), nonce[..8].to_vec()] {
        let old = encode_env(pb::envelope::Body::Direct(pb::DirectMessage {
            sealed: Some(pb::SealedMessage {
                sender_identity_key: Vec::new(),
                body: Some(pb::sealed_message::Body::Message(pb::RatchetMessage {
                    header: Some(pb::RatchetHeader {
                        ratchet_key: vec![9; 32],
                        previous_chain_length: 300,
                        message_number: 2,
                        nonce: nonce_bytes,
                    }),
                    ciphertext: vec![1; 160],
                })),
                sealed_sender: Vec::new(),
            }),
        }));
        assert_eq!(
            Message::decode_request(&old, &sender).unwrap(),
            Message::Direct(s.clone())
        );
    }
    // A message sealed with 12 random nonce bytes keeps the older form.
    let mut random = ratchet.clone();
    random.header.nonce = [7; 12];
    let w = pb::SealedMessage::from(&SealedMessage {
        sender_identity_key: sender,
        body: SealedBody::Message(random),
    });
    assert!(matches!(w.body, Some(pb::sealed_message::Body::Message(_))));
    // Strict: cut short, an overlong or a 33-bit varint, a 10-byte nonce.
    let compact = |bytes: Vec<u8>| {
        encode_env(pb::envelope::Body::DirectSealed(pb::SealedMessage {
            sender_identity_key: Vec::new(),
            body: Some(pb::sealed_message::Body::Compact(bytes)),
            sealed_sender: Vec::new(),
        }))
    };
    let field = |bytes: Vec<u8>| {
        Message::decode_request(&compact(bytes), &sender)
            .unwrap_err()
            .field()
            .to_owned()
    };
    assert!(field(vec![9; 31]).ends_with("compact"));
    assert!(field([vec![9; 32], vec![0, 0], vec![4; 7]].concat()).ends_with("compact"));
    assert!(
        field([vec![9; 32], vec![0x80, 0x00, 0], vec![4; 8]].concat())
            .ends_with("compact.previous_chain_length")
    );
    assert!(
        field(
            [
                vec![9; 32],
                vec![0, 0x80, 0x80, 0x80, 0x80, 0x10],
                vec![4; 8]
            ]
            .concat()
        )
        .ends_with("compact.message_number")
    );
    assert!(
        Message::decode_request(
            &compact([vec![9; 32], vec![0, 0], vec![4; 8]].concat()),
            &sender
        )
        .is_ok()
    );
    let mut bad = pb::RatchetMessage::from(&ratchet);
    if let Some(h) = bad.header.as_mut() {
        h.nonce = vec![4; 10];
    }
    let err = RatchetMessage::try_from(bad).unwrap_err();
    assert_eq!(err.field(), "header.nonce");
}

#[test]
fn a_synthetic_nonce_message_goes_without_nonce_and_direct_without_a_wrapper() {
    use prost::Message as _;
    let sender = IdentityKey::from(ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key());
    let ratchet = RatchetMessage {
        header: RatchetHeader {
            ratchet_key: DhPublicKey([9; 32]),
            previous_chain_length: 300,
            message_number: 2,
            nonce: tacnode_domain::e2e::SYNTHETIC_NONCE,
        },
        ciphertext: vec![1; 160],
    };
    let s = SealedMessage {
        sender_identity_key: sender,
        body: SealedBody::Message(ratchet.clone()),
    };
    // Direct: the envelope's one-byte `direct_siv` around the ratchet key,
    // two varints and the ciphertext: no nonce, no SealedMessage.
    let direct = Message::Direct(s.clone()).encode();
    let env = pb::Envelope::decode(direct.as_slice()).unwrap();
    let Some(pb::envelope::Body::DirectSiv(c)) = env.body else {
        panic!("not direct_siv: {env:?}");
    };
    assert_eq!(c.len(), 32 + 2 + 1 + 160);
    // version (2), tag and 2-byte length of direct_siv (3).
    assert_eq!(direct.len(), c.len() + 5);
    assert_eq!(
        Message::decode_request(&direct, &sender).unwrap(),
        Message::Direct(s.clone())
    );
    // Only a peer the connection authenticated can have sent it.
    assert_eq!(Message::decode(&direct).unwrap_err().field(), "direct_siv");
    // A direct delivery is never an answer, even one naming its sender.
    let named = encode_env(pb::envelope::Body::DirectSealed(pb::SealedMessage::from(
        &s,
    )));
    assert!(Message::decode(&named).is_ok());
    assert_eq!(Message::decode_answer(&named).unwrap_err().field(), "body");
    // Elsewhere (a batch, a mailbox payload) it is `siv`, 8 bytes shorter
    // than `compact`; the X3DH initial message's header leaves its nonce
    // empty.
    let w = pb::SealedMessage::from(&s);
    let Some(pb::sealed_message::Body::Siv(b)) = &w.body else {
        panic!("not siv: {w:?}");
    };
    assert_eq!(b, &c);
    assert_eq!(SealedMessage::try_from(w).unwrap(), s);
    let header = pb::RatchetMessage::from(&ratchet).header.unwrap();
    assert!(header.nonce.is_empty());
    assert_eq!(
        RatchetMessage::try_from(pb::RatchetMessage::from(&ratchet)).unwrap(),
        ratchet
    );
    let batch = Message::DirectBatch(vec![s.clone(), s.clone()]);
    assert_eq!(
        Message::decode_request(&batch.encode(), &sender).unwrap(),
        batch
    );
    // The synthetic form has one encoding: a written nonce of zeros (as an
    // 8-byte salt or 12 bytes) is refused.
    let zero_salt = encode_env(pb::envelope::Body::DirectSealed(pb::SealedMessage {
        sender_identity_key: Vec::new(),
        body: Some(pb::sealed_message::Body::Compact(
            [vec![9; 32], vec![0, 0], vec![0; 8], vec![1; 20]].concat(),
        )),
        sealed_sender: Vec::new(),
    }));
    assert!(
        Message::decode_request(&zero_salt, &sender)
            .unwrap_err()
            .field()
            .ends_with("compact.nonce")
    );
    let mut zero = pb::RatchetMessage::from(&ratchet);
    if let Some(h) = zero.header.as_mut() {
        h.nonce = vec![0; 12];
    }
    assert_eq!(
        RatchetMessage::try_from(zero).unwrap_err().field(),
        "header.nonce"
    );
    // Strict as `compact`: cut short, an overlong varint.
    for bad in [vec![9; 31], [vec![9; 32], vec![0x80, 0x00, 0]].concat()] {
        let env = encode_env(pb::envelope::Body::DirectSiv(bad));
        assert!(
            Message::decode_request(&env, &sender)
                .unwrap_err()
                .field()
                .starts_with("direct_siv"),
        );
    }
}

#[test]
fn an_onion_packet_of_another_size_is_refused() {
    use prost::Message as _;
    use tacnode_domain::onion::ONION_PACKET_LEN;
    for len in [0, ONION_PACKET_LEN - 1, ONION_PACKET_LEN + 1] {
        let bytes = pb::Envelope {
            version: 1,
            body: Some(pb::envelope::Body::Onion(pb::OnionPacket {
                packet: vec![7; len],
            })),
            time_ms: 0,
            observed: Vec::new(),
        }
        .encode_to_vec();
        assert!(Message::decode(&bytes).is_err(), "{len} bytes accepted");
    }
    let good = Message::Onion(vec![7; ONION_PACKET_LEN]);
    assert_eq!(Message::decode(&good.encode()).unwrap(), good);
}
