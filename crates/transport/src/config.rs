//! Tunables of the transport, with safe defaults.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tacnode_domain::{Admission, MemberCertificate};
use tacnode_messaging::frame::MAX_FRAME_LEN;

/// Default cap on open connections (established and handshaking).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default cap on connections from one remote IP address.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 8;
/// Default cap on incoming handshakes in progress.
pub const DEFAULT_MAX_CONCURRENT_HANDSHAKES: usize = 32;
/// Default cap on concurrent streams a peer may open per connection, per direction type.
pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Default [`TransportConfig::max_concurrent_dials`]: on a LAN, no real limit.
pub const DEFAULT_MAX_CONCURRENT_DIALS: usize = 64;
/// [`TransportConfig::max_concurrent_dials`] of the radio schedule: two
/// handshakes' first flights (about 5 kB) fill a 64 kbit/s uplink for well
/// under its one-second queue.
pub const RADIO_MAX_CONCURRENT_DIALS: usize = 2;
/// Default largest request, response or push body.
pub const DEFAULT_MAX_FRAME_LEN: usize = MAX_FRAME_LEN;
/// Default budget of bytes buffered for inbound frames still being received.
pub const DEFAULT_INBOUND_BUFFER_BYTES: usize = 64 * 1024 * 1024;
/// Default capacity of the inbound event queue.
pub const DEFAULT_INBOUND_QUEUE: usize = 256;
/// Default QUIC connection-level receive window.
pub const DEFAULT_CONNECTION_RECEIVE_WINDOW: u32 = 8 * 1024 * 1024;
/// Most links kept to one peer at once (simultaneous dials, restarts);
/// further incoming connections from that peer are closed.
pub const MAX_LINKS_PER_PEER: usize = 4;
/// Most peers remembered in the dial backoff table.
pub const MAX_BACKOFF_ENTRIES: usize = 4096;

/// Youngest age at which the transport replaces its certificate, however
/// short the configured lifetime: bounds how often a certificate is made.
pub const MIN_CERTIFICATE_ROTATION_AGE: Duration = Duration::from_secs(1);
/// Longest a replaced connection waits for its streams in progress before it
/// closes. A peer that restarted looks the same as one that replaced its
/// certificate, and a restarted peer's old connection never drains: its
/// requests fail at this bound and are retried once on the new connection,
/// instead of waiting for the whole request timeout.
pub const MAX_REPLACED_DRAIN: Duration = Duration::from_secs(1);
/// Longest the certificate timer sleeps before reading the wall clock again
/// (the sleep itself runs on the monotonic clock, which stops during suspend).
pub const CERTIFICATE_CHECK_INTERVAL: Duration = Duration::from_secs(3600);

/// Configuration of a [`crate::Transport`]. `Default` gives safe values.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportConfig {
    /// UDP address to bind (dials and accepts). Default `0.0.0.0:0`.
    pub listen: SocketAddr,
    /// Most open connections, established or handshaking, both directions.
    pub max_connections: usize,
    /// Most incoming connections from one remote IP address.
    pub max_connections_per_ip: usize,
    /// Most incoming handshakes in progress; further attempts are refused.
    pub max_concurrent_handshakes: usize,
    /// Most of our own dials (dial-backs aside) in their first
    /// [`crate::DIAL_SLOT_HOLD`] at once;
    /// more wait for a slot, and one whose peer connected to us meanwhile
    /// takes that connection instead of dialling. On a radio the first
    /// flights of a handshake are two padded 1,200-byte datagrams each way:
    /// a node that dials all its peers at once (a cold start) overflows its
    /// uplink queue, the lost flights are sent again, and two peers that
    /// dial each other at once pay for two handshakes.
    pub max_concurrent_dials: usize,
    /// Most concurrent streams a peer may open on one connection (applied to
    /// bidirectional and unidirectional streams separately).
    pub max_streams_per_connection: u32,
    /// Largest body of a request, response or push, checked before allocation.
    pub max_frame_len: usize,
    /// Bytes all inbound frames being received may hold together; must be at
    /// least `max_frame_len`.
    pub inbound_buffer_bytes: usize,
    /// Capacity of the [`crate::Inbound`] queue; a full queue back-pressures peers.
    pub inbound_queue: usize,
    /// QUIC connection-level receive window in bytes.
    pub connection_receive_window: u32,
    /// Deadline of one request (dial, send, response) or push; also how long a
    /// peer may take to deliver one inbound frame.
    pub request_timeout: Duration,
    /// Deadline of one handshake.
    pub handshake_timeout: Duration,
    /// Interval of QUIC keep-alive packets; zero sends none (the connection
    /// then lives while requests use it, up to `idle_timeout` apart).
    pub keep_alive: Duration,
    /// A connection silent for this long is closed.
    pub idle_timeout: Duration,
    /// A connection that carried no request or push, either way, for this
    /// long is closed (its keep-alives alone do not keep it: on a radio they
    /// are most of an idle node's traffic); the next request dials again.
    /// Zero keeps connections as long as they stay alive.
    pub linger: Duration,
    /// Probe each new connection's path for datagrams larger than 1,200
    /// bytes (quinn's MTU discovery): on a LAN it lets large frames go in
    /// fewer packets, but the probes cost about 5.6 kB each way per
    /// connection (measured in the testbed), more than the handshake.
    pub mtu_discovery: bool,
    /// First delay before redialling a peer whose dial failed.
    pub backoff_base: Duration,
    /// Largest redial delay.
    pub backoff_max: Duration,
    /// How long a redundant connection (simultaneous dial) lingers before it
    /// is closed, so streams already opened on it can finish.
    pub duplicate_grace: Duration,
    /// Lifetime of each ephemeral certificate. The transport replaces its
    /// certificate once half of it has passed (for new connections; open
    /// ones keep theirs), so a long-running node never presents an expired one.
    pub certificate_lifetime: Duration,
    /// Who may connect, either way. In a closed network the handshake
    /// refuses a peer without a valid member certificate for its identity;
    /// [`crate::Transport::set_admission`] applies revocations later.
    pub admission: Admission,
    /// This node's member certificate in a closed network, presented in
    /// every handshake.
    pub member_certificate: Option<MemberCertificate>,
}

impl TransportConfig {
    /// The transport's part of the radio schedule (see the node's
    /// `NodeConfig::radio`): no keep-alives (on a radio link without NAT they
    /// were most of an idle node's traffic; a connection stays while requests
    /// use it), connections kept 10 minutes after their last use so the
    /// mailbox fetches every 5 minutes reuse them instead of paying a
    /// handshake each time, no MTU probes (about 5.6 kB each way per new
    /// connection; messages fit 1,200-byte datagrams), and timeouts for
    /// 150 ms one-way delay and loss.
    pub fn radio() -> TransportConfig {
        TransportConfig {
            keep_alive: Duration::ZERO,
            idle_timeout: Duration::from_secs(600),
            linger: Duration::from_secs(600),
            mtu_discovery: false,
            request_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
            max_connections: 64,
            max_concurrent_dials: RADIO_MAX_CONCURRENT_DIALS,
            ..TransportConfig::default()
        }
    }
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            max_concurrent_handshakes: DEFAULT_MAX_CONCURRENT_HANDSHAKES,
            max_concurrent_dials: DEFAULT_MAX_CONCURRENT_DIALS,
            max_streams_per_connection: DEFAULT_MAX_STREAMS_PER_CONNECTION,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            inbound_buffer_bytes: DEFAULT_INBOUND_BUFFER_BYTES,
            inbound_queue: DEFAULT_INBOUND_QUEUE,
            connection_receive_window: DEFAULT_CONNECTION_RECEIVE_WINDOW,
            request_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            linger: Duration::from_secs(120),
            mtu_discovery: true,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(60),
            duplicate_grace: Duration::from_millis(500),
            certificate_lifetime: Duration::from_secs(365 * 24 * 3600),
            admission: Admission::Open,
            member_certificate: None,
        }
    }
}

impl TransportConfig {
    /// The default configuration listening on `listen`.
    pub fn with_listen(listen: SocketAddr) -> Self {
        Self {
            listen,
            ..Self::default()
        }
    }
}
