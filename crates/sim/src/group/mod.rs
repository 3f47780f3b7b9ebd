//! Group channels: `GroupChannel`s of `crates/usecase` (one per member)
//! over a simulated network of overlay links, with churn and a partition.
//! See [`scenario::run_group_scenario`] and `tacnode-sim group --help`.

pub mod scenario;
mod unicast;
