//! The nonces of the relayed calls a node answered lately, by caller, so
//! that a relay playing a call again is refused.
//!
//! Clocks in the field drift by days, so a call carries no time to bound
//! its age by; the node remembers each caller's last
//! [`MAX_NONCES_PER_CALLER`] nonces, for its [`MAX_CALLERS`] most recent
//! callers. Kept by caller, so nobody flushes another caller's nonces
//! with calls of its own (it would need as many identities, each admitted,
//! as there are callers remembered). A call older than that could be
//! played again by its relay; what it asks is then done again within the
//! quotas that hold for any call (every request of the protocol is
//! idempotent: a delivery or a group message is taken once, a file block
//! is sent again at the cost of the node's relay budget, a punch counts
//! against its quota).

use std::collections::{HashMap, VecDeque};

use tacnode_domain::{NodeId, RELAY_NONCE_LEN};

/// Nonces remembered per caller.
pub const MAX_NONCES_PER_CALLER: usize = 256;
/// Callers whose nonces are remembered (the least recent forgotten first):
/// at most 256 × 256 × 16 bytes, 1 MiB.
pub const MAX_CALLERS: usize = 256;

/// The most recent nonces of the most recent callers.
#[derive(Debug, Default)]
pub struct RelayedNonces {
    by_caller: HashMap<NodeId, VecDeque<[u8; RELAY_NONCE_LEN]>>,
    /// Callers, least recent first.
    callers: VecDeque<NodeId>,
}

impl RelayedNonces {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes `caller`'s `nonce`; `false` when it was seen already (a
    /// replay).
    pub fn first_time(&mut self, caller: NodeId, nonce: [u8; RELAY_NONCE_LEN]) -> bool {
        if let Some(i) = self.callers.iter().position(|c| *c == caller) {
            self.callers.remove(i);
        }
        self.callers.push_back(caller);
        if self.callers.len() > MAX_CALLERS
            && let Some(old) = self.callers.pop_front()
        {
            self.by_caller.remove(&old);
        }
        let seen = self.by_caller.entry(caller).or_default();
        if seen.contains(&nonce) {
            return false;
        }
        seen.push_back(nonce);
        if seen.len() > MAX_NONCES_PER_CALLER {
            seen.pop_front();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn nonce(n: u32) -> [u8; RELAY_NONCE_LEN] {
        let mut b = [0u8; RELAY_NONCE_LEN];
        b[..4].copy_from_slice(&n.to_be_bytes());
        b
    }

    fn id(n: u32) -> NodeId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        NodeId::from_bytes(b)
    }

    #[test]
    fn a_replay_is_refused_and_one_caller_cannot_flush_another() {
        let mut r = RelayedNonces::new();
        assert!(r.first_time(id(1), nonce(1)));
        assert!(!r.first_time(id(1), nonce(1)));
        // The same nonce from another caller is another call.
        assert!(r.first_time(id(2), nonce(1)));
        // Caller 2 floods with its own calls: caller 1's nonce stays.
        for n in 2..10_000 {
            assert!(r.first_time(id(2), nonce(n)));
        }
        assert!(!r.first_time(id(1), nonce(1)));
        // Caller 1's own oldest are forgotten past its share.
        for n in 2..=(MAX_NONCES_PER_CALLER as u32 + 1) {
            assert!(r.first_time(id(1), nonce(n)));
        }
        assert!(r.first_time(id(1), nonce(1)));
        // Memory is bounded by callers too.
        for c in 10..(10 + MAX_CALLERS as u32 + 5) {
            r.first_time(id(c), nonce(0));
        }
        assert!(r.by_caller.len() <= MAX_CALLERS);
        assert_eq!(r.callers.len(), r.by_caller.len());
    }
}
