//! Whole-node simulation: the unmodified node of `crates/usecase` over a
//! simulated network ([`network::SimNet`], with per-node [`uplink`]s) and
//! virtual clocks
//! ([`clock::SimClock`]), scripted through [`harness::NodeSim`] by the
//! scenario tests and by [`scenario::run_node_scenario`].

pub mod clock;
pub mod harness;
pub mod network;
pub mod scenario;
pub mod uplink;
