//! QUIC keep-alives on open connections, as quinn sends them for the
//! transport: an end that has received nothing for the keep-alive interval
//! sends a PING, which the other end acknowledges. Each packet received
//! restarts the receiver's timer, so on an idle connection the two ends take
//! turns: one PING and one acknowledgement per interval plus a one-way
//! latency. A connection that carries calls sends no keep-alives until it
//! has been idle for a whole interval.
//!
//! The simulator counts them without running a timer per connection: each
//! connection remembers since when it has been idle, and the exchanges due
//! since then are counted whenever it carries a call, loses an end, or the
//! network's byte counters are read.

use crate::node::network::ACK_BYTES;

/// Keep-alive interval of the daemon's connections (its default
/// `transport.keep_alive_ms`; the transport's own default of 10 s is
/// overridden by the daemon), ms.
pub const KEEPALIVE_INTERVAL_MS: u64 = 15_000;
/// One keep-alive packet on the wire: a 1-RTT packet with a PING frame (a
/// 1-byte header, the transport's 4-byte connection id, packet number and
/// PING padded to the 4 bytes header protection samples from, a 16-byte
/// AEAD tag: 25 bytes of UDP payload), plus 8 bytes of UDP and 20 of IPv4
/// header.
pub const KEEPALIVE_PING_BYTES: u64 = 53;

/// Keep-alive exchanges (a PING and its acknowledgement) due on a
/// connection idle since `since_ms`, by `until_ms`, when one exchange
/// happens every `period_ms`; and the idle time the next exchange counts
/// from.
pub fn exchanges_due(since_ms: u64, until_ms: u64, period_ms: u64) -> (u64, u64) {
    let period = period_ms.max(1);
    let due = until_ms.saturating_sub(since_ms) / period;
    (due, since_ms.saturating_add(due.saturating_mul(period)))
}

/// Bytes each end sends for `exchanges` keep-alive exchanges, the ends
/// taking turns at sending the PING (the lower end first): (lower, higher).
pub fn bytes_per_end(exchanges: u64) -> (u64, u64) {
    let first = exchanges.div_ceil(2);
    let second = exchanges / 2;
    (
        first * KEEPALIVE_PING_BYTES + second * ACK_BYTES,
        second * KEEPALIVE_PING_BYTES + first * ACK_BYTES,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_exchange_per_period_of_idleness_keeping_the_phase() {
        assert_eq!(exchanges_due(0, 14_999, 15_000), (0, 0));
        assert_eq!(exchanges_due(0, 15_000, 15_000), (1, 15_000));
        assert_eq!(exchanges_due(1_000, 61_000, 15_000), (4, 61_000));
        assert_eq!(exchanges_due(1_000, 60_000, 15_000), (3, 46_000));
        // Idle "since" a time still to come: nothing due.
        assert_eq!(exchanges_due(5_000, 1_000, 15_000), (0, 5_000));
    }

    #[test]
    fn the_ends_take_turns_at_the_ping() {
        assert_eq!(bytes_per_end(0), (0, 0));
        assert_eq!(bytes_per_end(1), (KEEPALIVE_PING_BYTES, ACK_BYTES));
        let (a, b) = bytes_per_end(4);
        assert_eq!(a, b);
        assert_eq!(a + b, 4 * (KEEPALIVE_PING_BYTES + ACK_BYTES));
    }
}
