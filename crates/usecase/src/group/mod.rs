//! Team channels: one member's end of a group ([`GroupChannel`]), sans-IO.
//!
//! A group's members form an overlay (each links to its
//! [`neighbours::GROUP_DEGREE`] preferred reachable members) over which an
//! epidemic broadcast tree (`tacnode-gossip`) carries each message once per
//! member. A member that was away (offline, or on the other side of a
//! partition) is told what its neighbours hold when it links again, and
//! asks for what it missed.

mod channel;
mod error;
pub mod neighbours;
mod payload;

pub use channel::{GroupChannel, GroupDelivery, GroupOutput};
pub use error::GroupError;
