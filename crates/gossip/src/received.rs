use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest, Sha256};
use tacnode_domain::UnixMillis;
use tacnode_domain::gossip::{GOSSIP_ID_LEN, GossipId};

/// Most broadcasts one overlay keeps (ids and payloads); the oldest goes
/// first. At one group message a second this is over an hour; a member
/// away longer catches up from its mailbox.
pub const MAX_CACHED_BROADCASTS: usize = 4_096;

/// One broadcast this node has: its payload, to answer grafts and repair.
#[derive(Clone, Debug)]
pub(crate) struct ReceivedBroadcast {
    pub(crate) payload: Vec<u8>,
    pub(crate) round: u32,
    pub(crate) at: UnixMillis,
}

/// The broadcasts one overlay has seen, bounded in count and age.
#[derive(Debug, Default)]
pub(crate) struct Received {
    by_id: BTreeMap<GossipId, ReceivedBroadcast>,
    order: VecDeque<GossipId>,
}

impl Received {
    pub(crate) fn contains(&self, id: &GossipId) -> bool {
        self.by_id.contains_key(id)
    }

    pub(crate) fn get(&self, id: &GossipId) -> Option<&ReceivedBroadcast> {
        self.by_id.get(id)
    }

    pub(crate) fn insert(&mut self, id: GossipId, broadcast: ReceivedBroadcast) {
        if self.by_id.insert(id, broadcast).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > MAX_CACHED_BROADCASTS {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some(old) = self.order.pop_front() {
            self.by_id.remove(&old);
        }
    }

    /// How many broadcasts are held and a digest of their ids: SHA-256 of
    /// the ids in order, cut to 16 bytes (a set hash no member can steer to
    /// match another set, as it could a XOR of ids).
    pub(crate) fn summary(&self) -> (u32, [u8; GOSSIP_ID_LEN]) {
        let mut h = Sha256::new();
        h.update(b"tacnode gossip summary v1");
        for id in self.by_id.keys() {
            h.update(id.0);
        }
        let full: [u8; 32] = h.finalize().into();
        let mut digest = [0u8; GOSSIP_ID_LEN];
        digest.copy_from_slice(&full[..GOSSIP_ID_LEN]);
        (u32::try_from(self.by_id.len()).unwrap_or(u32::MAX), digest)
    }

    /// Drops what is older than `ttl_ms`.
    pub(crate) fn expire(&mut self, now: UnixMillis, ttl_ms: u64) {
        while let Some(oldest) = self.order.front() {
            let expired = self
                .by_id
                .get(oldest)
                .is_none_or(|b| now.millis_since(b.at) >= ttl_ms);
            if !expired {
                break;
            }
            self.evict_oldest();
        }
    }

    /// Every id held with its round, oldest first.
    pub(crate) fn ids(&self) -> impl Iterator<Item = (GossipId, u32)> + '_ {
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id).map(|b| (*id, b.round)))
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}
