//! Ports: traits that adapters implement, each with two real implementations.
//!
//! Keep this list short. A trait belongs here only when production and the
//! simulator (or SQLite and memory) both implement it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use crate::connection::PeerConnection;
use crate::contact::Contact;
use crate::delivery::{DeliveryState, Direction, MessageStatus, OutboxEntry, StoredMessage};
use crate::dht::RefusalCode;
use crate::group::GroupId;
use crate::id::NodeId;
use crate::keys::IdentityKey;
use crate::message::MessageId;
use crate::store::{
    InsertOutcome, MailboxItem, MailboxQuota, MailboxUsage, RoutingEntry, SecretBytes,
};
use crate::store_error::StoreError;
use crate::time::UnixMillis;

/// A source of wall-clock time: the system clock in the daemon, a virtual
/// clock in the simulator and in tests.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> UnixMillis;
}

/// The node's durable state: contacts, sessions, prekeys, the outbox and
/// inbox, the mailboxes it holds for others, the routing snapshot and a small
/// key/value table. Implemented by the SQLite file of the daemon
/// (`tacnode_store::Store`) and by an in-memory twin of it
/// (`tacnode_store::MemoryStore`, the simulator's default); the conformance
/// suite of `crates/store` holds both to the same contract.
///
/// Times are parameters (no implementation reads a clock). Every `Ok` of a
/// write is committed, unless a batch is open: between
/// [`NodeStore::begin_batch`] and [`NodeStore::commit_batch`] writes are
/// kept together, and [`NodeStore::rollback_batch`] undoes all of them.
/// [`batch_within`] runs a closure that way.
pub trait NodeStore: Send {
    // Batches.

    /// Whether a batch is open.
    fn in_batch(&self) -> bool;
    /// Opens a batch; the caller checks [`NodeStore::in_batch`] first (a
    /// batch inside a batch joins the outer one: see [`batch_within`]).
    fn begin_batch(&mut self) -> Result<(), StoreError>;
    /// Commits every write since [`NodeStore::begin_batch`] together.
    fn commit_batch(&mut self) -> Result<(), StoreError>;
    /// Undoes every write since [`NodeStore::begin_batch`].
    fn rollback_batch(&mut self) -> Result<(), StoreError>;
    /// Rolls back a batch left open (its owner panicked inside it); returns
    /// whether there was one.
    fn abandon_open_batch(&mut self) -> bool;

    // Contacts.

    /// Adds `contact`; a contact for the same node is left as it is.
    fn add_contact(&mut self, contact: &Contact) -> Result<InsertOutcome, StoreError>;
    /// The contact for `node_id`.
    fn contact(&self, node_id: &NodeId) -> Result<Option<Contact>, StoreError>;
    /// How many contacts are not verified.
    fn unverified_contact_count(&self) -> Result<u64, StoreError>;
    /// All contacts by name, then node id (at most
    /// [`crate::store::MAX_QUERY_ROWS`]).
    fn contacts(&self) -> Result<Vec<Contact>, StoreError>;
    /// Renames the contact for `node_id`; [`StoreError::UnknownContact`]
    /// when there is none.
    fn rename_contact(&mut self, node_id: &NodeId, name: &str) -> Result<(), StoreError>;
    /// Sets whether the user verified the contact's identity key.
    fn set_contact_verified(&mut self, node_id: &NodeId, verified: bool) -> Result<(), StoreError>;
    /// Clears `verified` and raises `identity_changed`.
    fn flag_contact_key_change(&mut self, node_id: &NodeId) -> Result<(), StoreError>;
    /// Clears `identity_changed` once the user has seen the warning.
    fn acknowledge_identity_change(&mut self, node_id: &NodeId) -> Result<(), StoreError>;
    /// Removes the contact for `node_id`; `false` if there was none.
    fn remove_contact(&mut self, node_id: &NodeId) -> Result<bool, StoreError>;

    // Meta.

    /// The value stored under `key`.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores `value` under `key`, replacing any previous value.
    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key`; `false` if it was absent.
    fn delete_meta(&mut self, key: &str) -> Result<bool, StoreError>;
    /// The `u64` stored under `key` by [`NodeStore::set_meta_u64`].
    fn meta_u64(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.meta(key)?
            .map(|v| {
                <[u8; 8]>::try_from(v.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        table: "meta",
                        reason: "value is not a u64",
                    })
            })
            .transpose()
    }
    /// Stores `value` under `key` as 8 big-endian bytes.
    fn set_meta_u64(&mut self, key: &str, value: u64) -> Result<(), StoreError> {
        self.set_meta(key, &value.to_be_bytes())
    }

    // Sessions and prekeys.

    /// Stores (or replaces) the session with `peer`.
    fn save_session(
        &mut self,
        peer: &NodeId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The session pickle for `peer`.
    fn load_session(&self, peer: &NodeId) -> Result<Option<SecretBytes>, StoreError>;
    /// Deletes the session with `peer`; `false` if there was none.
    fn delete_session(&mut self, peer: &NodeId) -> Result<bool, StoreError>;
    /// Peers whose session changed at `since` or later, most recent first
    /// (ties by id), at most `limit` (capped at [`crate::store::MAX_QUERY_ROWS`]).
    fn recent_session_peers(
        &self,
        since: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, StoreError>;
    /// Stores (replaces) the whole prekey state.
    fn save_prekey_state(&mut self, state: &[u8], now: UnixMillis) -> Result<(), StoreError>;
    /// The prekey state saved last, if any.
    fn load_prekey_state(&self) -> Result<Option<SecretBytes>, StoreError>;

    // Outbox and inbox.

    /// Puts an outbound text in the outbox as [`MessageStatus::Queued`];
    /// a second call with the same id changes nothing.
    fn queue_outbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        now: UnixMillis,
    ) -> Result<InsertOutcome, StoreError>;
    /// The outbound message `message_id` with its delivery state.
    fn outbound(&self, message_id: &MessageId) -> Result<Option<OutboxEntry>, StoreError>;
    /// The latest queue time in the outbox, if any.
    fn latest_outbound_time(&self) -> Result<Option<UnixMillis>, StoreError>;
    /// Queued messages in queue order (time, then id) after `after`
    /// (exclusive), at most `limit` (capped at
    /// [`crate::store::MAX_QUERY_ROWS`]): (id, recipient, queue time).
    fn queued_outbound(
        &self,
        after: Option<(UnixMillis, MessageId)>,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId, UnixMillis)>, StoreError>;
    /// The delivery status of an outgoing message; `None` for an unknown id.
    fn outbound_status(&self, message_id: &MessageId) -> Result<Option<MessageStatus>, StoreError>;
    /// `Queued → Sent`, no further retries; later states are kept. Returns
    /// the resulting status.
    fn mark_sent(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError>;
    /// As [`NodeStore::mark_sent`], keeping the first deposit time of a
    /// queued message for [`NodeStore::expire_deposited`].
    fn mark_deposited(
        &mut self,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError>;
    /// Messages deposited at or before `deposited_before` and still `Sent`
    /// become `Failed` with `reason`, oldest deposit first (ties by id), at
    /// most `limit` (capped at [`crate::store::MAX_QUERY_ROWS`]); returns them.
    fn expire_deposited(
        &mut self,
        deposited_before: UnixMillis,
        reason: &str,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, NodeId)>, StoreError>;
    /// `peer` asked again for what it has not acknowledged (it could not
    /// open it: our sending state was rolled back). Our messages to it
    /// still `Sent` become `Queued` again, due at `now`, with their
    /// attempts, last error and first deposit time cleared: the one move
    /// of a status backwards. Oldest first (queue time, then id), at most
    /// `limit` (capped at [`crate::store::MAX_QUERY_ROWS`]); returns them
    /// with their queue times.
    fn requeue_sent(
        &mut self,
        peer: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<(MessageId, UnixMillis)>, StoreError>;
    /// `peer`'s receipt: any state becomes `Delivered`; another peer than
    /// the recipient is [`StoreError::UnknownMessage`].
    fn mark_delivered(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Counts a failed attempt of a queued message and keeps `error`
    /// (truncated to [`crate::store::MAX_LAST_ERROR_BYTES`]); messages no
    /// longer queued are unchanged. Returns the delivery state.
    fn record_send_failure(
        &mut self,
        message_id: &MessageId,
        error: &str,
        now: UnixMillis,
    ) -> Result<DeliveryState, StoreError>;
    /// `Queued → Failed` with `reason`; later states are kept. Returns the
    /// resulting status.
    fn mark_failed(
        &mut self,
        message_id: &MessageId,
        reason: &str,
        now: UnixMillis,
    ) -> Result<MessageStatus, StoreError>;
    /// Stores a text received from `peer`; the same (peer, id) again is
    /// [`InsertOutcome::AlreadyPresent`].
    fn insert_inbound(
        &mut self,
        peer: &NodeId,
        message_id: &MessageId,
        text: &str,
        received: UnixMillis,
    ) -> Result<InsertOutcome, StoreError>;
    /// The latest `limit` messages (capped at [`crate::store::MAX_QUERY_ROWS`])
    /// of every conversation, both directions, oldest first: ordered by
    /// time, then inbound before outbound, then peer, then id.
    fn latest_history(&self, limit: usize) -> Result<Vec<StoredMessage>, StoreError>;

    // Group channels.

    /// Keeps a group channel's state (its pickle, secret) under its id,
    /// replacing what was there.
    fn save_group(
        &mut self,
        group: &GroupId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Every group channel kept, by id.
    fn groups(&self) -> Result<Vec<(GroupId, SecretBytes)>, StoreError>;
    /// Forgets a group channel's state (its messages stay in the history);
    /// whether it was there.
    fn delete_group(&mut self, group: &GroupId) -> Result<bool, StoreError>;
    /// Keeps a file transfer's record (its pickle, secret: it holds the
    /// file's key) under its id, replacing what was there.
    fn save_transfer(
        &mut self,
        transfer: &crate::file_transfer::TransferId,
        pickle: &[u8],
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Every file transfer kept, by id.
    fn transfers(&self)
    -> Result<Vec<(crate::file_transfer::TransferId, SecretBytes)>, StoreError>;
    /// Forgets a file transfer's record; whether it was there.
    fn delete_transfer(
        &mut self,
        transfer: &crate::file_transfer::TransferId,
    ) -> Result<bool, StoreError>;
    /// Stores a group message written by `sender` (this node for its own,
    /// `direction` says which); the same (group, sender, id) again is
    /// [`InsertOutcome::AlreadyPresent`]. It appears in
    /// [`NodeStore::latest_history`] with its group.
    fn insert_group_message(
        &mut self,
        group: &GroupId,
        sender: &NodeId,
        direction: Direction,
        message_id: &MessageId,
        text: &str,
        time: UnixMillis,
    ) -> Result<InsertOutcome, StoreError>;

    // Mailboxes held for others.

    /// Replaces the mailbox quota (default [`MailboxQuota::default`]).
    fn set_mailbox_quota(&mut self, quota: MailboxQuota);
    /// Holds `payload` for `recipient` until `expires`. Expired holdings are
    /// purged first (even when the deposit is refused); a deposit already
    /// held is [`InsertOutcome::AlreadyPresent`] (even over quota); a new one
    /// over quota is [`StoreError::MailboxRecipientQuota`] or
    /// [`StoreError::MailboxTotalQuota`].
    fn mailbox_deposit(
        &mut self,
        recipient: &NodeId,
        message_id: &MessageId,
        payload: &[u8],
        expires: UnixMillis,
        now: UnixMillis,
    ) -> Result<InsertOutcome, StoreError>;
    /// Recipients with unexpired holdings, in id order, after `after`
    /// (exclusive), at most `limit` (capped at [`crate::store::MAX_QUERY_ROWS`]).
    fn mailbox_recipients(
        &self,
        after: Option<&NodeId>,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<NodeId>, StoreError>;
    /// Unexpired holdings for `recipient`, by deposit time then id, at most
    /// `limit` (capped at [`crate::store::MAX_QUERY_ROWS`]). Not removed.
    fn mailbox_fetch(
        &self,
        recipient: &NodeId,
        now: UnixMillis,
        limit: usize,
    ) -> Result<Vec<MailboxItem>, StoreError>;
    /// Removes the listed holdings of `recipient`; returns how many.
    fn mailbox_remove(
        &mut self,
        recipient: &NodeId,
        message_ids: &[MessageId],
    ) -> Result<usize, StoreError>;
    /// Drops every holding expired at `now`; returns how many.
    fn mailbox_purge_expired(&mut self, now: UnixMillis) -> Result<usize, StoreError>;
    /// How much the mailboxes hold (expired holdings not yet purged included).
    fn mailbox_usage(&self) -> Result<MailboxUsage, StoreError>;

    // Routing snapshot.

    /// Replaces the saved routing snapshot with `entries`, atomically (an
    /// entry listed twice: the later one wins).
    fn save_routing_snapshot(&mut self, entries: &[RoutingEntry]) -> Result<(), StoreError>;
    /// The saved snapshot, most recently seen first (ties by id).
    fn load_routing_snapshot(&self) -> Result<Vec<RoutingEntry>, StoreError>;
}

/// Runs `f` as one batch of the store that `store` picks out of `owner`:
/// every write it makes is committed together, or none is when `f` fails or
/// the commit does. A batch inside a batch joins the outer one. `f` gets the
/// owner, so it can change the owner's other state together with the rows
/// that persist it.
pub fn batch_within<C, S, T, E>(
    owner: &mut C,
    store: fn(&mut C) -> &mut S,
    f: impl FnOnce(&mut C) -> Result<T, E>,
) -> Result<T, E>
where
    C: ?Sized,
    S: NodeStore + ?Sized,
    E: From<StoreError>,
{
    if store(owner).in_batch() {
        return f(owner);
    }
    store(owner).begin_batch().map_err(E::from)?;
    let result = f(owner);
    let s = store(owner);
    let end = if result.is_ok() {
        s.commit_batch()
    } else {
        s.rollback_batch()
    };
    match end {
        Ok(()) => result,
        Err(e) => {
            // A failed commit may leave the batch open: end it so the next
            // write does not silently join a dead batch.
            s.abandon_open_batch();
            match result {
                Ok(_) => Err(E::from(e)),
                Err(first) => Err(first),
            }
        }
    }
}

// --- The network ports (the node's view of QUIC, or of the simulator). ---

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a call to a peer got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The peer could not be reached (no address, dial failed, backing off
    /// after failed dials, connection lost).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// No answer within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// The peer answered with a refusal.
    #[error("refused ({code:?}): {detail}")]
    Refused {
        /// Why.
        code: RefusalCode,
        /// Detail.
        detail: String,
    },
    /// The relay a call went through refused it itself (the node called
    /// did not sign this refusal, so it does not count as the node's): no
    /// reservation there any more, over the node's byte budget, or the
    /// node is not connected to it. Look the node's record up again.
    #[error("the relay refused ({code:?}): {detail}")]
    RelayRefused {
        /// Why.
        code: RefusalCode,
        /// Detail (the relay's word only).
        detail: String,
    },
    /// The answer did not decode.
    #[error("bad answer: {0}")]
    BadAnswer(String),
    /// Our own network is shut down.
    #[error("the network is closed")]
    Closed,
}

/// The node's outgoing side of the network: authenticated request/answer
/// calls to peers, by identity.
pub trait PeerNetwork: Send + Sync + 'static {
    /// Sends `request` (an encoded message) to `peer`, dialling one of
    /// `addrs` if not connected, and returns its encoded answer. The peer's
    /// identity is authenticated before the answer is returned.
    fn call<'a>(
        &'a self,
        peer: NodeId,
        addrs: &'a [SocketAddr],
        request: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, CallError>>;

    /// Where this node listens.
    fn local_addr(&self) -> SocketAddr;

    /// Dials `peer` back at `address` over a new connection (never one
    /// already open, and from another local port than the one it called
    /// us on, so a NAT's existing mapping does not let it through), and
    /// closes it once the handshake, which authenticates `peer`,
    /// succeeded. `Ok` means anyone can reach `peer` there.
    fn dial_back(&self, peer: NodeId, address: SocketAddr) -> BoxFuture<'_, Result<(), CallError>>;

    /// Each peer with an open, authenticated connection, once: the
    /// connection in use, its remote address and round-trip time.
    fn connections(&self) -> Vec<PeerConnection>;

    /// Peers with an open, authenticated connection.
    fn connected_peers(&self) -> Vec<NodeId> {
        self.connections().into_iter().map(|c| c.peer).collect()
    }

    /// Replaces who may connect (a closed network's newest revocations):
    /// handshakes from now on are checked against `admission`, both ways,
    /// and open connections to revoked peers are closed.
    fn set_admission(&self, admission: std::sync::Arc<crate::Admission>);

    /// Closes and drops every open connection to `peer`, so the next call
    /// dials afresh (and, if the peer is gone, fails at the handshake
    /// timeout and backs off) instead of waiting out the request timeout
    /// on a connection a dead process left. The node calls it when a peer
    /// did not answer a probe. A no-op without a connection.
    fn forget(&self, peer: NodeId);

    /// Closes every connection and stops listening.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// Where the answer to an [`IncomingCall`] goes. Dropping it refuses the call.
pub trait Reply: Send + 'static {
    /// Sends the encoded answer.
    fn send(self: Box<Self>, answer: Vec<u8>) -> BoxFuture<'static, Result<(), String>>;
}

/// A request from an authenticated peer.
pub struct IncomingCall {
    /// Who sent it (authenticated by the network).
    pub peer: NodeId,
    /// Its identity key, which the network authenticated (`peer` is its
    /// node id): a direct delivery does not repeat it.
    pub peer_identity: IdentityKey,
    /// From where.
    pub remote: SocketAddr,
    /// The encoded request.
    pub body: Vec<u8>,
    /// Where the answer goes.
    pub reply: Box<dyn Reply>,
}

impl std::fmt::Debug for IncomingCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingCall")
            .field("peer", &self.peer)
            .field("remote", &self.remote)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// The node's incoming side of the network.
pub trait Incoming: Send + 'static {
    /// The next incoming call; `None` once the network is closed.
    fn next(&mut self) -> BoxFuture<'_, Option<IncomingCall>>;
}

// --- The file port (the files a node sends and receives). ---

/// What a file looked like when it was offered: a served block is read
/// only while the file still looks so (a file changed since would no
/// longer match the offer's hash, and its blocks would reuse nonces).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch (0 when the
    /// system does not say).
    pub modified_ns: u128,
}

/// Why the file port failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No such file.
    #[error("{0}: no such file")]
    NotFound(std::path::PathBuf),
    /// Not allowed to read or write it.
    #[error("{0}: permission denied (the daemon reads it as its own user)")]
    PermissionDenied(std::path::PathBuf),
    /// A directory, a device, a socket: not a regular file.
    #[error("{0}: not a regular file")]
    NotAFile(std::path::PathBuf),
    /// The file changed since it was offered.
    #[error("{0}: the file changed since it was offered; send it again")]
    Changed(std::path::PathBuf),
    /// The disk is full.
    #[error("the disk is full: free some space, the transfer resumes")]
    NoSpace,
    /// Anything else.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The files of transfers: the operator's files read for sending, and the
/// partial files received ones are written to, by transfer, until they are
/// complete and moved to the downloads directory. On disk in the daemon,
/// in memory in the simulator (kept across a node's restarts, like its
/// store). Asynchronous so that the disk adapter runs them on blocking
/// threads while the memory one answers at once (the simulator stays
/// deterministic).
pub trait TransferFiles: Send + Sync + 'static {
    /// The size and modification of the file at `path` (absolute), which
    /// must be a regular file.
    fn stat(&self, path: std::path::PathBuf) -> BoxFuture<'static, Result<FileStamp, FileError>>;
    /// Up to `len` bytes of the file at `path` from `offset`, if it still
    /// looks like `stamp` ([`FileError::Changed`] otherwise).
    fn read(
        &self,
        path: std::path::PathBuf,
        stamp: FileStamp,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'static, Result<Vec<u8>, FileError>>;
    /// Writes `bytes` at `offset` of the partial file of `transfer`
    /// (created if missing).
    fn write_part(
        &self,
        transfer: crate::file_transfer::TransferId,
        offset: u64,
        bytes: Vec<u8>,
    ) -> BoxFuture<'static, Result<(), FileError>>;
    /// Up to `len` bytes of the partial file of `transfer` from `offset`
    /// (none when it does not exist).
    fn read_part(
        &self,
        transfer: crate::file_transfer::TransferId,
        offset: u64,
        len: usize,
    ) -> BoxFuture<'static, Result<Vec<u8>, FileError>>;
    /// Makes what was written to the partial file durable (it must exist:
    /// one removed meanwhile is not made again).
    fn sync_part(
        &self,
        transfer: crate::file_transfer::TransferId,
    ) -> BoxFuture<'static, Result<(), FileError>>;
    /// Cuts the partial file to its first `len` bytes (it must have them)
    /// and moves it, durably, into the downloads directory under `name` (a
    /// plain file name; with a number added when that name is taken:
    /// nothing is overwritten). Returns where it is now.
    fn finish_part(
        &self,
        transfer: crate::file_transfer::TransferId,
        len: u64,
        name: String,
    ) -> BoxFuture<'static, Result<std::path::PathBuf, FileError>>;
    /// Deletes the partial file of `transfer`, if any.
    fn remove_part(
        &self,
        transfer: crate::file_transfer::TransferId,
    ) -> BoxFuture<'static, Result<(), FileError>>;
}

// --- The LAN beacon port (a datagram socket on the node's segments). ---

/// A datagram heard on the segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeardDatagram {
    /// Where it came from (not authenticated: the beacon's signature and
    /// the QUIC handshake that follows are).
    pub from: SocketAddr,
    /// Its bytes (at most [`crate::MAX_BEACON_BYTES`] are kept).
    pub bytes: Vec<u8>,
}

/// Why a beacon could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconSendError {
    /// The socket refused it (no route, interface down, …).
    #[error("sending the beacon: {0}")]
    Io(String),
    /// The port is closed.
    #[error("the beacon socket is closed")]
    Closed,
}

/// The node's segment: beacons sent to every node listening there (IPv4
/// multicast on the configured interfaces in the daemon, a simulated
/// segment in the simulator). Nothing heard here is trusted: it only
/// names peers to dial, and the handshake authenticates them.
pub trait LanBeacon: Send + 'static {
    /// Sends `datagram` to every node of the segment (each configured
    /// interface once).
    fn send(&self, datagram: Vec<u8>) -> BoxFuture<'_, Result<(), BeaconSendError>>;

    /// The next datagram heard; `None` once the port is closed. Cancel-safe:
    /// dropping the future loses no datagram.
    fn recv(&mut self) -> BoxFuture<'_, Option<HeardDatagram>>;
}
