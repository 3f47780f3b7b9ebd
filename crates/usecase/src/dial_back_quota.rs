//! How often a server dials requesters back to tell them whether they can
//! be reached.
//!
//! A dial-back costs the server a QUIC handshake and goes only to the
//! address the request came from (so it cannot be aimed at a third party),
//! but any authenticated peer may ask. So each requester gets at most
//! [`MAX_DIAL_BACKS_PER_REQUESTER`] per [`DIAL_BACK_WINDOW_MS`], and all
//! requesters together at most [`MAX_DIAL_BACKS_PER_WINDOW`]; past either
//! the request is refused as over quota.

use tacnode_domain::{NodeId, UnixMillis};

use crate::requester_quota::RequesterQuota;

/// Length of the sliding window.
pub const DIAL_BACK_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Dial-backs one requester gets per window.
pub const MAX_DIAL_BACKS_PER_REQUESTER: usize = 2;
/// Dial-backs all requesters together get per window.
pub const MAX_DIAL_BACKS_PER_WINDOW: usize = 64;

/// The dial-backs of the current window.
#[derive(Debug)]
pub struct DialBackQuota(RequesterQuota);

impl Default for DialBackQuota {
    fn default() -> Self {
        Self::new()
    }
}

impl DialBackQuota {
    /// An empty window.
    pub fn new() -> Self {
        Self(RequesterQuota::new(
            DIAL_BACK_WINDOW_MS,
            MAX_DIAL_BACKS_PER_REQUESTER,
            MAX_DIAL_BACKS_PER_WINDOW,
        ))
    }

    /// Whether `requester` may have one at `now`; if so, it is counted.
    pub fn take(&mut self, now: UnixMillis, requester: NodeId) -> bool {
        self.0.take(now, requester)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn id(n: u32) -> NodeId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        NodeId::from_bytes(b)
    }

    #[test]
    fn one_requester_and_all_together_are_limited_per_window() {
        let t = UnixMillis(1_700_000_000_000);
        let mut q = DialBackQuota::new();
        let granted = (0..100).filter(|_| q.take(t, id(1))).count();
        assert_eq!(granted, MAX_DIAL_BACKS_PER_REQUESTER);
        let others = (2..1000).filter(|n| q.take(t, id(*n))).count();
        assert_eq!(
            others + MAX_DIAL_BACKS_PER_REQUESTER,
            MAX_DIAL_BACKS_PER_WINDOW
        );
        // A window later, the requester may ask again.
        assert!(q.take(t.saturating_add_millis(DIAL_BACK_WINDOW_MS), id(1)));
    }
}
