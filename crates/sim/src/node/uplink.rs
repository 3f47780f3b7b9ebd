//! A node's uplink: the bytes it sends leave one after the other at its
//! rate, so a frame waits behind everything queued before it and then
//! takes `size / rate` to serialise, as on a 64 kbit/s radio.

/// Microseconds in a second.
const MICROS_PER_S: u128 = 1_000_000;

/// One node's uplink (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uplink {
    /// Bits per second; `None` is unlimited (nothing queues).
    rate_bps: Option<u64>,
    /// When the last byte queued so far has left, µs of virtual time.
    free_at_us: u64,
}

impl Uplink {
    /// An idle uplink of `rate_bps` bits per second (`None`: unlimited; a
    /// rate of 0 is taken as 1 bit/s).
    pub fn new(rate_bps: Option<u64>) -> Uplink {
        Uplink {
            rate_bps: rate_bps.map(|r| r.max(1)),
            free_at_us: 0,
        }
    }

    /// The rate, bits per second (`None`: unlimited).
    pub fn rate_bps(&self) -> Option<u64> {
        self.rate_bps
    }

    /// Changes the rate; what is queued already keeps its schedule.
    pub fn set_rate(&mut self, rate_bps: Option<u64>) {
        self.rate_bps = rate_bps.map(|r| r.max(1));
    }

    /// Queues `bytes` at `now_us` and returns how long until their last bit
    /// has left, µs: the wait behind what is queued plus their own
    /// serialisation. Always 0 when unlimited.
    pub fn send(&mut self, now_us: u64, bytes: u64) -> u64 {
        let Some(rate) = self.rate_bps else {
            return 0;
        };
        let start = self.free_at_us.max(now_us);
        let bits = u128::from(bytes) * 8 * MICROS_PER_S;
        let serialise = u64::try_from(bits.div_ceil(u128::from(rate))).unwrap_or(u64::MAX);
        self.free_at_us = start.saturating_add(serialise);
        self.free_at_us - now_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_queue_behind_each_other_at_the_rate() {
        // 64 kbit/s: 8 bytes take 1 ms.
        let mut up = Uplink::new(Some(64_000));
        assert_eq!(up.send(0, 800), 100_000);
        // Queued at once behind the first: waits for it, then its own time.
        assert_eq!(up.send(0, 800), 200_000);
        // Later, partly drained: only what is left of the queue.
        assert_eq!(up.send(150_000, 8), 51_000);
        // Idle again: no wait.
        assert_eq!(up.send(1_000_000, 8), 1_000);
    }

    #[test]
    fn an_unlimited_uplink_never_delays() {
        let mut up = Uplink::new(None);
        assert_eq!(up.send(0, 1 << 30), 0);
        assert_eq!(up.send(0, 1 << 30), 0);
        up.set_rate(Some(8_000_000));
        assert_eq!(up.send(5, 1_000), 1_000);
        assert_eq!(up.rate_bps(), Some(8_000_000));
    }
}
