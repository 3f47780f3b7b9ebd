//! Deterministic simulators of tacnode: thousands of unmodified
//! [`tacnode_dht::Dht`] cores on a discrete-event clock, and whole nodes.
//!
//! - [`Network`]: the nodes, an event queue ordered by virtual time (the
//!   clock jumps to the next event: message delivery or a core's
//!   `poll_timeout`), a [`LinkModel`] with per-link latency distributions,
//!   datagram loss with QUIC-like retransmission (a lost datagram delays its
//!   message by a doubling probe timeout; only what would outlast the
//!   request timeout is lost) and partitions, silent crashes and restarts,
//!   server and client nodes, and malicious nodes that answer FIND_NODE with
//!   malicious nodes only.
//! - [`run_lookup_scenario`]: real joins (every [`JOIN_SPACING_MS`] a node
//!   bootstraps from three random earlier servers: it looks itself up, then
//!   refreshes the buckets beyond its closest neighbour, as the unmodified
//!   core does), then faults (silent crashes; malicious nodes start
//!   attacking unless `malicious_from_join` made them attack the joins too),
//!   then random FIND_NODE lookups by honest live nodes of honest live
//!   server ids, then the same lookups (same requesters, targets and start
//!   times) over oracle routing tables: every bucket filled from global
//!   knowledge with K random live servers of its range.
//! - Success: the lookup's result (the K closest nodes that answered)
//!   contains the target node. The report also gives the recall of the true
//!   K closest live servers, rounds (see [`tacnode_dht::LookupStats`]),
//!   requests (retries of timed-out requests included, and counted apart)
//!   and simulated latency.
//!
//! - [`node`]: whole nodes. The unmodified node of `crates/usecase` × N over
//!   a simulated network (latency, jitter, loss with QUIC-like
//!   retransmission, per-node uplink bandwidth, the transport's dial backoff
//!   and keep-alives, partitions, kill -9 and clean stops, restarts with the
//!   same disk, clock offsets) on tokio's virtual clock
//!   ([`node::scenario::run_node_scenario`], `tacnode-sim node …`).
//!
//! - [`group`]: one group channel of M members (`GroupChannel` of
//!   `crates/usecase` each) over overlay links with churn and a partition
//!   ([`group::scenario::run_group_scenario`], `tacnode-sim group …`).
//!
//! Everything random derives from one seed: the same seed replays the same run.
//! The `tacnode-sim` binary wraps the scenario (`tacnode-sim lookup --help`).

pub mod group;
mod link;
mod network;
pub mod node;
mod scenario;

pub use link::LinkModel;
pub use network::{Core, EPOCH_MS, FinishedLookup, Network, SimNode};
pub use scenario::{
    BOOTSTRAP_PEERS, JOIN_SPACING_MS, LOOKUP_SPACING_MS, LookupMetrics, LookupReport,
    LookupScenario, SETTLE_MS, Summary, run_lookup_scenario,
};
