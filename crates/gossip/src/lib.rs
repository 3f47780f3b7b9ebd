//! Sans-IO epidemic broadcast trees ("Plumtree", Leitão, Pereira and
//! Rodrigues, 2007) for tacnode: one [`Plumtree`] per overlay forwards each
//! broadcast once along a spanning tree that the pushes themselves carve out
//! of the neighbour graph, and announces it lazily (ids only) on the other
//! links, so a neighbour that misses a push asks for it and the tree heals.
//!
//! # Driving a [`Plumtree`]
//!
//! ```text
//! let mut tree = Plumtree::new(topic, PlumtreeConfig::default());
//! tree.neighbour_up(now, peer);                       // a link to a member opened
//! tree.broadcast(now, id, payload)?;                  // our own message
//! tree.handle_message(now, from, message)?;           // a neighbour's
//! loop {
//!     while let Some((to, message)) = tree.poll_transmit() { /* send */ }
//!     while let Some(event) = tree.poll_event() { /* Delivered: hand up */ }
//!     // sleep until tree.poll_timeout(), then tree.handle_timeout(now)
//! }
//! ```
//!
//! Bytes: a steady tree sends each payload once per member (one push per
//! tree edge); the other links carry one 16-byte id per broadcast, batched
//! every [`PlumtreeConfig::lazy_flush_ms`]. After a partition heals (or a
//! neighbour reconnects) each side announces the broadcasts it holds, so
//! what one half said reaches the other.
//!
//! The core never reads the clock: `now` is a parameter.

mod config;
mod error;
mod missing;
mod plumtree;
mod received;

pub use config::PlumtreeConfig;
pub use error::GossipError;
pub use missing::MAX_MISSING_BROADCASTS;
pub use plumtree::{GossipEvent, Plumtree};
pub use received::MAX_CACHED_BROADCASTS;
