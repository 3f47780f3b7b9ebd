//! The tags of this node's loop cover packets on their way: a loop's
//! payload carries a random tag, and only a loop that comes back with a
//! tag the node issued (once) counts as returned. Without it anyone could
//! send the node packets of kind `Loop` and hide that relays drop its real
//! loops.

use std::collections::{HashSet, VecDeque};

use rand_core::Rng;

/// Bytes of a loop's tag.
pub const LOOP_TAG_LEN: usize = 16;
/// Loops remembered at once; past it the oldest is forgotten (its return,
/// hours late, no longer counts).
pub const MAX_LOOPS_OUTSTANDING: usize = 4_096;

/// The tags of the loops sent and not yet back.
#[derive(Debug, Default)]
pub struct LoopTags {
    outstanding: HashSet<[u8; LOOP_TAG_LEN]>,
    order: VecDeque<[u8; LOOP_TAG_LEN]>,
}

impl LoopTags {
    /// A fresh tag for a loop about to be sent.
    pub fn issue<R: Rng + ?Sized>(&mut self, rng: &mut R) -> [u8; LOOP_TAG_LEN] {
        let mut tag = [0u8; LOOP_TAG_LEN];
        rng.fill_bytes(&mut tag);
        if self.outstanding.insert(tag) {
            self.order.push_back(tag);
        }
        while self.order.len() > MAX_LOOPS_OUTSTANDING {
            if let Some(old) = self.order.pop_front() {
                self.outstanding.remove(&old);
            }
        }
        tag
    }

    /// A loop came back carrying `tag`: true, once, when we issued it.
    pub fn handle_returned(&mut self, tag: &[u8]) -> bool {
        let Ok(tag) = <[u8; LOOP_TAG_LEN]>::try_from(tag) else {
            return false;
        };
        // `order` keeps the stale entry until it ages out: cheaper than a
        // search, and bounded all the same.
        self.outstanding.remove(&tag)
    }

    /// Loops on their way (or lost).
    pub fn len(&self) -> usize {
        self.outstanding.len()
    }

    /// No loop on its way.
    pub fn is_empty(&self) -> bool {
        self.outstanding.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn only_an_issued_tag_counts_and_only_once() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut tags = LoopTags::default();
        let tag = tags.issue(&mut rng);
        assert!(!tags.handle_returned(&[0; LOOP_TAG_LEN]));
        assert!(!tags.handle_returned(&tag[..8]));
        assert!(tags.handle_returned(&tag));
        assert!(!tags.handle_returned(&tag));
        assert!(tags.is_empty());
    }

    #[test]
    fn the_oldest_loops_are_forgotten_past_the_bound() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut tags = LoopTags::default();
        let first = tags.issue(&mut rng);
        for _ in 0..MAX_LOOPS_OUTSTANDING {
            tags.issue(&mut rng);
        }
        assert_eq!(tags.len(), MAX_LOOPS_OUTSTANDING);
        assert!(!tags.handle_returned(&first));
    }
}
