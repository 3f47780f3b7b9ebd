//! Whole-node simulation: the unmodified node of `crates/usecase` over a
//! simulated network ([`network::SimNet`]: per-node [`uplink`]s, the
//! transport's dial [`backoff`] and QUIC [`keepalive`]s) and virtual clocks
//! ([`clock::SimClock`]) and network segments for LAN beacons
//! ([`segment::SimSegments`]), scripted through [`harness::NodeSim`] by the
//! scenario tests and by [`scenario::run_node_scenario`], which can also
//! measure what adversaries learn of who writes to whom ([`privacy`]).

pub mod backoff;
pub mod clock;
pub mod harness;
pub mod keepalive;
pub mod network;
pub mod privacy;
pub mod scenario;
pub mod segment;
pub mod uplink;
