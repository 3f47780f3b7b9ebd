//! Deterministic discrete-event simulator for tacnode's DHT: drives
//! thousands of unmodified [`tacnode_dht::Dht`] cores on a virtual clock.
//!
//! - [`Network`]: the nodes, an event queue ordered by virtual time (the
//!   clock jumps to the next event: message delivery or a core's
//!   `poll_timeout`), a [`LinkModel`] with per-link latency distributions,
//!   loss and partitions, silent crashes and restarts, server and client
//!   nodes, and malicious nodes that answer FIND_NODE with malicious nodes only.
//! - [`run_lookup_scenario`]: real joins (each node bootstraps from three
//!   random earlier servers and looks itself up), faults, random FIND_NODE
//!   lookups of live server ids, then the same lookups over oracle routing
//!   tables built from global knowledge. A lookup succeeds when its result
//!   (the K closest nodes that answered) contains the target node.
//!
//! Everything random derives from one seed: the same seed replays the same run.
//! The `tacnode-sim` binary wraps the scenario (`tacnode-sim lookup --help`).

mod link;
mod network;
mod scenario;

pub use link::LinkModel;
pub use network::{Core, EPOCH_MS, FinishedLookup, Network, SimNode};
pub use scenario::{
    BOOTSTRAP_PEERS, JOIN_SPACING_MS, LOOKUP_SPACING_MS, LookupMetrics, LookupReport,
    LookupScenario, SETTLE_MS, Summary, run_lookup_scenario,
};
