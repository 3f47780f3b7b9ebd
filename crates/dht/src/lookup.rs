//! Iterative FIND_NODE / FIND_VALUE lookups as pure state machines.
//!
//! A lookup keeps, per path, the candidates it heard of sorted by distance to
//! the target. It asks the closest not-yet-asked candidate among the K
//! closest that have not failed, with at most ALPHA requests in flight per
//! path, and finishes when those K closest have all answered (or a value was
//! found). With several disjoint paths (S/Kademlia) each path owns the
//! contacts its own responders reveal, and no node is ever asked by two paths.

use std::collections::HashMap;

use tacnode_domain::dht::{Contact, MAX_CONTACTS_PER_RESPONSE, Record, RecordKind};
use tacnode_domain::{MAX_ENDPOINTS, NodeId, UnixMillis};

use crate::config::{LOOKUP_CANDIDATES_PER_K, MAX_LOOKUP_CANDIDATES, MAX_LOOKUP_REQUESTS};
use crate::key::distance_key;

/// Identifies a lookup started on a [`crate::Dht`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// What a lookup searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupKind {
    /// The K closest nodes to the target.
    FindNode,
    /// A record of this kind under the target key (else the K closest nodes).
    FindValue(RecordKind),
}

/// How a lookup went.
///
/// Depth: a contact from the local table has depth 0; one first revealed by
/// a responder of depth `d` has depth `d + 1`. Asking a node of depth `d` is
/// round `d + 1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Depth at which the closest node of the result was first seen.
    pub rounds_to_closest: u32,
    /// Longest chain of answered requests (the round of the deepest answer).
    pub rounds: u32,
    /// Requests sent, retries included.
    pub requests: u32,
    /// Requests sent again after a timeout (counted in `requests` too).
    pub retries: u32,
    /// Contacts whose request failed (after its retries, for a timeout).
    pub failures: u32,
    /// Milliseconds from start to finish.
    pub duration_ms: u64,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupResult {
    /// The target id or key.
    pub target: NodeId,
    /// Up to K nodes that answered, closest to the target first.
    pub closest: Vec<Contact>,
    /// For FIND_VALUE: the validated record found, if any (boxed: it dwarfs the rest).
    pub record: Option<Box<Record>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    InFlight,
    Succeeded,
    Failed,
}

#[derive(Clone, Debug)]
struct Candidate {
    contact: Contact,
    distance: (u128, u128),
    depth: u32,
    state: State,
}

/// Candidates sorted by distance to the target. The XOR distance to a
/// fixed target is a bijection, so a binary search by distance both places
/// and deduplicates nodes. The list only ever loses its farthest entry once
/// over its fixed cap, so a dropped node can never come back (its place
/// stays beyond the cap): every node is asked at most once.
#[derive(Clone, Debug, Default)]
struct Path {
    candidates: Vec<Candidate>,
    in_flight: usize,
    cap: usize,
}

impl Path {
    fn insert(&mut self, mut contact: Contact, depth: u32, target: &NodeId, local: &NodeId) {
        if contact.node_id == *local {
            return;
        }
        let distance = distance_key(&contact.node_id, target);
        // Most contacts heard are far: reject them without a search.
        if self.candidates.len() >= self.cap
            && self
                .candidates
                .last()
                .is_some_and(|c| distance > c.distance)
        {
            return;
        }
        let Err(at) = self
            .candidates
            .binary_search_by(|c| c.distance.cmp(&distance))
        else {
            return;
        };
        if at >= self.cap {
            return;
        }
        contact.endpoints.truncate(MAX_ENDPOINTS);
        self.candidates.insert(
            at,
            Candidate {
                contact,
                distance,
                depth,
                state: State::Waiting,
            },
        );
        if self.candidates.len() > self.cap
            && self
                .candidates
                .last()
                .is_some_and(|c| c.state != State::InFlight)
        {
            self.candidates.pop();
        }
    }

    /// Index of the next candidate to ask, skipping those another path claimed.
    fn next(&mut self, k: usize, own: usize, claimed: &HashMap<NodeId, usize>) -> Option<usize> {
        let mut live = 0;
        for (i, c) in self.candidates.iter_mut().enumerate() {
            if live >= k {
                break;
            }
            match c.state {
                State::Failed => continue,
                State::Waiting => {
                    if claimed.get(&c.contact.node_id).is_some_and(|p| *p != own) {
                        // Asked by another path: never share a node.
                        c.state = State::Failed;
                        continue;
                    }
                    return Some(i);
                }
                State::InFlight | State::Succeeded => {}
            }
            live += 1;
        }
        None
    }

    /// Whether the K closest live candidates have all answered; when
    /// `can_send` is false, waiting candidates no longer count.
    fn is_done(&self, k: usize, can_send: bool) -> bool {
        self.candidates
            .iter()
            .filter(|c| c.state != State::Failed)
            .take(k)
            .all(|c| match c.state {
                State::Succeeded | State::Failed => true,
                State::InFlight => false,
                State::Waiting => !can_send,
            })
    }

    fn position(&self, id: &NodeId, target: &NodeId) -> Option<usize> {
        let distance = distance_key(id, target);
        self.candidates
            .binary_search_by(|c| c.distance.cmp(&distance))
            .ok()
    }
}

/// How wide a lookup searches: result size K, ALPHA in flight per path, paths.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Width {
    pub(crate) k: usize,
    pub(crate) alpha: usize,
    pub(crate) paths: usize,
}

/// One iterative lookup.
#[derive(Clone, Debug)]
pub(crate) struct Lookup {
    target: NodeId,
    local: NodeId,
    kind: LookupKind,
    k: usize,
    alpha: usize,
    paths: Vec<Path>,
    claimed: HashMap<NodeId, usize>,
    requests: u32,
    retries: u32,
    failures: u32,
    record: Option<Box<Record>>,
    started: UnixMillis,
}

impl Lookup {
    /// A lookup seeded with `seeds` (the local table's closest), dealt
    /// round-robin over `paths` disjoint paths. `local` is never asked.
    pub(crate) fn new(
        target: NodeId,
        kind: LookupKind,
        seeds: Vec<Contact>,
        local: NodeId,
        width: Width,
        now: UnixMillis,
    ) -> Self {
        let Width { k, alpha, paths } = width;
        let paths_n = paths.max(1);
        let cap = k
            .max(1)
            .saturating_mul(LOOKUP_CANDIDATES_PER_K)
            .min(MAX_LOOKUP_CANDIDATES);
        let mut paths: Vec<Path> = (0..paths_n)
            .map(|_| Path {
                cap,
                ..Path::default()
            })
            .collect();
        for (i, s) in seeds.into_iter().enumerate() {
            if let Some(p) = paths.get_mut(i % paths_n) {
                p.insert(s, 0, &target, &local);
            }
        }
        Self {
            target,
            local,
            kind,
            k: k.max(1),
            alpha: alpha.max(1),
            paths,
            claimed: HashMap::new(),
            requests: 0,
            retries: 0,
            failures: 0,
            record: None,
            started: now,
        }
    }

    pub(crate) fn target(&self) -> &NodeId {
        &self.target
    }

    pub(crate) fn kind(&self) -> LookupKind {
        self.kind
    }

    fn can_send(&self) -> bool {
        self.record.is_none() && self.requests < MAX_LOOKUP_REQUESTS
    }

    /// The next node to ask, if the lookup may send one now.
    pub(crate) fn next_request(&mut self) -> Option<Contact> {
        if !self.can_send() {
            return None;
        }
        // With a single path there is no one to share nodes with.
        let disjoint = self.paths.len() > 1;
        for (pi, path) in self.paths.iter_mut().enumerate() {
            if path.in_flight >= self.alpha {
                continue;
            }
            if let Some(i) = path.next(self.k, pi, &self.claimed) {
                let c = path.candidates.get_mut(i)?;
                c.state = State::InFlight;
                path.in_flight += 1;
                if disjoint {
                    self.claimed.insert(c.contact.node_id, pi);
                }
                self.requests += 1;
                return Some(c.contact.clone());
            }
        }
        None
    }

    /// The request to `node` timed out: whether the lookup sends it again
    /// (it still may send and `node` is in flight). When it does, `node`
    /// stays in flight and the retry counts as a request; otherwise the
    /// caller reports the failure with [`Lookup::on_failure`].
    pub(crate) fn retry(&mut self, node: &NodeId) -> bool {
        if !self.can_send() {
            return false;
        }
        let target = self.target;
        let in_flight = self.paths.iter().any(|p| {
            p.position(node, &target)
                .and_then(|i| p.candidates.get(i))
                .is_some_and(|c| c.state == State::InFlight)
        });
        if in_flight {
            self.requests += 1;
            self.retries += 1;
        }
        in_flight
    }

    fn in_flight_candidate(&mut self, node: &NodeId) -> Option<(&mut Path, usize)> {
        let target = self.target;
        // A node is in flight on at most one path (disjointness).
        let (pi, i) = self.paths.iter().enumerate().find_map(|(pi, p)| {
            let i = p.position(node, &target)?;
            (p.candidates.get(i)?.state == State::InFlight).then_some((pi, i))
        })?;
        let path = self.paths.get_mut(pi)?;
        path.in_flight = path.in_flight.saturating_sub(1);
        Some((path, i))
    }

    /// `node` answered with `contacts` (and, for FIND_VALUE, a validated record).
    pub(crate) fn on_response(
        &mut self,
        node: &NodeId,
        contacts: Vec<Contact>,
        record: Option<Box<Record>>,
    ) {
        let (target, local) = (self.target, self.local);
        let Some((path, i)) = self.in_flight_candidate(node) else {
            return;
        };
        let depth = match path.candidates.get_mut(i) {
            Some(c) => {
                c.state = State::Succeeded;
                c.depth
            }
            None => return,
        };
        for c in contacts.into_iter().take(MAX_CONTACTS_PER_RESPONSE) {
            path.insert(c, depth.saturating_add(1), &target, &local);
        }
        if self.record.is_none() {
            self.record = record;
        }
    }

    /// The request to `node` failed or timed out.
    pub(crate) fn on_failure(&mut self, node: &NodeId) {
        let Some((path, i)) = self.in_flight_candidate(node) else {
            return;
        };
        if let Some(c) = path.candidates.get_mut(i) {
            c.state = State::Failed;
        }
        self.failures += 1;
    }

    /// Whether the lookup is over.
    pub(crate) fn is_finished(&self) -> bool {
        if self.record.is_some() {
            return true;
        }
        let can_send = self.can_send();
        self.paths.iter().all(|p| p.is_done(self.k, can_send))
    }

    /// Result and statistics.
    pub(crate) fn finish(self, now: UnixMillis) -> (LookupResult, LookupStats) {
        let mut answered: Vec<&Candidate> = self
            .paths
            .iter()
            .flat_map(|p| p.candidates.iter())
            .filter(|c| c.state == State::Succeeded)
            .collect();
        let rounds = answered
            .iter()
            .map(|c| c.depth.saturating_add(1))
            .max()
            .unwrap_or(0);
        answered.sort_by_key(|c| c.distance);
        answered.dedup_by_key(|c| c.contact.node_id);
        answered.truncate(self.k);
        let stats = LookupStats {
            rounds_to_closest: answered.first().map_or(0, |c| c.depth),
            rounds,
            requests: self.requests,
            retries: self.retries,
            failures: self.failures,
            duration_ms: now.millis_since(self.started),
        };
        let result = LookupResult {
            target: self.target,
            closest: answered.into_iter().map(|c| c.contact.clone()).collect(),
            record: self.record,
        };
        (result, stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(id: [u8; 32]) -> Contact {
        Contact {
            node_id: NodeId::from_bytes(id),
            endpoints: vec![],
        }
    }

    fn id(b: u8) -> [u8; 32] {
        let mut x = [0; 32];
        x[0] = b;
        x
    }

    #[test]
    fn converges_on_closer_contacts_and_finishes() {
        let target = NodeId::from_bytes([0; 32]);
        let local = NodeId::from_bytes(id(255));
        let mut l = Lookup::new(
            target,
            LookupKind::FindNode,
            vec![c(id(200))],
            local,
            Width {
                k: 2,
                alpha: 3,
                paths: 1,
            },
            UnixMillis(0),
        );
        let first = l.next_request().unwrap();
        assert_eq!(first.node_id.as_bytes()[0], 200);
        assert!(l.next_request().is_none());
        l.on_response(&first.node_id, vec![c(id(10)), c(id(20))], None);
        let a = l.next_request().unwrap();
        let b = l.next_request().unwrap();
        assert_eq!((a.node_id.as_bytes()[0], b.node_id.as_bytes()[0]), (10, 20));
        l.on_response(&a.node_id, vec![c(id(1))], None);
        l.on_failure(&b.node_id);
        let d = l.next_request().unwrap();
        assert_eq!(d.node_id.as_bytes()[0], 1);
        assert!(!l.is_finished());
        l.on_response(&d.node_id, vec![], None);
        // K = 2 closest live: 1 and 10, both answered; 200 need not be re-asked.
        assert!(l.is_finished());
        let (r, s) = l.finish(UnixMillis(5));
        let got: Vec<u8> = r.closest.iter().map(|c| c.node_id.as_bytes()[0]).collect();
        assert_eq!(got, vec![1, 10]);
        assert_eq!(s.requests, 4);
        assert_eq!(s.failures, 1);
        assert_eq!(s.rounds_to_closest, 2);
        assert_eq!(s.rounds, 3);
    }

    #[test]
    fn disjoint_paths_never_share_a_node() {
        let target = NodeId::from_bytes([0; 32]);
        let local = NodeId::from_bytes(id(255));
        let seeds = vec![c(id(100)), c(id(101))];
        let mut l = Lookup::new(
            target,
            LookupKind::FindNode,
            seeds,
            local,
            Width {
                k: 4,
                alpha: 1,
                paths: 2,
            },
            UnixMillis(0),
        );
        let a = l.next_request().unwrap();
        let b = l.next_request().unwrap();
        assert_ne!(a.node_id, b.node_id);
        // Both reveal node 5; only one path may ask it.
        l.on_response(&a.node_id, vec![c(id(5))], None);
        l.on_response(&b.node_id, vec![c(id(5))], None);
        let mut asked = vec![];
        while let Some(x) = l.next_request() {
            asked.push(x.node_id);
            l.on_response(&x.node_id, vec![], None);
        }
        assert_eq!(asked, vec![NodeId::from_bytes(id(5))]);
        assert!(l.is_finished());
    }

    fn one_seed_lookup() -> Lookup {
        Lookup::new(
            NodeId::from_bytes([0; 32]),
            LookupKind::FindNode,
            vec![c(id(200))],
            NodeId::from_bytes(id(255)),
            Width {
                k: 2,
                alpha: 3,
                paths: 1,
            },
            UnixMillis(0),
        )
    }

    #[test]
    fn a_retried_node_stays_in_flight_until_it_answers() {
        let mut l = one_seed_lookup();
        let first = l.next_request().unwrap();
        assert!(l.retry(&first.node_id));
        // Still in flight: nothing new to ask, not finished.
        assert!(l.next_request().is_none());
        assert!(!l.is_finished());
        // Only a node in flight is retried.
        assert!(!l.retry(&NodeId::from_bytes(id(9))));
        l.on_response(&first.node_id, vec![], None);
        assert!(!l.retry(&first.node_id));
        assert!(l.is_finished());
        let (r, s) = l.finish(UnixMillis(1));
        assert_eq!(r.closest, vec![first]);
        assert_eq!((s.requests, s.retries, s.failures), (2, 1, 0));
        assert_eq!(s.rounds, 1);
    }

    #[test]
    fn a_retried_node_that_fails_counts_one_failure() {
        let mut l = one_seed_lookup();
        let first = l.next_request().unwrap();
        assert!(l.retry(&first.node_id));
        l.on_failure(&first.node_id);
        assert!(l.is_finished());
        let (r, s) = l.finish(UnixMillis(1));
        assert!(r.closest.is_empty());
        assert_eq!((s.requests, s.retries, s.failures), (2, 1, 1));
    }

    #[test]
    fn retries_count_against_the_request_cap() {
        let mut l = one_seed_lookup();
        let first = l.next_request().unwrap();
        for _ in 1..MAX_LOOKUP_REQUESTS {
            assert!(l.retry(&first.node_id));
        }
        assert!(!l.retry(&first.node_id));
        l.on_failure(&first.node_id);
        assert!(l.is_finished());
        let (_, s) = l.finish(UnixMillis(1));
        assert_eq!(s.requests, MAX_LOOKUP_REQUESTS);
    }

    #[derive(Debug, Clone)]
    enum Reply {
        Contacts(Vec<[u8; 32]>),
        Fail,
        /// Timed out: retried if the lookup allows it, else failed.
        Timeout,
    }

    fn reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            proptest::collection::vec(any::<[u8; 32]>(), 0..20).prop_map(Reply::Contacts),
            Just(Reply::Fail),
            Just(Reply::Timeout),
        ]
    }

    proptest! {
        #[test]
        fn lookups_terminate_with_sorted_results(
            target in any::<[u8; 32]>(),
            seeds in proptest::collection::vec(any::<[u8; 32]>(), 0..30),
            replies in proptest::collection::vec(reply(), 0..200),
            k in 1usize..10, alpha in 1usize..4, paths in 1usize..4,
        ) {
            let target = NodeId::from_bytes(target);
            let local = NodeId::from_bytes([7; 32]);
            let mut l = Lookup::new(target, LookupKind::FindNode, seeds.into_iter().map(c).collect(), local, Width { k, alpha, paths }, UnixMillis(0));
            let mut replies = replies.into_iter();
            let mut in_flight: Vec<NodeId> = vec![];
            let mut steps = 0u32;
            loop {
                while let Some(n) = l.next_request() {
                    prop_assert_ne!(n.node_id, local);
                    in_flight.push(n.node_id);
                }
                if l.is_finished() { break; }
                // Not finished implies something is in flight (no deadlock).
                prop_assert!(!in_flight.is_empty());
                let n = in_flight.remove(0);
                match replies.next() {
                    Some(Reply::Contacts(cs)) => l.on_response(&n, cs.into_iter().map(c).collect(), None),
                    Some(Reply::Timeout) => {
                        if l.retry(&n) {
                            in_flight.push(n);
                        } else {
                            l.on_failure(&n);
                        }
                    }
                    // Exhausted replies: every further request fails (times out).
                    Some(Reply::Fail) | None => l.on_failure(&n),
                }
                steps += 1;
                prop_assert!(steps <= MAX_LOOKUP_REQUESTS + 1);
            }
            let (r, s) = l.finish(UnixMillis(1));
            prop_assert!(r.closest.len() <= k);
            prop_assert!(r.closest.windows(2).all(|w| w[0].node_id.distance(&target) < w[1].node_id.distance(&target)));
            prop_assert!(s.requests <= MAX_LOOKUP_REQUESTS);
        }
    }
}
