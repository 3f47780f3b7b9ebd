//! How many one-time prekeys the node hands out, to whom and how fast.
//!
//! A prekey bundle request is unauthenticated at the protocol level (any
//! TLS-authenticated peer may ask), and every one-time prekey handed out is
//! reserved for its initiator for days. Without a limit a peer could drain
//! the pool with a loop of requests: every later initiator would then get a
//! bundle without a one-time prekey (X3DH still works, with weaker
//! protection of its first message), and refills would grow the store.
//!
//! The quota is a sliding window: each requester gets at most
//! [`MAX_ONE_TIME_PREKEYS_PER_REQUESTER`] one-time prekeys per
//! [`ONE_TIME_PREKEY_WINDOW_MS`], and all requesters together at most
//! [`MAX_ONE_TIME_PREKEYS_PER_WINDOW`]. Past it the bundle is still handed
//! out, without a one-time prekey, so a session can always start.

use tacnode_domain::{NodeId, UnixMillis};

use crate::requester_quota::RequesterQuota;

/// Length of the sliding window.
pub const ONE_TIME_PREKEY_WINDOW_MS: u64 = 10 * 60 * 1000;
/// One-time prekeys one requester gets per window.
pub const MAX_ONE_TIME_PREKEYS_PER_REQUESTER: usize = 2;
/// One-time prekeys all requesters together get per window.
pub const MAX_ONE_TIME_PREKEYS_PER_WINDOW: usize = 32;

/// The one-time prekeys handed out in the current window.
#[derive(Debug)]
pub struct OneTimePrekeyQuota(RequesterQuota);

impl Default for OneTimePrekeyQuota {
    fn default() -> Self {
        Self::new()
    }
}

impl OneTimePrekeyQuota {
    /// An empty window.
    pub fn new() -> Self {
        Self(RequesterQuota::new(
            ONE_TIME_PREKEY_WINDOW_MS,
            MAX_ONE_TIME_PREKEYS_PER_REQUESTER,
            MAX_ONE_TIME_PREKEYS_PER_WINDOW,
        ))
    }

    /// Whether `requester` may have one at `now`; if so, it is counted.
    pub fn take(&mut self, now: UnixMillis, requester: NodeId) -> bool {
        self.0.take(now, requester)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> NodeId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        NodeId::from_bytes(b)
    }

    /// A loop of bundle requests from one peer gets two one-time prekeys
    /// per window, however long it runs (issue #13, finding 7).
    #[test]
    fn one_requester_cannot_drain_the_pool() {
        let mut q = OneTimePrekeyQuota::new();
        let granted = (0..1000u64)
            .filter(|i| q.take(UnixMillis(*i), id(1)))
            .count();
        assert_eq!(granted, MAX_ONE_TIME_PREKEYS_PER_REQUESTER);
        // Others are not affected by it.
        assert!(q.take(UnixMillis(1000), id(2)));
        // The window slides: the first requester gets more later.
        assert!(q.take(UnixMillis(ONE_TIME_PREKEY_WINDOW_MS + 1), id(1)));
    }

    /// Many requesters (a Sybil flood) share one cap per window.
    #[test]
    fn all_requesters_together_are_capped_per_window() {
        let mut q = OneTimePrekeyQuota::new();
        let granted = (0..1000u32)
            .filter(|i| q.take(UnixMillis(u64::from(*i)), id(*i)))
            .count();
        assert_eq!(granted, MAX_ONE_TIME_PREKEYS_PER_WINDOW);
        assert!(!q.take(UnixMillis(ONE_TIME_PREKEY_WINDOW_MS - 1), id(5000)));
        assert!(q.take(UnixMillis(ONE_TIME_PREKEY_WINDOW_MS + 1000), id(5000)));
    }
}
