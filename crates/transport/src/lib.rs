//! QUIC transport of tacnode: owns the UDP socket, authenticates peers by
//! their Ed25519 identity, and carries opaque request/response and push
//! bodies. Protocol logic lives elsewhere; this crate only moves bytes
//! between authenticated nodes.
//!
//! # Driving it
//!
//! [`Transport::bind`] (inside a Tokio runtime) returns a cloneable
//! [`Transport`] handle and an [`Inbound`] receiver. Call
//! [`Transport::request`] / [`Transport::push`] with a peer's [`NodeId`](tacnode_domain::NodeId)
//! and candidate addresses; read [`InboundEvent`]s from [`Inbound`] and answer
//! requests through their [`Responder`]. [`Transport::close`] shuts down.
//!
//! # Handshake
//!
//! One quinn endpoint per node, on one UDP socket that both dials and accepts
//! (a dial-back alone uses a fresh endpoint of its own, closed after it),
//! TLS 1.3 only, ALPN `tacnode/1` (`tacnode-dial-back/1` for a dial-back,
//! never used as a connection), rustls with the ring provider.
//!
//! At every start a fresh Ed25519 key and a self-signed certificate are made,
//! and replaced the same way once half of
//! [`TransportConfig::certificate_lifetime`] has passed (or on
//! [`Transport::rotate_certificate`]); open connections keep theirs.
//! The certificate carries a non-critical extension, OID
//! [`BINDING_OID`] (`2.25.5427237553652120654`), whose value is a DER OCTET
//! STRING of 96 bytes: the node's long-term identity key (32) followed by the
//! identity key's Ed25519 signature (64) over
//! `"tacnode-tls-binding/v2" || notBefore || notAfter || SubjectPublicKeyInfo
//! DER of the certificate key`, the window in Unix seconds (i64 big-endian)
//! exactly as the certificate encodes it: a stolen TLS key cannot be
//! re-minted into a certificate with a longer window. The certificate's own
//! self-signature is not checked; nothing else in it is trusted.
//!
//! Both sides present a certificate (mutual TLS) and both run the same
//! verifier, which accepts a peer only if:
//! 1. it sent exactly one certificate of at most [`MAX_CERT_LEN`] bytes, parsed
//!    by a bounded, allocation-free DER walker;
//! 2. the current time is inside the certificate's validity window;
//! 3. the binding extension is present exactly once and its signature verifies
//!    (strict Ed25519) under the bound identity key, over that certificate's
//!    own validity window and SubjectPublicKeyInfo;
//! 4. the TLS 1.3 handshake signature verifies under the certificate key
//!    (`rustls::crypto::verify_tls13_signature`), proving possession of it;
//! 5. when dialling, the bound identity hashes to the expected [`NodeId`](tacnode_domain::NodeId).
//!
//! The peer's [`NodeId`](tacnode_domain::NodeId) is `SHA-256(bound identity key)`; every inbound event
//! carries it. SNI is disabled: the dialled identity never appears in clear.
//!
//! # Authentication rule
//!
//! The accepting side has verified the dialler before quinn yields the
//! connection, so it reads no stream before authentication. The dialler has
//! verified the server during the handshake, but learns that the server
//! accepted *its* certificate only from the server's first application data:
//! the server opens an empty unidirectional stream as soon as it accepts, and
//! any response or server-opened stream counts too. Until then the dialler's
//! connection is "unconfirmed": requests may be sent on it (the server cannot
//! read them before it authenticates us, and their responses confirm the
//! connection), pushes wait for confirmation, and a rejected certificate
//! surfaces as a failed request rather than a usable connection. An
//! acceptor that gave the handshake up (our last flight lost past its
//! handshake timeout, its close lost too) never confirms: a request on a
//! connection still unconfirmed 1.5 handshake timeouts after our end
//! finished the handshake closes it with [`CLOSE_UNCONFIRMED`] (the other
//! requests on it fail the same way) and dials once more when a handshake
//! still fits in the request timeout, instead of waiting that timeout out;
//! a second failure backs the peer off as a failed dial does.
//!
//! # Connections
//!
//! At most one connection per peer is kept in use. When both nodes dial each
//! other at once, each ends with two authenticated connections and both prefer
//! the one dialled by the lower [`NodeId`](tacnode_domain::NodeId) (ties broken by a TLS-exporter value
//! both ends share); the other is closed after
//! [`TransportConfig::duplicate_grace`] once its streams drain. A connection
//! made with other certificate keys than the existing ones (the peer
//! restarted, or either end replaced its certificate) takes over: new work
//! goes to it at once, and the old connections are closed with
//! [`CLOSE_REPLACED`] once their streams drain (a response being written
//! counts until it is sent). A connection that carried no request or push
//! for [`TransportConfig::linger`] is closed the same way with
//! [`CLOSE_IDLE`] (keep-alives alone do not keep it; a request that raced
//! the close is resent once on a new connection). Failed dials put the peer in exponential
//! backoff with jitter; requests during the backoff fail fast with
//! [`RequestError::BackingOff`] and the next request after it redials.
//! Limits (all in [`TransportConfig`]): total connections, connections per
//! remote IP, concurrent incoming handshakes (over-limit attempts get a QUIC
//! refusal), concurrent streams per connection (QUIC stream credit), frame
//! size (checked on the length prefix before allocation), and a global budget
//! of bytes held by partially received frames.
//!
//! # Streams
//!
//! Each request and its response use one bidirectional stream carrying one
//! frame each way (`tacnode-messaging` framing: 4-byte big-endian length, then
//! the body), then the end of the stream; anything after the frame is
//! refused. Each push uses one unidirectional stream carrying one frame. An
//! empty unidirectional stream is the acceptance signal and is not delivered.
//! A peer that stalls mid-frame is cut off after the request timeout; a
//! malformed or oversize frame stops only its own stream
//! ([`CODE_BAD_FRAME`]), never the connection.
//!
//! To talk to a transport with plain quinn (tools, benchmarks), use
//! [`QuicSetup`]: the same certificate scheme, verifiers and QUIC parameters.

mod admission_gate;
mod binding;
mod config;
mod connection_id;
mod error;
mod lan_beacon;
mod port;
mod stream;
mod tls;
mod transport;

#[cfg(test)]
mod tests;

pub use binding::{
    BINDING_CONTEXT, BINDING_LEN, BINDING_OID, BindingError, MAX_CERT_LEN, MAX_CLOCK_SKEW_SECS,
    MEMBER_OID,
};
pub use config::{
    CERTIFICATE_CHECK_INTERVAL, DEFAULT_CONNECTION_RECEIVE_WINDOW, DEFAULT_INBOUND_BUFFER_BYTES,
    DEFAULT_INBOUND_QUEUE, DEFAULT_MAX_CONCURRENT_DIALS, DEFAULT_MAX_CONCURRENT_HANDSHAKES,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_FRAME_LEN,
    DEFAULT_MAX_STREAMS_PER_CONNECTION, MAX_BACKOFF_ENTRIES, MAX_LINKS_PER_PEER,
    MAX_REPLACED_DRAIN, MIN_CERTIFICATE_ROTATION_AGE, RADIO_MAX_CONCURRENT_DIALS, TransportConfig,
};
pub use error::{RequestError, RespondError, TransportError};
pub use lan_beacon::{LAN_BEACON_GROUP, LanBeaconError, MAX_LAN_INTERFACES, UdpLanBeacon};
pub use port::{QuicIncoming, QuicNetwork};
pub use stream::{CODE_BAD_FRAME, CODE_NO_RESPONSE, CODE_TIMEOUT, CODE_UNAVAILABLE, Responder};
pub use tls::{ALPN, DIAL_BACK_ALPN, QuicSetup};
pub use transport::{
    CLOSE_DISCONNECT, CLOSE_DUPLICATE, CLOSE_IDLE, CLOSE_REPLACED, CLOSE_SHUTDOWN, CLOSE_TOO_MANY,
    CLOSE_UNCONFIRMED, CONFIRM_SLACK_DIVISOR, DIAL_SLOT_HOLD, Inbound, InboundEvent, Transport,
};
