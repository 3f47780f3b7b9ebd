//! The records a response carries, as the operator sees them.

use serde::{Deserialize, Serialize};

/// One message as shown to the operator.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    /// When it was sent or received (Unix ms).
    pub time_ms: u64,
    /// `in` or `out`.
    pub direction: String,
    /// The peer's `key_…` address (a contact), else its node id (hex).
    pub peer_address: String,
    /// The contact name, if the peer is one.
    pub peer_name: Option<String>,
    /// Message id (hex).
    pub message_id: String,
    /// The text.
    pub text: String,
    /// `received`, or for our own: `queued`, `sent`, `in mailbox`,
    /// `delivered`, `failed`, … (a group message of ours: `sent`).
    pub status: String,
    /// The group's name, for a group message (the peer is then the member
    /// that wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A group as the operator lists it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// Its id (hex).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Members, as this node sees them.
    pub members: usize,
    /// This node is an admin.
    pub admin: bool,
    /// This node is still a member.
    pub member: bool,
    /// Overlay links up now.
    pub links: usize,
    /// Why its stored state cannot be read, when it cannot (name, members
    /// and role are then unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// A service advertised to the network.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    /// Its name.
    pub name: String,
    /// What its author says about it.
    pub detail: String,
    /// Its author's `key_…` address.
    pub address: String,
    /// Its author's contact name, if it is one.
    pub author_name: Option<String>,
    /// Listed until then (Unix ms).
    pub until_ms: u64,
}

/// One member of a group.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberView {
    /// Its `key_…` address.
    pub address: String,
    /// Its contact name, if it is one.
    pub name: Option<String>,
    /// `admin` or `member`.
    pub role: String,
    /// This node.
    pub me: bool,
    /// An overlay link to it is up.
    pub linked: bool,
}

/// A message waiting to go.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct OutboxView {
    /// Message id (hex).
    pub message_id: String,
    /// Contact name, or the recipient's address.
    pub to: String,
    /// When it was queued (Unix ms).
    pub queued_ms: u64,
    /// Attempts that failed so far.
    pub attempts: u32,
    /// `sending` (an attempt is on the wire) or `waiting`.
    pub state: String,
    /// When the next attempt is due (Unix ms), if scheduled.
    pub next_attempt_ms: Option<u64>,
    /// Why it waits, in words.
    pub reason: Option<String>,
}

/// A peer the node knows: in its routing table, connected now, or both.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PeerView {
    /// Node id (hex).
    pub node_id: String,
    /// Its `key_…` address, when its identity key is known.
    pub address: Option<String>,
    /// Contact name, if it is one.
    pub name: Option<String>,
    /// `server` or `client`, when known.
    pub node_type: Option<String>,
    /// Where it listens (`ip:port`), as far as the node knows.
    pub endpoints: Vec<String>,
    /// In the routing table.
    pub in_routing_table: bool,
    /// An authenticated connection is open now.
    pub connected: bool,
    /// The connection's remote address, when connected.
    pub remote: Option<String>,
    /// The connection's round-trip time (µs), when connected.
    pub rtt_us: Option<u64>,
    /// How the connection reaches it (`direct`; relayed paths to come),
    /// when connected.
    pub path: Option<String>,
    /// When it last called or answered us since the daemon started (Unix
    /// ms), if it did.
    pub last_seen_ms: Option<u64>,
}

/// One contact as shown to the operator.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ContactView {
    /// Local name.
    pub name: String,
    /// Its `key_…` address.
    pub address: String,
    /// Safety number compared and confirmed.
    pub verified: bool,
    /// Its keys changed since they were pinned: sending stops until the
    /// operator verifies again.
    pub identity_changed: bool,
}

/// A file transfer, either way.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FileView {
    /// Transfer id (hex).
    pub id: String,
    /// The other end: contact name, or its node id (hex).
    pub peer: String,
    /// `out` (ours) or `in` (theirs).
    pub direction: String,
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes done: received and durable (in), served (out).
    pub done: u64,
    /// `offering`, `offered`, `receiving`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// Why it failed, or why the last attempt failed while it is retried.
    pub reason: Option<String>,
    /// The file sent (out), or where it was saved (in, once done).
    pub path: Option<String>,
    /// When it was offered (Unix ms).
    pub created_ms: u64,
    /// When the next attempt is due (Unix ms), while one waits.
    pub next_try_ms: Option<u64>,
}

impl FileView {
    /// No more changes will come.
    pub fn ended(&self) -> bool {
        matches!(self.state.as_str(), "done" | "failed" | "cancelled")
    }
}
