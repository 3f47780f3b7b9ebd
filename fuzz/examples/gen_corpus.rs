//! Writes the seed corpus, `seeds/<target>/seed-NNN`, from the real encoders:
//! encoded messages of every kind, sealed and plaintext payloads, signed peer
//! records, keystores sealed with cheap parameters, peer addresses.
//!
//! Deterministic (seeded RNG), so rerunning reproduces the committed files.
//! Run from anywhere: `cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use prost::Message as _;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use tacnode_crypto::keystore::{self, KdfParams, KeystoreSecrets};
use tacnode_crypto::{Identity, sealed_sender};
use tacnode_domain::dht::{
    Contact, DhtRequest, DhtResponse, Record, RecordKind, RecordValue, RefusalCode, SenderInfo,
};
use tacnode_domain::e2e::{
    OneTimePrekey, PrekeyBundle, PublishedPrekeys, RatchetHeader, RatchetMessage, SealedBody,
    SealedMessage, SenderSealedMessage, SignedPrekey, X3dhInitial,
};
use tacnode_domain::gossip::{Announced, GossipId, GossipMessage, Topic};
use tacnode_domain::mailbox::{
    EntryId, MailboxAck, MailboxDeposit, MailboxEntry, MailboxFetch, MailboxOperation, MailboxProof,
};
use tacnode_domain::{
    Content, Endpoint, MessageId, NodeType, PeerRecord, Plaintext, Reachability, UnixMillis,
    UnsignedPeerRecord,
};
use tacnode_fuzz::frame_codec::{self, STEP_DRAIN, STEP_PROBE_FINISH, STEP_WANTED, Step};
use tacnode_fuzz::keystore::{PASSPHRASE, STRUCTURED};
use tacnode_fuzz::{dht_core, prekey_bundle, ratchet_decrypt, x3dh_initial};
use tacnode_messaging::frame::{MAX_FRAME_LEN, encode_frame};
use tacnode_messaging::{Message, encode_mailbox_payload, encode_plaintext, encode_sealed, pb};

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let mut rng = StdRng::seed_from_u64(0x7ac0_de5e);
    let ids: Vec<Identity> = (0..4).map(|_| Identity::generate(&mut rng)).collect();

    let messages = messages(&mut rng, &ids);
    let mut envelope: Vec<Vec<u8>> = messages.iter().map(Message::encode).collect();
    for s in sealed(&mut rng, &ids) {
        envelope.push(encode_sealed(&s));
    }
    for p in plaintexts(&mut rng) {
        envelope.push(encode_plaintext(&p));
    }
    // Group keys and invitations, and a gossip answer: no draws, so the
    // seeds after them stay as they were.
    for p in group_plaintexts(&ids) {
        envelope.push(encode_plaintext(&p));
    }
    envelope.push(Message::GossipAck.encode());
    // File transfer: an offer (inside a plaintext), a block request and an
    // answer; no draws either.
    envelope.push(encode_plaintext(&tacnode_domain::Plaintext {
        message_id: tacnode_domain::MessageId([3; 16]),
        sent: tacnode_domain::UnixMillis(1_700_000_000_000),
        content: tacnode_domain::Content::FileOffer(tacnode_domain::file_transfer::FileOffer {
            transfer: tacnode_domain::file_transfer::TransferId([4; 16]),
            name: "map.png".into(),
            size: 200_000,
            sha256: [5; 32],
            key: tacnode_domain::store::SecretBytes::from(vec![6; 32]),
        }),
    }));
    envelope.push(
        Message::FileChunkRequest(tacnode_domain::file_transfer::FileChunkRequest {
            transfer: tacnode_domain::file_transfer::TransferId([4; 16]),
            first_block: 1,
            blocks: 2,
        })
        .encode(),
    );
    envelope.push(Message::FileChunks(vec![vec![7; 100], vec![8; 60]]).encode());
    envelope.push(encode_plaintext(&tacnode_domain::Plaintext {
        message_id: tacnode_domain::MessageId([9; 16]),
        sent: tacnode_domain::UnixMillis(1_700_000_000_000),
        content: tacnode_domain::Content::FileBlock {
            offer: tacnode_domain::file_transfer::FileOffer {
                transfer: tacnode_domain::file_transfer::TransferId([4; 16]),
                name: "map.png".into(),
                size: 200_000,
                sha256: [5; 32],
                key: tacnode_domain::store::SecretBytes::from(vec![6; 32]),
            },
            index: 2,
            content: vec![1; 300],
        },
    }));
    envelope.push(encode_plaintext(&tacnode_domain::Plaintext {
        message_id: tacnode_domain::MessageId([10; 16]),
        sent: tacnode_domain::UnixMillis(1_700_000_000_000),
        content: tacnode_domain::Content::FileReceipt {
            transfer: tacnode_domain::file_transfer::TransferId([4; 16]),
            declined: Some("refused by the recipient".into()),
        },
    }));
    for m in sender_sealed(
        &sealed(&mut StdRng::seed_from_u64(SEALED_SENDER_SEED), &ids),
        &ids,
    ) {
        envelope.push(encode_mailbox_payload(&m));
    }
    // A direct delivery as an older node sends it: `direct`, a 12-byte nonce.
    if let Some(older) = sealed(&mut StdRng::seed_from_u64(SEALED_SENDER_SEED), &ids).get(2) {
        let mut w = pb::SealedMessage::from(older);
        w.sender_identity_key = Vec::new();
        envelope.push(
            pb::Envelope {
                version: tacnode_messaging::PROTOCOL_VERSION,
                body: Some(pb::envelope::Body::Direct(pb::DirectMessage {
                    sealed: Some(w),
                })),
                ..Default::default()
            }
            .encode_to_vec(),
        );
    }
    // A direct delivery naming its sender in the sealed message (as a
    // mailbox payload would): decoded without a connection, then re-encoded
    // without the key (`direct_siv`), which only a connection's peer reads.
    if let Some(now) = sealed(&mut StdRng::seed_from_u64(SEALED_SENDER_SEED), &ids).last() {
        envelope.push(
            pb::Envelope {
                version: tacnode_messaging::PROTOCOL_VERSION,
                body: Some(pb::envelope::Body::DirectSealed(pb::SealedMessage::from(
                    now,
                ))),
                ..Default::default()
            }
            .encode_to_vec(),
        );
    }
    // Answers stamped with a clock and the address the request came from.
    let pong = Message::DhtResponse(tacnode_domain::dht::DhtResponse::Pong);
    for from in ["203.0.113.9:41000", "[2001:db8::9]:41000"] {
        envelope.push(pong.encode_answer(UnixMillis(1_700_000_000_000), from.parse().ok()));
    }
    write(&root, "envelope", &envelope)?;

    let frames = frame_seeds(&messages);
    write(&root, "frame_codec", &frames)?;

    let records: Vec<Vec<u8>> = ids
        .iter()
        .enumerate()
        .flat_map(|(i, id)| (0..3).map(move |v| (i, v, id)))
        .map(|(i, v, id)| pb::PeerRecord::from(&peer_record(id, i + v, v)).encode_to_vec())
        .collect();
    write(&root, "peer_record", &records)?;

    write(&root, "keystore", &keystores(&mut rng))?;

    let mut addresses: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| id.address().to_string().into_bytes())
        .collect();
    for id in &ids {
        let text = id.address().to_string();
        addresses.push(text.trim_start_matches("key_").as_bytes().to_vec());
        addresses.push(text[..text.len() - 1].as_bytes().to_vec());
        addresses.push(format!("{text}1").into_bytes());
    }
    addresses.push(b"key_".to_vec());
    addresses.push(b"key_11111111111111111111111111111111".to_vec());
    write(&root, "address", &addresses)?;

    write(&root, "ratchet_decrypt", &ratchet_seeds(&mut rng))?;
    write(&root, "x3dh_initial", &x3dh_seeds(&mut rng))?;
    write(&root, "prekey_bundle", &prekey_bundle_seeds(&mut rng))?;
    write(&root, "dht_core", &dht_seeds())?;
    write(&root, "config", &config_seeds(&ids))?;
    write(&root, "control_request", &control_seeds(&ids))?;
    write(&root, "broadcast", &broadcast_seeds(&ids))?;
    write(&root, "sphinx_packet", &sphinx_seeds())?;
    Ok(())
}

/// Group broadcasts and operations, announcements, a LAN beacon, a sender
/// key, and genuine ciphertexts of the fuzz target's fixed chain.
fn broadcast_seeds(ids: &[Identity]) -> Vec<Vec<u8>> {
    use tacnode_crypto::group::SenderChain;
    use tacnode_domain::group::{GroupBroadcast, GroupOpKind, Role, UnsignedGroupOp};
    use tacnode_domain::{AnnouncementKind, UnsignedAnnouncement, UnsignedBeacon};
    use tacnode_messaging::{
        encode_announcement, encode_beacon, encode_group_broadcast, encode_group_op,
    };

    let a = &ids[0];
    let sign_op = |body: UnsignedGroupOp| {
        let signature = a.sign(&body.signing_bytes());
        body.with_signature(signature)
    };
    let create = sign_op(UnsignedGroupOp {
        group: None,
        author: a.identity_key(),
        kind: GroupOpKind::Create {
            name: "squad".into(),
        },
        parents: vec![],
        lamport: 0,
    });
    let group = tacnode_domain::group::GroupId::from(create.id());
    let add = sign_op(UnsignedGroupOp {
        group: Some(group),
        author: a.identity_key(),
        kind: GroupOpKind::Add {
            member: ids[1].identity_key(),
            role: Role::Admin,
        },
        parents: vec![create.id()],
        lamport: 1,
    });
    let mut out = vec![
        encode_group_op(&create),
        encode_group_op(&add),
        encode_group_broadcast(&GroupBroadcast::Op(Box::new(add.clone()))),
    ];
    let (sender, _) = tacnode_fuzz::broadcast::chains();
    let mut chain = SenderChain::from_bytes(sender).expect("the fixed chain unpickles");
    out.push(chain.distribution().to_bytes().to_vec());
    for _ in 0..3 {
        let m = chain
            .encrypt(&tacnode_fuzz::broadcast::GROUP, b"seed")
            .expect("encrypts");
        out.push(m.to_bytes());
        out.push(encode_group_broadcast(&GroupBroadcast::Message(
            m.to_bytes(),
        )));
    }
    for kind in [
        AnnouncementKind::Alert {
            text: "bridge out at grid 4417".into(),
        },
        AnnouncementKind::Service {
            name: "medic".into(),
            detail: "tent 3".into(),
            until: UnixMillis(1_700_003_600_000),
        },
    ] {
        let body = UnsignedAnnouncement {
            author: a.identity_key(),
            sequence: 1_700_000_000_001,
            time: UnixMillis(1_700_000_000_000),
            kind,
        };
        let signature = a.sign(&body.signing_bytes());
        out.push(encode_announcement(&body.with_signature(signature)));
    }
    let beacon = UnsignedBeacon {
        identity_key: a.identity_key(),
        node_type: tacnode_domain::NodeType::Server,
        port: 4433,
        endpoints: endpoints(2),
        sequence: 7,
        time: UnixMillis(1_700_000_000_000),
    };
    let signature = a.sign(&beacon.signing_bytes());
    out.push(encode_beacon(&beacon.with_signature(signature)));
    out
}

/// Replaces `seeds/<target>` with `seed-000`, `seed-001`, ...
fn write(root: &Path, target: &str, seeds: &[Vec<u8>]) -> std::io::Result<()> {
    let dir: PathBuf = root.join(target);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    for (i, s) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:03}")), s)?;
    }
    println!("{target}: {} seeds", seeds.len());
    Ok(())
}

fn endpoints(n: usize) -> Vec<Endpoint> {
    let all = [
        "127.0.0.1:4000",
        "[::1]:4001",
        "10.0.0.7:9",
        "[2001:db8::1]:65535",
    ];
    all.iter()
        .cycle()
        .take(n)
        .map(|e| e.parse().expect("literal endpoint"))
        .collect()
}

fn peer_record(id: &Identity, n_endpoints: usize, n_meta: usize) -> PeerRecord {
    let metadata: BTreeMap<String, String> =
        [("name", "alpha"), ("version", "0.1.0"), ("radio", "é ✓")]
            .iter()
            .take(n_meta)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
    id.sign_peer_record(UnsignedPeerRecord {
        identity_key: id.identity_key(),
        device_key: id.device_key(),
        device_key_signature: id.device_key_signature(),
        endpoints: endpoints(n_endpoints),
        node_type: if n_meta % 2 == 0 {
            NodeType::Server
        } else {
            NodeType::Client
        },
        last_seen: UnixMillis(1_700_000_000_000 + n_endpoints as u64),
        metadata,
        sequence: n_endpoints as u64 + 1,
        member: None,
        reachability: match n_meta {
            0 => None,
            1 => Some(Reachability::Public),
            _ => Some(Reachability::Private),
        },
        relay: None,
    })
}

fn published(id: &Identity, rng: &mut StdRng) -> PublishedPrekeys {
    let public_key = tacnode_domain::DhPublicKey(rng.random());
    let spk = SignedPrekey {
        id: 7,
        public_key,
        created: UnixMillis(1_700_000_000_000),
        signature: id.sign(public_key.as_bytes()),
    };
    PublishedPrekeys {
        identity_key: id.identity_key(),
        device_key: id.device_key(),
        device_key_signature: id.device_key_signature(),
        signed_prekey: spk,
        sequence: 3,
        signature: id.sign(b"prekeys"),
    }
}

/// A ratchet message as this node sealed it before AES-256-GCM-SIV: an
/// 8-byte salt, then zeros (the `compact` form on the wire). Seeds that
/// took it keep their bytes; [`synthetic`] is what the node seals now.
fn ratchet(rng: &mut StdRng, len: usize) -> RatchetMessage {
    let mut nonce: [u8; 12] = rng.random();
    nonce[8..].fill(0);
    RatchetMessage {
        header: RatchetHeader {
            ratchet_key: tacnode_domain::DhPublicKey(rng.random()),
            previous_chain_length: 2,
            message_number: 5,
            nonce,
        },
        ciphertext: (0..len).map(|_| rng.random()).collect(),
    }
}

/// `m` as this node seals it now: AES-256-GCM-SIV, no nonce (`siv`, and
/// `direct_siv` sent directly).
fn synthetic(mut m: RatchetMessage) -> RatchetMessage {
    m.header.nonce = tacnode_domain::e2e::SYNTHETIC_NONCE;
    m
}

fn sealed(rng: &mut StdRng, ids: &[Identity]) -> Vec<SealedMessage> {
    let a = &ids[0];
    let later = ratchet(rng, 48);
    let now = synthetic(later.clone());
    // Sealed by an older node: 12 random nonce bytes, the older wire form.
    let mut older = later.clone();
    older.header.nonce[8..].copy_from_slice(&[1, 2, 3, 4]);
    vec![
        SealedMessage {
            sender_identity_key: a.identity_key(),
            body: SealedBody::Message(later),
        },
        SealedMessage {
            sender_identity_key: a.identity_key(),
            body: SealedBody::Initial(Box::new(X3dhInitial {
                identity_key: a.identity_key(),
                device_key: a.device_key(),
                device_key_signature: a.device_key_signature(),
                ephemeral_key: tacnode_domain::DhPublicKey(rng.random()),
                signed_prekey_id: 7,
                one_time_prekey_id: Some(11),
                message: ratchet(rng, 80),
            })),
        },
        SealedMessage {
            sender_identity_key: a.identity_key(),
            body: SealedBody::Message(older),
        },
        SealedMessage {
            sender_identity_key: a.identity_key(),
            body: SealedBody::Message(now),
        },
    ]
}

/// Seeds the generator of the sealed-sender seeds on its own, so the draws
/// of every other seed stay as they were.
const SEALED_SENDER_SEED: u64 = 0x5ea1_5e4d;

/// `list` as deposited in a mailbox: each sender sealed to `ids[1]`.
fn sender_sealed(list: &[SealedMessage], ids: &[Identity]) -> Vec<SenderSealedMessage> {
    let mut rng = StdRng::seed_from_u64(SEALED_SENDER_SEED);
    list.iter()
        .map(|s| sealed_sender::seal(&mut rng, &ids[1].device_key(), s).expect("sealable"))
        .collect()
}

fn plaintexts(rng: &mut StdRng) -> Vec<Plaintext> {
    vec![
        Plaintext {
            message_id: MessageId(rng.random()),
            sent: UnixMillis(1_700_000_000_123),
            content: Content::Text("contact at grid 4417, over".into()),
        },
        Plaintext {
            message_id: MessageId(rng.random()),
            sent: UnixMillis(0),
            content: Content::Text(String::new()),
        },
        Plaintext {
            message_id: MessageId(rng.random()),
            sent: UnixMillis(u64::MAX),
            content: Content::Receipt(vec![MessageId(rng.random()), MessageId(rng.random())]),
        },
        // A fixed id: the generator's draws, and so every other seed, stay
        // as they were.
        Plaintext {
            message_id: MessageId([0x5e; 16]),
            sent: UnixMillis(1_700_000_000_456),
            content: Content::Rewound,
        },
    ]
}

/// A sender key and an invitation, as pairwise plaintexts.
fn group_plaintexts(ids: &[Identity]) -> Vec<Plaintext> {
    use tacnode_domain::group::{GroupId, GroupOpKind, UnsignedGroupOp};
    let body = UnsignedGroupOp {
        group: None,
        author: ids[0].identity_key(),
        kind: GroupOpKind::Create {
            name: "squad".into(),
        },
        parents: vec![],
        lamport: 0,
    };
    let signature = ids[0].sign(&body.signing_bytes());
    let create = body.with_signature(signature);
    let (sender, _) = tacnode_fuzz::broadcast::chains();
    let chain = tacnode_crypto::group::SenderChain::from_bytes(sender).expect("the fixed chain");
    vec![
        Plaintext {
            message_id: MessageId([0x6b; 16]),
            sent: UnixMillis(1_700_000_000_789),
            content: Content::GroupKey {
                group: GroupId::from(create.id()),
                distribution: chain.distribution().to_bytes().to_vec().into(),
            },
        },
        Plaintext {
            message_id: MessageId([0x69; 16]),
            sent: UnixMillis(1_700_000_000_790),
            content: Content::GroupInvite(vec![create]),
        },
    ]
}

fn proof(id: &Identity, rng: &mut StdRng, op: MailboxOperation) -> MailboxProof {
    let nonce: [u8; 32] = rng.random();
    let recipient = id.node_id();
    MailboxProof {
        identity_key: id.identity_key(),
        nonce,
        signature: id.sign(&MailboxProof::signing_bytes(
            &recipient, &recipient, &nonce, op,
        )),
    }
}

fn messages(rng: &mut StdRng, ids: &[Identity]) -> Vec<Message> {
    let a = &ids[0];
    let b = &ids[1];
    let sender = SenderInfo {
        node_type: NodeType::Server,
        endpoints: endpoints(2),
        time: None,
    };
    let client = SenderInfo {
        node_type: NodeType::Client,
        endpoints: vec![],
        time: None,
    };
    let contacts: Vec<Contact> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Contact {
            node_id: id.node_id(),
            endpoints: endpoints(i % 3),
        })
        .collect();
    let peer = Record {
        value: RecordValue::Peer(peer_record(a, 2, 1)),
        expires: UnixMillis(1_700_003_600_000),
    };
    let prekeys = Record {
        value: RecordValue::Prekeys(published(b, rng)),
        expires: UnixMillis(1_700_003_600_000),
    };
    let bundle = |otk: Option<OneTimePrekey>, rng: &mut StdRng| {
        let p = published(b, rng);
        PrekeyBundle {
            identity_key: p.identity_key,
            device_key: p.device_key,
            device_key_signature: p.device_key_signature,
            signed_prekey: p.signed_prekey,
            one_time_prekey: otk,
        }
    };
    let entry = |rng: &mut StdRng, n: usize| MailboxEntry {
        entry_id: EntryId(rng.random()),
        payload: (0..n).map(|_| rng.random()).collect(),
        deposited: UnixMillis(1_700_000_000_000),
    };
    let mut out = vec![
        Message::Error {
            code: RefusalCode::Malformed,
            detail: "field `find_node.target`: expected 32 bytes, got 31".into(),
        },
        Message::Error {
            code: RefusalCode::Quota,
            detail: String::new(),
        },
        Message::DhtRequest(DhtRequest::Ping {
            sender: sender.clone(),
        }),
        Message::DhtRequest(DhtRequest::FindNode {
            sender: client.clone(),
            target: b.node_id(),
        }),
        Message::DhtRequest(DhtRequest::FindValue {
            sender: sender.clone(),
            key: a.node_id(),
            kind: RecordKind::Peer,
        }),
        Message::DhtRequest(DhtRequest::FindValue {
            sender: client,
            key: b.node_id(),
            kind: RecordKind::Prekeys,
        }),
        Message::DhtRequest(DhtRequest::Store {
            sender: sender.clone(),
            key: a.node_id(),
            record: Box::new(peer.clone()),
        }),
        Message::DhtRequest(DhtRequest::Store {
            sender,
            key: b.node_id(),
            record: Box::new(prekeys.clone()),
        }),
        Message::DhtResponse(DhtResponse::Pong),
        Message::DhtResponse(DhtResponse::Nodes(contacts.clone())),
        Message::DhtResponse(DhtResponse::Nodes(vec![])),
        Message::DhtResponse(DhtResponse::Value {
            record: Some(Box::new(peer)),
            closer: vec![],
        }),
        Message::DhtResponse(DhtResponse::Value {
            record: Some(Box::new(prekeys)),
            closer: contacts[..2].to_vec(),
        }),
        Message::DhtResponse(DhtResponse::Value {
            record: None,
            closer: contacts,
        }),
        Message::DhtResponse(DhtResponse::Stored(Ok(()))),
        Message::DhtResponse(DhtResponse::Stored(Err(RefusalCode::Stale))),
        Message::PrekeyBundleRequest,
        Message::PrekeyBundle(bundle(None, rng)),
        Message::PrekeyBundle(bundle(
            Some(OneTimePrekey {
                id: 99,
                public_key: tacnode_domain::DhPublicKey(rng.random()),
            }),
            rng,
        )),
        Message::DirectAck,
        Message::Onion(tacnode_fuzz::sphinx_packet::genuine().to_bytes().to_vec()),
        Message::OnionAccepted,
        Message::MailboxDeposit(MailboxDeposit {
            recipient: b.node_id(),
            entry_id: EntryId(rng.random()),
            payload: encode_mailbox_payload(&sender_sealed(&sealed(rng, ids), ids)[0]),
            expires: UnixMillis(1_700_086_400_000),
        }),
        Message::MailboxDeposited { accepted: true },
        Message::MailboxDeposited { accepted: false },
        Message::MailboxChallengeRequest {
            recipient: a.node_id(),
        },
        Message::MailboxChallenge {
            nonce: rng.random(),
            nothing_held: false,
        },
        Message::MailboxFetch(MailboxFetch {
            recipient: a.node_id(),
            proof: proof(a, rng, MailboxOperation::Fetch),
            max_entries: 32,
        }),
        Message::MailboxEntries {
            entries: vec![entry(rng, 40), entry(rng, 0)],
            more: true,
        },
        Message::MailboxEntries {
            entries: vec![],
            more: false,
        },
        Message::MailboxAck(MailboxAck {
            recipient: a.node_id(),
            proof: proof(a, rng, MailboxOperation::Ack),
            entry_ids: vec![EntryId(rng.random()), EntryId(rng.random())],
        }),
        Message::MailboxAcked { deleted: 2 },
        Message::DialBackRequest,
        Message::DialedBack { reachable: true },
        Message::Gossip(GossipMessage::Push {
            topic: Topic(rng.random()),
            round: 2,
            payload: vec![7; 180],
        }),
        Message::Gossip(GossipMessage::IHave {
            topic: Topic(rng.random()),
            ids: vec![
                Announced {
                    id: GossipId(rng.random()),
                    round: 0,
                },
                Announced {
                    id: GossipId(rng.random()),
                    round: 3,
                },
            ],
        }),
        Message::Gossip(GossipMessage::Graft {
            topic: Topic(rng.random()),
            ids: vec![GossipId(rng.random())],
        }),
        Message::Gossip(GossipMessage::Prune {
            topic: Topic(rng.random()),
        }),
        Message::Gossip(GossipMessage::Summary {
            topic: Topic(rng.random()),
            count: 40,
            digest: rng.random(),
        }),
    ];
    let batch = sealed(rng, ids);
    for s in &batch {
        out.push(Message::Direct(s.clone()));
    }
    out.push(Message::DirectBatch(batch));
    out.push(Message::DirectBatchAck { refused: vec![] });
    out.push(Message::DirectBatchAck {
        refused: vec![0, 3],
    });
    out
}

fn frame_seeds(messages: &[Message]) -> Vec<Vec<u8>> {
    let frame = |m: &Message| encode_frame(&m.encode(), MAX_FRAME_LEN).expect("small message");
    let one = |len, flags| Step { len, flags };
    let patterns: [&[Step]; 5] = [
        &[],
        &[one(1, STEP_DRAIN | STEP_WANTED)],
        &[one(3, 0), one(7, STEP_DRAIN), one(64, STEP_PROBE_FINISH)],
        &[
            one(5, STEP_WANTED),
            one(200, STEP_DRAIN | STEP_PROBE_FINISH),
        ],
        &[one(u16::MAX, 0)],
    ];
    let mut out = Vec::new();
    for (i, chunk) in messages.chunks(4).enumerate() {
        let stream: Vec<u8> = chunk.iter().flat_map(frame).collect();
        out.push(frame_codec::Input::to_bytes(
            patterns[i % patterns.len()],
            &stream,
        ));
    }
    // An empty frame, a truncated tail and an oversize prefix.
    let mut tail = frame(&Message::DirectAck);
    tail.extend_from_slice(&[0, 0, 0, 9, 1, 2]);
    out.push(frame_codec::Input::to_bytes(patterns[2], &tail));
    let mut big = frame(&Message::PrekeyBundleRequest);
    big.extend_from_slice(&[0, 0x10, 0, 1]);
    out.push(frame_codec::Input::to_bytes(patterns[1], &big));
    out.push(frame_codec::Input::to_bytes(
        patterns[0],
        &[0, 0, 0, 0, 0, 0, 0, 0],
    ));
    out
}

fn keystores(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (m, t, p) in [(8, 1, 1), (16, 1, 2), (32, 2, 1), (64, 1, 4), (8, 3, 1)] {
        let params = KdfParams::new_weak(m, t, p).expect("valid cheap parameters");
        let secrets = KeystoreSecrets::generate(rng);
        out.push(keystore::seal(rng, &secrets, PASSPHRASE, &params).expect("seal"));
    }
    let params = KdfParams::new_weak(8, 1, 1).expect("valid cheap parameters");
    let secrets = KeystoreSecrets::generate(rng);
    out.push(keystore::seal(rng, &secrets, b"another passphrase", &params).expect("seal"));
    // Structured-mode seeds: the marker byte, then bytes for `arbitrary`.
    for len in [16usize, 64, 256] {
        let mut s = vec![STRUCTURED];
        s.extend((0..len).map(|_| rng.random::<u8>()));
        out.push(s);
    }
    out
}

/// Op sequences for `ratchet_decrypt`: orderings, tampering, replays, and
/// forgeries carrying real headers and ciphertexts of an unrelated session.
fn ratchet_seeds(rng: &mut StdRng) -> Vec<Vec<u8>> {
    use ratchet_decrypt::{KeyChoice, Op};
    // An unrelated session pair: its messages are real but keyed elsewhere.
    let a = Identity::generate(rng);
    let b = Identity::generate(rng);
    let prekeys = tacnode_crypto::prekey::PrekeyState::new(rng, &b, UnixMillis(0));
    let bundle = prekeys.bundle(&b, None).expect("bundle");
    let out = tacnode_crypto::x3dh::initiate(rng, &a, &bundle).expect("initiate");
    let mut s = tacnode_crypto::ratchet::Session::new_initiator(rng, &out).expect("session");
    let foreign: Vec<RatchetMessage> = [0usize, 1, 16, 200, 1000]
        .iter()
        .map(|&n| s.encrypt(rng, &vec![0x41; n]).expect("encrypt"))
        .collect();
    let send = |from_alice| Op::Send {
        from_alice,
        len: 12,
    };
    let deliver = |index| Op::Deliver { index };
    let mut seqs: Vec<Vec<Op>> = vec![
        vec![],
        vec![send(true), deliver(0), send(false), deliver(0)],
        vec![
            send(true),
            send(true),
            send(true),
            deliver(2),
            deliver(0),
            deliver(0),
        ],
        vec![
            send(true),
            send(false),
            send(false),
            deliver(1),
            send(true),
            deliver(1),
            deliver(0),
            Op::Replay { index: 0 },
            Op::Replay { index: 2 },
        ],
    ];
    let mut tamper = vec![send(true), send(false)];
    for field in 0..6u8 {
        for index in 0..2u8 {
            tamper.push(Op::Tamper {
                index,
                field,
                value: 0x0102_0305,
            });
        }
    }
    tamper.extend([deliver(0), deliver(0)]);
    seqs.push(tamper);
    for (i, m) in foreign.iter().enumerate() {
        let key = match i % 4 {
            0 => KeyChoice::Raw(*m.header.ratchet_key.as_bytes()),
            1 => KeyChoice::Current,
            2 => KeyChoice::Flight(0),
            _ => KeyChoice::LowOrder(u8::try_from(i).unwrap_or(0)),
        };
        seqs.push(vec![
            send(true),
            send(false),
            Op::Forge {
                to_alice: i % 2 == 0,
                key,
                pn: m.header.previous_chain_length,
                n: m.header.message_number + u32::try_from(i).unwrap_or(0),
                ciphertext: m.ciphertext.clone(),
            },
            deliver(0),
        ]);
    }
    seqs.push(vec![Op::Forge {
        to_alice: false,
        key: KeyChoice::Current,
        pn: 0,
        n: 1001,
        ciphertext: foreign[1].ciphertext.clone(),
    }]);
    seqs.iter()
        .map(|ops| ratchet_decrypt::encode(ops))
        .collect()
}

/// Inputs for `x3dh_initial`: every genuine initial under every clock,
/// then one replacement of each kind.
fn x3dh_seeds(rng: &mut StdRng) -> Vec<Vec<u8>> {
    use x3dh_initial::{Input, Mutation};
    let n = u8::try_from(x3dh_initial::fixture().initials.len()).unwrap_or(1);
    let mut out = Vec::new();
    for base in 0..n {
        for clock in 0..3u8 {
            out.push(x3dh_initial::encode(&Input {
                base,
                clock: (clock, 0),
                mutations: vec![],
            }));
        }
    }
    let mutations = vec![
        Mutation::IdentityKey(*Identity::generate(rng).identity_key().as_bytes()),
        Mutation::IdentityFrom(1),
        Mutation::DeviceKey(rng.random()),
        Mutation::DeviceSignature([7; 64]),
        Mutation::Ephemeral(rng.random()),
        Mutation::EphemeralLowOrder(2),
        Mutation::SignedPrekeyId(99),
        Mutation::OneTimePrekeyId(None),
        Mutation::OneTimePrekeyId(Some(4)),
        Mutation::Header(rng.random(), 0, 1),
        Mutation::MessageFrom(2),
        Mutation::Ciphertext(vec![0; 16]),
    ];
    for (i, m) in mutations.into_iter().enumerate() {
        out.push(x3dh_initial::encode(&Input {
            base: u8::try_from(i).unwrap_or(0) % n,
            clock: (3, 1_000_001),
            mutations: vec![m],
        }));
    }
    out
}

/// `prekey_bundle`: the genuine copies and bundles on the wire, then
/// structured replacements of each kind.
fn prekey_bundle_seeds(rng: &mut StdRng) -> Vec<Vec<u8>> {
    use prekey_bundle::{Input, Mutation};
    let mut out = Vec::new();
    for p in prekey_bundle::genuine() {
        out.push(pb::PublishedPrekeys::from(p).encode_to_vec());
        for otk in [
            None,
            Some(OneTimePrekey {
                id: 5,
                public_key: tacnode_domain::DhPublicKey(rng.random()),
            }),
        ] {
            let b = PrekeyBundle {
                identity_key: p.identity_key,
                device_key: p.device_key,
                device_key_signature: p.device_key_signature,
                signed_prekey: p.signed_prekey,
                one_time_prekey: otk,
            };
            out.push(pb::PrekeyBundle::from(&b).encode_to_vec());
        }
    }
    let n = u8::try_from(prekey_bundle::genuine().len()).unwrap_or(1);
    for base in 0..n {
        out.push(prekey_bundle::encode(&Input {
            base,
            mutations: vec![],
        }));
    }
    let mutations = vec![
        Mutation::IdentityKey(*Identity::generate(rng).identity_key().as_bytes()),
        Mutation::From(2, 0),
        Mutation::From(1, 3),
        Mutation::From(1, 4),
        Mutation::DeviceKey(rng.random()),
        Mutation::DeviceSignature([9; 64]),
        Mutation::SignedPrekey(7, 1_700_000_000_000, rng.random()),
        Mutation::SignedPrekeySignature([1; 64]),
        Mutation::Sequence(3),
        Mutation::Signature([2; 64]),
        Mutation::OneTime(Some((1, rng.random()))),
    ];
    for (i, m) in mutations.into_iter().enumerate() {
        out.push(prekey_bundle::encode(&Input {
            base: u8::try_from(i).unwrap_or(0) % n,
            mutations: vec![m],
        }));
    }
    out
}

/// `dht_core`: a node filling its table, answering and running lookups,
/// storing every pool record, publishing its own, and timing out.
fn dht_seeds() -> Vec<Vec<u8>> {
    use dht_core::{Op, RecordChoice, Setup};
    let rec = |index: u8| RecordChoice {
        index,
        sequence_delta: 0,
        expires_in_s: 3600,
        wrong_key: None,
    };
    let setup = |k, cache, server, permissive| Setup {
        k,
        alpha: 3,
        paths: 1,
        cache,
        server,
        permissive,
    };
    let pool = u8::try_from(dht_core::POOL).unwrap_or(16);
    let mut fill: Vec<Op> = (1..pool)
        .map(|peer| Op::Insert { peer, endpoints: 2 })
        .collect();
    fill.push(Op::Lookup { target: 3, kind: 0 });
    for i in 0..4u8 {
        fill.push(Op::Respond {
            index: i,
            impostor: None,
            kind: 1,
            contacts: 0xffff,
            endpoints: 1,
            record: rec(0),
        });
    }
    fill.push(Op::Advance { ms: 2000 });
    let mut requests: Vec<Op> = Vec::new();
    let n_records = 12u8;
    for i in 0..n_records {
        requests.push(Op::Request {
            from: i % pool,
            server: i % 3 != 0,
            endpoints: i % 10,
            from_endpoint: i % 2 == 0,
            kind: 4,
            target: 0,
            record: RecordChoice {
                sequence_delta: i % 2,
                ..rec(i)
            },
        });
        requests.push(Op::Request {
            from: i,
            server: true,
            endpoints: 1,
            from_endpoint: false,
            kind: i % 4,
            target: i,
            record: rec(0),
        });
    }
    let mut publish = fill.clone();
    publish.extend([
        Op::Put { record: rec(0) },
        Op::Put { record: rec(2) },
        Op::Respond {
            index: 0,
            impostor: Some(3),
            kind: 3,
            contacts: 0x00f0,
            endpoints: 2,
            record: rec(1),
        },
        Op::Respond {
            index: 1,
            impostor: None,
            kind: 4,
            contacts: 0,
            endpoints: 0,
            record: rec(1),
        },
        Op::Fail { index: 0 },
        Op::Lookup { target: 1, kind: 1 },
        Op::Respond {
            index: 0,
            impostor: None,
            kind: 2,
            contacts: 0,
            endpoints: 0,
            record: rec(3),
        },
        Op::Advance { ms: u16::MAX },
        Op::Advance { ms: 60_000 },
    ]);
    vec![
        dht_core::encode(&setup(0, 8, true, false), &fill),
        dht_core::encode(&setup(2, 1, true, false), &fill),
        dht_core::encode(&setup(1, 0, true, true), &requests),
        dht_core::encode(&setup(3, 2, false, false), &requests),
        dht_core::encode(&setup(2, 1, true, false), &publish),
        dht_core::encode(&setup(4, 3, true, true), &publish),
    ]
}

/// `config`: the shipped example files and small variations.
fn config_seeds(ids: &[Identity]) -> Vec<Vec<u8>> {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let mut out = Vec::new();
    for name in [
        "tacnode.example.toml",
        "server.example.toml",
        "laptop.example.toml",
        "radio.example.toml",
    ] {
        if let Ok(text) = fs::read(deploy.join(name)) {
            out.push(text);
        }
    }
    let peer = format!("{}@127.0.0.1:4000", ids[0].address());
    out.push(
        format!(
            "[bootstrap]\npeers = [\"{peer}\", \"{}@[::1]:9\"]\n",
            ids[1].address()
        )
        .into_bytes(),
    );
    out.push(b"[node]\nnode_type = \"laptop\"\n".to_vec());
    out.push(b"[dht]\nk = 20\nalpha = 3\ndisjoint_paths = 2\n".to_vec());
    out.push(b"[mailbox]\nreplicas = 0\n".to_vec());
    out.push(b"".to_vec());
    out
}

/// `control_request`: one line of every request the CLI sends, and a
/// stream of lines ending inside one.
fn control_seeds(ids: &[Identity]) -> Vec<Vec<u8>> {
    let address = ids[2].address().to_string();
    [
        r#"{"cmd":"id"}"#.to_owned(),
        format!(r#"{{"cmd":"contacts_add","name":"alpha","address":"{address}"}}"#),
        r#"{"cmd":"contacts_list"}"#.to_owned(),
        r#"{"cmd":"contacts_verify","name":"alpha","confirm":true}"#.to_owned(),
        r#"{"cmd":"send","to":"alpha","text":"contact at grid 4417, over\n\u0007"}"#.to_owned(),
        r#"{"cmd":"inbox","follow":false,"limit":20}"#.to_owned(),
        r#"{"cmd":"inbox","follow":true,"limit":null}"#.to_owned(),
        r#"{"cmd":"peers"}"#.to_owned(),
        r#"{"cmd":"status"}"#.to_owned(),
        r#"{"cmd":"status","extra":1}"#.to_owned(),
        " {\"cmd\":\"id\"}\r\n".to_owned(),
        "{\"cmd\":\"id\"}\n{\"cmd\":\"peers\"}\n{\"cmd\":\"st".to_owned(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

/// Onion packets: the genuine one as received (mode 0), the same with
/// flips in its header and body (mode 1), no flips, and wrong lengths.
fn sphinx_seeds() -> Vec<Vec<u8>> {
    use tacnode_crypto::sphinx::{HEADER_LEN, PACKET_LEN};
    let genuine = tacnode_fuzz::sphinx_packet::genuine().to_bytes();
    let mut seeds = vec![
        [&[0u8][..], &genuine[..]].concat(),
        [&[0u8][..], &genuine[..PACKET_LEN - 1]].concat(),
        vec![0u8; 10],
        vec![1u8],
    ];
    for position in [0usize, 40, HEADER_LEN - 1, HEADER_LEN, PACKET_LEN - 1] {
        let p = u16::try_from(position).unwrap_or(0).to_be_bytes();
        seeds.push(vec![1, p[0], p[1], 0x01]);
    }
    seeds
}
