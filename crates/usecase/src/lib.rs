//! Use cases of tacnode: bootstrap, send, receive and store-and-forward
//! through mailboxes, orchestrated through the cores and ports.
//!
//! - [`challenge`]: mailbox ownership challenges (holder side) and proofs.
//! - [`conversation`]: end-to-end state with one peer (sessions, X3DH header
//!   repeated until answered, simultaneous initiation).
//! - [`delivery`]: sans-IO retry schedule of outgoing messages (direct
//!   attempts with backoff, mailbox fallback, give-up).

pub mod challenge;
pub mod conversation;
pub mod delivery;
