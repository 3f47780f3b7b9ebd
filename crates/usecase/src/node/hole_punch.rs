//! Hole punching: two nodes behind NATs that reach each other through a
//! relay open a direct connection, and calls go over it from then on
//! (see [`super::relay::call`]: an open connection comes first, the relay
//! again when it no longer answers).
//!
//! After a relayed call succeeds, the caller, if its peers agree on its
//! observed address, sends `HolePunch` (its observed address) through the
//! relay. The node called dials the caller there at once (a ping), which
//! opens its own NAT's mapping towards the caller, and answers with its
//! own observed address; the caller dials it there. The caller's dial
//! passes the node's NAT through the mapping the node's dial opened; the
//! node's dial, dropped by the caller's NAT at first, gets through on its
//! next retransmission. Either connection serves both ways.
//!
//! Each end learns the other's public address: off with `[relay]
//! hole_punching = false`, and always with onion routing (whose point is
//! that peers do not learn each other's addresses), both ways: such a
//! node neither asks nor dials when asked.
//!
//! It works when both NATs keep one mapping for every destination
//! (endpoint-independent mapping: Linux's masquerade, most home routers).
//! A symmetric NAT maps each destination to another port: its node has no
//! agreed observed address, refuses the punch, and both stay on the relay.
//! A failed punch costs two handshake timeouts of dialling in the
//! background; it is not tried again with that peer for
//! [`PUNCH_RETRY_MS`]. A punched connection that closed later (unused,
//! it lingers out; a NAT may forget its mapping) is punched again after
//! the next relayed call.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tacnode_domain::dht::RefusalCode;
use tacnode_domain::{NodeId, UnixMillis};
use tacnode_messaging::Message;

use super::Shared;
use super::relay::RelayRoute;
use super::serve::refuse;
use crate::requester_quota::RequesterQuota;

/// How long after a punch with a peer that failed (or is under way) the
/// next may be tried.
pub(crate) const PUNCH_RETRY_MS: u64 = 10 * 60 * 1000;
/// Peers whose last punch is remembered; the oldest is forgotten first.
pub(crate) const MAX_PUNCH_PEERS: usize = 256;
/// The window of the quota below.
pub(crate) const PUNCH_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Punches one caller may ask of us per window (each costs us a dial at
/// an address it names, authenticated as the caller: never a connection
/// to anyone else).
pub(crate) const MAX_PUNCHES_PER_CALLER: usize = 4;
/// Punches all callers together may ask of us per window.
pub(crate) const MAX_PUNCHES_PER_WINDOW: usize = 32;

/// What a node remembers of punches: when it last tried with each peer
/// (as caller), and how many it was asked for (as the node called).
#[derive(Debug)]
pub(crate) struct Punches {
    tried: HashMap<NodeId, UnixMillis>,
    asked: RequesterQuota,
}

impl Punches {
    pub(crate) fn new() -> Self {
        Self {
            tried: HashMap::new(),
            asked: RequesterQuota::new(
                PUNCH_WINDOW_MS,
                MAX_PUNCHES_PER_CALLER,
                MAX_PUNCHES_PER_WINDOW,
            ),
        }
    }

    /// Whether to try a punch with `peer` at `now`; if so, it is noted.
    fn try_now(&mut self, now: UnixMillis, peer: NodeId) -> bool {
        if self
            .tried
            .get(&peer)
            .is_some_and(|t| now.millis_since(*t) < PUNCH_RETRY_MS)
        {
            return false;
        }
        if self.tried.len() >= MAX_PUNCH_PEERS
            && let Some(oldest) = self.tried.iter().min_by_key(|(_, t)| **t).map(|(p, _)| *p)
        {
            self.tried.remove(&oldest);
        }
        self.tried.insert(peer, now);
        true
    }

    /// The punch with `peer` succeeded: once its connection is gone, the
    /// next relayed call may punch again at once.
    fn succeeded(&mut self, peer: &NodeId) {
        self.tried.remove(peer);
    }
}

fn punches(shared: &Shared) -> std::sync::MutexGuard<'_, Punches> {
    shared
        .punches
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether this node punches holes at all (see the module documentation).
fn punching(shared: &Shared) -> bool {
    shared.config.relay.hole_punching
        && shared.config.privacy.mode != super::config::PrivacyMode::Onion
}

/// After a relayed call to `peer` succeeded: starts a punch in the
/// background, when we have an observed address to offer, no connection
/// to `peer`, and no punch with it lately.
pub(super) fn maybe_punch(shared: &Arc<Shared>, peer: NodeId, route: RelayRoute) {
    if !punching(shared) {
        return;
    }
    let Some(ours) = super::reachability::trusted(shared) else {
        return;
    };
    if shared.net.connected_peers().contains(&peer) || !punches(shared).try_now(shared.now(), peer)
    {
        return;
    }
    let task_shared = shared.clone();
    shared.spawn(async move {
        let shared = task_shared;
        let asked = super::relay::relay_call(
            &shared,
            peer,
            route,
            &Message::HolePunch { observed: ours },
        )
        .await;
        let theirs = match asked {
            Ok(Message::HolePunchAnswer { observed }) => observed,
            Ok(other) => {
                tracing::debug!(%peer, "hole punch answered with {other:?}");
                return;
            }
            Err(e) => {
                tracing::debug!(%peer, "no hole punch: {e}");
                return;
            }
        };
        match shared.net.call(peer, &[theirs], &super::probe::ping(&shared)).await {
            Ok(_) => {
                tracing::info!(%peer, address = %theirs, "hole punched: a direct connection through both NATs");
                punches(&shared).succeeded(&peer);
                shared
                    .hole_punches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                tracing::debug!(%peer, address = %theirs, "hole punch failed, staying on the relay: {e}");
            }
        }
    });
}

/// The node called: `peer` asks for a punch (through our relay: a punch
/// asked over a direct connection is refused as no request) and is at
/// `theirs`. Dials it there in the background and answers with our
/// observed address. The dial expects `peer`'s identity, so aimed at
/// anyone else it fails at the handshake; the quota bounds how often.
pub(super) fn answer(shared: &Arc<Shared>, peer: NodeId, theirs: SocketAddr) -> Message {
    if !punching(shared) {
        return refuse(
            RefusalCode::Unsupported,
            "this node punches no holes (onion routing, or [relay] hole_punching = false)",
        );
    }
    let Some(ours) = super::reachability::trusted(shared) else {
        return refuse(
            RefusalCode::Unsupported,
            "no observed address agreed by peers (a symmetric NAT?): staying on the relay",
        );
    };
    let broadcast = matches!(theirs.ip(), std::net::IpAddr::V4(v4) if v4.is_broadcast());
    if theirs.ip().is_loopback()
        || theirs.ip().is_unspecified()
        || theirs.ip().is_multicast()
        || broadcast
        || theirs.port() == 0
    {
        return refuse(
            RefusalCode::Malformed,
            "a hole punch names no address a peer can be at",
        );
    }
    if !punches(shared).asked.take(shared.now(), peer) {
        return refuse(RefusalCode::Quota, "hole punch quota: try again later");
    }
    let task_shared = shared.clone();
    shared.spawn(async move {
        let shared = task_shared;
        // Opens our NAT's mapping towards the caller; gets through itself
        // once the caller's own dial opened its NAT.
        match shared
            .net
            .call(peer, &[theirs], &super::probe::ping(&shared))
            .await
        {
            Ok(_) => tracing::debug!(%peer, address = %theirs, "hole punch: dialled the caller"),
            Err(e) => {
                tracing::debug!(%peer, address = %theirs, "hole punch: dialling the caller: {e}")
            }
        }
    });
    Message::HolePunchAnswer { observed: ours }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn id(n: u32) -> NodeId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        NodeId::from_bytes(b)
    }

    #[test]
    fn a_peer_is_punched_once_per_retry_interval_and_the_book_is_bounded() {
        let t = UnixMillis(1_700_000_000_000);
        let mut p = Punches::new();
        assert!(p.try_now(t, id(1)));
        assert!(!p.try_now(t.saturating_add_millis(PUNCH_RETRY_MS - 1), id(1)));
        assert!(p.try_now(t.saturating_add_millis(PUNCH_RETRY_MS), id(1)));
        p.succeeded(&id(1));
        assert!(p.try_now(t.saturating_add_millis(PUNCH_RETRY_MS + 1), id(1)));
        for n in 2..(MAX_PUNCH_PEERS as u32 + 10) {
            assert!(p.try_now(t.saturating_add_millis(u64::from(n)), id(n)));
        }
        assert!(p.tried.len() <= MAX_PUNCH_PEERS);
    }
}
