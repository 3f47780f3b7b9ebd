/// Timers of one overlay. All in milliseconds of the driver's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlumtreeConfig {
    /// How long after the first announcement of a broadcast we have not
    /// received to wait for its push before asking the announcer (the
    /// paper's first timer). Longer than one link's delivery time, or a
    /// push still on its way is fetched twice.
    pub graft_timeout_ms: u64,
    /// Up to this much more is added to `graft_timeout_ms`, different per
    /// broadcast and per member (see [`crate::Plumtree::with_salt`]): when a
    /// partition heals, many members learn at once of the same missing
    /// broadcasts; the first to ask pushes them down the tree before most
    /// others' timers run out, instead of every one fetching its own copy.
    pub graft_jitter_ms: u64,
    /// How long to wait for an asked announcer before asking the next.
    pub graft_retry_ms: u64,
    /// How long announcements wait to be sent together: one `IHave` per
    /// neighbour per interval, whatever the number of broadcasts.
    pub lazy_flush_ms: u64,
    /// How long a received broadcast is kept to answer requests and to
    /// announce to neighbours that come back.
    pub cache_ttl_ms: u64,
}

impl PlumtreeConfig {
    /// Timers for a 64 kbit/s radio (150 ms one way, queues of seconds).
    pub fn radio() -> Self {
        Self {
            graft_timeout_ms: 5_000,
            graft_jitter_ms: 10_000,
            graft_retry_ms: 3_000,
            lazy_flush_ms: 2_000,
            ..Self::default()
        }
    }
}

impl Default for PlumtreeConfig {
    fn default() -> Self {
        Self {
            graft_timeout_ms: 1_500,
            graft_jitter_ms: 4_000,
            graft_retry_ms: 1_000,
            lazy_flush_ms: 500,
            cache_ttl_ms: 24 * 3_600_000,
        }
    }
}
