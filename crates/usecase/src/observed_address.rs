//! Which address the rest of the network sees this node at: its NAT's
//! mapping, learnt from what the peers answering our DHT requests say
//! ("you came from IP:port").
//!
//! One peer's word moves nothing: an address is trusted only when at least
//! [`MIN_AGREEING_PEERS`] peers with distinct node ids, and distinct IP
//! addresses where we know them, report it within the last
//! [`OBSERVATION_TTL_MS`]. A trusted address is replaced only by one that
//! more peers agree on, so a liar (or a few, agreeing) cannot move it while
//! honest peers keep reporting it. At most [`MAX_OBSERVERS`] peers are
//! remembered (the latest report of each), the oldest forgotten first.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use tacnode_domain::{NodeId, UnixMillis};

/// Peers that must agree on an address before it is trusted.
pub const MIN_AGREEING_PEERS: usize = 2;
/// Peers whose latest report is remembered.
pub const MAX_OBSERVERS: usize = 64;
/// Reports older than this are forgotten.
pub const OBSERVATION_TTL_MS: u64 = 30 * 60 * 1000;

/// One peer's latest report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Observation {
    /// Where it saw us.
    address: SocketAddr,
    /// Its own IP address, when we know which one we reached it at.
    observer_ip: Option<IpAddr>,
    /// When it told us.
    at: UnixMillis,
}

/// Who vouches for an address: a distinct IP address, or a node id when
/// the IP address is not known. Node ids cost nothing to make; IP
/// addresses do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Witness {
    Ip(IpAddr),
    Node(NodeId),
}

/// The reports of our address and the one trusted now.
#[derive(Debug, Default)]
pub struct ObservedAddress {
    reports: BTreeMap<NodeId, Observation>,
    trusted: Option<SocketAddr>,
}

impl ObservedAddress {
    /// Nothing reported yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The address enough peers agree on, if any.
    pub fn trusted(&self) -> Option<SocketAddr> {
        self.trusted
    }

    /// The address `observer` last reported, if it is remembered.
    pub fn report_of(&self, observer: &NodeId) -> Option<SocketAddr> {
        self.reports.get(observer).map(|o| o.address)
    }

    /// How many peers' reports are remembered.
    pub fn len(&self) -> usize {
        self.reports.len()
    }

    /// Whether no report is remembered.
    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }

    /// `observer` (which we reached at `observer_ip`, when known) saw us
    /// come from `address` at `now`. Returns whether the trusted address
    /// changed.
    pub fn observe(
        &mut self,
        now: UnixMillis,
        observer: NodeId,
        observer_ip: Option<IpAddr>,
        address: SocketAddr,
    ) -> bool {
        self.drop_stale(now);
        if !self.reports.contains_key(&observer) && self.reports.len() >= MAX_OBSERVERS {
            let oldest = self
                .reports
                .iter()
                .min_by_key(|(id, o)| (o.at, **id))
                .map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.reports.remove(&id);
            }
        }
        self.reports.insert(
            observer,
            Observation {
                address,
                observer_ip,
                at: now,
            },
        );
        self.decide()
    }

    /// Forgets the reports older than [`OBSERVATION_TTL_MS`]; returns
    /// whether the trusted address changed (it is no longer trusted once
    /// too few fresh reports vouch for it).
    pub fn forget_stale(&mut self, now: UnixMillis) -> bool {
        self.drop_stale(now);
        self.decide()
    }

    fn drop_stale(&mut self, now: UnixMillis) {
        self.reports
            .retain(|_, o| now.millis_since(o.at) < OBSERVATION_TTL_MS);
    }

    /// Picks the trusted address from the reports; returns whether it
    /// changed.
    fn decide(&mut self) -> bool {
        let mut witnesses: BTreeMap<SocketAddr, (BTreeSet<Witness>, UnixMillis)> = BTreeMap::new();
        for (id, o) in &self.reports {
            let w = witnesses
                .entry(o.address)
                .or_insert_with(|| (BTreeSet::new(), o.at));
            w.0.insert(o.observer_ip.map_or(Witness::Node(*id), Witness::Ip));
            w.1 = w.1.max(o.at);
        }
        let agreeing = |a: &SocketAddr| witnesses.get(a).map_or(0, |(w, _)| w.len());
        let best = witnesses
            .iter()
            .filter(|(_, (w, _))| w.len() >= MIN_AGREEING_PEERS)
            .max_by_key(|(a, (w, latest))| (w.len(), *latest, **a))
            .map(|(a, _)| *a);
        let next = match self.trusted {
            // Still vouched for: only an address more peers agree on
            // replaces it.
            Some(current) if agreeing(&current) >= MIN_AGREEING_PEERS => match best {
                Some(b) if agreeing(&b) > agreeing(&current) => Some(b),
                _ => Some(current),
            },
            _ => best,
        };
        let changed = next != self.trusted;
        self.trusted = next;
        changed
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn id(n: u32) -> NodeId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        NodeId::from_bytes(b)
    }

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, n]))
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const T: UnixMillis = UnixMillis(1_700_000_000_000);

    #[test]
    fn two_distinct_peers_must_agree() {
        let mapped = addr("198.51.100.7:40001");
        let mut o = ObservedAddress::new();
        assert!(!o.observe(T, id(1), ip(1), mapped));
        assert_eq!(o.trusted(), None, "one peer's word is not enough");
        // The same peer again changes nothing.
        assert!(!o.observe(T, id(1), ip(1), mapped));
        assert_eq!(o.trusted(), None);
        assert!(o.observe(T, id(2), ip(2), mapped));
        assert_eq!(o.trusted(), Some(mapped));
    }

    #[test]
    fn node_ids_at_one_ip_address_count_once() {
        let fake = addr("203.0.113.66:1");
        let mut o = ObservedAddress::new();
        for n in 0..10 {
            o.observe(T, id(n), ip(9), fake);
        }
        assert_eq!(o.trusted(), None);
        // Without a known IP address, node ids are the witnesses.
        let mut o = ObservedAddress::new();
        o.observe(T, id(1), None, fake);
        o.observe(T, id(2), None, fake);
        assert_eq!(o.trusted(), Some(fake));
    }

    #[test]
    fn a_lying_peer_cannot_move_the_trusted_address() {
        let mapped = addr("198.51.100.7:40001");
        let lie = addr("203.0.113.66:1");
        let mut o = ObservedAddress::new();
        o.observe(T, id(1), ip(1), mapped);
        o.observe(T, id(2), ip(2), mapped);
        for _ in 0..100 {
            assert!(!o.observe(T, id(3), ip(3), lie));
        }
        assert_eq!(o.trusted(), Some(mapped));
        // Two liars agreeing only tie with the honest peers: no move.
        assert!(!o.observe(T, id(4), ip(4), lie));
        assert_eq!(o.trusted(), Some(mapped));
        // A lying peer alone, before anything is trusted, moves nothing.
        let mut o = ObservedAddress::new();
        o.observe(T, id(3), ip(3), lie);
        o.observe(T, id(1), ip(1), mapped);
        assert_eq!(o.trusted(), None);
    }

    #[test]
    fn a_new_mapping_most_peers_agree_on_replaces_the_old_one() {
        let old = addr("198.51.100.7:40001");
        let new = addr("198.51.100.7:40777");
        let mut o = ObservedAddress::new();
        for n in 1..=3 {
            o.observe(T, id(n), ip(n as u8), old);
        }
        o.observe(T, id(1), ip(1), new);
        assert_eq!(o.trusted(), Some(old));
        o.observe(T, id(2), ip(2), new);
        // 2 against 1: the old mapping has lost its second witness.
        assert_eq!(o.trusted(), Some(new));
    }

    #[test]
    fn stale_reports_are_forgotten() {
        let mapped = addr("198.51.100.7:40001");
        let mut o = ObservedAddress::new();
        o.observe(T, id(1), ip(1), mapped);
        o.observe(T, id(2), ip(2), mapped);
        assert!(!o.forget_stale(T.saturating_add_millis(OBSERVATION_TTL_MS - 1)));
        assert_eq!(o.trusted(), Some(mapped));
        assert!(o.forget_stale(T.saturating_add_millis(OBSERVATION_TTL_MS)));
        assert_eq!(o.trusted(), None);
        assert!(o.is_empty());
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_report_goes_first() {
        let mut o = ObservedAddress::new();
        for n in 0..(MAX_OBSERVERS as u32 + 50) {
            let at = T.saturating_add_millis(u64::from(n));
            o.observe(at, id(n), None, addr("198.51.100.7:40001"));
            assert!(o.len() <= MAX_OBSERVERS);
        }
        assert_eq!(o.len(), MAX_OBSERVERS);
        assert!(!o.reports.contains_key(&id(0)));
        assert!(o.reports.contains_key(&id(MAX_OBSERVERS as u32 + 49)));
    }
}
