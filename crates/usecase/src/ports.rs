//! Ports of the node: what [`crate::node::Node`] needs from the outside
//! world, each implemented twice: by the daemon's adapters (QUIC, the system
//! clock) and by the simulator's (a simulated network, a virtual clock with
//! a per-node offset).
//!
//! The futures are boxed so that the node holds its ports as trait objects:
//! one `Node` type serves every implementation, and a boxed future per
//! network call costs nothing next to a network round trip.

pub use tacnode_domain::ports::{
    BeaconSendError, BoxFuture, CallError, Clock, FileError, FileStamp, HeardDatagram, Incoming,
    IncomingCall, LanBeacon, PeerNetwork, Reply, TransferFiles,
};
