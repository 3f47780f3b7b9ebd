//! Use cases of tacnode: every behaviour of the node, over ports.
//!
//! - [`node`]: the node itself (send, receive, serve requests, mailbox
//!   holder and fetch, maintenance, DHT driving), generic over the
//!   [`ports`] so that the daemon runs it over QUIC and the simulator over a
//!   simulated network, unmodified.
//! - [`ports`]: what the node needs from the outside world.
//! - [`announcements`]: signed alerts and service advertisements for the
//!   whole network over its gossip overlay.
//! - [`challenge`]: mailbox ownership challenges (holder side) and proofs.
//! - [`config_rules`]: the ranges a node's configuration must respect and
//!   how a pre-shared peer is written.
//! - [`conversation`]: end-to-end state with one peer (sessions, X3DH header
//!   repeated until answered, simultaneous initiation).
//! - [`delivery`]: sans-IO retry schedule of outgoing messages (direct
//!   attempts with backoff, mailbox fallback, give-up).
//! - [`discovery`]: sans-IO LAN discovery (when to send a signed beacon,
//!   which heard beacons name a peer worth dialling).
//! - [`group`]: team channels, one member's end of a group over a gossip
//!   overlay.
//! - [`prekey_quota`]: how many one-time prekeys are handed out, to whom
//!   and how fast.

pub mod announcements;
pub mod challenge;
pub mod config_rules;
pub mod conversation;
pub mod cover_schedule;
pub mod delivery;
pub mod dial_back_quota;
pub mod discovery;
pub mod file_transfer;
pub mod group;
pub mod lookup_region;
pub mod loop_tags;
pub mod node;
pub mod observed_address;
pub mod onion_path;
pub mod ports;
pub mod prekey_quota;
pub mod relay_reservations;
pub mod relayed_nonces;
pub mod requester_quota;
