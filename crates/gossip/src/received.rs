use std::collections::{BTreeMap, VecDeque};

use tacnode_domain::UnixMillis;
use tacnode_domain::gossip::GossipId;

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
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
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
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
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
