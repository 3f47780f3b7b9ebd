//! The tags of packets a node has processed, so it processes each once.

use std::collections::{HashSet, VecDeque};

use tacnode_domain::UnixMillis;

use super::ProcessError;

/// Most live tags a cache holds. At 16 bytes a tag (plus set overhead) this
/// is about 10 MiB; a node relaying one packet a second fills it in three
/// days, so onion keys are rotated (and caches emptied) more often than
/// that, or tags expire sooner.
pub const MAX_REPLAY_TAGS: usize = 1 << 18;

/// A value only the sender and one hop can compute for a packet at that
/// hop: the same packet processed twice by a node has the same tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayTag(pub [u8; 16]);

/// The replay tags a node has seen, each kept for a fixed time.
///
/// A tag must be kept as long as the key that produced it can still process
/// packets; the owner sets `keep_ms` to at least the key's remaining life.
#[derive(Debug)]
pub struct ReplayCache {
    keep_ms: u64,
    seen: HashSet<ReplayTag>,
    /// Insertion order with expiry times, oldest first.
    order: VecDeque<(UnixMillis, ReplayTag)>,
}

impl ReplayCache {
    /// An empty cache keeping each tag `keep_ms`.
    pub fn new(keep_ms: u64) -> Self {
        Self {
            keep_ms,
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Live tags held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no tag is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records `tag` at `now`, refusing one already recorded. Tags past
    /// their time are dropped first.
    pub fn insert(&mut self, now: UnixMillis, tag: ReplayTag) -> Result<(), ProcessError> {
        while let Some((expiry, old)) = self.order.front() {
            if *expiry > now {
                break;
            }
            self.seen.remove(old);
            self.order.pop_front();
        }
        if self.seen.contains(&tag) {
            return Err(ProcessError::Replayed);
        }
        if self.seen.len() >= MAX_REPLAY_TAGS {
            return Err(ProcessError::ReplayCacheFull {
                max: MAX_REPLAY_TAGS,
            });
        }
        self.seen.insert(tag);
        self.order
            .push_back((now.saturating_add_millis(self.keep_ms), tag));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_refused_while_kept_and_forgotten_after() {
        let mut cache = ReplayCache::new(1_000);
        let tag = ReplayTag([1; 16]);
        assert_eq!(cache.insert(UnixMillis(0), tag), Ok(()));
        assert_eq!(
            cache.insert(UnixMillis(999), tag),
            Err(ProcessError::Replayed)
        );
        assert_eq!(cache.insert(UnixMillis(500), ReplayTag([2; 16])), Ok(()));
        assert_eq!(cache.insert(UnixMillis(1_000), tag), Ok(()));
        assert_eq!(cache.len(), 2);
    }
}
