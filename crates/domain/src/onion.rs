//! Onion routing as the wire sees it: one packet size, and what a packet's
//! payload is at its destination.
//!
//! The packet format (Sphinx) is the crypto crate's; the node chooses
//! paths and relays packets.

/// Bytes of every onion packet at every hop (the Sphinx packet of the
/// crypto crate): one fits one QUIC datagram on any path, and takes 128 ms
/// per hop on a 64 kbit/s radio link.
pub const ONION_PACKET_LEN: usize = 1024;

/// The first byte of an onion payload: what the rest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OnionPayloadKind {
    /// Mail for the destination itself: a sealed-sender message, encoded
    /// as a mailbox entry's payload (its sender sealed to the
    /// destination's device key).
    Mail = 1,
    /// A loop cover packet: sent by the destination itself through relays
    /// back to itself; carries nothing else but a random tag its sender
    /// remembers.
    Loop = 2,
    /// A mailbox deposit for the destination, a mailbox holder, to keep
    /// for the recipient it names: the holder learns the mailbox and the
    /// size, not who deposited.
    Deposit = 3,
    /// A request to the destination, a node holding DHT records, for the
    /// prekeys it holds under a key: the key (32 bytes), then a reply
    /// block (the crypto crate's) the answer goes back with. The holder
    /// learns whose prekeys are asked for, not who asks.
    PrekeyRequest = 4,
}

impl OnionPayloadKind {
    /// The kind named by `byte`, if any.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Mail),
            2 => Some(Self::Loop),
            3 => Some(Self::Deposit),
            4 => Some(Self::PrekeyRequest),
            _ => None,
        }
    }
}
