//! Team channels: one member's end of a group ([`GroupChannel`]), sans-IO.
//!
//! - Membership: the CRDT of signed operations of `tacnode_domain::group`;
//!   an added member is invited with every operation, in the pairwise
//!   session.
//! - Crypto: sender keys (`tacnode_crypto::group`): each member encrypts
//!   with its own chain and signs with the chain's key; chains travel in
//!   the pairwise Double Ratchet sessions and turn over when anyone leaves
//!   the view.
//! - Dissemination: a group's members form an overlay (each links to its
//!   [`neighbours::GROUP_DEGREE`] preferred reachable members) over which
//!   an epidemic broadcast tree (`tacnode-gossip`) carries each broadcast
//!   once per member. A member that was away (offline, or on the other side
//!   of a partition) compares summaries with its neighbours when it links
//!   again, and asks for what it missed.

mod channel;
mod error;
pub mod neighbours;
pub mod pickle;

pub use channel::{
    GROUP_CHAIN_MAX_AGE_MS, GroupChannel, GroupDelivery, GroupOutput, MAX_CHAINS_PER_MEMBER,
    MAX_WAITING_DISTRIBUTIONS, MAX_WAITING_MESSAGES,
};
pub use error::GroupError;
pub use pickle::GroupPickleError;
