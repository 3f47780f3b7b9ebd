//! The node's view of the QUIC transport: typed [`Message`]s instead of bytes.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tacnode_crypto::Identity;
use tacnode_domain::NodeId;
use tacnode_domain::dht::RefusalCode;
use tacnode_messaging::{DecodeError, Message};
use tacnode_transport::{Inbound, Transport, TransportConfig};

use crate::config::Config;

/// A request to a peer failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NetError {
    /// The transport could not deliver it or got no answer.
    #[error("transport: {0}")]
    Transport(#[from] tacnode_transport::RequestError),
    /// The answer did not decode.
    #[error("bad answer: {0}")]
    Decode(#[from] DecodeError),
    /// The node is shutting down.
    #[error("the node is shut down")]
    Closed,
    /// The peer refused.
    #[error("refused ({code:?}): {detail}")]
    Refused {
        /// Why.
        code: RefusalCode,
        /// Detail.
        detail: String,
    },
}

/// Typed request/response over the node's QUIC endpoint.
///
/// The transport sits behind a lock so that [`Net::close`] can drop the
/// node's reference: the UDP port is free again once the node shut down,
/// even while handles to the node still exist.
#[derive(Clone)]
pub(crate) struct Net {
    transport: Arc<RwLock<Option<Transport>>>,
    local: SocketAddr,
}

impl Net {
    /// Binds the endpoint.
    pub(crate) async fn bind(
        config: &Config,
        identity: &Identity,
    ) -> anyhow::Result<(Net, Inbound)> {
        let t = &config.transport;
        let mut tc = TransportConfig::with_listen(config.node.listen);
        tc.max_connections = t.max_connections;
        tc.max_connections_per_ip = t.max_connections_per_ip;
        tc.max_concurrent_handshakes = t.max_incoming_handshakes;
        tc.max_streams_per_connection = t.max_streams_per_connection;
        tc.idle_timeout = Duration::from_millis(t.idle_timeout_ms);
        tc.keep_alive = Duration::from_millis(t.keep_alive_ms);
        tc.request_timeout = Duration::from_millis(t.request_timeout_ms);
        let (transport, inbound) = Transport::bind(tc, identity)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.node.listen))?;
        let local = transport
            .local_addr()
            .map_err(|e| anyhow::anyhow!("local address: {e}"))?;
        Ok((
            Net {
                transport: Arc::new(RwLock::new(Some(transport))),
                local,
            },
            inbound,
        ))
    }

    /// Sends `msg` to `peer` (dialling one of `addrs` if not connected) and
    /// returns its answer; an error answer becomes [`NetError::Refused`].
    pub(crate) async fn call(
        &self,
        peer: NodeId,
        addrs: &[SocketAddr],
        msg: &Message,
    ) -> Result<Message, NetError> {
        let transport = self.transport().ok_or(NetError::Closed)?;
        let bytes = transport.request(peer, addrs, msg.encode()).await?;
        match Message::decode(&bytes)? {
            Message::Error { code, detail } => Err(NetError::Refused { code, detail }),
            m => Ok(m),
        }
    }

    fn transport(&self) -> Option<Transport> {
        self.transport
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Where the endpoint listens.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Peers with an open, authenticated connection.
    pub(crate) fn connected_peers(&self) -> Vec<NodeId> {
        self.transport()
            .map(|t| t.connected_peers())
            .unwrap_or_default()
    }

    /// Closes every connection and the endpoint, and lets go of it.
    pub(crate) async fn close(&self) {
        let taken = self
            .transport
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = taken {
            t.close().await;
        }
    }
}
