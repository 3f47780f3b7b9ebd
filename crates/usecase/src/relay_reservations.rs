//! A relay's book of reservations: which nodes it passes calls to, and how
//! much it has passed to each lately.
//!
//! A node nobody can dial reserves at a server and renews before
//! [`RELAY_RESERVATION_TTL_MS`] runs out; the renewals also keep its
//! connection, and its NAT's mapping, open. A relay keeps at most
//! [`MAX_RELAY_RESERVATIONS`] and passes each node at most
//! [`MAX_RELAYED_BYTES_PER_WINDOW`] bytes (calls and answers together) per
//! [`RELAY_BYTES_WINDOW_MS`]: enough for a conversation and small files,
//! not for carrying a stranger's bulk traffic.

use std::collections::HashMap;

use tacnode_domain::{NodeId, UnixMillis};

/// Most reservations a relay keeps at once.
pub const MAX_RELAY_RESERVATIONS: usize = 64;
/// How long a reservation holds unless renewed.
pub const RELAY_RESERVATION_TTL_MS: u64 = 120_000;
/// The window relayed bytes are counted in.
pub const RELAY_BYTES_WINDOW_MS: u64 = 60_000;
/// Bytes passed to and from one reserved node per window (1 MiB a minute,
/// about 140 kbit/s).
pub const MAX_RELAYED_BYTES_PER_WINDOW: u64 = 1 << 20;

/// Why a relay does not reserve or pass a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RelayRefusal {
    /// Every reservation is taken.
    #[error(
        "this relay keeps {MAX_RELAY_RESERVATIONS} reservations already: reserve at another server"
    )]
    Full,
    /// The node called holds no (live) reservation here.
    #[error("no reservation here for that node: look its record up again")]
    NoReservation,
    /// The node called used its window's bytes.
    #[error("the node's relayed bytes for this minute are used up: try again later")]
    OverBudget,
}

#[derive(Clone, Copy, Debug)]
struct Reservation {
    expires: UnixMillis,
    window_start: UnixMillis,
    bytes: u64,
}

/// The reservations a relay keeps.
#[derive(Debug, Default)]
pub struct RelayReservations {
    held: HashMap<NodeId, Reservation>,
}

impl RelayReservations {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves (or renews) for `node` at `now`; how long it holds.
    pub fn reserve(&mut self, now: UnixMillis, node: NodeId) -> Result<u64, RelayRefusal> {
        self.held.retain(|_, r| r.expires > now);
        let expires = now.saturating_add_millis(RELAY_RESERVATION_TTL_MS);
        if let Some(r) = self.held.get_mut(&node) {
            r.expires = expires;
            return Ok(RELAY_RESERVATION_TTL_MS);
        }
        if self.held.len() >= MAX_RELAY_RESERVATIONS {
            return Err(RelayRefusal::Full);
        }
        self.held.insert(
            node,
            Reservation {
                expires,
                window_start: now,
                bytes: 0,
            },
        );
        Ok(RELAY_RESERVATION_TTL_MS)
    }

    /// Counts `bytes` passed to or from `node` at `now`, if its
    /// reservation holds and its window has room for them.
    pub fn charge(
        &mut self,
        now: UnixMillis,
        node: &NodeId,
        bytes: u64,
    ) -> Result<(), RelayRefusal> {
        let r = self
            .held
            .get_mut(node)
            .filter(|r| r.expires > now)
            .ok_or(RelayRefusal::NoReservation)?;
        if now.millis_since(r.window_start) >= RELAY_BYTES_WINDOW_MS {
            r.window_start = now;
            r.bytes = 0;
        }
        let total = r.bytes.saturating_add(bytes);
        if total > MAX_RELAYED_BYTES_PER_WINDOW {
            return Err(RelayRefusal::OverBudget);
        }
        r.bytes = total;
        Ok(())
    }

    /// Counts `bytes` of an answer passed back from `node` at `now`, even
    /// past the window's budget (the answer is here already): the node's
    /// next calls are refused until the window has room again. Nothing
    /// when its reservation ran out meanwhile.
    pub fn charge_answer(&mut self, now: UnixMillis, node: &NodeId, bytes: u64) {
        if let Some(r) = self.held.get_mut(node).filter(|r| r.expires > now) {
            if now.millis_since(r.window_start) >= RELAY_BYTES_WINDOW_MS {
                r.window_start = now;
                r.bytes = 0;
            }
            r.bytes = r.bytes.saturating_add(bytes);
        }
    }

    /// Live reservations at `now`.
    pub fn live(&self, now: UnixMillis) -> usize {
        self.held.values().filter(|r| r.expires > now).count()
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

    const T: UnixMillis = UnixMillis(1_700_000_000_000);

    #[test]
    fn reservations_are_bounded_expire_and_renew() {
        let mut book = RelayReservations::new();
        for n in 0..MAX_RELAY_RESERVATIONS as u32 {
            assert_eq!(book.reserve(T, id(n)), Ok(RELAY_RESERVATION_TTL_MS));
        }
        assert_eq!(book.reserve(T, id(999)), Err(RelayRefusal::Full));
        // A renewal is not a new reservation.
        assert!(book.reserve(T.saturating_add_millis(1), id(0)).is_ok());
        // The others run out; the renewed one holds.
        let later = T.saturating_add_millis(RELAY_RESERVATION_TTL_MS);
        assert_eq!(book.live(later), 1);
        assert!(book.charge(later, &id(0), 1).is_ok());
        assert_eq!(
            book.charge(later, &id(1), 1),
            Err(RelayRefusal::NoReservation)
        );
        assert!(book.reserve(later, id(999)).is_ok());
    }

    #[test]
    fn bytes_are_bounded_per_window() {
        let mut book = RelayReservations::new();
        book.reserve(T, id(1)).unwrap();
        book.charge(T, &id(1), MAX_RELAYED_BYTES_PER_WINDOW - 10)
            .unwrap();
        assert_eq!(book.charge(T, &id(1), 11), Err(RelayRefusal::OverBudget));
        book.charge(T, &id(1), 10).unwrap();
        let next = T.saturating_add_millis(RELAY_BYTES_WINDOW_MS);
        book.reserve(next, id(1)).unwrap();
        book.charge(next, &id(1), MAX_RELAYED_BYTES_PER_WINDOW)
            .unwrap();
        assert_eq!(
            book.charge(next, &id(2), 1),
            Err(RelayRefusal::NoReservation)
        );
    }

    #[test]
    fn a_large_answer_counts_and_stops_the_next_calls() {
        let mut book = RelayReservations::new();
        book.reserve(T, id(1)).unwrap();
        book.charge(T, &id(1), 100).unwrap();
        book.charge_answer(T, &id(1), MAX_RELAYED_BYTES_PER_WINDOW);
        assert_eq!(book.charge(T, &id(1), 1), Err(RelayRefusal::OverBudget));
        let next = T.saturating_add_millis(RELAY_BYTES_WINDOW_MS);
        assert!(book.charge(next, &id(1), 100).is_ok());
    }
}
