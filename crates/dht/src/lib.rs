//! Sans-IO Kademlia for tacnode: 256 k-buckets over the XOR distance of
//! [`NodeId`](tacnode_domain::NodeId)s, iterative FIND_NODE / FIND_VALUE
//! lookups as pure state machines (optionally over S/Kademlia disjoint
//! paths), and validated storage of signed records (peer records, prekey
//! bundles). The core never reads the clock or the OS rng and does no I/O.
//!
//! # Driving a [`Dht`]
//!
//! ```text
//! let mut dht = Dht::new(DhtConfig::new(NodeType::Server), local_id, rng, validator)?;
//! dht.bootstrap(now, seed_contacts)?;          // inserts them, looks up the local id
//! loop {
//!     while let Some(out) = dht.poll() {
//!         match out {
//!             Output::SendRequest { id, to, request } => /* send; later: */
//!                 // dht.handle_response(now, id, to.node_id, response)
//!                 // or dht.handle_failure(now, id) on a transport error
//!             Output::LookupFinished { .. } | Output::StoreFinished { .. }
//!             | Output::RoutingUpdated { .. } => /* report */,
//!         }
//!     }
//!     // Sleep until dht.poll_timeout() or the next event, then:
//!     dht.handle_timeout(now);
//!     // An incoming request: let response = dht.handle_request(now, from, ep, request);
//! }
//! ```
//!
//! - `now` is a monotonic [`UnixMillis`](tacnode_domain::UnixMillis) the
//!   driver passes in; record expiries are compared with it, so pass
//!   wall-clock milliseconds in production.
//! - Requests time out inside the core after `request_timeout_ms`; the
//!   driver need not time them out, only report transport failures. A lookup
//!   request that times out is sent again [`LOOKUP_REQUEST_RETRIES`] time(s),
//!   as a new [`Output::SendRequest`] with a new id and the contact's
//!   endpoints rotated (its next endpoint first), before the contact counts
//!   as failed; an answer to the earlier id is then ignored.
//! - After every input, drain [`Dht::poll`] and re-arm the timer from
//!   [`Dht::poll_timeout`].
//! - Records: [`Dht::put_record`] publishes a record as its owner; the core
//!   republishes it every `republish_interval_ms` with a fresh expiry
//!   (`record_ttl_ms`, 24 h by default) until [`Dht::unpublish`]. Holders
//!   validate key binding, expiry, signatures (through the injected
//!   [`RecordValidator`]) and strictly increasing sequences, and enforce
//!   per-sender quotas. An identical copy of a held record only refreshes
//!   its expiry, which is how republication works without a new sequence.
//! - Node types: a [`Server`](tacnode_domain::NodeType::Server) answers,
//!   enters routing tables and stores; a
//!   [`Client`](tacnode_domain::NodeType::Client) runs lookups and publishes
//!   its own records but is never inserted by others (requests say their
//!   sender's type) and refuses to store.
//! - Routing: a full bucket caches the newcomer and, when its
//!   least-recently-seen entry was last seen `liveness_check_after_ms` ago
//!   or more (15 min), pings it, evicting it only if the ping fails; a node
//!   failing [`MAX_CONSECUTIVE_FAILURES`] requests in a row is dropped and
//!   replaced from the cache; a bucket without lookup for
//!   `refresh_interval_ms` (1 h) is refreshed by a lookup of a random key in it.
//!   Contacts learnt from responses enter the table only once they answer
//!   themselves.

mod config;
mod dht;
mod entry;
mod kbucket;
mod key;
mod lookup;
mod store;
mod table;

pub use config::{
    ConfigError, DEFAULT_ALPHA, DEFAULT_K, DEFAULT_LIVENESS_CHECK_AFTER_MS, DEFAULT_RECORD_TTL_MS,
    DEFAULT_REFRESH_INTERVAL_MS, DEFAULT_REPLACEMENT_CACHE_SIZE, DEFAULT_REPUBLISH_INTERVAL_MS,
    DEFAULT_REQUEST_TIMEOUT_MS, DhtConfig, LOOKUP_CANDIDATES_PER_K, LOOKUP_REQUEST_RETRIES,
    MAX_ALPHA, MAX_CONCURRENT_LOOKUPS, MAX_CONSECUTIVE_FAILURES, MAX_DISJOINT_PATHS, MAX_K,
    MAX_LOOKUP_CANDIDATES, MAX_LOOKUP_REQUESTS, MAX_PUBLISHED_RECORDS, MAX_RECORD_TTL_MS,
    MAX_RECORDS_PER_SENDER, MAX_REPLACEMENT_CACHE_SIZE, MAX_STORED_RECORDS,
    STORE_PURGE_INTERVAL_MS,
};
pub use dht::{Dht, LookupError, Output, PutError, RequestId, StoreId};
pub use entry::Entry;
pub use kbucket::KBucket;
pub use key::{BUCKET_COUNT, bucket_of, random_key_in_bucket};
pub use lookup::{LookupId, LookupKind, LookupResult, LookupStats};
pub use store::{
    PeerRecordValidator, RecordRejection, RecordValidator, record_key, record_sequence,
    validate_record,
};
pub use table::{RoutingChange, RoutingTable};
