//! Ports: traits that adapters implement, each with two real implementations.
//!
//! Keep this list short. A trait belongs here only when production and the
//! simulator (or SQLite and memory) both implement it.

use crate::time::UnixMillis;

/// A source of wall-clock time: the system clock in the daemon, a virtual
/// clock in the simulator and in tests.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixMillis;
}
