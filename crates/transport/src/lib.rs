//! QUIC transport for tacnode (to come): one quinn endpoint per node, mutual
//! TLS 1.3 with ephemeral certificates bound to the node's Ed25519 identity,
//! one connection per peer, and request/response streams framed by
//! `tacnode-messaging`.
