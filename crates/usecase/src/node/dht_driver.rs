//! Runs the sans-IO Kademlia core over the network port. The core lives in one task that
//! owns it; everything else talks to it through [`DhtHandle`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_dht::{Dht, DhtConfig, LookupId, LookupKind, LookupResult, Output, RequestId, StoreId};
use tacnode_domain::dht::{Contact, DhtRequest, DhtResponse, Record, RecordKind, RecordValue};
use tacnode_domain::e2e::PublishedPrekeys;
use tacnode_domain::store::RoutingEntry;
use tacnode_domain::{
    Endpoint, IdentityKey, NodeId, NodeType, PeerRecord, RevocationList, prekey_record_key,
};
use tacnode_messaging::Message;
use tokio::sync::{mpsc, oneshot, watch};

use super::admission::AdmissionValidator;
use super::{Net, NodeConfig, NodeError, Result};
use crate::ports::{CallError, Clock};

/// Commands queued for the driver before callers wait.
const COMMAND_QUEUE: usize = 1024;

type Core = Dht<StdRng, AdmissionValidator>;

enum Command {
    Bootstrap(Vec<Contact>, oneshot::Sender<usize>),
    Lookup(NodeId, LookupKind, oneshot::Sender<Option<LookupResult>>),
    Put(Box<RecordValue>, oneshot::Sender<usize>),
    Request(NodeId, SocketAddr, DhtRequest, oneshot::Sender<DhtResponse>),
    Snapshot(oneshot::Sender<Vec<RoutingEntry>>),
    Size(oneshot::Sender<usize>),
    Missing(Vec<NodeId>, oneshot::Sender<Vec<NodeId>>),
    Local(NodeId, RecordKind, oneshot::Sender<Option<Record>>),
    Answer(RequestId, NodeId, Option<DhtResponse>),
    Stop,
}

/// Handle to the DHT task.
#[derive(Clone)]
pub(crate) struct DhtHandle {
    tx: mpsc::Sender<Command>,
}

impl DhtHandle {
    /// Builds the core and spawns its driver.
    pub(crate) fn spawn(
        config: &NodeConfig,
        identity: &Identity,
        net: Net,
        clock: Arc<dyn Clock>,
        rng: StdRng,
        shutdown: watch::Receiver<bool>,
        validator: AdmissionValidator,
    ) -> Result<DhtHandle> {
        let mut dc = DhtConfig::new(config.node_type);
        dc.k = config.dht.k;
        dc.alpha = config.dht.alpha;
        dc.disjoint_paths = config.dht.disjoint_paths;
        dc.request_timeout_ms = config.dht.request_timeout_ms;
        dc.record_ttl_ms = config.dht.record_ttl_hours.saturating_mul(3_600_000);
        dc.republish_interval_ms = config.dht.republish_interval_secs.saturating_mul(1_000);
        let mut endpoints: Vec<Endpoint> = config.advertise.iter().map(|a| Endpoint(*a)).collect();
        let local = net.local_addr();
        if endpoints.is_empty() && !local.ip().is_unspecified() {
            endpoints.push(Endpoint(local));
        }
        dc.endpoints = endpoints;
        let core: Core = Dht::new(dc, identity.node_id(), rng, validator)?;
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        let driver = Driver {
            core,
            net,
            clock,
            tx: tx.clone(),
            lookups: HashMap::new(),
            bootstraps: HashMap::new(),
            stores: HashMap::new(),
        };
        tokio::spawn(driver.run(rx, shutdown));
        Ok(DhtHandle { tx })
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| NodeError::DhtStopped)?;
        rx.await.map_err(|_| NodeError::DhtStopped)
    }

    /// Seeds the routing table and looks ourselves up; returns the table size.
    pub(crate) async fn bootstrap(&self, contacts: Vec<Contact>) -> Result<usize> {
        self.ask(|r| Command::Bootstrap(contacts, r)).await
    }

    /// Seeds the routing table and starts looking ourselves up; the answer
    /// is the table size once that is done. Commands run in the order they
    /// were sent, so a lookup asked for once this returned starts from the
    /// seeded table.
    pub(crate) async fn start_bootstrap(
        &self,
        contacts: Vec<Contact>,
    ) -> Result<oneshot::Receiver<usize>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Bootstrap(contacts, reply))
            .await
            .map_err(|_| NodeError::DhtStopped)?;
        Ok(rx)
    }

    /// The K server nodes closest to `key` (an iterative FIND_NODE).
    pub(crate) async fn closest(&self, key: NodeId) -> Result<Vec<Contact>> {
        Ok(self
            .ask(|r| Command::Lookup(key, LookupKind::FindNode, r))
            .await?
            .map(|r| r.closest)
            .unwrap_or_default())
    }

    /// `peer`'s signed record, validated by the core.
    pub(crate) async fn find_peer(&self, peer: NodeId) -> Result<Option<PeerRecord>> {
        let found = self
            .ask(|r| Command::Lookup(peer, LookupKind::FindValue(RecordKind::Peer), r))
            .await?;
        Ok(found
            .and_then(|r| r.record)
            .and_then(|rec| match rec.value {
                RecordValue::Peer(p) => Some(p),
                _ => None,
            }))
    }

    /// `admin`'s newest revocation list, validated by the core.
    pub(crate) async fn find_revocations(
        &self,
        admin: &IdentityKey,
    ) -> Result<Option<RevocationList>> {
        let key = RevocationList::key(admin);
        let found = self
            .ask(|r| Command::Lookup(key, LookupKind::FindValue(RecordKind::Revocations), r))
            .await?;
        Ok(found
            .and_then(|r| r.record)
            .and_then(|rec| match rec.value {
                RecordValue::Revocations(l) => Some(l),
                _ => None,
            }))
    }

    /// `peer`'s published prekeys, validated by the core.
    pub(crate) async fn find_prekeys(&self, peer: NodeId) -> Result<Option<PublishedPrekeys>> {
        let key = prekey_record_key(&peer);
        let found = self
            .ask(|r| Command::Lookup(key, LookupKind::FindValue(RecordKind::Prekeys), r))
            .await?;
        Ok(found
            .and_then(|r| r.record)
            .and_then(|rec| match rec.value {
                RecordValue::Prekeys(p) => Some(p),
                _ => None,
            }))
    }

    /// Publishes (and keeps republishing) one of our records; returns how
    /// many nodes stored the first copy.
    pub(crate) async fn put(&self, record: Record) -> Result<usize> {
        self.ask(|r| Command::Put(Box::new(record.value), r)).await
    }

    /// Answers a request from a peer.
    pub(crate) async fn handle_request(
        &self,
        from: NodeId,
        remote: SocketAddr,
        request: DhtRequest,
    ) -> Result<DhtResponse> {
        self.ask(|r| Command::Request(from, remote, request, r))
            .await
    }

    /// The routing table, for a warm restart.
    pub(crate) async fn routing_snapshot(&self) -> Result<Vec<RoutingEntry>> {
        self.ask(Command::Snapshot).await
    }

    /// Contacts in the routing table.
    pub(crate) async fn routing_table_size(&self) -> Result<usize> {
        self.ask(Command::Size).await
    }

    /// Those of `ids` that are not in the routing table.
    pub(crate) async fn missing_from_routing(&self, ids: Vec<NodeId>) -> Result<Vec<NodeId>> {
        self.ask(|r| Command::Missing(ids, r)).await
    }

    /// The prekeys this node holds under `key` for others (no lookup).
    pub(crate) async fn local_prekeys(&self, key: NodeId) -> Result<Option<PublishedPrekeys>> {
        let found = self
            .ask(|r| Command::Local(key, RecordKind::Prekeys, r))
            .await?;
        Ok(found.and_then(|rec| match rec.value {
            RecordValue::Prekeys(p) => Some(p),
            _ => None,
        }))
    }

    /// Stops the driver.
    pub(crate) async fn stop(&self) {
        let _ = self.tx.send(Command::Stop).await;
    }
}

struct Driver {
    core: Core,
    net: Net,
    clock: Arc<dyn Clock>,
    tx: mpsc::Sender<Command>,
    lookups: HashMap<LookupId, oneshot::Sender<Option<LookupResult>>>,
    bootstraps: HashMap<LookupId, oneshot::Sender<usize>>,
    stores: HashMap<StoreId, oneshot::Sender<usize>>,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>, mut shutdown: watch::Receiver<bool>) {
        loop {
            // Due timeouts first: a steady stream of commands must not keep
            // requests to dead peers from timing out.
            let now = self.clock.now();
            if self.core.poll_timeout().is_some_and(|t| t <= now) {
                self.core.handle_timeout(now);
            }
            self.drain();
            let wait_ms = self
                .core
                .poll_timeout()
                .map(|t| t.millis_since(self.clock.now()));
            let sleep = async {
                match wait_ms {
                    Some(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                biased;
                _ = shutdown.changed() => return,
                cmd = rx.recv() => match cmd {
                    None | Some(Command::Stop) => return,
                    Some(c) => self.command(c),
                },
                () = sleep => self.core.handle_timeout(self.clock.now()),
            }
        }
    }

    fn command(&mut self, c: Command) {
        let t = self.clock.now();
        match c {
            Command::Bootstrap(contacts, reply) => match self.core.bootstrap(t, contacts) {
                Ok(id) => {
                    self.bootstraps.insert(id, reply);
                }
                Err(_) => {
                    let _ = reply.send(self.core.routing_table().len());
                }
            },
            Command::Lookup(target, kind, reply) => match self.core.start_lookup(t, target, kind) {
                Ok(id) => {
                    self.lookups.insert(id, reply);
                }
                Err(_) => {
                    let _ = reply.send(None);
                }
            },
            Command::Put(value, reply) => match self.core.put_record(t, *value) {
                Ok(id) => {
                    self.stores.insert(id, reply);
                }
                Err(e) => {
                    tracing::warn!("cannot publish record: {e}");
                    let _ = reply.send(0);
                }
            },
            Command::Request(from, remote, request, reply) => {
                let resp = self
                    .core
                    .handle_request(t, from, Some(Endpoint(remote)), request);
                let _ = reply.send(resp);
            }
            Command::Snapshot(reply) => {
                let entries = self
                    .core
                    .routing_table()
                    .entries()
                    .map(|e| RoutingEntry {
                        node_id: e.contact.node_id,
                        endpoints: e.contact.endpoints.clone(),
                        node_type: NodeType::Server,
                        last_seen: e.last_seen,
                    })
                    .collect();
                let _ = reply.send(entries);
            }
            Command::Size(reply) => {
                let _ = reply.send(self.core.routing_table().len());
            }
            Command::Local(key, kind, reply) => {
                let _ = reply.send(self.core.local_record(t, &key, kind).cloned());
            }
            Command::Missing(ids, reply) => {
                // A peer waiting in a full bucket's replacement cache is not
                // missing: that part of the network is well known.
                let table = self.core.routing_table();
                let known = |id: &NodeId| {
                    table.contains(id)
                        || table
                            .buckets()
                            .any(|(_, b)| b.replacements().iter().any(|e| e.contact.node_id == *id))
                };
                let _ = reply.send(ids.into_iter().filter(|id| !known(id)).collect());
            }
            Command::Answer(id, from, Some(resp)) => self.core.handle_response(t, id, from, resp),
            Command::Answer(id, _, None) => self.core.handle_failure(t, id),
            Command::Stop => {}
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.core.poll() {
            match out {
                Output::SendRequest { id, to, request } => {
                    let net = self.net.clone();
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        let addrs: Vec<SocketAddr> = to.endpoints.iter().map(|e| e.0).collect();
                        let answer = match net
                            .call(to.node_id, &addrs, &Message::DhtRequest(request))
                            .await
                        {
                            Ok(Message::DhtResponse(r)) => Some(r),
                            Err(CallError::Refused { code, .. }) => {
                                Some(DhtResponse::Refused(code))
                            }
                            Ok(_) | Err(_) => None,
                        };
                        let _ = tx.send(Command::Answer(id, to.node_id, answer)).await;
                    });
                }
                Output::LookupFinished { id, result, .. } => {
                    if let Some(reply) = self.lookups.remove(&id) {
                        let _ = reply.send(Some(result));
                    } else if let Some(reply) = self.bootstraps.remove(&id) {
                        let _ = reply.send(self.core.routing_table().len());
                    }
                }
                Output::StoreFinished { id, stored, .. } => {
                    if let Some(reply) = self.stores.remove(&id) {
                        let _ = reply.send(stored.len());
                    }
                }
                Output::RoutingUpdated { .. } => {}
            }
        }
    }
}
