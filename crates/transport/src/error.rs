//! Error types of the transport, one per operation family.

use std::time::Duration;

use tacnode_messaging::frame::FrameError;

/// Why [`crate::Transport::bind`] or
/// [`crate::Transport::rotate_certificate`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The transport was closed.
    #[error("transport closed")]
    Closed,
    /// Not called inside a Tokio runtime.
    #[error("the transport must be bound inside a Tokio runtime")]
    NoRuntime,
    /// A configuration value is unusable.
    #[error("invalid transport configuration: {0}")]
    Config(&'static str),
    /// The ephemeral certificate could not be made.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// TLS configuration failed.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The UDP socket could not be bound.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a request or push failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The transport was closed.
    #[error("transport closed")]
    Closed,
    /// A node cannot dial itself.
    #[error("cannot send to the local node")]
    SelfDial,
    /// No address was given for a peer without a connection.
    #[error("no address to dial")]
    NoAddresses,
    /// Dials to this peer failed recently; the next attempt is allowed later.
    #[error("peer unreachable, retry in {retry_in:?}")]
    BackingOff {
        /// Time left before the next dial is allowed.
        retry_in: Duration,
    },
    /// The local cap on open connections is reached.
    #[error("connection limit reached")]
    ConnectionLimit,
    /// The dial could not start (e.g. unusable address).
    #[error("dial failed: {0}")]
    Dial(#[from] quinn::ConnectError),
    /// The handshake failed: unreachable, refused, or peer authentication failed.
    #[error("handshake failed: {0}")]
    Handshake(#[source] quinn::ConnectionError),
    /// The connection was lost mid-request (or the peer refused our certificate).
    #[error("connection lost: {0}")]
    ConnectionLost(#[source] quinn::ConnectionError),
    /// A connection we dialled was never confirmed by its acceptor (it gave
    /// the handshake up while our end had finished it), and one more dial,
    /// when it fitted in the request timeout, fared no better. The peer
    /// backs off as after a failed dial.
    #[error("the peer never confirmed the connection")]
    Unconfirmed,
    /// The whole request did not complete within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// The body exceeds the frame limit.
    #[error("body of {len} bytes exceeds the frame limit of {max}")]
    TooLarge {
        /// Body length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The peer reset the stream instead of answering.
    #[error("peer refused the request (code {0})")]
    Rejected(u64),
    /// The stream ended without a response.
    #[error("stream ended without a response")]
    NoResponse,
    /// The response was not a valid frame (or exceeded the limit).
    #[error("bad response frame: {0}")]
    Frame(#[from] FrameError),
    /// The stream broke while writing or reading.
    #[error("stream error: {0}")]
    Stream(&'static str),
}

/// Why a response could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The body exceeds the frame limit; the stream is reset instead.
    #[error("response exceeds the frame limit: {0}")]
    TooLarge(#[from] FrameError),
    /// The stream or connection is gone.
    #[error("response could not be written: {0}")]
    Write(#[from] quinn::WriteError),
    /// The stream was already closed.
    #[error("stream already closed")]
    Closed,
}
