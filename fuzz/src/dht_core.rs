//! The sans-IO Kademlia core driven by an arbitrary sequence of inputs:
//! requests from a small pool of peers (so ids collide and buckets fill),
//! answers to its outstanding requests, failures, time passing, lookups,
//! contact insertions and record publication.
//!
//! Input layout (read with `arbitrary::Unstructured`): a configuration
//! byte block, then up to [`MAX_OPS`] ops, each a tag byte and its fields;
//! [`encode`] writes the same layout for seeds. Records come from a pool of
//! genuine signed peer records and prekey copies, optionally re-sequenced
//! or re-timed; a permissive validator (chosen by the configuration) lets
//! unsigned variations into the store too.
//!
//! Invariants after every step: no bucket holds more than K entries or its
//! cache more than the configured size, every entry sits in its own bucket,
//! the local id is never in the table nor asked anything, the table holds at
//! most 256 x K nodes, the store at most `MAX_STORED_RECORDS`, at most
//! `MAX_CONCURRENT_LOOKUPS` lookups run, and `poll()` drains.

use std::collections::HashSet;
use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_crypto::prekey::{PrekeyState, verify_published};
use tacnode_dht::{
    BUCKET_COUNT, Dht, DhtConfig, LookupKind, MAX_CONCURRENT_LOOKUPS, MAX_STORED_RECORDS, Output,
    RecordRejection, RecordValidator, RequestId, RoutingChange, bucket_of,
};
use tacnode_domain::dht::{
    Contact, DhtRequest, DhtResponse, MAX_CONTACTS_PER_RESPONSE, Record, RecordKind, RecordValue,
    RefusalCode, SenderInfo,
};
use tacnode_domain::e2e::PublishedPrekeys;
use tacnode_domain::{
    Endpoint, MAX_ENDPOINTS, NodeId, NodeType, PeerRecord, UnixMillis, UnsignedPeerRecord,
};

/// Most ops read from one input.
pub const MAX_OPS: usize = 256;
/// Start of the clock.
pub const START: UnixMillis = UnixMillis(1_700_000_000_000);
/// Peers in the pool (index 0 is the local node itself).
pub const POOL: usize = 16;

/// The node's configuration block.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Bucket size: 1..=4, or the default 20 when 0.
    pub k: u8,
    /// Lookup width: 1..=3.
    pub alpha: u8,
    /// Disjoint paths: 1..=2.
    pub paths: u8,
    /// Replacement cache size: 0..=3.
    pub cache: u8,
    /// Server or client.
    pub server: bool,
    /// Accept any signature (unsigned record variations get stored).
    pub permissive: bool,
}

/// How a record from the pool is varied.
#[derive(Debug, Clone, Copy)]
pub struct RecordChoice {
    /// Index into the record pool.
    pub index: u8,
    /// Added to the sequence (breaks the signature unless 0).
    pub sequence_delta: u8,
    /// Expiry relative to now, in seconds (0: already expired).
    pub expires_in_s: u16,
    /// Store under a pool id instead of the record's own key.
    pub wrong_key: Option<u8>,
}

/// One step.
#[derive(Debug, Clone)]
pub enum Op {
    /// A request from pool peer `from`.
    Request {
        /// Sender index.
        from: u8,
        /// Sender says it is a server.
        server: bool,
        /// Announced endpoints (0..=MAX_ENDPOINTS).
        endpoints: u8,
        /// The transport-level source endpoint is known.
        from_endpoint: bool,
        /// 0 ping, 1 find node, 2 find value (peer), 3 find value (prekeys), 4 store.
        kind: u8,
        /// Target or key index into the pool.
        target: u8,
        /// The record of a store.
        record: RecordChoice,
    },
    /// The answer to an outstanding request.
    Respond {
        /// Index into the outstanding requests.
        index: u8,
        /// Answer from another pool peer than the one asked.
        impostor: Option<u8>,
        /// 0 pong, 1 nodes, 2 value with record, 3 value without, 4 stored, 5 refused.
        kind: u8,
        /// Contacts: bit i set includes pool peer i.
        contacts: u16,
        /// Endpoints per contact.
        endpoints: u8,
        /// The record of a value answer.
        record: RecordChoice,
    },
    /// An outstanding request failed.
    Fail {
        /// Index into the outstanding requests.
        index: u8,
    },
    /// Time passes, then `handle_timeout`.
    Advance {
        /// Milliseconds (scaled: value * value).
        ms: u16,
    },
    /// A lookup starts.
    Lookup {
        /// Target index into the pool.
        target: u8,
        /// 0 find node, 1 peer value, 2 prekeys value.
        kind: u8,
    },
    /// A contact is inserted (bootstrap, configured peer).
    Insert {
        /// Pool index.
        peer: u8,
        /// Endpoints.
        endpoints: u8,
    },
    /// The local node publishes a record (only its own are valid).
    Put {
        /// The record.
        record: RecordChoice,
    },
}

fn parse_record(u: &mut Unstructured<'_>) -> Result<RecordChoice> {
    let index = u.arbitrary()?;
    let sequence_delta = u.arbitrary()?;
    let expires_in_s = u.arbitrary()?;
    let wrong_key = match u.arbitrary::<u8>()? {
        0 => None,
        w => Some(w),
    };
    Ok(RecordChoice {
        index,
        sequence_delta,
        expires_in_s,
        wrong_key,
    })
}

fn encode_record(r: &RecordChoice, out: &mut Vec<u8>) {
    out.push(r.index);
    out.push(r.sequence_delta);
    out.extend_from_slice(&r.expires_in_s.to_le_bytes());
    out.push(r.wrong_key.unwrap_or(0));
}

fn parse_setup(u: &mut Unstructured<'_>) -> Result<Setup> {
    let b: [u8; 3] = u.arbitrary()?;
    Ok(Setup {
        k: b[0] % 5,
        alpha: (b[1] & 3) % 3 + 1,
        paths: ((b[1] >> 2) & 1) + 1,
        cache: b[2] % 4,
        server: b[2] & 0x10 == 0,
        permissive: b[2] & 0x20 != 0,
    })
}

fn parse_op(u: &mut Unstructured<'_>) -> Result<Op> {
    Ok(match u.arbitrary::<u8>()? % 7 {
        0 => Op::Request {
            from: u.arbitrary()?,
            server: u.arbitrary()?,
            endpoints: u.arbitrary()?,
            from_endpoint: u.arbitrary()?,
            kind: u.arbitrary()?,
            target: u.arbitrary()?,
            record: parse_record(u)?,
        },
        1 => Op::Respond {
            index: u.arbitrary()?,
            impostor: match u.arbitrary::<u8>()? {
                0 => None,
                i => Some(i),
            },
            kind: u.arbitrary()?,
            contacts: u.arbitrary()?,
            endpoints: u.arbitrary()?,
            record: parse_record(u)?,
        },
        2 => Op::Fail {
            index: u.arbitrary()?,
        },
        3 => Op::Advance { ms: u.arbitrary()? },
        4 => Op::Lookup {
            target: u.arbitrary()?,
            kind: u.arbitrary()?,
        },
        5 => Op::Insert {
            peer: u.arbitrary()?,
            endpoints: u.arbitrary()?,
        },
        _ => Op::Put {
            record: parse_record(u)?,
        },
    })
}

/// The bytes [`run`] reads back as `setup` and `ops` (for seeds).
pub fn encode(setup: &Setup, ops: &[Op]) -> Vec<u8> {
    let mut out = vec![
        setup.k,
        (setup.alpha.saturating_sub(1) % 3) | ((setup.paths.saturating_sub(1) & 1) << 2),
        (setup.cache % 4)
            | (if setup.server { 0 } else { 0x10 })
            | (if setup.permissive { 0x20 } else { 0 }),
    ];
    for op in ops {
        match op {
            Op::Request {
                from,
                server,
                endpoints,
                from_endpoint,
                kind,
                target,
                record,
            } => {
                out.extend_from_slice(&[
                    0,
                    *from,
                    u8::from(*server),
                    *endpoints,
                    u8::from(*from_endpoint),
                    *kind,
                    *target,
                ]);
                encode_record(record, &mut out);
            }
            Op::Respond {
                index,
                impostor,
                kind,
                contacts,
                endpoints,
                record,
            } => {
                out.extend_from_slice(&[1, *index, impostor.unwrap_or(0), *kind]);
                out.extend_from_slice(&contacts.to_le_bytes());
                out.push(*endpoints);
                encode_record(record, &mut out);
            }
            Op::Fail { index } => out.extend_from_slice(&[2, *index]),
            Op::Advance { ms } => {
                out.push(3);
                out.extend_from_slice(&ms.to_le_bytes());
            }
            Op::Lookup { target, kind } => out.extend_from_slice(&[4, *target, *kind]),
            Op::Insert { peer, endpoints } => out.extend_from_slice(&[5, *peer, *endpoints]),
            Op::Put { record } => {
                out.push(6);
                encode_record(record, &mut out);
            }
        }
    }
    out
}

/// Peer ids and genuine records. Index 0 is the local node; 1..=3 own the
/// records; the rest sit close to or far from the local id, several per
/// bucket, so small buckets overflow.
pub struct Fixture {
    /// Node ids, `POOL` of them.
    pub ids: Vec<NodeId>,
    /// Genuine records of ids 0..=3 (peer records at two sequences, prekeys).
    pub records: Vec<RecordValue>,
}

/// The shared fixture (built once).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0xd47_c0de);
        let owners: Vec<Identity> = (0..4).map(|_| Identity::generate(&mut rng)).collect();
        let mut ids: Vec<NodeId> = owners.iter().map(Identity::node_id).collect();
        let local = *ids[0].as_bytes();
        // Same bucket as each other, pairwise: flip a high bit, then vary low bits.
        for (bit, low) in [
            (0u8, 0u8),
            (0, 1),
            (0, 2),
            (0, 3),
            (1, 0),
            (1, 1),
            (7, 0),
            (7, 5),
            (255, 0),
            (254, 0),
            (254, 1),
            (200, 9),
        ] {
            let mut b = local;
            b[usize::from(bit / 8)] ^= 0x80 >> (bit % 8);
            b[31] ^= low << 1;
            if bit >= 248 {
                b[31] = local[31] ^ (0x80 >> (bit % 8)) ^ low;
            }
            ids.push(NodeId::from_bytes(b));
        }
        ids.truncate(POOL);
        let mut records = Vec::new();
        for (i, id) in owners.iter().enumerate() {
            for seq in 1..=2u64 {
                records.push(RecordValue::Peer(id.sign_peer_record(UnsignedPeerRecord {
                    identity_key: id.identity_key(),
                    device_key: id.device_key(),
                    device_key_signature: id.device_key_signature(),
                    endpoints: endpoints(i + 1),
                    node_type: NodeType::Server,
                    last_seen: START,
                    metadata: Default::default(),
                    sequence: seq,
                    member: None,
                    reachability: None,
            relay: None,
                })));
            }
            let state = PrekeyState::new(&mut rng, id, START);
            records.push(RecordValue::Prekeys(state.published(id, 1)));
        }
        Fixture { ids, records }
    })
}

/// The `n`th first entries of a fixed endpoint list (cycled).
pub fn endpoints(n: usize) -> Vec<Endpoint> {
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

/// Accepts every signature: lets unsigned variations reach the store.
struct Permissive;

impl RecordValidator for Permissive {
    fn verify_peer(&self, _: &PeerRecord) -> std::result::Result<(), RecordRejection> {
        Ok(())
    }

    fn verify_prekeys(&self, _: &PublishedPrekeys) -> std::result::Result<(), RecordRejection> {
        Ok(())
    }
}

fn genuine_prekeys(p: &PublishedPrekeys) -> bool {
    verify_published(p).is_ok()
}

struct Driver<V: RecordValidator> {
    dht: Dht<StdRng, V>,
    now: UnixMillis,
    k: usize,
    cache: usize,
    outstanding: Vec<(RequestId, NodeId)>,
}

impl<V: RecordValidator> Driver<V> {
    fn id(&self, i: u8) -> NodeId {
        let ids = &fixture().ids;
        ids[usize::from(i) % ids.len()]
    }

    fn record(&self, r: &RecordChoice) -> (NodeId, Record) {
        let f = fixture();
        let mut value = f.records[usize::from(r.index) % f.records.len()].clone();
        let delta = u64::from(r.sequence_delta);
        match &mut value {
            RecordValue::Peer(p) => p.body.sequence = p.body.sequence.wrapping_add(delta),
            RecordValue::Prekeys(p) => p.sequence = p.sequence.wrapping_add(delta),
            RecordValue::Revocations(l) => l.sequence = l.sequence.wrapping_add(delta),
        }
        let key = match r.wrong_key {
            None => tacnode_dht::record_key(&value),
            Some(i) => self.id(i),
        };
        let record = Record {
            value,
            expires: self
                .now
                .saturating_add_millis(u64::from(r.expires_in_s) * 1000),
        };
        (key, record)
    }

    fn contacts(&self, mask: u16, endpoints_each: u8) -> Vec<Contact> {
        (0..POOL)
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| Contact {
                node_id: fixture().ids[i],
                endpoints: endpoints(usize::from(endpoints_each) % (MAX_ENDPOINTS + 1)),
            })
            .take(MAX_CONTACTS_PER_RESPONSE)
            .collect()
    }

    fn take_outstanding(&mut self, index: u8) -> Option<(RequestId, NodeId)> {
        if self.outstanding.is_empty() {
            return None;
        }
        let i = usize::from(index) % self.outstanding.len();
        Some(self.outstanding.swap_remove(i))
    }

    fn step(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Request {
                from,
                server,
                endpoints: n,
                from_endpoint,
                kind,
                target,
                record,
            } => {
                let sender = SenderInfo {
                    node_type: if server {
                        NodeType::Server
                    } else {
                        NodeType::Client
                    },
                    endpoints: endpoints(usize::from(n) % (MAX_ENDPOINTS + 1)),
                    time: None,
                };
                let target = self.id(target);
                let request = match kind % 5 {
                    0 => DhtRequest::Ping { sender },
                    1 => DhtRequest::FindNode { sender, target },
                    2 => DhtRequest::FindValue {
                        sender,
                        key: target,
                        kind: RecordKind::Peer,
                    },
                    3 => DhtRequest::FindValue {
                        sender,
                        key: target,
                        kind: RecordKind::Prekeys,
                    },
                    _ => {
                        let (key, record) = self.record(&record);
                        DhtRequest::Store {
                            sender,
                            key,
                            record: Box::new(record),
                        }
                    }
                };
                let from_ep = from_endpoint.then(|| endpoints(1)[0]);
                let from = self.id(from);
                let response = self.dht.handle_request(now, from, from_ep, request);
                match response {
                    DhtResponse::Nodes(c) | DhtResponse::Value { closer: c, .. } => {
                        assert!(
                            c.len() <= self.k,
                            "{} contacts answered, k = {}",
                            c.len(),
                            self.k
                        );
                        let me = *self.dht.local_id();
                        assert!(
                            c.iter().all(|c| c.node_id != me),
                            "answered with the local id"
                        );
                    }
                    _ => {}
                }
            }
            Op::Respond {
                index,
                impostor,
                kind,
                contacts,
                endpoints: n,
                record,
            } => {
                let Some((id, to)) = self.take_outstanding(index) else {
                    return;
                };
                let from = impostor.map_or(to, |i| self.id(i));
                let response = match kind % 6 {
                    0 => DhtResponse::Pong,
                    1 => DhtResponse::Nodes(self.contacts(contacts, n)),
                    2 => DhtResponse::Value {
                        record: Some(Box::new(self.record(&record).1)),
                        closer: Vec::new(),
                    },
                    3 => DhtResponse::Value {
                        record: None,
                        closer: self.contacts(contacts, n),
                    },
                    4 => DhtResponse::Stored(if n % 2 == 0 {
                        Ok(())
                    } else {
                        Err(RefusalCode::Quota)
                    }),
                    _ => DhtResponse::Refused(RefusalCode::Malformed),
                };
                self.dht.handle_response(now, id, from, response);
            }
            Op::Fail { index } => {
                if let Some((id, _)) = self.take_outstanding(index) {
                    self.dht.handle_failure(now, id);
                }
            }
            Op::Advance { ms } => {
                let ms = u64::from(ms) * u64::from(ms);
                self.now = now.saturating_add_millis(ms);
                self.dht.handle_timeout(self.now);
            }
            Op::Lookup { target, kind } => {
                let kind = match kind % 3 {
                    0 => LookupKind::FindNode,
                    1 => LookupKind::FindValue(RecordKind::Peer),
                    _ => LookupKind::FindValue(RecordKind::Prekeys),
                };
                let target = self.id(target);
                let _ = self.dht.start_lookup(now, target, kind);
            }
            Op::Insert { peer, endpoints: n } => {
                let contact = Contact {
                    node_id: self.id(peer),
                    endpoints: endpoints(usize::from(n) % (MAX_ENDPOINTS + 1)),
                };
                let _ = self.dht.insert_contact(now, contact);
            }
            Op::Put { record } => {
                let (_, record) = self.record(&record);
                let _ = self.dht.put_record(now, record.value);
            }
        }
    }

    /// Drains the outputs and checks the invariants.
    fn check(&mut self) {
        let me = *self.dht.local_id();
        let mut polled = 0usize;
        while let Some(out) = self.dht.poll() {
            polled += 1;
            assert!(polled < 1_000_000, "poll() does not drain");
            match out {
                Output::SendRequest { id, to, .. } => {
                    assert_ne!(to.node_id, me, "a request to the local node");
                    assert!(
                        to.endpoints.len() <= MAX_ENDPOINTS,
                        "contact over MAX_ENDPOINTS"
                    );
                    assert!(
                        self.outstanding.iter().all(|(o, _)| *o != id),
                        "request id reused while outstanding"
                    );
                    self.outstanding.push((id, to.node_id));
                }
                Output::RoutingUpdated { node, change } => {
                    if change == RoutingChange::Inserted {
                        assert_ne!(node, me, "the local id entered the routing table");
                    }
                }
                Output::LookupFinished { .. } | Output::StoreFinished { .. } => {}
            }
        }
        let _ = self.dht.poll_timeout();
        let table = self.dht.routing_table();
        let mut seen = HashSet::new();
        let mut total = 0usize;
        for (index, bucket) in table.buckets() {
            assert!(index < BUCKET_COUNT, "bucket index {index}");
            assert!(
                bucket.entries().len() <= self.k,
                "bucket {index} holds {} entries, k = {}",
                bucket.entries().len(),
                self.k
            );
            assert!(
                bucket.replacements().len() <= self.cache,
                "bucket {index} caches {}, cache size {}",
                bucket.replacements().len(),
                self.cache
            );
            for e in bucket.entries() {
                assert_ne!(
                    e.contact.node_id, me,
                    "the local id is in the routing table"
                );
                assert_eq!(
                    bucket_of(&me, &e.contact.node_id),
                    Some(index),
                    "entry in the wrong bucket"
                );
                assert!(seen.insert(e.contact.node_id), "node twice in the table");
                assert!(
                    e.contact.endpoints.len() <= MAX_ENDPOINTS,
                    "entry over MAX_ENDPOINTS"
                );
                total += 1;
            }
        }
        assert_eq!(table.len(), total, "len() disagrees with the buckets");
        assert!(table.len() <= BUCKET_COUNT * self.k, "table over 256 x K");
        assert!(
            self.dht.stored_records() <= MAX_STORED_RECORDS,
            "store over its cap"
        );
        assert!(
            self.dht.running_lookups() <= MAX_CONCURRENT_LOOKUPS,
            "too many lookups"
        );
    }
}

fn drive<V: RecordValidator>(setup: Setup, validator: V, u: &mut Unstructured<'_>) {
    let f = fixture();
    let mut config = DhtConfig::new(if setup.server {
        NodeType::Server
    } else {
        NodeType::Client
    });
    if setup.k != 0 {
        config.k = usize::from(setup.k);
    }
    config.alpha = usize::from(setup.alpha);
    config.disjoint_paths = usize::from(setup.paths);
    config.replacement_cache_size = usize::from(setup.cache);
    config.endpoints = endpoints(2);
    let (k, cache) = (config.k, config.replacement_cache_size);
    let dht = Dht::new(config, f.ids[0], StdRng::seed_from_u64(1), validator)
        .expect("a valid configuration");
    let mut d = Driver {
        dht,
        now: START,
        k,
        cache,
        outstanding: Vec::new(),
    };
    let mut ops = 0;
    while !u.is_empty() && ops < MAX_OPS {
        ops += 1;
        let Ok(op) = parse_op(u) else {
            break;
        };
        d.step(op);
        d.check();
    }
}

/// Runs the ops against a fresh core, checking after each.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = parse_setup(&mut u) else {
        return;
    };
    if setup.permissive {
        drive(setup, Permissive, &mut u);
    } else {
        drive(setup, genuine_prekeys, &mut u);
    }
}
