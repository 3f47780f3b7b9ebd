//! An open connection to a peer as the network port reports it: where the
//! peer is, how far away (the round-trip time) and by which path.

use std::net::SocketAddr;
use std::time::Duration;

use crate::id::NodeId;
use crate::keys::IdentityKey;

/// How a connection reaches its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionPath {
    /// Straight to the peer's address (the only path today; relayed
    /// connections will be a second case).
    Direct,
}

impl ConnectionPath {
    /// The word operators read (`direct`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionPath::Direct => "direct",
        }
    }
}

/// One open, authenticated connection to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConnection {
    /// The peer (authenticated by the network).
    pub peer: NodeId,
    /// Its identity key, which the connection authenticated (`peer` is its
    /// node id).
    pub identity: IdentityKey,
    /// The peer's address as this connection sees it.
    pub remote: SocketAddr,
    /// The connection's current estimate of the round-trip time.
    pub rtt: Duration,
    /// Direct or not.
    pub path: ConnectionPath,
}
