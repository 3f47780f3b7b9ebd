//! The simulated network: unmodified DHT cores, a virtual clock that jumps
//! from event to event, and the link model between them. Lost datagrams are
//! retransmitted as QUIC would ([`LinkModel::delay`]): a request and its
//! response are delivered late, or not at all once the requester's request
//! timeout has passed.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tacnode_dht::{
    Dht, DhtConfig, LookupId, LookupKind, LookupResult, LookupStats, Output, PeerRecordValidator,
    RequestId,
};
use tacnode_domain::dht::{Contact, DhtRequest, DhtResponse};
use tacnode_domain::{NodeId, UnixMillis};

use crate::link::LinkModel;

/// The core under simulation.
pub type Core = Dht<StdRng, PeerRecordValidator>;

/// Virtual time at which every simulation starts (a plausible wall clock,
/// so record expiries behave as in production).
pub const EPOCH_MS: u64 = 1_700_000_000_000;

/// One simulated node.
#[derive(Debug)]
pub struct SimNode {
    /// Its core.
    pub dht: Core,
    /// False once crashed (silently: messages to it vanish).
    pub alive: bool,
    /// Answers FIND_NODE / FIND_VALUE with malicious nodes only.
    pub malicious: bool,
    /// Holds a member certificate of the closed network (see
    /// [`Network::close`]); every node does in an open network.
    pub member: bool,
    /// Incremented on restart, so answers to a previous life are dropped.
    epoch: u32,
    /// Earliest wake-up already queued.
    wake: Option<u64>,
}

/// A lookup that ended on some node.
#[derive(Clone, Debug)]
pub struct FinishedLookup {
    /// Node that ran it.
    pub node: u32,
    /// Its id on that node.
    pub id: LookupId,
    /// What it found.
    pub result: LookupResult,
    /// How it went.
    pub stats: LookupStats,
}

#[derive(Debug)]
enum Event {
    Request {
        from: u32,
        from_epoch: u32,
        to: u32,
        id: RequestId,
        request: DhtRequest,
        /// When the requester stops waiting for the answer.
        deadline: u64,
    },
    Response {
        from: u32,
        to: u32,
        to_epoch: u32,
        id: RequestId,
        response: DhtResponse,
    },
    Wake {
        node: u32,
    },
    /// The handshake of a request was refused (closed network, no member
    /// certificate on one side): the requester learns it one round trip on.
    Refused {
        node: u32,
        epoch: u32,
        id: RequestId,
    },
}

/// A queue entry; the event itself waits in the slab so heap moves stay small.
#[derive(Debug)]
struct Scheduled {
    at: u64,
    seq: u64,
    slot: usize,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    // Reversed: BinaryHeap is a max-heap and the earliest event runs first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A deterministic network of DHT cores. Same seed, same calls: same run.
#[derive(Debug)]
pub struct Network {
    nodes: Vec<SimNode>,
    index: HashMap<NodeId, u32, BuildHasherDefault<IdHasher>>,
    queue: BinaryHeap<Scheduled>,
    slab: Vec<Option<Event>>,
    free: Vec<usize>,
    seq: u64,
    now: u64,
    rng: StdRng,
    /// Latency, loss and partitions.
    pub link: LinkModel,
    /// Sorted, so the ones closest to a key sit in one prefix range.
    malicious: Vec<NodeId>,
    finished: Vec<FinishedLookup>,
    messages: u64,
    requests_by_kind: [u64; 4],
    /// A closed network: handshakes between a member and a non-member fail.
    closed: bool,
    refused_handshakes: u64,
}

impl Network {
    /// An empty network whose randomness all derives from `seed`.
    pub fn new(seed: u64, link: LinkModel) -> Self {
        Self {
            nodes: Vec::new(),
            index: HashMap::default(),
            queue: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            seq: 0,
            now: EPOCH_MS,
            rng: StdRng::seed_from_u64(seed),
            link,
            malicious: Vec::new(),
            finished: Vec::new(),
            messages: 0,
            requests_by_kind: [0; 4],
            closed: false,
            refused_handshakes: 0,
        }
    }

    /// Makes the network closed: from now on a connection between a member
    /// and a non-member fails its handshake, both ways, as the TLS
    /// verifiers of a closed network refuse a peer without a valid member
    /// certificate. Nodes are members until [`Network::set_outsider`].
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Node `i` holds no member certificate.
    pub fn set_outsider(&mut self, i: u32) {
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.member = false;
        }
    }

    /// Handshakes refused so far (closed network).
    pub fn refused_handshakes(&self) -> u64 {
        self.refused_handshakes
    }

    fn handshake_refused(&self, a: u32, b: u32) -> bool {
        let member = |i: u32| self.nodes.get(i as usize).is_some_and(|n| n.member);
        self.closed && member(a) != member(b)
    }

    /// Current virtual time.
    pub fn now(&self) -> UnixMillis {
        UnixMillis(self.now)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the network has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Messages delivered so far (requests and responses).
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Requests delivered by kind: ping, find node, find value, store.
    pub fn requests_by_kind(&self) -> [u64; 4] {
        self.requests_by_kind
    }

    /// Node `i`.
    pub fn node(&self, i: u32) -> Option<&SimNode> {
        self.nodes.get(i as usize)
    }

    /// Index of the node with id `id`.
    pub fn index_of(&self, id: &NodeId) -> Option<u32> {
        self.index.get(id).copied()
    }

    fn core(&self, config: &DhtConfig, id: NodeId, rng_seed: u64) -> Option<Core> {
        Dht::new(
            config.clone(),
            id,
            StdRng::seed_from_u64(rng_seed),
            PeerRecordValidator,
        )
        .ok()
    }

    /// Adds a node (not yet bootstrapped). `None` if the config is invalid or
    /// the id is taken.
    pub fn add_node(&mut self, id: NodeId, config: &DhtConfig) -> Option<u32> {
        if self.index.contains_key(&id) {
            return None;
        }
        let seed = self.rng.random::<u64>();
        let dht = self.core(config, id, seed)?;
        let i = u32::try_from(self.nodes.len()).ok()?;
        self.nodes.push(SimNode {
            dht,
            alive: true,
            malicious: false,
            member: true,
            epoch: 0,
            wake: None,
        });
        self.index.insert(id, i);
        Some(i)
    }

    /// Marks node `i` malicious: from now on it answers FIND_NODE and
    /// FIND_VALUE with the malicious nodes closest to the target only.
    pub fn set_malicious(&mut self, i: u32) {
        if let Some(n) = self.nodes.get_mut(i as usize)
            && !n.malicious
        {
            n.malicious = true;
            let id = *n.dht.local_id();
            let at = self.malicious.partition_point(|m| *m < id);
            self.malicious.insert(at, id);
        }
    }

    /// Crashes node `i` silently: whatever reaches it vanishes.
    pub fn crash(&mut self, i: u32) {
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.alive = false;
            n.wake = None;
        }
    }

    /// Restarts node `i` with a fresh core (all state lost); bootstrap it again.
    pub fn restart(&mut self, i: u32, config: &DhtConfig) {
        let seed = self.rng.random::<u64>();
        let Some(id) = self.nodes.get(i as usize).map(|n| *n.dht.local_id()) else {
            return;
        };
        if let Some(dht) = self.core(config, id, seed)
            && let Some(n) = self.nodes.get_mut(i as usize)
        {
            n.dht = dht;
            n.alive = true;
            n.epoch = n.epoch.wrapping_add(1);
            n.wake = None;
        }
    }

    /// Adds contacts to node `i`'s table directly (for oracle tables).
    pub fn insert_contacts(&mut self, i: u32, contacts: Vec<Contact>) {
        let now = self.now();
        if let Some(n) = self.nodes.get_mut(i as usize) {
            for c in contacts {
                n.dht.insert_contact(now, c);
            }
        }
        self.flush(i);
    }

    fn contact(&self, i: u32) -> Option<Contact> {
        self.nodes.get(i as usize).map(|n| Contact {
            node_id: *n.dht.local_id(),
            endpoints: Vec::new(),
        })
    }

    /// Joins node `i` through `peers`: it looks itself up.
    pub fn bootstrap(&mut self, i: u32, peers: &[u32]) -> Option<LookupId> {
        let contacts: Vec<Contact> = peers.iter().filter_map(|p| self.contact(*p)).collect();
        let now = self.now();
        let id = self
            .nodes
            .get_mut(i as usize)?
            .dht
            .bootstrap(now, contacts)
            .ok();
        self.flush(i);
        id
    }

    /// Starts a FIND_NODE lookup of `target` on node `i`.
    pub fn start_lookup(&mut self, i: u32, target: NodeId) -> Option<LookupId> {
        let now = self.now();
        let id = self
            .nodes
            .get_mut(i as usize)?
            .dht
            .start_lookup(now, target, LookupKind::FindNode)
            .ok();
        self.flush(i);
        id
    }

    /// Lookups finished since the last call.
    pub fn take_finished(&mut self) -> Vec<FinishedLookup> {
        std::mem::take(&mut self.finished)
    }

    fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slab.get_mut(slot) {
                    *s = Some(event);
                }
                slot
            }
            None => {
                self.slab.push(Some(event));
                self.slab.len() - 1
            }
        };
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            slot,
        });
    }

    /// Drains node `i`'s outputs into the network and re-arms its timer.
    fn flush(&mut self, i: u32) {
        loop {
            let Some(n) = self.nodes.get_mut(i as usize) else {
                return;
            };
            let epoch = n.epoch;
            let timeout = n.dht.config().request_timeout_ms;
            let Some(out) = n.dht.poll() else {
                break;
            };
            match out {
                Output::SendRequest { id, to, request } => {
                    // Unknown ids (invented contacts) are never answered: they time out.
                    let Some(j) = self.index.get(&to.node_id).copied() else {
                        continue;
                    };
                    if self.handshake_refused(i, j) {
                        // Refused in the handshake: one round trip, no request.
                        self.refused_handshakes += 1;
                        if let Some(d) = self.link.delay(i, j, timeout, &mut self.rng) {
                            let at = self.now + 2 * d;
                            self.push(at, Event::Refused { node: i, epoch, id });
                        }
                        continue;
                    }
                    if let Some(d) = self.link.delay(i, j, timeout, &mut self.rng) {
                        let at = self.now + d;
                        self.push(
                            at,
                            Event::Request {
                                from: i,
                                from_epoch: epoch,
                                to: j,
                                id,
                                request,
                                deadline: self.now.saturating_add(timeout),
                            },
                        );
                    }
                }
                Output::LookupFinished {
                    id, result, stats, ..
                } => self.finished.push(FinishedLookup {
                    node: i,
                    id,
                    result,
                    stats,
                }),
                Output::StoreFinished { .. } | Output::RoutingUpdated { .. } => {}
            }
        }
        let Some(n) = self.nodes.get_mut(i as usize) else {
            return;
        };
        if let Some(t) = n.dht.poll_timeout().map(|t| t.0.max(self.now))
            && n.wake.is_none_or(|w| t < w)
        {
            n.wake = Some(t);
            self.push(t, Event::Wake { node: i });
        }
    }

    /// The `k` malicious nodes closest to `target` (never `me`). Ids sharing
    /// the longest prefix with `target` are contiguous in the sorted list and
    /// closer than all others: take the longest prefix range holding enough.
    fn malicious_answer(&self, me: &NodeId, target: &NodeId, k: usize) -> Vec<Contact> {
        let need = k + 1;
        let mut range: &[NodeId] = &self.malicious;
        for bits in 1..=256usize {
            let (lo, hi) = prefix_range(target, bits);
            let a = self.malicious.partition_point(|m| *m < lo);
            let b = self.malicious.partition_point(|m| *m <= hi);
            match self.malicious.get(a..b) {
                Some(r) if r.len() >= need => range = r,
                _ => break,
            }
        }
        let mut best: Vec<&NodeId> = range.iter().filter(|m| *m != me).collect();
        best.sort_by_key(|m| m.distance(target));
        best.truncate(k);
        best.into_iter()
            .map(|m| Contact {
                node_id: *m,
                endpoints: Vec::new(),
            })
            .collect()
    }

    /// Processes the next event; false when none is left.
    pub fn step(&mut self) -> bool {
        let Some(ev) = self.queue.pop() else {
            return false;
        };
        self.free.push(ev.slot);
        let Some(event) = self.slab.get_mut(ev.slot).and_then(Option::take) else {
            return true;
        };
        self.now = self.now.max(ev.at);
        let now = self.now();
        match event {
            Event::Wake { node } => {
                let Some(n) = self.nodes.get_mut(node as usize) else {
                    return true;
                };
                if !n.alive || n.wake != Some(ev.at) {
                    return true;
                }
                n.wake = None;
                n.dht.handle_timeout(now);
                self.flush(node);
            }
            Event::Refused { node, epoch, id } => {
                let Some(n) = self.nodes.get_mut(node as usize) else {
                    return true;
                };
                if n.alive && n.epoch == epoch {
                    n.dht.handle_failure(now, id);
                    self.flush(node);
                }
            }
            Event::Request {
                from,
                from_epoch,
                to,
                id,
                request,
                deadline,
            } => {
                self.messages += 1;
                let kind = match &request {
                    DhtRequest::Ping { .. } => 0,
                    DhtRequest::FindNode { .. } => 1,
                    DhtRequest::FindValue { .. } => 2,
                    DhtRequest::Store { .. } => 3,
                };
                if let Some(c) = self.requests_by_kind.get_mut(kind) {
                    *c += 1;
                }
                let Some(from_id) = self.nodes.get(from as usize).map(|n| *n.dht.local_id()) else {
                    return true;
                };
                let Some(n) = self.nodes.get(to as usize) else {
                    return true;
                };
                if !n.alive {
                    return true;
                }
                let response = if n.malicious {
                    let k = n.dht.config().k;
                    let me = *n.dht.local_id();
                    match request {
                        DhtRequest::Ping { .. } => DhtResponse::Pong,
                        DhtRequest::FindNode { target, .. } => {
                            DhtResponse::Nodes(self.malicious_answer(&me, &target, k))
                        }
                        DhtRequest::FindValue { key, .. } => DhtResponse::Value {
                            record: None,
                            closer: self.malicious_answer(&me, &key, k),
                        },
                        DhtRequest::Store { .. } => DhtResponse::Stored(Ok(())),
                    }
                } else {
                    let Some(n) = self.nodes.get_mut(to as usize) else {
                        return true;
                    };
                    let r = n.dht.handle_request(now, from_id, None, request);
                    self.flush(to);
                    r
                };
                let budget = deadline.saturating_sub(self.now);
                if let Some(d) = self.link.delay(to, from, budget, &mut self.rng) {
                    let at = self.now + d;
                    self.push(
                        at,
                        Event::Response {
                            from: to,
                            to: from,
                            to_epoch: from_epoch,
                            id,
                            response,
                        },
                    );
                }
            }
            Event::Response {
                from,
                to,
                to_epoch,
                id,
                response,
            } => {
                self.messages += 1;
                let Some(from_id) = self.nodes.get(from as usize).map(|n| *n.dht.local_id()) else {
                    return true;
                };
                let Some(n) = self.nodes.get_mut(to as usize) else {
                    return true;
                };
                if !n.alive || n.epoch != to_epoch {
                    return true;
                }
                n.dht.handle_response(now, id, from_id, response);
                self.flush(to);
            }
        }
        true
    }

    /// Runs every event up to virtual time `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: UnixMillis) {
        while self.queue.peek().is_some_and(|e| e.at <= t.0) {
            self.step();
        }
        self.now = self.now.max(t.0);
    }

    /// Runs events while `cond` holds and events remain.
    pub fn run_while(&mut self, mut cond: impl FnMut(&Self) -> bool) {
        while cond(self) && self.step() {}
    }
}

/// Smallest and largest ids sharing the first `bits` bits of `id`.
fn prefix_range(id: &NodeId, bits: usize) -> (NodeId, NodeId) {
    let mut lo = *id.as_bytes();
    let mut hi = *id.as_bytes();
    for bit in bits..256 {
        let byte = bit / 8;
        let mask = 0x80u8 >> (bit % 8);
        if let (Some(l), Some(h)) = (lo.get_mut(byte), hi.get_mut(byte)) {
            *l &= !mask;
            *h |= mask;
        }
    }
    (NodeId::from_bytes(lo), NodeId::from_bytes(hi))
}

/// Hashes a simulated node id by its first eight bytes: the simulator draws
/// ids uniformly at random, so they need no keyed hash (the core, which
/// sees ids chosen by peers, keeps the standard one).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().take(8) {
            self.0 = self.0 << 8 | u64::from(*b);
        }
    }

    // Slices hash their length first; it carries no information here.
    fn write_usize(&mut self, _: usize) {}
}
