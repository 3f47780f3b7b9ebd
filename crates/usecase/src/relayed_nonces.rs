//! The nonces of the relayed calls a node answered lately, so that a relay
//! playing a call again is refused.
//!
//! Clocks in the field drift by days, so a call carries no time to bound
//! its age by; the node remembers the last [`MAX_RELAYED_NONCES`] nonces
//! instead. A call older than that could be played again by its relay;
//! what it asks is then done again within the quotas that hold for any
//! call (every request of the protocol is idempotent: a delivery or a
//! group message is taken once, a file block is sent again at the cost of
//! the node's relay budget, a punch counts against its quota).

use std::collections::{HashSet, VecDeque};

use tacnode_domain::RELAY_NONCE_LEN;

/// Nonces remembered (16 bytes each, twice: about 130 KiB at most).
pub const MAX_RELAYED_NONCES: usize = 4_096;

/// The most recent nonces, oldest forgotten first.
#[derive(Debug, Default)]
pub struct RelayedNonces {
    order: VecDeque<[u8; RELAY_NONCE_LEN]>,
    seen: HashSet<[u8; RELAY_NONCE_LEN]>,
}

impl RelayedNonces {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes `nonce`; `false` when it was seen already (a replay).
    pub fn first_time(&mut self, nonce: [u8; RELAY_NONCE_LEN]) -> bool {
        if !self.seen.insert(nonce) {
            return false;
        }
        self.order.push_back(nonce);
        if self.order.len() > MAX_RELAYED_NONCES
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
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

    #[test]
    fn a_replay_is_refused_and_the_memory_is_bounded() {
        let mut r = RelayedNonces::new();
        assert!(r.first_time(nonce(1)));
        assert!(!r.first_time(nonce(1)));
        for n in 2..=(MAX_RELAYED_NONCES as u32 + 1) {
            assert!(r.first_time(nonce(n)));
        }
        assert_eq!(r.seen.len(), MAX_RELAYED_NONCES);
        // The oldest is forgotten; the newest are still refused.
        assert!(r.first_time(nonce(1)));
        assert!(!r.first_time(nonce(MAX_RELAYED_NONCES as u32 + 1)));
    }
}
