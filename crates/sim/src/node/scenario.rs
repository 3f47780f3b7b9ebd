//! Whole-node scenarios: N unmodified [`tacnode_usecase::node::Node`]s over
//! the simulated network, each with its own SQLite file (on tmpfs when
//! there is one), on tokio's virtual clock.
//!
//! A run: every node starts (servers first; the first three servers are the
//! pre-shared peer list), a warm-up, an idle window that measures what an
//! idle network sends, then `hours` of virtual time during which messages
//! are sent between random nodes while nodes leave and come back (`churn`:
//! half of them killed without goodbye, half stopped cleanly) and optional
//! partitions split the network. Then every node comes back, partitions
//! heal, and the run drains until everything accepted was delivered (or the
//! drain time ends). Everything random derives from the seed.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use tacnode_crypto::Identity;
use tacnode_domain::{Direction, MessageId, NodeType};
use tacnode_store::{StorageKey, Store};
use tacnode_usecase::node::{BootstrapPeer, Node, NodeConfig, NodeEvent, NodeHandle, NodePorts};

use super::clock::SimClock;
use super::network::SimNet;
use crate::{EPOCH_MS, LinkModel};

/// Pre-shared peers every node starts from (the first servers).
pub const NODE_BOOTSTRAP_PEERS: usize = 3;
/// Virtual time between two node starts, ms.
pub const NODE_JOIN_SPACING_MS: u64 = 20;
/// Virtual time after the last start before measuring, ms.
pub const WARM_UP_MS: u64 = 120_000;
/// The idle window that measures background traffic, ms.
pub const IDLE_WINDOW_MS: u64 = 600_000;
/// How often the drain checks whether everything arrived, ms.
pub const DRAIN_CHECK_MS: u64 = 30_000;
/// Request timeout of the simulated network (as the daemon's default), ms.
pub const SIM_REQUEST_TIMEOUT_MS: u64 = 10_000;
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
    /// Bytes per node per second during the idle window.
    pub idle_bytes_per_node_per_s: f64,
    /// Session restarts (a peer could not open our messages).
    pub session_restarts: u64,
    /// Calls made on the simulated network.
    pub calls: u64,
    /// Virtual time of the whole run, s.
    pub virtual_s: u64,
    /// Hash of the trace: every call and every delivery, in order.
    pub trace_hash: String,
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

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The runtime or a temporary directory could not be made.
    #[error("simulator setup: {0}")]
    Setup(#[from] std::io::Error),
    /// A node's database could not be opened.
    #[error("node {index}: database: {source}")]
    Store {
        /// Which node.
        index: usize,
        /// Why.
        source: tacnode_store::StoreError,
    },
    /// A node did not start.
    #[error("node {index} did not start: {reason}")]
    Start {
        /// Which node.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The scenario is inconsistent.
    #[error("scenario: {0}")]
    Scenario(String),
}

/// One simulated node across its restarts.
struct Slot {
    index: u32,
    identity: Identity,
    storage_key: [u8; 32],
    db: PathBuf,
    config: NodeConfig,
    clock: SimClock,
    node: Option<Node>,
    handle: Option<NodeHandle>,
    rng_seed: u64,
    starts: u64,
    restarts_before: u64,
}

/// What the event collectors saw.
#[derive(Default)]
struct Book {
    /// Message id → (sender, recipient, sequence of the sender, virtual send time).
    sent: HashMap<MessageId, (u32, u32, u64, u64)>,
    /// Message id → virtual receive time (first time).
    received: HashMap<MessageId, u64>,
    /// Received events for an id seen before.
    duplicates: u64,
}

#[derive(Clone)]
struct SharedBook(Arc<Mutex<Book>>);

impl SharedBook {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

enum Action {
    Send { from: u32, to: u32 },
    Down { node: u32, kill: bool },
    Up { node: u32 },
    Partition(u8),
    Heal,
}

/// Runs `scenario` to the end on a fresh single-threaded runtime with
/// virtual time.
pub fn run_node_scenario(scenario: &NodeScenario) -> Result<NodeReport, SimError> {
    if scenario.nodes < 2 {
        return Err(SimError::Scenario("at least 2 nodes".into()));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    runtime.block_on(run(scenario))
}

fn temp_root() -> Result<tempfile::TempDir, std::io::Error> {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("tacnode-sim")
            .tempdir_in(shm)
    {
        return Ok(d);
    }
    tempfile::Builder::new().prefix("tacnode-sim").tempdir()
}

fn address_of(index: u32) -> SocketAddr {
    let [_, _, hi, lo] = index.to_be_bytes();
    SocketAddr::from(([10, 77, hi, lo], 4500))
}

#[allow(clippy::too_many_lines)]
async fn run(s: &NodeScenario) -> Result<NodeReport, SimError> {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let root = temp_root()?;
    let net = SimNet::new(
        s.link.clone(),
        s.loss,
        SIM_REQUEST_TIMEOUT_MS,
        StdRng::seed_from_u64(rng.next_u64()),
    );
    let start = tokio::time::Instant::now();
    let book = SharedBook(Arc::new(Mutex::new(Book::default())));

    // Who is what.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let servers = ((s.nodes as f64 * s.servers).round() as usize).clamp(1, s.nodes);
    let mut slots: Vec<Slot> = Vec::with_capacity(s.nodes);
    for i in 0..s.nodes {
        let identity = Identity::generate(&mut rng);
        let mut storage_key = [0u8; 32];
        rng.fill_bytes(&mut storage_key);
        let index = net.add(
            identity.node_id(),
            address_of(u32::try_from(i).unwrap_or(u32::MAX)),
        );
        let offset_ms = match s.skew {
            Some((fraction, max_ms)) if rng.random_bool(fraction.clamp(0.0, 1.0)) => {
                let max = i64::try_from(max_ms).unwrap_or(i64::MAX);
                if rng.random_bool(0.5) { max } else { -max }
            }
            _ => 0,
        };
        slots.push(Slot {
            index,
            identity,
            storage_key,
            db: root.path().join(format!("node{i}.db")),
            config: NodeConfig {
                node_type: if i < servers {
                    NodeType::Server
                } else {
                    NodeType::Client
                },
                advertise: vec![address_of(index)],
                ..NodeConfig::default()
            },
            clock: SimClock::new(start, EPOCH_MS, offset_ms),
            node: None,
            handle: None,
            rng_seed: rng.next_u64(),
            starts: 0,
            restarts_before: 0,
        });
    }
    let bootstrap: Vec<BootstrapPeer> = slots
        .iter()
        .take(NODE_BOOTSTRAP_PEERS.min(servers))
        .map(|slot| BootstrapPeer {
            address: slot.identity.address(),
            endpoint: address_of(slot.index),
        })
        .collect();
    for slot in &mut slots {
        slot.config.bootstrap = bootstrap.clone();
    }

    // Start everyone.
    for slot in &mut slots {
        start_node(slot, &net, &book).await?;
        tokio::time::sleep(Duration::from_millis(NODE_JOIN_SPACING_MS)).await;
    }
    tokio::time::sleep(Duration::from_millis(WARM_UP_MS)).await;

    // Idle window.
    let idle_before = net.bytes_sent();
    tokio::time::sleep(Duration::from_millis(IDLE_WINDOW_MS)).await;
    let idle_bytes = net.bytes_sent().saturating_sub(idle_before);
    #[allow(clippy::cast_precision_loss)]
    let idle_bytes_per_node_per_s =
        idle_bytes as f64 / s.nodes as f64 / (IDLE_WINDOW_MS as f64 / 1000.0);

    // The sending phase's schedule.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let phase_ms = (s.hours * 3_600_000.0) as u64;
    let mut plan: BTreeMap<(u64, u64), Action> = BTreeMap::new();
    let mut order = 0u64;
    let mut add = |plan: &mut BTreeMap<(u64, u64), Action>, at: u64, a: Action| {
        plan.insert((at, order), a);
        order += 1;
    };
    let n = u32::try_from(s.nodes).unwrap_or(u32::MAX);
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
    let candidates: Vec<u32> = (0..n)
        .filter(|i| *i as usize >= NODE_BOOTSTRAP_PEERS.min(servers))
        .collect();
    let mut chosen = candidates.clone();
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
    let bytes_before = net.bytes_sent();
    let phase_start = start.elapsed();
    let mut sequence: HashMap<(u32, u32), u64> = HashMap::new();
    let mut accepted = 0u64;
    for ((at, _), action) in plan {
        let due = phase_start + Duration::from_millis(at);
        tokio::time::sleep_until(start + due).await;
        match action {
            Action::Send { from, to } => {
                let Some(handle) = slots[from as usize].handle.clone() else {
                    continue;
                };
                let recipient = slots[to as usize].identity.address().to_string();
                let seq = sequence.entry((from, to)).or_insert(0);
                *seq += 1;
                let text = format!("m{from}-{to}-{seq}");
                if let Ok(id) = handle.send(&recipient, &text) {
                    accepted += 1;
                    let at = elapsed_ms(start);
                    book.lock().sent.insert(id, (from, to, *seq, at));
                    let mut line = Vec::with_capacity(24);
                    line.extend_from_slice(b"send");
                    line.extend_from_slice(&id.0);
                    net.trace(&line);
                }
            }
            Action::Down { node, kill } => stop_node(&mut slots[node as usize], &net, kill).await,
            Action::Up { node } => {
                if slots[node as usize].node.is_none() {
                    start_node(&mut slots[node as usize], &net, &book).await?;
                }
            }
            Action::Partition(groups) => {
                net.partition((0..n).map(|i| (i % u32::from(groups)) as u8).collect());
            }
            Action::Heal => net.heal(),
        }
    }
    tokio::time::sleep_until(start + phase_start + Duration::from_millis(phase_ms)).await;

    // Everyone back, partitions healed, then drain.
    net.heal();
    for slot in &mut slots {
        if slot.node.is_none() {
            start_node(slot, &net, &book).await?;
        }
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let drain_ms = (s.drain_hours * 3_600_000.0) as u64;
    let drain_end = start.elapsed() + Duration::from_millis(drain_ms);
    loop {
        if book.lock().received.len() as u64 >= accepted || start.elapsed() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(DRAIN_CHECK_MS)).await;
    }
    let bytes_during = net.bytes_sent().saturating_sub(bytes_before);

    // Ground truth from every inbox.
    let (delivered, duplicates, order_violations) = audit_inboxes(&slots, &book);
    let mut session_restarts = 0u64;
    for slot in &slots {
        session_restarts += slot.restarts_before;
        if let Some(h) = &slot.handle {
            session_restarts += h.session_restarts();
        }
    }
    let mut latencies: Vec<u64> = {
        let b = book.lock();
        b.received
            .iter()
            .filter_map(|(id, at)| {
                b.sent
                    .get(id)
                    .map(|(_, _, _, sent)| at.saturating_sub(*sent))
            })
            .collect()
    };
    latencies.sort_unstable();
    let pct = |p: usize| -> u64 {
        if latencies.is_empty() {
            0
        } else {
            latencies[(latencies.len() - 1) * p / 100]
        }
    };
    let (latency_p50_ms, latency_p99_ms) = (pct(50), pct(99));
    for slot in &mut slots {
        if let Some(node) = slot.node.take() {
            node.shutdown().await;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let bytes_per_message = if delivered == 0 {
        0.0
    } else {
        bytes_during as f64 / delivered as f64
    };
    let report = NodeReport {
        accepted,
        delivered,
        duplicates: duplicates + book.lock().duplicates,
        order_violations,
        latency_p50_ms,
        latency_p99_ms,
        bytes_per_message,
        idle_bytes_per_node_per_s,
        session_restarts,
        calls: net.calls(),
        virtual_s: start.elapsed().as_secs(),
        trace_hash: net.trace_hash(),
    };
    drop(root);
    Ok(report)
}

fn elapsed_ms(start: tokio::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Counts, from every recipient's inbox, the messages delivered, those
/// stored twice, and those out of their sender's order.
fn audit_inboxes(slots: &[Slot], book: &SharedBook) -> (u64, u64, u64) {
    let b = book.lock();
    let mut delivered = 0u64;
    let mut duplicates = 0u64;
    let mut violations = 0u64;
    for slot in slots {
        let Some(h) = &slot.handle else { continue };
        let Ok(inbox) = h.inbox(tacnode_store::MAX_QUERY_ROWS) else {
            continue;
        };
        let mut seen: HashMap<MessageId, ()> = HashMap::new();
        let mut last_seq: HashMap<u32, u64> = HashMap::new();
        for (m, _) in inbox {
            if m.direction != Direction::Inbound {
                continue;
            }
            let Some(&(from, to, seq, _)) = b.sent.get(&m.message_id) else {
                continue;
            };
            if to != slot.index {
                continue;
            }
            if seen.insert(m.message_id, ()).is_some() {
                duplicates += 1;
                continue;
            }
            delivered += 1;
            let last = last_seq.entry(from).or_insert(0);
            if seq < *last {
                violations += 1;
            } else {
                *last = seq;
            }
        }
    }
    (delivered, duplicates, violations)
}

async fn start_node(slot: &mut Slot, net: &SimNet, book: &SharedBook) -> Result<(), SimError> {
    let index = slot.index as usize;
    let store = Store::open(&slot.db, StorageKey::from_bytes(slot.storage_key))
        .map_err(|source| SimError::Store { index, source })?;
    let (network, incoming) = net.attach(slot.index);
    slot.starts += 1;
    let ports = NodePorts {
        identity: slot.identity.clone(),
        store,
        network,
        incoming,
        clock: Arc::new(slot.clock.clone()),
        rng: StdRng::seed_from_u64(slot.rng_seed ^ slot.starts.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    };
    let node = Node::start(ports, slot.config.clone())
        .await
        .map_err(|e| SimError::Start {
            index,
            reason: format!("{e:#}"),
        })?;
    let handle = node.handle();
    let mut events = handle.subscribe();
    let book = book.clone();
    let net = net.clone();
    let start = slot.clock.clone();
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(NodeEvent::Received { message_id, .. }) => {
                    let at = start.elapsed_ms();
                    let mut b = book.lock();
                    if b.received.insert(message_id, at).is_some() {
                        b.duplicates += 1;
                    }
                    drop(b);
                    let mut line = Vec::with_capacity(24);
                    line.extend_from_slice(b"recv");
                    line.extend_from_slice(&message_id.0);
                    net.trace(&line);
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    slot.node = Some(node);
    slot.handle = Some(handle);
    Ok(())
}

async fn stop_node(slot: &mut Slot, net: &SimNet, kill: bool) {
    let Some(node) = slot.node.take() else { return };
    if let Some(h) = slot.handle.take() {
        slot.restarts_before += h.session_restarts();
    }
    if kill {
        net.detach(slot.index);
        node.kill().await;
    } else {
        node.shutdown().await;
    }
}
