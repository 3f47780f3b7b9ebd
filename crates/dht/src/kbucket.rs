//! A k-bucket: up to K entries in least-recently-seen order, a replacement
//! cache, and the pending liveness check of its least-recently-seen entry.

use tacnode_domain::dht::Contact;
use tacnode_domain::{NodeId, UnixMillis};

use crate::entry::Entry;

/// What happened when a node was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Already present: moved to the most-recently-seen end.
    Refreshed,
    /// Added to the bucket.
    Inserted,
    /// Bucket full: cached as a replacement; ping `0` (the least recently
    /// seen) and evict it only if that fails.
    PingLeastRecent(Contact),
    /// Bucket full and its least-recently-seen entry is already being pinged
    /// or was seen too recently to doubt it: cached as a replacement.
    Cached,
}

/// Sizes and timing of a bucket.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BucketParams {
    /// Most entries.
    pub(crate) k: usize,
    /// Most replacement candidates.
    pub(crate) cache_size: usize,
    /// A least-recently-seen entry seen within this many ms is not pinged.
    pub(crate) liveness_check_after_ms: u64,
}

/// Up to K entries; index 0 is the least recently seen.
#[derive(Clone, Debug, Default)]
pub struct KBucket {
    entries: Vec<Entry>,
    replacements: Vec<Entry>,
    pending_ping: Option<NodeId>,
    last_lookup: UnixMillis,
}

impl KBucket {
    pub(crate) fn new(now: UnixMillis) -> Self {
        Self {
            last_lookup: now,
            ..Self::default()
        }
    }

    /// Entries, least recently seen first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Replacement candidates, most recent last.
    pub fn replacements(&self) -> &[Entry] {
        &self.replacements
    }

    /// Last time a lookup targeted this bucket's range (or its creation).
    pub fn last_lookup(&self) -> UnixMillis {
        self.last_lookup
    }

    pub(crate) fn touch_lookup(&mut self, now: UnixMillis) {
        self.last_lookup = now;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, id: &NodeId) -> Option<usize> {
        self.entries.iter().position(|e| e.contact.node_id == *id)
    }

    /// `contact` answered or asked us something.
    pub(crate) fn seen(&mut self, contact: Contact, now: UnixMillis, params: BucketParams) -> Seen {
        let BucketParams {
            k,
            cache_size,
            liveness_check_after_ms,
        } = params;
        if let Some(i) = self.position(&contact.node_id) {
            let mut e = self.entries.remove(i);
            if !contact.endpoints.is_empty() {
                e.contact.endpoints = contact.endpoints;
            }
            e.last_seen = now;
            e.failures = 0;
            if self.pending_ping == Some(e.contact.node_id) {
                self.pending_ping = None;
            }
            self.entries.push(e);
            return Seen::Refreshed;
        }
        if self.entries.len() < k {
            self.replacements
                .retain(|r| r.contact.node_id != contact.node_id);
            // Grow towards exactly K: thousands of tables in one process
            // (the simulator) should not carry doubling slack.
            let len = self.entries.len();
            if len == self.entries.capacity() {
                let target = len.saturating_mul(2).max(2).min(k);
                self.entries
                    .reserve_exact(target.saturating_sub(len).max(1));
            }
            self.entries.push(Entry::new(contact, now));
            return Seen::Inserted;
        }
        self.replacements
            .retain(|r| r.contact.node_id != contact.node_id);
        if cache_size > 0 {
            if self.replacements.len() >= cache_size {
                self.replacements.remove(0);
            }
            self.replacements.push(Entry::new(contact, now));
        }
        match (self.pending_ping, self.entries.first()) {
            (None, Some(lrs)) if now.millis_since(lrs.last_seen) >= liveness_check_after_ms => {
                self.pending_ping = Some(lrs.contact.node_id);
                Seen::PingLeastRecent(lrs.contact.clone())
            }
            _ => Seen::Cached,
        }
    }

    /// A request to `id` failed. Returns the removed node and its replacement
    /// when it was dropped: after `max_failures` consecutive failures, or at
    /// once when it was the least-recently-seen node under a liveness check.
    pub(crate) fn failed(
        &mut self,
        id: &NodeId,
        max_failures: u32,
    ) -> Option<(NodeId, Option<NodeId>)> {
        self.replacements.retain(|r| r.contact.node_id != *id);
        let i = self.position(id)?;
        let pinged = self.pending_ping == Some(*id);
        let drop = {
            let e = self.entries.get_mut(i)?;
            e.failures = e.failures.saturating_add(1);
            pinged || e.failures >= max_failures
        };
        if !drop {
            return None;
        }
        if pinged {
            self.pending_ping = None;
        }
        self.entries.remove(i);
        let replacement = self.replacements.pop().map(|r| {
            let id = r.contact.node_id;
            // Keep least-recently-seen order: the candidate may predate the tail.
            let at = self.entries.partition_point(|e| e.last_seen <= r.last_seen);
            self.entries.insert(at, r);
            id
        });
        Some((*id, replacement))
    }

    /// Whether `id` is in the bucket.
    pub fn contains(&self, id: &NodeId) -> bool {
        self.position(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(k: usize, cache_size: usize) -> BucketParams {
        BucketParams {
            k,
            cache_size,
            liveness_check_after_ms: 0,
        }
    }

    fn c(b: u8) -> Contact {
        Contact {
            node_id: NodeId::from_bytes([b; 32]),
            endpoints: vec![],
        }
    }

    #[test]
    fn full_bucket_pings_least_recent_and_keeps_it_when_alive() {
        let mut b = KBucket::new(UnixMillis(0));
        for i in 1..=3 {
            assert_eq!(
                b.seen(c(i), UnixMillis(u64::from(i)), p(3, 2)),
                Seen::Inserted
            );
        }
        assert_eq!(
            b.seen(c(9), UnixMillis(10), p(3, 2)),
            Seen::PingLeastRecent(c(1))
        );
        assert_eq!(b.seen(c(8), UnixMillis(11), p(3, 2)), Seen::Cached);
        // Node 1 answers: it stays, moved to the most recent end.
        assert_eq!(b.seen(c(1), UnixMillis(12), p(3, 2)), Seen::Refreshed);
        let ids: Vec<u8> = b
            .entries()
            .iter()
            .map(|e| e.contact.node_id.as_bytes()[0])
            .collect();
        assert_eq!(ids, vec![2, 3, 1]);
        assert_eq!(b.replacements().len(), 2);
    }

    #[test]
    fn recently_seen_least_recent_entry_is_not_pinged() {
        let mut b = KBucket::new(UnixMillis(0));
        let params = BucketParams {
            k: 1,
            cache_size: 2,
            liveness_check_after_ms: 100,
        };
        b.seen(c(1), UnixMillis(0), params);
        assert_eq!(b.seen(c(2), UnixMillis(50), params), Seen::Cached);
        assert_eq!(
            b.seen(c(3), UnixMillis(100), params),
            Seen::PingLeastRecent(c(1))
        );
    }

    #[test]
    fn failed_liveness_check_evicts_for_newest_replacement() {
        let mut b = KBucket::new(UnixMillis(0));
        for i in 1..=3 {
            b.seen(c(i), UnixMillis(0), p(3, 2));
        }
        assert!(matches!(
            b.seen(c(9), UnixMillis(1), p(3, 2)),
            Seen::PingLeastRecent(_)
        ));
        let out = b.failed(&c(1).node_id, MAX);
        assert_eq!(out, Some((c(1).node_id, Some(c(9).node_id))));
        assert!(b.contains(&c(9).node_id));
        assert!(!b.contains(&c(1).node_id));
    }

    const MAX: u32 = 3;

    #[test]
    fn node_is_dropped_after_consecutive_failures() {
        let mut b = KBucket::new(UnixMillis(0));
        b.seen(c(1), UnixMillis(0), p(3, 2));
        assert_eq!(b.failed(&c(1).node_id, MAX), None);
        assert_eq!(b.failed(&c(1).node_id, MAX), None);
        assert_eq!(b.failed(&c(1).node_id, MAX), Some((c(1).node_id, None)));
        assert!(b.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Seen(u8),
        Failed(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![(1u8..40).prop_map(Op::Seen), (1u8..40).prop_map(Op::Failed)]
    }

    proptest! {
        #[test]
        fn bucket_invariants(ops in proptest::collection::vec(op(), 0..300), k in 1usize..10, cache in 0usize..5) {
            let mut b = KBucket::new(UnixMillis(0));
            for (t, o) in ops.into_iter().enumerate() {
                let now = UnixMillis(t as u64);
                match o {
                    Op::Seen(i) => {
                        b.seen(c(i), now, p(k, cache));
                        if b.contains(&c(i).node_id) {
                            prop_assert_eq!(b.entries().last().map(|e| e.contact.node_id), Some(c(i).node_id));
                        }
                    }
                    Op::Failed(i) => { b.failed(&c(i).node_id, MAX); }
                }
                prop_assert!(b.entries().len() <= k);
                prop_assert!(b.replacements().len() <= cache);
                // Least-recently-seen order.
                prop_assert!(b.entries().windows(2).all(|w| w[0].last_seen <= w[1].last_seen));
                // No duplicates.
                let mut ids: Vec<_> = b.entries().iter().map(|e| e.contact.node_id).collect();
                ids.sort();
                ids.dedup();
                prop_assert_eq!(ids.len(), b.entries().len());
            }
        }
    }
}
