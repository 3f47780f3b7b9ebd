//! The node's view of the [`PeerNetwork`] port: typed [`Message`]s instead
//! of bytes, and an error answer turned into [`CallError::Refused`].

use std::net::{IpAddr, SocketAddr};
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

/// Told of every answer: who answered, and what it is stamped with. The
/// node notes it (see [`super::peer_clocks`], [`super::peer_sightings`]
/// and [`crate::observed_address`]).
pub(crate) type AnswerHeard = Arc<dyn Fn(&Heard) + Send + Sync>;

/// An answer as [`AnswerHeard`] is told of it.
pub(crate) struct Heard {
    /// Who answered (TLS authenticated it).
    pub(crate) peer: NodeId,
    /// The IP address we called it at, when every address we gave the
    /// network has the same one (or we did not dial: `None`).
    pub(crate) peer_ip: Option<IpAddr>,
    /// Its clock, if stamped.
    pub(crate) time: Option<UnixMillis>,
    /// Where it saw our request come from, if it said.
    pub(crate) observed: Option<SocketAddr>,
}

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
        let peer_ip = addrs
            .first()
            .map(SocketAddr::ip)
            .filter(|ip| addrs.iter().all(|a| a.ip() == *ip));
        (self.heard)(&Heard {
            peer,
            peer_ip,
            time: answer.time,
            observed: answer.observed,
        });
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

    /// Dials `peer` back at `address` over a new connection (see
    /// [`PeerNetwork::dial_back`]).
    pub(crate) async fn dial_back(
        &self,
        peer: NodeId,
        address: SocketAddr,
    ) -> Result<(), CallError> {
        self.network.dial_back(peer, address).await
    }

    /// Puts `admission` in force for every handshake and connection.
    pub(crate) fn set_admission(&self, admission: Arc<tacnode_domain::Admission>) {
        self.network.set_admission(admission);
    }

    /// Closes and drops the connections to `peer`: the next call dials
    /// afresh (see [`PeerNetwork::forget`]).
    pub(crate) fn forget(&self, peer: NodeId) {
        self.network.forget(peer);
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
