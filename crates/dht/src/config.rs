//! Tunables of the Kademlia core and the hard limits that bound them.

use tacnode_domain::dht::MAX_CONTACTS_PER_RESPONSE;
use tacnode_domain::{Endpoint, MAX_ENDPOINTS, NodeType};

/// Default bucket size and replication factor.
pub const DEFAULT_K: usize = 20;
/// Largest accepted bucket size (a response carries at most this many contacts).
pub const MAX_K: usize = MAX_CONTACTS_PER_RESPONSE;
/// Default number of requests in flight per lookup path.
pub const DEFAULT_ALPHA: usize = 3;
/// Largest accepted concurrency per lookup path.
pub const MAX_ALPHA: usize = 16;
/// Most disjoint paths one lookup may use.
pub const MAX_DISJOINT_PATHS: usize = 8;
/// Consecutive failed requests after which a node leaves the routing table.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 3;
/// Times a lookup request that timed out is sent again before its contact
/// counts as failed (a lookup failure, and one failed request towards
/// [`MAX_CONSECUTIVE_FAILURES`]). Each retry goes to the contact's next
/// announced endpoint first, when it has several. Transport failures
/// reported by the driver are not retried.
pub const LOOKUP_REQUEST_RETRIES: u32 = 1;
/// Default time a request may stay unanswered before it counts as failed.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 2_000;
/// Default age after which a bucket without lookups is refreshed.
pub const DEFAULT_REFRESH_INTERVAL_MS: u64 = 60 * 60 * 1_000;
/// Default lifetime of a published record on its holders.
pub const DEFAULT_RECORD_TTL_MS: u64 = 24 * 60 * 60 * 1_000;
/// Longest lifetime a holder grants a record, whatever expiry it carries.
pub const MAX_RECORD_TTL_MS: u64 = 48 * 60 * 60 * 1_000;
/// Default interval at which the owner republishes its records.
pub const DEFAULT_REPUBLISH_INTERVAL_MS: u64 = 60 * 60 * 1_000;
/// Default time after which a least-recently-seen entry is doubted: a full
/// bucket pings it before keeping a newcomer out only if it was last seen
/// this long ago (a node seen recently is known good, as in BEP 5).
pub const DEFAULT_LIVENESS_CHECK_AFTER_MS: u64 = 15 * 60 * 1_000;
/// Default size of each bucket's replacement cache.
pub const DEFAULT_REPLACEMENT_CACHE_SIZE: usize = 8;
/// Largest accepted replacement cache per bucket.
pub const MAX_REPLACEMENT_CACHE_SIZE: usize = 64;
/// Most records one sender may have stored on this node.
pub const MAX_RECORDS_PER_SENDER: usize = 32;
/// Most records this node holds for others in total.
pub const MAX_STORED_RECORDS: usize = 65_536;
/// Most records this node publishes and republishes as their owner.
pub const MAX_PUBLISHED_RECORDS: usize = 16;
/// Most lookups running at once.
pub const MAX_CONCURRENT_LOOKUPS: usize = 256;
/// Most requests a single lookup sends; guarantees termination against
/// responders that keep inventing closer contacts.
pub const MAX_LOOKUP_REQUESTS: u32 = 512;
/// Most candidates a lookup path remembers (the farthest are dropped).
pub const MAX_LOOKUP_CANDIDATES: usize = 256;
/// A lookup path remembers at most this many candidates per K (bounded by
/// [`MAX_LOOKUP_CANDIDATES`]): only the K closest live ones are ever asked,
/// the slack covers nodes that fail.
pub const LOOKUP_CANDIDATES_PER_K: usize = 4;
/// Interval at which expired records are purged from the store.
pub const STORE_PURGE_INTERVAL_MS: u64 = 60_000;

/// Why a [`DhtConfig`] was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `k` is zero or above [`MAX_K`].
    #[error("k = {0} must be in 1..={MAX_K}")]
    K(usize),
    /// `alpha` is zero or above [`MAX_ALPHA`].
    #[error("alpha = {0} must be in 1..={MAX_ALPHA}")]
    Alpha(usize),
    /// `disjoint_paths` is zero or above [`MAX_DISJOINT_PATHS`].
    #[error("disjoint_paths = {0} must be in 1..={MAX_DISJOINT_PATHS}")]
    DisjointPaths(usize),
    /// `replacement_cache_size` above [`MAX_REPLACEMENT_CACHE_SIZE`].
    #[error("replacement_cache_size = {0} exceeds {MAX_REPLACEMENT_CACHE_SIZE}")]
    ReplacementCache(usize),
    /// More than [`MAX_ENDPOINTS`] local endpoints.
    #[error("{0} endpoints, the limit is {MAX_ENDPOINTS}")]
    Endpoints(usize),
    /// A zero timeout or interval.
    #[error("timeouts and intervals must be non-zero")]
    ZeroInterval,
}

/// Configuration of one node's Kademlia core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhtConfig {
    /// Server (routable, stores records) or client (lookups only).
    pub node_type: NodeType,
    /// Where this node listens, told to every peer it asks.
    pub endpoints: Vec<Endpoint>,
    /// Bucket size, lookup width and replication factor.
    pub k: usize,
    /// Requests in flight per lookup path.
    pub alpha: usize,
    /// Disjoint lookup paths (S/Kademlia); 1 is plain Kademlia.
    pub disjoint_paths: usize,
    /// Time after which an unanswered request fails.
    pub request_timeout_ms: u64,
    /// A bucket without lookup for this long is refreshed.
    pub refresh_interval_ms: u64,
    /// Lifetime given to records this node publishes.
    pub record_ttl_ms: u64,
    /// Interval at which this node republishes its own records.
    pub republish_interval_ms: u64,
    /// Replacement cache entries per bucket.
    pub replacement_cache_size: usize,
    /// A full bucket pings its least-recently-seen entry for a newcomer only
    /// when that entry was last seen this long ago.
    pub liveness_check_after_ms: u64,
}

impl DhtConfig {
    /// Defaults for a node of `node_type`.
    pub fn new(node_type: NodeType) -> Self {
        Self {
            node_type,
            endpoints: Vec::new(),
            k: DEFAULT_K,
            alpha: DEFAULT_ALPHA,
            disjoint_paths: 1,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            refresh_interval_ms: DEFAULT_REFRESH_INTERVAL_MS,
            record_ttl_ms: DEFAULT_RECORD_TTL_MS,
            republish_interval_ms: DEFAULT_REPUBLISH_INTERVAL_MS,
            replacement_cache_size: DEFAULT_REPLACEMENT_CACHE_SIZE,
            liveness_check_after_ms: DEFAULT_LIVENESS_CHECK_AFTER_MS,
        }
    }

    /// Checks every field against its limit.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.k == 0 || self.k > MAX_K {
            return Err(ConfigError::K(self.k));
        }
        if self.alpha == 0 || self.alpha > MAX_ALPHA {
            return Err(ConfigError::Alpha(self.alpha));
        }
        if self.disjoint_paths == 0 || self.disjoint_paths > MAX_DISJOINT_PATHS {
            return Err(ConfigError::DisjointPaths(self.disjoint_paths));
        }
        if self.replacement_cache_size > MAX_REPLACEMENT_CACHE_SIZE {
            return Err(ConfigError::ReplacementCache(self.replacement_cache_size));
        }
        if self.endpoints.len() > MAX_ENDPOINTS {
            return Err(ConfigError::Endpoints(self.endpoints.len()));
        }
        if self.request_timeout_ms == 0
            || self.refresh_interval_ms == 0
            || self.record_ttl_ms == 0
            || self.republish_interval_ms == 0
        {
            return Err(ConfigError::ZeroInterval);
        }
        Ok(())
    }
}

impl Default for DhtConfig {
    fn default() -> Self {
        Self::new(NodeType::Server)
    }
}
