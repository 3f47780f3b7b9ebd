//! The simulated network of whole nodes: the [`PeerNetwork`] and
//! [`Incoming`] ports over in-process channels, on tokio's virtual clock.
//!
//! A call takes the link's one-way latency (with jitter) each way. A lost
//! datagram is retransmitted as QUIC would after a probe timeout, so loss
//! delays a call; only when the delays add up past the request timeout does
//! the call fail. Bytes are counted from the real encoded requests and
//! answers, plus an estimate of the QUIC/UDP/IP overhead per datagram and
//! one acknowledgement each way, and every byte counted leaves through its
//! sender's [`Uplink`]: at a limited rate a frame waits behind what its
//! sender queued before it, then takes size / rate to serialise.
//!
//! Connections are modelled as QUIC keeps them: a node that dials a peer
//! keeps the connection and later calls use it without dialling. A peer
//! killed without goodbye leaves that connection behind ("stale"): calls on
//! it get no answer. While the peer is down, a call (or a dial) keeps
//! retransmitting until the request timeout; when the peer comes back
//! within that time, a dial completes, and a stale connection is ended by
//! the restarted peer's stateless reset (its reset key derives from its
//! identity, so the new process can reset the old connections;
//! [`SimNet::without_stateless_reset`] models a transport without that,
//! where a stale connection lingers until the idle timeout). A clean stop
//! closes its connections at once; a partition drops everything across it.
//!
//! An open connection carries QUIC keep-alives while it is idle (see
//! [`super::keepalive`]); they count towards the bytes sent (and apart, as
//! [`SimNet::keepalive_bytes`]) but take no uplink time. A connection whose
//! peer is gone (killed, stopped, or cut off by a partition) carries none:
//! the real one's live end probes it until its idle timeout.
//!
//! A call without a connection dials. A dial that finds nobody (the peer is
//! down, or a partition is in the way) fails after the handshake timeout,
//! and one to addresses that are not the peer's fails at once; either puts
//! the peer in the caller's [`DialBackoff`], as the transport does: until
//! the backoff ends, calls that would dial it fail at once, and the next
//! call after it dials again.
//!
//! A node can sit behind a NAT ([`SimNet::set_behind_nat`]): its calls
//! reach peers from its mapped address, and every dial to it, a
//! dial-back included, finds nobody (the NAT drops handshakes it did not
//! start); it is reached over the connections it opened, and by a dial
//! from a peer it itself dialled (or called) within the last
//! [`PINHOLE_MS`]: the NAT keeps one mapping for every destination
//! (endpoint-independent) and lets in what comes from a destination it
//! sent to, which is what hole punching relies on.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long a NAT lets a peer in after the node behind it last sent to
/// that peer (Linux conntrack keeps an unanswered UDP flow 30 s).
pub const PINHOLE_MS: u64 = 30_000;

use rand::RngExt;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use tacnode_domain::{
    Admission, ConnectionPath, IdentityKey, MemberCertificate, NodeId, NodeType, PeerConnection,
    UnixMillis,
};
use tacnode_usecase::ports::{BoxFuture, CallError, Incoming, IncomingCall, PeerNetwork, Reply};
use tokio::sync::{mpsc, oneshot};

use super::backoff::DialBackoff;
use super::keepalive::{KEEPALIVE_INTERVAL_MS, bytes_per_end, exchanges_due};
use super::uplink::Uplink;
use crate::LinkModel;

/// Payload bytes one simulated datagram carries.
pub const DATAGRAM_PAYLOAD: usize = 1200;
/// QUIC short header, AEAD tag, UDP and IPv4 headers of one datagram.
pub const DATAGRAM_OVERHEAD: usize = 60;
/// An acknowledgement datagram (each direction of a call sends one).
pub const ACK_BYTES: u64 = 50;
/// Smallest retransmission timeout of a lost datagram, ms.
pub const MIN_RETRANSMIT_MS: u64 = 200;
/// The first probe timeout in one-way latencies (about an RTT and a half,
/// as QUIC's initial PTO).
pub const PTO_LATENCIES: u64 = 3;
/// Highest loss rate the model takes (beyond it nothing would ever arrive).
pub const MAX_LOSS: f64 = 0.95;
/// A connection with no answer for this long is closed (the transport's
/// default idle timeout), ms.
pub const IDLE_TIMEOUT_MS: u64 = 60_000;
/// How long a replaced connection's open requests may still take before it
/// is closed (the transport's `MAX_REPLACED_DRAIN`), ms.
pub const REPLACED_DRAIN_MS: u64 = 1_000;
/// How long a dial may take before it fails (the transport's default
/// `handshake_timeout`, which the daemon keeps), ms.
pub const HANDSHAKE_TIMEOUT_MS: u64 = 5_000;
/// A connection no call used for this long closes (the daemon's default
/// `transport.linger_ms`): its keep-alives stop, and the next call dials.
pub const LINGER_MS: u64 = 120_000;
/// Bytes on the wire the dialling end sends for a QUIC handshake with
/// mutual TLS, as measured in the testbed (`wire_bytes_of_a_handshake`):
/// two 1,200-byte datagrams (its Initial, then its Handshake flight with
/// certificate, signature and Finished, both padded) and one of 118 bytes
/// after it, with 28 bytes of IPv4 and UDP header each.
pub const HANDSHAKE_DIALLER_BYTES: u64 = 2_600;
/// Bytes on the wire the answering end sends for that handshake (measured
/// likewise): one 1,200-byte datagram (Initial and Handshake flights), one
/// of 118 and one of 26 bytes, with their headers.
pub const HANDSHAKE_ANSWERER_BYTES: u64 = 1_430;
/// Bytes each end sends probing a new connection's path MTU when MTU
/// discovery is on (the LAN default): datagrams of 1,326, 1,389, 1,420 and
/// 1,452 bytes, measured in the testbed, with their headers.
pub const MTU_PROBE_BYTES: u64 = 5_700;
/// Bytes on the wire of the CONNECTION_CLOSE a node sends when it drops a
/// connection ([`PeerNetwork::forget`]): a short header, the frame with
/// its code and reason (`disconnect`), the AEAD tag, UDP and IPv4 headers.
pub const CLOSE_BYTES: u64 = 64;

/// The error of a dial that found nobody, as the QUIC adapter reports it
/// (`RequestError::Handshake` of a timed-out handshake).
const HANDSHAKE_TIMED_OUT: &str = "handshake failed: timed out";

/// The error of a call refused while its peer backs off, as the QUIC
/// adapter reports it (`RequestError::BackingOff`).
fn backing_off(retry_in_ms: u64) -> CallError {
    CallError::Unreachable(format!(
        "peer unreachable, retry in {:?}",
        Duration::from_millis(retry_in_ms)
    ))
}

/// Bytes on the wire of one frame of `len` bytes.
fn wire_bytes(len: usize) -> u64 {
    let framed = len.saturating_add(4);
    let datagrams = framed.div_ceil(DATAGRAM_PAYLOAD).max(1);
    u64::try_from(framed + datagrams * DATAGRAM_OVERHEAD).unwrap_or(u64::MAX)
}

struct Endpoint {
    id: NodeId,
    /// Its identity key (what a QUIC handshake authenticates).
    identity: IdentityKey,
    addr: SocketAddr,
    /// Bumped at every restart: calls made by an older incarnation fail.
    incarnation: u64,
    up: bool,
    /// Since when it is down (virtual ms).
    down_since: u64,
    inbox: Option<mpsc::UnboundedSender<IncomingCall>>,
    /// What it sends leaves through here.
    uplink: Uplink,
    /// Peers its current process failed to dial.
    backoff: DialBackoff,
    /// Who its handshakes admit (the node sets it, as over QUIC).
    admission: Arc<Admission>,
    /// The member certificate its handshakes present (closed networks).
    member: Option<MemberCertificate>,
    /// Behind a NAT: the address peers see its calls come from (the NAT's
    /// mapping, not `addr`), and nobody can dial it: the NAT drops every
    /// handshake it did not start, so it is reached only over the
    /// connections it opened.
    mapped: Option<SocketAddr>,
}

/// An open connection.
#[derive(Clone, Copy, Debug)]
struct Connection {
    /// The incarnations of its lower and higher end when it was made.
    incarnations: (u64, u64),
    /// Since when it has carried nothing but keep-alives (the keep-alives
    /// due before then are counted), or `None` once it carries nothing at
    /// all (an end is gone, or a partition cuts it).
    idle_since_ms: Option<u64>,
    /// When a call last used it: it closes [`World::linger_ms`] later.
    last_used_ms: u64,
}

/// Everything the simulated network knows; one lock, never held across an
/// `.await`.
pub(crate) struct World {
    link: LinkModel,
    loss: f64,
    request_timeout_ms: u64,
    rng: StdRng,
    endpoints: Vec<Endpoint>,
    by_id: HashMap<NodeId, u32>,
    /// NAT pinholes: (node behind a NAT, peer it sent to) → when.
    pinholes: HashMap<(u32, u32), u64>,
    /// Open connections: (lower index, higher index) → the incarnations of
    /// both ends when it was made. Either end calls the other on it without
    /// an address; it is stale once either end restarted.
    connected: BTreeMap<(u32, u32), Connection>,
    /// Whether a restarted node resets its old connections (see the module
    /// documentation).
    stateless_reset: bool,
    start: tokio::time::Instant,
    /// Woken whenever a connection is replaced by a new one between the
    /// same two nodes (one of them restarted and dialled).
    replaced: Arc<tokio::sync::Notify>,
    /// Bytes each node sent (keep-alives counted up to the last
    /// [`World::settle_keepalives`] and each connection's last call).
    sent: Vec<u64>,
    /// Of those, keep-alive bytes, every node together.
    keepalive_sent: u64,
    /// Connections unused this long close ([`LINGER_MS`] unless set; 0:
    /// never).
    linger_ms: u64,
    /// Keep-alive interval of idle connections ([`KEEPALIVE_INTERVAL_MS`]
    /// unless set; 0: none).
    keepalive_ms: u64,
    /// New connections probe their path MTU (see [`MTU_PROBE_BYTES`]).
    mtu_discovery: bool,
    /// Successful dials (each a handshake on the wire).
    handshakes: u64,
    /// Dials refused in the handshake (closed network, not admitted).
    refused_handshakes: u64,
    calls: u64,
    trace: Sha256,
    /// Every request delivered, as a global observer of the links sees it
    /// (only while [`SimNet::observe`] is on).
    observations: Option<Vec<Observation>>,
}

/// One request as an observer of every link sees it: when it left and when
/// it arrived, between which nodes, and its bytes (for the simulator's own
/// analysis: an adversary's view is what its attack reads of them).
#[derive(Clone, Debug)]
pub struct Observation {
    /// When the caller sent it, ms of virtual time since the network began.
    pub sent_ms: u64,
    /// When it reached the callee, ms likewise.
    pub at_ms: u64,
    /// The caller's index.
    pub from: u32,
    /// The callee's index.
    pub to: u32,
    /// The encoded request.
    pub request: Vec<u8>,
}

/// Handle to the simulated network, shared by the scenario and every node.
#[derive(Clone)]
pub struct SimNet {
    world: Arc<Mutex<World>>,
}

impl SimNet {
    /// Records every request delivered from now on (see
    /// [`SimNet::observations`]).
    pub fn observe(&self) {
        let mut w = self.world();
        if w.observations.is_none() {
            w.observations = Some(Vec::new());
        }
    }

    /// The requests delivered since [`SimNet::observe`], in order of
    /// arrival.
    pub fn observations(&self) -> Vec<Observation> {
        self.world().observations.clone().unwrap_or_default()
    }

    /// An empty network.
    pub fn new(link: LinkModel, loss: f64, request_timeout_ms: u64, rng: StdRng) -> SimNet {
        SimNet {
            world: Arc::new(Mutex::new(World {
                link,
                loss: loss.clamp(0.0, MAX_LOSS),
                request_timeout_ms,
                rng,
                endpoints: Vec::new(),
                by_id: HashMap::new(),
                connected: BTreeMap::new(),
                pinholes: HashMap::new(),
                stateless_reset: true,
                start: tokio::time::Instant::now(),
                replaced: Arc::new(tokio::sync::Notify::new()),
                sent: Vec::new(),
                keepalive_sent: 0,
                linger_ms: LINGER_MS,
                keepalive_ms: KEEPALIVE_INTERVAL_MS,
                mtu_discovery: true,
                handshakes: 0,
                refused_handshakes: 0,
                calls: 0,
                trace: Sha256::new(),
                observations: None,
            })),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds the node of `identity` at `addr` (down until [`SimNet::attach`]);
    /// returns its index.
    pub fn add(&self, identity: IdentityKey, addr: SocketAddr) -> u32 {
        let id = NodeId::from_identity(&identity);
        let mut w = self.world();
        let index = u32::try_from(w.endpoints.len()).unwrap_or(u32::MAX);
        let uplink = Uplink::new(w.link.uplink_bps);
        w.endpoints.push(Endpoint {
            id,
            identity,
            addr,
            incarnation: 0,
            up: false,
            down_since: 0,
            inbox: None,
            uplink,
            backoff: DialBackoff::default(),
            admission: Arc::new(Admission::Open),
            member: None,
            mapped: None,
        });
        w.sent.push(0);
        w.by_id.insert(id, index);
        index
    }

    /// The member certificate node `index` presents in its handshakes from
    /// now on (closed networks; the harness sets it from the node's config).
    pub fn set_member(&self, index: u32, member: Option<MemberCertificate>) {
        if let Some(e) = self.world().endpoints.get_mut(index as usize) {
            e.member = member;
        }
    }

    /// Puts node `index` behind a NAT that maps it to `mapped` (`None`:
    /// public again): its calls come from `mapped`, and dials to it fail
    /// as a NAT drops handshakes it did not start.
    pub fn set_behind_nat(&self, index: u32, mapped: Option<SocketAddr>) {
        if let Some(e) = self.world().endpoints.get_mut(index as usize) {
            e.mapped = mapped;
        }
    }

    /// Handshakes refused because one end did not admit the other.
    pub fn refused_handshakes(&self) -> u64 {
        self.world().refused_handshakes
    }

    /// Brings node `index` up (again): the ports for its next incarnation.
    pub fn attach(&self, index: u32) -> (Arc<dyn PeerNetwork>, Box<dyn Incoming>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut w = self.world();
        let (incarnation, local) = match w.endpoints.get_mut(index as usize) {
            Some(e) => {
                e.incarnation += 1;
                e.up = true;
                e.inbox = Some(tx);
                // A new process: the transport's backoff table starts empty.
                e.backoff = DialBackoff::default();
                (e.incarnation, e.addr)
            }
            None => (0, SocketAddr::from(([0, 0, 0, 0], 0))),
        };
        let port = SimPort {
            net: self.clone(),
            index,
            incarnation,
            local,
        };
        (Arc::new(port), Box::new(SimIncoming(rx)))
    }

    /// Takes node `index` down without a goodbye (`kill -9`): its own calls
    /// fail, and peers find out only when their calls on the connections it
    /// left behind go unanswered.
    pub fn detach(&self, index: u32) {
        let mut w = self.world();
        let now = w.now_ms();
        if let Some(e) = w.endpoints.get_mut(index as usize) {
            e.up = false;
            e.down_since = now;
            e.inbox = None;
        }
        let ends: Vec<(u32, u32)> = w
            .connected
            .keys()
            .filter(|(a, b)| *a == index || *b == index)
            .copied()
            .collect();
        for key in ends {
            w.silence(key);
        }
    }

    /// Sets node `index`'s uplink rate, bits/s (`None`: unlimited); by
    /// default every node has the link model's
    /// [`LinkModel::uplink_bps`].
    pub fn set_uplink(&self, index: u32, rate_bps: Option<u64>) {
        if let Some(e) = self.world().endpoints.get_mut(index as usize) {
            e.uplink.set_rate(rate_bps);
        }
    }

    /// Models a transport whose restarted process cannot reset its old
    /// connections: they linger until the idle timeout.
    pub fn without_stateless_reset(&self) {
        self.world().stateless_reset = false;
    }

    /// Splits the network into groups (`groups[i]` for node `i`).
    pub fn partition(&self, groups: Vec<u8>) {
        let mut w = self.world();
        w.link.partition(groups);
        for key in w.cut_connections() {
            w.silence(key);
        }
    }

    /// Heals every partition. Connections across it are gone: the idle
    /// timeout closed them while nothing got through (partitions here last
    /// longer than [`IDLE_TIMEOUT_MS`]), so the halves dial each other anew.
    pub fn heal(&self) {
        let mut w = self.world();
        for pair in w.cut_connections() {
            w.connected.remove(&pair);
        }
        w.link.heal();
    }

    /// Bytes sent so far by every node together, keep-alives included.
    pub fn bytes_sent(&self) -> u64 {
        let mut w = self.world();
        w.settle_keepalives();
        w.sent.iter().sum()
    }

    /// Keep-alive bytes sent so far by every node together.
    pub fn keepalive_bytes(&self) -> u64 {
        let mut w = self.world();
        w.settle_keepalives();
        w.keepalive_sent
    }

    /// Calls made so far.
    pub fn calls(&self) -> u64 {
        self.world().calls
    }

    /// Handshakes (successful dials) so far.
    pub fn handshakes(&self) -> u64 {
        self.world().handshakes
    }

    /// Connections no call used for `ms` close from now on (0: never), as
    /// the daemon's `transport.linger_ms`.
    pub fn set_linger_ms(&self, ms: u64) {
        self.world().linger_ms = ms;
    }

    /// Idle connections send keep-alives every `ms` from now on (0: none),
    /// as the daemon's `transport.keep_alive_ms`.
    pub fn set_keepalive_ms(&self, ms: u64) {
        let mut w = self.world();
        w.settle_keepalives();
        w.keepalive_ms = ms;
    }

    /// Whether new connections probe their path MTU from now on, as the
    /// daemon's `transport.mtu_discovery`.
    pub fn set_mtu_discovery(&self, on: bool) {
        self.world().mtu_discovery = on;
    }

    /// Calls time out after `ms` from now on, as the daemon's
    /// `transport.request_timeout_ms`.
    pub fn set_request_timeout_ms(&self, ms: u64) {
        self.world().request_timeout_ms = ms;
    }

    /// Feeds `bytes` into the run's trace.
    pub fn trace(&self, bytes: &[u8]) {
        self.world().trace.update(bytes);
    }

    /// The hash of everything traced so far (every call and every event the
    /// scenario recorded): the same seed gives the same hash.
    pub fn trace_hash(&self) -> String {
        let digest = self.world().trace.clone().finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// How one call will go, decided when it starts.
enum Plan {
    /// It reaches the peer after `there` ms; its answer takes `back` ms.
    Deliver(Route),
    /// The peer is down (or a stale connection leads nowhere): retransmit
    /// until it comes back or the request times out.
    Wait { to: u32, stale: bool },
    /// No answer at all: fails after the request timeout, or after the
    /// handshake timeout when it was a dial.
    Silent { to: u32, dial: bool },
    /// Fails at once.
    Fail(CallError),
}

/// A call that reaches its peer.
struct Route {
    to: u32,
    there: u64,
    back: u64,
    inbox: mpsc::UnboundedSender<IncomingCall>,
    incarnation: u64,
}

/// What a waiting call finds at one of its retransmissions.
enum Retransmit {
    /// Still nobody there.
    Nothing,
    /// The peer is back: the call goes through.
    Through(Route),
    /// The restarted peer reset the stale connection.
    Reset,
    /// The peer is there but one end did not admit the other.
    Refused,
}

/// Why a dial between a member and a non-member (or a revoked member) of a
/// closed network fails.
const HANDSHAKE_REFUSED: &str = "handshake refused: not admitted to the closed network";
/// The error of a call on a connection this node dropped meanwhile.
const CONNECTION_CLOSED: &str = "connection lost: closed";

impl World {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// One-way delay of a frame from `a` to `b`, with QUIC-like
    /// retransmission of lost datagrams.
    fn one_way(&mut self, a: u32, b: u32) -> u64 {
        let base = self.link.base_latency(a, b);
        // Truncation to whole milliseconds is intended.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let jitter = (base as f64 * self.link.jitter * self.rng.random::<f64>()) as u64;
        let mut delay = base + jitter;
        let mut rto = (PTO_LATENCIES * base).max(MIN_RETRANSMIT_MS);
        while self.loss > 0.0 && self.rng.random_bool(self.loss) {
            delay = delay.saturating_add(rto);
            rto = rto.saturating_mul(2);
            if delay > self.request_timeout_ms {
                break;
            }
        }
        delay
    }

    /// The open connections the partition cuts.
    fn cut_connections(&self) -> Vec<(u32, u32)> {
        self.connected
            .keys()
            .filter(|(a, b)| self.link.partitioned(*a, *b))
            .copied()
            .collect()
    }

    fn incarnation(&self, index: u32) -> u64 {
        self.endpoints
            .get(index as usize)
            .map_or(0, |e| e.incarnation)
    }

    /// The connection between `from` (at `incarnation`) and `to`, if `from`
    /// made or accepted it in this life; `Some(true)` when it is stale.
    fn connection(&mut self, from: u32, incarnation: u64, to: u32) -> Option<bool> {
        let key = (from.min(to), from.max(to));
        let c = *self.connected.get(&key)?;
        if self.linger_ms > 0 && self.now_ms() >= c.last_used_ms.saturating_add(self.linger_ms) {
            // Unused for the linger time: closed (its keep-alives stopped
            // then); this call dials anew.
            self.settle(key, c.last_used_ms.saturating_add(self.linger_ms));
            self.connected.remove(&key);
            return None;
        }
        let (lo, hi) = c.incarnations;
        let (mine, theirs) = if from <= to { (lo, hi) } else { (hi, lo) };
        if mine != incarnation {
            // Left over from our own previous life: we dial anew, and the
            // new connection replaces it.
            return None;
        }
        let target = self.endpoints.get(to as usize)?;
        let stale = theirs != target.incarnation || !target.up;
        if stale && !self.stateless_reset && !target.up {
            let idle = self.now_ms().saturating_sub(target.down_since);
            if idle >= IDLE_TIMEOUT_MS {
                self.connected.remove(&key);
                return None;
            }
        }
        Some(stale)
    }

    fn connect(&mut self, a: u32, b: u32) {
        let (lo, hi) = (a.min(b), a.max(b));
        let incarnations = (self.incarnation(lo), self.incarnation(hi));
        let now = self.now_ms();
        let key = (lo, hi);
        let old = self.connected.get(&key).map(|c| c.incarnations);
        // The keep-alives of its idle time so far; from now it carries a call.
        self.silence(key);
        self.connected.insert(
            key,
            Connection {
                incarnations,
                idle_since_ms: Some(now),
                last_used_ms: now,
            },
        );
        if old.is_some_and(|o| o != incarnations) {
            self.replaced.notify_waiters();
        }
    }

    /// Counts the keep-alives connection `key` sent while idle until now,
    /// and makes it send no more (until a call uses it).
    fn silence(&mut self, key: (u32, u32)) {
        let now = self.now_ms();
        self.settle(key, now);
        if let Some(c) = self.connected.get_mut(&key) {
            c.idle_since_ms = None;
        }
    }

    /// Counts the keep-alives due on connection `key` by `until_ms`.
    fn settle(&mut self, key: (u32, u32), until_ms: u64) {
        let Some(c) = self.connected.get(&key) else {
            return;
        };
        let Some(since) = c.idle_since_ms else {
            return;
        };
        // No keep-alives once it closed for want of use.
        let until_ms = if self.linger_ms > 0 {
            until_ms.min(c.last_used_ms.saturating_add(self.linger_ms))
        } else {
            until_ms
        };
        if self.keepalive_ms == 0 {
            return;
        }
        let period = self.keepalive_ms + self.link.base_latency(key.0, key.1);
        let (due, next) = exchanges_due(since, until_ms, period);
        if let Some(c) = self.connected.get_mut(&key) {
            c.idle_since_ms = Some(next);
        }
        if due == 0 {
            return;
        }
        let (lo, hi) = bytes_per_end(due);
        for (end, bytes) in [(key.0, lo), (key.1, hi)] {
            if let Some(s) = self.sent.get_mut(end as usize) {
                *s = s.saturating_add(bytes);
            }
        }
        self.keepalive_sent = self.keepalive_sent.saturating_add(lo + hi);
    }

    /// Counts the keep-alives due on every connection until now.
    fn settle_keepalives(&mut self) {
        let now = self.now_ms();
        let idle: Vec<(u32, u32)> = self
            .connected
            .iter()
            .filter(|(_, c)| c.idle_since_ms.is_some())
            .map(|(k, _)| *k)
            .collect();
        for key in idle {
            self.settle(key, now);
        }
    }

    /// Whether the connection between `a` and `b` is one both their
    /// current processes made.
    fn fresh(&self, a: u32, b: u32) -> bool {
        let (lo, hi) = (a.min(b), a.max(b));
        self.connected.get(&(lo, hi)).is_some_and(|c| {
            c.incarnations == (self.incarnation(lo), self.incarnation(hi))
                && self.endpoints.get(lo as usize).is_some_and(|e| e.up)
                && self.endpoints.get(hi as usize).is_some_and(|e| e.up)
        })
    }

    fn route(&mut self, from: u32, to: u32) -> Option<Route> {
        let target = self.endpoints.get(to as usize)?;
        if !target.up {
            return None;
        }
        let inbox = target.inbox.clone()?;
        let incarnation = target.incarnation;
        let there = self.one_way(from, to);
        let back = self.one_way(to, from);
        self.connect(from, to);
        Some(Route {
            to,
            there,
            back,
            inbox,
            incarnation,
        })
    }

    fn plan(&mut self, from: u32, incarnation: u64, peer: &NodeId, addrs: &[SocketAddr]) -> Plan {
        if !self.still_up(from, incarnation) {
            return Plan::Fail(CallError::Closed);
        }
        let Some(&to) = self.by_id.get(peer) else {
            return Plan::Fail(CallError::Unreachable("no such node".into()));
        };
        let Some(addr) = self.endpoints.get(to as usize).map(|e| e.addr) else {
            return Plan::Fail(CallError::Unreachable("no such node".into()));
        };
        let connection = self.connection(from, incarnation, to);
        let dial = connection.is_none();
        if dial {
            let now = self.now_ms();
            if let Some(left) = self
                .endpoints
                .get(from as usize)
                .and_then(|e| e.backoff.remaining_ms(to, now))
            {
                return Plan::Fail(backing_off(left));
            }
            let mapped = self.endpoints.get(to as usize).and_then(|e| e.mapped);
            if !addrs.contains(&addr) && !mapped.is_some_and(|m| addrs.contains(&m)) {
                if !addrs.is_empty() {
                    self.dial_failed(from, to);
                }
                return Plan::Fail(CallError::Unreachable(
                    "no address of the peer answers".into(),
                ));
            }
        }
        let now = self.now_ms();
        if self.behind_nat(from) {
            // What it sends opens its NAT to that peer, a dial that finds
            // nobody included.
            self.pinholes.insert((from, to), now);
        }
        let let_in = self
            .pinholes
            .get(&(to, from))
            .is_some_and(|t| now.saturating_sub(*t) <= PINHOLE_MS);
        if self.link.partitioned(from, to) || dial && self.behind_nat(to) && !let_in {
            // Nothing gets through; behind a NAT, the NAT drops the
            // handshake.
            return Plan::Silent { to, dial };
        }
        let up = self.endpoints.get(to as usize).is_some_and(|e| e.up);
        match connection {
            Some(true) if up && self.stateless_reset => {
                // The restarted peer answers the old connection with a reset.
                let key = (from.min(to), from.max(to));
                self.connected.remove(&key);
                Plan::Fail(CallError::Unreachable(
                    "connection reset by the restarted peer".into(),
                ))
            }
            Some(true) => Plan::Wait { to, stale: true },
            _ if !up => Plan::Wait { to, stale: false },
            _ if dial && !self.admits(from, to) => {
                // The TLS verifiers of a closed network: each end checks
                // the other's member certificate; the dial fails.
                self.refuse_handshake(from, to);
                Plan::Fail(CallError::Unreachable(HANDSHAKE_REFUSED.into()))
            }
            _ => match self.route(from, to) {
                Some(route) => {
                    if dial {
                        self.dial_succeeded(from, to);
                        let probes = if self.mtu_discovery {
                            MTU_PROBE_BYTES
                        } else {
                            0
                        };
                        self.transmit(from, HANDSHAKE_DIALLER_BYTES + probes);
                        self.transmit(to, HANDSHAKE_ANSWERER_BYTES + probes);
                        self.handshakes = self.handshakes.saturating_add(1);
                    }
                    Plan::Deliver(route)
                }
                None => Plan::Wait { to, stale: false },
            },
        }
    }

    /// Whether node `index` sits behind a NAT.
    fn behind_nat(&self, index: u32) -> bool {
        self.endpoints
            .get(index as usize)
            .is_some_and(|e| e.mapped.is_some())
    }

    /// The address node `index`'s calls come from, as its peers see it.
    fn seen_at(&self, index: u32) -> Option<SocketAddr> {
        self.endpoints
            .get(index as usize)
            .map(|e| e.mapped.unwrap_or(e.addr))
    }

    /// Whether `from` and `to` admit each other in a handshake now.
    fn admits(&self, from: u32, to: u32) -> bool {
        let now = UnixMillis(crate::EPOCH_MS.saturating_add(self.now_ms()));
        let (Some(a), Some(b)) = (
            self.endpoints.get(from as usize),
            self.endpoints.get(to as usize),
        ) else {
            return false;
        };
        let admits = |host: &Endpoint, guest: &Endpoint| {
            host.admission
                .admit(
                    guest.member.as_ref(),
                    &guest.identity,
                    NodeType::Client,
                    now,
                )
                .is_ok()
        };
        admits(a, b) && admits(b, a)
    }

    /// At a retransmission of a waiting call from `from` to `to`.
    fn retransmit(&mut self, from: u32, to: u32, stale: bool) -> Retransmit {
        if self.link.partitioned(from, to) {
            return Retransmit::Nothing;
        }
        let up = self.endpoints.get(to as usize).is_some_and(|e| e.up);
        if !up {
            return Retransmit::Nothing;
        }
        if stale {
            if self.stateless_reset {
                self.connected.remove(&(from.min(to), from.max(to)));
                return Retransmit::Reset;
            }
            return Retransmit::Nothing;
        }
        if self.behind_nat(to) {
            return Retransmit::Nothing;
        }
        if !self.admits(from, to) {
            self.refuse_handshake(from, to);
            return Retransmit::Refused;
        }
        match self.route(from, to) {
            Some(route) => {
                self.dial_succeeded(from, to);
                Retransmit::Through(route)
            }
            None => Retransmit::Nothing,
        }
    }

    /// A dial from `from` that `to` (or `from` itself) does not admit: the
    /// handshake's bytes are spent, the dial fails and backs off.
    fn refuse_handshake(&mut self, from: u32, to: u32) {
        self.transmit(from, HANDSHAKE_DIALLER_BYTES);
        self.transmit(to, HANDSHAKE_ANSWERER_BYTES);
        self.refused_handshakes = self.refused_handshakes.saturating_add(1);
        self.dial_failed(from, to);
    }

    /// `from`'s dial to `to` failed now: `to` backs off, and the error the
    /// call fails with. Dials that were waiting together fail together,
    /// as they would behind the transport's dial lock: only the first
    /// counts, the others find the backoff it started.
    fn dial_failed(&mut self, from: u32, to: u32) -> CallError {
        let now = self.now_ms();
        let Some(e) = self.endpoints.get_mut(from as usize) else {
            return CallError::Closed;
        };
        if let Some(left) = e.backoff.remaining_ms(to, now) {
            return backing_off(left);
        }
        e.backoff.failed(to, now, &mut self.rng);
        CallError::Unreachable(HANDSHAKE_TIMED_OUT.into())
    }

    fn dial_succeeded(&mut self, from: u32, to: u32) {
        if let Some(e) = self.endpoints.get_mut(from as usize) {
            e.backoff.succeeded(to);
        }
    }

    fn still_up(&self, index: u32, incarnation: u64) -> bool {
        self.endpoints
            .get(index as usize)
            .is_some_and(|e| e.up && e.incarnation == incarnation)
    }

    /// Counts `bytes` sent by `from` and queues them on its uplink; returns
    /// how long until their last bit has left.
    fn transmit(&mut self, from: u32, bytes: u64) -> Duration {
        if let Some(s) = self.sent.get_mut(from as usize) {
            *s = s.saturating_add(bytes);
        }
        let now = self.now_us();
        let queued = self
            .endpoints
            .get_mut(from as usize)
            .map_or(0, |e| e.uplink.send(now, bytes));
        Duration::from_micros(queued)
    }
}

/// One node's network port (one incarnation of it).
struct SimPort {
    net: SimNet,
    index: u32,
    incarnation: u64,
    local: SocketAddr,
}

struct SimReply(oneshot::Sender<Vec<u8>>);

impl Reply for SimReply {
    fn send(self: Box<Self>, answer: Vec<u8>) -> BoxFuture<'static, Result<(), String>> {
        let sent = self
            .0
            .send(answer)
            .map_err(|_| "the caller is gone".to_owned());
        Box::pin(async move { sent })
    }
}

struct SimIncoming(mpsc::UnboundedReceiver<IncomingCall>);

impl Incoming for SimIncoming {
    fn next(&mut self) -> BoxFuture<'_, Option<IncomingCall>> {
        Box::pin(self.0.recv())
    }
}

impl SimPort {
    async fn call_inner(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        request: Vec<u8>,
    ) -> Result<Vec<u8>, CallError> {
        let began = tokio::time::Instant::now();
        let (plan, timeout_ms) = {
            let mut w = self.net.world();
            w.calls += 1;
            let plan = w.plan(self.index, self.incarnation, &peer, addrs);
            let mut line = Vec::with_capacity(64);
            line.extend_from_slice(&w.now_ms().to_be_bytes());
            line.extend_from_slice(&self.index.to_be_bytes());
            line.extend_from_slice(peer.as_bytes());
            line.extend_from_slice(&(request.len() as u64).to_be_bytes());
            w.trace.update(&line);
            (plan, w.request_timeout_ms)
        };
        let timeout = Duration::from_millis(timeout_ms);
        let route = match plan {
            Plan::Deliver(route) => route,
            Plan::Fail(e) => return Err(e),
            Plan::Silent { to, dial } => {
                self.net
                    .world()
                    .transmit(self.index, wire_bytes(request.len()));
                if dial {
                    tokio::time::sleep(Duration::from_millis(HANDSHAKE_TIMEOUT_MS)).await;
                    return Err(self.dial_failed(to));
                }
                tokio::time::sleep(timeout).await;
                return Err(CallError::Timeout);
            }
            Plan::Wait { to, stale } => {
                self.net
                    .world()
                    .transmit(self.index, wire_bytes(request.len()));
                self.wait_for(to, stale, began, timeout).await?
            }
        };
        self.deliver(route, request, began, timeout).await
    }

    /// Our dial to `to` failed: the error, after recording the failure in
    /// this process's backoff (unless the process has ended meanwhile).
    fn dial_failed(&self, to: u32) -> CallError {
        let mut w = self.net.world();
        if !w.still_up(self.index, self.incarnation) {
            return CallError::Closed;
        }
        w.dial_failed(self.index, to)
    }

    /// Retransmits (probe timeouts doubling from [`MIN_RETRANSMIT_MS`])
    /// until the peer is back or the request times out; a dial (a wait
    /// without a stale connection) gives up at the handshake timeout.
    async fn wait_for(
        &self,
        to: u32,
        stale: bool,
        began: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<Route, CallError> {
        let (base, replaced) = {
            let w = self.net.world();
            (w.link.base_latency(self.index, to), w.replaced.clone())
        };
        let mut pto = Duration::from_millis((PTO_LATENCIES * base).max(MIN_RETRANSMIT_MS));
        let mut deadline = began + pto;
        let end = if stale {
            began + timeout
        } else {
            began + timeout.min(Duration::from_millis(HANDSHAKE_TIMEOUT_MS))
        };
        loop {
            let notified = replaced.notified();
            tokio::select! {
                biased;
                () = notified, if stale => {
                    // The peer's new process dialled us: the transport
                    // closes the old connection once its streams drained.
                    let (fresh, gone) = {
                        let w = self.net.world();
                        let key = (self.index.min(to), self.index.max(to));
                        (w.fresh(self.index, to), !w.connected.contains_key(&key))
                    };
                    if fresh {
                        let drain = Duration::from_millis(REPLACED_DRAIN_MS);
                        tokio::time::sleep_until(end.min(tokio::time::Instant::now() + drain)).await;
                        return Err(CallError::Unreachable("connection replaced by the restarted peer".into()));
                    }
                    if gone {
                        // Dropped by this node (`forget`): a call on a
                        // closed connection fails at once.
                        return Err(CallError::Unreachable(CONNECTION_CLOSED.into()));
                    }
                    continue;
                }
                () = tokio::time::sleep_until(deadline.min(end)) => {}
            }
            if deadline >= end {
                if !stale {
                    return Err(self.dial_failed(to));
                }
                return Err(CallError::Timeout);
            }
            pto = pto.saturating_mul(2);
            deadline += pto;
            let found = {
                let mut w = self.net.world();
                if !w.still_up(self.index, self.incarnation) {
                    return Err(CallError::Closed);
                }
                w.retransmit(self.index, to, stale)
            };
            match found {
                Retransmit::Nothing => {}
                Retransmit::Through(route) => return Ok(route),
                Retransmit::Refused => {
                    return Err(CallError::Unreachable(HANDSHAKE_REFUSED.into()));
                }
                Retransmit::Reset => {
                    let rtt = Duration::from_millis(base.saturating_mul(2));
                    tokio::time::sleep(rtt).await;
                    return Err(CallError::Unreachable(
                        "connection reset by the restarted peer".into(),
                    ));
                }
            }
        }
    }

    async fn deliver(
        &self,
        route: Route,
        request: Vec<u8>,
        began: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<Vec<u8>, CallError> {
        let Route {
            to,
            there,
            back,
            inbox,
            incarnation: target_incarnation,
        } = route;
        let left = |spent: Duration| timeout.saturating_sub(spent);
        let queued = self
            .net
            .world()
            .transmit(self.index, wire_bytes(request.len()) + ACK_BYTES);
        let there = queued + Duration::from_millis(there);
        let back = Duration::from_millis(back);
        if began.elapsed() + there + back > timeout {
            tokio::time::sleep(left(began.elapsed())).await;
            return Err(CallError::Timeout);
        }
        tokio::time::sleep(there).await;
        let (reply_tx, reply_rx) = oneshot::channel();
        let Some((me, my_identity, remote)) = ({
            let w = self.net.world();
            w.endpoints
                .get(self.index as usize)
                .map(|e| (e.id, e.identity, e.mapped.unwrap_or(e.addr)))
        }) else {
            return Err(CallError::Closed);
        };
        let observed = self
            .net
            .world()
            .observations
            .is_some()
            .then(|| request.clone());
        let call = IncomingCall {
            peer: me,
            peer_identity: my_identity,
            remote,
            body: request,
            reply: Box::new(SimReply(reply_tx)),
        };
        let delivered =
            self.net.world().still_up(to, target_incarnation) && inbox.send(call).is_ok();
        if delivered && let Some(request) = observed {
            let mut w = self.net.world();
            let sent_ms = u64::try_from(began.saturating_duration_since(w.start).as_millis())
                .unwrap_or(u64::MAX);
            let at_ms = w.now_ms();
            let from = self.index;
            if let Some(list) = w.observations.as_mut() {
                list.push(Observation {
                    sent_ms,
                    at_ms,
                    from,
                    to,
                    request,
                });
            }
        }
        if !delivered {
            tokio::time::sleep(left(began.elapsed())).await;
            return Err(CallError::Timeout);
        }
        let answer = match tokio::time::timeout(left(began.elapsed() + back), reply_rx).await {
            Ok(Ok(answer)) => answer,
            // The peer dropped the call: a live peer resets the stream; a
            // dead one never answers.
            Ok(Err(_)) => {
                if self.net.world().still_up(to, target_incarnation) {
                    tokio::time::sleep(back).await;
                    return Err(CallError::Unreachable("the peer reset the stream".into()));
                }
                tokio::time::sleep(left(began.elapsed())).await;
                return Err(CallError::Timeout);
            }
            Err(_) => return Err(CallError::Timeout),
        };
        let answered = {
            let mut w = self.net.world();
            w.still_up(to, target_incarnation)
                .then(|| w.transmit(to, wire_bytes(answer.len()) + ACK_BYTES))
        };
        // The answer waits on the peer's uplink, then travels.
        let back = match answered {
            Some(queued) if began.elapsed() + queued + back <= timeout => queued + back,
            _ => {
                tokio::time::sleep(left(began.elapsed())).await;
                return Err(CallError::Timeout);
            }
        };
        tokio::time::sleep(back).await;
        if !self.net.world().still_up(self.index, self.incarnation) {
            return Err(CallError::Closed);
        }
        Ok(answer)
    }
}

impl SimPort {
    /// A handshake with `peer` at `address` on a new connection, closed
    /// at once: it costs a handshake's bytes and a round trip, and a NAT
    /// in front of the peer drops it (the new connection comes from
    /// another port, one the NAT never saw).
    async fn dial_back_inner(&self, peer: NodeId, address: SocketAddr) -> Result<(), CallError> {
        let outcome = {
            let mut w = self.net.world();
            if !w.still_up(self.index, self.incarnation) {
                return Err(CallError::Closed);
            }
            match w.by_id.get(&peer).copied() {
                Some(to)
                    if !w
                        .endpoints
                        .get(to as usize)
                        .is_some_and(|e| e.addr == address || e.mapped == Some(address)) =>
                {
                    // Whoever listens there (if anyone) is not the peer.
                    Err(None)
                }
                Some(to)
                    if w.endpoints.get(to as usize).is_some_and(|e| e.up)
                        && !w.link.partitioned(self.index, to)
                        && !w.behind_nat(to) =>
                {
                    if w.admits(self.index, to) {
                        w.transmit(self.index, HANDSHAKE_DIALLER_BYTES);
                        w.transmit(to, HANDSHAKE_ANSWERER_BYTES);
                        w.handshakes = w.handshakes.saturating_add(1);
                        let rtt = w.one_way(self.index, to) + w.one_way(to, self.index);
                        Ok(rtt)
                    } else {
                        w.transmit(self.index, HANDSHAKE_DIALLER_BYTES);
                        w.transmit(to, HANDSHAKE_ANSWERER_BYTES);
                        w.refused_handshakes = w.refused_handshakes.saturating_add(1);
                        Err(Some(CallError::Unreachable(HANDSHAKE_REFUSED.into())))
                    }
                }
                _ => {
                    // Nobody answers: the handshake times out.
                    w.transmit(self.index, HANDSHAKE_DIALLER_BYTES);
                    Err(None)
                }
            }
        };
        match outcome {
            Ok(rtt) => {
                tokio::time::sleep(Duration::from_millis(rtt)).await;
                Ok(())
            }
            Err(Some(e)) => Err(e),
            Err(None) => {
                tokio::time::sleep(Duration::from_millis(HANDSHAKE_TIMEOUT_MS)).await;
                Err(CallError::Unreachable(HANDSHAKE_TIMED_OUT.into()))
            }
        }
    }
}

impl PeerNetwork for SimPort {
    fn call<'a>(
        &'a self,
        peer: NodeId,
        addrs: &'a [SocketAddr],
        request: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, CallError>> {
        Box::pin(self.call_inner(peer, addrs, request))
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn dial_back(&self, peer: NodeId, address: SocketAddr) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(self.dial_back_inner(peer, address))
    }

    /// The simulated connections of this node; the round-trip time is
    /// twice the link's base latency (jitter and loss left out: what QUIC's
    /// smoothed estimate settles near).
    fn connections(&self) -> Vec<PeerConnection> {
        let w = self.net.world();
        w.connected
            .keys()
            .filter_map(|(a, b)| {
                let other = if *a == self.index {
                    *b
                } else if *b == self.index {
                    *a
                } else {
                    return None;
                };
                let e = w.endpoints.get(other as usize)?;
                Some(PeerConnection {
                    peer: e.id,
                    identity: e.identity,
                    remote: w.seen_at(other)?,
                    rtt: Duration::from_millis(w.link.base_latency(*a, *b).saturating_mul(2)),
                    path: ConnectionPath::Direct,
                })
            })
            .collect()
    }

    fn set_admission(&self, admission: Arc<Admission>) {
        let mut w = self.net.world();
        let index = self.index;
        let revoked: Vec<u32> = w
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| admission.is_revoked(&e.id))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        w.connected.retain(|(a, b), _| {
            !(*a == index && revoked.contains(b) || *b == index && revoked.contains(a))
        });
        if let Some(e) = w.endpoints.get_mut(index as usize) {
            e.admission = admission;
        }
    }

    /// Drops the connection to `peer` at both ends (the real one's
    /// CONNECTION_CLOSE reaches a live peer; a dead one never hears of it):
    /// the next call dials, and calls waiting on it fail at once.
    fn forget(&self, peer: NodeId) {
        let mut w = self.net.world();
        if !w.still_up(self.index, self.incarnation) {
            return;
        }
        let Some(&to) = w.by_id.get(&peer) else {
            return;
        };
        let key = (self.index.min(to), self.index.max(to));
        if !w.connected.contains_key(&key) {
            return;
        }
        // Its keep-alives until now are counted; it sends none after.
        w.silence(key);
        w.connected.remove(&key);
        w.transmit(self.index, CLOSE_BYTES);
        let mut line = Vec::with_capacity(48);
        line.extend_from_slice(&w.now_ms().to_be_bytes());
        line.extend_from_slice(b"forget");
        line.extend_from_slice(&self.index.to_be_bytes());
        line.extend_from_slice(&to.to_be_bytes());
        w.trace.update(&line);
        w.replaced.notify_waiters();
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        // A clean stop: peers learn at once (QUIC's CONNECTION_CLOSE).
        let net = self.net.clone();
        let index = self.index;
        let incarnation = self.incarnation;
        Box::pin(async move {
            let up = net.world().still_up(index, incarnation);
            if up {
                net.detach(index);
            }
            net.world()
                .connected
                .retain(|(a, b), _| *a != index && *b != index);
        })
    }
}
