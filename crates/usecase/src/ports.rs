//! Ports of the node: what [`crate::node::Node`] needs from the outside
//! world, each implemented twice: by the daemon's adapters (QUIC, the system
//! clock) and by the simulator's (a simulated network, a virtual clock with
//! a per-node offset).
//!
//! The futures are boxed so that the node holds its ports as trait objects:
//! one `Node` type serves every implementation, and a boxed future per
//! network call costs nothing next to a network round trip.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use tacnode_domain::NodeId;
use tacnode_domain::dht::RefusalCode;

pub use tacnode_domain::ports::Clock;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a call to a peer got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The peer could not be reached (no address, dial failed, backing off
    /// after failed dials, connection lost).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// No answer within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// The peer answered with a refusal.
    #[error("refused ({code:?}): {detail}")]
    Refused {
        /// Why.
        code: RefusalCode,
        /// Detail.
        detail: String,
    },
    /// The answer did not decode.
    #[error("bad answer: {0}")]
    BadAnswer(String),
    /// Our own network is shut down.
    #[error("the network is closed")]
    Closed,
}

/// The node's outgoing side of the network: authenticated request/answer
/// calls to peers, by identity.
pub trait PeerNetwork: Send + Sync + 'static {
    /// Sends `request` (an encoded message) to `peer`, dialling one of
    /// `addrs` if not connected, and returns its encoded answer. The peer's
    /// identity is authenticated before the answer is returned.
    fn call<'a>(
        &'a self,
        peer: NodeId,
        addrs: &'a [SocketAddr],
        request: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, CallError>>;

    /// Where this node listens.
    fn local_addr(&self) -> SocketAddr;

    /// Peers with an open, authenticated connection.
    fn connected_peers(&self) -> Vec<NodeId>;

    /// Closes every connection and stops listening.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// Where the answer to an [`IncomingCall`] goes. Dropping it refuses the call.
pub trait Reply: Send + 'static {
    /// Sends the encoded answer.
    fn send(self: Box<Self>, answer: Vec<u8>) -> BoxFuture<'static, Result<(), String>>;
}

/// A request from an authenticated peer.
pub struct IncomingCall {
    /// Who sent it (authenticated by the network).
    pub peer: NodeId,
    /// From where.
    pub remote: SocketAddr,
    /// The encoded request.
    pub body: Vec<u8>,
    /// Where the answer goes.
    pub reply: Box<dyn Reply>,
}

impl std::fmt::Debug for IncomingCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingCall")
            .field("peer", &self.peer)
            .field("remote", &self.remote)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The node's incoming side of the network.
pub trait Incoming: Send + 'static {
    /// The next incoming call; `None` once the network is closed.
    fn next(&mut self) -> BoxFuture<'_, Option<IncomingCall>>;
}
