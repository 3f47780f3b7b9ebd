//! The LAN discovery task: drives [`crate::discovery::Discovery`] over the
//! [`LanBeacon`] port. It sends our beacons when due and, for each heard
//! beacon naming a server worth dialling, pings it over the network port
//! (the QUIC handshake authenticates its identity, and in a closed network
//! its membership) and only then joins through it, as through a pre-shared
//! peer. Runs only when `[discovery] lan` is set and the port was given.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tacnode_domain::dht::Contact;
use tokio::sync::Semaphore;

use super::Shared;
use crate::discovery::{BeaconRefusal, Discovery, HeardPeer};
use crate::ports::LanBeacon;

/// Heard peers being confirmed at once; a beacon heard while every slot is
/// busy is dialled at a later beacon.
const MAX_CONFIRMATIONS_IN_FLIGHT: usize = 4;
/// How long the task waits when no beacon of ours is due (clients).
const IDLE_WAIT: Duration = Duration::from_secs(3_600);

/// Sends our beacons and confirms the peers heard, until shutdown or until
/// the port closes.
pub(crate) async fn run(shared: Arc<Shared>, mut port: Box<dyn LanBeacon>) {
    let mut shutdown = shared.shutdown.clone();
    let endpoints = super::maintenance::own_endpoints(&shared);
    let mut discovery = Discovery::new(
        shared.node_id(),
        shared.node_type,
        shared.net.local_addr().port(),
        endpoints,
        shared.config.discovery.interval_ms,
        shared.now(),
    );
    let confirming = Arc::new(Semaphore::new(MAX_CONFIRMATIONS_IN_FLIGHT));
    let records_out = Arc::new(AtomicBool::new(false));
    loop {
        let now = shared.now();
        if let Some(beacon) = discovery.poll_beacon(now, &shared.identity) {
            if let Err(e) = port.send(beacon).await {
                tracing::debug!("LAN beacon: {e}");
            }
            continue;
        }
        let wait = discovery
            .poll_timeout()
            .map_or(IDLE_WAIT, |t| Duration::from_millis(t.millis_since(now)));
        let heard = tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            heard = port.recv() => heard,
            () = tokio::time::sleep(wait) => continue,
        };
        let Some(heard) = heard else {
            tracing::warn!("the LAN beacon socket closed: discovery stops");
            return;
        };
        let admission = shared.admission.current();
        let peer = match discovery.handle_beacon(shared.now(), heard.from, &heard.bytes, |id| {
            admission.is_revoked(id)
        }) {
            Ok(Some(peer)) => peer,
            Ok(None) | Err(BeaconRefusal::Own | BeaconRefusal::Replayed { .. }) => continue,
            Err(e) => {
                tracing::debug!(from = %heard.from, "LAN beacon refused: {e}");
                continue;
            }
        };
        let Ok(permit) = confirming.clone().try_acquire_owned() else {
            discovery.dial_skipped(&peer.node_id);
            continue;
        };
        let task_shared = shared.clone();
        let records_out = records_out.clone();
        shared.spawn(async move {
            confirm(&task_shared, peer, &records_out).await;
            drop(permit);
        });
    }
}

/// Pings `peer` (authenticated by the handshake) and joins through it if it
/// answered and is not in the routing table yet. Until our records reached
/// some node (`records_out`), they are published once a peer is in the
/// routing table (a node that started alone had nowhere to put them), so
/// the new neighbours resolve us at once.
async fn confirm(shared: &Arc<Shared>, peer: HeardPeer, records_out: &AtomicBool) {
    let known = shared
        .dht
        .missing_from_routing(vec![peer.node_id])
        .await
        .is_ok_and(|missing| missing.is_empty());
    if !known && !join_through(shared, peer).await {
        return;
    }
    if records_out.load(Ordering::Relaxed) {
        return;
    }
    match super::maintenance::publish_records(shared).await {
        Ok(0) => {}
        Ok(_) => records_out.store(true, Ordering::Relaxed),
        Err(e) => tracing::debug!("publishing our records after LAN discovery: {e:#}"),
    }
}

/// Pings `peer`, then joins through it; whether it answered and we joined.
async fn join_through(shared: &Arc<Shared>, peer: HeardPeer) -> bool {
    let ping = super::probe::ping(shared);
    let addrs: Vec<_> = peer.endpoints.iter().map(|e| e.0).collect();
    if let Err(e) = shared.net.call(peer.node_id, &addrs, &ping).await {
        tracing::debug!(peer = %peer.node_id, "a peer heard on the LAN did not answer: {e}");
        return false;
    }
    let contact = Contact {
        node_id: peer.node_id,
        endpoints: peer.endpoints,
    };
    match shared.dht.bootstrap(vec![contact]).await {
        Ok(n) => {
            tracing::info!(peer = %peer.node_id, routing_table = n, "joined through a peer heard on the LAN");
            true
        }
        Err(e) => {
            tracing::debug!("joining through a peer heard on the LAN: {e:#}");
            false
        }
    }
}
