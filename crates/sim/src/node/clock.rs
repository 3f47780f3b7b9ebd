//! The virtual clock of one simulated node: tokio's paused clock (which
//! jumps to the next timer whenever every task waits), from a fixed epoch,
//! plus the node's own offset (a clock that is days off).

use tacnode_domain::UnixMillis;
use tacnode_domain::ports::Clock;

/// A node's view of virtual time.
#[derive(Clone, Debug)]
pub struct SimClock {
    start: tokio::time::Instant,
    epoch_ms: u64,
    offset_ms: i64,
}

impl SimClock {
    /// A clock that reads `epoch_ms + offset_ms` at `start`.
    pub fn new(start: tokio::time::Instant, epoch_ms: u64, offset_ms: i64) -> SimClock {
        SimClock {
            start,
            epoch_ms,
            offset_ms,
        }
    }

    /// Virtual milliseconds since the run started (no offset).
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Clock for SimClock {
    fn now(&self) -> UnixMillis {
        let t = self.epoch_ms.saturating_add(self.elapsed_ms());
        UnixMillis(t.saturating_add_signed(self.offset_ms))
    }
}
