//! [`NodeSim`]: a set of unmodified nodes over the simulated network, each
//! with its own store ([`StoreKind`]: in memory by default, or a SQLite
//! file on tmpfs when there is one), its own virtual clock (with an offset)
//! and its own seeded generator; the scenario and
//! the scenario tests script it: start, stop (clean or `kill -9`), wipe,
//! send, partition, advance time, drain, audit.
//!
//! Run it inside [`block_on`], a single-threaded tokio runtime whose clock
//! is paused: whenever every task waits, time jumps to the next timer, so an
//! hour of a network takes as long as the work in it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tacnode_crypto::Identity;
use tacnode_domain::{Direction, MessageId, NodeType};
use tacnode_store::{MemoryFiles, MemoryStore, NodeStore, SqliteError, StorageKey, Store};
use tacnode_usecase::node::{BootstrapPeer, Node, NodeConfig, NodeEvent, NodeHandle, NodePorts};

use super::clock::SimClock;
use super::network::SimNet;
use super::segment::SimSegments;
use crate::{EPOCH_MS, LinkModel};

/// Request timeout of the simulated network (as the daemon's default), ms.
pub const SIM_REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Virtual time given to a killed node's leftover tasks (which see its
/// network closed) before its files are deleted, ms.
pub const KILL_SETTLE_MS: u64 = 1;
/// How often [`NodeSim::drain`] checks whether everything arrived, ms.
pub const DRAIN_CHECK_MS: u64 = 10_000;
/// UDP port the simulated nodes send their LAN beacons from.
pub const SIM_BEACON_PORT: u16 = 4501;
/// Mixed into the seed for the segments' generator (drawn apart from the
/// harness's, so runs without segments replay as before).
const SEGMENT_SEED: u64 = 0x5e67_e475_be4c_0115;

/// Why a simulation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The runtime or a temporary directory could not be made.
    #[error("simulator setup: {0}")]
    Setup(#[from] std::io::Error),
    /// A node's database could not be opened.
    #[error("node {index}: database: {source}")]
    Store {
        /// Which node.
        index: u32,
        /// Why.
        source: SqliteError,
    },
    /// A node did not start.
    #[error("node {index} did not start: {reason}")]
    Start {
        /// Which node.
        index: u32,
        /// Why.
        reason: String,
    },
    /// The scenario is inconsistent.
    #[error("scenario: {0}")]
    Scenario(String),
}

/// Runs `f` on a fresh single-threaded runtime with a paused (virtual) clock.
pub fn block_on<F: Future>(f: F) -> Result<F::Output, SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    Ok(runtime.block_on(f))
}

/// Which store the simulated nodes keep their state in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreKind {
    /// [`MemoryStore`]: the port's in-memory twin; no files, no fsync, no
    /// sealing, so large runs measure the node rather than SQLite.
    #[default]
    Memory,
    /// [`Store`]: the daemon's SQLite adapter, one file per node (on tmpfs
    /// when there is one), so the real adapter keeps its scale coverage.
    Sqlite,
}

/// A `--store` value that is neither `memory` nor `sqlite`.
#[derive(Debug, thiserror::Error)]
#[error("unknown store {0:?}: expected memory or sqlite")]
pub struct UnknownStoreKind(String);

impl std::str::FromStr for StoreKind {
    type Err = UnknownStoreKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "memory" => Ok(Self::Memory),
            "sqlite" => Ok(Self::Sqlite),
            other => Err(UnknownStoreKind(other.to_owned())),
        }
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
        })
    }
}

/// A node's "disk": what survives its restarts and goes when it is wiped.
enum Disk {
    /// The tables of a [`MemoryStore`]; each start opens another handle.
    Memory(MemoryStore),
    /// The path of a SQLite file.
    Sqlite(PathBuf),
}

/// One simulated node across its restarts.
struct Slot {
    identity: Identity,
    storage_key: [u8; 32],
    disk: Disk,
    config: NodeConfig,
    clock: SimClock,
    node: Option<Node>,
    handle: Option<NodeHandle>,
    rng_seed: u64,
    starts: u64,
    /// Session restarts counted by earlier incarnations.
    restarts_before: u64,
    /// A copy of the disk taken by [`NodeSim::backup`].
    backup: Option<Disk>,
    /// The node's files (what it sends, what it received), kept across
    /// restarts like its disk.
    files: MemoryFiles,
}

/// What happened to one message, as the event collectors saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageFate {
    /// Sender and recipient.
    pub from: u32,
    /// See `from`.
    pub to: u32,
    /// Position among the sender's messages to this recipient (1, 2, …).
    pub sequence: u64,
    /// Virtual time it was queued, ms since the start.
    pub sent_at: u64,
    /// When the recipient first stored it.
    pub received_at: Option<u64>,
    /// When the sender learnt of its delivery (receipt).
    pub delivered_at: Option<u64>,
    /// When the sender gave up on it, and why.
    pub failed: Option<(u64, String)>,
}

#[derive(Default)]
struct Book {
    messages: HashMap<MessageId, MessageFate>,
    received: u64,
    duplicates: u64,
    identity_changes: u64,
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

/// What an audit of every inbox found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    /// Messages the senders accepted.
    pub accepted: u64,
    /// Of those, found in their recipient's inbox.
    pub delivered: u64,
    /// Messages found twice in one inbox, or received twice.
    pub duplicates: u64,
    /// Messages that sort before an earlier message of the same sender in
    /// the recipient's inbox.
    pub order_violations: u64,
    /// Session restarts over every node's lifetime.
    pub session_restarts: u64,
    /// Device-key changes the nodes flagged.
    pub identity_changes: u64,
}

/// A simulated network of whole nodes.
pub struct NodeSim {
    net: SimNet,
    segments: SimSegments,
    start: tokio::time::Instant,
    book: SharedBook,
    slots: Vec<Slot>,
    bootstrap: Vec<BootstrapPeer>,
    rng: StdRng,
    sequence: HashMap<(u32, u32), u64>,
    root: tempfile::TempDir,
    store_kind: StoreKind,
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

/// The address the NAT in front of node `index` maps it to (see
/// [`NodeSim::put_behind_nat`]).
pub fn mapped_address_of(index: u32) -> SocketAddr {
    let [_, _, hi, lo] = index.to_be_bytes();
    SocketAddr::from(([198, 51, hi, lo], 40_000))
}

/// The simulated address of node `index`.
pub fn address_of(index: u32) -> SocketAddr {
    let [_, _, hi, lo] = index.to_be_bytes();
    SocketAddr::from(([10, 77, hi, lo], 4500))
}

impl NodeSim {
    /// An empty network whose nodes keep their state in memory; must be
    /// made inside [`block_on`].
    pub fn new(seed: u64, link: LinkModel, loss: f64) -> Result<NodeSim, SimError> {
        Self::with_store(seed, link, loss, StoreKind::default())
    }

    /// An empty network whose nodes keep their state in `store_kind`; must
    /// be made inside [`block_on`].
    pub fn with_store(
        seed: u64,
        link: LinkModel,
        loss: f64,
        store_kind: StoreKind,
    ) -> Result<NodeSim, SimError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let segments = SimSegments::new(
            link.clone(),
            loss,
            StdRng::seed_from_u64(seed ^ SEGMENT_SEED),
        );
        let net = SimNet::new(
            link,
            loss,
            SIM_REQUEST_TIMEOUT_MS,
            StdRng::seed_from_u64(rng.next_u64()),
        );
        Ok(NodeSim {
            net,
            segments,
            start: tokio::time::Instant::now(),
            book: SharedBook(Arc::new(Mutex::new(Book::default()))),
            slots: Vec::new(),
            bootstrap: Vec::new(),
            rng,
            sequence: HashMap::new(),
            root: temp_root()?,
            store_kind,
        })
    }

    /// Adds a node (not started) of `node_type` whose clock is `offset_ms` off.
    pub fn add_node(&mut self, node_type: NodeType, offset_ms: i64) -> u32 {
        let identity = Identity::generate(&mut self.rng);
        let mut storage_key = [0u8; 32];
        self.rng.fill_bytes(&mut storage_key);
        let index = self.net.add(
            identity.identity_key(),
            address_of(u32::try_from(self.slots.len()).unwrap_or(u32::MAX)),
        );
        self.slots.push(Slot {
            identity,
            storage_key,
            disk: match self.store_kind {
                StoreKind::Memory => Disk::Memory(MemoryStore::new()),
                StoreKind::Sqlite => Disk::Sqlite(self.root.path().join(format!("node{index}.db"))),
            },
            config: NodeConfig {
                node_type,
                advertise: vec![address_of(index)],
                ..NodeConfig::default()
            },
            clock: SimClock::new(self.start, EPOCH_MS, offset_ms),
            node: None,
            handle: None,
            rng_seed: self.rng.next_u64(),
            starts: 0,
            restarts_before: 0,
            backup: None,
            files: MemoryFiles::new(),
        });
        index
    }

    /// Node `index`'s files: put one there to send it, read what it
    /// received.
    pub fn files(&self, index: u32) -> Option<&MemoryFiles> {
        self.slots.get(index as usize).map(|s| &s.files)
    }

    /// Node `index`'s identity (its keys: the simulator's analyses may
    /// read what a node could).
    pub fn identity(&self, index: u32) -> Option<&Identity> {
        self.slots.get(index as usize).map(|s| &s.identity)
    }

    /// Node `index`'s identity key (what an admin certifies).
    pub fn identity_key(&self, index: u32) -> Option<tacnode_domain::IdentityKey> {
        self.slots
            .get(index as usize)
            .map(|s| s.identity.identity_key())
    }

    /// Node `index`'s device key (what X3DH and sealed senders use).
    pub fn device_key(&self, index: u32) -> Option<tacnode_domain::DhPublicKey> {
        self.slots
            .get(index as usize)
            .map(|s| s.identity.device_key())
    }

    /// The mail node `index` holds for others (each entry's recipient and
    /// payload, as a holder stores them), read straight from its disk
    /// whether it runs or not (in-memory store only).
    pub fn held_mail(&self, index: u32) -> Option<Vec<tacnode_domain::store::MailboxItem>> {
        let Disk::Memory(tables) = &self.slots.get(index as usize)?.disk else {
            return None;
        };
        let store = tables.reopen();
        // Everything held, expired or not: no clock reads it.
        let epoch = tacnode_domain::UnixMillis(0);
        let limit = tacnode_domain::store::MAX_QUERY_ROWS;
        let mut out = Vec::new();
        for recipient in store.mailbox_recipients(None, epoch, limit).ok()? {
            out.extend(store.mailbox_fetch(&recipient, epoch, limit).ok()?);
        }
        Some(out)
    }

    /// Overwrites what node `index`'s disk keeps of `group` with `bytes`
    /// (in-memory store only; stop the node first): a damaged row, as a
    /// bad sector or a newer build's format would leave it. Whether it
    /// was written.
    pub fn damage_group(
        &mut self,
        index: u32,
        group: &tacnode_domain::group::GroupId,
        bytes: &[u8],
    ) -> bool {
        let Some(Disk::Memory(tables)) = self.slots.get(index as usize).map(|s| &s.disk) else {
            return false;
        };
        let mut store = tables.reopen();
        store
            .save_group(group, bytes, tacnode_domain::UnixMillis(0))
            .is_ok()
    }

    /// Changes the configuration node `index` gets at its next start.
    pub fn configure(&mut self, index: u32, f: impl FnOnce(&mut NodeConfig)) {
        if let Some(slot) = self.slots.get_mut(index as usize) {
            f(&mut slot.config);
        }
    }

    /// The pre-shared peer list every node starts with from now on, unless
    /// [`NodeSim::configure`] gave it a list of its own.
    pub fn set_bootstrap(&mut self, nodes: &[u32]) {
        self.bootstrap = nodes
            .iter()
            .filter_map(|i| self.slots.get(*i as usize).map(|s| (*i, s)))
            .map(|(i, slot)| BootstrapPeer {
                address: slot.identity.address(),
                endpoint: address_of(i),
            })
            .collect();
    }

    /// Puts node `index` behind a NAT that maps it to
    /// [`mapped_address_of`]`(index)`: peers see its calls come from
    /// there, and nobody can dial it.
    pub fn put_behind_nat(&mut self, index: u32) {
        self.net
            .set_behind_nat(index, Some(mapped_address_of(index)));
    }

    /// Puts node `index` on network `segment`: from its next start it
    /// hears the beacons of the running nodes on the same segment, and they
    /// hear its (LAN discovery itself is `[discovery] lan`, see
    /// [`NodeSim::configure`]).
    pub fn place_on_segment(&mut self, index: u32, segment: u8) {
        let mut from = address_of(index);
        from.set_port(SIM_BEACON_PORT);
        self.segments.place(index, segment, from);
    }

    /// The simulated segments (beacon bytes).
    pub fn segments(&self) -> &SimSegments {
        &self.segments
    }

    /// Nodes in the network.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the network has no node.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether node `index` runs.
    pub fn is_up(&self, index: u32) -> bool {
        self.slots
            .get(index as usize)
            .is_some_and(|s| s.node.is_some())
    }

    /// The running node `index`.
    pub fn handle(&self, index: u32) -> Option<&NodeHandle> {
        self.slots.get(index as usize)?.handle.as_ref()
    }

    /// Virtual ms since the network was made.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The simulated network (bytes, calls, partitions, trace).
    pub fn net(&self) -> &SimNet {
        &self.net
    }

    /// Starts (or restarts, with the same disk) node `index`.
    pub async fn start(&mut self, index: u32) -> Result<(), SimError> {
        let bootstrap = self.bootstrap.clone();
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return Err(SimError::Scenario(format!("no node {index}")));
        };
        if slot.node.is_some() {
            return Ok(());
        }
        let store: Box<dyn NodeStore> = match &slot.disk {
            Disk::Memory(tables) => Box::new(tables.reopen()),
            Disk::Sqlite(path) => Box::new(
                Store::open(path, StorageKey::from_bytes(slot.storage_key))
                    .map_err(|source| SimError::Store { index, source })?,
            ),
        };
        self.net
            .set_member(index, slot.config.admission.certificate.clone());
        let (network, incoming) = self.net.attach(index);
        slot.starts += 1;
        let mut config = slot.config.clone();
        if config.bootstrap.is_empty() {
            config.bootstrap = bootstrap;
        }
        let ports = NodePorts {
            identity: slot.identity.clone(),
            store,
            network,
            incoming,
            clock: Arc::new(slot.clock.clone()),
            beacon: self
                .segments
                .is_placed(index)
                .then(|| self.segments.attach(index)),
            files: Arc::new(slot.files.clone()),
            rng: StdRng::seed_from_u64(
                slot.rng_seed ^ slot.starts.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ),
        };
        let node = Node::start(ports, config)
            .await
            .map_err(|e| SimError::Start {
                index,
                reason: format!("{e:#}"),
            })?;
        let handle = node.handle();
        collect_events(
            index,
            &handle,
            self.book.clone(),
            self.net.clone(),
            self.start,
        );
        slot.node = Some(node);
        slot.handle = Some(handle);
        Ok(())
    }

    /// Stops node `index`: cleanly (goodbye to peers, routing snapshot) or
    /// like `kill -9` (peers find out when their calls time out).
    pub async fn stop(&mut self, index: u32, kill: bool) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(node) = slot.node.take() else { return };
        if let Some(h) = slot.handle.take() {
            slot.restarts_before += h.session_restarts();
        }
        self.segments.detach(index);
        if kill {
            self.net.detach(index);
            node.kill().await;
            // What partial files got since their last sync is lost, as in
            // a power cut.
            slot.files.crash();
        } else {
            node.shutdown().await;
        }
    }

    /// Makes node `index`'s disk full, or frees it (in-memory store only;
    /// `false` on SQLite, where nothing changes).
    pub fn set_disk_full(&mut self, index: u32, full: bool) -> bool {
        match self.slots.get(index as usize).map(|s| &s.disk) {
            Some(Disk::Memory(tables)) => {
                tables.set_full(full);
                true
            }
            _ => false,
        }
    }

    /// What node `index`'s disk holds of its messages (each with its
    /// delivery state: status, attempts, last error), read straight from the
    /// disk whether the node runs or not, as text to compare (in-memory store
    /// only).
    pub fn disk_digest(&self, index: u32) -> Option<String> {
        let Disk::Memory(tables) = &self.slots.get(index as usize)?.disk else {
            return None;
        };
        let store = tables.reopen();
        let history = store
            .latest_history(tacnode_domain::store::MAX_QUERY_ROWS)
            .ok()?;
        let mut out = String::new();
        for m in history {
            let state = store
                .outbound(&m.message_id)
                .ok()
                .flatten()
                .map(|e| e.delivery);
            out.push_str(&format!("{m:?} {state:?}\n"));
        }
        Some(out)
    }

    /// The node id of node `index`.
    pub fn node_id(&self, index: u32) -> Option<tacnode_domain::NodeId> {
        Some(self.slots.get(index as usize)?.identity.node_id())
    }

    /// The status of node `index`, if it is up.
    pub async fn status(&self, index: u32) -> Option<tacnode_usecase::node::NodeStatus> {
        let handle = self.slots.get(index as usize)?.handle.clone()?;
        handle.status().await.ok()
    }

    /// Copies node `index`'s disk aside, as an operator's backup of its data
    /// directory (what is committed; the node keeps running).
    pub fn backup(&mut self, index: u32) -> Result<(), SimError> {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return Err(SimError::Scenario(format!("no node {index}")));
        };
        let copy = match &slot.disk {
            Disk::Memory(tables) => Disk::Memory(tables.snapshot()),
            Disk::Sqlite(path) => {
                let to = path.with_extension("backup.db");
                let _ = std::fs::remove_file(&to);
                let store = Store::open(path, StorageKey::from_bytes(slot.storage_key))
                    .map_err(|source| SimError::Store { index, source })?;
                store
                    .backup_to(&to)
                    .map_err(|source| SimError::Store { index, source })?;
                Disk::Sqlite(to)
            }
        };
        slot.backup = Some(copy);
        Ok(())
    }

    /// Kills node `index` and puts its backup in place of its disk (a
    /// restored data directory: its sessions and outbox roll back).
    pub async fn restore(&mut self, index: u32) -> Result<(), SimError> {
        self.stop(index, true).await;
        tokio::time::sleep(Duration::from_millis(KILL_SETTLE_MS)).await;
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return Err(SimError::Scenario(format!("no node {index}")));
        };
        let Some(backup) = slot.backup.take() else {
            return Err(SimError::Scenario(format!("node {index} has no backup")));
        };
        slot.disk = backup;
        Ok(())
    }

    /// Kills node `index` and deletes its store (an empty one replaces it):
    /// it comes back with its identity (the keystore survived) and nothing
    /// else.
    pub async fn wipe(&mut self, index: u32) -> Result<(), SimError> {
        self.stop(index, true).await;
        // Let the killed node's last tasks finish before its files go.
        tokio::time::sleep(Duration::from_millis(KILL_SETTLE_MS)).await;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            let path = match &mut slot.disk {
                Disk::Memory(tables) => {
                    // The killed node's leftover tasks keep the old tables.
                    *tables = MemoryStore::new();
                    return Ok(());
                }
                Disk::Sqlite(path) => path.clone(),
            };
            for suffix in ["", "-wal", "-shm"] {
                let mut path = path.clone().into_os_string();
                path.push(suffix);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(SimError::Setup(e)),
                }
            }
        }
        Ok(())
    }

    /// Queues a text from `from` to `to` (by address); `None` when `from` is
    /// down or refused it.
    pub async fn send(&mut self, from: u32, to: u32) -> Option<MessageId> {
        let handle = self.slots.get(from as usize)?.handle.clone()?;
        let recipient = self.slots.get(to as usize)?.identity.address().to_string();
        let next = self.sequence.get(&(from, to)).copied().unwrap_or(0) + 1;
        let text = format!("m{from}-{to}-{next}");
        let id = handle.send(&recipient, &text).await.ok()?;
        self.sequence.insert((from, to), next);
        let sent_at = self.elapsed_ms();
        self.book.lock().messages.insert(
            id,
            MessageFate {
                from,
                to,
                sequence: next,
                sent_at,
                ..MessageFate::default()
            },
        );
        let mut line = Vec::with_capacity(20);
        line.extend_from_slice(b"send");
        line.extend_from_slice(&id.0);
        self.net.trace(&line);
        Some(id)
    }

    /// Lets `ms` of virtual time pass.
    pub async fn advance(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// Lets time pass until every accepted message was received, at most
    /// `max_ms`; returns whether everything arrived.
    pub async fn drain(&self, max_ms: u64) -> bool {
        let end = self.elapsed_ms().saturating_add(max_ms);
        loop {
            if self.all_received() {
                return true;
            }
            if self.elapsed_ms() >= end {
                return false;
            }
            self.advance(DRAIN_CHECK_MS).await;
        }
    }

    /// Then lets time pass until every sender of a received message also
    /// learnt of its delivery (a receipt through relays or a mailbox comes
    /// after the message), at most `max_ms`; returns whether they all did.
    pub async fn drain_acknowledged(&self, max_ms: u64) -> bool {
        let end = self.elapsed_ms().saturating_add(max_ms);
        loop {
            let all = {
                let b = self.book.lock();
                b.messages
                    .values()
                    .all(|m| m.received_at.is_none() || m.delivered_at.is_some())
            };
            if all {
                return true;
            }
            if self.elapsed_ms() >= end {
                return false;
            }
            self.advance(DRAIN_CHECK_MS).await;
        }
    }

    fn all_received(&self) -> bool {
        let b = self.book.lock();
        b.messages.values().all(|m| m.received_at.is_some())
    }

    /// What happened to message `id`.
    pub fn fate(&self, id: &MessageId) -> Option<MessageFate> {
        self.book.lock().messages.get(id).cloned()
    }

    /// Every message's fate.
    pub fn fates(&self) -> Vec<MessageFate> {
        let mut v: Vec<MessageFate> = self.book.lock().messages.values().cloned().collect();
        v.sort_by_key(|m| (m.sent_at, m.from, m.to, m.sequence));
        v
    }

    /// Checks every running node's inbox against what was sent.
    pub async fn audit(&self) -> Audit {
        // The inboxes first: the book is not held across an await (the
        // nodes' event collectors write to it meanwhile).
        let mut inboxes = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let inbox = match &slot.handle {
                Some(h) => h.inbox(tacnode_store::MAX_QUERY_ROWS).await.ok(),
                None => None,
            };
            inboxes.push(inbox);
        }
        let b = self.book.lock();
        let mut audit = Audit {
            accepted: u64::try_from(b.messages.len()).unwrap_or(u64::MAX),
            duplicates: b.duplicates,
            identity_changes: b.identity_changes,
            ..Audit::default()
        };
        for (index, (slot, inbox)) in self.slots.iter().zip(inboxes).enumerate() {
            audit.session_restarts +=
                slot.restarts_before + slot.handle.as_ref().map_or(0, NodeHandle::session_restarts);
            let Some(inbox) = inbox else {
                continue;
            };
            let mut seen: HashMap<MessageId, ()> = HashMap::new();
            let mut last: HashMap<u32, u64> = HashMap::new();
            for (m, _) in inbox {
                if m.direction != Direction::Inbound {
                    continue;
                }
                let Some(fate) = b.messages.get(&m.message_id) else {
                    continue;
                };
                if fate.to as usize != index {
                    continue;
                }
                if seen.insert(m.message_id, ()).is_some() {
                    audit.duplicates += 1;
                    continue;
                }
                audit.delivered += 1;
                let previous = last.entry(fate.from).or_insert(0);
                if fate.sequence < *previous {
                    audit.order_violations += 1;
                } else {
                    *previous = fate.sequence;
                }
            }
        }
        audit
    }

    /// Stops every node cleanly.
    pub async fn finish(mut self) {
        for i in 0..self.slots.len() {
            self.stop(u32::try_from(i).unwrap_or(u32::MAX), false).await;
        }
    }
}

/// Records what node `index` reports into the book (and the trace).
fn collect_events(
    index: u32,
    handle: &NodeHandle,
    book: SharedBook,
    net: SimNet,
    start: tokio::time::Instant,
) {
    let mut events = handle.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let at = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            let mut b = book.lock();
            let (tag, id): (&[u8], Option<MessageId>) = match event {
                NodeEvent::Received { message_id, .. } => {
                    b.received += 1;
                    match b.messages.get_mut(&message_id) {
                        Some(m) if m.to == index && m.received_at.is_none() => {
                            m.received_at = Some(at);
                        }
                        Some(m) if m.to == index => b.duplicates += 1,
                        _ => {}
                    }
                    (b"recv", Some(message_id))
                }
                NodeEvent::Delivered { message_id } => {
                    if let Some(m) = b.messages.get_mut(&message_id)
                        && m.delivered_at.is_none()
                    {
                        m.delivered_at = Some(at);
                    }
                    (b"dlvd", Some(message_id))
                }
                NodeEvent::Failed { message_id, reason } => {
                    if let Some(m) = b.messages.get_mut(&message_id) {
                        m.failed = Some((at, reason));
                    }
                    (b"fail", Some(message_id))
                }
                NodeEvent::IdentityChanged { .. } => {
                    b.identity_changes += 1;
                    (b"idch", None)
                }
                NodeEvent::Sent { message_id, .. } => (b"sent", Some(message_id)),
                // The scenario notes its own sends (and the trace their ids).
                NodeEvent::Queued { .. } => continue,
                NodeEvent::GroupMessage {
                    message_id,
                    outbound: false,
                    ..
                } => (b"grcv", Some(message_id)),
                NodeEvent::GroupMessage { .. }
                | NodeEvent::GroupJoined { .. }
                | NodeEvent::GroupRemoved { .. }
                | NodeEvent::FileTransfer { .. }
                | NodeEvent::Alert { .. } => continue,
            };
            drop(b);
            let mut line = Vec::with_capacity(28);
            line.extend_from_slice(tag);
            line.extend_from_slice(&index.to_be_bytes());
            if let Some(id) = id {
                line.extend_from_slice(&id.0);
            }
            net.trace(&line);
        }
    });
}
