//! Which members of a group one member links to in the group's overlay.
//!
//! Each member prefers the members whose rendezvous hash with it (SHA-256
//! of group, both ids) is smallest, takes the first [`GROUP_DEGREE`] it can
//! reach, and accepts links from others up to [`MAX_GROUP_NEIGHBOURS`].
//! The choice needs no coordination, is stable while the member set is, and
//! spreads links evenly: a random graph of degree about twice
//! [`GROUP_DEGREE`], connected with overwhelming probability.

use sha2::{Digest, Sha256};
use tacnode_domain::NodeId;
use tacnode_domain::gossip::Topic;

/// Links each member opens in a group's overlay.
pub const GROUP_DEGREE: usize = 2;

/// Most links a member keeps in one overlay (those it opened and those
/// opened to it): a sender's uplink carries a payload at most this many
/// times.
pub const MAX_GROUP_NEIGHBOURS: usize = 8;

/// `member`'s rendezvous rank of `peer` in `topic`: smaller is preferred.
pub fn rank(topic: &Topic, member: &NodeId, peer: &NodeId) -> [u8; 32] {
    let (a, b) = if member <= peer {
        (member, peer)
    } else {
        (peer, member)
    };
    let mut h = Sha256::new();
    h.update(b"tacnode group neighbour v1");
    h.update(topic.0);
    h.update(a.as_bytes());
    h.update(b.as_bytes());
    h.finalize().into()
}

/// `candidates` (other members `member` could reach now) in the order
/// `member` prefers them.
pub fn preferred(topic: &Topic, member: &NodeId, candidates: &[NodeId]) -> Vec<NodeId> {
    let mut ranked: Vec<([u8; 32], NodeId)> = candidates
        .iter()
        .filter(|c| *c != member)
        .map(|c| (rank(topic, member, c), *c))
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, c)| c).collect()
}
