//! The messages of the gossip layer (epidemic broadcast trees, "Plumtree"),
//! as data: what one node sends a neighbour in one overlay.
//!
//! An overlay is named by a [`Topic`] (the first 8 bytes of a group's id,
//! or the network-wide announcement topic). A broadcast is named by a
//! [`GossipId`] every node derives from the payload ([`gossip_id`]), so it
//! need not travel with it and cannot be chosen apart from it. The payload is opaque here: the group layer encrypts and
//! signs it before it is gossiped.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::byte_prefix::write_byte_prefix;

/// Length of a [`GossipId`].
pub const GOSSIP_ID_LEN: usize = 16;

/// Length of a [`Topic`]: 8 bytes name an overlay among the few a node
/// is in (a group's id cut to 8 bytes; finding a group whose id collides
/// with a given one is 2^64 work, and every payload is verified anyway).
pub const TOPIC_LEN: usize = 8;

/// Largest payload one broadcast carries (a group message with its
/// signature and header; long texts travel as several).
pub const MAX_GOSSIP_PAYLOAD: usize = 16 * 1024;

/// Most ids one announcement ([`GossipMessage::IHave`]) or one request for
/// missing broadcasts ([`GossipMessage::Graft`]) names.
pub const MAX_GOSSIP_IDS: usize = 256;

/// Most hops a broadcast is forwarded; a push with a larger round is
/// refused (it can only come from a loop or a faulty neighbour).
pub const MAX_GOSSIP_ROUND: u32 = 64;

/// Names one broadcast: [`gossip_id`] of its payload.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GossipId(pub [u8; GOSSIP_ID_LEN]);

impl fmt::Debug for GossipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_byte_prefix(f, "GossipId", &self.0, 4)
    }
}

/// Names one overlay: the nodes that forward each other one group's
/// messages (its id's first 8 bytes), or every node of the network for
/// announcements.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(pub [u8; TOPIC_LEN]);

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_byte_prefix(f, "Topic", &self.0, 4)
    }
}

/// The id of a broadcast of `payload`: SHA-256, cut to 16 bytes.
pub fn gossip_id(payload: &[u8]) -> GossipId {
    let mut h = Sha256::new();
    h.update(b"tacnode gossip id v1");
    h.update(payload);
    let digest: [u8; 32] = h.finalize().into();
    let mut id = [0u8; GOSSIP_ID_LEN];
    id.copy_from_slice(&digest[..GOSSIP_ID_LEN]);
    GossipId(id)
}

/// One broadcast id as announced: the id and how many hops the announcer
/// was from the origin (a repairing node grafts the announcer).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Announced {
    /// The broadcast.
    pub id: GossipId,
    /// Hops from the origin to the announcer.
    pub round: u32,
}

/// What one node sends a neighbour in one overlay.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum GossipMessage {
    /// A broadcast, pushed eagerly along the tree.
    Push {
        /// The overlay.
        topic: Topic,
        /// Hops from the origin (0 when the origin sends it).
        round: u32,
        /// The opaque payload, at most [`MAX_GOSSIP_PAYLOAD`] bytes.
        payload: Vec<u8>,
    },
    /// "I have these": sent lazily to the neighbours off the tree, and to a
    /// neighbour that comes back, so it can ask for what it missed.
    IHave {
        /// The overlay.
        topic: Topic,
        /// At most [`MAX_GOSSIP_IDS`].
        ids: Vec<Announced>,
    },
    /// "Send me these, and push to me from now on": puts the sender back on
    /// the tree (an empty list only grafts).
    Graft {
        /// The overlay.
        topic: Topic,
        /// At most [`MAX_GOSSIP_IDS`].
        ids: Vec<GossipId>,
    },
    /// "I had that already: announce to me lazily from now on".
    Prune {
        /// The overlay.
        topic: Topic,
    },
    /// What the sender holds, in 20 bytes: sent when a link opens. A
    /// neighbour holding something else answers with an [`Self::IHave`] of
    /// everything it holds, so two members that hold the same need not list
    /// it, and two that do not each learn what the other has.
    Summary {
        /// The overlay.
        topic: Topic,
        /// How many broadcasts the sender holds.
        count: u32,
        /// A digest of their ids (SHA-256 of the sorted ids, 16 bytes).
        digest: [u8; GOSSIP_ID_LEN],
    },
}

impl GossipMessage {
    /// The overlay this message belongs to.
    pub fn topic(&self) -> Topic {
        match self {
            Self::Push { topic, .. }
            | Self::IHave { topic, .. }
            | Self::Graft { topic, .. }
            | Self::Prune { topic }
            | Self::Summary { topic, .. } => *topic,
        }
    }
}
