//! The messages of the gossip layer (epidemic broadcast trees, "Plumtree"),
//! as data: what one node sends a neighbour in one overlay.
//!
//! An overlay is named by a [`Topic`] (a group's id, or the network-wide
//! announcement topic). A broadcast is named by a [`GossipId`] its origin
//! derives from the payload, so a repeated copy is recognised without
//! reading it. The payload is opaque here: the group layer encrypts and
//! signs it before it is gossiped.

use std::fmt;

/// Length of a [`GossipId`].
pub const GOSSIP_ID_LEN: usize = 16;

/// Length of a [`Topic`].
pub const TOPIC_LEN: usize = 32;

/// Largest payload one broadcast carries (a group message with its
/// signature and header; long texts travel as several).
pub const MAX_GOSSIP_PAYLOAD: usize = 16 * 1024;

/// Most ids one announcement ([`GossipMessage::IHave`]) or one request for
/// missing broadcasts ([`GossipMessage::Graft`]) names.
pub const MAX_GOSSIP_IDS: usize = 256;

/// Most hops a broadcast is forwarded; a push with a larger round is
/// refused (it can only come from a loop or a faulty neighbour).
pub const MAX_GOSSIP_ROUND: u32 = 64;

/// Names one broadcast: the first 16 bytes of a hash its origin computes
/// over the payload.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GossipId(pub [u8; GOSSIP_ID_LEN]);

impl fmt::Debug for GossipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GossipId(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// Names one overlay: the nodes that forward each other one group's
/// messages (its id), or every node of the network for announcements.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(pub [u8; TOPIC_LEN]);

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
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
        /// The broadcast's id.
        id: GossipId,
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
