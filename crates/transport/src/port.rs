//! The node's network ports ([`PeerNetwork`], [`Incoming`]) over this
//! transport: the daemon's implementation of them (the simulator's is in
//! `crates/sim`).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use tacnode_domain::ports::{BoxFuture, CallError, Incoming, IncomingCall, PeerNetwork, Reply};
use tacnode_domain::{NodeId, PeerConnection};

use crate::{Inbound, InboundEvent, RequestError, Responder, Transport};

/// [`PeerNetwork`] over the node's QUIC endpoint.
///
/// The transport sits behind a lock so that [`PeerNetwork::close`] can drop
/// the node's reference: the UDP port is free again once the node shut
/// down, even while handles to the node still exist.
pub struct QuicNetwork {
    transport: RwLock<Option<Transport>>,
    local: SocketAddr,
}

impl QuicNetwork {
    /// Wraps a bound transport.
    pub fn new(transport: Transport, local: SocketAddr) -> Arc<QuicNetwork> {
        Arc::new(QuicNetwork {
            transport: RwLock::new(Some(transport)),
            local,
        })
    }

    fn transport(&self) -> Option<Transport> {
        self.transport
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// What the node needs to know of a transport failure.
fn call_error(e: RequestError) -> CallError {
    match e {
        RequestError::Closed => CallError::Closed,
        RequestError::Timeout => CallError::Timeout,
        other => CallError::Unreachable(other.to_string()),
    }
}

impl PeerNetwork for QuicNetwork {
    fn call<'a>(
        &'a self,
        peer: NodeId,
        addrs: &'a [SocketAddr],
        request: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, CallError>> {
        Box::pin(async move {
            let transport = self.transport().ok_or(CallError::Closed)?;
            transport
                .request(peer, addrs, request)
                .await
                .map_err(call_error)
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn dial_back(&self, peer: NodeId, address: SocketAddr) -> BoxFuture<'_, Result<(), CallError>> {
        Box::pin(async move {
            let transport = self.transport().ok_or(CallError::Closed)?;
            transport.dial_back(peer, address).await.map_err(call_error)
        })
    }

    fn connections(&self) -> Vec<PeerConnection> {
        self.transport()
            .map(|t| t.connections())
            .unwrap_or_default()
    }

    fn set_admission(&self, admission: Arc<tacnode_domain::Admission>) {
        if let Some(t) = self.transport() {
            t.set_admission(admission);
        }
    }

    fn forget(&self, peer: NodeId) {
        if let Some(t) = self.transport() {
            t.disconnect(peer);
        }
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let taken = self
                .transport
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(t) = taken {
                t.close().await;
            }
        })
    }
}

/// [`Incoming`] over the transport's inbound requests.
pub struct QuicIncoming(pub Inbound);

struct QuicReply(Responder);

impl Reply for QuicReply {
    fn send(self: Box<Self>, answer: Vec<u8>) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move { self.0.send(answer).await.map_err(|e| e.to_string()) })
    }
}

impl Incoming for QuicIncoming {
    fn next(&mut self) -> BoxFuture<'_, Option<IncomingCall>> {
        Box::pin(async move {
            loop {
                match self.0.recv().await? {
                    InboundEvent::Request {
                        peer,
                        peer_identity,
                        remote,
                        body,
                        reply,
                    } => {
                        return Some(IncomingCall {
                            peer,
                            peer_identity: *peer_identity,
                            remote,
                            body,
                            reply: Box::new(QuicReply(reply)),
                        });
                    }
                    InboundEvent::Push { peer, .. } => {
                        // Every exchange of this protocol is a request with
                        // an answer; unsolicited pushes are dropped unread,
                        // so a peer cannot make us spawn work without
                        // stream limits.
                        tracing::debug!(%peer, "dropped a push");
                    }
                }
            }
        })
    }
}
