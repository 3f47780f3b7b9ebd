use std::collections::{BTreeMap, VecDeque};

use tacnode_domain::UnixMillis;
use tacnode_domain::gossip::GossipId;

/// Most broadcasts an overlay waits for at once (announced, not yet
/// received); announcements beyond it are ignored until some arrive.
pub const MAX_MISSING_BROADCASTS: usize = 4_096;

/// Most announcers remembered per missing broadcast.
const MAX_ANNOUNCERS: usize = 8;

/// A broadcast announced to us that we have not received.
#[derive(Debug)]
struct MissingBroadcast<P> {
    announcers: VecDeque<(P, u32)>,
    deadline: UnixMillis,
}

/// The broadcasts announced but not received, and whom to ask for them.
#[derive(Debug)]
pub(crate) struct Missing<P> {
    by_id: BTreeMap<GossipId, MissingBroadcast<P>>,
}

impl<P> Default for Missing<P> {
    fn default() -> Self {
        Self {
            by_id: BTreeMap::new(),
        }
    }
}

impl<P: Ord + Clone> Missing<P> {
    /// Notes that `from` has `id`; a first announcement starts the timer.
    pub(crate) fn announced(
        &mut self,
        now: UnixMillis,
        wait_ms: u64,
        id: GossipId,
        from: P,
        round: u32,
    ) {
        if let Some(missing) = self.by_id.get_mut(&id) {
            if missing.announcers.len() < MAX_ANNOUNCERS
                && !missing.announcers.iter().any(|(p, _)| *p == from)
            {
                missing.announcers.push_back((from, round));
            }
            return;
        }
        if self.by_id.len() >= MAX_MISSING_BROADCASTS {
            return;
        }
        self.by_id.insert(
            id,
            MissingBroadcast {
                announcers: VecDeque::from([(from, round)]),
                deadline: now.saturating_add_millis(wait_ms),
            },
        );
    }

    pub(crate) fn received(&mut self, id: &GossipId) {
        self.by_id.remove(id);
    }

    pub(crate) fn forget_peer(&mut self, peer: &P) {
        for missing in self.by_id.values_mut() {
            missing.announcers.retain(|(p, _)| p != peer);
        }
    }

    /// For each broadcast whose timer ran out: the next announcer to ask
    /// (its timer restarts with `retry_ms`). A broadcast nobody else
    /// announced is given up.
    pub(crate) fn due(&mut self, now: UnixMillis, retry_ms: u64) -> Vec<(GossipId, P)> {
        let mut asks = Vec::new();
        let mut given_up = Vec::new();
        for (id, missing) in &mut self.by_id {
            if missing.deadline > now {
                continue;
            }
            match missing.announcers.pop_front() {
                Some((peer, _round)) => {
                    asks.push((*id, peer));
                    missing.deadline = now.saturating_add_millis(retry_ms);
                }
                None => given_up.push(*id),
            }
        }
        for id in given_up {
            self.by_id.remove(&id);
        }
        asks
    }

    pub(crate) fn next_deadline(&self) -> Option<UnixMillis> {
        self.by_id.values().map(|m| m.deadline).min()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }
}
