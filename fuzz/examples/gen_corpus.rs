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
use tacnode_crypto::Identity;
use tacnode_crypto::keystore::{self, KdfParams, KeystoreSecrets};
use tacnode_domain::dht::{
    Contact, DhtRequest, DhtResponse, Record, RecordKind, RecordValue, RefusalCode, SenderInfo,
};
use tacnode_domain::e2e::{
    OneTimePrekey, PrekeyBundle, PublishedPrekeys, RatchetHeader, RatchetMessage, SealedBody,
    SealedMessage, SignedPrekey, X3dhInitial,
};
use tacnode_domain::mailbox::{
    EntryId, MailboxAck, MailboxDeposit, MailboxEntry, MailboxFetch, MailboxOperation, MailboxProof,
};
use tacnode_domain::{
    Content, Endpoint, MessageId, NodeType, PeerRecord, Plaintext, UnixMillis, UnsignedPeerRecord,
};
use tacnode_fuzz::frame_codec::{self, STEP_DRAIN, STEP_PROBE_FINISH, STEP_WANTED, Step};
use tacnode_fuzz::keystore::{PASSPHRASE, STRUCTURED};
use tacnode_messaging::frame::{MAX_FRAME_LEN, encode_frame};
use tacnode_messaging::{Message, encode_plaintext, encode_sealed, pb};

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
    Ok(())
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

fn ratchet(rng: &mut StdRng, len: usize) -> RatchetMessage {
    RatchetMessage {
        header: RatchetHeader {
            ratchet_key: tacnode_domain::DhPublicKey(rng.random()),
            previous_chain_length: 2,
            message_number: 5,
        },
        ciphertext: (0..len).map(|_| rng.random()).collect(),
    }
}

fn sealed(rng: &mut StdRng, ids: &[Identity]) -> Vec<SealedMessage> {
    let a = &ids[0];
    vec![
        SealedMessage {
            sender_identity_key: a.identity_key(),
            body: SealedBody::Message(ratchet(rng, 48)),
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
    ]
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
    };
    let client = SenderInfo {
        node_type: NodeType::Client,
        endpoints: vec![],
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
        Message::MailboxDeposit(MailboxDeposit {
            recipient: b.node_id(),
            entry_id: EntryId(rng.random()),
            payload: encode_sealed(&sealed(rng, ids)[0]),
            expires: UnixMillis(1_700_086_400_000),
        }),
        Message::MailboxDeposited { accepted: true },
        Message::MailboxDeposited { accepted: false },
        Message::MailboxChallengeRequest {
            recipient: a.node_id(),
        },
        Message::MailboxChallenge {
            nonce: rng.random(),
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
    ];
    for s in sealed(rng, ids) {
        out.push(Message::Direct(s));
    }
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
