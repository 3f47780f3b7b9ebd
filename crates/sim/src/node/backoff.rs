//! Dial backoff as the QUIC transport keeps it (`crates/transport`,
//! `record_failure` and `backoff_delay`): a failed dial puts the peer in
//! exponential backoff with "equal jitter"; until it ends, a call that would
//! dial the peer fails at once (the transport's `BackingOff`, which its port
//! maps to `CallError::Unreachable`); the next call after it dials again. A
//! successful dial forgets the peer. The table belongs to one process: a
//! restarted node starts with an empty one.

use std::collections::HashMap;

use rand::RngExt;
use rand::rngs::StdRng;

/// First backoff after a failed dial (the transport's `backoff_base`), ms.
pub const DIAL_BACKOFF_BASE_MS: u64 = 250;
/// Longest backoff (the transport's `backoff_max`), ms.
pub const DIAL_BACKOFF_MAX_MS: u64 = 60_000;
/// Most peers remembered (the transport's `MAX_BACKOFF_ENTRIES`).
pub const MAX_BACKOFF_ENTRIES: usize = 4096;
/// Doublings after which the backoff stops growing however many dials
/// failed (the transport's shift cap).
const MAX_BACKOFF_DOUBLINGS: u32 = 30;

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    until_ms: u64,
}

/// One process's dial backoff, by peer index.
#[derive(Debug, Default)]
pub struct DialBackoff {
    peers: HashMap<u32, Entry>,
}

/// The backoff after `failures` failed dials in a row: uniformly in
/// `[d/2, d]` where `d = min(base × 2^(failures − 1), max)`, ms.
pub fn backoff_delay_ms(failures: u32, rng: &mut StdRng) -> u64 {
    let doublings = failures.saturating_sub(1).min(MAX_BACKOFF_DOUBLINGS);
    let full = DIAL_BACKOFF_BASE_MS
        .saturating_mul(1u64 << doublings)
        .min(DIAL_BACKOFF_MAX_MS);
    let half = full / 2;
    half + rng.random_range(0..=half)
}

impl DialBackoff {
    /// How long dials to `peer` are still refused at `now_ms`, if they are.
    pub fn remaining_ms(&self, peer: u32, now_ms: u64) -> Option<u64> {
        let entry = self.peers.get(&peer)?;
        (entry.until_ms > now_ms).then(|| entry.until_ms - now_ms)
    }

    /// A dial to `peer` failed at `now_ms`: it backs off for longer.
    pub fn failed(&mut self, peer: u32, now_ms: u64, rng: &mut StdRng) {
        if self.peers.len() >= MAX_BACKOFF_ENTRIES && !self.peers.contains_key(&peer) {
            self.peers.retain(|_, e| e.until_ms > now_ms);
            if self.peers.len() >= MAX_BACKOFF_ENTRIES {
                return;
            }
        }
        let failures = self
            .peers
            .get(&peer)
            .map_or(0, |e| e.failures)
            .saturating_add(1);
        let delay = backoff_delay_ms(failures, rng);
        self.peers.insert(
            peer,
            Entry {
                failures,
                until_ms: now_ms.saturating_add(delay),
            },
        );
    }

    /// A dial to `peer` succeeded: it is forgotten.
    pub fn succeeded(&mut self, peer: u32) {
        self.peers.remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn backoff_doubles_with_equal_jitter_up_to_the_cap() {
        let mut rng = StdRng::seed_from_u64(3);
        for failures in 1..40u32 {
            let full = (DIAL_BACKOFF_BASE_MS << (failures - 1).min(30)).min(DIAL_BACKOFF_MAX_MS);
            for _ in 0..50 {
                let d = backoff_delay_ms(failures, &mut rng);
                assert!(d >= full / 2 && d <= full, "{failures}: {d} of {full}");
            }
        }
    }

    #[test]
    fn a_failed_dial_refuses_dials_until_its_backoff_ends_and_success_forgets() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut table = DialBackoff::default();
        assert_eq!(table.remaining_ms(7, 0), None);
        table.failed(7, 1_000, &mut rng);
        let left = table.remaining_ms(7, 1_000).unwrap();
        assert!((DIAL_BACKOFF_BASE_MS / 2..=DIAL_BACKOFF_BASE_MS).contains(&left));
        assert_eq!(table.remaining_ms(7, 1_000 + left), None);
        assert_eq!(table.remaining_ms(8, 1_000), None);
        // The next failure backs off longer.
        table.failed(7, 2_000, &mut rng);
        assert!(table.remaining_ms(7, 2_000).unwrap() >= DIAL_BACKOFF_BASE_MS);
        table.succeeded(7);
        assert_eq!(table.remaining_ms(7, 2_000), None);
    }
}
