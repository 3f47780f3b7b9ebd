//! When a node sends its onion packets (Loopix's cover traffic, sans I/O):
//! at the times of a Poisson process whose rate the node's cover budget
//! sets. A packet of a real message waits for the next of those times and
//! takes it; a time with nothing waiting carries a loop cover packet (a
//! packet through relays back to the node itself). So when and how often a
//! node sends does not change when it talks, and the loops that do not
//! come back tell it that its paths lose packets.

use rand_core::Rng;

/// Bytes one onion packet costs on the wire: the 1,024-byte packet, its
/// envelope and frame, the QUIC, UDP and IP headers, and its share of the
/// acknowledgements and of the answer.
pub const ONION_WIRE_BYTES: u64 = 1_150;
/// Smallest cover budget that is not off, bits per second (one packet
/// every 92 s).
pub const MIN_COVER_BPS: u64 = 100;
/// Largest cover budget, bits per second (a packet every 50 ms on
/// average).
pub const MAX_COVER_BPS: u64 = 184_000;

/// The budget is outside [`MIN_COVER_BPS`]..=[`MAX_COVER_BPS`] (and not
/// 0, which is off).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("privacy.cover_bps = {bps} is outside {min}..={max} bit/s; use 0 for off")]
pub struct CoverBudgetError {
    /// The budget asked for.
    pub bps: u64,
    /// [`MIN_COVER_BPS`].
    pub min: u64,
    /// [`MAX_COVER_BPS`].
    pub max: u64,
}

/// A node's sending times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoverSchedule {
    mean_gap_ms: u64,
}

impl CoverSchedule {
    /// The schedule of a `bps` budget; `None` when 0 (off).
    pub fn new(bps: u64) -> Result<Option<Self>, CoverBudgetError> {
        if bps == 0 {
            return Ok(None);
        }
        if !(MIN_COVER_BPS..=MAX_COVER_BPS).contains(&bps) {
            return Err(CoverBudgetError {
                bps,
                min: MIN_COVER_BPS,
                max: MAX_COVER_BPS,
            });
        }
        Ok(Some(Self {
            mean_gap_ms: ONION_WIRE_BYTES * 8 * 1_000 / bps,
        }))
    }

    /// Mean time between two sends, ms.
    pub fn mean_gap_ms(&self) -> u64 {
        self.mean_gap_ms
    }

    /// The time to the next send, ms: exponential with the mean gap.
    pub fn next_gap_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        exponential_ms(rng, self.mean_gap_ms)
    }
}

/// An exponentially distributed time of mean `mean_ms` (the gaps of a
/// Poisson process; relays' mixing delays), at most 1,000 times the mean.
pub fn exponential_ms<R: Rng + ?Sized>(rng: &mut R, mean_ms: u64) -> u64 {
    if mean_ms == 0 {
        return 0;
    }
    // Uniform in (0, 1]: 53 random bits, never zero.
    #[allow(clippy::cast_precision_loss)]
    let uniform = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
    #[allow(clippy::cast_precision_loss)]
    let delay = -(mean_ms as f64) * uniform.ln();
    let cap = mean_ms.saturating_mul(1_000);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    if delay >= cap as f64 {
        cap
    } else {
        delay as u64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn gaps_average_the_budget_and_zero_is_off() {
        assert_eq!(CoverSchedule::new(0), Ok(None));
        let refused = |bps| {
            Err(CoverBudgetError {
                bps,
                min: MIN_COVER_BPS,
                max: MAX_COVER_BPS,
            })
        };
        assert_eq!(CoverSchedule::new(50), refused(50));
        assert_eq!(
            CoverSchedule::new(MAX_COVER_BPS + 1),
            refused(MAX_COVER_BPS + 1)
        );
        let fastest = CoverSchedule::new(MAX_COVER_BPS).unwrap().unwrap();
        assert_eq!(fastest.mean_gap_ms(), 50);
        let schedule = CoverSchedule::new(2_000).unwrap().unwrap();
        assert_eq!(schedule.mean_gap_ms(), 4_600);
        let mut rng = StdRng::seed_from_u64(1);
        let n = 20_000u64;
        let sum: u64 = (0..n).map(|_| schedule.next_gap_ms(&mut rng)).sum();
        let mean = sum / n;
        assert!((4_400..=4_800).contains(&mean), "{mean}");
        // About 2 kbit/s of 1,150-byte packets.
        let bps = ONION_WIRE_BYTES * 8 * 1_000 / mean;
        assert!((1_900..=2_100).contains(&bps), "{bps}");
    }

    #[test]
    fn exponential_times_are_memoryless_enough_and_bounded() {
        let mut rng = StdRng::seed_from_u64(2);
        let samples: Vec<u64> = (0..20_000).map(|_| exponential_ms(&mut rng, 100)).collect();
        // P(X > mean) = 1/e.
        let over = samples.iter().filter(|&&x| x > 100).count();
        assert!((7_000..=7_700).contains(&over), "{over}");
        assert!(samples.iter().all(|&x| x <= 100_000));
        assert_eq!(exponential_ms(&mut rng, 0), 0);
    }
}
