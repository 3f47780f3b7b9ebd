//! LAN discovery, sans-IO: when this node sends its signed beacon, and which
//! beacons heard on the segment name a peer worth dialling.
//!
//! [`Discovery::poll_beacon`] hands out the next signed beacon when one is
//! due ([`STARTUP_BEACONS`] a second apart at start, then one per configured
//! interval, never closer than [`MIN_BEACON_INTERVAL_MS`]; a newly heard
//! server brings our next beacon forward, within that minimum, so that it
//! hears us too without waiting an interval);
//! [`Discovery::handle_beacon`] checks a heard datagram and returns the peer
//! to confirm, if any. A beacon is checked in this order, cheapest first:
//! the processing budget ([`MAX_BEACONS_PER_SECOND`], before any parsing),
//! the strict decoding, our own beacon (multicast loops back), the
//! signature, the sender's clock (within [`MAX_CLOCK_SKEW_MS`] of ours),
//! revocation (a closed network's revoked members are ignored), the
//! sequence (strictly increasing per sender: a replay is refused) and the
//! dial budget (one dial per sender per [`REDIAL_INTERVAL_MS`]). What it
//! returns is only a candidate: the node dials it, and the QUIC handshake,
//! which authenticates the identity (and, in a closed network, the
//! membership), decides whether it enters the routing table.
//!
//! Memory is bounded: at most [`MAX_HEARD_SENDERS`] senders are
//! remembered, the one heard from longest ago forgotten first (a forgotten
//! sender's old beacons could be replayed once more: they still name only
//! an identity the handshake must prove).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tacnode_crypto::Identity;
use tacnode_domain::{
    BeaconError, Endpoint, MAX_BEACON_ENDPOINTS, MAX_CLOCK_SKEW_MS, NodeId, NodeType, UnixMillis,
    UnsignedBeacon,
};
use tacnode_messaging::{DecodeError, decode_beacon, encode_beacon};

/// Shortest interval between two of our beacons, ms (`discovery.interval_ms`
/// may not be lower).
pub const MIN_BEACON_INTERVAL_MS: u64 = 1_000;
/// Beacons sent [`MIN_BEACON_INTERVAL_MS`] apart at start, before the
/// configured interval: a lost first beacon costs a second, not an interval.
pub const STARTUP_BEACONS: u32 = 3;
/// Heard datagrams processed per second at most; beyond, they are dropped
/// unparsed (a flood costs no signature checks).
pub const MAX_BEACONS_PER_SECOND: u32 = 32;
/// Senders remembered at most (their last sequence, when they were last
/// heard and dialled).
pub const MAX_HEARD_SENDERS: usize = 256;
/// A sender is dialled at most once per this long, ms, however many
/// beacons it sends.
pub const REDIAL_INTERVAL_MS: u64 = 30_000;

/// Why a heard datagram was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconRefusal {
    /// Over [`MAX_BEACONS_PER_SECOND`]: dropped without being parsed.
    #[error("over {MAX_BEACONS_PER_SECOND} beacons a second")]
    OverRate,
    /// Not a beacon.
    #[error("not a beacon: {0}")]
    Malformed(#[from] DecodeError),
    /// Our own beacon, looped back.
    #[error("our own beacon")]
    Own,
    /// Bad signature or limits.
    #[error(transparent)]
    Invalid(#[from] BeaconError),
    /// The sender's clock is further from ours than [`MAX_CLOCK_SKEW_MS`].
    #[error("sent at {sent}, more than {MAX_CLOCK_SKEW_MS} ms from our clock")]
    Stale {
        /// The beacon's time.
        sent: UnixMillis,
    },
    /// A revoked member of our closed network.
    #[error("the sender is revoked")]
    Revoked,
    /// Not newer than the last beacon taken from this sender.
    #[error("sequence {sequence} replayed: {last} was taken before")]
    Replayed {
        /// The beacon's.
        sequence: u64,
        /// The last taken.
        last: u64,
    },
    /// Neither a usable source address nor an endpoint to dial.
    #[error("no address to dial")]
    NoAddress,
}

/// A peer a beacon named: dial it to confirm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeardPeer {
    /// Its node id (the dial expects it; TLS proves it).
    pub node_id: NodeId,
    /// Server or client, as it says.
    pub node_type: NodeType,
    /// Where to dial: the datagram's source address at the beacon's QUIC
    /// port first, then the endpoints it advertises.
    pub endpoints: Vec<Endpoint>,
}

/// What is remembered of one sender.
#[derive(Clone, Copy, Debug)]
struct Sender {
    sequence: u64,
    heard: UnixMillis,
    /// Not dialled again before this.
    dial_after: UnixMillis,
}

/// The beacon state of one node.
#[derive(Debug)]
pub struct Discovery {
    own: NodeId,
    node_type: NodeType,
    port: u16,
    endpoints: Vec<Endpoint>,
    interval_ms: u64,
    sending: bool,
    next_send: UnixMillis,
    last_sent: Option<UnixMillis>,
    sent: u32,
    next_sequence: u64,
    senders: BTreeMap<NodeId, Sender>,
    window_start: UnixMillis,
    window_count: u32,
}

impl Discovery {
    /// The beacon state of a node listening for QUIC on `port` (and
    /// advertising `endpoints`, at most [`MAX_BEACON_ENDPOINTS`] of them
    /// are sent). Servers send beacons at once; clients only listen (no
    /// routing table takes a client, so there is nothing to find).
    pub fn new(
        own: NodeId,
        node_type: NodeType,
        port: u16,
        endpoints: Vec<Endpoint>,
        interval_ms: u64,
        now: UnixMillis,
    ) -> Discovery {
        let mut endpoints = endpoints;
        endpoints.truncate(MAX_BEACON_ENDPOINTS);
        Discovery {
            own,
            node_type,
            port,
            endpoints,
            interval_ms: interval_ms.max(MIN_BEACON_INTERVAL_MS),
            sending: node_type == NodeType::Server && port != 0,
            next_send: now,
            last_sent: None,
            sent: 0,
            // From the clock: a restarted node goes on above its last run.
            next_sequence: now.0,
            senders: BTreeMap::new(),
            window_start: now,
            window_count: 0,
        }
    }

    /// When [`Discovery::poll_beacon`] has the next beacon; `None` when
    /// this node sends none.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.sending.then_some(self.next_send)
    }

    /// Our next beacon, signed by `identity`, if one is due at `now`.
    pub fn poll_beacon(&mut self, now: UnixMillis, identity: &Identity) -> Option<Vec<u8>> {
        if !self.sending || now < self.next_send {
            return None;
        }
        let body = UnsignedBeacon {
            identity_key: identity.identity_key(),
            node_type: self.node_type,
            port: self.port,
            endpoints: self.endpoints.clone(),
            sequence: self.next_sequence,
            time: now,
        };
        let signature = identity.sign(&body.signing_bytes());
        self.next_sequence = self.next_sequence.saturating_add(1);
        self.sent = self.sent.saturating_add(1);
        self.last_sent = Some(now);
        let wait = if self.sent < STARTUP_BEACONS {
            MIN_BEACON_INTERVAL_MS
        } else {
            self.interval_ms
        };
        self.next_send = now.saturating_add_millis(wait);
        Some(encode_beacon(&body.with_signature(signature)))
    }

    /// A datagram heard from `from` at `now`: the peer to dial, `Ok(None)`
    /// for a good beacon of a peer dialled lately (or of a client), or why
    /// it was refused. `revoked` says whether our closed network revoked
    /// a node (always `false` in an open network).
    pub fn handle_beacon(
        &mut self,
        now: UnixMillis,
        from: SocketAddr,
        bytes: &[u8],
        revoked: impl Fn(&NodeId) -> bool,
    ) -> Result<Option<HeardPeer>, BeaconRefusal> {
        if now.millis_since(self.window_start) >= 1_000 || now < self.window_start {
            self.window_start = now;
            self.window_count = 0;
        }
        if self.window_count >= MAX_BEACONS_PER_SECOND {
            return Err(BeaconRefusal::OverRate);
        }
        self.window_count += 1;
        let beacon = decode_beacon(bytes)?;
        let id = beacon.node_id();
        if id == self.own {
            return Err(BeaconRefusal::Own);
        }
        beacon.verify()?;
        let body = &beacon.body;
        if body.time.0.abs_diff(now.0) > MAX_CLOCK_SKEW_MS {
            return Err(BeaconRefusal::Stale { sent: body.time });
        }
        if revoked(&id) {
            return Err(BeaconRefusal::Revoked);
        }
        if let Some(s) = self.senders.get(&id)
            && body.sequence <= s.sequence
        {
            return Err(BeaconRefusal::Replayed {
                sequence: body.sequence,
                last: s.sequence,
            });
        }
        let mut endpoints = Vec::with_capacity(body.endpoints.len() + 1);
        let ip = from.ip();
        if !(ip.is_unspecified() || ip.is_multicast()) {
            endpoints.push(Endpoint(SocketAddr::new(ip, body.port)));
        }
        for e in &body.endpoints {
            if !endpoints.contains(e) {
                endpoints.push(*e);
            }
        }
        if endpoints.is_empty() {
            return Err(BeaconRefusal::NoAddress);
        }
        self.make_room(&id);
        let dial = body.node_type == NodeType::Server
            && self.senders.get(&id).is_none_or(|s| now >= s.dial_after);
        let entry = self.senders.entry(id).or_insert(Sender {
            sequence: body.sequence,
            heard: now,
            dial_after: now,
        });
        entry.sequence = body.sequence;
        entry.heard = now;
        if !dial {
            return Ok(None);
        }
        entry.dial_after = now.saturating_add_millis(REDIAL_INTERVAL_MS);
        // A new neighbour: it hears us soon, not an interval from now.
        let soonest = self.last_sent.map_or(now, |t| {
            t.saturating_add_millis(MIN_BEACON_INTERVAL_MS).max(now)
        });
        self.next_send = self.next_send.min(soonest);
        Ok(Some(HeardPeer {
            node_id: id,
            node_type: body.node_type,
            endpoints,
        }))
    }

    /// The dial of `peer` did not happen (no room for it): its next beacon
    /// may name it again.
    pub fn dial_skipped(&mut self, peer: &NodeId) {
        if let Some(s) = self.senders.get_mut(peer) {
            s.dial_after = s.heard;
        }
    }

    /// Senders remembered now.
    pub fn senders(&self) -> usize {
        self.senders.len()
    }

    /// Forgets the sender heard from longest ago when `id` is new and the
    /// memory is full.
    fn make_room(&mut self, id: &NodeId) {
        if self.senders.contains_key(id) || self.senders.len() < MAX_HEARD_SENDERS {
            return;
        }
        let oldest = self
            .senders
            .iter()
            .min_by_key(|(id, s)| (s.heard, **id))
            .map(|(id, _)| *id);
        if let Some(old) = oldest {
            self.senders.remove(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const T0: UnixMillis = UnixMillis(1_700_000_000_000);

    fn identity(seed: u64) -> Identity {
        Identity::generate(&mut StdRng::seed_from_u64(seed))
    }

    fn discovery(id: &Identity, node_type: NodeType) -> Discovery {
        Discovery::new(id.node_id(), node_type, 4500, Vec::new(), 5_000, T0)
    }

    fn from() -> SocketAddr {
        "192.168.7.2:4501".parse().unwrap()
    }

    fn never(_: &NodeId) -> bool {
        false
    }

    #[test]
    fn a_heard_beacon_names_its_sender_at_its_source_address() {
        let (a, b) = (identity(1), identity(2));
        let mut sender = Discovery::new(
            a.node_id(),
            NodeType::Server,
            4500,
            vec![Endpoint("10.0.0.1:4500".parse().unwrap())],
            5_000,
            T0,
        );
        let mut hearer = discovery(&b, NodeType::Server);
        let bytes = sender.poll_beacon(T0, &a).unwrap();
        let peer = hearer
            .handle_beacon(T0, from(), &bytes, never)
            .unwrap()
            .unwrap();
        assert_eq!(peer.node_id, a.node_id());
        assert_eq!(peer.node_type, NodeType::Server);
        assert_eq!(
            peer.endpoints,
            vec![
                Endpoint("192.168.7.2:4500".parse().unwrap()),
                Endpoint("10.0.0.1:4500".parse().unwrap())
            ]
        );
    }

    #[test]
    fn beacons_go_out_a_second_apart_at_start_then_at_the_interval() {
        let a = identity(1);
        let mut d = discovery(&a, NodeType::Server);
        let mut sent = Vec::new();
        let mut t = T0;
        while t.0 < T0.0 + 20_000 {
            if d.poll_beacon(t, &a).is_some() {
                sent.push(t.millis_since(T0));
            }
            t = t.saturating_add_millis(100);
        }
        assert_eq!(sent, vec![0, 1_000, 2_000, 7_000, 12_000, 17_000]);
        // Never faster than the minimum, whatever the interval asked.
        let mut d = Discovery::new(a.node_id(), NodeType::Server, 4500, vec![], 10, T0);
        assert!(d.poll_beacon(T0, &a).is_some());
        assert!(d.poll_beacon(T0.saturating_add_millis(999), &a).is_none());
        assert_eq!(
            d.poll_timeout(),
            Some(T0.saturating_add_millis(MIN_BEACON_INTERVAL_MS))
        );
    }

    #[test]
    fn a_new_server_heard_brings_our_next_beacon_forward_within_the_minimum() {
        let (a, b) = (identity(1), identity(2));
        let mut hearer = discovery(&b, NodeType::Server);
        let mut t = T0;
        for _ in 0..STARTUP_BEACONS {
            assert!(hearer.poll_beacon(t, &b).is_some());
            t = t.saturating_add_millis(MIN_BEACON_INTERVAL_MS);
        }
        let last = T0.saturating_add_millis(2_000);
        assert_eq!(
            hearer.poll_timeout(),
            Some(last.saturating_add_millis(5_000))
        );
        // Heard 300 ms after our last beacon: the answer waits for the
        // minimum interval.
        let heard = last.saturating_add_millis(300);
        let bytes = discovery(&a, NodeType::Server)
            .poll_beacon(heard, &a)
            .unwrap();
        assert!(
            hearer
                .handle_beacon(heard, from(), &bytes, never)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            hearer.poll_timeout(),
            Some(last.saturating_add_millis(MIN_BEACON_INTERVAL_MS))
        );
    }

    #[test]
    fn a_client_listens_but_sends_no_beacon_and_is_not_dialled() {
        let (a, b) = (identity(1), identity(2));
        let mut client = discovery(&a, NodeType::Client);
        assert_eq!(client.poll_timeout(), None);
        assert!(client.poll_beacon(T0, &a).is_none());
        // A client's beacon (some other implementation's) is taken but
        // names nobody to dial.
        let body = UnsignedBeacon {
            identity_key: a.identity_key(),
            node_type: NodeType::Client,
            port: 4500,
            endpoints: vec![],
            sequence: 1,
            time: T0,
        };
        let sig = a.sign(&body.signing_bytes());
        let bytes = encode_beacon(&body.with_signature(sig));
        let mut server = discovery(&b, NodeType::Server);
        assert_eq!(server.handle_beacon(T0, from(), &bytes, never), Ok(None));
    }

    #[test]
    fn a_forged_or_altered_beacon_is_refused() {
        let (a, b, mallory) = (identity(1), identity(2), identity(3));
        let mut sender = discovery(&a, NodeType::Server);
        let mut hearer = discovery(&b, NodeType::Server);
        let bytes = sender.poll_beacon(T0, &a).unwrap();
        let mut altered = decode_beacon(&bytes).unwrap();
        altered.body.port = 4600;
        assert!(matches!(
            hearer.handle_beacon(T0, from(), &encode_beacon(&altered), never),
            Err(BeaconRefusal::Invalid(BeaconError::Signature(_)))
        ));
        // Signed by someone else than the key it names.
        let body = UnsignedBeacon {
            identity_key: a.identity_key(),
            node_type: NodeType::Server,
            port: 4500,
            endpoints: vec![],
            sequence: T0.0 + 100,
            time: T0,
        };
        let sig = mallory.sign(&body.signing_bytes());
        let forged = encode_beacon(&body.with_signature(sig));
        assert!(matches!(
            hearer.handle_beacon(T0, from(), &forged, never),
            Err(BeaconRefusal::Invalid(BeaconError::Signature(_)))
        ));
        assert!(matches!(
            hearer.handle_beacon(T0, from(), b"garbage", never),
            Err(BeaconRefusal::Malformed(_))
        ));
        // Nothing was remembered of the forgeries.
        assert_eq!(hearer.senders(), 0);
    }

    #[test]
    fn our_own_beacon_looped_back_is_ignored() {
        let a = identity(1);
        let mut d = discovery(&a, NodeType::Server);
        let bytes = d.poll_beacon(T0, &a).unwrap();
        assert_eq!(
            d.handle_beacon(T0, from(), &bytes, never),
            Err(BeaconRefusal::Own)
        );
    }

    #[test]
    fn a_replayed_or_older_beacon_is_refused_and_a_sender_is_dialled_once_per_interval() {
        let (a, b) = (identity(1), identity(2));
        let mut sender = discovery(&a, NodeType::Server);
        let mut hearer = discovery(&b, NodeType::Server);
        let first = sender.poll_beacon(T0, &a).unwrap();
        let t1 = T0.saturating_add_millis(1_000);
        let second = sender.poll_beacon(t1, &a).unwrap();
        assert!(
            hearer
                .handle_beacon(T0, from(), &first, never)
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            hearer.handle_beacon(T0, from(), &first, never),
            Err(BeaconRefusal::Replayed { .. })
        ));
        // Newer, but the sender was dialled a second ago.
        assert_eq!(hearer.handle_beacon(t1, from(), &second, never), Ok(None));
        assert!(matches!(
            hearer.handle_beacon(t1, from(), &first, never),
            Err(BeaconRefusal::Replayed { sequence, last }) if sequence < last
        ));
        // Once the redial interval passed, its next beacon names it again.
        let later = T0.saturating_add_millis(REDIAL_INTERVAL_MS + 1_000);
        let third = sender.poll_beacon(later, &a).unwrap();
        assert!(
            hearer
                .handle_beacon(later, from(), &third, never)
                .unwrap()
                .is_some()
        );
        // A dial that did not happen is allowed again at the next beacon.
        hearer.dial_skipped(&a.node_id());
        let t = later.saturating_add_millis(5_000);
        let fourth = sender.poll_beacon(t, &a).unwrap();
        assert!(
            hearer
                .handle_beacon(t, from(), &fourth, never)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_beacon_from_a_far_clock_is_refused() {
        let (a, b) = (identity(1), identity(2));
        let far = T0.saturating_add_millis(MAX_CLOCK_SKEW_MS + 1);
        let mut sender = discovery(&a, NodeType::Server);
        let mut hearer = discovery(&b, NodeType::Server);
        let bytes = sender.poll_beacon(far, &a).unwrap();
        assert_eq!(
            hearer.handle_beacon(T0, from(), &bytes, never),
            Err(BeaconRefusal::Stale { sent: far })
        );
    }

    #[test]
    fn a_revoked_member_is_ignored() {
        let (a, b) = (identity(1), identity(2));
        let mut sender = discovery(&a, NodeType::Server);
        let mut hearer = discovery(&b, NodeType::Server);
        let bytes = sender.poll_beacon(T0, &a).unwrap();
        let revoked = a.node_id();
        assert_eq!(
            hearer.handle_beacon(T0, from(), &bytes, |id| *id == revoked),
            Err(BeaconRefusal::Revoked)
        );
    }

    #[test]
    fn processing_is_rate_limited_before_parsing() {
        let b = identity(2);
        let mut hearer = discovery(&b, NodeType::Server);
        for _ in 0..MAX_BEACONS_PER_SECOND {
            assert!(matches!(
                hearer.handle_beacon(T0, from(), b"x", never),
                Err(BeaconRefusal::Malformed(_))
            ));
        }
        assert_eq!(
            hearer.handle_beacon(T0.saturating_add_millis(999), from(), b"x", never),
            Err(BeaconRefusal::OverRate)
        );
        // The next second has a fresh budget.
        assert!(matches!(
            hearer.handle_beacon(T0.saturating_add_millis(1_000), from(), b"x", never),
            Err(BeaconRefusal::Malformed(_))
        ));
    }

    #[test]
    fn memory_of_senders_is_bounded_oldest_forgotten_first() {
        let b = identity(2);
        let mut hearer = discovery(&b, NodeType::Server);
        let first = identity(1000);
        let mut t = T0;
        for seed in 1000..1000 + MAX_HEARD_SENDERS as u64 + 1 {
            let id = identity(seed);
            let bytes = discovery(&id, NodeType::Server)
                .poll_beacon(T0, &id)
                .unwrap();
            // A new second for each, to stay within the processing budget.
            t = t.saturating_add_millis(1_000);
            hearer.handle_beacon(t, from(), &bytes, never).unwrap();
        }
        assert_eq!(hearer.senders(), MAX_HEARD_SENDERS);
        // The first sender was forgotten: its old beacon is taken again.
        let again = discovery(&first, NodeType::Server)
            .poll_beacon(T0, &first)
            .unwrap();
        assert!(
            hearer
                .handle_beacon(t, from(), &again, never)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_source_that_cannot_be_dialled_needs_an_endpoint() {
        let (a, b) = (identity(1), identity(2));
        let mut sender = discovery(&a, NodeType::Server);
        let mut hearer = discovery(&b, NodeType::Server);
        let bytes = sender.poll_beacon(T0, &a).unwrap();
        assert_eq!(
            hearer.handle_beacon(T0, "0.0.0.0:4501".parse().unwrap(), &bytes, never),
            Err(BeaconRefusal::NoAddress)
        );
    }
}
