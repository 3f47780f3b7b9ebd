//! When each peer was last heard from, and what it said about itself: a
//! call from it, or its answer to ours. Kept for `tacnode peers`, which
//! also lists peers the routing table does not hold (clients, peers still
//! being checked), so their node type and last sighting come from here.

use std::collections::BTreeMap;

use tacnode_domain::dht::SenderInfo;
use tacnode_domain::{Endpoint, IdentityKey, NodeId, NodeType, UnixMillis};

/// Peers remembered at most (the one heard from longest ago goes first).
pub(crate) const MAX_SIGHTINGS: usize = 1024;

/// What the node last heard of one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// When it last called us or answered us.
    pub last_seen: UnixMillis,
    /// Server or client, once a DHT request of its said so.
    pub node_type: Option<NodeType>,
    /// Where it said it listens, once a DHT request of its said so.
    pub endpoints: Vec<Endpoint>,
    /// Its identity key, once it called us (the network authenticated it).
    pub identity: Option<IdentityKey>,
}

/// The last sighting of each recent peer.
#[derive(Debug, Default)]
pub(crate) struct PeerSightings {
    by_peer: BTreeMap<NodeId, Sighting>,
}

impl PeerSightings {
    /// `peer` was heard at `now`; `identity` is its key when it called us,
    /// `sender` what its DHT request said about it, if it was one.
    pub(crate) fn observe(
        &mut self,
        peer: NodeId,
        now: UnixMillis,
        identity: Option<&IdentityKey>,
        sender: Option<&SenderInfo>,
    ) {
        if !self.by_peer.contains_key(&peer) && self.by_peer.len() >= MAX_SIGHTINGS {
            let oldest = self
                .by_peer
                .iter()
                .min_by_key(|(id, s)| (s.last_seen, **id))
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.by_peer.remove(&id);
            }
        }
        let s = self.by_peer.entry(peer).or_insert(Sighting {
            last_seen: now,
            node_type: None,
            endpoints: Vec::new(),
            identity: None,
        });
        s.last_seen = s.last_seen.max(now);
        if let Some(key) = identity {
            s.identity = Some(*key);
        }
        if let Some(info) = sender {
            s.node_type = Some(info.node_type);
            s.endpoints.clone_from(&info.endpoints);
        }
    }

    /// Every sighting, by node id.
    pub(crate) fn all(&self) -> &BTreeMap<NodeId, Sighting> {
        &self.by_peer
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId::from_bytes([n; 32])
    }

    #[test]
    fn keeps_the_latest_time_and_what_the_peer_said() {
        let mut s = PeerSightings::default();
        let info = SenderInfo {
            node_type: NodeType::Client,
            endpoints: vec![Endpoint("127.0.0.1:9".parse().unwrap())],
            time: None,
        };
        s.observe(id(1), UnixMillis(10), None, Some(&info));
        // An answer (no sender info) keeps what the request said.
        s.observe(id(1), UnixMillis(20), None, None);
        s.observe(id(1), UnixMillis(15), None, None);
        let got = &s.all()[&id(1)];
        assert_eq!(got.last_seen, UnixMillis(20));
        assert_eq!(got.node_type, Some(NodeType::Client));
        assert_eq!(got.endpoints, info.endpoints);
    }

    #[test]
    fn forgets_the_peer_heard_from_longest_ago() {
        let mut s = PeerSightings::default();
        for n in 0..MAX_SIGHTINGS {
            let b = u8::try_from(n % 256).unwrap();
            let mut bytes = [b; 32];
            bytes[1] = u8::try_from(n / 256).unwrap();
            s.observe(
                NodeId::from_bytes(bytes),
                UnixMillis(1_000 + n as u64),
                None,
                None,
            );
        }
        let first = NodeId::from_bytes([0; 32]);
        assert!(s.all().contains_key(&first));
        s.observe(id(255), UnixMillis(5_000), None, None);
        assert_eq!(s.all().len(), MAX_SIGHTINGS);
        assert!(!s.all().contains_key(&first));
        assert!(s.all().contains_key(&id(255)));
    }
}
