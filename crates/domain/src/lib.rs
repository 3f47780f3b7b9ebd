//! Pure domain types of tacnode, and the few ports its adapters implement.
//!
//! Everything here is plain data with validation: no tokio, no I/O, no clock
//! or randomness reads. Other crates speak in these types:
//!
//! - [`NodeId`] and [`Distance`]: the 32-byte identifier of a node
//!   (SHA-256 of its Ed25519 identity key) and the XOR metric of Kademlia.
//! - [`PeerAddress`]: the textual `key_<base58>` address operators exchange.
//! - [`IdentityKey`], [`DhPublicKey`], [`Signature`]: public key material with
//!   exact lengths; [`IdentityKey::verify`] checks Ed25519 signatures.
//! - [`PeerRecord`]: the signed entry of the distributed public-key registry.
//! - [`MessageId`], [`Content`]: what users send each other.
//! - [`UnixMillis`]: wall-clock time as a parameter.
//! - [`e2e`]: prekeys, X3DH and Double Ratchet messages as data.
//! - [`dht`]: Kademlia requests, responses and records as data.
//! - [`mailbox`]: store-and-forward deposits, proofs, fetches as data.
//! - [`store`]: the rows the storage port speaks, its limits, and
//!   [`StoreError`].
//! - [`group`]: group membership as a CRDT of signed operations that
//!   converges after partitions (remove-wins).
//! - [`Beacon`]: a signed LAN announcement ("dial me here").
//! - [`PeerConnection`]: an open connection as the network port reports it.
//! - [`Announcement`]: a signed alert or service advertisement for every
//!   node of the network.
//! - [`gossip`]: what neighbours of a broadcast overlay send each other.
//! - [`file_transfer`]: file offers, block requests and their limits.
//! - [`ports`]: traits with two real implementations each (the clock, the
//!   store).

mod address;
mod admission;
mod announcement;
mod beacon;
mod byte_prefix;
mod connection;
mod contact;
mod delivery;
pub mod dht;
pub mod e2e;
pub mod file_transfer;
pub mod gossip;
pub mod group;
mod id;
mod keys;
pub mod mailbox;
mod message;
pub mod onion;
pub mod ports;
mod reachability;
mod record;
pub mod relay;
mod storage_key;
pub mod store;
mod store_error;
mod time;

pub use address::{
    AddressError, PEER_ADDRESS_CHECKSUM_LEN, PEER_ADDRESS_PREFIX, PEER_ADDRESS_VERSION, PeerAddress,
};
pub use admission::{
    Admission, AdmissionError, ClosedNetwork, MAX_ADMINS, MAX_MEMBER_NAME_BYTES, MAX_REVOKED,
    MemberCertificate, RevocationList, RevocationUpdate,
};
pub use announcement::{
    ANNOUNCEMENT_TOPIC, Announcement, AnnouncementError, AnnouncementKind, MAX_ALERT_BYTES,
    MAX_SERVICE_DETAIL_BYTES, MAX_SERVICE_LIFETIME_MS, MAX_SERVICE_NAME_BYTES,
    UnsignedAnnouncement,
};
pub use beacon::{Beacon, BeaconError, MAX_BEACON_BYTES, MAX_BEACON_ENDPOINTS, UnsignedBeacon};
pub use connection::{ConnectionPath, PeerConnection};
pub use contact::{Contact, MAX_CONTACT_NAME_BYTES};
pub use delivery::{DeliveryState, Direction, MessageStatus, OutboxEntry, StoredMessage};
pub use id::{Distance, ID_LEN, KeyError, NodeId};
pub use keys::{DhPublicKey, IdentityKey, KEY_LEN, SIGNATURE_LEN, Signature, SignatureError};
pub use message::{
    Content, ContentError, MAX_DIRECT_BATCH, MAX_DISTRIBUTION_BYTES, MAX_INVITATION_OPS,
    MAX_RECEIPT_IDS, MAX_TEXT_BYTES, MESSAGE_ID_LEN, MessageId, Plaintext,
};
pub use reachability::Reachability;
pub use record::{
    Endpoint, MAX_ENDPOINTS, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_BYTES,
    MAX_METADATA_VALUE_BYTES, NodeType, PeerRecord, RecordError, UnsignedPeerRecord, mailbox_key,
    prekey_record_key,
};
pub use relay::{RELAY_NONCE_LEN, RelayHint, RelayedAnswer, RelayedCall};
pub use storage_key::{STORAGE_KEY_LEN, StorageKey};
pub use store_error::StoreError;
pub use time::{MAX_CLOCK_SKEW_MS, UnixMillis};
