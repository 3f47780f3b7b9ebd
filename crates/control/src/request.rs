//! What a client asks the daemon.

use serde::{Deserialize, Serialize};

/// A command for the daemon.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Own address and node id.
    Id,
    /// Add a contact by name and `key_…` address.
    ContactsAdd {
        /// Local name.
        name: String,
        /// Its `key_…` address.
        address: String,
    },
    /// List contacts.
    ContactsList,
    /// Forget a contact (name, session, pinned device key).
    ContactsRemove {
        /// Contact name or address.
        name: String,
    },
    /// Show the safety number of a contact; with `confirm`, mark it verified.
    ContactsVerify {
        /// Contact name.
        name: String,
        /// Mark verified.
        confirm: bool,
    },
    /// Send a text to a contact (by name or address), or to a group
    /// (`@NAME`).
    Send {
        /// Contact name or `key_…` address.
        to: String,
        /// The text.
        text: String,
    },
    /// Queue several texts for one recipient, in order, in one commit (at
    /// most the node's `MAX_SEND_BATCH`; all or none are queued).
    SendMany {
        /// Contact name or `key_…` address.
        to: String,
        /// The texts, in order.
        texts: Vec<String>,
    },
    /// Messages received (and sent); `follow` streams new ones.
    Inbox {
        /// Keep streaming new messages and status changes.
        follow: bool,
        /// The latest this many (the daemon's default when `None`).
        limit: Option<u32>,
    },
    /// The routing table's contacts plus the connected peers, and the
    /// routing table size.
    Peers,
    /// Messages waiting to go.
    Outbox,
    /// Cancel a waiting message (id or an unambiguous prefix).
    OutboxCancel {
        /// Message id or prefix.
        id: String,
    },
    /// Try waiting messages now: to the recipient of `id`, or all.
    OutboxRetry {
        /// Message id or prefix; all when `None`.
        id: Option<String>,
    },
    /// Offer a file to a contact (by name or address); the recipient
    /// fetches it from this node.
    SendFile {
        /// Contact name or `key_…` address.
        to: String,
        /// The file's absolute path, which the daemon reads.
        path: String,
    },
    /// File transfers, both ways, newest first.
    Files,
    /// Cancel a file transfer (id or an unambiguous prefix).
    FilesCancel {
        /// Transfer id or prefix.
        id: String,
    },
    /// Daemon status.
    Status,
    /// Create a group with this node as its admin.
    GroupCreate {
        /// The group's name (1 to 64 bytes).
        name: String,
    },
    /// Add a contact to a group (admins only).
    GroupAdd {
        /// Group name (or id in hex).
        group: String,
        /// Contact name or `key_…` address.
        member: String,
    },
    /// Remove a member from a group (admins only).
    GroupRemove {
        /// Group name (or id in hex).
        group: String,
        /// Contact name or `key_…` address.
        member: String,
    },
    /// The groups this node is in.
    GroupList,
    /// Announce an alert to every node (at most 6 announcements an hour).
    Announce {
        /// 1 to 280 bytes.
        text: String,
    },
    /// Advertise a service to every node.
    Advertise {
        /// Its name, 1 to 32 bytes ("medic", "map tiles").
        name: String,
        /// What to know about it, up to 160 bytes.
        detail: String,
        /// How long it is listed, hours (at most 24).
        hours: u64,
    },
    /// Services advertised and on offer now.
    Services,
    /// A group's members.
    GroupMembers {
        /// Group name (or id in hex).
        group: String,
    },
    /// Apply and publish an admin's revocation list (closed networks).
    Revocations {
        /// The revocation file's text (`tacnode admin revoke` writes it).
        text: String,
    },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_round_trip_and_unknown_fields_are_refused() {
        let r = Request::Send {
            to: "bob".into(),
            text: "hi".into(),
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"cmd":"send","to":"bob","text":"hi"}"#);
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), r);
        assert!(
            serde_json::from_str::<Request>(r#"{"cmd":"send","to":"a","text":"b","x":1}"#).is_err()
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"reboot"}"#).is_err());
    }
}
