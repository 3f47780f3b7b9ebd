//! What the other nodes' clocks say about ours. Every DHT request carries
//! its sender's time; the median difference over recent peers tells
//! whether this node's clock is off, which the node then says in its log
//! and its status. (Latency makes each sample a little late: the
//! threshold is far above it.)

use std::collections::{BTreeMap, VecDeque};

use tacnode_domain::{NodeId, UnixMillis};

/// Peers whose latest clock reading is kept (the oldest goes first).
pub(crate) const MAX_CLOCK_SAMPLES: usize = 64;
/// Readings from at least this many peers before anything is concluded.
pub(crate) const MIN_CLOCK_SAMPLES: usize = 3;
/// Most peers' clocks this far from ours means ours is off, ms.
pub(crate) const CLOCK_WARNING_MS: u64 = 10 * 60_000;
/// Least time between two warnings in the log, ms.
pub(crate) const CLOCK_WARNING_LOG_INTERVAL_MS: u64 = 3_600_000;

/// This node's clock compared with its peers'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockCheck {
    /// Peers heard from.
    pub peers: usize,
    /// Median of (peer's clock − ours), ms; `None` with too few peers.
    pub median_offset_ms: Option<i64>,
    /// What to tell the operator when most peers disagree with our clock.
    pub warning: Option<String>,
}

/// Recent clock readings, one per peer.
#[derive(Debug, Default)]
pub(crate) struct PeerClocks {
    offsets: BTreeMap<NodeId, i64>,
    order: VecDeque<NodeId>,
    last_logged: Option<UnixMillis>,
}

fn signed_diff(theirs: UnixMillis, ours: UnixMillis) -> i64 {
    if theirs >= ours {
        i64::try_from(theirs.millis_since(ours)).unwrap_or(i64::MAX)
    } else {
        i64::try_from(ours.millis_since(theirs))
            .map(|d| -d)
            .unwrap_or(i64::MIN)
    }
}

/// "3 days 4 h", "25 min": a duration an operator reads at a glance.
fn readable(ms: u64) -> String {
    let minutes = ms / 60_000;
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, h) => format!("{h} h {mins} min"),
        (d, h) => format!("{d} days {h} h"),
    }
}

impl PeerClocks {
    /// Records that `peer`'s clock read `theirs` when ours read `ours`.
    /// Returns a warning to log (at most once per
    /// [`CLOCK_WARNING_LOG_INTERVAL_MS`]) when most peers disagree.
    pub(crate) fn observe(
        &mut self,
        peer: NodeId,
        theirs: UnixMillis,
        ours: UnixMillis,
    ) -> Option<String> {
        if self
            .offsets
            .insert(peer, signed_diff(theirs, ours))
            .is_none()
        {
            self.order.push_back(peer);
        }
        while self.order.len() > MAX_CLOCK_SAMPLES {
            if let Some(old) = self.order.pop_front() {
                self.offsets.remove(&old);
            }
        }
        let warning = self.check().warning?;
        if self
            .last_logged
            .is_some_and(|t| ours.millis_since(t) < CLOCK_WARNING_LOG_INTERVAL_MS)
        {
            return None;
        }
        self.last_logged = Some(ours);
        Some(warning)
    }

    /// The comparison now.
    pub(crate) fn check(&self) -> ClockCheck {
        let peers = self.offsets.len();
        if peers < MIN_CLOCK_SAMPLES {
            return ClockCheck {
                peers,
                median_offset_ms: None,
                warning: None,
            };
        }
        let mut all: Vec<i64> = self.offsets.values().copied().collect();
        all.sort_unstable();
        let median = all[all.len() / 2];
        let off = median.unsigned_abs();
        let warning = (off > CLOCK_WARNING_MS).then(|| {
            let way = if median > 0 { "behind" } else { "ahead of" };
            format!(
                "this node's clock is about {} {way} most peers ({peers} heard from): fix the system clock",
                readable(off)
            )
        });
        ClockCheck {
            peers,
            median_offset_ms: Some(median),
            warning,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId::from_bytes([n; 32])
    }

    #[test]
    fn most_peers_ahead_means_our_clock_is_behind_and_the_log_hears_it_once_an_hour() {
        let mut c = PeerClocks::default();
        let ours = UnixMillis(1_000_000_000);
        let day = 86_400_000;
        assert_eq!(c.observe(id(1), UnixMillis(ours.0 + 3 * day), ours), None);
        assert_eq!(
            c.observe(id(2), UnixMillis(ours.0 + 3 * day + 50), ours),
            None
        );
        let warned = c.observe(id(3), UnixMillis(ours.0 + 3 * day - 80), ours);
        assert!(warned.is_some_and(|w| w.contains("3 days 0 h behind")));
        // Not again within the hour, but the status still says it.
        assert_eq!(c.observe(id(4), UnixMillis(ours.0 + 3 * day), ours), None);
        assert!(c.check().warning.is_some());
        assert_eq!(c.check().peers, 4);
    }

    #[test]
    fn one_odd_peer_does_not_make_a_warning() {
        let mut c = PeerClocks::default();
        let ours = UnixMillis(5_000_000_000);
        c.observe(id(1), UnixMillis(ours.0 + 120), ours);
        c.observe(id(2), UnixMillis(ours.0 - 3 * 86_400_000), ours);
        c.observe(id(3), ours, ours);
        let check = c.check();
        assert_eq!(check.warning, None);
        assert_eq!(check.median_offset_ms, Some(0));
    }

    #[test]
    fn only_the_latest_peers_count() {
        let mut c = PeerClocks::default();
        let ours = UnixMillis(5_000_000_000);
        for n in 0..=u8::try_from(MAX_CLOCK_SAMPLES).unwrap_or(u8::MAX) {
            c.observe(id(n), UnixMillis(ours.0 + 7_200_000), ours);
        }
        assert_eq!(c.check().peers, MAX_CLOCK_SAMPLES);
    }
}
