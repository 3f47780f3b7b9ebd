//! The simulated network of whole nodes: the [`PeerNetwork`] and
//! [`Incoming`] ports over in-process channels, on tokio's virtual clock.
//!
//! A call takes the link's one-way latency (with jitter) each way. A lost
//! datagram is retransmitted as QUIC would after a probe timeout, so loss
//! delays a call; only when the delays add up past the request timeout does
//! the call fail. A call to a node that is down, cut off by a partition, or
//! never dialled at its current address times out. Bytes are counted from
//! the real encoded requests and answers, plus an estimate of the
//! QUIC/UDP/IP overhead per datagram and one acknowledgement each way.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use sha2::{Digest, Sha256};
use tacnode_domain::NodeId;
use tacnode_usecase::ports::{BoxFuture, CallError, Incoming, IncomingCall, PeerNetwork, Reply};
use tokio::sync::{mpsc, oneshot};

use crate::LinkModel;

/// Payload bytes one simulated datagram carries.
pub const DATAGRAM_PAYLOAD: usize = 1200;
/// QUIC short header, AEAD tag, UDP and IPv4 headers of one datagram.
pub const DATAGRAM_OVERHEAD: usize = 60;
/// An acknowledgement datagram (each direction of a call sends one).
pub const ACK_BYTES: u64 = 50;
/// Smallest retransmission timeout of a lost datagram, ms.
pub const MIN_RETRANSMIT_MS: u64 = 200;

/// Bytes on the wire of one frame of `len` bytes.
fn wire_bytes(len: usize) -> u64 {
    let framed = len.saturating_add(4);
    let datagrams = framed.div_ceil(DATAGRAM_PAYLOAD).max(1);
    u64::try_from(framed + datagrams * DATAGRAM_OVERHEAD).unwrap_or(u64::MAX)
}

struct Endpoint {
    id: NodeId,
    addr: SocketAddr,
    /// Bumped at every restart: calls made by an older incarnation fail.
    incarnation: u64,
    up: bool,
    inbox: Option<mpsc::UnboundedSender<IncomingCall>>,
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
    /// Pairs with an open connection (either may call the other without an
    /// address); dropped when either end goes down.
    connected: BTreeSet<(u32, u32)>,
    /// Bytes each node sent.
    sent: Vec<u64>,
    calls: u64,
    trace: Sha256,
}

/// Handle to the simulated network, shared by the scenario and every node.
#[derive(Clone)]
pub struct SimNet {
    world: Arc<Mutex<World>>,
    start: tokio::time::Instant,
}

impl SimNet {
    /// An empty network.
    pub fn new(link: LinkModel, loss: f64, request_timeout_ms: u64, rng: StdRng) -> SimNet {
        SimNet {
            world: Arc::new(Mutex::new(World {
                link,
                loss: loss.clamp(0.0, 0.95),
                request_timeout_ms,
                rng,
                endpoints: Vec::new(),
                by_id: HashMap::new(),
                connected: BTreeSet::new(),
                sent: Vec::new(),
                calls: 0,
                trace: Sha256::new(),
            })),
            start: tokio::time::Instant::now(),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds node `id` at `addr` (down until [`SimNet::attach`]); returns its index.
    pub fn add(&self, id: NodeId, addr: SocketAddr) -> u32 {
        let mut w = self.world();
        let index = u32::try_from(w.endpoints.len()).unwrap_or(u32::MAX);
        w.endpoints.push(Endpoint {
            id,
            addr,
            incarnation: 0,
            up: false,
            inbox: None,
        });
        w.sent.push(0);
        w.by_id.insert(id, index);
        index
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

    /// Takes node `index` down without a goodbye: its connections are gone
    /// (peers find out only when their calls time out) and its own calls fail.
    pub fn detach(&self, index: u32) {
        let mut w = self.world();
        if let Some(e) = w.endpoints.get_mut(index as usize) {
            e.up = false;
            e.inbox = None;
        }
        w.connected.retain(|(a, b)| *a != index && *b != index);
    }

    /// Splits the network into groups (`groups[i]` for node `i`).
    pub fn partition(&self, groups: Vec<u8>) {
        self.world().link.partition(groups);
    }

    /// Heals every partition.
    pub fn heal(&self) {
        self.world().link.heal();
    }

    /// Bytes sent so far by every node together.
    pub fn bytes_sent(&self) -> u64 {
        self.world().sent.iter().sum()
    }

    /// Calls made so far.
    pub fn calls(&self) -> u64 {
        self.world().calls
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

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// How one call will go, decided when it starts.
enum Plan {
    /// It reaches the peer after `there` ms; its answer takes `back` ms.
    Deliver {
        to: u32,
        there: u64,
        back: u64,
        inbox: mpsc::UnboundedSender<IncomingCall>,
        incarnation: u64,
    },
    /// No answer: fails after the request timeout.
    Lost(CallError),
}

impl World {
    /// One-way delay of a frame from `a` to `b`, with QUIC-like
    /// retransmission of lost datagrams; `None` when it would take longer
    /// than the request timeout.
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
        let mut rto = (3 * base).max(MIN_RETRANSMIT_MS);
        while self.loss > 0.0 && self.rng.random_bool(self.loss) {
            delay = delay.saturating_add(rto);
            rto = rto.saturating_mul(2);
            if delay > self.request_timeout_ms {
                break;
            }
        }
        delay
    }

    fn plan(&mut self, from: u32, incarnation: u64, peer: &NodeId, addrs: &[SocketAddr]) -> Plan {
        let me_up = self
            .endpoints
            .get(from as usize)
            .is_some_and(|e| e.up && e.incarnation == incarnation);
        if !me_up {
            return Plan::Lost(CallError::Closed);
        }
        let Some(&to) = self.by_id.get(peer) else {
            return Plan::Lost(CallError::Unreachable("no such node".into()));
        };
        let pair = (from.min(to), from.max(to));
        let Some(target) = self.endpoints.get(to as usize) else {
            return Plan::Lost(CallError::Unreachable("no such node".into()));
        };
        if !self.connected.contains(&pair) && !addrs.contains(&target.addr) {
            return Plan::Lost(CallError::Unreachable(
                "no address of the peer answers".into(),
            ));
        }
        let (Some(inbox), true) = (target.inbox.clone(), target.up) else {
            return Plan::Lost(CallError::Timeout);
        };
        let target_incarnation = target.incarnation;
        if self.link.partitioned(from, to) {
            return Plan::Lost(CallError::Timeout);
        }
        let there = self.one_way(from, to);
        let back = self.one_way(to, from);
        if there.saturating_add(back) > self.request_timeout_ms {
            return Plan::Lost(CallError::Timeout);
        }
        self.connected.insert(pair);
        Plan::Deliver {
            to,
            there,
            back,
            inbox,
            incarnation: target_incarnation,
        }
    }

    fn still_up(&self, index: u32, incarnation: u64) -> bool {
        self.endpoints
            .get(index as usize)
            .is_some_and(|e| e.up && e.incarnation == incarnation)
    }

    fn count(&mut self, from: u32, bytes: u64) {
        if let Some(s) = self.sent.get_mut(from as usize) {
            *s = s.saturating_add(bytes);
        }
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
        let (plan, timeout_ms) = {
            let mut w = self.net.world();
            w.calls += 1;
            let plan = w.plan(self.index, self.incarnation, &peer, addrs);
            let at = self.net.elapsed_ms();
            let mut line = Vec::with_capacity(64);
            line.extend_from_slice(&at.to_be_bytes());
            line.extend_from_slice(&self.index.to_be_bytes());
            line.extend_from_slice(peer.as_bytes());
            line.extend_from_slice(&(request.len() as u64).to_be_bytes());
            w.trace.update(&line);
            (plan, w.request_timeout_ms)
        };
        let timeout = Duration::from_millis(timeout_ms);
        let (to, there, back, inbox, target_incarnation) = match plan {
            Plan::Deliver {
                to,
                there,
                back,
                inbox,
                incarnation,
            } => (to, there, back, inbox, incarnation),
            Plan::Lost(CallError::Timeout) => {
                self.net
                    .world()
                    .count(self.index, wire_bytes(request.len()));
                tokio::time::sleep(timeout).await;
                return Err(CallError::Timeout);
            }
            Plan::Lost(e) => return Err(e),
        };
        self.net
            .world()
            .count(self.index, wire_bytes(request.len()) + ACK_BYTES);
        tokio::time::sleep(Duration::from_millis(there)).await;
        let waited = Duration::from_millis(there);
        let (reply_tx, reply_rx) = oneshot::channel();
        let call = IncomingCall {
            peer: self.net.world().endpoints[self.index as usize].id,
            remote: self.local,
            body: request,
            reply: Box::new(SimReply(reply_tx)),
        };
        let delivered =
            self.net.world().still_up(to, target_incarnation) && inbox.send(call).is_ok();
        if !delivered {
            tokio::time::sleep(timeout.saturating_sub(waited)).await;
            return Err(CallError::Timeout);
        }
        let began = tokio::time::Instant::now();
        let left = timeout.saturating_sub(waited + Duration::from_millis(back));
        let answer = match tokio::time::timeout(left, reply_rx).await {
            Ok(Ok(answer)) => answer,
            // The peer dropped the call: a live peer resets the stream; a
            // dead one never answers.
            Ok(Err(_)) => {
                if self.net.world().still_up(to, target_incarnation) {
                    tokio::time::sleep(Duration::from_millis(back)).await;
                    return Err(CallError::Unreachable("the peer reset the stream".into()));
                }
                let spent = waited + began.elapsed();
                tokio::time::sleep(timeout.saturating_sub(spent)).await;
                return Err(CallError::Timeout);
            }
            Err(_) => return Err(CallError::Timeout),
        };
        let answered = {
            let mut w = self.net.world();
            let up = w.still_up(to, target_incarnation);
            if up {
                w.count(to, wire_bytes(answer.len()) + ACK_BYTES);
            }
            up
        };
        if !answered {
            tokio::time::sleep(Duration::from_millis(back)).await;
            return Err(CallError::Timeout);
        }
        tokio::time::sleep(Duration::from_millis(back)).await;
        if !self.net.world().still_up(self.index, self.incarnation) {
            return Err(CallError::Closed);
        }
        Ok(answer)
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

    fn connected_peers(&self) -> Vec<NodeId> {
        let w = self.net.world();
        w.connected
            .iter()
            .filter_map(|(a, b)| {
                let other = if *a == self.index {
                    *b
                } else if *b == self.index {
                    *a
                } else {
                    return None;
                };
                w.endpoints.get(other as usize).map(|e| e.id)
            })
            .collect()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        // A clean stop: peers learn at once (QUIC's CONNECTION_CLOSE).
        let net = self.net.clone();
        let index = self.index;
        let incarnation = self.incarnation;
        Box::pin(async move {
            let mut w = net.world();
            if w.still_up(index, incarnation) {
                drop(w);
                net.detach(index);
            } else {
                w.connected.retain(|(a, b)| *a != index && *b != index);
            }
        })
    }
}
