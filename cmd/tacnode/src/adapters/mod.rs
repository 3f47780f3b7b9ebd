//! The daemon's implementations of the node's ports: QUIC
//! ([`quic::QuicNetwork`]) and the system clock ([`SystemClock`]). The
//! simulator implements the same ports in `crates/sim`.

pub(crate) mod quic;

use tacnode_domain::UnixMillis;
use tacnode_domain::ports::Clock;

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        UnixMillis(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}
