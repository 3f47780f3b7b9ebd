//! The endpoint, its peer table, and the tasks that own the sockets.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, Weak};
use std::task::{Context, Waker};
use std::time::{Duration, SystemTime};

use quinn::{Connection, ConnectionError, VarInt};
use rustls::pki_types::CertificateDer;
use tacnode_crypto::{EndpointSecret, Identity};
use tacnode_domain::{Admission, ConnectionPath, IdentityKey, NodeId, PeerConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, trace};

use crate::admission_gate::AdmissionGate;
use crate::binding::bound_identity;
use crate::config::{
    MAX_BACKOFF_ENTRIES, MAX_LINKS_PER_PEER, MAX_REPLACED_DRAIN, MIN_CERTIFICATE_ROTATION_AGE,
    TransportConfig,
};
use crate::error::{RequestError, TransportError};
use crate::stream::{
    ActiveGuard, ActiveStreams, CODE_BAD_FRAME, CODE_TIMEOUT, CODE_UNAVAILABLE, Frame,
    ReadFrameError, Responder, read_frame,
};
use crate::tls::{QuicSetup, SERVER_NAME, rotation_wait};

/// A dialled connection counts as never confirmed once its acceptor's
/// handshake timeout and a `1 / CONFIRM_SLACK_DIVISOR` part of it more have
/// passed since our end finished the handshake (see [`confirm_deadline`]).
pub const CONFIRM_SLACK_DIVISOR: u32 = 2;

/// Longest time one dial keeps its slot of
/// [`TransportConfig::max_concurrent_dials`]: a handshake's first flights
/// are out by then even on a busy radio, and a dial to a peer that is gone
/// (it waits out the whole handshake timeout) does not hold the others up.
pub const DIAL_SLOT_HOLD: Duration = Duration::from_secs(2);

/// Connection close code: the transport is shutting down.
pub const CLOSE_SHUTDOWN: u32 = 0;
/// Connection close code: redundant connection after a simultaneous dial.
pub const CLOSE_DUPLICATE: u32 = 1;
/// Connection close code: closed on request of the local node.
pub const CLOSE_DISCONNECT: u32 = 2;
/// Connection close code: superseded by a newer connection made with another
/// certificate (a restarted peer, or either end replaced its certificate);
/// sent once the streams in progress on it have finished.
pub const CLOSE_REPLACED: u32 = 3;
/// Connection close code: too many connections from this peer.
pub const CLOSE_TOO_MANY: u32 = 4;
/// Connection close code: a connection we dialled whose acceptor never
/// confirmed it (see [`confirm_deadline`]).
pub const CLOSE_UNCONFIRMED: u32 = 6;
/// Connection close code: nothing used the connection for the linger time
/// (`TransportConfig::linger`); a request that raced the close is resent
/// once on a new connection.
pub const CLOSE_IDLE: u32 = 5;

/// Something a peer sent us.
#[derive(Debug)]
#[non_exhaustive]
pub enum InboundEvent {
    /// A request expecting one response through `reply`.
    Request {
        /// Authenticated sender.
        peer: NodeId,
        /// Its identity key (the certificate's binding; `peer` is its id).
        peer_identity: Box<IdentityKey>,
        /// Sender's socket address.
        remote: SocketAddr,
        /// Opaque request body.
        body: Vec<u8>,
        /// Where the response goes; dropping it refuses the request.
        reply: Responder,
    },
    /// A one-way message.
    Push {
        /// Authenticated sender.
        peer: NodeId,
        /// Sender's socket address.
        remote: SocketAddr,
        /// Opaque body.
        body: Vec<u8>,
    },
}

/// Receiver of [`InboundEvent`]s. Bounded: while it is full, peers'
/// streams wait (QUIC flow control pushes back on them).
#[derive(Debug)]
pub struct Inbound {
    rx: mpsc::Receiver<InboundEvent>,
}

impl Inbound {
    /// The next event; `None` once the transport is closed.
    pub async fn recv(&mut self) -> Option<InboundEvent> {
        self.rx.recv().await
    }
}

/// Handle to the node's QUIC endpoint. Cheap to clone; all clones drive the
/// same endpoint. Call [`Transport::close`] to shut it down.
#[derive(Clone, Debug)]
pub struct Transport {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    endpoint: quinn::Endpoint,
    local_id: NodeId,
    /// Signs the binding of every replacement certificate.
    identity: Identity,
    config: TransportConfig,
    /// Who the verifiers admit (closed networks).
    gate: AdmissionGate,
    /// The certificate new connections present, in both roles.
    local: RwLock<Arc<LocalCert>>,
    /// Set once [`Transport::close`] ran; ends the certificate timer.
    shutdown: watch::Sender<bool>,
    table: Mutex<PeerTable>,
    events: mpsc::Sender<InboundEvent>,
    handshakes: Arc<Semaphore>,
    /// Slots of our own dials (`TransportConfig::max_concurrent_dials`).
    dials: Arc<Semaphore>,
    buffer: Semaphore,
}

/// One generation of the local certificate: what dials and accepts started
/// while it is current present.
#[derive(Debug)]
struct LocalCert {
    setup: QuicSetup,
    server: Arc<quinn::ServerConfig>,
    /// SubjectPublicKeyInfo of the certificate key.
    session: Arc<[u8]>,
    issued: SystemTime,
}

impl LocalCert {
    /// A fresh certificate bound to `identity`, valid from `now`.
    fn issue(
        config: &TransportConfig,
        identity: &Identity,
        now: SystemTime,
        gate: AdmissionGate,
    ) -> Result<Self, TransportError> {
        let setup = QuicSetup::issued_at(config, identity, now, gate)?;
        let mut server = setup.server_config()?;
        server.max_incoming(config.max_concurrent_handshakes.saturating_mul(4).max(16));
        let cert = setup
            .certificate()
            .ok_or(TransportError::Config("no certificate made"))?;
        let (_, spki) = bound_identity(cert)
            .map_err(|_| TransportError::Config("generated certificate does not verify"))?;
        let session = Arc::from(spki);
        Ok(Self {
            setup,
            server: Arc::new(server),
            session,
            issued: now,
        })
    }
}

#[derive(Debug, Default)]
struct PeerTable {
    links: HashMap<NodeId, Vec<Link>>,
    dialing: HashMap<NodeId, Arc<tokio::sync::Mutex<()>>>,
    backoff: HashMap<NodeId, Backoff>,
    per_ip: HashMap<IpAddr, usize>,
    connections: usize,
    closing: bool,
}

#[derive(Debug, Clone, Copy)]
struct Backoff {
    failures: u32,
    until: Instant,
}

/// One live connection to an authenticated (or, for a fresh dial, about to
/// be confirmed) peer. Cheap to clone: the connection and one shared state.
#[derive(Debug, Clone)]
struct Link {
    conn: Connection,
    peer: NodeId,
    peer_identity: IdentityKey,
    state: Arc<LinkState>,
}

#[derive(Debug)]
struct LinkState {
    /// Whether the dialler of this connection is the higher node id: links
    /// dialled by the lower id win simultaneous-dial ties.
    dialled_by_higher: bool,
    /// Peer certificate public key; changes when the peer restarts or
    /// replaces its certificate.
    session: Box<[u8]>,
    /// Our certificate public key on this connection; changes when we
    /// replace our certificate.
    local_session: Arc<[u8]>,
    /// Both ends derive the same value from the TLS exporter: a shared,
    /// unpredictable tie-breaker between links that are otherwise equal.
    /// Derived on first use: only a peer with several links needs it.
    order: OnceLock<[u8; 16]>,
    authed: watch::Sender<bool>,
    active: Arc<ActiveStreams>,
    /// When our end finished the handshake.
    established: Instant,
    /// Set when a request gave this connection up as never confirmed: the
    /// other requests on it then fail as unconfirmed too (and dial once
    /// more), not as a lost connection.
    given_up: std::sync::atomic::AtomicBool,
}

impl Link {
    /// `cert` is the local certificate the connection was made with.
    fn from_connection(
        conn: Connection,
        local: NodeId,
        cert: &LocalCert,
        outbound: bool,
    ) -> Option<Self> {
        let certs = conn
            .peer_identity()?
            .downcast::<Vec<CertificateDer<'static>>>()
            .ok()?;
        let (peer_identity, spki) = bound_identity(certs.first()?).ok()?;
        let peer = NodeId::from_identity(&peer_identity);
        let dialer = if outbound { local } else { peer };
        let other = if outbound { peer } else { local };
        Some(Self {
            state: Arc::new(LinkState {
                dialled_by_higher: dialer > other,
                session: Box::from(spki),
                local_session: cert.session.clone(),
                order: OnceLock::new(),
                authed: watch::Sender::new(!outbound),
                active: Arc::default(),
                established: Instant::now(),
                given_up: std::sync::atomic::AtomicBool::new(false),
            }),
            conn,
            peer,
            peer_identity,
        })
    }

    fn is_live(&self) -> bool {
        self.conn.close_reason().is_none()
    }

    fn is_authed(&self) -> bool {
        *self.state.authed.borrow()
    }

    /// Marks the link confirmed by the peer; a no-op (no write lock, no
    /// wake-ups) once it is.
    fn confirm(&self) {
        if !self.is_authed() {
            self.state
                .authed
                .send_if_modified(|a| !std::mem::replace(a, true));
        }
    }

    /// Lower is preferred. Both ends compute the same key for a link.
    fn rank(&self) -> (bool, [u8; 16]) {
        let order = self.state.order.get_or_init(|| {
            let mut order = [0u8; 16];
            // Cannot fail once the handshake is complete, which it is for
            // every link.
            let _ = self
                .conn
                .export_keying_material(&mut order, b"tacnode-link-order", b"");
            order
        });
        (self.state.dialled_by_higher, *order)
    }
}

/// A peer's entry in the table of dials in progress, removed when its
/// dialler is done (unless a later dialler replaced it).
struct DialingEntry<'a> {
    shared: &'a Shared,
    peer: NodeId,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for DialingEntry<'_> {
    fn drop(&mut self) {
        let mut t = self.shared.table();
        if t.dialing
            .get(&self.peer)
            .is_some_and(|l| Arc::ptr_eq(l, &self.lock))
        {
            t.dialing.remove(&self.peer);
        }
    }
}

/// Reserved connection slot; releases its counters when dropped.
struct Slot {
    shared: Arc<Shared>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.shared.table();
        t.connections = t.connections.saturating_sub(1);
        if let Some(ip) = self.ip
            && let Some(n) = t.per_ip.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.per_ip.remove(&ip);
            }
        }
    }
}

fn validate(config: &TransportConfig) -> Result<(), TransportError> {
    if config.max_frame_len > config.inbound_buffer_bytes {
        return Err(TransportError::Config(
            "inbound_buffer_bytes must be at least max_frame_len",
        ));
    }
    if u32::try_from(config.inbound_buffer_bytes).is_err()
        || u32::try_from(config.max_frame_len).is_err()
    {
        return Err(TransportError::Config("buffer sizes must fit in 32 bits"));
    }
    if config.max_connections == 0
        || config.max_concurrent_handshakes == 0
        || config.max_concurrent_dials == 0
        || config.inbound_queue == 0
        || config.max_streams_per_connection == 0
    {
        return Err(TransportError::Config("limits must be positive"));
    }
    Ok(())
}

impl Transport {
    /// Binds the UDP socket, makes a fresh identity-bound certificate, and
    /// starts accepting. Must run inside a Tokio runtime.
    pub fn bind(
        config: TransportConfig,
        identity: &Identity,
    ) -> Result<(Transport, Inbound), TransportError> {
        validate(&config)?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| TransportError::NoRuntime)?;
        let gate = AdmissionGate::new(config.admission.clone());
        let local = LocalCert::issue(&config, identity, SystemTime::now(), gate.clone())?;
        let endpoint = {
            let _guard = runtime.enter();
            // The stateless-reset key derives from the identity: when this
            // node restarts, peers still holding a connection to its previous
            // process get a reset on their next packet instead of waiting
            // for the idle timeout. The connection-id checksum key derives
            // from the identity too,
            // or the new process would drop the old connection's packets as
            // junk instead of resetting it. Both are bound to the address
            // the socket is bound to.
            let socket = std::net::UdpSocket::bind(config.listen)?;
            let context = socket.local_addr()?.to_string();
            let derive = |purpose| {
                identity
                    .endpoint_secret(purpose, context.as_bytes())
                    .map_err(|_| TransportError::Config("cannot derive the endpoint keys"))
            };
            let reset = derive(EndpointSecret::StatelessReset)?;
            let checksum = derive(EndpointSecret::ConnectionIdChecksum)?;
            let connection_ids = crate::connection_id::ShortConnectionIds::new(checksum.as_slice());
            let mut endpoint_config = quinn::EndpointConfig::new(Arc::new(ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                reset.as_slice(),
            )));
            endpoint_config.cid_generator(move || Box::new(connection_ids.clone()));
            quinn::Endpoint::new(
                endpoint_config,
                Some((*local.server).clone()),
                socket,
                Arc::new(quinn::TokioRuntime),
            )?
        };
        let (events, rx) = mpsc::channel(config.inbound_queue);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            endpoint,
            local_id: identity.node_id(),
            identity: identity.clone(),
            gate,
            handshakes: Arc::new(Semaphore::new(config.max_concurrent_handshakes)),
            dials: Arc::new(Semaphore::new(config.max_concurrent_dials)),
            buffer: Semaphore::new(config.inbound_buffer_bytes),
            config,
            local: RwLock::new(Arc::new(local)),
            shutdown,
            table: Mutex::new(PeerTable::default()),
            events,
        });
        runtime.spawn(accept_loop(shared.clone()));
        runtime.spawn(certificate_timer(Arc::downgrade(&shared), shutdown_rx));
        Ok((Transport { shared }, Inbound { rx }))
    }

    /// Replaces the certificate now instead of when it is due: a fresh key
    /// and a fresh identity binding, presented by every connection dialled
    /// or accepted from here on, in both roles. Open connections keep the
    /// certificate they were made with and stay in use. The transport does
    /// this by itself once half of
    /// [`TransportConfig::certificate_lifetime`] has passed; calling it
    /// restarts that count.
    pub fn rotate_certificate(&self) -> Result<(), TransportError> {
        self.shared.rotate(SystemTime::now())
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(self.shared.endpoint.local_addr()?)
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.shared.local_id
    }

    /// The configuration in use.
    pub fn config(&self) -> &TransportConfig {
        &self.shared.config
    }

    /// Peers with at least one authenticated live connection.
    pub fn connected_peers(&self) -> Vec<NodeId> {
        let t = self.shared.table();
        t.links
            .iter()
            .filter(|(_, links)| links.iter().any(|l| l.is_live() && l.is_authed()))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Each peer with an authenticated live connection, once: the
    /// preferred link's remote address and quinn's round-trip estimate.
    pub fn connections(&self) -> Vec<PeerConnection> {
        let t = self.shared.table();
        t.links
            .iter()
            .filter_map(|(id, links)| {
                let best = best_of(links).filter(Link::is_authed)?;
                Some(PeerConnection {
                    peer: *id,
                    identity: best.peer_identity,
                    remote: best.conn.remote_address(),
                    rtt: best.conn.rtt(),
                    path: ConnectionPath::Direct,
                })
            })
            .collect()
    }

    /// Connections this transport holds open: established (confirmed or not)
    /// and handshaking, both directions. Closed connections still draining
    /// inside QUIC are not counted.
    pub fn connection_count(&self) -> usize {
        self.shared.table().connections
    }

    /// The certificate new connections present.
    #[cfg(test)]
    pub(crate) fn certificate(&self) -> CertificateDer<'static> {
        self.shared
            .current_cert()
            .setup
            .certificate()
            .cloned()
            .unwrap_or_else(|| CertificateDer::from(Vec::new()))
    }

    /// Peer and local certificate keys of each link to `peer` in use.
    #[cfg(test)]
    pub(crate) fn link_sessions(&self, peer: NodeId) -> Vec<(Vec<u8>, Vec<u8>)> {
        let t = self.shared.table();
        t.links
            .get(&peer)
            .map(|links| {
                links
                    .iter()
                    .map(|l| (l.state.session.to_vec(), l.state.local_session.to_vec()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Connections the QUIC endpoint still tracks, including closed ones
    /// that are draining.
    #[cfg(test)]
    pub(crate) fn quic_connection_count(&self) -> usize {
        self.shared.endpoint.open_connections()
    }

    /// Replaces who may connect (a closed network's revocations): every
    /// handshake from now on is checked against `admission`, and the open
    /// connections to revoked peers are closed.
    pub fn set_admission(&self, admission: Arc<Admission>) {
        self.shared.gate.set(admission.clone());
        let revoked: Vec<NodeId> = self
            .shared
            .table()
            .links
            .keys()
            .filter(|peer| admission.is_revoked(peer))
            .copied()
            .collect();
        for peer in revoked {
            debug!(%peer, "closing the connections of a revoked member");
            self.disconnect(peer);
        }
    }

    /// Closes every connection to `peer`.
    pub fn disconnect(&self, peer: NodeId) {
        let links = self.shared.table().links.remove(&peer).unwrap_or_default();
        for link in links {
            link.conn
                .close(VarInt::from_u32(CLOSE_DISCONNECT), b"disconnect");
        }
    }

    /// Graceful shutdown: refuses new work, closes every connection, and waits
    /// until the peers have been told (bounded by the idle timeout).
    pub async fn close(&self) {
        self.shared.table().closing = true;
        self.shared.shutdown.send_replace(true);
        self.shared
            .endpoint
            .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"shutdown");
        let wait = self.shared.endpoint.wait_idle();
        let _ = tokio::time::timeout(self.shared.config.idle_timeout, wait).await;
    }

    /// Sends `body` to `peer` and waits for its response. Reuses the
    /// connection to `peer` or dials `addrs` in order, verifying the peer's
    /// identity. The whole call is bounded by the request timeout.
    pub async fn request(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        body: Vec<u8>,
    ) -> Result<Vec<u8>, RequestError> {
        let max = self.shared.config.max_frame_len;
        let frame = framed(body, max)?;
        let started = Instant::now();
        let config = &self.shared.config;
        let work = async {
            let mut resent_on_current = false;
            let mut redialled = false;
            loop {
                let link = self.shared.link_for(peer, addrs).await?;
                let confirm_by = confirm_deadline(&link, config.handshake_timeout);
                match exchange(&link, &frame, max, confirm_by).await {
                    // The link was taken out of service (a simultaneous-dial
                    // tie, or replaced): resend once on the current one. A
                    // replaced link closes after at most MAX_REPLACED_DRAIN,
                    // so the peer may already have handled this request:
                    // every request of the protocol is idempotent.
                    Err(RequestError::ConnectionLost(e))
                        if !resent_on_current && self.shared.superseded(&link, &e) =>
                    {
                        resent_on_current = true;
                    }
                    // The acceptor gave the connection up: dial once more,
                    // when a whole handshake still fits in the request.
                    Err(RequestError::Unconfirmed)
                        if !redialled
                            && started.elapsed().saturating_add(config.handshake_timeout)
                                < config.request_timeout =>
                    {
                        redialled = true;
                    }
                    Err(RequestError::Unconfirmed) => {
                        // As for a failed dial: the next requests back off
                        // instead of paying for another handshake at once.
                        record_failure(&mut self.shared.table(), peer, config);
                        return Err(RequestError::Unconfirmed);
                    }
                    other => return other,
                }
            }
        };
        let result = tokio::time::timeout(self.shared.config.request_timeout, work)
            .await
            .unwrap_or(Err(RequestError::Timeout));
        if let Err(e) = &result {
            trace!(%peer, elapsed = ?started.elapsed(), error = %e, "request failed");
        }
        result
    }

    /// Dials `peer` back at `addr`: a handshake over a new connection from
    /// a fresh endpoint on another local port (a NAT in front of `peer`
    /// drops it unless anyone may dial `peer`), authenticating `peer` and
    /// closed at once. The acceptor never uses such a connection (it is
    /// told apart by [`crate::DIAL_BACK_ALPN`]).
    pub async fn dial_back(&self, peer: NodeId, addr: SocketAddr) -> Result<(), RequestError> {
        if peer == self.shared.local_id {
            return Err(RequestError::SelfDial);
        }
        self.shared.dial_back(peer, addr).await
    }

    /// Sends `body` to `peer` one way, on its own unidirectional stream, once
    /// the connection is authenticated. Returns when the body is handed to
    /// QUIC, not when the peer has read it.
    pub async fn push(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        body: Vec<u8>,
    ) -> Result<(), RequestError> {
        let max = self.shared.config.max_frame_len;
        let frame = framed(body, max)?;
        let work = async {
            let mut retried = false;
            loop {
                let link = self.shared.link_for(peer, addrs).await?;
                match push_on(&link, &frame).await {
                    Err(RequestError::ConnectionLost(e))
                        if !retried && self.shared.superseded(&link, &e) =>
                    {
                        retried = true;
                    }
                    other => return other,
                }
            }
        };
        tokio::time::timeout(self.shared.config.request_timeout, work)
            .await
            .map_err(|_| RequestError::Timeout)?
    }
}

/// Whether `e` is the close of a link its peer took out of service once our
/// streams on it had finished (see [`Shared::retire`]).
fn is_retired(e: &ConnectionError) -> bool {
    matches!(e, ConnectionError::ApplicationClosed(c)
        if c.error_code == VarInt::from_u32(CLOSE_DUPLICATE)
            || c.error_code == VarInt::from_u32(CLOSE_REPLACED)
            || c.error_code == VarInt::from_u32(CLOSE_IDLE))
}

fn lost(e: ConnectionError) -> RequestError {
    RequestError::ConnectionLost(e)
}

fn write_err(e: quinn::WriteError) -> RequestError {
    match e {
        quinn::WriteError::ConnectionLost(c) => lost(c),
        quinn::WriteError::Stopped(code) => RequestError::Rejected(code.into_inner()),
        _ => RequestError::Stream("write failed"),
    }
}

/// By when the acceptor of a connection we dialled must have confirmed it
/// (its empty stream, or any answer) before we give the connection up.
///
/// Our end counts the handshake done when the acceptor's flight arrives;
/// the acceptor counts it done only when our last flight arrives, and gives
/// the connection up when that takes longer than its handshake timeout. On
/// a congested radio that last flight can be lost again and again, and the
/// acceptor's close can be lost too: our end would then send requests into
/// a connection nobody serves until each request's own timeout. The
/// acceptor started before our end finished, so by its handshake timeout
/// after that it has either confirmed or given up (this assumes the peer's
/// handshake timeout is no longer than ours, as with one schedule for a
/// network); [`CONFIRM_SLACK_DIVISOR`] adds time for its confirmation's way
/// back through a full uplink queue.
/// `None` for a confirmed connection (or a deadline past what a clock can
/// hold).
fn confirm_deadline(link: &Link, handshake_timeout: Duration) -> Option<Instant> {
    if link.is_authed() {
        return None;
    }
    let window = handshake_timeout.saturating_add(handshake_timeout / CONFIRM_SLACK_DIVISOR);
    link.state.established.checked_add(window)
}

async fn exchange(
    link: &Link,
    frame: &Frame,
    max: usize,
    confirm_by: Option<Instant>,
) -> Result<Vec<u8>, RequestError> {
    let Some(deadline) = confirm_by else {
        return exchange_on(link, frame, max).await;
    };
    let mut confirmed = link.state.authed.subscribe();
    let unconfirmed = async {
        let wait = async { confirmed.wait_for(|a| *a).await.is_ok() };
        if tokio::time::timeout_at(deadline, wait).await == Ok(true) {
            // Confirmed in time: the request's own timeout bounds the rest.
            std::future::pending::<()>().await;
        }
    };
    let given_up = || {
        link.state
            .given_up
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    tokio::select! {
        r = exchange_on(link, frame, max) => match r {
            // Another request on this connection gave it up.
            Err(RequestError::ConnectionLost(_)) if given_up() => Err(RequestError::Unconfirmed),
            other => other,
        },
        () = unconfirmed => {
            debug!(peer = %link.peer, "giving up a connection its acceptor never confirmed");
            link.state.given_up.store(true, std::sync::atomic::Ordering::Relaxed);
            link.conn.close(VarInt::from_u32(CLOSE_UNCONFIRMED), b"unconfirmed");
            Err(RequestError::Unconfirmed)
        }
    }
}

async fn exchange_on(link: &Link, frame: &Frame, max: usize) -> Result<Vec<u8>, RequestError> {
    let _active = ActiveGuard::new(&*link.state.active);
    let (mut send, mut recv) = link.conn.open_bi().await.map_err(lost)?;
    frame.write(&mut send).await.map_err(write_err)?;
    send.finish()
        .map_err(|_| RequestError::Stream("stream closed"))?;
    match read_frame(&mut recv, max, None).await {
        Ok(Some(body)) => {
            link.confirm();
            Ok(body)
        }
        Ok(None) => Err(RequestError::NoResponse),
        Err(ReadFrameError::Frame(e)) => Err(RequestError::Frame(e)),
        Err(ReadFrameError::Trailing) => Err(RequestError::Stream("data after the response")),
        Err(ReadFrameError::Read(quinn::ReadError::Reset(code))) => {
            Err(RequestError::Rejected(code.into_inner()))
        }
        Err(ReadFrameError::Read(quinn::ReadError::ConnectionLost(e))) => Err(lost(e)),
        Err(ReadFrameError::Read(_)) => Err(RequestError::Stream("read failed")),
    }
}

async fn push_on(link: &Link, frame: &Frame) -> Result<(), RequestError> {
    let _active = ActiveGuard::new(&*link.state.active);
    if !link.is_authed() {
        let mut rx = link.state.authed.subscribe();
        tokio::select! {
            r = rx.wait_for(|a| *a) => { r.map_err(|_| RequestError::Closed)?; }
            e = link.conn.closed() => return Err(lost(e)),
        }
    }
    let mut send = link.conn.open_uni().await.map_err(lost)?;
    frame.write(&mut send).await.map_err(write_err)?;
    send.finish()
        .map_err(|_| RequestError::Stream("stream closed"))?;
    Ok(())
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, PeerTable> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The certificate generation new connections use.
    fn current_cert(&self) -> Arc<LocalCert> {
        self.local.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes a fresh certificate valid from `now` and installs it for new
    /// connections: the endpoint's server config (accepts take it from
    /// [`Shared::current_cert`] too) and the client config of new dials.
    fn rotate(&self, now: SystemTime) -> Result<(), TransportError> {
        if self.table().closing {
            return Err(TransportError::Closed);
        }
        let fresh = Arc::new(LocalCert::issue(
            &self.config,
            &self.identity,
            now,
            self.gate.clone(),
        )?);
        let mut local = self.local.write().unwrap_or_else(|e| e.into_inner());
        // Under the lock, so concurrent rotations leave the endpoint and
        // `local` on the same certificate.
        self.endpoint
            .set_server_config(Some((*fresh.server).clone()));
        *local = fresh;
        debug!("certificate replaced");
        Ok(())
    }

    /// Whether `link` failed with `e` because it was taken out of service:
    /// closed with [`CLOSE_DUPLICATE`] or [`CLOSE_REPLACED`] (after the
    /// streams in progress on it), or closed while another live link to the same
    /// peer is preferred (a close sent before the handshake was confirmed
    /// carries no application code).
    fn superseded(&self, link: &Link, e: &ConnectionError) -> bool {
        is_retired(e)
            || self
                .best_link(&link.peer)
                .is_some_and(|b| b.conn.stable_id() != link.conn.stable_id())
    }

    /// The preferred live link to `peer`, if any.
    fn best_link(&self, peer: &NodeId) -> Option<Link> {
        let t = self.table();
        best_of(t.links.get(peer)?)
    }

    /// A link to `peer`: the existing one, or a fresh dial.
    async fn link_for(
        self: &Arc<Self>,
        peer: NodeId,
        addrs: &[SocketAddr],
    ) -> Result<Link, RequestError> {
        if peer == self.local_id {
            return Err(RequestError::SelfDial);
        }
        let lock = {
            let mut t = self.table();
            if t.closing {
                return Err(RequestError::Closed);
            }
            if let Some(link) = t.links.get(&peer).and_then(|l| best_of(l)) {
                return Ok(link);
            }
            t.dialing.entry(peer).or_default().clone()
        };
        // Out of the table on every way out of here.
        let _dialing = DialingEntry {
            shared: self,
            peer,
            lock: lock.clone(),
        };
        let _dial = lock.lock().await;
        if let Some(link) = self.best_link(&peer) {
            return Ok(link);
        }
        // What `dial` would refuse at once is refused before waiting for a
        // slot.
        self.may_dial(&peer, addrs)?;
        // A slot of our own dials (never closed: `acquire` cannot fail).
        let slot = self.dials.clone().acquire_owned().await.ok();
        // The peer may have connected to us while we waited.
        if let Some(link) = self.best_link(&peer) {
            return Ok(link);
        }
        let dial = self.dial(peer, addrs);
        tokio::pin!(dial);
        let result = tokio::select! {
            r = &mut dial => r,
            () = tokio::time::sleep(DIAL_SLOT_HOLD) => {
                // A peer that does not answer holds no slot for longer.
                drop(slot);
                dial.await
            }
        };
        let mut t = self.table();
        match &result {
            Ok(_) => {
                t.backoff.remove(&peer);
            }
            Err(RequestError::Handshake(_) | RequestError::Dial(_)) => {
                record_failure(&mut t, peer, &self.config);
            }
            Err(_) => {}
        }
        drop(t);
        result
    }

    /// Why a dial to `peer` at `addrs` would be refused at once, if it would.
    fn may_dial(&self, peer: &NodeId, addrs: &[SocketAddr]) -> Result<(), RequestError> {
        let t = self.table();
        if let Some(b) = t.backoff.get(peer) {
            let now = Instant::now();
            if b.until > now {
                return Err(RequestError::BackingOff {
                    retry_in: b.until - now,
                });
            }
        }
        if addrs.is_empty() {
            return Err(RequestError::NoAddresses);
        }
        Ok(())
    }

    /// A dial-back: a handshake with `peer` at `addr` from a fresh
    /// endpoint on another port (a NAT's mapping for our listening socket
    /// must not let it through), closed as soon as it succeeded.
    async fn dial_back(&self, peer: NodeId, addr: SocketAddr) -> Result<(), RequestError> {
        let client = self
            .current_cert()
            .setup
            .dial_back_client_config(peer)
            .map_err(|_| RequestError::Stream("TLS setup failed"))?;
        let any = SocketAddr::new(
            if addr.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            },
            0,
        );
        let endpoint = quinn::Endpoint::client(any)
            .map_err(|_| RequestError::Stream("no dial-back socket"))?;
        let outcome = match endpoint.connect_with(client, addr, SERVER_NAME) {
            Ok(connecting) => {
                match tokio::time::timeout(self.config.handshake_timeout, connecting).await {
                    Ok(Ok(conn)) => {
                        conn.close(VarInt::from_u32(CLOSE_DISCONNECT), b"dial-back");
                        Ok(())
                    }
                    Ok(Err(e)) => Err(RequestError::Handshake(e)),
                    Err(_) => Err(RequestError::Handshake(ConnectionError::TimedOut)),
                }
            }
            Err(e) => Err(RequestError::Dial(e)),
        };
        // Lets the close reach the peer; bounded, the result is known.
        let _ = tokio::time::timeout(self.config.handshake_timeout, endpoint.wait_idle()).await;
        outcome
    }

    async fn dial(
        self: &Arc<Self>,
        peer: NodeId,
        addrs: &[SocketAddr],
    ) -> Result<Link, RequestError> {
        self.may_dial(&peer, addrs)?;
        let slot = {
            let mut t = self.table();
            if t.connections >= self.config.max_connections {
                return Err(RequestError::ConnectionLimit);
            }
            t.connections += 1;
            Slot {
                shared: self.clone(),
                ip: None,
            }
        };
        let cert = self.current_cert();
        let client = cert
            .setup
            .client_config(peer)
            .map_err(|_| RequestError::Stream("TLS setup failed"))?;
        let mut last = RequestError::NoAddresses;
        for addr in addrs {
            let connecting = match self
                .endpoint
                .connect_with(client.clone(), *addr, SERVER_NAME)
            {
                Ok(c) => c,
                Err(e) => {
                    last = RequestError::Dial(e);
                    continue;
                }
            };
            let dial_started = Instant::now();
            let conn = match tokio::time::timeout(self.config.handshake_timeout, connecting).await {
                Ok(Ok(conn)) => {
                    trace!(%peer, %addr, elapsed = ?dial_started.elapsed(), "dialled");
                    conn
                }
                Ok(Err(e)) => {
                    debug!(%peer, %addr, error = %e, "dial failed");
                    last = RequestError::Handshake(e);
                    continue;
                }
                Err(_) => {
                    last = RequestError::Handshake(ConnectionError::TimedOut);
                    continue;
                }
            };
            let Some(link) = Link::from_connection(conn.clone(), self.local_id, &cert, true) else {
                conn.close(VarInt::from_u32(CLOSE_DISCONNECT), b"identity");
                last = RequestError::Stream("peer identity unavailable");
                continue;
            };
            if link.peer != peer {
                // The verifier already enforces this; kept as a second check.
                conn.close(VarInt::from_u32(CLOSE_DISCONNECT), b"identity");
                last = RequestError::Stream("peer identity mismatch");
                continue;
            }
            let best = self.register(&link)?;
            tokio::spawn(drive(self.clone(), link, slot));
            return Ok(best);
        }
        Err(last)
    }

    /// Adds a link to the table and returns the link to use for `link.peer`
    /// (which may be another, preferred one). The caller then runs [`drive`]
    /// for `link`.
    fn register(self: &Arc<Self>, link: &Link) -> Result<Link, RequestError> {
        let mut stale = Vec::new();
        let best = {
            let mut t = self.table();
            if t.closing {
                link.conn
                    .close(VarInt::from_u32(CLOSE_SHUTDOWN), b"shutdown");
                return Err(RequestError::Closed);
            }
            let links = t.links.entry(link.peer).or_default();
            links.retain(|l| {
                // Links made with other certificates than the new one are
                // retired, not killed. A different peer key means the peer
                // restarted (the old links are dead even if no packet has
                // said so yet) or replaced its certificate (the old links
                // are healthy and may carry requests); a different local key
                // means we replaced ours. A restart and a replacement look
                // the same from here, and need not be told apart: either
                // way new work goes to the new link at
                // once, and the old ones close with CLOSE_REPLACED only after
                // the streams on them finish (bounded by the request timeout;
                // on a dead link they fail by that timeout anyway). Both ends
                // see the same pair of keys change, so both retire the old
                // links and keep the new one, and the duplicate rule below
                // still only ever compares links of one certificate pair.
                // Only when a simultaneous dial straddles a certificate
                // change may the ends order the two links differently and
                // retire both; nothing in flight is lost then either, and
                // the next request dials again.
                let same = l.state.session == link.state.session
                    && l.state.local_session == link.state.local_session;
                let keep = l.is_live() && same;
                if !keep && l.is_live() {
                    stale.push(l.clone());
                }
                keep
            });
            if links.len() >= MAX_LINKS_PER_PEER {
                link.conn
                    .close(VarInt::from_u32(CLOSE_TOO_MANY), b"too many");
                return best_of(links).ok_or(RequestError::Stream("no usable link"));
            }
            links.push(link.clone());
            best_of(links).unwrap_or_else(|| link.clone())
        };
        for old in stale {
            debug!(peer = %old.peer, "retiring connection made with another certificate");
            self.retire(old, CLOSE_REPLACED);
        }
        self.prune(&best.peer);
        Ok(best)
    }

    /// Closes `link`, already out of the table so no new work reaches it,
    /// with `code` once it is idle: after the duplicate grace (streams the
    /// peer opened just before it dropped the link may still arrive), once
    /// the streams in progress have finished (at most the request timeout,
    /// or [`MAX_REPLACED_DRAIN`] for a replaced link),
    /// and a few round trips (at most the grace again) for their last bytes
    /// to be acknowledged: a close discards data not yet delivered.
    fn retire(&self, link: Link, code: u32) {
        let grace = self.config.duplicate_grace;
        let cap = if code == CLOSE_REPLACED {
            self.config.request_timeout.min(MAX_REPLACED_DRAIN)
        } else {
            self.config.request_timeout
        };
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let _ = tokio::time::timeout(cap, link.state.active.drained()).await;
            tokio::time::sleep(link.conn.rtt().saturating_mul(3).min(grace)).await;
            let reason: &[u8] = match code {
                CLOSE_DUPLICATE => b"duplicate",
                CLOSE_IDLE => b"idle",
                _ => b"replaced",
            };
            link.conn.close(VarInt::from_u32(code), reason);
        });
    }

    /// Schedules the close of every authenticated link to `peer` that is not
    /// the preferred one. Both ends reach the same choice.
    fn prune(self: &Arc<Self>, peer: &NodeId) {
        let losers: Vec<Link> = {
            let mut t = self.table();
            let Some(links) = t.links.get_mut(peer) else {
                return;
            };
            let Some(best) = best_of(links) else { return };
            if !best.is_authed() {
                return;
            }
            let (keep, lose): (Vec<Link>, Vec<Link>) = links
                .drain(..)
                .partition(|l| l.conn.stable_id() == best.conn.stable_id() || !l.is_authed());
            *links = keep;
            lose
        };
        for loser in losers {
            debug!(peer = %loser.peer, "closing redundant connection");
            self.retire(loser, CLOSE_DUPLICATE);
        }
    }

    fn unregister(&self, link: &Link) {
        let mut t = self.table();
        if let Some(links) = t.links.get_mut(&link.peer) {
            links.retain(|l| l.conn.stable_id() != link.conn.stable_id());
            if links.is_empty() {
                t.links.remove(&link.peer);
            }
        }
    }
}

/// The preferred live link: authenticated first, then by [`Link::rank`].
fn best_of(links: &[Link]) -> Option<Link> {
    if let [only] = links {
        // The usual case: nothing to rank against.
        return only.is_live().then(|| only.clone());
    }
    links
        .iter()
        .filter(|l| l.is_live())
        .min_by_key(|l| (!l.is_authed(), l.rank()))
        .cloned()
}

fn record_failure(t: &mut PeerTable, peer: NodeId, config: &TransportConfig) {
    let now = Instant::now();
    if t.backoff.len() >= MAX_BACKOFF_ENTRIES && !t.backoff.contains_key(&peer) {
        t.backoff.retain(|_, b| b.until > now);
        if t.backoff.len() >= MAX_BACKOFF_ENTRIES {
            return;
        }
    }
    let failures = t
        .backoff
        .get(&peer)
        .map_or(0, |b| b.failures)
        .saturating_add(1);
    let delay = backoff_delay(failures, config.backoff_base, config.backoff_max);
    t.backoff.insert(
        peer,
        Backoff {
            failures,
            until: now + delay,
        },
    );
}

/// Exponential delay with "equal jitter": uniformly in `[d/2, d]` where
/// `d = min(base * 2^(failures-1), max)`.
pub(crate) fn backoff_delay(failures: u32, base: Duration, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    let jitter_ns = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let extra = if jitter_ns == 0 {
        0
    } else {
        rand::random_range(0..=jitter_ns)
    };
    half + Duration::from_nanos(extra)
}

/// `body` as one frame, refused before any I/O when over `max`.
fn framed(body: Vec<u8>, max: usize) -> Result<Frame, RequestError> {
    let len = body.len();
    Frame::new(body, max).map_err(|_| RequestError::TooLarge { len, max })
}

/// Replaces the certificate whenever it is due (see [`rotation_wait`]), until
/// the transport closes or is dropped. Holds no strong reference while it
/// sleeps.
async fn certificate_timer(shared: Weak<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let wait = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let issued = shared.current_cert().issued;
            let now = SystemTime::now();
            let wait = rotation_wait(issued, now, shared.config.certificate_lifetime);
            if !wait.is_zero() {
                wait
            } else if let Err(e) = shared.rotate(now) {
                debug!(error = %e, "certificate replacement failed");
                MIN_CERTIFICATE_ROTATION_AGE
            } else {
                continue;
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|closed| *closed) => return,
        }
    }
}

async fn accept_loop(shared: Arc<Shared>) {
    while let Some(incoming) = shared.endpoint.accept().await {
        let remote = incoming.remote_address();
        let Ok(permit) = shared.handshakes.clone().try_acquire_owned() else {
            debug!(%remote, "refused: too many handshakes");
            incoming.refuse();
            continue;
        };
        let slot = {
            let mut t = shared.table();
            let ip = remote.ip();
            let from_ip = t.per_ip.get(&ip).copied().unwrap_or(0);
            if t.closing {
                None
            } else if t.connections >= shared.config.max_connections {
                debug!(%remote, "refused: connection limit");
                None
            } else if from_ip >= shared.config.max_connections_per_ip {
                debug!(%remote, "refused: per-IP connection limit");
                None
            } else {
                t.connections += 1;
                *t.per_ip.entry(ip).or_default() += 1;
                Some(Slot {
                    shared: shared.clone(),
                    ip: Some(ip),
                })
            }
        };
        let Some(slot) = slot else {
            incoming.refuse();
            continue;
        };
        tokio::spawn(handshake_incoming(shared.clone(), incoming, slot, permit));
    }
}

async fn handshake_incoming(
    shared: Arc<Shared>,
    incoming: quinn::Incoming,
    slot: Slot,
    permit: OwnedSemaphorePermit,
) {
    let remote = incoming.remote_address();
    let started = Instant::now();
    // The certificate is chosen here, not by the endpoint's default, so the
    // link knows which of our certificates it was made with.
    let cert = shared.current_cert();
    let connecting = match incoming.accept_with(cert.server.clone()) {
        Ok(c) => c,
        Err(e) => {
            debug!(%remote, error = %e, "incoming failed");
            return;
        }
    };
    let conn = match tokio::time::timeout(shared.config.handshake_timeout, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            debug!(%remote, elapsed = ?started.elapsed(), error = %e, "incoming handshake failed");
            return;
        }
        Err(_) => {
            debug!(%remote, "incoming handshake timed out");
            return;
        }
    };
    drop(permit);
    let Some(link) = Link::from_connection(conn.clone(), shared.local_id, &cert, false) else {
        conn.close(VarInt::from_u32(CLOSE_DISCONNECT), b"identity");
        return;
    };
    if link.peer == shared.local_id {
        conn.close(VarInt::from_u32(CLOSE_DISCONNECT), b"self");
        return;
    }
    if is_dial_back(&conn) {
        // Proof that we can be dialled, nothing more: never a link.
        trace!(peer = %link.peer, %remote, "dialled back");
        conn.close(VarInt::from_u32(CLOSE_DISCONNECT), b"dial-back");
        return;
    }
    trace!(peer = %link.peer, %remote, "accepted");
    if shared.register(&link).is_ok() {
        // Drive in this task: no extra hop before the first stream is served.
        drive(shared, link, slot).await;
    }
}

/// Whether `conn` was dialled as a dial-back ([`crate::DIAL_BACK_ALPN`]).
fn is_dial_back(conn: &quinn::Connection) -> bool {
    conn.handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol)
        .is_some_and(|p| p == crate::DIAL_BACK_ALPN)
}

/// Polls `task` once right here and spawns it only if it has to wait: a
/// push whose frame has fully arrived (the common case for small messages)
/// is served without a task of its own. The first poll uses a
/// no-op waker; that is safe because a spawned task is always polled again,
/// which registers its real waker before it can miss anything.
fn run_or_spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut task = Box::pin(task);
    let mut cx = Context::from_waker(Waker::noop());
    if task.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(task);
    }
}

/// Owns one connection: serves the streams the peer opens and removes the
/// link from the table when the connection ends.
async fn drive(shared: Arc<Shared>, link: Link, slot: Slot) {
    let conn = link.conn.clone();
    if link.is_authed() {
        // Server side: tell the dialler we accepted its certificate with an
        // empty unidirectional stream, so it may push before any request.
        let conn = conn.clone();
        run_or_spawn(async move {
            if let Ok(mut s) = conn.open_uni().await {
                let _ = s.finish();
            }
        });
    }
    let mut authed_rx = link.state.authed.subscribe();
    let mut prune_pending = true;
    let linger = shared.config.linger;
    let mut lingering = !linger.is_zero();
    loop {
        tokio::select! {
            () = link.state.active.lingered(linger), if lingering => {
                // Unused for the linger time: out of the table, so new work
                // dials again, and closed once idle (the peer resends a
                // request that raced the close).
                lingering = false;
                trace!(peer = %link.peer, "closing an unused connection");
                shared.unregister(&link);
                shared.retire(link.clone(), CLOSE_IDLE);
            }
            r = conn.accept_bi() => match r {
                Ok((send, recv)) => {
                    link.confirm();
                    // Requests keep a task of their own: served inline
                    // they measured slower with one request in flight.
                    // Where the peer is now: QUIC follows a peer whose
                    // address changed (its NAT's, after a network change).
                    let remote = conn.remote_address();
                    tokio::spawn(serve_request(shared.clone(), link.clone(), remote, send, recv));
                }
                Err(_) => break,
            },
            r = conn.accept_uni() => match r {
                Ok(recv) => {
                    link.confirm();
                    run_or_spawn(serve_push(shared.clone(), link.clone(), conn.remote_address(), recv));
                }
                Err(_) => break,
            },
            r = authed_rx.wait_for(|a| *a), if prune_pending => {
                let confirmed = r.is_ok();
                // Release the watch's read lock before `prune` reads it again.
                drop(r);
                prune_pending = false;
                if confirmed {
                    // A newly confirmed link may now win a duplicate tie.
                    shared.prune(&link.peer);
                }
            }
        }
    }
    shared.unregister(&link);
    drop(slot);
    trace!(peer = %link.peer, "connection ended");
}

async fn serve_request(
    shared: Arc<Shared>,
    link: Link,
    remote: SocketAddr,
    send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    // The responder counts the request as in progress until it is answered.
    let reply = Responder::new(send, shared.config.max_frame_len, link.state.active.clone());
    let Some(body) = read_inbound(&shared, &mut recv).await else {
        return;
    };
    let event = InboundEvent::Request {
        peer: link.peer,
        peer_identity: Box::new(link.peer_identity),
        remote,
        body,
        reply,
    };
    if let Err(mpsc::error::SendError(event)) = shared.events.send(event).await {
        if let InboundEvent::Request { reply, .. } = event {
            drop(reply);
        }
        let _ = recv.stop(VarInt::from_u32(CODE_UNAVAILABLE));
    }
}

async fn serve_push(
    shared: Arc<Shared>,
    link: Link,
    remote: SocketAddr,
    mut recv: quinn::RecvStream,
) {
    let Some(body) = read_inbound(&shared, &mut recv).await else {
        return;
    };
    let _ = shared
        .events
        .send(InboundEvent::Push {
            peer: link.peer,
            remote,
            body,
        })
        .await;
}

/// Reads one inbound frame within the request timeout; on any failure the
/// stream is stopped and `None` returned.
async fn read_inbound(shared: &Shared, recv: &mut quinn::RecvStream) -> Option<Vec<u8>> {
    let read = read_frame(recv, shared.config.max_frame_len, Some(&shared.buffer));
    match tokio::time::timeout(shared.config.request_timeout, read).await {
        Ok(Ok(Some(body))) => Some(body),
        // An empty stream: the acceptance signal, or an empty push attempt.
        Ok(Ok(None)) => None,
        Ok(Err(e)) => {
            debug!(error = ?e, "bad inbound frame");
            let _ = recv.stop(VarInt::from_u32(CODE_BAD_FRAME));
            None
        }
        Err(_) => {
            debug!("inbound frame timed out");
            let _ = recv.stop(VarInt::from_u32(CODE_TIMEOUT));
            None
        }
    }
}
