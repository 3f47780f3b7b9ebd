//! Whether, and where, the rest of the network can reach this node: the
//! address the peers answering our DHT requests agree they see us at (see
//! [`crate::observed_address`]) goes into our peer record next to the
//! local endpoints, and so does what a server found when it dialled us
//! back (`DialBackRequest`). Both are republished when they change.

use std::sync::Arc;
use std::time::Duration;

use tacnode_domain::dht::RefusalCode;
use tacnode_domain::{Endpoint, MAX_ENDPOINTS, NodeId, NodeType, Reachability};
use tacnode_messaging::Message;

use super::Shared;
use crate::ports::CallError;

/// How often the node asks again whether it can be reached (at once when
/// its observed address changes): a dial-back costs the server and us a
/// handshake, about 4 KB together.
const RECHECK: Duration = Duration::from_secs(60 * 60);
/// How soon it asks again when no server could answer.
const RETRY_UNKNOWN: Duration = Duration::from_secs(60);
/// Servers asked in turn for one dial-back, when one cannot answer.
const MAX_DIAL_BACK_ASKS: usize = 3;
/// Servers pinged when a peer sees us at another address than the
/// trusted one (two must agree on a new one).
const MAX_ADDRESS_CONFIRMATIONS: usize = 3;
/// Least time between two such rounds.
const ADDRESS_CONFIRMATION_GAP: Duration = Duration::from_secs(10);
/// Most time between two rounds that moved nothing.
const MAX_ADDRESS_CONFIRMATION_GAP: Duration = Duration::from_secs(600);

/// The address our peers agree they see us at now, if any.
pub(crate) fn trusted(shared: &Shared) -> Option<std::net::SocketAddr> {
    shared
        .observed_address
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .trusted()
}

/// Finds out after the join, and again when the observed address changes
/// or every [`RECHECK`], whether a server can dial us back; republishes
/// our records when that or the observed address changed. Runs until
/// shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut published = published_endpoints(&shared);
    loop {
        // A change noted before this check is covered by it.
        tokio::select! {
            biased;
            () = shared.address_changed.notified() => {}
            () = std::future::ready(()) => {}
        }
        let found = ask_for_dial_back(&shared).await;
        let changed = {
            let mut r = shared
                .reachability
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let changed = found.is_some() && *r != found;
            if found.is_some() {
                *r = found;
            }
            changed
        };
        if changed {
            shared.reachability_changed.notify_one();
        }
        let endpoints = published_endpoints(&shared);
        if changed || endpoints != published {
            tracing::info!(
                reachability = ?found,
                endpoints = ?endpoints,
                "publishing where and whether we can be reached"
            );
            match super::maintenance::publish_records(&shared).await {
                Ok(_) => published = endpoints,
                Err(e) => tracing::warn!("publishing our records: {e:#}"),
            }
        }
        let wait = if found.is_some() {
            RECHECK
        } else {
            RETRY_UNKNOWN
        };
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = shared.address_changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// When a peer that saw us at the trusted address sees us elsewhere (our
/// NAT's public address changed: the laptop took another network, or the
/// NAT was restarted), asks [`MAX_ADDRESS_CONFIRMATIONS`] other servers of
/// our routing table with a ping, whose answers say where they see us:
/// once two agree on the new address it is trusted, republished and
/// checked by a dial-back ([`run`]). At most once per
/// [`ADDRESS_CONFIRMATION_GAP`], doubling (up to
/// [`MAX_ADDRESS_CONFIRMATION_GAP`]) while rounds move nothing. Runs until
/// shutdown.
pub(crate) async fn confirm_address(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut gap = ADDRESS_CONFIRMATION_GAP;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = shared.address_doubted.notified() => {}
        }
        let servers: Vec<_> = match super::send::routing_server_entries(&shared).await {
            Ok(s) => s.into_iter().take(MAX_ADDRESS_CONFIRMATIONS).collect(),
            Err(_) => return,
        };
        tracing::debug!(
            asked = servers.len(),
            "a peer sees us at another address: asking others"
        );
        let ping = super::probe::ping(&shared);
        let before = trusted(&shared);
        for s in servers {
            let addrs: Vec<_> = s.endpoints.iter().map(|e| e.0).collect();
            // Their answers reach the observed-address book on their own.
            if let Err(e) = shared.net.call(s.node_id, &addrs, &ping).await {
                tracing::debug!(server = %s.node_id, "address confirmation: {e}");
            }
        }
        gap = if trusted(&shared) == before {
            gap.saturating_mul(2).min(MAX_ADDRESS_CONFIRMATION_GAP)
        } else {
            ADDRESS_CONFIRMATION_GAP
        };
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(gap) => {}
        }
    }
}

/// The endpoints our peer record lists: the local ones, then the observed
/// address when enough peers agree on it and it is not among them.
pub(crate) fn published_endpoints(shared: &Shared) -> Vec<Endpoint> {
    let mut endpoints = super::maintenance::own_endpoints(shared);
    let observed = {
        let mut o = shared
            .observed_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if o.forget_stale(shared.now()) {
            shared.address_changed.notify_one();
        }
        o.trusted()
    };
    if let Some(a) = observed.map(Endpoint)
        && !endpoints.contains(&a)
        && endpoints.len() < MAX_ENDPOINTS
    {
        endpoints.push(a);
    }
    endpoints
}

/// What the last dial-back found, for our peer record.
pub(crate) fn reachability(shared: &Shared) -> Option<Reachability> {
    *shared
        .reachability
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Asks servers of our routing table, in turn, to dial us back; `None`
/// when none could answer.
async fn ask_for_dial_back(shared: &Arc<Shared>) -> Option<Reachability> {
    let servers: Vec<_> = super::send::routing_server_entries(shared)
        .await
        .ok()?
        .into_iter()
        .take(MAX_DIAL_BACK_ASKS)
        .collect();
    for s in servers {
        let addrs: Vec<_> = s.endpoints.iter().map(|e| e.0).collect();
        match shared
            .net
            .call(s.node_id, &addrs, &Message::DialBackRequest)
            .await
        {
            Ok(Message::DialedBack { reachable }) => {
                return Some(if reachable {
                    Reachability::Public
                } else {
                    Reachability::Private
                });
            }
            Ok(other) => tracing::debug!(server = %s.node_id, "dial-back answered with {other:?}"),
            Err(e) => tracing::debug!(server = %s.node_id, "dial-back: {e}"),
        }
    }
    None
}

/// A server's answer to `peer`'s `DialBackRequest`, which came from
/// `remote`: the only address dialled (never one the requester names, so
/// nobody can aim our dials at a third party), within the quota.
pub(crate) async fn dial_back(
    shared: &Shared,
    peer: NodeId,
    remote: std::net::SocketAddr,
) -> Message {
    if shared.node_type != NodeType::Server {
        return Message::Error {
            code: RefusalCode::Unsupported,
            detail: "client nodes dial nobody back".into(),
        };
    }
    let granted = shared
        .dial_back_quota
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take(shared.now(), peer);
    if !granted {
        return Message::Error {
            code: RefusalCode::Quota,
            detail: "dial-back quota".into(),
        };
    }
    // The answer must reach the requester before its own call times out:
    // a dial into a NAT is never answered, and waiting out the whole
    // handshake timeout (longer than a request's on a LAN) would leave
    // every NATed node "not checked". A dial-back is given a DHT
    // request's time, which is below the transport's request timeout in
    // every profile, and a handshake fits in it.
    let bound = Duration::from_millis(shared.config.dht.request_timeout_ms.max(1));
    let dialled = tokio::time::timeout(bound, shared.net.dial_back(peer, remote))
        .await
        .unwrap_or(Err(CallError::Timeout));
    match dialled {
        Ok(()) => Message::DialedBack { reachable: true },
        Err(CallError::Closed) => Message::Error {
            code: RefusalCode::Internal,
            detail: "shutting down".into(),
        },
        Err(e) => {
            tracing::debug!(%peer, %remote, "dial-back failed: {e}");
            Message::DialedBack { reachable: false }
        }
    }
}
