//! The routing table: 256 lazily allocated k-buckets over the XOR distance
//! to the local node id.

use std::collections::BTreeMap;

use tacnode_domain::dht::Contact;
use tacnode_domain::{NodeId, UnixMillis};

use crate::entry::Entry;
use crate::kbucket::{BucketParams, KBucket, Seen};
use crate::key::{bucket_of, distance_key};

/// A change of the routing table's membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoutingChange {
    /// The node was added.
    Inserted,
    /// The node was dropped (failed liveness check or too many failures).
    Removed,
}

/// K-buckets keyed by index (`255 - leading zeros of the distance`); a
/// bucket exists only once a node fell in it.
#[derive(Clone, Debug)]
pub struct RoutingTable {
    local: NodeId,
    params: BucketParams,
    buckets: BTreeMap<usize, KBucket>,
}

impl RoutingTable {
    /// An empty table for `local` with buckets of `k` and replacement
    /// caches of `cache_size`; a full bucket pings its least-recently-seen
    /// entry only when that was last seen `liveness_check_after_ms` ago or more.
    pub fn new(local: NodeId, k: usize, cache_size: usize, liveness_check_after_ms: u64) -> Self {
        Self {
            local,
            params: BucketParams {
                k,
                cache_size,
                liveness_check_after_ms,
            },
            buckets: BTreeMap::new(),
        }
    }

    /// The local node id.
    pub fn local_id(&self) -> &NodeId {
        &self.local
    }

    /// Number of entries over all buckets.
    pub fn len(&self) -> usize {
        self.buckets.values().map(|b| b.entries().len()).sum()
    }

    /// Whether the table holds no node.
    pub fn is_empty(&self) -> bool {
        self.buckets.values().all(KBucket::is_empty)
    }

    /// Allocated buckets by index.
    pub fn buckets(&self) -> impl Iterator<Item = (usize, &KBucket)> {
        self.buckets.iter().map(|(i, b)| (*i, b))
    }

    /// All entries, bucket by bucket.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.values().flat_map(|b| b.entries().iter())
    }

    /// Whether `id` is in the table.
    pub fn contains(&self, id: &NodeId) -> bool {
        bucket_of(&self.local, id)
            .and_then(|i| self.buckets.get(&i))
            .is_some_and(|b| b.contains(id))
    }

    /// `contact` answered or asked us something (only servers are passed in).
    pub(crate) fn seen(&mut self, contact: Contact, now: UnixMillis) -> Option<Seen> {
        let i = bucket_of(&self.local, &contact.node_id)?;
        let params = self.params;
        let bucket = self.buckets.entry(i).or_insert_with(|| KBucket::new(now));
        Some(bucket.seen(contact, now, params))
    }

    /// A request to `id` failed; see [`KBucket`]'s eviction rules.
    pub(crate) fn failed(
        &mut self,
        id: &NodeId,
        max_failures: u32,
    ) -> Option<(NodeId, Option<NodeId>)> {
        let i = bucket_of(&self.local, id)?;
        self.buckets.get_mut(&i)?.failed(id, max_failures)
    }

    /// A lookup for `target` ran: its bucket needs no refresh for a while.
    pub(crate) fn touch_lookup(&mut self, target: &NodeId, now: UnixMillis) {
        if let Some(b) = bucket_of(&self.local, target).and_then(|i| self.buckets.get_mut(&i)) {
            b.touch_lookup(now);
        }
    }

    /// Earliest time a bucket becomes due for refresh.
    pub(crate) fn next_refresh(&self, interval_ms: u64) -> Option<UnixMillis> {
        self.buckets
            .values()
            .map(|b| b.last_lookup().saturating_add_millis(interval_ms))
            .min()
    }

    /// Buckets due for refresh at `now`.
    pub(crate) fn due_for_refresh(&self, now: UnixMillis, interval_ms: u64) -> Vec<usize> {
        self.buckets
            .iter()
            .filter(|(_, b)| b.last_lookup().saturating_add_millis(interval_ms) <= now)
            .map(|(i, _)| *i)
            .collect()
    }

    /// Up to `n` contacts closest to `target`, nearest first, never `exclude`.
    ///
    /// Visits buckets in distance order rather than sorting the whole table:
    /// with `b` the bucket of `target`, entries of bucket `b` are closer than
    /// `2^b`, those of buckets below `b` lie in `[2^b, 2^(b+1))`, and bucket
    /// `j > b` lies in `[2^j, 2^(j+1))`.
    pub fn closest(&self, target: &NodeId, n: usize, exclude: Option<&NodeId>) -> Vec<Contact> {
        let mut out: Vec<Contact> = Vec::with_capacity(n);
        let take = |batch: &mut Vec<((u128, u128), &Entry)>, out: &mut Vec<Contact>| {
            batch.sort_unstable_by_key(|(d, _)| *d);
            for (_, e) in batch.drain(..) {
                if out.len() >= n {
                    break;
                }
                if Some(&e.contact.node_id) != exclude {
                    out.push(e.contact.clone());
                }
            }
        };
        let with_distance = |e| -> ((u128, u128), &Entry) { (distance_to(e, target), e) };
        let mut batch: Vec<((u128, u128), &Entry)> = Vec::new();
        let b = bucket_of(&self.local, target);
        if let Some(b) = b {
            if let Some(bucket) = self.buckets.get(&b) {
                batch.extend(bucket.entries().iter().map(with_distance));
                take(&mut batch, &mut out);
            }
            if out.len() < n {
                batch.extend(
                    self.buckets
                        .range(..b)
                        .flat_map(|(_, bk)| bk.entries().iter().map(with_distance)),
                );
                take(&mut batch, &mut out);
            }
        }
        let above = b.map_or(0, |b| b + 1);
        for (_, bucket) in self.buckets.range(above..) {
            if out.len() >= n {
                break;
            }
            batch.extend(bucket.entries().iter().map(with_distance));
            take(&mut batch, &mut out);
        }
        out
    }
}

fn distance_to(e: &Entry, target: &NodeId) -> (u128, u128) {
    distance_key(&e.contact.node_id, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(b: [u8; 32]) -> Contact {
        Contact {
            node_id: NodeId::from_bytes(b),
            endpoints: vec![],
        }
    }

    proptest! {
        #[test]
        fn closest_matches_brute_force(local in any::<[u8; 32]>(), ids in proptest::collection::vec(any::<[u8; 32]>(), 0..80), target in any::<[u8; 32]>(), n in 1usize..30, k in 1usize..6) {
            let local = NodeId::from_bytes(local);
            let mut t = RoutingTable::new(local, k, 0, 0);
            for id in &ids {
                t.seen(c(*id), UnixMillis(0));
            }
            // The local node never enters its own table.
            prop_assert_eq!(t.seen(c(*local.as_bytes()), UnixMillis(0)), None);
            prop_assert!(!t.contains(&local));
            prop_assert!(t.entries().all(|e| e.contact.node_id != local));
            let target = NodeId::from_bytes(target);
            let got: Vec<NodeId> = t.closest(&target, n, None).into_iter().map(|c| c.node_id).collect();
            let mut all: Vec<NodeId> = t.entries().map(|e| e.contact.node_id).collect();
            all.sort_by_key(|id| id.distance(&target));
            all.truncate(n);
            prop_assert_eq!(got, all);
            for (_, b) in t.buckets() {
                prop_assert!(b.entries().len() <= k);
            }
        }
    }
}
