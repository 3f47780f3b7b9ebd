//! Link model: per-link latency distributions, message loss and partitions.

use rand::RngExt;
use rand::rngs::StdRng;

/// How messages travel between two simulated nodes.
#[derive(Clone, Debug)]
pub struct LinkModel {
    /// Smallest base one-way latency of a link, in ms.
    pub min_latency_ms: u64,
    /// Largest base one-way latency of a link, in ms.
    pub max_latency_ms: u64,
    /// Jitter added to each message, as a fraction of its link's base latency.
    pub jitter: f64,
    /// Probability that one message is lost.
    pub loss: f64,
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

    /// One-way delay of a message from `a` to `b`, or `None` when it is lost.
    pub fn delay(&self, a: u32, b: u32, rng: &mut StdRng) -> Option<u64> {
        if let Some(groups) = &self.partition {
            let ga = groups.get(a as usize).copied().unwrap_or(0);
            let gb = groups.get(b as usize).copied().unwrap_or(0);
            if ga != gb {
                return None;
            }
        }
        if self.loss > 0.0 && rng.random_bool(self.loss.clamp(0.0, 1.0)) {
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
        Some(base + jitter)
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
