//! A sliding-window quota per requester and for all requesters together:
//! what the node grants an unauthenticated-in-effect request that costs it
//! something (a one-time prekey, a dial-back).

use std::collections::VecDeque;

use tacnode_domain::{NodeId, UnixMillis};

/// Grants at most `per_requester` per requester and `per_window` in all
/// within any `window_ms`.
#[derive(Debug)]
pub struct RequesterQuota {
    window_ms: u64,
    per_requester: usize,
    per_window: usize,
    /// Who was granted and when, oldest first; never longer than `per_window`.
    recent: VecDeque<(NodeId, UnixMillis)>,
}

impl RequesterQuota {
    /// An empty window of `window_ms` with these limits.
    pub fn new(window_ms: u64, per_requester: usize, per_window: usize) -> Self {
        Self {
            window_ms,
            per_requester,
            per_window,
            recent: VecDeque::new(),
        }
    }

    /// Whether `requester` may be granted one at `now`; if so, it is counted.
    pub fn take(&mut self, now: UnixMillis, requester: NodeId) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|(_, t)| now.millis_since(*t) >= self.window_ms)
        {
            self.recent.pop_front();
        }
        let mine = self.recent.iter().filter(|(r, _)| *r == requester).count();
        if mine >= self.per_requester || self.recent.len() >= self.per_window {
            return false;
        }
        self.recent.push_back((requester, now));
        true
    }
}
