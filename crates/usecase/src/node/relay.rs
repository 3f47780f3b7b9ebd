//! Relays (see [`tacnode_domain::relay`]): a node nobody can dial keeps a
//! reservation at a server of its routing table and names it in its peer
//! record; a caller that finds such a record calls the node through the
//! relay, which passes the signed call over the connection the node opened
//! and returns its signed answer.
//!
//! Four roles, one module:
//! - **the reserving node** ([`keep_reservation`]): while the last
//!   dial-back found it `Private` (or, before one answered, while it is a
//!   client peers see at another address), it reserves at the server with the
//!   shortest round trip among those it is connected to (the one it has,
//!   first), renews every half [`RELAY_RESERVATION_TTL_MS`], and
//!   republishes its records when the relay changes;
//! - **the relay** ([`handle_call`] with `relay` = us): passes a call only
//!   from the caller who signed it, only to a node holding a reservation,
//!   within the reservation's byte budget, and only over the connection
//!   that node opened (it never dials);
//! - **the node called** ([`handle_call`] with `to` = us): checks the
//!   caller's signature, answers the request inside as if the caller had
//!   called directly, and signs the answer;
//! - and **the caller** ([`call_through`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tacnode_domain::dht::RefusalCode;
use tacnode_domain::{
    IdentityKey, NodeId, NodeType, RELAY_NONCE_LEN, Reachability, RelayHint, RelayedAnswer,
    RelayedCall,
};
use tacnode_messaging::Message;

use super::serve::refuse;
use super::{NodeError, Shared};
use crate::ports::CallError;
use crate::relay_reservations::{RELAY_RESERVATION_TTL_MS, RelayRefusal};

/// How often a node that needs no relay (or found none) looks again.
const RELAY_CHECK: Duration = Duration::from_secs(5);
/// How often while no dial-back has answered yet (the first seconds).
const RELAY_CHECK_UNKNOWN: Duration = Duration::from_secs(1);
/// Renewals never come closer together than this, whatever a relay says
/// its reservations last.
const MIN_RENEWAL: Duration = Duration::from_secs(10);
/// Longest wait between reservation attempts while no server takes one
/// (from [`RELAY_CHECK`], doubling).
const MAX_RESERVE_BACKOFF: Duration = Duration::from_secs(300);
/// Doublings of that wait counted at most (2^6 × 5 s is past the cap).
const RESERVE_BACKOFF_DOUBLINGS: u32 = 6;
/// Servers asked in turn for one reservation.
const MAX_RESERVE_ASKS: usize = 3;

/// The relay our peer record names, if any.
pub(crate) fn published_relay(shared: &Shared) -> Option<RelayHint> {
    *shared
        .own_relay
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn set_relay(shared: &Shared, relay: Option<RelayHint>) -> bool {
    let mut r = shared
        .own_relay
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let changed = *r != relay;
    *r = relay;
    changed
}

/// Whether we need a relay: the last dial-back found us `Private`; or,
/// before any dial-back answered, we are a client that peers see at
/// another address than ours (behind a NAT, most likely: a dial-back
/// into one is only found to fail when its wait runs out, and the relay
/// is worth having at once; dropped again if the node is found public).
fn needs_relay(shared: &Shared) -> bool {
    match super::reachability::reachability(shared) {
        Some(Reachability::Private) => true,
        Some(Reachability::Public) => false,
        None => {
            shared.node_type == NodeType::Client
                && !shared
                    .observed_address
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .is_empty()
        }
    }
}

/// Keeps a relay reservation while [`needs_relay`], and republishes our
/// records whenever the relay we name changes. Runs until shutdown.
pub(crate) async fn keep_reservation(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    // Until when the reservation we hold lasts, and how many times in a
    // row no server took one.
    let mut held_until = None;
    let mut failures = 0u32;
    loop {
        let idle = if super::reachability::reachability(&shared).is_none() {
            RELAY_CHECK_UNKNOWN
        } else {
            RELAY_CHECK
        };
        let (relay, wait) = if needs_relay(&shared) {
            match reserve(&shared).await {
                Some((hint, ttl_ms)) => {
                    failures = 0;
                    held_until = Some(shared.now().saturating_add_millis(ttl_ms));
                    let renew = Duration::from_millis(ttl_ms / 2).max(MIN_RENEWAL);
                    (Some(hint), renew)
                }
                None => {
                    failures = failures.saturating_add(1);
                    let backoff = RELAY_CHECK
                        .saturating_mul(1 << failures.min(RESERVE_BACKOFF_DOUBLINGS))
                        .min(MAX_RESERVE_BACKOFF);
                    // A failed renewal: the reservation we hold may still
                    // last; keep naming it until it ran out.
                    let still = held_until.is_some_and(|t| shared.now() < t);
                    let kept = if still {
                        published_relay(&shared)
                    } else {
                        None
                    };
                    let wait = match (kept, held_until) {
                        (Some(_), Some(t)) => backoff
                            .min(Duration::from_millis(t.millis_since(shared.now())))
                            .max(MIN_RENEWAL),
                        _ => backoff,
                    };
                    (kept, wait)
                }
            }
        } else {
            held_until = None;
            failures = 0;
            (None, idle)
        };
        if set_relay(&shared, relay) {
            tracing::info!(relay = ?relay.map(|r| r.node_id), "publishing the relay we are called through");
            if let Err(e) = super::maintenance::publish_records(&shared).await {
                tracing::warn!("publishing our records: {e:#}");
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = shared.reachability_changed.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Reserves (or renews) at a server: the relay we have first, then the
/// connected servers of our routing table by round trip. The relay and how
/// long the reservation holds; `None` when no server took it.
async fn reserve(shared: &Arc<Shared>) -> Option<(RelayHint, u64)> {
    let current = published_relay(shared);
    let connections = shared.net.connections();
    let rtt_of = |id: &NodeId| {
        connections
            .iter()
            .find(|c| c.peer == *id)
            .map_or(Duration::MAX, |c| c.rtt)
    };
    let mut servers: Vec<_> = super::send::routing_server_entries(shared)
        .await
        .ok()?
        .into_iter()
        .filter_map(|e| Some((e.node_id, e.endpoints.first()?.0)))
        .collect();
    servers.sort_by_key(|(id, _)| (Some(*id) != current.map(|r| r.node_id), rtt_of(id)));
    if let Some(c) = current
        && !servers.iter().any(|(id, _)| *id == c.node_id)
    {
        servers.insert(0, (c.node_id, c.endpoint));
    }
    for (node_id, endpoint) in servers.into_iter().take(MAX_RESERVE_ASKS) {
        match shared
            .net
            .call(node_id, &[endpoint], &Message::RelayReserve)
            .await
        {
            Ok(Message::RelayReservation { ttl_ms }) if ttl_ms > 0 => {
                let ttl_ms = ttl_ms.min(RELAY_RESERVATION_TTL_MS);
                return Some((RelayHint { node_id, endpoint }, ttl_ms));
            }
            Ok(other) => tracing::debug!(relay = %node_id, "reservation answered with {other:?}"),
            Err(e) => tracing::debug!(relay = %node_id, "reservation: {e}"),
        }
    }
    None
}

/// A server's answer to `peer`'s reservation.
pub(super) async fn reserve_for(shared: &Arc<Shared>, peer: NodeId) -> Message {
    if let Some(refusal) = not_relaying(shared) {
        return refusal;
    }
    let now = shared.now();
    let reserved = shared
        .relay_reservations
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .reserve(now, peer);
    match reserved {
        Ok(ttl_ms) => Message::RelayReservation { ttl_ms },
        Err(e) => relay_refusal(e),
    }
}

/// The refusal when this node relays for nobody.
fn not_relaying(shared: &Shared) -> Option<Message> {
    if shared.node_type != NodeType::Server {
        return Some(refuse(
            RefusalCode::Unsupported,
            "client nodes relay for nobody",
        ));
    }
    if !shared.config.relay.serve {
        return Some(refuse(
            RefusalCode::Unsupported,
            "this server does not relay ([relay] serve = false)",
        ));
    }
    // Callers could not reach us to be passed on.
    (super::reachability::reachability(shared) == Some(Reachability::Private)).then(|| {
        refuse(
            RefusalCode::Unsupported,
            "this server cannot be dialled itself: reserve at another",
        )
    })
}

fn relay_refusal(e: RelayRefusal) -> Message {
    let code = match e {
        RelayRefusal::Full | RelayRefusal::OverBudget => RefusalCode::Quota,
        RelayRefusal::NoReservation => RefusalCode::Stale,
    };
    refuse(code, e.to_string())
}

fn charge(shared: &Shared, to: &NodeId, bytes: usize) -> Result<(), RelayRefusal> {
    let now = shared.now();
    shared
        .relay_reservations
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .charge(now, to, u64::try_from(bytes).unwrap_or(u64::MAX))
}

/// A relayed call that came from `peer` (over its authenticated
/// connection, from `remote`): passed on when we are its relay, answered
/// when we are the node it calls.
pub(super) async fn handle_call(
    shared: &Arc<Shared>,
    (peer, peer_identity): (NodeId, &IdentityKey),
    remote: SocketAddr,
    call: RelayedCall,
) -> Message {
    let me = shared.node_id();
    if call.to == me {
        answer_call(shared, peer, remote, call).await
    } else if call.relay == me {
        pass_on(shared, (peer, peer_identity), call).await
    } else {
        refuse(
            RefusalCode::Malformed,
            "a relayed call for another relay: send it to the relay it names",
        )
    }
}

/// As the relay: passes `call` to the node it names over that node's own
/// connection, and returns its answer.
async fn pass_on(
    shared: &Arc<Shared>,
    (peer, peer_identity): (NodeId, &IdentityKey),
    call: RelayedCall,
) -> Message {
    if let Some(refusal) = not_relaying(shared) {
        return refusal;
    }
    // Only the caller's own calls: the handshake admitted it (in a closed
    // network, as a member), which is what the node called relies on.
    if call.caller != *peer_identity {
        return refuse(
            RefusalCode::Unauthorized,
            "a relayed call is passed on only for the caller who signed it",
        );
    }
    let to = call.to;
    if to == peer {
        return refuse(RefusalCode::Malformed, "a relayed call to its own caller");
    }
    if let Err(e) = charge(shared, &to, call.body.len()) {
        tracing::debug!(%peer, %to, "relayed call refused: {e}");
        return relay_refusal(e);
    }
    // Never a dial: only the connection the reserving node opened (a NAT
    // would drop a dial anyway).
    match shared
        .net
        .call(to, &[], &Message::RelayedCall(Box::new(call)))
        .await
    {
        Ok(Message::RelayedAnswer(a)) => {
            // Counted after the fact, all of it (the answer is already
            // here): a large one stops the node's next calls until its
            // window has room again.
            let now = shared.now();
            shared
                .relay_reservations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .charge_answer(now, &to, u64::try_from(a.body.len()).unwrap_or(u64::MAX));
            Message::RelayedAnswer(a)
        }
        Ok(other) => {
            tracing::debug!(%to, "a relayed call answered with {other:?}");
            refuse(RefusalCode::Internal, "the node called answered unreadably")
        }
        Err(CallError::Refused { code, detail }) => refuse(code, detail),
        Err(e) => {
            tracing::debug!(%peer, %to, "relayed call not passed on: {e}");
            refuse(
                RefusalCode::Stale,
                "the node is not connected to this relay: look its record up again",
            )
        }
    }
}

/// As the node called: the caller's signature checked, the request inside
/// answered as if the caller had called us directly, the answer signed.
async fn answer_call(
    shared: &Arc<Shared>,
    relay: NodeId,
    remote: SocketAddr,
    call: RelayedCall,
) -> Message {
    if call.relay != relay {
        return refuse(
            RefusalCode::Unauthorized,
            "a relayed call must come from the relay it names",
        );
    }
    if call.verify().is_err() {
        return refuse(RefusalCode::Unauthorized, "bad caller signature");
    }
    let caller = call.caller_id();
    if caller == shared.node_id() {
        return refuse(RefusalCode::Malformed, "a relayed call from ourselves");
    }
    // What the handshake would have checked, had the caller dialled us:
    // in a closed network, its member certificate (and revocations).
    if let Err(e) = shared.admission.current().admit(
        call.member.as_ref(),
        &call.caller,
        NodeType::Client,
        shared.now(),
    ) {
        tracing::debug!(%caller, "relayed call refused: {e}");
        return refuse(RefusalCode::Unauthorized, e.to_string());
    }
    let fresh = shared
        .relayed_nonces
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .first_time(caller, call.nonce);
    if !fresh {
        tracing::debug!(%caller, %relay, "a relayed call played again: refused");
        return refuse(RefusalCode::Stale, "this relayed call was answered already");
    }
    let request = match Message::decode_request(&call.body, &call.caller) {
        // No relaying, reserving or dialling back through a relay, and no
        // DHT requests: our routing table would take the caller at the
        // relay's address.
        Ok(
            Message::RelayedCall(_)
            | Message::RelayReserve
            | Message::DialBackRequest
            | Message::DhtRequest(_),
        ) => {
            return refuse(
                RefusalCode::Unsupported,
                "not a request that goes through a relay",
            );
        }
        // A punch is asked only through a relay (the caller cannot dial us).
        Ok(Message::HolePunch { observed }) => {
            let answer = super::hole_punch::answer(shared, caller, observed);
            return sign_answer(shared, &call, &answer);
        }
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(%caller, "malformed relayed request: {e}");
            return refuse(RefusalCode::Malformed, e.to_string());
        }
    };
    let mut observed = None;
    let answer = Box::pin(super::serve::answer_request(
        shared,
        (caller, &call.caller),
        remote,
        request,
        &mut observed,
    ))
    .await;
    sign_answer(shared, &call, &answer)
}

/// `answer` to `call`, signed by us.
fn sign_answer(shared: &Shared, call: &RelayedCall, answer: &Message) -> Message {
    // The relay's address is not where the caller is: no "you came from".
    let body = answer.encode_answer(shared.now(), None);
    let signature = shared
        .identity
        .sign(&RelayedAnswer::signing_bytes(&call.signature, &body));
    Message::RelayedAnswer(RelayedAnswer { body, signature })
}

/// How to call a node that named a relay in its record and cannot be
/// dialled: the relay, and the node's identity key (to check its answers).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RelayRoute {
    pub(crate) relay: RelayHint,
    pub(crate) identity: IdentityKey,
}

/// How to reach `peer`: its relay, when its record (as we hold it) names
/// one and does not say anyone can dial it; and whether a connection to
/// it is open (one either end opened, or a punched one), which calls use
/// first.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerRoute {
    pub(crate) connected: bool,
    pub(crate) relay: Option<RelayRoute>,
}

/// See [`PeerRoute`].
pub(crate) async fn route_to(shared: &Arc<Shared>, peer: NodeId) -> PeerRoute {
    let connected = shared.net.connected_peers().contains(&peer);
    let me = shared.node_id();
    let relay = shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(st.peers.get(&peer).and_then(|r| {
                let relay = r.body.relay?;
                (r.body.reachability != Some(Reachability::Public)
                    && relay.node_id != peer
                    && relay.node_id != me)
                    .then_some(RelayRoute {
                        relay,
                        identity: r.body.identity_key,
                    })
            }))
        })
        .await
        .ok()
        .flatten();
    PeerRoute { connected, relay }
}

/// Calls `peer` with `request`: over an open connection or at `addrs`;
/// through its relay when [`route_to`] gives one and no connection is
/// open, or when the open one no longer answers (it is closed then: one
/// end's address changed, and its NAT drops what comes the old way).
pub(crate) async fn call(
    shared: &Arc<Shared>,
    peer: NodeId,
    addrs: &[SocketAddr],
    request: &Message,
) -> Result<Message, CallError> {
    let route = route_to(shared, peer).await;
    match route.relay {
        Some(relay) if !route.connected => call_through(shared, peer, relay, request).await,
        Some(relay) => match shared.net.call(peer, addrs, request).await {
            Err(e)
                if super::send::nobody_answered(&e)
                    && !super::probe::still_answers(shared, peer).await =>
            {
                tracing::debug!(%peer, "its connection no longer answers ({e}): through its relay");
                shared.net.forget(peer);
                call_through(shared, peer, relay, request).await
            }
            other => other,
        },
        None => shared.net.call(peer, addrs, request).await,
    }
}

/// Calls `peer` with `request` through its relay (see [`relay_call`]);
/// after a success, tries to punch a direct connection through both NATs
/// in the background ([`super::hole_punch`]).
pub(crate) async fn call_through(
    shared: &Arc<Shared>,
    peer: NodeId,
    route: RelayRoute,
    request: &Message,
) -> Result<Message, CallError> {
    let answer = relay_call(shared, peer, route, request).await?;
    super::hole_punch::maybe_punch(shared, peer, route);
    Ok(answer)
}

/// Calls `peer` with `request` through its relay: signed by us, the answer
/// checked against `peer`'s identity key. The node's signed error answer
/// becomes [`CallError::Refused`]; the relay's own refusal (which the node
/// did not sign) [`CallError::RelayRefused`].
pub(super) async fn relay_call(
    shared: &Arc<Shared>,
    peer: NodeId,
    route: RelayRoute,
    request: &Message,
) -> Result<Message, CallError> {
    let relay = route.relay.node_id;
    let body = request.encode();
    let nonce = shared
        .with_state(|st, _| {
            let mut nonce = [0u8; RELAY_NONCE_LEN];
            rand_core::Rng::fill_bytes(&mut st.rng, &mut nonce);
            Ok::<_, NodeError>(nonce)
        })
        .await
        .map_err(|_| CallError::Closed)?;
    let signature = shared
        .identity
        .sign(&RelayedCall::signing_bytes(&relay, &peer, &nonce, &body));
    let call = RelayedCall {
        caller: shared.identity.identity_key(),
        relay,
        to: peer,
        nonce,
        member: shared.config.admission.certificate.clone(),
        body,
        signature,
    };
    let answer = match shared
        .net
        .call(
            relay,
            &[route.relay.endpoint],
            &Message::RelayedCall(Box::new(call)),
        )
        .await
    {
        Ok(a) => a,
        // Unsigned by the node: the relay's word only, which must not
        // count as the node refusing (a lying relay would make a message
        // fail instead of going to the mailboxes).
        Err(CallError::Refused { code, detail }) => {
            return Err(CallError::RelayRefused { code, detail });
        }
        Err(e) => return Err(e),
    };
    let Message::RelayedAnswer(a) = answer else {
        return Err(CallError::BadAnswer(format!(
            "the relay answered a relayed call with {answer:?}"
        )));
    };
    a.verify(&route.identity, &signature)
        .map_err(|_| CallError::BadAnswer("the relayed answer's signature is bad".into()))?;
    let inner = Message::decode_answer(&a.body)
        .map_err(|e| CallError::BadAnswer(e.to_string()))?
        .message;
    match inner {
        Message::Error { code, detail } => Err(CallError::Refused { code, detail }),
        m => Ok(m),
    }
}
