//! The running node: every behaviour of tacnode, over the [`crate::ports`].
//!
//! Tasks (all spawned here; each ends when the node shuts down):
//! - the DHT driver ([`dht_driver`]) owns the sans-IO Kademlia core and runs
//!   its requests over the network port;
//! - the serve loop answers requests from peers ([`serve`]);
//! - the delivery loop turns the [`DeliveryQueue`]'s attempts into direct
//!   sends or mailbox deposits ([`send`]);
//! - the maintenance loop republishes our records, fetches our mailboxes,
//!   expires held mail and snapshots the routing table ([`maintenance`]);
//! - with `[discovery] lan`, the LAN discovery task sends our beacons and
//!   joins through the peers heard once they answered ([`lan`]).
//! - the group task runs the group channels' and the announcement board's
//!   timers and links, and sends their gossip, sender keys and invitations
//!   ([`groups`], [`announce`]).
//!
//! The store, the conversations, the prekeys and the delivery queue live in
//! one [`State`], owned by one task ([`state_owner`]): the others send it
//! jobs and await the answers, so none holds the state across an `.await`
//! or waits on a lock while a store write syncs.
//!
//! Time is read only through the [`Clock`] port and randomness comes from
//! the generator handed in at start; timers are tokio timers, which the
//! simulator runs on tokio's paused (virtual) clock. Every `select!` here is
//! `biased` so that a simulated run replays exactly.

mod admission;
mod announce;
mod config;
pub(crate) mod dht_driver;
mod error;
mod files;
mod groups;
mod hole_punch;
mod lan;
mod mailbox_handoff;
mod maintenance;
mod net;
mod onion;
mod peer_clocks;
mod peer_sightings;
mod peers;
mod probe;
mod reachability;
mod receive;
mod relay;
mod rewound;
mod send;
mod serve;
mod state;
mod state_owner;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::prekey::PrekeyState;
use tacnode_crypto::{DeviceCode, Identity, SafetyNumber};
use tacnode_domain::ports::NodeStore;
use tacnode_domain::{
    Contact, Content, IdentityKey, MessageId, MessageStatus, NodeId, NodeType, PeerAddress,
    PeerRecord, Plaintext, StoredMessage, UnixMillis,
};
use tokio::sync::{Notify, Semaphore, broadcast, watch};
use tokio::task::JoinHandle;

pub use config::{
    AdmissionConfig, BootstrapPeer, DhtSettings, DiscoveryConfig, MailboxConfig, NodeConfig,
    PrivacyConfig, PrivacyMode, RelayConfig,
};
pub(crate) use net::Net;
pub use peer_clocks::ClockCheck;
use peer_clocks::PeerClocks;
use peer_sightings::PeerSightings;
pub use peer_sightings::Sighting;
pub use peers::PeerInfo;
pub(crate) use state::State;
use state::{HANDED_OUT_KEY, PENDING_PREFIX, PIN_PREFIX, peer_meta_key};
use state_owner::StateOwner;

use crate::delivery::{DeliveryConfig, DeliveryQueue};
use crate::dial_back_quota::DialBackQuota;
use crate::observed_address::ObservedAddress;
use crate::ports::{Clock, Incoming, LanBeacon, PeerNetwork};

pub use error::{NodeError, Result};
pub use files::{
    DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_RECEIVING_BYTES, DEFAULT_SYNC_INTERVAL_MS,
    FINISHED_NOTICE_TRIES, FileChange, FileTransferInfo, FilesConfig, MAX_ACTIVE_FETCHES,
    MAX_FETCH_FAILURES, MAX_HELD_BYTES, MAX_RECEIVING_PER_PEER, MAX_TRANSFERS, PROGRESS_SYNC_BYTES,
    PROGRESS_SYNC_MAX_WAIT_MS, RADIO_MAILBOX_MAX_BYTES, RADIO_MAX_FILE_BYTES,
    RADIO_MAX_RECEIVING_BYTES, TRANSFER_TTL_MS,
};
pub use groups::{GroupInfo, GroupMember, MAX_GROUPS};
pub use tacnode_gossip::PlumtreeConfig;

/// One-time prekeys kept available; refilled when fewer remain.
const ONE_TIME_PREKEY_TARGET: usize = 100;
/// Texts one [`NodeHandle::send_many`] queues at most (one transaction).
pub const MAX_SEND_BATCH: usize = 1000;
/// Most times a text's queue time is moved on for a free id (the same text
/// to the same peer in the same millisecond takes one each).
const MAX_ID_TRIES: usize = 1_000;
/// Events buffered per subscriber before the slowest ones lose events.
const EVENT_BUFFER: usize = 1024;
/// How often [`NodeHandle::wait_for_routing`] looks at the routing table.
const ROUTING_POLL: Duration = Duration::from_millis(50);
/// Meta key set by a clean stop and removed at start.
const CLEAN_STOP_KEY: &str = "node.clean_stop";
/// Receipts being sent at once; beyond it receipts are skipped (the sender
/// keeps the message as "sent", nothing is lost).
const MAX_RECEIPT_TASKS: usize = 64;

/// What a node is made of: its identity and its ports.
pub struct NodePorts {
    /// The unlocked identity.
    pub identity: Identity,
    /// The node's storage (opened; the node owns it from now on): the
    /// SQLite file in the daemon, SQLite or memory in the simulator.
    pub store: Box<dyn NodeStore>,
    /// Outgoing calls to peers.
    pub network: Arc<dyn PeerNetwork>,
    /// Incoming calls from peers.
    pub incoming: Box<dyn Incoming>,
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// The segment's beacon socket, for LAN discovery (used only when
    /// `[discovery] lan` is set; `None`: no discovery).
    pub beacon: Option<Box<dyn LanBeacon>>,
    /// The files of transfers: the operator's files read for sending, the
    /// received ones written (a downloads directory in the daemon, memory
    /// in the simulator).
    pub files: Arc<dyn crate::ports::TransferFiles>,
    /// Every random choice the node makes derives from this generator
    /// (seeded from the OS in the daemon, from the scenario's seed in the
    /// simulator).
    pub rng: StdRng,
}

/// Something that happened, for `inbox --follow`, the demo and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    /// A text arrived (first time only).
    Received {
        /// Sender.
        from: NodeId,
        /// Its id.
        message_id: MessageId,
        /// The text.
        text: String,
        /// True when it came out of a mailbox.
        via_mailbox: bool,
    },
    /// A text of ours was queued (by any front end: the CLI, the chat, a
    /// script), durable from now on.
    Queued {
        /// Recipient.
        to: NodeId,
        /// Its id.
        message_id: MessageId,
        /// The text.
        text: String,
        /// Its place in the conversation (the outbox time).
        time: UnixMillis,
    },
    /// An outgoing message was handed over (directly or to mailboxes).
    Sent {
        /// Which.
        message_id: MessageId,
        /// True when deposited in mailboxes.
        via_mailbox: bool,
    },
    /// The recipient has it: it answered a direct delivery (once the message
    /// was on its disk), or its encrypted receipt for mail it fetched from a
    /// mailbox arrived.
    Delivered {
        /// Which.
        message_id: MessageId,
    },
    /// A contact's keys changed: sending to it stops until verified again.
    IdentityChanged {
        /// Which contact.
        node_id: NodeId,
    },
    /// Gave up on a message.
    Failed {
        /// Which.
        message_id: MessageId,
        /// Why.
        reason: String,
    },
    /// A group message arrived (first time only), or we wrote one.
    GroupMessage {
        /// The group.
        group: tacnode_domain::group::GroupId,
        /// Its name.
        group_name: String,
        /// The member that wrote it (this node for our own).
        from: NodeId,
        /// Its id.
        message_id: MessageId,
        /// The text.
        text: String,
        /// Its place in the history.
        time: UnixMillis,
        /// Written by this node.
        outbound: bool,
    },
    /// An invitation made this node a member of a group.
    GroupJoined {
        /// The group.
        group: tacnode_domain::group::GroupId,
        /// Its name.
        group_name: String,
        /// Who invited us.
        by: NodeId,
    },
    /// An alert announced to every node arrived (first time only).
    Alert {
        /// Its author.
        from: NodeId,
        /// What it says.
        text: String,
        /// The author's clock when it announced.
        time: UnixMillis,
    },
    /// This node was removed from a group.
    GroupRemoved {
        /// The group.
        group: tacnode_domain::group::GroupId,
        /// Its name.
        group_name: String,
    },
    /// A file transfer was offered, completed or failed.
    FileTransfer {
        /// Which.
        transfer: tacnode_domain::file_transfer::TransferId,
        /// The other end.
        peer: NodeId,
        /// The file's name.
        name: String,
        /// Ours (true) or theirs.
        outbound: bool,
        /// What happened.
        change: FileChange,
    },
}

/// Shared by every task of a node.
pub(crate) struct Shared {
    pub(crate) identity: Identity,
    pub(crate) node_type: NodeType,
    pub(crate) config: NodeConfig,
    pub(crate) net: Net,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) dht: dht_driver::DhtHandle,
    /// Who may take part: open, or a closed network with its revocations.
    pub(crate) admission: admission::AdmissionCell,
    /// The way to the task that owns the [`State`].
    owner: StateOwner,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) wake_delivery: Notify,
    /// Wakes the group task: a channel has something to send.
    pub(crate) wake_groups: Notify,
    /// Wakes the file task: a transfer is due or an attempt ended.
    pub(crate) wake_files: Notify,
    /// The files of transfers.
    pub(crate) files: Arc<dyn crate::ports::TransferFiles>,
    pub(crate) shutdown: watch::Receiver<bool>,
    started: UnixMillis,
    /// Receipts and rewound notices being sent now (at most
    /// [`MAX_RECEIPT_TASKS`]).
    pub(crate) receipt_tasks: Arc<Semaphore>,
    /// What the peers' clocks say about ours.
    pub(crate) clocks: Arc<Mutex<PeerClocks>>,
    /// When each recent peer was last heard from (for `tacnode peers`).
    pub(crate) sightings: Arc<Mutex<PeerSightings>>,
    /// What the peers answering our DHT requests say our address is, and
    /// the one enough of them agree on.
    pub(crate) observed_address: Arc<Mutex<ObservedAddress>>,
    /// Woken when the trusted observed address changed.
    pub(crate) address_changed: Arc<Notify>,
    /// Woken when a peer saw us elsewhere than the trusted address.
    pub(crate) address_doubted: Arc<Notify>,
    /// What the last dial-back found (`None`: not found out yet).
    pub(crate) reachability: Mutex<Option<tacnode_domain::Reachability>>,
    /// How many requesters a server has dialled back lately.
    pub(crate) dial_back_quota: Mutex<DialBackQuota>,
    /// A server's relay reservations (see [`relay`]).
    pub(crate) relay_reservations: Mutex<crate::relay_reservations::RelayReservations>,
    /// The relay we keep a reservation at while nobody can dial us, as our
    /// peer record names it.
    pub(crate) own_relay: Mutex<Option<tacnode_domain::RelayHint>>,
    /// The nonces of the relayed calls answered lately (replays refused).
    pub(crate) relayed_nonces: Mutex<crate::relayed_nonces::RelayedNonces>,
    /// Woken when a dial-back found our reachability changed.
    pub(crate) reachability_changed: Notify,
    /// Hole punches tried and asked for (see [`hole_punch`]).
    pub(crate) punches: Mutex<hole_punch::Punches>,
    /// Direct connections punched through NATs since start.
    pub(crate) hole_punches: std::sync::atomic::AtomicU64,
    /// The previous run did not stop cleanly (a crash, `kill -9`, power):
    /// peers may still be talking to its process, so we greet them.
    pub(crate) unclean_start: bool,
    /// The last failure of our own storage that made the node refuse or
    /// put off incoming mail, and when (shown in the status).
    pub(crate) storage_failure: Mutex<Option<(UnixMillis, String)>>,
    /// The holders of our own mailbox and when they were looked up.
    pub(crate) own_holders: Mutex<Option<(UnixMillis, Vec<tacnode_domain::dht::Contact>)>>,
    /// X3DH handshakes run since start (initiated or answered).
    pub(crate) x3dh_sessions: std::sync::atomic::AtomicU64,
    /// Direct batches (two or more messages) the recipients accepted.
    pub(crate) direct_batches: std::sync::atomic::AtomicU64,
    /// Sessions restarted because the peer could not open our messages,
    /// or we could not open its mail (a rolled-back sender).
    pub(crate) session_restarts: std::sync::atomic::AtomicU64,
    /// The tags of the onion packets this node processed (a relay
    /// processes each packet once). Locked only for one packet's
    /// processing, never across an await.
    pub(crate) onion_replays: Mutex<tacnode_crypto::sphinx::ReplayCache>,
    /// Onion packets held to pass on (at most
    /// [`onion::MAX_ONION_FORWARDS`]).
    pub(crate) onion_tasks: Arc<Semaphore>,
    /// Of those, how many each predecessor handed us (at most
    /// [`onion::MAX_ONION_FORWARDS_PER_PEER`]). Locked only to count.
    pub(crate) onion_held_from: onion::HeldFrom,
    /// Packets waiting for a cover slot.
    pub(crate) onion_outbox: onion::OnionOutbox,
    /// Turns to await a reply through relays (at most
    /// [`onion::MAX_REPLY_WAITS`] at once).
    pub(crate) reply_slots: Arc<Semaphore>,
    /// Prekey requests being answered (at most
    /// [`onion::MAX_PREKEY_ANSWERS`]).
    pub(crate) prekey_answers: Arc<Semaphore>,
    /// Loop cover packets on their way to their first relay (at most
    /// [`onion::MAX_LOOPS_IN_FLIGHT`]).
    pub(crate) loop_in_flight: Arc<Semaphore>,
    /// Loop cover packets sent, and come back (a loop that does not come
    /// back was lost or dropped on its path).
    pub(crate) loops_sent: std::sync::atomic::AtomicU64,
    /// See `loops_sent`.
    pub(crate) loops_returned: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Runs `job` on the state (in its owner task, after the jobs queued
    /// before it) and returns its answer; [`NodeError::Stopping`] when the
    /// node stopped first.
    pub(crate) async fn with_state<R, E>(
        self: &Arc<Self>,
        job: impl FnOnce(&mut State, &Shared) -> std::result::Result<R, E> + Send + 'static,
    ) -> std::result::Result<R, E>
    where
        R: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        let shared = Arc::clone(self);
        match self.owner.run(move |st| job(st, &shared)).await {
            Ok(answer) => answer,
            Err(state_owner::OwnerGone) => Err(NodeError::Stopping.into()),
        }
    }

    /// Queues `job` on the state without waiting for it (it runs after
    /// every job queued before it; not at all once the node stopped).
    pub(crate) fn post_state(
        self: &Arc<Self>,
        job: impl FnOnce(&mut State, &Shared) + Send + 'static,
    ) {
        let shared = Arc::clone(self);
        let _ = self.owner.post(move |st| job(st, &shared));
    }

    /// Publishes `e` (for `inbox --follow`, the demo, tests) and logs the
    /// delivery events an operator follows, one INFO line each, peers named
    /// by contact name where known.
    /// Spawns `task` as one of this node's (a lane, a served call, a
    /// receipt): it ends at its next await once the node stops, cleanly or
    /// as `kill -9`, so a stopped node runs and writes nothing more. No
    /// handle is kept, so a finished task's memory goes at once.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {}
                () = task => {}
            }
        });
    }

    pub(crate) fn emit(&self, e: NodeEvent) {
        let events = self.events.clone();
        // Logged and published by the state's owner, after the job that
        // caused it (events keep their order), where contact names are at
        // hand.
        let _ = self.owner.post(move |st| {
            // Contact names cost store reads: only when the line is logged.
            if tracing::enabled!(tracing::Level::INFO) {
                log_event(st, &e);
            }
            let _ = events.send(e);
        });
    }

    pub(crate) fn node_id(&self) -> NodeId {
        self.identity.node_id()
    }

    /// Our own storage failed and incoming mail was refused or put off
    /// because of it: said at ERROR (an operator must act: disk full, a
    /// damaged database) and kept for the status.
    pub(crate) fn storage_failed(&self, what: &str, error: &dyn std::fmt::Display) {
        tracing::error!(
            "{what}: our storage failed ({error}); incoming mail is refused until it works again"
        );
        *self
            .storage_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((self.now(), format!("{what}: {error}")));
    }

    /// What the peers' clocks say about ours.
    pub(crate) fn clock_check(&self) -> ClockCheck {
        self.clocks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .check()
    }

    /// Notes the clock `peer` reported in a request.
    pub(crate) fn observe_clock(&self, peer: NodeId, theirs: UnixMillis) {
        observe_clock(&self.clocks, self.now(), peer, theirs);
    }

    /// Notes that `peer` (its authenticated `identity`) called us now, with
    /// what its DHT request said about it, if it was one.
    pub(crate) fn observe_peer(
        &self,
        (peer, identity): (NodeId, &IdentityKey),
        sender: Option<&tacnode_domain::dht::SenderInfo>,
    ) {
        self.sightings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .observe(peer, self.now(), Some(identity), sender);
    }

    /// The time, from the clock port.
    pub(crate) fn now(&self) -> UnixMillis {
        self.clock.now()
    }
}

/// A running node.
pub struct Node {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    /// The task that owns the state: stopped last.
    owner_task: JoinHandle<()>,
    shutdown_tx: watch::Sender<bool>,
}

/// Cheap handle for driving a node (control socket, demo, tests).
#[derive(Clone)]
pub struct NodeHandle {
    shared: Arc<Shared>,
}

/// A message waiting to go, for `tacnode outbox`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    /// Its id.
    pub message_id: MessageId,
    /// To whom.
    pub recipient: NodeId,
    /// The recipient's contact name, if it is one.
    pub recipient_name: Option<String>,
    /// When it was queued.
    pub queued: UnixMillis,
    /// Attempts that failed so far.
    pub attempts: u32,
    /// An attempt is on the wire now.
    pub in_flight: bool,
    /// When the next attempt is due (`None`: not scheduled in this run).
    pub next_attempt: Option<UnixMillis>,
    /// Why the last attempt failed, in words.
    pub reason: Option<String>,
}

/// A node's status at a glance.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    /// Own address.
    pub address: PeerAddress,
    /// Server or client.
    pub node_type: NodeType,
    /// Where QUIC listens.
    pub listen: SocketAddr,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Contacts in the routing table.
    pub routing_table_size: usize,
    /// Open QUIC connections.
    pub connected_peers: usize,
    /// Outgoing messages not yet handed over.
    pub outbox_pending: usize,
    /// Mailbox entries held for others.
    pub mailbox_entries_held: usize,
    /// This node's clock compared with its peers'.
    pub clock: ClockCheck,
    /// The last failure of our own storage that refused or put off incoming
    /// mail, and when; `None` if there was none since start.
    pub storage_failure: Option<(UnixMillis, String)>,
    /// Open network, or a closed one: its admins, the revocation list
    /// sequence held from each, and how many members are revoked.
    pub admission: AdmissionStatus,
    /// The address peers agree they see us at (behind a NAT, the mapped
    /// one), once two agree.
    pub observed_address: Option<SocketAddr>,
    /// Whether a server could dial us back at it; `None` until one answered.
    pub reachability: Option<tacnode_domain::Reachability>,
    /// The relay we are called through while nobody can dial us.
    pub relay: Option<tacnode_domain::RelayHint>,
    /// Direct connections punched through NATs since start.
    pub hole_punches: u64,
}

/// The admission part of [`NodeStatus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdmissionStatus {
    /// Anyone may take part.
    Open,
    /// Members only.
    Closed {
        /// Each admin and the sequence of its newest list applied (0: none).
        admins: Vec<(PeerAddress, u64)>,
        /// Members revoked by any admin.
        revoked: usize,
        /// When this node's own member certificate expires.
        certificate_expires: Option<UnixMillis>,
    },
}

impl Node {
    /// Starts every task of a node over its ports and joins the network.
    pub async fn start(ports: NodePorts, config: NodeConfig) -> Result<Node> {
        let NodePorts {
            identity,
            mut store,
            network,
            incoming,
            clock,
            beacon,
            files,
            mut rng,
        } = ports;
        store.set_mailbox_quota(tacnode_domain::store::MailboxQuota {
            per_recipient: config.mailbox.per_recipient_quota,
            total_bytes: config.mailbox.total_megabytes.saturating_mul(1024 * 1024),
        });
        let t = clock.now();
        let prekeys = match store.load_prekey_state()? {
            Some(bytes) => {
                PrekeyState::from_bytes(bytes.as_slice()).map_err(|source| NodeError::Corrupt {
                    what: "prekeys",
                    source,
                })?
            }
            None => PrekeyState::new(&mut rng, &identity, t),
        };
        // Handed out before a restart: not handed out again for a while.
        let handed_out = store
            .meta(HANDED_OUT_KEY)?
            .unwrap_or_default()
            .chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok())
            .map(|b| (u32::from_be_bytes(b), t))
            .collect();
        // A clean stop leaves a mark; a start without it follows a crash.
        let unclean_start = store.meta(CLEAN_STOP_KEY)?.is_none();
        store.delete_meta(CLEAN_STOP_KEY)?;
        let node_type = config.node_type;
        let clocks = Arc::new(Mutex::new(PeerClocks::default()));
        let sightings = Arc::new(Mutex::new(PeerSightings::default()));
        let observed_address = Arc::new(Mutex::new(ObservedAddress::new()));
        let address_changed = Arc::new(Notify::new());
        let address_doubted = Arc::new(Notify::new());
        let heard: net::AnswerHeard = {
            let (clocks, sightings) = (clocks.clone(), sightings.clone());
            let (observed, changed) = (observed_address.clone(), address_changed.clone());
            let doubted = address_doubted.clone();
            let clock = clock.clone();
            Arc::new(move |h: &net::Heard| {
                let now = clock.now();
                sightings
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .observe(h.peer, now, None, None);
                if let Some(t) = h.time {
                    observe_clock(&clocks, now, h.peer, t);
                }
                if let Some(a) = h.observed {
                    let (moved, doubt) = {
                        let mut o = observed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        let before = o.trusted();
                        let vouched = before.is_some() && o.report_of(&h.peer) == before;
                        let moved = o.observe(now, h.peer, h.peer_ip, a);
                        (moved, !moved && vouched && before != Some(a))
                    };
                    if moved {
                        changed.notify_one();
                    }
                    // A peer that saw us at the trusted address now sees
                    // us elsewhere: our NAT (or network) may have changed;
                    // ask others. (A peer that never agreed, a LAN server
                    // or a liar, does not keep asking.)
                    if doubt {
                        doubted.notify_one();
                    }
                }
            })
        };
        // A closed network needs our own valid certificate, and the
        // revocations kept from earlier runs are in force before anything
        // reaches the network.
        config
            .admission
            .admission
            .admit(
                config.admission.certificate.as_ref(),
                &identity.identity_key(),
                node_type,
                t,
            )
            .map_err(NodeError::OwnAdmission)?;
        let admission = admission::AdmissionCell::new(admission::load_revocations(
            store.as_ref(),
            &config.admission.admission,
        )?);
        network.set_admission(admission.current());
        let net = Net::new(network, heard);
        let (shutdown_tx, shutdown) = watch::channel(false);
        let dht = dht_driver::DhtHandle::spawn(
            &config,
            &identity,
            net.clone(),
            clock.clone(),
            StdRng::from_rng(&mut rng),
            shutdown.clone(),
            admission::AdmissionValidator::new(admission.subscribe(), clock.clone()),
        )?;
        let delivery = DeliveryQueue::new(DeliveryConfig {
            initial_backoff_ms: config.delivery.initial_backoff_ms,
            max_backoff_ms: config.delivery.max_backoff_ms,
            deposit_after_ms: onion::deposit_after_ms(&config),
            give_up_after_ms: config.delivery.give_up_after_ms,
        });
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let mut state = State::new(store, prekeys, delivery, rng, handed_out);
        refill_prekeys(&mut state, t)?;
        // Queue times keep increasing across restarts, even if the clock
        // went back meanwhile.
        state.last_outbox_time = state.store.latest_outbound_time()?.unwrap_or(UnixMillis(0));
        reschedule_queued(&mut state, t)?;
        state.transfers = files::load(state.store.as_ref(), t)?;
        let (owner, owner_task) = StateOwner::spawn(state);
        let shared = Arc::new(Shared {
            identity,
            node_type,
            config,
            net,
            dht,
            admission,
            owner,
            events,
            wake_delivery: Notify::new(),
            wake_groups: Notify::new(),
            wake_files: Notify::new(),
            files,
            shutdown,
            started: t,
            clock,
            receipt_tasks: Arc::new(Semaphore::new(MAX_RECEIPT_TASKS)),
            clocks,
            sightings,
            observed_address,
            address_changed,
            address_doubted,
            reachability: Mutex::new(None),
            dial_back_quota: Mutex::new(DialBackQuota::new()),
            relay_reservations: Mutex::new(crate::relay_reservations::RelayReservations::new()),
            own_relay: Mutex::new(None),
            reachability_changed: Notify::new(),
            relayed_nonces: Mutex::new(crate::relayed_nonces::RelayedNonces::new()),
            punches: Mutex::new(hole_punch::Punches::new()),
            hole_punches: std::sync::atomic::AtomicU64::new(0),
            unclean_start,
            storage_failure: Mutex::new(None),
            own_holders: Mutex::new(None),
            x3dh_sessions: std::sync::atomic::AtomicU64::new(0),
            direct_batches: std::sync::atomic::AtomicU64::new(0),
            session_restarts: std::sync::atomic::AtomicU64::new(0),
            onion_replays: Mutex::new(tacnode_crypto::sphinx::ReplayCache::new(
                onion::ONION_REPLAY_KEEP_MS,
            )),
            onion_tasks: Arc::new(Semaphore::new(onion::MAX_ONION_FORWARDS)),
            onion_held_from: onion::HeldFrom::default(),
            onion_outbox: std::sync::Mutex::new(std::collections::VecDeque::new()),
            reply_slots: Arc::new(Semaphore::new(onion::MAX_REPLY_WAITS)),
            prekey_answers: Arc::new(Semaphore::new(onion::MAX_PREKEY_ANSWERS)),
            loop_in_flight: Arc::new(Semaphore::new(onion::MAX_LOOPS_IN_FLIGHT)),
            loops_sent: std::sync::atomic::AtomicU64::new(0),
            loops_returned: std::sync::atomic::AtomicU64::new(0),
        });
        let mut tasks = vec![
            tokio::spawn(serve::run(shared.clone(), incoming)),
            tokio::spawn(send::run(shared.clone())),
            tokio::spawn(maintenance::run(shared.clone())),
            tokio::spawn(groups::run(shared.clone())),
            tokio::spawn(files::run(shared.clone())),
            tokio::spawn(onion::run_cover(shared.clone())),
        ];
        if let Some(port) = beacon.filter(|_| shared.config.discovery.lan) {
            tasks.push(tokio::spawn(lan::run(shared.clone(), port)));
        }
        Ok(Node {
            shared,
            tasks,
            owner_task,
            shutdown_tx,
        })
    }

    /// A handle for driving the node.
    pub fn handle(&self) -> NodeHandle {
        NodeHandle {
            shared: self.shared.clone(),
        }
    }

    /// Stops every task, saves the routing table and closes connections.
    pub async fn shutdown(self) {
        let snapshot = self.shared.dht.routing_snapshot().await.ok();
        let marked = self
            .shared
            .with_state(move |st, _| {
                if let Some(snapshot) = &snapshot {
                    let _ = st.store.save_routing_snapshot(snapshot);
                }
                st.store
                    .set_meta(CLEAN_STOP_KEY, &[1])
                    .map_err(NodeError::from)
            })
            .await;
        if let Err(e) = marked {
            tracing::warn!("cannot mark the stop as clean: {e}");
        }
        let _ = self.shutdown_tx.send(true);
        self.shared.wake_delivery.notify_waiters();
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
        self.shared.dht.stop().await;
        self.shared.net.close().await;
        self.owner_task.abort();
        let _ = self.owner_task.await;
    }

    /// Stops the node the way `kill -9` does: no goodbye to peers, no
    /// routing snapshot, nothing saved beyond what was already committed.
    /// (The simulator's crash; the network port must already refuse the
    /// node's calls.)
    pub async fn kill(self) {
        let _ = self.shutdown_tx.send(true);
        // Nothing more is written: the owner of the state runs no job after
        // the one it is in (a job runs whole, like a committed transaction).
        self.owner_task.abort();
        let _ = self.owner_task.await;
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
        // A killed process runs nothing more: its lanes, served calls and
        // receipts end at their next await (see `Shared::spawn`).
        self.shared.dht.stop().await;
    }
}

/// Logs the delivery events an operator follows, one INFO line each, peers
/// named by contact name where known.
fn log_event(st: &State, e: &NodeEvent) {
    let short = |id: &[u8]| -> String { id.iter().take(4).map(|b| format!("{b:02x}")).collect() };
    let name_of = |peer: &NodeId| -> String {
        st.store
            .contact(peer)
            .ok()
            .flatten()
            .map_or_else(|| short(peer.as_bytes()), |c| c.name)
    };
    let recipient_of = |id: &MessageId| -> String {
        st.store
            .outbound(id)
            .ok()
            .flatten()
            .map(|o| o.message.peer)
            .map_or_else(|| "?".to_owned(), |peer| name_of(&peer))
    };
    match e {
        NodeEvent::Received {
            from,
            message_id,
            via_mailbox,
            ..
        } => tracing::info!(
            "message {} from {} arrived{}",
            short(message_id.as_bytes()),
            name_of(from),
            if *via_mailbox { " via a mailbox" } else { "" }
        ),
        NodeEvent::Sent {
            message_id,
            via_mailbox,
        } => tracing::info!(
            "message {} to {} {}",
            short(message_id.as_bytes()),
            recipient_of(message_id),
            if *via_mailbox {
                "deposited in the recipient's mailboxes"
            } else {
                "handed over directly"
            }
        ),
        NodeEvent::Delivered { message_id } => tracing::info!(
            "message {} to {} delivered",
            short(message_id.as_bytes()),
            recipient_of(message_id)
        ),
        NodeEvent::GroupMessage {
            group_name,
            from,
            message_id,
            outbound: false,
            ..
        } => tracing::info!(
            "group message {} from {} in {group_name} arrived",
            short(message_id.as_bytes()),
            name_of(from)
        ),
        NodeEvent::GroupMessage { .. } => {}
        NodeEvent::GroupJoined { group_name, by, .. } => {
            tracing::info!("joined the group {group_name}, invited by {}", name_of(by));
        }
        NodeEvent::Alert { from, text, .. } => {
            // Remote text: no control characters reach the log.
            let text: String = text.chars().flat_map(char::escape_default).collect();
            tracing::warn!("alert from {}: {text}", name_of(from));
        }
        NodeEvent::GroupRemoved { group_name, .. } => {
            tracing::warn!("this node was removed from the group {group_name}");
        }
        NodeEvent::Failed { message_id, reason } => tracing::warn!(
            "message {} to {} failed: {reason}",
            short(message_id.as_bytes()),
            recipient_of(message_id)
        ),
        NodeEvent::FileTransfer {
            name,
            peer,
            outbound,
            change,
            ..
        } => {
            let (to_from, who) = if *outbound {
                ("to", name_of(peer))
            } else {
                ("from", name_of(peer))
            };
            // Remote text: no control characters reach the log.
            let name: String = name.chars().flat_map(char::escape_default).collect();
            match change {
                FileChange::Offered { size } => {
                    tracing::info!("file {name} ({size} bytes) {to_from} {who} offered");
                }
                FileChange::Completed { path: Some(path) } => {
                    tracing::info!(
                        "file {name} {to_from} {who} received, saved as {}",
                        path.display()
                    );
                }
                FileChange::Completed { path: None } => {
                    tracing::info!("file {name} {to_from} {who} delivered");
                }
                FileChange::Failed { reason } => {
                    tracing::warn!("file {name} {to_from} {who} failed: {reason}");
                }
            }
        }
        NodeEvent::IdentityChanged { .. } => {}
        // One line per queued text would drown a batch's log; `Sent` says it.
        NodeEvent::Queued { .. } => {}
    }
}

/// Notes that `peer`'s clock read `theirs` when ours read `ours`; logs the
/// warning when most peers disagree with our clock.
fn observe_clock(clocks: &Mutex<PeerClocks>, ours: UnixMillis, peer: NodeId, theirs: UnixMillis) {
    let warning = clocks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .observe(peer, theirs, ours);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
}

fn refill_prekeys(state: &mut State, t: UnixMillis) -> Result<()> {
    state.expire_handed_out(t);
    // Handed-out keys may be used any moment: count only the others.
    let have = state
        .prekeys
        .one_time_prekeys()
        .iter()
        .filter(|k| !state.handed_out.contains_key(&k.id))
        .count();
    if have < ONE_TIME_PREKEY_TARGET / 2 {
        let total = state.prekeys.one_time_prekeys().len();
        let room = tacnode_crypto::prekey::MAX_ONE_TIME_PREKEYS.saturating_sub(total);
        let want = (ONE_TIME_PREKEY_TARGET - have).min(room);
        let State { prekeys, rng, .. } = state;
        if want > 0
            && let Err(e) = prekeys.generate_one_time_prekeys(rng, want)
        {
            // X3DH works without one-time prekeys (with less protection
            // against replayed initial messages); keep running.
            tracing::warn!("cannot add one-time prekeys: {e}");
        }
    }
    state.save_prekeys(t)
}

/// Puts everything queued before a restart back into the schedule, oldest
/// first, page by page; beyond the delivery queue's limit the rest waits on
/// disk for the next start.
fn reschedule_queued(state: &mut State, t: UnixMillis) -> Result<()> {
    let mut after = None;
    loop {
        let page = state
            .store
            .queued_outbound(after, tacnode_domain::store::MAX_QUERY_ROWS)?;
        let Some(&(last_id, _, last_time)) = page.last() else {
            return Ok(());
        };
        for (id, peer, queued) in page {
            if let Err(e) = state.delivery.handle_queued(t, id, peer, queued) {
                tracing::warn!("outbox not fully scheduled ({e}); the rest waits for a restart");
                return Ok(());
            }
        }
        after = Some((last_time, last_id));
    }
}

/// Resolves a contact name or a `key_…` address.
fn resolve_target(st: &State, to: &str) -> Result<(NodeId, Option<Contact>)> {
    if let Ok(addr) = to.parse::<PeerAddress>() {
        let id = addr.node_id();
        return Ok((id, st.store.contact(&id)?));
    }
    let contact = st
        .store
        .contacts()?
        .into_iter()
        .find(|c| c.name == to)
        .ok_or_else(|| NodeError::UnknownContact(to.to_owned()))?;
    Ok((contact.node_id, Some(contact)))
}

/// Queues `texts` for `to` in one commit and schedules them; their ids.
fn queue_texts(
    st: &mut State,
    shared: &Shared,
    to: &str,
    texts: &[String],
) -> Result<Vec<MessageId>> {
    let (peer, contact) = resolve_target(st, to)?;
    if peer == shared.node_id() {
        return Err(NodeError::OwnAddress);
    }
    if let Some(c) = &contact
        && c.identity_changed
    {
        return Err(NodeError::KeysChanged(c.name.clone()));
    }
    // Refuse before writing: a queued message must also be scheduled.
    if st.delivery.len().saturating_add(texts.len()) > crate::delivery::MAX_TRACKED {
        return Err(NodeError::OutboxFull(st.delivery.len()));
    }
    let peer_key = match &contact {
        Some(c) => c.identity_key,
        None => *to
            .parse::<PeerAddress>()
            .map_err(|source| NodeError::BadAddress {
                address: to.to_owned(),
                source,
            })?
            .identity_key(),
    };
    // The peer's device key as our session with it has it: texts queued
    // while there is none get a random id, written out when sealed.
    // (A stored session that does not parse only costs the derived id.)
    let device = st
        .conversation(&peer)
        .ok()
        .flatten()
        .map(|c| c.remote_device_key());
    let t = shared.now();
    let last_outbox_time = st.last_outbox_time;
    let queued = st.batch(|st| {
        if contact.is_none() {
            // Sending to a bare address adds it as an unverified contact.
            let addr = PeerAddress::new(peer_key);
            let name: String = addr.to_string().chars().take(16).collect();
            st.store.add_contact(&Contact {
                name,
                node_id: peer,
                identity_key: peer_key,
                first_seen: t,
                verified: false,
                identity_changed: false,
            })?;
        }
        let mut queued: Vec<(MessageId, UnixMillis)> = Vec::with_capacity(texts.len());
        for text in texts {
            // The id is derived from the text, so it need not travel; a
            // time that would repeat a queued text's id (the same text
            // at the same millisecond, after the clock was set back) is
            // moved on.
            let mut tries = 0;
            let (id, time) = loop {
                let time = st.next_outbox_time(t);
                let derived = device
                    .and_then(|d| st.text_id(&shared.identity, (&peer_key, &d), true, time, text));
                let id = match derived {
                    Some(id) => id,
                    None => {
                        let mut id = [0u8; tacnode_domain::MESSAGE_ID_LEN];
                        rand_core::Rng::fill_bytes(&mut st.rng, &mut id);
                        MessageId(id)
                    }
                };
                if st.store.outbound(&id)?.is_none() && !queued.iter().any(|(q, _)| *q == id) {
                    break (id, time);
                }
                tries += 1;
                if tries >= MAX_ID_TRIES {
                    return Err(NodeError::NoFreeMessageId);
                }
            };
            st.store.queue_outbound(&peer, &id, text, time)?;
            queued.push((id, time));
        }
        Ok(queued)
    });
    let queued = match queued {
        Ok(q) => q,
        Err(e) => {
            // Nothing was queued: reuse the times.
            st.last_outbox_time = last_outbox_time;
            return Err(e);
        }
    };
    for (id, time) in &queued {
        st.delivery.handle_queued(t, *id, peer, *time)?;
    }
    for ((id, time), text) in queued.iter().zip(texts) {
        shared.emit(NodeEvent::Queued {
            to: peer,
            message_id: *id,
            text: text.clone(),
            time: *time,
        });
    }
    Ok(queued.into_iter().map(|(id, _)| id).collect())
}

/// What `tacnode outbox` shows (see [`NodeHandle::outbox`]).
fn outbox_items(st: &State) -> Result<Vec<OutboxItem>> {
    let mut out = Vec::new();
    for (id, recipient, _) in st
        .store
        .queued_outbound(None, tacnode_domain::store::MAX_QUERY_ROWS)?
    {
        let Some(entry) = st.store.outbound(&id)? else {
            continue;
        };
        let contact = st.store.contact(&recipient)?;
        let held = contact.as_ref().is_some_and(|c| c.identity_changed);
        let (in_flight, next) = match st.delivery.schedule_of(&id) {
            Some((f, n)) => (f, Some(n)),
            None => (false, None),
        };
        out.push(OutboxItem {
            message_id: id,
            recipient,
            recipient_name: contact.map(|c| c.name),
            queued: entry.message.time,
            attempts: entry.delivery.attempts,
            in_flight,
            next_attempt: next,
            reason: if held {
                Some(send::WAITING_FOR_VERIFICATION.to_owned())
            } else {
                entry.delivery.last_error
            },
        });
    }
    Ok(out)
}

impl NodeHandle {
    /// Own address.
    pub fn address(&self) -> PeerAddress {
        self.shared.identity.address()
    }

    /// Own node id.
    pub fn node_id(&self) -> NodeId {
        self.shared.node_id()
    }

    /// Where QUIC listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.net.local_addr()
    }

    /// Subscribes to events.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.shared.events.subscribe()
    }

    /// Adds a contact, or names a stranger that wrote to us (its contact
    /// is named after its address until then). An address that already is
    /// a named contact is refused with that name, never silently renamed.
    pub async fn add_contact(&self, name: &str, address: &str) -> Result<Contact> {
        let addr: PeerAddress = address.parse().map_err(|source| NodeError::BadAddress {
            address: address.to_owned(),
            source,
        })?;
        if name.is_empty() || name.starts_with("key_") || name.starts_with('@') {
            return Err(NodeError::BadContactName);
        }
        if addr.node_id() == self.node_id() {
            return Err(NodeError::OwnAddress);
        }
        let name = name.to_owned();
        self.shared
            .with_state(move |st, shared| {
                if st
                    .store
                    .contacts()?
                    .iter()
                    .any(|c| c.name == name && c.node_id != addr.node_id())
                {
                    return Err(NodeError::NameTaken(name));
                }
                let contact = Contact {
                    name: name.clone(),
                    node_id: addr.node_id(),
                    identity_key: *addr.identity_key(),
                    first_seen: shared.now(),
                    verified: false,
                    identity_changed: false,
                };
                if let Some(existing) = st.store.contact(&contact.node_id)?
                    && existing.name != name
                    && !existing.name.starts_with("key_")
                {
                    return Err(NodeError::AddressTaken(existing.name));
                }
                if st.store.add_contact(&contact)?
                    == tacnode_domain::store::InsertOutcome::AlreadyPresent
                {
                    st.store.rename_contact(&contact.node_id, &name)?;
                }
                Ok(st.store.contact(&contact.node_id)?.unwrap_or(contact))
            })
            .await
    }

    /// Forgets a contact: its row, its session and the device key pinned
    /// for it, in one commit. The message history stays. A stranger removed
    /// this way counts as a stranger again if it writes.
    pub async fn remove_contact(&self, name: &str) -> Result<Contact> {
        let name = name.to_owned();
        self.shared
            .with_state(move |st, _| {
                let (id, contact) = resolve_target(st, &name)?;
                let contact = contact.ok_or(NodeError::UnknownContact(name))?;
                st.batch(|st| {
                    st.store.remove_contact(&id)?;
                    st.store.delete_session(&id)?;
                    st.store.delete_meta(&peer_meta_key(PIN_PREFIX, &id))?;
                    st.store.delete_meta(&peer_meta_key(PENDING_PREFIX, &id))?;
                    st.conversations.remove(&id);
                    st.text_id_keys.remove(&id);
                    Ok(())
                })?;
                Ok(contact)
            })
            .await
    }

    /// All contacts.
    pub async fn contacts(&self) -> Result<Vec<Contact>> {
        self.shared
            .with_state(|st, _| -> Result<_> { Ok(st.store.contacts()?) })
            .await
    }

    /// The safety number with a contact and, once its device key is known,
    /// the device code (see [`DeviceCode`]: the one that changes when only
    /// the device key did); `confirm` marks it verified (and accepts a
    /// changed key).
    pub async fn verify_contact(
        &self,
        name: &str,
        confirm: bool,
    ) -> Result<(Contact, SafetyNumber, Option<DeviceCode>)> {
        let name = name.to_owned();
        let verified = self
            .shared
            .with_state(move |st, shared| -> Result<_> {
                let (id, contact) = resolve_target(st, &name)?;
                let contact = contact.ok_or(NodeError::UnknownContact(name))?;
                let own = shared.identity.identity_key();
                let number = SafetyNumber::new(&own, &contact.identity_key);
                let device_code = st.device_key_to_verify(&id)?.map(|dk| {
                    DeviceCode::new(
                        (&own, &shared.identity.device_key()),
                        (&contact.identity_key, &dk),
                    )
                });
                if !confirm {
                    return Ok((contact, number, device_code));
                }
                if let Some(k) = st.take_pending_pin(&id)? {
                    st.repin(&id, Some(&k))?;
                }
                if contact.identity_changed {
                    st.store.acknowledge_identity_change(&id)?;
                }
                st.store.set_contact_verified(&id, true)?;
                // Held messages may go now.
                st.delivery.handle_peer_online(shared.now(), &id);
                let contact = st.store.contact(&id)?.unwrap_or(contact);
                Ok((contact, number, device_code))
            })
            .await?;
        if confirm {
            self.shared.wake_delivery.notify_one();
        }
        Ok(verified)
    }

    /// Creates the group `name` with this node as its admin.
    pub async fn create_group(&self, name: &str) -> Result<GroupInfo> {
        let name = name.to_owned();
        self.shared
            .with_state(move |st, shared| groups::create(st, shared, &name))
            .await
    }

    /// Adds a contact (name or `key_…` address) to the group `group`
    /// (this node must be an admin); a member already gets its invitation
    /// and our key again.
    pub async fn group_add(&self, group: &str, member: &str) -> Result<()> {
        let (group, member) = (group.to_owned(), member.to_owned());
        self.shared
            .with_state(move |st, shared| groups::add(st, shared, &group, &member))
            .await
    }

    /// Removes a member from the group `group` (this node must be an
    /// admin); our sender key is replaced at once.
    pub async fn group_remove(&self, group: &str, member: &str) -> Result<()> {
        let (group, member) = (group.to_owned(), member.to_owned());
        self.shared
            .with_state(move |st, shared| groups::remove(st, shared, &group, &member))
            .await
    }

    /// The groups this node is in, by name.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>> {
        self.shared.with_state(groups::list).await
    }

    /// The members of the group `group`.
    pub async fn group_members(&self, group: &str) -> Result<Vec<GroupMember>> {
        let group = group.to_owned();
        self.shared
            .with_state(move |st, shared| groups::members(st, shared, &group))
            .await
    }

    /// Writes a text to the group `group`: stored, and on its way to the
    /// online members at once (members away get it when they return).
    pub async fn send_group(&self, group: &str, text: &str) -> Result<MessageId> {
        let (group, text) = (group.to_owned(), text.to_owned());
        self.shared
            .with_state(move |st, shared| groups::send(st, shared, &group, &text))
            .await
    }

    /// Announces an alert to every node of the network (at most 6
    /// announcements an hour).
    pub async fn announce(&self, text: &str) -> Result<()> {
        let kind = tacnode_domain::AnnouncementKind::Alert {
            text: text.to_owned(),
        };
        self.announce_kind(kind).await
    }

    /// Advertises a service to every node for `hours` (at most 24).
    pub async fn advertise(&self, name: &str, detail: &str, hours: u64) -> Result<()> {
        let kind = announce::service(name, detail, hours, self.shared.now());
        self.announce_kind(kind).await
    }

    async fn announce_kind(&self, kind: tacnode_domain::AnnouncementKind) -> Result<()> {
        self.shared
            .with_state(move |st, shared| announce::announce(st, shared, kind))
            .await?;
        self.shared.wake_groups.notify_one();
        Ok(())
    }

    /// Services advertised to the network and on offer now.
    pub async fn services(&self) -> Result<Vec<crate::announcements::ServiceListing>> {
        self.shared
            .with_state(|st, shared| Ok(announce::services(st, shared)))
            .await
    }

    /// Offers the file at `path` (absolute) to `to`, a contact's name or
    /// address: recorded before this returns, then offered and fetched by
    /// the recipient (`files` follows it).
    pub async fn send_file(&self, to: &str, path: &std::path::Path) -> Result<FileTransferInfo> {
        files::send_file(&self.shared, to, path).await
    }

    /// Every file transfer, newest first.
    pub async fn files(&self) -> Result<Vec<FileTransferInfo>> {
        self.shared.with_state(|st, _| Ok(files::list(st))).await
    }

    /// Cancels a file transfer (its id or an unambiguous hex prefix).
    pub async fn cancel_file(&self, id_prefix: &str) -> Result<FileTransferInfo> {
        files::cancel(&self.shared, id_prefix).await
    }

    /// Queues a text; durable before this returns.
    pub async fn send(&self, to: &str, text: &str) -> Result<MessageId> {
        self.send_many(to, &[text])
            .await?
            .pop()
            .ok_or(NodeError::NotInOutbox)
    }

    /// Queues several texts for one recipient, in order, in one commit:
    /// all are durable before this returns, or none is queued. At most
    /// [`MAX_SEND_BATCH`] at once.
    pub async fn send_many(&self, to: &str, texts: &[&str]) -> Result<Vec<MessageId>> {
        if texts.len() > MAX_SEND_BATCH {
            return Err(NodeError::TooManyAtOnce(texts.len()));
        }
        for text in texts {
            // Refused here, not only by the CLI: the control socket and any
            // other front end reach the node through this.
            if text.is_empty() {
                return Err(NodeError::EmptyText);
            }
            Content::text(*text)?;
        }
        let to = to.to_owned();
        let texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        let ids = self
            .shared
            .with_state(move |st, shared| queue_texts(st, shared, &to, &texts))
            .await?;
        self.shared.wake_delivery.notify_one();
        Ok(ids)
    }

    /// The waiting message whose id (hex) starts with `prefix`.
    fn waiting_message(st: &State, prefix: &str) -> Result<(MessageId, NodeId)> {
        let prefix = prefix.to_ascii_lowercase();
        let matches: Vec<(MessageId, NodeId)> = st
            .store
            .queued_outbound(None, tacnode_domain::store::MAX_QUERY_ROWS)?
            .into_iter()
            .filter(|(id, _, _)| {
                id.as_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .starts_with(&prefix)
            })
            .map(|(id, to, _)| (id, to))
            .collect();
        match matches.as_slice() {
            [] => Err(NodeError::NotInOutbox),
            [one] => Ok(*one),
            _ => Err(NodeError::AmbiguousId(prefix)),
        }
    }

    /// Cancels a waiting message (id or an unambiguous hex prefix of it): it
    /// is marked failed ("cancelled by the operator") and never sent. A
    /// message with an attempt on the wire cannot be cancelled.
    pub async fn cancel(&self, id_prefix: &str) -> Result<MessageId> {
        let id_prefix = id_prefix.to_owned();
        self.shared
            .with_state(move |st, shared| {
                let (id, _) = Self::waiting_message(st, &id_prefix)?;
                if st
                    .delivery
                    .schedule_of(&id)
                    .is_some_and(|(in_flight, _)| in_flight)
                {
                    return Err(NodeError::BeingSent(id_prefix));
                }
                let reason = "cancelled by the operator";
                st.store.mark_failed(&id, reason, shared.now())?;
                st.delivery.forget(id);
                st.sealed_outbox.remove(&id);
                shared.emit(NodeEvent::Failed {
                    message_id: id,
                    reason: reason.into(),
                });
                Ok(id)
            })
            .await
    }

    /// Tries the waiting messages to the recipient of `id_prefix`, or to
    /// every recipient, now instead of at their next retry; returns how
    /// many recipients.
    pub async fn retry(&self, id_prefix: Option<&str>) -> Result<usize> {
        let id_prefix = id_prefix.map(str::to_owned);
        let n = self
            .shared
            .with_state(move |st, shared| -> Result<_> {
                let recipients: Vec<NodeId> = match &id_prefix {
                    Some(p) => vec![Self::waiting_message(st, p)?.1],
                    None => {
                        let mut all: Vec<NodeId> = st
                            .store
                            .queued_outbound(None, tacnode_domain::store::MAX_QUERY_ROWS)?
                            .into_iter()
                            .map(|(_, to, _)| to)
                            .collect();
                        all.sort_unstable();
                        all.dedup();
                        all
                    }
                };
                let now = shared.now();
                for r in &recipients {
                    st.delivery.handle_peer_online(now, r);
                }
                Ok(recipients.len())
            })
            .await?;
        self.shared.wake_delivery.notify_one();
        Ok(n)
    }

    /// Every message waiting to go, oldest first (at most
    /// [`tacnode_domain::store::MAX_QUERY_ROWS`]), with where it stands and
    /// why it waits.
    pub async fn outbox(&self) -> Result<Vec<OutboxItem>> {
        self.shared.with_state(|st, _| outbox_items(st)).await
    }

    /// The latest `limit` messages (at most
    /// [`tacnode_domain::store::MAX_QUERY_ROWS`]) of every conversation, oldest
    /// first, with the delivery status of outgoing ones.
    pub async fn inbox(&self, limit: usize) -> Result<Vec<(StoredMessage, Option<MessageStatus>)>> {
        self.shared
            .with_state(move |st, _| {
                let mut out = Vec::new();
                for m in st.store.latest_history(limit)? {
                    let status = match m.direction {
                        tacnode_domain::Direction::Outbound => {
                            st.store.outbound_status(&m.message_id)?
                        }
                        tacnode_domain::Direction::Inbound => None,
                    };
                    out.push((m, status));
                }
                Ok(out)
            })
            .await
    }

    /// X3DH handshakes this node ran since it started (initiated or answered).
    pub fn x3dh_sessions(&self) -> u64 {
        self.shared
            .x3dh_sessions
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Direct batches of two or more messages this node handed over since
    /// it started.
    pub fn direct_batches(&self) -> u64 {
        self.shared
            .direct_batches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sessions this node restarted since it started, because the peer
    /// could not open its messages.
    pub fn session_restarts(&self) -> u64 {
        self.shared
            .session_restarts
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Loop cover packets this node sent since it started, and how many
    /// came back through their relays (the rest were lost or dropped on
    /// their paths: many missing is a sign of an active attack or of
    /// failing relays).
    pub fn loops(&self) -> (u64, u64) {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        (
            load(&self.shared.loops_sent),
            load(&self.shared.loops_returned),
        )
    }

    /// Status of an outgoing message.
    pub async fn message_status(&self, id: &MessageId) -> Result<Option<MessageStatus>> {
        let id = *id;
        self.shared
            .with_state(move |st, _| Ok(st.store.outbound(&id)?.map(|e| e.delivery.status)))
            .await
    }

    /// Connected peers.
    pub fn connected_peers(&self) -> Vec<NodeId> {
        self.shared.net.connected_peers()
    }

    /// Status at a glance.
    pub async fn status(&self) -> Result<NodeStatus> {
        let routing_table_size = self.shared.dht.routing_table_size().await.unwrap_or(0);
        let (outbox_pending, mailbox_entries_held) = self
            .shared
            .with_state(|st, _| {
                let held =
                    usize::try_from(st.store.mailbox_usage()?.messages).unwrap_or(usize::MAX);
                Ok::<_, NodeError>((st.delivery.len(), held))
            })
            .await?;
        Ok(NodeStatus {
            address: self.address(),
            node_type: self.shared.node_type,
            listen: self.local_addr(),
            // From the clock port (zero if the clock went back meanwhile).
            uptime_secs: self.shared.now().millis_since(self.shared.started) / 1000,
            routing_table_size,
            connected_peers: self.shared.net.connected_peers().len(),
            outbox_pending,
            mailbox_entries_held,
            clock: self.shared.clock_check(),
            storage_failure: self
                .shared
                .storage_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            admission: self.admission_status(),
            observed_address: self
                .shared
                .observed_address
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .trusted(),
            reachability: reachability::reachability(&self.shared),
            relay: relay::published_relay(&self.shared),
            hole_punches: self
                .shared
                .hole_punches
                .load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    fn admission_status(&self) -> AdmissionStatus {
        let admission = self.shared.admission.current();
        match admission.as_ref() {
            tacnode_domain::Admission::Open => AdmissionStatus::Open,
            tacnode_domain::Admission::Closed(net) => AdmissionStatus::Closed {
                admins: net
                    .admins()
                    .iter()
                    .map(|a| (PeerAddress::new(*a), net.revocation_sequence(a)))
                    .collect(),
                revoked: net
                    .revocations()
                    .iter()
                    .flat_map(|l| l.revoked.iter())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                certificate_expires: self
                    .shared
                    .config
                    .admission
                    .certificate
                    .as_ref()
                    .map(|c| c.not_after),
            },
        }
    }

    /// Applies an admin's revocation list (closed networks): it is
    /// verified against the network's admins, kept, put in force at once
    /// (connections to newly revoked members close) and published in the
    /// DHT, where every member finds it within its revocation fetch interval.
    pub async fn import_revocations(
        &self,
        list: tacnode_domain::RevocationList,
    ) -> Result<tacnode_domain::RevocationUpdate> {
        admission::apply_revocations(&self.shared, list, true).await
    }

    /// Looks up the admins' revocation lists now (tests and the simulator;
    /// the node does it every `revocation_fetch_interval_secs`).
    pub async fn fetch_revocations(&self) -> Result<usize> {
        admission::fetch_revocations(&self.shared).await
    }

    /// Runs one mailbox fetch round now (tests and the demo use it to avoid
    /// waiting for the periodic one).
    pub async fn fetch_mailboxes(&self) -> Result<usize> {
        maintenance::fetch_own_mailboxes(&self.shared).await
    }

    /// Looks up `peer`'s signed record in the DHT (validated).
    pub async fn lookup_peer(&self, peer: NodeId) -> Result<Option<PeerRecord>> {
        self.shared.dht.find_peer(peer).await
    }

    /// Looks up `peer`'s published prekeys in the DHT (what initiators see).
    pub async fn lookup_prekeys(
        &self,
        peer: NodeId,
    ) -> Result<Option<tacnode_domain::e2e::PublishedPrekeys>> {
        self.shared.dht.find_prekeys(peer).await
    }

    /// Publishes our peer record and prekeys now; returns how many nodes
    /// stored the peer record.
    pub async fn publish(&self) -> Result<usize> {
        maintenance::publish_records(&self.shared).await
    }

    /// Waits until the routing table has at least `n` contacts or `timeout` passes.
    pub async fn wait_for_routing(&self, n: usize, timeout: Duration) -> bool {
        let polls = timeout.as_millis() / ROUTING_POLL.as_millis() + 1;
        for _ in 0..polls {
            if self.shared.dht.routing_table_size().await.unwrap_or(0) >= n {
                return true;
            }
            tokio::time::sleep(ROUTING_POLL).await;
        }
        false
    }
}

/// Content of a decrypted message, as the receive path uses it.
pub(crate) fn plaintext_for(id: MessageId, content: Content, sent: UnixMillis) -> Plaintext {
    Plaintext {
        message_id: id,
        sent,
        content,
    }
}

/// The identity key behind a node id, from contacts or peer records.
pub(crate) fn known_identity(st: &State, id: &NodeId) -> Option<IdentityKey> {
    if let Ok(Some(c)) = st.store.contact(id) {
        return Some(c.identity_key);
    }
    st.peers
        .get(id)
        .map(|r| r.body.identity_key)
        .or_else(|| st.groups.member_key(id))
}
