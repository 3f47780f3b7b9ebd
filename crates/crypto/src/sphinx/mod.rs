//! Sphinx onion packets (Danezis and Goldberg, "Sphinx: A Compact and
//! Provably Secure Mix Format", 2009), sans I/O.
//!
//! A sender wraps a payload for a path of up to [`MAX_HOPS`] nodes (relays,
//! then the destination). Each node peels one layer with its X25519 secret
//! ([`SphinxPacket::process`]) and learns only its predecessor (from the
//! connection), its successor and how long to hold the packet. Every packet
//! is [`PACKET_LEN`] bytes at every hop, whatever the path length, and both
//! its header and body change completely at each hop, so two hops cannot
//! tell they carried the same packet from its bytes.
//!
//! - The header: a group element `alpha` (blinded at each hop, so it is not
//!   linkable either), the routing information `beta` (one [`HOP_LEN`]-byte
//!   slot per hop, shifted and refilled at each hop) and `gamma`, a MAC over
//!   `beta` under the hop's key. A node checks the MAC before anything else.
//! - The body: [`BODY_LEN`] bytes under a LIONESS wide-block cipher, one
//!   layer per hop. A change anywhere turns the whole payload into noise,
//!   which the destination detects (its first [`BODY_CHECK_LEN`] bytes must
//!   be zero) and drops: no hop can tag a body and recognise it later.
//! - Replays: each hop's shared secret gives a [`ReplayTag`]; a node
//!   processes a packet only if its [`ReplayCache`] has not seen the tag.
//! - Replies: a [`ReplyBlock`] (a single-use reply block, SURB) lets a node
//!   answer someone it cannot address: the creator keeps the
//!   [`ReplyOpener`], hands the block out inside a payload, and the replier
//!   seals an answer with it ([`ReplyBlock::seal`]). On the wire a reply is
//!   an ordinary packet.
//!
//! Construction: X25519 (Curve25519's Montgomery form; nodes use their
//! ordinary device secrets, clamped), blinding factors and keys from
//! HKDF-SHA-256, the header stream and the LIONESS stream rounds are
//! ChaCha20, the MACs and the LIONESS hash rounds HMAC-SHA-256.

mod header;
mod hop_secrets;
mod lioness;
mod packet;
mod replay_cache;
mod reply_block;
mod routing;
#[cfg(test)]
mod tests;

pub use packet::{Processed, SphinxPacket, create_packet};
pub use replay_cache::{MAX_REPLAY_TAGS, ReplayCache, ReplayTag};
pub use reply_block::{REPLY_BLOCK_LEN, ReplyBlock, ReplyBody, ReplyId, ReplyOpener};
pub use routing::PathHop;

/// Bytes of every onion packet, at every hop.
///
/// One packet fits one QUIC datagram on any path: QUIC guarantees 1,200
/// bytes of UDP payload, and its short header, AEAD tag and stream frame
/// take well under 100. On a 64 kbit/s radio link a packet takes 128 ms per
/// hop, and a 2 kbit/s cover budget is one packet every 4.1 s.
pub const PACKET_LEN: usize = tacnode_domain::onion::ONION_PACKET_LEN;
/// Most nodes on a path, the destination included (five relays and the
/// destination).
pub const MAX_HOPS: usize = 6;
/// Bytes naming the next node: its node id.
pub const ADDRESS_LEN: usize = 32;
/// Bytes of the group element at the head of a packet.
pub const ALPHA_LEN: usize = 32;
/// Bytes of a header MAC (HMAC-SHA-256, truncated).
pub const MAC_LEN: usize = 16;
/// Bytes of one hop's routing instruction: kind, address, delay.
pub const ROUTING_LEN: usize = 1 + ADDRESS_LEN + 2;
/// Bytes of one hop's slot in the routing information: its instruction and
/// the MAC of the next header.
pub const HOP_LEN: usize = ROUTING_LEN + MAC_LEN;
/// Bytes of the routing information (`beta`).
pub const BETA_LEN: usize = MAX_HOPS * HOP_LEN;
/// Bytes of the header: `alpha`, `gamma`, `beta`.
pub const HEADER_LEN: usize = ALPHA_LEN + MAC_LEN + BETA_LEN;
/// Bytes of the body.
pub const BODY_LEN: usize = PACKET_LEN - HEADER_LEN;
/// Zero bytes at the head of a plaintext body, checked by the destination.
pub const BODY_CHECK_LEN: usize = 16;
/// Largest payload a packet carries: the body less its zero check and a
/// two-byte length.
pub const MAX_PAYLOAD_LEN: usize = BODY_LEN - BODY_CHECK_LEN - 2;
/// Granularity of a hop's delay on the wire.
pub const DELAY_UNIT_MS: u32 = 10;
/// Longest delay one hop can be asked to hold a packet (about 11 minutes).
pub const MAX_DELAY_MS: u32 = u16::MAX as u32 * DELAY_UNIT_MS;

/// A packet or reply block could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// A path needs at least its destination.
    #[error("an onion path needs at least one node (the destination)")]
    EmptyPath,
    /// More nodes than a header has slots for.
    #[error(
        "an onion path of {hops} nodes is longer than the {max} a header holds; use fewer relays"
    )]
    PathTooLong {
        /// Nodes asked for.
        hops: usize,
        /// [`MAX_HOPS`].
        max: usize,
    },
    /// More payload than a body holds.
    #[error("a payload of {len} bytes does not fit one onion packet (at most {max}); split it")]
    PayloadTooLong {
        /// Bytes given.
        len: usize,
        /// [`MAX_PAYLOAD_LEN`].
        max: usize,
    },
    /// A hop's delay does not fit the wire's field.
    #[error("a hop delay of {delay_ms} ms is longer than the {max} ms a header can ask for")]
    DelayTooLong {
        /// Delay asked for.
        delay_ms: u32,
        /// [`MAX_DELAY_MS`].
        max: u32,
    },
    /// A node's public key is a low-order point: no secret could be shared
    /// with it. Its record is bad; leave it out of paths.
    #[error("onion hop {hop} has a low-order public key; choose another node")]
    LowOrderKey {
        /// Position of the node on the path.
        hop: usize,
    },
}

/// A packet was refused by the node processing it. A refused packet is
/// dropped; none of these is worth an answer (an answer would tell a prober
/// something).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// Not [`PACKET_LEN`] bytes.
    #[error("an onion packet is {expected} bytes, this one {actual}")]
    WrongLength {
        /// Bytes received.
        actual: usize,
        /// [`PACKET_LEN`].
        expected: usize,
    },
    /// The packet's group element is a low-order point.
    #[error("the onion packet's group element is a low-order point")]
    LowOrderElement,
    /// The header MAC does not verify: not for this node, or altered.
    #[error("the onion header's MAC does not verify (not for this node's key, or altered)")]
    BadMac,
    /// This node processed the same packet before.
    #[error("the onion packet was processed before (replay)")]
    Replayed,
    /// The replay cache is full of live tags; packets are refused until
    /// tags expire (or the onion key is rotated).
    #[error("the onion replay cache holds {max} live tags; refusing packets until some expire")]
    ReplayCacheFull {
        /// [`MAX_REPLAY_TAGS`].
        max: usize,
    },
    /// The routing instruction has a kind this node does not know.
    #[error("the onion routing instruction has unknown kind {kind}")]
    UnknownRouting {
        /// The kind byte.
        kind: u8,
    },
    /// The body was altered on the way (its zero check failed at the
    /// destination), or its length field is out of range.
    #[error("the onion packet's body was altered on the way")]
    Tampered,
}

/// A reply block could not be read or a reply not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// Not [`REPLY_BLOCK_LEN`] bytes.
    #[error("a reply block is {expected} bytes, this one {actual}")]
    WrongLength {
        /// Bytes received.
        actual: usize,
        /// [`REPLY_BLOCK_LEN`].
        expected: usize,
    },
    /// The reply names another reply block than this opener's.
    #[error("the reply is for another reply block")]
    OtherReply,
    /// The reply's body was altered on the way.
    #[error("the reply's body was altered on the way")]
    Tampered,
    /// The answer does not fit a reply.
    #[error("an answer of {len} bytes does not fit a reply (at most {max}); shorten it")]
    PayloadTooLong {
        /// Bytes given.
        len: usize,
        /// [`MAX_PAYLOAD_LEN`].
        max: usize,
    },
}
