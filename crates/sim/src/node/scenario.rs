//! Whole-node scenarios: N unmodified [`tacnode_usecase::node::Node`]s over
//! the simulated network, each with its own store (in memory, or a SQLite
//! file on tmpfs: [`StoreKind`]), on tokio's virtual clock.
//!
//! A run: every node starts (servers first; the first three servers are the
//! pre-shared peer list), a warm-up, an idle window that measures what an
//! idle network sends, then `hours` of virtual time during which messages
//! are sent between random nodes while nodes leave and come back (`churn`:
//! half of them killed without goodbye, half stopped cleanly) and optional
//! partitions split the network. Then every node comes back, partitions
//! heal, and the run drains until everything accepted was delivered (or the
//! drain time ends). Everything random derives from the seed.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tacnode_domain::NodeType;

use super::harness::{NodeSim, SimError, StoreKind, block_on};
use crate::LinkModel;

/// Pre-shared peers every node starts from (the first servers).
pub const NODE_BOOTSTRAP_PEERS: usize = 3;
/// Virtual time between two node starts, ms.
pub const NODE_JOIN_SPACING_MS: u64 = 20;
/// Virtual time after the last start before measuring, ms.
pub const WARM_UP_MS: u64 = 120_000;
/// The idle window that measures background traffic, ms.
pub const IDLE_WINDOW_MS: u64 = 600_000;
/// Longest wait after the drain for the receipts of what arrived, ms.
pub const ACKNOWLEDGE_DRAIN_MS: u64 = 600_000;
/// Shortest and longest absence of a churning node, ms.
pub const CHURN_ABSENCE_MS: (u64, u64) = (60_000, 1_800_000);

/// A scheduled partition: from `at_ms` (after the sending phase starts) for
/// `for_ms`, nodes are split into `groups` groups (node i in group i % groups).
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionPlan {
    /// Start, ms after the sending phase starts.
    pub at_ms: u64,
    /// Duration, ms.
    pub for_ms: u64,
    /// Number of groups.
    pub groups: u8,
}

/// The kind of link and the schedule nodes run on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// The defaults: a LAN-like link and the daemon's default schedule.
    #[default]
    Lan,
    /// A slow IP radio: 64 kbit/s uplinks, 150 ± 30 ms one way, 5 % loss,
    /// and the radio schedule (`NodeConfig::radio`,
    /// `TransportConfig::radio`, as in `deploy/radio.example.toml`).
    Radio,
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lan" => Ok(Profile::Lan),
            "radio" => Ok(Profile::Radio),
            other => Err(format!("unknown profile {other:?}; use lan or radio")),
        }
    }
}

impl Profile {
    /// Sets the link of `scenario` to this profile's (flags given after
    /// `--profile` still change it).
    pub fn apply(self, scenario: &mut NodeScenario) {
        scenario.profile = self;
        if self == Profile::Radio {
            scenario.link.min_latency_ms = RADIO_LATENCY_MS.0;
            scenario.link.max_latency_ms = RADIO_LATENCY_MS.1;
            scenario.link.uplink_bps = Some(RADIO_UPLINK_BPS);
            scenario.loss = RADIO_LOSS;
        }
    }
}

/// A radio-profile network in memory stores: `servers` servers then
/// `clients` clients, the first three servers (at most) the bootstrap
/// list, each started 20 ms after the one before, and two minutes to
/// settle.
pub async fn radio_network(seed: u64, servers: usize, clients: usize) -> Result<NodeSim, SimError> {
    let mut scenario = NodeScenario::default();
    Profile::Radio.apply(&mut scenario);
    let mut sim = NodeSim::with_store(
        seed,
        scenario.link.clone(),
        scenario.loss,
        StoreKind::Memory,
    )?;
    for _ in 0..servers {
        sim.add_node(NodeType::Server, 0);
    }
    for _ in 0..clients {
        sim.add_node(NodeType::Client, 0);
    }
    let n = u32::try_from(servers + clients).unwrap_or(u32::MAX);
    Profile::Radio.configure(&mut sim, 0..n);
    let boot: Vec<u32> = (0..u32::try_from(servers.min(3)).unwrap_or(0)).collect();
    sim.set_bootstrap(&boot);
    for i in 0..n {
        sim.start(i).await?;
        sim.advance(20).await;
    }
    sim.advance(2 * 60_000).await;
    Ok(sim)
}

impl Profile {
    /// Gives `nodes` of `sim` this profile's schedule from their next start
    /// (node and transport configuration); the link itself is
    /// [`NodeSim::with_store`]'s (see [`Profile::apply`]). The LAN profile
    /// changes nothing.
    pub fn configure(self, sim: &mut NodeSim, nodes: std::ops::Range<u32>) {
        if self != Profile::Radio {
            return;
        }
        let node = tacnode_usecase::node::NodeConfig::radio();
        for i in nodes {
            sim.configure(i, |c| {
                c.delivery = node.delivery;
                c.mailbox = node.mailbox.clone();
                c.dht = node.dht.clone();
                c.gossip = node.gossip.clone();
            });
        }
        let transport = tacnode_transport::TransportConfig::radio();
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        sim.net().set_keepalive_ms(ms(transport.keep_alive));
        sim.net().set_linger_ms(ms(transport.linger));
        sim.net()
            .set_request_timeout_ms(ms(transport.request_timeout));
        sim.net().set_mtu_discovery(transport.mtu_discovery);
    }
}

/// One-way latency range of the radio profile's links, ms (150 ± 30, the
/// testbed's radio profile).
pub const RADIO_LATENCY_MS: (u64, u64) = (120, 180);
/// Uplink of every node on the radio profile, bits per second.
pub const RADIO_UPLINK_BPS: u64 = 64_000;
/// Datagram loss on the radio profile.
pub const RADIO_LOSS: f64 = 0.05;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct NodeScenario {
    /// Nodes in total.
    pub nodes: usize,
    /// Fraction of them that are servers (at least one).
    pub servers: f64,
    /// Messages sent during the sending phase.
    pub messages: usize,
    /// Fraction of nodes that leave once and come back.
    pub churn: f64,
    /// Length of the sending phase, hours of virtual time.
    pub hours: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Probability that one datagram is lost (retransmitted as QUIC would).
    pub loss: f64,
    /// Optional partition.
    pub partition: Option<PartitionPlan>,
    /// Fraction of nodes whose clock is off, and by at most how many ms.
    pub skew: Option<(f64, u64)>,
    /// Longest drain after the sending phase, hours of virtual time.
    pub drain_hours: f64,
    /// Latencies and jitter.
    pub link: LinkModel,
    /// Where the nodes keep their state.
    pub store: StoreKind,
    /// The link and schedule (see [`Profile::apply`] for the link).
    pub profile: Profile,
    /// Length of the idle window that measures background traffic, ms.
    pub idle_window_ms: u64,
    /// How messages travel; `Some` also measures privacy
    /// ([`NodeReport::privacy`]).
    pub privacy: Option<tacnode_usecase::node::PrivacyMode>,
    /// Relays per onion path.
    pub relays: usize,
    /// Cover traffic budget with onion routing, bits per second per node
    /// (0: off).
    pub cover_bps: u64,
    /// Mean mixing delay of each relay, ms.
    pub mix_delay_ms: u64,
    /// Fraction of the server nodes that collude (privacy measurement).
    pub adversary_fraction: f64,
}

impl Default for NodeScenario {
    fn default() -> Self {
        Self {
            nodes: 20,
            servers: 0.5,
            messages: 100,
            churn: 0.0,
            hours: 0.1,
            seed: 1,
            loss: 0.0,
            partition: None,
            skew: None,
            drain_hours: 6.0,
            link: LinkModel::default(),
            store: StoreKind::default(),
            profile: Profile::Lan,
            idle_window_ms: IDLE_WINDOW_MS,
            privacy: None,
            relays: tacnode_usecase::node::PrivacyConfig::default().relays,
            cover_bps: 0,
            mix_delay_ms: tacnode_usecase::node::PrivacyConfig::default().mix_delay_ms,
            adversary_fraction: 0.2,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeReport {
    /// Messages the senders accepted (queued durably).
    pub accepted: u64,
    /// Of those, delivered to the recipient's inbox.
    pub delivered: u64,
    /// Of those, the ones whose sender learnt of the delivery (its status
    /// says delivered).
    pub acknowledged: u64,
    /// Messages found twice in one inbox.
    pub duplicates: u64,
    /// Messages that sort before an earlier message of the same sender in
    /// the recipient's inbox.
    pub order_violations: u64,
    /// Virtual send-to-receive latency, median and 99th percentile, ms.
    pub latency_p50_ms: u64,
    /// See `latency_p50_ms`.
    pub latency_p99_ms: u64,
    /// Bytes on the wire from the start of sending to the end of the drain,
    /// per delivered message (background traffic included).
    pub bytes_per_message: f64,
    /// Bytes per node per second during the idle window, keep-alives
    /// included.
    pub idle_bytes_per_node_per_s: f64,
    /// Of those, the QUIC keep-alives of open connections.
    pub keepalive_bytes_per_node_per_s: f64,
    /// Session restarts (a peer could not open our messages).
    pub session_restarts: u64,
    /// Calls made on the simulated network.
    pub calls: u64,
    /// Virtual time of the whole run, s.
    pub virtual_s: u64,
    /// Hash of the trace: every call and every delivery, in order.
    pub trace_hash: String,
    /// What adversaries learnt of who writes to whom during the sending
    /// phase and the drain (with [`NodeScenario::privacy`]).
    pub privacy: Option<super::privacy::PrivacyReport>,
}

impl NodeReport {
    /// Delivered over accepted (1.0 when nothing was accepted).
    pub fn delivery_ratio(&self) -> f64 {
        if self.accepted == 0 {
            1.0
        } else {
            // Counts are far below 2^52.
            #[allow(clippy::cast_precision_loss)]
            let r = self.delivered as f64 / self.accepted as f64;
            r
        }
    }
}

/// Runs `scenario` to the end on a fresh single-threaded runtime with
/// virtual time.
pub fn run_node_scenario(scenario: &NodeScenario) -> Result<NodeReport, SimError> {
    if scenario.nodes < 2 {
        return Err(SimError::Scenario("at least 2 nodes".into()));
    }
    block_on(run(scenario))?
}

enum Action {
    Send { from: u32, to: u32 },
    Down { node: u32, kill: bool },
    Up { node: u32 },
    Partition(u8),
    Heal,
}

#[allow(clippy::too_many_lines)]
async fn run(s: &NodeScenario) -> Result<NodeReport, SimError> {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let mut sim = NodeSim::with_store(rng.random(), s.link.clone(), s.loss, s.store)?;

    // Who is what.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let servers = ((s.nodes as f64 * s.servers).round() as usize).clamp(1, s.nodes);
    for i in 0..s.nodes {
        let offset_ms = match s.skew {
            Some((fraction, max_ms)) if rng.random_bool(fraction.clamp(0.0, 1.0)) => {
                let max = i64::try_from(max_ms).unwrap_or(i64::MAX);
                if rng.random_bool(0.5) { max } else { -max }
            }
            _ => 0,
        };
        let node_type = if i < servers {
            NodeType::Server
        } else {
            NodeType::Client
        };
        sim.add_node(node_type, offset_ms);
    }
    let bootstrap: Vec<u32> = (0..NODE_BOOTSTRAP_PEERS.min(servers))
        .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
        .collect();
    sim.set_bootstrap(&bootstrap);
    let n = u32::try_from(s.nodes).unwrap_or(u32::MAX);
    s.profile.configure(&mut sim, 0..n);
    if let Some(mode) = s.privacy {
        for i in 0..n {
            sim.configure(i, |c| {
                c.privacy.mode = mode;
                c.privacy.relays = s.relays;
                c.privacy.cover_bps = s.cover_bps;
                c.privacy.mix_delay_ms = s.mix_delay_ms;
            });
        }
    }

    // Observed from the first packet: a packet whose first hops went
    // unseen would pass for one sent by a relay.
    if s.privacy.is_some() {
        sim.net().observe();
    }

    // Start everyone.
    for i in 0..n {
        sim.start(i).await?;
        sim.advance(NODE_JOIN_SPACING_MS).await;
    }
    sim.advance(WARM_UP_MS).await;

    // Idle window.
    let idle_before = sim.net().bytes_sent();
    let keepalive_before = sim.net().keepalive_bytes();
    sim.advance(s.idle_window_ms).await;
    let idle_bytes = sim.net().bytes_sent().saturating_sub(idle_before);
    let keepalive_bytes = sim.net().keepalive_bytes().saturating_sub(keepalive_before);
    #[allow(clippy::cast_precision_loss)]
    let per_node_per_s =
        |bytes: u64| bytes as f64 / s.nodes as f64 / (s.idle_window_ms as f64 / 1000.0);
    let idle_bytes_per_node_per_s = per_node_per_s(idle_bytes);
    let keepalive_bytes_per_node_per_s = per_node_per_s(keepalive_bytes);

    // The sending phase's schedule.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let phase_ms = (s.hours * 3_600_000.0) as u64;
    let mut plan: BTreeMap<(u64, u64), Action> = BTreeMap::new();
    let mut order = 0u64;
    let mut add = |plan: &mut BTreeMap<(u64, u64), Action>, at: u64, a: Action| {
        plan.insert((at, order), a);
        order += 1;
    };
    for _ in 0..s.messages {
        let at = rng.random_range(0..phase_ms.max(1));
        let from = rng.random_range(0..n);
        let mut to = rng.random_range(0..n - 1);
        if to >= from {
            to += 1;
        }
        add(&mut plan, at, Action::Send { from, to });
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let churning = (s.nodes as f64 * s.churn.clamp(0.0, 1.0)).round() as usize;
    // The pre-shared peers stay up: a network needs somewhere to start.
    let mut chosen: Vec<u32> = (0..n).filter(|i| !bootstrap.contains(i)).collect();
    // Fisher-Yates with the run's generator.
    for i in (1..chosen.len()).rev() {
        let j = rng.random_range(0..=i);
        chosen.swap(i, j);
    }
    for node in chosen.into_iter().take(churning) {
        let down = rng.random_range(0..phase_ms.max(1));
        let absence = rng.random_range(CHURN_ABSENCE_MS.0..=CHURN_ABSENCE_MS.1);
        let kill = rng.random_bool(0.5);
        add(&mut plan, down, Action::Down { node, kill });
        add(&mut plan, down.saturating_add(absence), Action::Up { node });
    }
    if let Some(p) = &s.partition {
        add(&mut plan, p.at_ms, Action::Partition(p.groups.max(2)));
        add(&mut plan, p.at_ms.saturating_add(p.for_ms), Action::Heal);
    }

    // Sending phase.
    let bytes_before = sim.net().bytes_sent();
    let phase_start = sim.elapsed_ms();
    for ((at, _), action) in plan {
        let now = sim.elapsed_ms();
        let due = phase_start.saturating_add(at);
        sim.advance(due.saturating_sub(now)).await;
        match action {
            Action::Send { from, to } => {
                sim.send(from, to).await;
            }
            Action::Down { node, kill } => sim.stop(node, kill).await,
            Action::Up { node } => sim.start(node).await?,
            Action::Partition(groups) => {
                sim.net()
                    .partition((0..n).map(|i| (i % u32::from(groups)) as u8).collect());
            }
            Action::Heal => sim.net().heal(),
        }
    }
    let end = phase_start.saturating_add(phase_ms);
    sim.advance(end.saturating_sub(sim.elapsed_ms())).await;

    // Everyone back, partitions healed, then drain.
    sim.net().heal();
    for i in 0..n {
        sim.start(i).await?;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let drain_ms = (s.drain_hours * 3_600_000.0) as u64;
    sim.drain(drain_ms).await;
    sim.drain_acknowledged(ACKNOWLEDGE_DRAIN_MS).await;
    let bytes_during = sim.net().bytes_sent().saturating_sub(bytes_before);

    let audit = sim.audit().await;
    let mut latencies: Vec<u64> = sim
        .fates()
        .iter()
        .filter_map(|m| m.received_at.map(|r| r.saturating_sub(m.sent_at)))
        .collect();
    latencies.sort_unstable();
    let pct = |p: usize| -> u64 {
        if latencies.is_empty() {
            0
        } else {
            latencies[(latencies.len() - 1) * p / 100]
        }
    };
    #[allow(clippy::cast_precision_loss)]
    let bytes_per_message = if audit.delivered == 0 {
        0.0
    } else {
        bytes_during as f64 / audit.delivered as f64
    };
    let privacy = s.privacy.map(|_| {
        // The colluders: a fraction of the servers, drawn apart from the
        // run's own choices (the same run with or without them).
        let mut pick = StdRng::seed_from_u64(s.seed ^ 0xC011_0DE5);
        let mut pool: Vec<u32> = (0..u32::try_from(servers).unwrap_or(u32::MAX)).collect();
        for i in (1..pool.len()).rev() {
            let j = pick.random_range(0..=i);
            pool.swap(i, j);
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let count = (servers as f64 * s.adversary_fraction.clamp(0.0, 1.0)).round() as usize;
        let colluders: std::collections::BTreeSet<u32> = pool.into_iter().take(count).collect();
        let parties: Vec<super::privacy::Party<'_>> = (0..n)
            .filter_map(|i| sim.identity(i))
            .map(|identity| super::privacy::Party { identity })
            .collect();
        let sent: Vec<super::privacy::SentMessage> = sim
            .fates()
            .iter()
            .filter_map(|m| {
                m.received_at
                    .map(|received_at| super::privacy::SentMessage {
                        from: m.from,
                        to: m.to,
                        received_at,
                    })
            })
            .collect();
        super::privacy::analyse(&sim.net().observations(), &parties, &colluders, &sent)
    });
    let acknowledged = sim
        .fates()
        .iter()
        .filter(|m| m.received_at.is_some() && m.delivered_at.is_some())
        .count() as u64;
    let report = NodeReport {
        accepted: audit.accepted,
        delivered: audit.delivered,
        acknowledged,
        duplicates: audit.duplicates,
        order_violations: audit.order_violations,
        latency_p50_ms: pct(50),
        latency_p99_ms: pct(99),
        bytes_per_message,
        idle_bytes_per_node_per_s,
        keepalive_bytes_per_node_per_s,
        session_restarts: audit.session_restarts,
        calls: sim.net().calls(),
        virtual_s: sim.elapsed_ms() / 1000,
        trace_hash: sim.net().trace_hash(),
        privacy,
    };
    sim.finish().await;
    Ok(report)
}
