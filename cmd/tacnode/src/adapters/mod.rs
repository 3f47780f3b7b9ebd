//! The daemon's system clock ([`SystemClock`]). The other adapters live in
//! their own crates: QUIC (`tacnode_transport::QuicNetwork`) and SQLite
//! (`tacnode_store::Store`); the simulator implements the same ports in
//! `crates/sim`.

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
