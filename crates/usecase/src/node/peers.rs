//! `tacnode peers`: the routing table's contacts and the peers connected
//! now, each with what the node knows of it (its name, address, endpoints,
//! node type, connection and last sighting).

use std::collections::{BTreeMap, BTreeSet};

use tacnode_domain::{
    Endpoint, IdentityKey, NodeId, NodeType, PeerAddress, PeerConnection, UnixMillis,
};

use super::{NodeError, NodeHandle, Result, Sighting};

/// One peer as `tacnode peers` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer.
    pub node_id: NodeId,
    /// Its `key_…` address, when its identity key is known (a contact, a
    /// connection, a call from it or its cached peer record).
    pub address: Option<PeerAddress>,
    /// Its contact name, if it is one.
    pub name: Option<String>,
    /// Where it listens: what the routing table, its calls and its peer
    /// record said, in that order, without repeats.
    pub endpoints: Vec<Endpoint>,
    /// Server or client, when known (only servers enter routing tables).
    pub node_type: Option<NodeType>,
    /// In our routing table.
    pub in_routing_table: bool,
    /// The open connection to it, if any: its remote address, round-trip
    /// time and path.
    pub connection: Option<PeerConnection>,
    /// When it last called or answered us since the node started, if it
    /// did.
    pub last_seen: Option<UnixMillis>,
}

/// What the state knows of a peer: its contact row, its cached record.
struct Known {
    name: Option<String>,
    identity: Option<IdentityKey>,
    endpoints: Vec<Endpoint>,
    node_type: Option<NodeType>,
}

impl NodeHandle {
    /// The routing table's contacts and the peers connected now, contacts
    /// first by name, then the others by node id.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>> {
        let table = self.shared.dht.routing_snapshot().await?;
        let connections: BTreeMap<NodeId, PeerConnection> = self
            .shared
            .net
            .connections()
            .into_iter()
            .map(|c| (c.peer, c))
            .collect();
        let ids: BTreeSet<NodeId> = table
            .iter()
            .map(|e| e.node_id)
            .chain(connections.keys().copied())
            .collect();
        let sightings: BTreeMap<NodeId, Sighting> = {
            let all = self
                .shared
                .sightings
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            ids.iter()
                .filter_map(|id| all.all().get(id).map(|s| (*id, s.clone())))
                .collect()
        };
        let wanted = ids.clone();
        let known: BTreeMap<NodeId, Known> = self
            .shared
            .with_state(move |st, _| {
                let contacts: BTreeMap<NodeId, _> = st
                    .store
                    .contacts()?
                    .into_iter()
                    .map(|c| (c.node_id, c))
                    .collect();
                Ok::<_, NodeError>(
                    wanted
                        .into_iter()
                        .map(|id| {
                            let contact = contacts.get(&id);
                            let record = st.peers.get(&id);
                            let known = Known {
                                name: contact.map(|c| c.name.clone()),
                                identity: contact
                                    .map(|c| c.identity_key)
                                    .or_else(|| record.map(|r| r.body.identity_key)),
                                endpoints: record
                                    .map(|r| r.body.endpoints.clone())
                                    .unwrap_or_default(),
                                node_type: record.map(|r| r.body.node_type),
                            };
                            (id, known)
                        })
                        .collect(),
                )
            })
            .await?;
        let table: BTreeMap<NodeId, _> = table.into_iter().map(|e| (e.node_id, e)).collect();
        let mut peers: Vec<PeerInfo> = ids
            .into_iter()
            .map(|id| {
                let entry = table.get(&id);
                let seen = sightings.get(&id);
                let connection = connections.get(&id).cloned();
                let k = known.get(&id);
                let mut endpoints: Vec<Endpoint> = Vec::new();
                let sources = [
                    entry.map(|e| e.endpoints.as_slice()),
                    seen.map(|s| s.endpoints.as_slice()),
                    k.map(|k| k.endpoints.as_slice()),
                ];
                for e in sources.into_iter().flatten().flatten() {
                    if !endpoints.contains(e) {
                        endpoints.push(*e);
                    }
                }
                let identity = k
                    .and_then(|k| k.identity)
                    .or_else(|| connection.as_ref().map(|c| c.identity))
                    .or_else(|| seen.and_then(|s| s.identity))
                    // Never show an address that is not this peer's.
                    .filter(|key| PeerAddress::new(*key).node_id() == id);
                PeerInfo {
                    node_id: id,
                    address: identity.map(PeerAddress::new),
                    name: k.and_then(|k| k.name.clone()),
                    endpoints,
                    node_type: seen
                        .and_then(|s| s.node_type)
                        .or(entry.map(|_| NodeType::Server))
                        .or_else(|| k.and_then(|k| k.node_type)),
                    in_routing_table: entry.is_some(),
                    connection,
                    // Not the routing table's time: a contact seeded at
                    // start (pre-shared, or the saved snapshot) counts as
                    // seen then without having said a word.
                    last_seen: seen.map(|s| s.last_seen),
                }
            })
            .collect();
        peers.sort_by(|a, b| {
            (a.name.is_none(), &a.name, a.node_id).cmp(&(b.name.is_none(), &b.name, b.node_id))
        });
        Ok(peers)
    }
}
