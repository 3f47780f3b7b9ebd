//! The Kademlia node core: routing table, lookups, record store and the
//! timers that tie them together, behind a sans-IO interface.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use rand_core::CryptoRng;
use tacnode_domain::dht::{
    Contact, DhtRequest, DhtResponse, Record, RecordKind, RecordValue, RefusalCode, SenderInfo,
};
use tacnode_domain::{Endpoint, MAX_CLOCK_SKEW_MS, MAX_ENDPOINTS, NodeId, NodeType, UnixMillis};

use crate::config::{
    ConfigError, DhtConfig, LOOKUP_REQUEST_RETRIES, MAX_CONCURRENT_LOOKUPS,
    MAX_CONSECUTIVE_FAILURES, MAX_PUBLISHED_RECORDS, STORE_PURGE_INTERVAL_MS,
};
use crate::kbucket::Seen;
use crate::key::random_key_in_bucket;
use crate::lookup::{Lookup, LookupId, LookupKind, LookupResult, LookupStats, Width};
use crate::store::{
    PeerRecordValidator, RecordRejection, RecordStore, RecordValidator, record_key,
    record_sequence, validate_record,
};
use crate::table::{RoutingChange, RoutingTable};

/// Identifies an outgoing request; the driver hands it back with the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Identifies a STORE operation (lookup of the K closest, then STORE to each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreId(pub u64);

/// What the core asks its driver to do or tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `request` to `to`; answer with [`Dht::handle_response`] or
    /// [`Dht::handle_failure`]. Unanswered requests time out by themselves;
    /// a lookup request that timed out comes again with a new id and `to`'s
    /// endpoints rotated (see [`LOOKUP_REQUEST_RETRIES`]).
    SendRequest {
        /// Request id.
        id: RequestId,
        /// Recipient.
        to: Contact,
        /// The request.
        request: DhtRequest,
    },
    /// A lookup started with [`Dht::start_lookup`] or [`Dht::bootstrap`] ended.
    LookupFinished {
        /// Its id.
        id: LookupId,
        /// What it searched.
        kind: LookupKind,
        /// What it found.
        result: LookupResult,
        /// How it went.
        stats: LookupStats,
    },
    /// A publication (from [`Dht::put_record`] or a republish) ended.
    StoreFinished {
        /// Its id.
        id: StoreId,
        /// Record key.
        key: NodeId,
        /// Nodes that accepted the record.
        stored: Vec<NodeId>,
        /// Nodes that refused it, and why.
        refused: Vec<(NodeId, RefusalCode)>,
        /// Nodes that did not answer.
        failed: Vec<NodeId>,
    },
    /// The routing table gained or lost a node.
    RoutingUpdated {
        /// The node.
        node: NodeId,
        /// What happened to it.
        change: RoutingChange,
    },
}

/// Why a lookup could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// [`MAX_CONCURRENT_LOOKUPS`] lookups are already running.
    #[error("{MAX_CONCURRENT_LOOKUPS} lookups already running")]
    TooManyLookups,
}

/// Why a record could not be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PutError {
    /// The record would be refused by every holder.
    #[error("invalid record: {0}")]
    Invalid(#[from] RecordRejection),
    /// Already publishing [`MAX_PUBLISHED_RECORDS`] records.
    #[error("already publishing {MAX_PUBLISHED_RECORDS} records")]
    TooManyPublished,
    /// The lookup for the closest nodes could not start.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

#[derive(Clone, Copy, Debug)]
enum Purpose {
    Lookup(LookupId),
    LivenessCheck,
    Store(StoreId),
}

#[derive(Clone, Debug)]
struct Pending {
    /// The contact as the caller gave it (endpoints in their own order).
    to: Contact,
    deadline: UnixMillis,
    purpose: Purpose,
    /// 0 for the first send, then one more per retry.
    attempt: u32,
}

#[derive(Clone, Copy, Debug)]
enum LookupOwner {
    Caller,
    Bootstrap,
    Refresh,
    Store(StoreId),
}

#[derive(Clone, Debug)]
struct RunningLookup {
    lookup: Lookup,
    owner: LookupOwner,
}

#[derive(Clone, Debug)]
struct StoreTask {
    key: NodeId,
    record: Record,
    outstanding: usize,
    stored: Vec<NodeId>,
    refused: Vec<(NodeId, RefusalCode)>,
    failed: Vec<NodeId>,
}

/// [`RecordKind`] as an ordered map key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KindKey {
    Peer,
    Prekeys,
    Revocations,
}

impl From<RecordKind> for KindKey {
    fn from(k: RecordKind) -> Self {
        match k {
            RecordKind::Peer => Self::Peer,
            RecordKind::Prekeys => Self::Prekeys,
            RecordKind::Revocations => Self::Revocations,
        }
    }
}

#[derive(Clone, Debug)]
struct Published {
    value: RecordValue,
    next_republish: UnixMillis,
}

/// One node's Kademlia state machine. See the crate documentation for how
/// to drive it.
#[derive(Debug)]
pub struct Dht<R, V = PeerRecordValidator> {
    config: DhtConfig,
    local: NodeId,
    rng: R,
    validator: V,
    table: RoutingTable,
    store: RecordStore,
    lookups: HashMap<LookupId, RunningLookup>,
    pending: HashMap<RequestId, Pending>,
    deadlines: BTreeSet<(UnixMillis, RequestId)>,
    stores: HashMap<StoreId, StoreTask>,
    // Ordered so republication order is deterministic.
    published: BTreeMap<(NodeId, KindKey), Published>,
    outputs: VecDeque<Output>,
    next_id: u64,
    next_purge: Option<UnixMillis>,
}

impl<R: CryptoRng, V: RecordValidator> Dht<R, V> {
    /// A node with id `local` and an empty routing table. `rng` picks
    /// refresh targets; `validator` checks record signatures.
    pub fn new(
        config: DhtConfig,
        local: NodeId,
        rng: R,
        validator: V,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            table: RoutingTable::new(
                local,
                config.k,
                config.replacement_cache_size,
                config.liveness_check_after_ms,
            ),
            config,
            local,
            rng,
            validator,
            store: RecordStore::default(),
            lookups: HashMap::new(),
            pending: HashMap::new(),
            deadlines: BTreeSet::new(),
            stores: HashMap::new(),
            published: BTreeMap::new(),
            outputs: VecDeque::new(),
            next_id: 0,
            next_purge: None,
        })
    }

    /// This node's id.
    pub fn local_id(&self) -> &NodeId {
        &self.local
    }

    /// The configuration.
    pub fn config(&self) -> &DhtConfig {
        &self.config
    }

    /// The routing table (read-only).
    pub fn routing_table(&self) -> &RoutingTable {
        &self.table
    }

    /// Number of records held for others (and self).
    pub fn stored_records(&self) -> usize {
        self.store.len()
    }

    /// The unexpired record of `kind` under `key` held locally.
    pub fn local_record(&self, now: UnixMillis, key: &NodeId, kind: RecordKind) -> Option<&Record> {
        self.store.get(key, kind, now)
    }

    /// Lookups still running.
    pub fn running_lookups(&self) -> usize {
        self.lookups.len()
    }

    /// Changes the endpoints announced to peers (at most [`MAX_ENDPOINTS`] are kept).
    pub fn set_endpoints(&mut self, mut endpoints: Vec<Endpoint>) {
        endpoints.truncate(MAX_ENDPOINTS);
        self.config.endpoints = endpoints;
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn sender_info(&self, now: UnixMillis) -> SenderInfo {
        SenderInfo {
            node_type: self.config.node_type,
            endpoints: self.config.endpoints.clone(),
            time: Some(now),
        }
    }

    /// Adds a server contact to the routing table as if it had just been
    /// seen (bootstrap peers, operator-configured peers). When its bucket is
    /// full it goes to the replacement cache and the least-recently-seen
    /// entry is pinged. Returns whether it is now in the table.
    pub fn insert_contact(&mut self, now: UnixMillis, contact: Contact) -> bool {
        let id = contact.node_id;
        self.seen(now, contact);
        self.table.contains(&id)
    }

    fn seen(&mut self, now: UnixMillis, mut contact: Contact) {
        if contact.node_id == self.local {
            return;
        }
        contact.endpoints.truncate(MAX_ENDPOINTS);
        let node = contact.node_id;
        match self.table.seen(contact, now) {
            Some(Seen::Inserted) => self.outputs.push_back(Output::RoutingUpdated {
                node,
                change: RoutingChange::Inserted,
            }),
            Some(Seen::PingLeastRecent(lrs)) => {
                let request = DhtRequest::Ping {
                    sender: self.sender_info(now),
                };
                self.send(now, lrs, request, Purpose::LivenessCheck);
            }
            Some(Seen::Refreshed | Seen::Cached) | None => {}
        }
    }

    fn node_failed(&mut self, node: &NodeId) {
        if let Some((removed, replacement)) = self.table.failed(node, MAX_CONSECUTIVE_FAILURES) {
            self.outputs.push_back(Output::RoutingUpdated {
                node: removed,
                change: RoutingChange::Removed,
            });
            if let Some(r) = replacement {
                self.outputs.push_back(Output::RoutingUpdated {
                    node: r,
                    change: RoutingChange::Inserted,
                });
            }
        }
    }

    fn send(&mut self, now: UnixMillis, to: Contact, request: DhtRequest, purpose: Purpose) {
        self.send_attempt(now, to, request, purpose, 0);
    }

    /// Sends attempt number `attempt` of a request. A retry takes another
    /// path where there is one: the driver dials the endpoints in order, so
    /// attempt `n` puts the contact's `n`-th endpoint (cyclically) first.
    fn send_attempt(
        &mut self,
        now: UnixMillis,
        to: Contact,
        request: DhtRequest,
        purpose: Purpose,
        attempt: u32,
    ) {
        let id = RequestId(self.fresh_id());
        let deadline = now.saturating_add_millis(self.config.request_timeout_ms);
        self.deadlines.insert((deadline, id));
        let mut path = to.clone();
        if let Ok(n) = usize::try_from(attempt)
            && let Some(shift) = n.checked_rem(path.endpoints.len())
        {
            path.endpoints.rotate_left(shift);
        }
        self.pending.insert(
            id,
            Pending {
                to,
                deadline,
                purpose,
                attempt,
            },
        );
        self.outputs.push_back(Output::SendRequest {
            id,
            to: path,
            request,
        });
    }

    fn lookup_request(&self, now: UnixMillis, kind: LookupKind, target: NodeId) -> DhtRequest {
        let sender = self.sender_info(now);
        match kind {
            LookupKind::FindNode => DhtRequest::FindNode { sender, target },
            LookupKind::FindValue(kind) => DhtRequest::FindValue {
                sender,
                key: target,
                kind,
            },
        }
    }

    /// Joins the network: adds `contacts` to the routing table and looks up
    /// the local id, which fills the table with the neighbourhood and
    /// announces this node there; once that lookup ends (reported as
    /// [`Output::LookupFinished`] with the returned id), every bucket farther
    /// than the closest neighbour is refreshed.
    pub fn bootstrap(
        &mut self,
        now: UnixMillis,
        contacts: Vec<Contact>,
    ) -> Result<LookupId, LookupError> {
        for c in contacts {
            self.seen(now, c);
        }
        self.start(
            now,
            self.local,
            LookupKind::FindNode,
            LookupOwner::Bootstrap,
        )
    }

    /// Starts an iterative lookup; its end is reported as [`Output::LookupFinished`].
    pub fn start_lookup(
        &mut self,
        now: UnixMillis,
        target: NodeId,
        kind: LookupKind,
    ) -> Result<LookupId, LookupError> {
        self.start(now, target, kind, LookupOwner::Caller)
    }

    fn start(
        &mut self,
        now: UnixMillis,
        target: NodeId,
        kind: LookupKind,
        owner: LookupOwner,
    ) -> Result<LookupId, LookupError> {
        if self.lookups.len() >= MAX_CONCURRENT_LOOKUPS {
            return Err(LookupError::TooManyLookups);
        }
        self.table.touch_lookup(&target, now);
        let seeds = self.table.closest(&target, self.config.k, None);
        let width = Width {
            k: self.config.k,
            alpha: self.config.alpha,
            paths: self.config.disjoint_paths,
        };
        let lookup = Lookup::new(target, kind, seeds, self.local, width, now);
        let id = LookupId(self.fresh_id());
        self.lookups.insert(id, RunningLookup { lookup, owner });
        self.drive(now, id);
        Ok(id)
    }

    fn drive(&mut self, now: UnixMillis, id: LookupId) {
        let mut to_send = Vec::new();
        let finished = match self.lookups.get_mut(&id) {
            None => return,
            Some(run) => {
                while let Some(c) = run.lookup.next_request() {
                    to_send.push(c);
                }
                run.lookup.is_finished()
            }
        };
        if let Some(run) = self.lookups.get(&id) {
            let target = *run.lookup.target();
            let kind = run.lookup.kind();
            for to in to_send {
                let request = self.lookup_request(now, kind, target);
                self.send(now, to, request, Purpose::Lookup(id));
            }
        }
        if !finished {
            return;
        }
        let Some(run) = self.lookups.remove(&id) else {
            return;
        };
        let kind = run.lookup.kind();
        let target = *run.lookup.target();
        let (mut result, stats) = run.lookup.finish(now);
        // A record this node holds itself answers a lookup that found none
        // elsewhere, or only an older one: in a network with one server,
        // that server's routing table has no other server to ask, yet it
        // holds every record.
        if let LookupKind::FindValue(record_kind) = kind
            && let Some(local) = self.store.get(&target, record_kind, now)
            && result
                .record
                .as_ref()
                .is_none_or(|found| record_sequence(&found.value) < record_sequence(&local.value))
        {
            result.record = Some(Box::new(local.clone()));
        }
        match run.owner {
            LookupOwner::Caller => self.outputs.push_back(Output::LookupFinished {
                id,
                kind,
                result,
                stats,
            }),
            LookupOwner::Bootstrap => {
                self.outputs.push_back(Output::LookupFinished {
                    id,
                    kind,
                    result,
                    stats,
                });
                self.refresh_beyond_neighbour(now);
            }
            LookupOwner::Refresh => {}
            LookupOwner::Store(sid) => self.send_stores(now, sid, result.closest),
        }
    }

    /// Last join step (Kademlia paper, section 2.3): refresh every bucket
    /// farther than the closest neighbour, so far buckets hold more than the
    /// few nodes the self-lookup met.
    fn refresh_beyond_neighbour(&mut self, now: UnixMillis) {
        let Some(nearest) = self
            .table
            .buckets()
            .find(|(_, b)| !b.entries().is_empty())
            .map(|(i, _)| i)
        else {
            return;
        };
        for index in nearest.saturating_add(1)..crate::key::BUCKET_COUNT {
            let target = random_key_in_bucket(&self.local, index, &mut self.rng);
            if self
                .start(now, target, LookupKind::FindNode, LookupOwner::Refresh)
                .is_err()
            {
                break;
            }
        }
    }

    /// Publishes `value` as its owner: stores it locally (servers), sends it
    /// to the K closest nodes to its key and republishes it every
    /// `republish_interval_ms` with a fresh expiry of `record_ttl_ms`, until
    /// [`Dht::unpublish`] or a newer value replaces it. To change the record,
    /// call again with a higher sequence.
    pub fn put_record(&mut self, now: UnixMillis, value: RecordValue) -> Result<StoreId, PutError> {
        let key = record_key(&value);
        let slot = (key, KindKey::from(value.kind()));
        let record = Record {
            value: value.clone(),
            expires: now.saturating_add_millis(self.config.record_ttl_ms),
        };
        validate_record(&self.validator, &key, &record, now)?;
        match self.published.get(&slot) {
            Some(p) if record_sequence(&p.value) > record_sequence(&value) => {
                return Err(PutError::Invalid(RecordRejection::StaleSequence {
                    offered: record_sequence(&value),
                    held: record_sequence(&p.value),
                }));
            }
            None if self.published.len() >= MAX_PUBLISHED_RECORDS => {
                return Err(PutError::TooManyPublished);
            }
            _ => {}
        }
        let id = self.start_store(now, key, record)?;
        self.published.insert(
            slot,
            Published {
                value,
                next_republish: now.saturating_add_millis(self.config.republish_interval_ms),
            },
        );
        Ok(id)
    }

    /// Stops republishing the record of `kind` under `key`; holders drop it at expiry.
    pub fn unpublish(&mut self, key: &NodeId, kind: RecordKind) {
        self.published.remove(&(*key, KindKey::from(kind)));
    }

    fn start_store(
        &mut self,
        now: UnixMillis,
        key: NodeId,
        record: Record,
    ) -> Result<StoreId, LookupError> {
        if self.lookups.len() >= MAX_CONCURRENT_LOOKUPS {
            return Err(LookupError::TooManyLookups);
        }
        if self.config.node_type == NodeType::Server {
            // A stale local copy is harmless: the network decides.
            let _ = self
                .store
                .put(&self.validator, self.local, key, record.clone(), now);
            self.schedule_purge(now);
        }
        let id = StoreId(self.fresh_id());
        self.stores.insert(
            id,
            StoreTask {
                key,
                record,
                outstanding: 0,
                stored: Vec::new(),
                refused: Vec::new(),
                failed: Vec::new(),
            },
        );
        self.start(now, key, LookupKind::FindNode, LookupOwner::Store(id))?;
        Ok(id)
    }

    fn send_stores(&mut self, now: UnixMillis, id: StoreId, closest: Vec<Contact>) {
        let Some(task) = self.stores.get_mut(&id) else {
            return;
        };
        task.outstanding = closest.len();
        let (key, record) = (task.key, task.record.clone());
        for to in closest {
            let request = DhtRequest::Store {
                sender: self.sender_info(now),
                key,
                record: Box::new(record.clone()),
            };
            self.send(now, to, request, Purpose::Store(id));
        }
        self.finish_store_if_done(id);
    }

    fn finish_store_if_done(&mut self, id: StoreId) {
        if self.stores.get(&id).is_some_and(|t| t.outstanding == 0)
            && let Some(t) = self.stores.remove(&id)
        {
            self.outputs.push_back(Output::StoreFinished {
                id,
                key: t.key,
                stored: t.stored,
                refused: t.refused,
                failed: t.failed,
            });
        }
    }

    fn schedule_purge(&mut self, now: UnixMillis) {
        if self.next_purge.is_none() && self.store.len() > 0 {
            self.next_purge = Some(now.saturating_add_millis(STORE_PURGE_INTERVAL_MS));
        }
    }

    /// Answers a request from `from` (authenticated by the transport).
    /// `from_endpoint` is where it came from, used when the sender announces
    /// no endpoint. Server senders enter the routing table; clients never do.
    pub fn handle_request(
        &mut self,
        now: UnixMillis,
        from: NodeId,
        from_endpoint: Option<Endpoint>,
        request: DhtRequest,
    ) -> DhtResponse {
        let sender = request.sender();
        if sender.node_type == NodeType::Server && from != self.local {
            let mut endpoints = sender.endpoints.clone();
            if endpoints.is_empty() {
                endpoints.extend(from_endpoint);
            }
            self.seen(
                now,
                Contact {
                    node_id: from,
                    endpoints,
                },
            );
        }
        let sender_time = sender.time;
        let k = self.config.k;
        let serves_records = self.config.node_type == NodeType::Server;
        match request {
            DhtRequest::Ping { .. } => DhtResponse::Pong,
            DhtRequest::FindNode { target, .. } => {
                DhtResponse::Nodes(self.table.closest(&target, k, Some(&from)))
            }
            DhtRequest::FindValue { key, kind, .. } => {
                let record = if serves_records {
                    self.store.get(&key, kind, now).cloned()
                } else {
                    None
                };
                match record {
                    Some(r) => DhtResponse::Value {
                        record: Some(Box::new(r)),
                        closer: Vec::new(),
                    },
                    None => DhtResponse::Value {
                        record: None,
                        closer: self.table.closest(&key, k, Some(&from)),
                    },
                }
            }
            DhtRequest::Store { key, record, .. } => {
                if !serves_records {
                    return DhtResponse::Stored(Err(RecordRejection::NotStoring.code()));
                }
                let mut record = *record;
                if let Some(sent) = sender_time {
                    // Expiry is read relative to the sender's clock: the time
                    // to live it meant, from now on ours. A node whose clock
                    // is days off still publishes records that live as long.
                    record.expires = now.saturating_add_millis(record.expires.millis_since(sent));
                }
                let result = self
                    .store
                    .put(&self.validator, from, key, record, now)
                    .map_err(|e| e.code());
                self.schedule_purge(now);
                DhtResponse::Stored(result)
            }
        }
    }

    /// The answer to request `id` arrived from `from`. Unknown, late or
    /// mismatched answers are ignored (a mismatch counts as a failure).
    pub fn handle_response(
        &mut self,
        now: UnixMillis,
        id: RequestId,
        from: NodeId,
        response: DhtResponse,
    ) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        self.deadlines.remove(&(p.deadline, id));
        if p.to.node_id != from {
            self.fail(now, p);
            return;
        }
        self.seen(now, p.to.clone());
        match p.purpose {
            Purpose::LivenessCheck => {}
            Purpose::Lookup(lid) => {
                self.lookup_response(now, lid, &from, response);
                self.drive(now, lid);
            }
            Purpose::Store(sid) => {
                if let Some(t) = self.stores.get_mut(&sid) {
                    t.outstanding = t.outstanding.saturating_sub(1);
                    match response {
                        DhtResponse::Stored(Ok(())) => t.stored.push(from),
                        DhtResponse::Stored(Err(c)) | DhtResponse::Refused(c) => {
                            t.refused.push((from, c));
                        }
                        _ => t.refused.push((from, RefusalCode::Malformed)),
                    }
                }
                self.finish_store_if_done(sid);
            }
        }
    }

    fn lookup_response(
        &mut self,
        now: UnixMillis,
        lid: LookupId,
        from: &NodeId,
        response: DhtResponse,
    ) {
        let Some(run) = self.lookups.get_mut(&lid) else {
            return;
        };
        let target = *run.lookup.target();
        match (run.lookup.kind(), response) {
            (LookupKind::FindNode, DhtResponse::Nodes(c))
            | (LookupKind::FindValue(_), DhtResponse::Nodes(c)) => {
                run.lookup.on_response(from, c, None);
            }
            (LookupKind::FindValue(kind), DhtResponse::Value { record, closer }) => {
                let record = record.filter(|r| {
                    r.value.kind() == kind
                        // The holder expired it by its own clock; ours may be
                        // days off, so a record is taken until the tolerated
                        // skew past its expiry (signatures and sequence
                        // numbers still decide).
                        && validate_record(
                            &self.validator,
                            &target,
                            r,
                            now.saturating_sub_millis(MAX_CLOCK_SKEW_MS),
                        )
                        .is_ok()
                });
                run.lookup.on_response(from, closer, record);
            }
            _ => run.lookup.on_failure(from),
        }
    }

    /// Request `id` failed (connection refused, stream reset...). Timeouts
    /// need no call: the core expires requests itself in [`Dht::handle_timeout`]
    /// (and retries lookup requests). A reported failure is not retried.
    pub fn handle_failure(&mut self, now: UnixMillis, id: RequestId) {
        if let Some(p) = self.pending.remove(&id) {
            self.deadlines.remove(&(p.deadline, id));
            self.fail(now, p);
        }
    }

    /// Request `p` timed out: a lookup request is sent again while it has
    /// retries left and its lookup still waits for it; anything else fails.
    fn timed_out(&mut self, now: UnixMillis, p: Pending) {
        if let Purpose::Lookup(lid) = p.purpose
            && p.attempt < LOOKUP_REQUEST_RETRIES
            && let Some(run) = self.lookups.get_mut(&lid)
            && run.lookup.retry(&p.to.node_id)
        {
            let (kind, target) = (run.lookup.kind(), *run.lookup.target());
            let request = self.lookup_request(now, kind, target);
            self.send_attempt(now, p.to, request, p.purpose, p.attempt.saturating_add(1));
            return;
        }
        self.fail(now, p);
    }

    fn fail(&mut self, now: UnixMillis, p: Pending) {
        let node = p.to.node_id;
        self.node_failed(&node);
        match p.purpose {
            Purpose::LivenessCheck => {}
            Purpose::Lookup(lid) => {
                if let Some(run) = self.lookups.get_mut(&lid) {
                    run.lookup.on_failure(&node);
                }
                self.drive(now, lid);
            }
            Purpose::Store(sid) => {
                if let Some(t) = self.stores.get_mut(&sid) {
                    t.outstanding = t.outstanding.saturating_sub(1);
                    t.failed.push(node);
                }
                self.finish_store_if_done(sid);
            }
        }
    }

    /// Runs everything due at `now`: request timeouts, bucket refreshes,
    /// republication of own records, purge of expired records.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.remove(&(deadline, id));
            if let Some(p) = self.pending.remove(&id) {
                self.timed_out(now, p);
            }
        }
        for index in self
            .table
            .due_for_refresh(now, self.config.refresh_interval_ms)
        {
            let target = random_key_in_bucket(&self.local, index, &mut self.rng);
            if self
                .start(now, target, LookupKind::FindNode, LookupOwner::Refresh)
                .is_err()
            {
                // Too busy: the running lookups keep the table fresh meanwhile.
                self.table.touch_lookup(&target, now);
            }
        }
        let due: Vec<(NodeId, KindKey)> = self
            .published
            .iter()
            .filter(|(_, p)| p.next_republish <= now)
            .map(|(k, _)| *k)
            .collect();
        for slot in due {
            let interval = self.config.republish_interval_ms;
            let Some(p) = self.published.get_mut(&slot) else {
                continue;
            };
            p.next_republish = now.saturating_add_millis(interval);
            let record = Record {
                value: p.value.clone(),
                expires: now.saturating_add_millis(self.config.record_ttl_ms),
            };
            // When too busy, the next interval retries.
            let _ = self.start_store(now, slot.0, record);
        }
        if self.next_purge.is_some_and(|t| t <= now) {
            self.store.purge(now);
            self.next_purge = None;
            self.schedule_purge(now);
        }
    }

    /// Next output for the driver, if any.
    pub fn poll(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Dht::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        let mut next = self.deadlines.first().map(|(d, _)| *d);
        let mut consider = |t: Option<UnixMillis>| {
            next = match (next, t) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        };
        consider(self.table.next_refresh(self.config.refresh_interval_ms));
        consider(self.published.values().map(|p| p.next_republish).min());
        consider(self.next_purge);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::BTreeMap;
    use tacnode_domain::{DhPublicKey, IdentityKey, PeerRecord, Signature, UnsignedPeerRecord};

    type Node = Dht<StdRng>;

    fn node(id: NodeId, node_type: NodeType, k: usize) -> Node {
        let mut c = DhtConfig::new(node_type);
        c.k = k;
        c.liveness_check_after_ms = 0;
        Dht::new(c, id, StdRng::seed_from_u64(1), PeerRecordValidator).unwrap()
    }

    fn contact(id: NodeId) -> Contact {
        Contact {
            node_id: id,
            endpoints: vec![],
        }
    }

    fn peer_record(sk: &SigningKey, sequence: u64) -> PeerRecord {
        let identity_key = IdentityKey::from(sk.verifying_key());
        let device_key = DhPublicKey([9; 32]);
        let sign = |m: &[u8]| Signature(sk.sign(m).to_bytes());
        let body = UnsignedPeerRecord {
            identity_key,
            device_key,
            device_key_signature: sign(&UnsignedPeerRecord::device_key_message(&device_key)),
            endpoints: vec!["127.0.0.1:4000".parse().unwrap()],
            node_type: NodeType::Server,
            last_seen: UnixMillis(1_000),
            metadata: BTreeMap::new(),
            sequence,
            member: None,
            reachability: None,
            relay: None,
        };
        let sig = sign(&body.signing_bytes());
        body.with_signature(sig)
    }

    /// Delivers every request at once until nothing moves; returns the
    /// non-request outputs of every node.
    fn settle(nodes: &mut BTreeMap<NodeId, Node>, now: UnixMillis) -> Vec<(NodeId, Output)> {
        let mut events = Vec::new();
        loop {
            let mut moved = false;
            let ids: Vec<NodeId> = nodes.keys().copied().collect();
            for id in ids {
                while let Some(out) = nodes.get_mut(&id).unwrap().poll() {
                    moved = true;
                    match out {
                        Output::SendRequest {
                            id: rid,
                            to,
                            request,
                        } => {
                            let resp = nodes
                                .get_mut(&to.node_id)
                                .map(|n| n.handle_request(now, id, None, request));
                            let me = nodes.get_mut(&id).unwrap();
                            match resp {
                                Some(r) => me.handle_response(now, rid, to.node_id, r),
                                None => me.handle_failure(now, rid),
                            }
                        }
                        other => events.push((id, other)),
                    }
                }
            }
            if !moved {
                return events;
            }
        }
    }

    fn network(n: u8, k: usize) -> BTreeMap<NodeId, Node> {
        let mut nodes = BTreeMap::new();
        let first = NodeId::from_bytes([1; 32]);
        for i in 1..=n {
            let id = NodeId::from_bytes([i; 32]);
            let mut d = node(id, NodeType::Server, k);
            if i > 1 {
                d.bootstrap(UnixMillis(0), vec![contact(first)]).unwrap();
            }
            nodes.insert(id, d);
            settle(&mut nodes, UnixMillis(0));
        }
        nodes
    }

    #[test]
    fn peer_record_is_stored_at_closest_and_found() {
        let mut nodes = network(12, 4);
        let sk = SigningKey::from_bytes(&[3; 32]);
        let rec = peer_record(&sk, 1);
        let key = rec.node_id;
        let publisher = NodeId::from_bytes([5; 32]);
        let now = UnixMillis(10);
        let sid = nodes
            .get_mut(&publisher)
            .unwrap()
            .put_record(now, RecordValue::Peer(rec.clone()))
            .unwrap();
        let events = settle(&mut nodes, now);
        let stored = events
            .iter()
            .find_map(|(_, o)| match o {
                Output::StoreFinished {
                    id,
                    stored,
                    refused,
                    ..
                } if *id == sid => {
                    assert!(refused.is_empty());
                    Some(stored.len())
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(stored, 4);

        let seeker = NodeId::from_bytes([11; 32]);
        let lid = nodes
            .get_mut(&seeker)
            .unwrap()
            .start_lookup(now, key, LookupKind::FindValue(RecordKind::Peer))
            .unwrap();
        let events = settle(&mut nodes, now);
        let found = events.into_iter().find_map(|(_, o)| match o {
            Output::LookupFinished { id, result, .. } if id == lid => result.record,
            _ => None,
        });
        assert_eq!(found.map(|r| r.value), Some(RecordValue::Peer(rec)));
    }

    fn store_req(record: Record, key: NodeId) -> DhtRequest {
        DhtRequest::Store {
            sender: SenderInfo {
                node_type: NodeType::Server,
                endpoints: vec![],
                time: None,
            },
            key,
            record: Box::new(record),
        }
    }

    #[test]
    fn holder_rejects_forged_stale_misplaced_and_expired_records() {
        let mut d = node(NodeId::from_bytes([1; 32]), NodeType::Server, 4);
        let from = NodeId::from_bytes([2; 32]);
        let sk = SigningKey::from_bytes(&[3; 32]);
        let now = UnixMillis(100);
        let rec = |seq| Record {
            value: RecordValue::Peer(peer_record(&sk, seq)),
            expires: UnixMillis(10_000),
        };
        let key = peer_record(&sk, 1).node_id;
        let store = |d: &mut Node, r: Record, k: NodeId| match d.handle_request(
            now,
            from,
            None,
            store_req(r, k),
        ) {
            DhtResponse::Stored(x) => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(store(&mut d, rec(2), key), Ok(()));
        // Republish of the identical record refreshes it.
        assert_eq!(store(&mut d, rec(2), key), Ok(()));
        assert_eq!(store(&mut d, rec(1), key), Err(RefusalCode::Stale));
        assert_eq!(
            store(&mut d, rec(3), NodeId::from_bytes([0; 32])),
            Err(RefusalCode::Malformed)
        );
        let mut forged = rec(5);
        if let RecordValue::Peer(p) = &mut forged.value {
            p.body.metadata.insert("x".into(), "y".into());
        }
        assert_eq!(store(&mut d, forged, key), Err(RefusalCode::Unauthorized));
        let mut expired = rec(6);
        expired.expires = UnixMillis(50);
        assert_eq!(store(&mut d, expired, key), Err(RefusalCode::Stale));
        assert_eq!(store(&mut d, rec(3), key), Ok(()));
        let held = d.local_record(now, &key, RecordKind::Peer).unwrap();
        assert_eq!(record_sequence(&held.value), 3);
        // Gone once expired and purged.
        d.handle_timeout(UnixMillis(100_000));
        assert_eq!(d.stored_records(), 0);
    }

    #[test]
    fn per_sender_quota_is_enforced() {
        let mut d = node(NodeId::from_bytes([1; 32]), NodeType::Server, 4);
        let from = NodeId::from_bytes([2; 32]);
        let now = UnixMillis(100);
        for i in 0..=crate::config::MAX_RECORDS_PER_SENDER {
            let sk = SigningKey::from_bytes(&[u8::try_from(i).unwrap() + 10; 32]);
            let p = peer_record(&sk, 1);
            let key = p.node_id;
            let r = Record {
                value: RecordValue::Peer(p),
                expires: UnixMillis(10_000),
            };
            let resp = d.handle_request(now, from, None, store_req(r, key));
            let want = if i < crate::config::MAX_RECORDS_PER_SENDER {
                DhtResponse::Stored(Ok(()))
            } else {
                DhtResponse::Stored(Err(RefusalCode::Quota))
            };
            assert_eq!(resp, want);
        }
    }

    #[test]
    fn prekeys_are_refused_without_a_verifier_and_checked_with_one() {
        use tacnode_domain::e2e::{PublishedPrekeys, SignedPrekey};
        let sk = SigningKey::from_bytes(&[3; 32]);
        let pk = PublishedPrekeys {
            identity_key: IdentityKey::from(sk.verifying_key()),
            device_key: DhPublicKey([1; 32]),
            device_key_signature: Signature([0; 64]),
            signed_prekey: SignedPrekey {
                id: 1,
                public_key: DhPublicKey([2; 32]),
                created: UnixMillis(0),
                signature: Signature([0; 64]),
            },
            sequence: 1,
            signature: Signature([0; 64]),
        };
        let key = tacnode_domain::prekey_record_key(&NodeId::from_identity(&pk.identity_key));
        let r = Record {
            value: RecordValue::Prekeys(pk),
            expires: UnixMillis(10_000),
        };
        let from = NodeId::from_bytes([2; 32]);
        let mut d = node(NodeId::from_bytes([1; 32]), NodeType::Server, 4);
        let resp = d.handle_request(UnixMillis(1), from, None, store_req(r.clone(), key));
        assert_eq!(resp, DhtResponse::Stored(Err(RefusalCode::Unsupported)));

        let accept = |p: &PublishedPrekeys| p.sequence == 1;
        let mut d = Dht::new(
            DhtConfig::default(),
            NodeId::from_bytes([1; 32]),
            StdRng::seed_from_u64(1),
            accept,
        )
        .unwrap();
        let resp = d.handle_request(UnixMillis(1), from, None, store_req(r.clone(), key));
        assert_eq!(resp, DhtResponse::Stored(Ok(())));
        let mut wrong_key = r;
        if let RecordValue::Prekeys(p) = &mut wrong_key.value {
            p.sequence = 2;
        }
        let resp = d.handle_request(UnixMillis(1), from, None, store_req(wrong_key, key));
        assert_eq!(resp, DhtResponse::Stored(Err(RefusalCode::Unauthorized)));
    }

    #[test]
    fn clients_are_answered_but_never_inserted_and_store_nothing() {
        let mut server = node(NodeId::from_bytes([1; 32]), NodeType::Server, 4);
        let client_id = NodeId::from_bytes([2; 32]);
        let req = DhtRequest::FindNode {
            sender: SenderInfo {
                node_type: NodeType::Client,
                endpoints: vec![],
                time: None,
            },
            target: client_id,
        };
        assert_eq!(
            server.handle_request(UnixMillis(0), client_id, None, req),
            DhtResponse::Nodes(vec![])
        );
        assert!(server.routing_table().is_empty());

        let mut client = node(client_id, NodeType::Client, 4);
        let sk = SigningKey::from_bytes(&[3; 32]);
        let p = peer_record(&sk, 1);
        let key = p.node_id;
        let r = Record {
            value: RecordValue::Peer(p),
            expires: UnixMillis(10_000),
        };
        let resp = client.handle_request(
            UnixMillis(0),
            NodeId::from_bytes([1; 32]),
            None,
            store_req(r, key),
        );
        assert_eq!(resp, DhtResponse::Stored(Err(RefusalCode::Unsupported)));
        // The server requester, though, enters the client's table.
        assert!(
            client
                .routing_table()
                .contains(&NodeId::from_bytes([1; 32]))
        );
    }

    #[test]
    fn full_bucket_evicts_only_when_the_liveness_ping_fails() {
        // Local id 0: ids with the top bit set share bucket 255.
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 2);
        let (a, b, c) = (
            NodeId::from_bytes([0x80; 32]),
            NodeId::from_bytes([0x81; 32]),
            NodeId::from_bytes([0x82; 32]),
        );
        assert!(d.insert_contact(UnixMillis(0), contact(a)));
        assert!(d.insert_contact(UnixMillis(1), contact(b)));
        while d.poll().is_some() {}
        assert!(!d.insert_contact(UnixMillis(2), contact(c)));
        let Some(Output::SendRequest {
            id,
            to,
            request: DhtRequest::Ping { .. },
        }) = d.poll()
        else {
            panic!("expected a liveness ping");
        };
        assert_eq!(to.node_id, a);
        assert_eq!(
            d.poll_timeout(),
            Some(UnixMillis(2 + DhtConfig::default().request_timeout_ms))
        );
        // No answer: the timeout evicts a for c.
        let _ = id;
        d.handle_timeout(UnixMillis(100_000));
        assert!(!d.routing_table().contains(&a));
        assert!(d.routing_table().contains(&c));
        assert!(d.routing_table().contains(&b));
    }

    #[test]
    fn alive_least_recent_node_is_kept() {
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 2);
        let (a, b, c) = (
            NodeId::from_bytes([0x80; 32]),
            NodeId::from_bytes([0x81; 32]),
            NodeId::from_bytes([0x82; 32]),
        );
        d.insert_contact(UnixMillis(0), contact(a));
        d.insert_contact(UnixMillis(1), contact(b));
        while d.poll().is_some() {}
        d.insert_contact(UnixMillis(2), contact(c));
        let Some(Output::SendRequest { id, .. }) = d.poll() else {
            panic!("expected a liveness ping");
        };
        d.handle_response(UnixMillis(3), id, a, DhtResponse::Pong);
        assert!(d.routing_table().contains(&a));
        assert!(!d.routing_table().contains(&c));
    }

    #[test]
    fn idle_buckets_are_refreshed_after_the_interval() {
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 4);
        d.insert_contact(UnixMillis(0), contact(NodeId::from_bytes([0x80; 32])));
        while d.poll().is_some() {}
        let due = d.poll_timeout().unwrap();
        assert_eq!(due, UnixMillis(DhtConfig::default().refresh_interval_ms));
        d.handle_timeout(due);
        assert!(matches!(
            d.poll(),
            Some(Output::SendRequest {
                request: DhtRequest::FindNode { .. },
                ..
            })
        ));
    }

    #[test]
    fn owner_republishes_its_record_every_interval() {
        let mut nodes = network(6, 3);
        let sk = SigningKey::from_bytes(&[3; 32]);
        let publisher = NodeId::from_bytes([2; 32]);
        let now = UnixMillis(10);
        nodes
            .get_mut(&publisher)
            .unwrap()
            .put_record(now, RecordValue::Peer(peer_record(&sk, 1)))
            .unwrap();
        settle(&mut nodes, now);
        let interval = DhtConfig::default().republish_interval_ms;
        let later = now.saturating_add_millis(interval);
        let p = nodes.get_mut(&publisher).unwrap();
        assert!(p.poll_timeout().unwrap() <= later);
        p.handle_timeout(later);
        let events = settle(&mut nodes, later);
        let stored = events.iter().find_map(|(_, o)| match o {
            Output::StoreFinished {
                stored, refused, ..
            } => {
                assert!(refused.is_empty(), "{refused:?}");
                Some(stored.len())
            }
            _ => None,
        });
        assert_eq!(stored, Some(3));
        // A lower sequence is refused locally.
        let err = nodes
            .get_mut(&publisher)
            .unwrap()
            .put_record(later, RecordValue::Peer(peer_record(&sk, 0)));
        assert!(matches!(
            err,
            Err(PutError::Invalid(RecordRejection::StaleSequence { .. }))
        ));
    }

    #[test]
    fn find_value_ignores_forged_records_and_times_out_silent_nodes() {
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 2);
        let (a, b) = (
            NodeId::from_bytes([0x80; 32]),
            NodeId::from_bytes([0x40; 32]),
        );
        d.insert_contact(UnixMillis(0), contact(a));
        d.insert_contact(UnixMillis(0), contact(b));
        while d.poll().is_some() {}
        let sk = SigningKey::from_bytes(&[3; 32]);
        let rec = peer_record(&sk, 1);
        let key = rec.node_id;
        let lid = d
            .start_lookup(UnixMillis(1), key, LookupKind::FindValue(RecordKind::Peer))
            .unwrap();
        let mut sent = vec![];
        while let Some(Output::SendRequest { id, to, .. }) = d.poll() {
            sent.push((id, to.node_id));
        }
        assert_eq!(sent.len(), 2);
        let mut forged = rec.clone();
        forged.body.sequence = 9;
        let (id_a, node_a) = sent[0];
        d.handle_response(
            UnixMillis(2),
            id_a,
            node_a,
            DhtResponse::Value {
                record: Some(Box::new(Record {
                    value: RecordValue::Peer(forged),
                    expires: UnixMillis(10_000),
                })),
                closer: vec![],
            },
        );
        assert!(
            d.poll().is_none(),
            "a forged record must not end the lookup"
        );
        // The other node never answers: the core times it out by itself,
        // sends the request once more, and times that out too.
        let deadline = d.poll_timeout().unwrap();
        d.handle_timeout(deadline);
        let Some(Output::SendRequest { to, .. }) = d.poll() else {
            panic!("the timed-out request should be retried");
        };
        assert_eq!(to.node_id, sent[1].1);
        let deadline = d.poll_timeout().unwrap();
        d.handle_timeout(deadline);
        let Some(Output::LookupFinished {
            id, result, stats, ..
        }) = d.poll()
        else {
            panic!("lookup should finish after the retry's timeout");
        };
        assert_eq!(id, lid);
        assert_eq!(result.record, None);
        assert_eq!(result.closest.len(), 1);
        assert_eq!((stats.requests, stats.retries, stats.failures), (3, 1, 1));
    }

    fn endpoint(port: u16) -> Endpoint {
        Endpoint(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Drains `d`: its requests (id, contact) and its other outputs.
    fn drain(d: &mut Node) -> (Vec<(RequestId, Contact)>, Vec<Output>) {
        let (mut sent, mut other) = (vec![], vec![]);
        while let Some(o) = d.poll() {
            match o {
                Output::SendRequest { id, to, .. } => sent.push((id, to)),
                o => other.push(o),
            }
        }
        (sent, other)
    }

    fn failures_of(d: &Node, node: &NodeId) -> Option<u32> {
        d.routing_table()
            .entries()
            .find(|e| e.contact.node_id == *node)
            .map(|e| e.failures)
    }

    #[test]
    fn timed_out_lookup_request_is_retried_once_on_the_next_endpoint() {
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 2);
        let a = NodeId::from_bytes([0x80; 32]);
        let a_contact = Contact {
            node_id: a,
            endpoints: vec![endpoint(1), endpoint(2)],
        };
        d.insert_contact(UnixMillis(0), a_contact.clone());
        drain(&mut d);
        let target = NodeId::from_bytes([0x81; 32]);
        let lid = d
            .start_lookup(UnixMillis(1), target, LookupKind::FindNode)
            .unwrap();
        let (sent, _) = drain(&mut d);
        let [(first, to)] = sent.as_slice() else {
            panic!("{sent:?}");
        };
        assert_eq!(to, &a_contact);
        let timeout = DhtConfig::default().request_timeout_ms;
        assert_eq!(d.poll_timeout(), Some(UnixMillis(1 + timeout)));

        // Timed out: sent again, with a new id, the other endpoint first; the
        // contact does not count as failed yet.
        d.handle_timeout(UnixMillis(1 + timeout));
        let (sent, other) = drain(&mut d);
        let [(retry, to)] = sent.as_slice() else {
            panic!("{sent:?}");
        };
        assert!(other.is_empty(), "{other:?}");
        assert_ne!(retry, first);
        assert_eq!(to.node_id, a);
        assert_eq!(to.endpoints, vec![endpoint(2), endpoint(1)]);
        assert_eq!(failures_of(&d, &a), Some(0));
        assert_eq!(d.poll_timeout(), Some(UnixMillis(1 + 2 * timeout)));

        // A late answer to the first attempt is ignored; the retry's counts.
        let late = UnixMillis(2 + timeout);
        d.handle_response(late, *first, a, DhtResponse::Nodes(vec![]));
        assert!(d.poll().is_none());
        d.handle_response(late, *retry, a, DhtResponse::Nodes(vec![]));
        let (sent, other) = drain(&mut d);
        assert!(sent.is_empty(), "{sent:?}");
        let [
            Output::LookupFinished {
                id, result, stats, ..
            },
        ] = other.as_slice()
        else {
            panic!("{other:?}");
        };
        assert_eq!(*id, lid);
        // The table keeps the endpoints in their announced order.
        assert_eq!(result.closest, vec![a_contact]);
        assert_eq!((stats.requests, stats.retries, stats.failures), (2, 1, 0));
        assert_eq!(failures_of(&d, &a), Some(0));
    }

    #[test]
    fn a_retry_that_times_out_is_one_failed_request_and_three_drop_the_node() {
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 2);
        let a = NodeId::from_bytes([0x80; 32]);
        d.insert_contact(UnixMillis(0), contact(a));
        drain(&mut d);
        let mut now = UnixMillis(1);
        for failed in 1..=MAX_CONSECUTIVE_FAILURES {
            d.start_lookup(now, NodeId::from_bytes([0x81; 32]), LookupKind::FindNode)
                .unwrap();
            for attempt in 0..=LOOKUP_REQUEST_RETRIES {
                let (sent, _) = drain(&mut d);
                assert_eq!(sent.len(), 1, "attempt {attempt}: {sent:?}");
                assert_eq!(sent[0].1, contact(a));
                now = d.poll_timeout().unwrap();
                d.handle_timeout(now);
            }
            let (sent, other) = drain(&mut d);
            assert!(sent.is_empty(), "{sent:?}");
            let finished = other.iter().find_map(|o| match o {
                Output::LookupFinished { stats, .. } => Some(*stats),
                _ => None,
            });
            let stats = finished.unwrap();
            assert_eq!((stats.requests, stats.retries, stats.failures), (2, 1, 1));
            let removed = other.contains(&Output::RoutingUpdated {
                node: a,
                change: RoutingChange::Removed,
            });
            if failed < MAX_CONSECUTIVE_FAILURES {
                assert!(!removed);
                assert_eq!(failures_of(&d, &a), Some(failed));
            } else {
                assert!(removed);
                assert!(!d.routing_table().contains(&a));
            }
        }
    }

    #[test]
    fn reported_transport_failures_are_not_retried() {
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 2);
        let a = NodeId::from_bytes([0x80; 32]);
        d.insert_contact(UnixMillis(0), contact(a));
        drain(&mut d);
        d.start_lookup(
            UnixMillis(1),
            NodeId::from_bytes([0x81; 32]),
            LookupKind::FindNode,
        )
        .unwrap();
        let (sent, _) = drain(&mut d);
        d.handle_failure(UnixMillis(2), sent[0].0);
        let (sent, other) = drain(&mut d);
        assert!(sent.is_empty(), "{sent:?}");
        let Some(Output::LookupFinished { stats, .. }) = other.first() else {
            panic!("{other:?}");
        };
        assert_eq!((stats.requests, stats.retries, stats.failures), (1, 0, 1));
        assert_eq!(failures_of(&d, &a), Some(1));
    }

    #[test]
    fn timed_out_store_is_not_retried() {
        // Only lookup requests are retried: a STORE that times out is
        // reported failed at once (a liveness ping that times out evicts at
        // once: full_bucket_evicts_only_when_the_liveness_ping_fails).
        let mut d = node(NodeId::from_bytes([0; 32]), NodeType::Server, 2);
        let a = NodeId::from_bytes([0x80; 32]);
        d.insert_contact(UnixMillis(0), contact(a));
        drain(&mut d);
        let sk = SigningKey::from_bytes(&[3; 32]);
        let sid = d
            .put_record(UnixMillis(1), RecordValue::Peer(peer_record(&sk, 1)))
            .unwrap();
        let (sent, _) = drain(&mut d);
        d.handle_response(UnixMillis(2), sent[0].0, a, DhtResponse::Nodes(vec![]));
        let (sent, _) = drain(&mut d);
        assert_eq!(sent.len(), 1, "{sent:?}");
        let deadline = d.poll_timeout().unwrap();
        d.handle_timeout(deadline);
        let (sent, other) = drain(&mut d);
        assert!(sent.is_empty(), "{sent:?}");
        let [Output::StoreFinished { id, failed, .. }] = other.as_slice() else {
            panic!("{other:?}");
        };
        assert_eq!((*id, failed.as_slice()), (sid, [a].as_slice()));
    }
}
