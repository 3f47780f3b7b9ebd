//! What the daemon answers.

use serde::{Deserialize, Serialize};

use crate::views::{
    ContactView, FileView, GroupMemberView, GroupView, MessageView, OutboxView, PeerView,
    ServiceView,
};

/// The daemon's answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// File transfers, newest first.
    Files {
        /// Each transfer.
        transfers: Vec<FileView>,
    },
    /// One file transfer (offered, or cancelled).
    File(FileView),
    /// The request failed.
    Error {
        /// Why, in words.
        message: String,
    },
    /// Done, nothing to show.
    Ok,
    /// Own identity.
    Id {
        /// Own `key_…` address.
        address: String,
        /// Own node id (hex).
        node_id: String,
    },
    /// Contacts.
    Contacts {
        /// Every contact.
        contacts: Vec<ContactView>,
    },
    /// A safety number.
    SafetyNumber {
        /// Contact name.
        name: String,
        /// The 60 digits.
        digits: String,
        /// Covers both device keys; `None` before the contact's is known.
        device_code: Option<String>,
        /// The scannable form (hex).
        qr_payload_hex: String,
        /// Whether the contact is now verified.
        verified: bool,
    },
    /// A message was queued.
    Queued {
        /// Its id (hex).
        message_id: String,
    },
    /// Messages were queued, ids in the order of the texts.
    QueuedMany {
        /// Their ids (hex).
        message_ids: Vec<String>,
    },
    /// A message (inbox listing or follow).
    Message(MessageView),
    /// End of an inbox listing.
    End,
    /// Peers: the routing table's contacts and the peers connected now.
    Peers {
        /// Contacts first by name, then the others by node id.
        peers: Vec<PeerView>,
        /// Contacts in the DHT routing table.
        routing_table_size: usize,
    },
    /// Messages waiting to go, oldest first.
    Outbox {
        /// The waiting messages.
        entries: Vec<OutboxView>,
    },
    /// While following the inbox: one of our messages changed status
    /// (`sent`, `in mailbox`, `delivered`, `failed`).
    StatusChange {
        /// The message (hex id).
        message_id: String,
        /// Its new status.
        status: String,
        /// Why it failed, for `failed`.
        reason: Option<String>,
    },
    /// Groups (a listing, or the one just created).
    Groups {
        /// By name.
        groups: Vec<GroupView>,
    },
    /// A group's members.
    GroupMembers {
        /// The group's name.
        group: String,
        /// This node first, then contacts by name, then the others.
        members: Vec<GroupMemberView>,
    },
    /// Services on offer, by name.
    Services {
        /// Each listing.
        services: Vec<ServiceView>,
    },
    /// While following the inbox: an alert announced to every node.
    Alert {
        /// Its author's `key_…` address.
        from_address: String,
        /// Its author's contact name, if it is one.
        from_name: Option<String>,
        /// What it says.
        text: String,
        /// The author's clock when it announced (Unix ms).
        time_ms: u64,
    },
    /// A revocation list was applied.
    Revocations {
        /// Its sequence number.
        sequence: u64,
        /// Members revoked by it that were not revoked before.
        newly_revoked: usize,
    },
    /// Status.
    Status {
        /// Own `key_…` address.
        address: String,
        /// `server` or `client`.
        node_type: String,
        /// The UDP address listened on.
        listen: String,
        /// Seconds since the daemon started.
        uptime_secs: u64,
        /// Contacts in the DHT routing table.
        routing_table_size: usize,
        /// Peers connected now.
        connected_peers: usize,
        /// Messages waiting to go.
        outbox_pending: usize,
        /// Mailbox entries held for others.
        mailbox_entries_held: usize,
        /// Median of (peer's clock − ours), ms, once enough peers were heard.
        clock_offset_ms: Option<i64>,
        /// Set when most peers disagree with this node's clock.
        clock_warning: Option<String>,
        /// The last storage failure that refused or put off incoming mail
        /// (`"<time_ms>: <what>"`), if any since start.
        storage_failure: Option<String>,
        /// `open`, or `closed` (a closed network admits members only).
        #[serde(default)]
        admission: String,
        /// Closed network: members revoked by the admins' lists held.
        #[serde(default)]
        revoked_members: usize,
        /// Closed network: when this node's member certificate expires
        /// (Unix ms).
        #[serde(default)]
        certificate_expires_ms: Option<u64>,
        /// The address peers agree they see this node at (`ip:port`; behind
        /// a NAT the mapped one), once two agree.
        #[serde(default)]
        observed_address: Option<String>,
        /// `public` (a server dialled it back) or `private` (behind a NAT or
        /// a firewall); absent until a server answered.
        #[serde(default)]
        reachability: Option<String>,
        /// While private: the relay it is called through (its node id and
        /// address).
        #[serde(default)]
        relay: Option<String>,
    },
}
