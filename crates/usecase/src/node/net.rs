//! The node's view of the [`PeerNetwork`] port: typed [`Message`]s instead
//! of bytes, and an error answer turned into [`CallError::Refused`].

use std::net::SocketAddr;
use std::sync::Arc;

use tacnode_domain::{NodeId, PeerConnection, UnixMillis};
use tacnode_messaging::Message;

use crate::ports::{CallError, PeerNetwork};

/// Typed request/response over the network port.
#[derive(Clone)]
pub(crate) struct Net {
    network: Arc<dyn PeerNetwork>,
    heard: AnswerHeard,
}

/// Told of every answer: who answered and the clock stamped on it, if any.
/// The node notes both (see [`super::peer_clocks`] and
/// [`super::peer_sightings`]).
pub(crate) type AnswerHeard = Arc<dyn Fn(NodeId, Option<UnixMillis>) + Send + Sync>;

impl Net {
    pub(crate) fn new(network: Arc<dyn PeerNetwork>, heard: AnswerHeard) -> Net {
        Net { network, heard }
    }

    /// Sends `msg` to `peer` (dialling one of `addrs` if not connected) and
    /// returns its answer; an error answer becomes [`CallError::Refused`].
    pub(crate) async fn call(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        msg: &Message,
    ) -> Result<Message, CallError> {
        let bytes = self.network.call(peer, addrs, msg.encode()).await?;
        let answer =
            Message::decode_answer(&bytes).map_err(|e| CallError::BadAnswer(e.to_string()))?;
        (self.heard)(peer, answer.time);
        match answer.message {
            Message::Error { code, detail } => Err(CallError::Refused { code, detail }),
            m => Ok(m),
        }
    }

    /// Where the network listens.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.network.local_addr()
    }

    /// Peers with an open, authenticated connection.
    pub(crate) fn connected_peers(&self) -> Vec<NodeId> {
        self.network.connected_peers()
    }

    /// Puts `admission` in force for every handshake and connection.
    pub(crate) fn set_admission(&self, admission: Arc<tacnode_domain::Admission>) {
        self.network.set_admission(admission);
    }

    /// Each open, authenticated connection, with its round-trip time.
    pub(crate) fn connections(&self) -> Vec<PeerConnection> {
        self.network.connections()
    }

    /// Closes every connection and the endpoint.
    pub(crate) async fn close(&self) {
        self.network.close().await;
    }
}
