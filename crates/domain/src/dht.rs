//! DHT RPC data: what Kademlia requests and responses carry. The dht crate
//! computes with these; the messaging crate converts them to and from the wire.

use crate::admission::RevocationList;
use crate::e2e::PublishedPrekeys;
use crate::id::NodeId;
use crate::record::{Endpoint, NodeType, PeerRecord};
use crate::time::UnixMillis;

/// Most contacts one FIND_NODE / FIND_VALUE answer may carry.
pub const MAX_CONTACTS_PER_RESPONSE: usize = 64;

/// A routing-table contact: a server node and where to reach it.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct Contact {
    /// Its node id (authenticated by TLS when dialled).
    pub node_id: NodeId,
    /// Its endpoints.
    pub endpoints: Vec<Endpoint>,
}

/// What every DHT request says about its sender.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SenderInfo {
    /// Clients are answered but never inserted into routing tables.
    pub node_type: NodeType,
    /// Where the sender listens.
    pub endpoints: Vec<Endpoint>,
    /// The sender's clock when it sent the request (`None`: not said). Lets
    /// the receiver read the sender's times relative to the sender's clock
    /// (record expiry) and notice when its own clock is off.
    pub time: Option<UnixMillis>,
}

/// Kind of value stored under a DHT key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum RecordKind {
    /// A [`PeerRecord`] under its owner's node id.
    Peer,
    /// [`PublishedPrekeys`] under [`crate::prekey_record_key`] of the owner.
    Prekeys,
    /// A closed network admin's [`RevocationList`] under [`RevocationList::key`].
    Revocations,
}

/// A value stored in the DHT.
// A peer record with its member certificate is twice a prekey record; the
// values travel boxed in DHT messages and sit in the store one per key.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RecordValue {
    /// Public-key registry entry.
    Peer(PeerRecord),
    /// Published prekeys.
    Prekeys(PublishedPrekeys),
    /// A closed network admin's revocation list.
    Revocations(RevocationList),
}

impl RecordValue {
    /// Its kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::Peer(_) => RecordKind::Peer,
            Self::Prekeys(_) => RecordKind::Prekeys,
            Self::Revocations(_) => RecordKind::Revocations,
        }
    }
}

/// A stored value with its expiry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Record {
    /// The value.
    pub value: RecordValue,
    /// When holders drop it.
    pub expires: UnixMillis,
}

/// A DHT request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DhtRequest {
    /// Liveness check.
    Ping {
        /// Sender.
        sender: SenderInfo,
    },
    /// Closest contacts to `target`.
    FindNode {
        /// Sender.
        sender: SenderInfo,
        /// Target id.
        target: NodeId,
    },
    /// The record under `key`, or closer contacts.
    FindValue {
        /// Sender.
        sender: SenderInfo,
        /// Record key.
        key: NodeId,
        /// Kind wanted.
        kind: RecordKind,
    },
    /// Hold `record` under `key`.
    Store {
        /// Sender.
        sender: SenderInfo,
        /// Record key.
        key: NodeId,
        /// The record (boxed: it dwarfs the other variants).
        record: Box<Record>,
    },
}

impl DhtRequest {
    /// What the request says about its sender.
    pub fn sender(&self) -> &SenderInfo {
        match self {
            DhtRequest::Ping { sender }
            | DhtRequest::FindNode { sender, .. }
            | DhtRequest::FindValue { sender, .. }
            | DhtRequest::Store { sender, .. } => sender,
        }
    }
}

/// Why a responder refused a request (mirrors the wire `ErrorCode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum RefusalCode {
    /// Could not be decoded or failed validation.
    Malformed,
    /// Not served by this node (e.g. a client asked to store).
    Unsupported,
    /// A quota or rate limit was hit.
    Quota,
    /// A signature or ownership proof did not verify.
    Unauthorized,
    /// Stale sequence or expired.
    Stale,
    /// Anything else.
    Internal,
}

/// A DHT response.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DhtResponse {
    /// Answer to ping.
    Pong,
    /// Closest contacts, sorted by distance to the target.
    Nodes(Vec<Contact>),
    /// Answer to FIND_VALUE.
    Value {
        /// The record, when held (boxed: it dwarfs the other variants).
        record: Option<Box<Record>>,
        /// Closer contacts.
        closer: Vec<Contact>,
    },
    /// Answer to STORE.
    Stored(Result<(), RefusalCode>),
    /// The request was refused.
    Refused(RefusalCode),
}
