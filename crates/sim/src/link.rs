//! Link model: per-link latency distributions, datagram loss with QUIC-like
//! retransmission, partitions, and each node's uplink rate.

use rand::RngExt;
use rand::rngs::StdRng;

use crate::node::network::MIN_RETRANSMIT_MS;

/// How messages travel between two simulated nodes.
#[derive(Clone, Debug)]
pub struct LinkModel {
    /// Smallest base one-way latency of a link, in ms.
    pub min_latency_ms: u64,
    /// Largest base one-way latency of a link, in ms.
    pub max_latency_ms: u64,
    /// Jitter added to each message, as a fraction of its link's base latency.
    pub jitter: f64,
    /// Probability that one datagram is lost. A lost datagram is
    /// retransmitted, as QUIC does: it only delays its message (see
    /// [`LinkModel::delay`]).
    pub loss: f64,
    /// Uplink rate of every node, bits/s (`None`: unlimited). Only the
    /// whole-node simulator models it: a frame waits behind what its sender
    /// queued before it and takes size / rate to serialise
    /// (`crate::node::uplink`).
    pub uplink_bps: Option<u64>,
    /// Partition group of each node; messages between groups are dropped.
    partition: Option<Vec<u8>>,
}

impl Default for LinkModel {
    fn default() -> Self {
        Self {
            min_latency_ms: 10,
            max_latency_ms: 150,
            jitter: 0.2,
            loss: 0.0,
            uplink_bps: None,
            partition: None,
        }
    }
}

impl LinkModel {
    /// Base latency of the link between `a` and `b`: a fixed, symmetric
    /// function of the pair (each link has its own distribution).
    pub fn base_latency(&self, a: u32, b: u32) -> u64 {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        // SplitMix64 of the pair: cheap, well spread, deterministic.
        let mut z = (u64::from(lo) << 32 | u64::from(hi)).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let span = self.max_latency_ms.saturating_sub(self.min_latency_ms) + 1;
        self.min_latency_ms + z % span
    }

    /// One-way delay of a message (one datagram) from `a` to `b`, or `None`
    /// when it never arrives within `budget_ms`.
    ///
    /// Each loss of the datagram (probability [`LinkModel::loss`]) adds a
    /// probe timeout before the retransmission, as QUIC does: the first is
    /// `max(3 × base latency, MIN_RETRANSMIT_MS)`, and each further loss
    /// doubles it. The message is given up once its delay exceeds
    /// `budget_ms` (what is left of the request timeout: the request has
    /// failed by then). A partition drops every message.
    pub fn delay(&self, a: u32, b: u32, budget_ms: u64, rng: &mut StdRng) -> Option<u64> {
        if self.partitioned(a, b) {
            return None;
        }
        let base = self.base_latency(a, b);
        // Truncation to whole milliseconds is intended.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let jitter = (base as f64 * self.jitter * rng.random::<f64>()) as u64;
        let mut delay = base + jitter;
        let mut probe_timeout = base.saturating_mul(3).max(MIN_RETRANSMIT_MS);
        let loss = self.loss.clamp(0.0, 1.0);
        while loss > 0.0 && rng.random_bool(loss) {
            delay = delay.saturating_add(probe_timeout);
            probe_timeout = probe_timeout.saturating_mul(2);
            if delay > budget_ms || delay == u64::MAX {
                return None;
            }
        }
        (delay <= budget_ms).then_some(delay)
    }

    /// Whether a partition separates `a` from `b`.
    pub fn partitioned(&self, a: u32, b: u32) -> bool {
        self.partition.as_ref().is_some_and(|groups| {
            groups.get(a as usize).copied().unwrap_or(0)
                != groups.get(b as usize).copied().unwrap_or(0)
        })
    }

    /// Splits the network: node `i` is in group `groups[i]`.
    pub fn partition(&mut self, groups: Vec<u8>) {
        self.partition = Some(groups);
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.partition = None;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn lost_datagrams_delay_by_doubling_probe_timeouts_within_the_budget() {
        let link = LinkModel {
            loss: 0.5,
            ..LinkModel::default()
        };
        let (a, b, budget) = (1, 2, 5_000);
        let base = link.base_latency(a, b);
        let pto = (3 * base).max(MIN_RETRANSMIT_MS);
        let max_jitter = base / 5;
        // Delay after n losses: base + jitter + pto * (2^n - 1).
        let mut rng = StdRng::seed_from_u64(1);
        let mut losses_seen = [0u32; 8];
        for _ in 0..1_000 {
            let Some(d) = link.delay(a, b, budget, &mut rng) else {
                continue;
            };
            assert!(d <= budget);
            let extra = d - base;
            let n = (0..8u32)
                .find(|n| {
                    let lost = pto * ((1 << n) - 1);
                    extra >= lost && extra <= lost + max_jitter
                })
                .unwrap();
            losses_seen[n as usize] += 1;
        }
        // About half arrive at once, a quarter after one loss, ...
        assert!(losses_seen[..3].iter().all(|c| *c > 0), "{losses_seen:?}");
        assert!(losses_seen[0] > losses_seen[1] && losses_seen[1] > losses_seen[2]);

        // Same seed, same delays.
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..100)
                .map(|_| link.delay(a, b, budget, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
    }

    #[test]
    fn certain_loss_and_partitions_never_deliver() {
        let mut link = LinkModel {
            loss: 1.0,
            ..LinkModel::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(link.delay(0, 1, u64::MAX, &mut rng), None);
        link.loss = 0.0;
        assert!(link.delay(0, 1, 1_000, &mut rng).is_some());
        // Nothing arrives after the budget, lost or not.
        assert_eq!(link.delay(0, 1, 0, &mut rng), None);
        link.partition(vec![0, 1]);
        assert_eq!(link.delay(0, 1, 1_000, &mut rng), None);
        link.heal();
        assert!(link.delay(0, 1, 1_000, &mut rng).is_some());
    }
}
