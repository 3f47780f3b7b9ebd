//! Answers requests from peers: DHT requests, prekey bundles, direct
//! deliveries (through [`super::receive`]) and the mailbox holder's side of
//! deposits, challenges, fetches and acknowledgements.

use std::net::SocketAddr;
use std::sync::Arc;

use tacnode_domain::dht::RefusalCode;
use tacnode_domain::mailbox::{
    EntryId, MAX_ENTRIES_PER_BATCH, MailboxDeposit, MailboxEntry, MailboxOperation,
};
use tacnode_domain::{IdentityKey, MessageId, NodeId, NodeType};
use tacnode_messaging::Message;

use super::receive::{receive, receive_batch};
use super::{Result, Shared};
use crate::ports::{Incoming, IncomingCall};

/// Bytes of mailbox payload one fetch answer carries at most: a frame is
/// 1 MiB, and a payload is at most 80 KiB, so one always fits.
const FETCH_ANSWER_BUDGET: usize = tacnode_messaging::frame::MAX_FRAME_LEN - 64 * 1024;
/// Protobuf overhead of one mailbox entry (ids, lengths, tags), generously.
const ENTRY_OVERHEAD: usize = 64;
/// Serves incoming calls until the network closes.
pub(crate) async fn run(shared: Arc<Shared>, mut incoming: Box<dyn Incoming>) {
    while let Some(call) = incoming.next().await {
        let IncomingCall {
            peer,
            peer_identity,
            remote,
            body,
            reply,
        } = call;
        let task_shared = shared.clone();
        shared.spawn(async move {
            let shared = task_shared;
            // A peer that calls us is online: what waits for it goes now (it
            // may have restarted while our last attempt went to its old
            // process).
            shared.post_state(move |st, shared| {
                if st.peer_seen(&peer, shared.now()) {
                    shared.wake_delivery.notify_one();
                }
            });
            let received = shared.now();
            // A dual-stack socket reports IPv4 peers as mapped IPv6.
            let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
            let (answer, observed) = answer(&shared, (peer, &peer_identity), remote, &body).await;
            if let Err(e) = reply
                .send(answer.encode_answer(shared.now(), observed))
                .await
            {
                let after_ms = shared.now().millis_since(received);
                tracing::debug!(%peer, after_ms, "answer not sent: {e}");
            }
        });
    }
}

/// Keeps deposit `d` for its recipient, if this node holds mailboxes:
/// deposited by `from` (a peer and the address it called from), or
/// through relays (an onion packet for us; `from` is then the last relay).
/// Else the refusal to answer with.
pub(super) async fn keep_deposit(
    shared: &Arc<Shared>,
    d: MailboxDeposit,
    from: (NodeId, SocketAddr),
) -> std::result::Result<(), (RefusalCode, String)> {
    let recipient = d.recipient;
    if shared.node_type != NodeType::Server {
        return Err((
            RefusalCode::Unsupported,
            "client nodes hold no mailboxes".into(),
        ));
    }
    let t = shared.now();
    let max_expiry =
        t.saturating_add_millis(shared.config.mailbox.ttl_hours.saturating_mul(3_600_000));
    let expires = d.expires.min(max_expiry);
    let deposited = shared
        .with_state(move |st, _| {
            Ok::<_, super::NodeError>(st.store.mailbox_deposit(
                &d.recipient,
                &MessageId(d.entry_id.0),
                &d.payload,
                expires,
                t,
            ))
        })
        .await;
    match deposited {
        Ok(Ok(_)) => {
            // What a holder sees of a deposit: the mailbox, and who handed
            // it over from where (the testbed's holder view reads this).
            tracing::debug!(%recipient, from = %from.0, addr = %from.1, "mailbox deposit kept");
            Ok(())
        }
        Ok(Err(
            tacnode_domain::StoreError::MailboxRecipientQuota { .. }
            | tacnode_domain::StoreError::MailboxTotalQuota { .. },
        )) => Err((RefusalCode::Quota, "mailbox full".into())),
        Ok(Err(e)) => Err((RefusalCode::Malformed, e.to_string())),
        Err(e) => Err((RefusalCode::Internal, e.to_string())),
    }
}

pub(super) fn refuse(code: RefusalCode, detail: impl Into<String>) -> Message {
    Message::Error {
        code,
        detail: detail.into(),
    }
}

/// The answer to the request `body` from `peer` (its node id and the
/// identity key the network authenticated), and the address to tell it it
/// came from, if any (see [`observed_for`]).
async fn answer(
    shared: &Arc<Shared>,
    (peer, peer_identity): (NodeId, &IdentityKey),
    remote: SocketAddr,
    body: &[u8],
) -> (Message, Option<SocketAddr>) {
    let mut observed = None;
    let message = answer_message(shared, (peer, peer_identity), remote, body, &mut observed).await;
    (message, observed)
}

/// Where to tell a DHT requester it came from: `remote`, unless its
/// request listed that address among its endpoints (it knows then). Only
/// DHT answers carry it (8 bytes for IPv4): those are what a node runs
/// at its start and after, from many peers.
fn observed_for(
    remote: SocketAddr,
    sender: &tacnode_domain::dht::SenderInfo,
) -> Option<SocketAddr> {
    (!sender.endpoints.iter().any(|e| e.0 == remote)).then_some(remote)
}

async fn answer_message(
    shared: &Arc<Shared>,
    (peer, peer_identity): (NodeId, &IdentityKey),
    remote: SocketAddr,
    body: &[u8],
    observed: &mut Option<SocketAddr>,
) -> Message {
    // The network refuses revoked members' handshakes and closes their
    // connections; a call already under way when the list arrived stops here.
    if shared.admission.current().is_revoked(&peer) {
        tracing::debug!(%peer, "call from a revoked member refused");
        return refuse(
            RefusalCode::Unauthorized,
            "revoked member of this closed network",
        );
    }
    let msg = match Message::decode_request(body, peer_identity) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(%peer, "malformed request: {e}");
            return refuse(RefusalCode::Malformed, e.to_string());
        }
    };
    answer_request(shared, (peer, peer_identity), remote, msg, observed).await
}

/// The answer to the decoded request `msg` from `peer` (see
/// [`answer_message`]); also what a node called through its relay answers
/// the caller.
pub(super) async fn answer_request(
    shared: &Arc<Shared>,
    (peer, peer_identity): (NodeId, &IdentityKey),
    remote: SocketAddr,
    msg: Message,
    observed: &mut Option<SocketAddr>,
) -> Message {
    shared.observe_peer(
        (peer, peer_identity),
        match &msg {
            Message::DhtRequest(req) => Some(req.sender()),
            _ => None,
        },
    );
    match msg {
        Message::DhtRequest(req) => {
            *observed = observed_for(remote, req.sender());
            if let Some(t) = req.sender().time {
                shared.observe_clock(peer, t);
            }
            match shared.dht.handle_request(peer, remote, req).await {
                Ok(tacnode_domain::dht::DhtResponse::Refused(code)) => refuse(code, ""),
                Ok(resp) => Message::DhtResponse(resp),
                Err(_) => refuse(RefusalCode::Internal, "shutting down"),
            }
        }
        Message::PrekeyBundleRequest => match shared
            .with_state(move |st, shared| prekey_bundle(st, shared, peer))
            .await
        {
            Ok(b) => Message::PrekeyBundle(b),
            Err(e) => {
                tracing::warn!("cannot hand out a prekey bundle: {e:#}");
                refuse(RefusalCode::Internal, "no prekeys")
            }
        },
        Message::Direct(sealed) => match receive(shared, Some(peer), sealed, false).await {
            Ok(_) => Message::DirectAck,
            Err(e) => {
                if matches!(e, super::receive::ReceiveError::Storage(_)) {
                    shared.storage_failed("a direct message was refused", &e);
                } else {
                    tracing::debug!(%peer, "direct message refused: {e:#}");
                }
                e.refusal()
            }
        },
        Message::DirectBatch(list) => match receive_batch(shared, peer, list).await {
            Ok(refused) => Message::DirectBatchAck { refused },
            Err(e) => {
                match e {
                    super::receive::ReceiveError::Storage(_) => {
                        shared.storage_failed("a direct batch was refused", &e);
                    }
                    // A stranger over the cap: refused as "full", not
                    // "unreadable", so it keeps its session and retries.
                    super::receive::ReceiveError::StrangerCap(_) => {
                        tracing::debug!(%peer, "direct batch refused: {e:#}");
                    }
                    _ => tracing::warn!(%peer, "direct batch not stored: {e:#}"),
                }
                e.refusal()
            }
        },
        Message::MailboxDeposit(d) => match keep_deposit(shared, d, (peer, remote)).await {
            Ok(()) => Message::MailboxDeposited { accepted: true },
            Err((code, detail)) => refuse(code, detail),
        },
        Message::MailboxChallengeRequest { recipient } => shared
            .with_state(move |st, shared| {
                let now = shared.now();
                let nonce = st.challenges.issue(now, peer, recipient, &mut st.rng);
                // Only the owner itself (TLS authenticated it) learns that
                // its mailbox is empty, and skips the signed fetch: most
                // fetches find nothing, and each costs a signature on both
                // ends.
                let nothing_held = peer == recipient
                    && st
                        .store
                        .mailbox_fetch(&recipient, now, 1)
                        .is_ok_and(|held| held.is_empty());
                Ok::<_, super::NodeError>(Message::MailboxChallenge {
                    nonce,
                    nothing_held,
                })
            })
            .await
            .unwrap_or_else(|e| refuse(RefusalCode::Internal, e.to_string())),
        Message::MailboxFetch(f) => shared
            .with_state(move |st, shared| {
                Ok::<_, super::NodeError>(fetch_held(st, shared, peer, &f))
            })
            .await
            .unwrap_or_else(|e| refuse(RefusalCode::Internal, e.to_string())),
        Message::MailboxAck(a) => shared
            .with_state(move |st, shared| Ok::<_, super::NodeError>(ack_held(st, shared, peer, &a)))
            .await
            .unwrap_or_else(|e| refuse(RefusalCode::Internal, e.to_string())),
        Message::DialBackRequest => super::reachability::dial_back(shared, peer, remote).await,
        Message::Gossip(message) => match shared
            .with_state(move |st, shared| super::groups::receive_gossip(st, shared, peer, message))
            .await
        {
            Ok(()) => Message::GossipAck,
            Err(e @ super::NodeError::Storage(_)) => {
                shared.storage_failed("a group message was refused", &e);
                refuse(RefusalCode::Internal, "cannot store messages")
            }
            Err(e) => {
                tracing::debug!(%peer, "group message refused: {e:#}");
                refuse(RefusalCode::Unauthorized, e.to_string())
            }
        },
        Message::FileChunkRequest(req) => super::files::serve(shared, peer, req).await,
        Message::Onion(packet) => super::onion::handle(shared, &packet, (peer, remote)).await,
        Message::RelayReserve => {
            // Renewed every minute: where the relay sees the node tells
            // it soon when its NAT's public address changed.
            *observed = Some(remote);
            super::relay::reserve_for(shared, peer).await
        }
        Message::RelayedCall(call) => {
            let call = *call;
            super::relay::handle_call(shared, (peer, peer_identity), remote, call).await
        }
        _ => refuse(RefusalCode::Unsupported, "not a request"),
    }
}

/// A mailbox fetch by `peer`, answered from the mail held for it.
fn fetch_held(
    st: &mut super::State,
    shared: &Shared,
    peer: NodeId,
    f: &tacnode_domain::mailbox::MailboxFetch,
) -> Message {
    let t = shared.now();
    let holder = shared.node_id();
    if let Err(e) = st.challenges.redeem(
        t,
        &peer,
        &holder,
        &f.recipient,
        MailboxOperation::Fetch,
        &f.proof,
    ) {
        return refuse(RefusalCode::Unauthorized, e.to_string());
    }
    let limit = usize::try_from(f.max_entries)
        .unwrap_or(MAX_ENTRIES_PER_BATCH)
        .clamp(1, MAX_ENTRIES_PER_BATCH);
    match st.store.mailbox_fetch(&f.recipient, t, limit + 1) {
        Ok(items) => {
            // The answer must fit one frame: stop at a byte budget.
            let mut more = items.len() > limit;
            let mut budget = FETCH_ANSWER_BUDGET;
            let mut entries = Vec::new();
            for i in items.into_iter().take(limit) {
                let cost = i.payload.len() + ENTRY_OVERHEAD;
                if cost > budget && !entries.is_empty() {
                    more = true;
                    break;
                }
                budget = budget.saturating_sub(cost);
                entries.push(MailboxEntry {
                    entry_id: EntryId(i.message_id.0),
                    payload: i.payload,
                    deposited: i.deposited,
                });
            }
            Message::MailboxEntries { entries, more }
        }
        Err(e) => refuse(RefusalCode::Internal, e.to_string()),
    }
}

/// A mailbox acknowledgement by `peer`: the entries it took are deleted.
fn ack_held(
    st: &mut super::State,
    shared: &Shared,
    peer: NodeId,
    a: &tacnode_domain::mailbox::MailboxAck,
) -> Message {
    let holder = shared.node_id();
    if let Err(e) = st.challenges.redeem(
        shared.now(),
        &peer,
        &holder,
        &a.recipient,
        MailboxOperation::Ack,
        &a.proof,
    ) {
        return refuse(RefusalCode::Unauthorized, e.to_string());
    }
    let ids: Vec<MessageId> = a.entry_ids.iter().map(|e| MessageId(e.0)).collect();
    match st.store.mailbox_remove(&a.recipient, &ids) {
        Ok(n) => Message::MailboxAcked {
            deleted: u32::try_from(n).unwrap_or(u32::MAX),
        },
        Err(e) => refuse(RefusalCode::Internal, e.to_string()),
    }
}

/// A bundle for `requester`, with a one-time prekey while its quota (and
/// everyone's) lasts (see [`crate::prekey_quota`]).
fn prekey_bundle(
    st: &mut super::State,
    shared: &Shared,
    requester: NodeId,
) -> Result<tacnode_domain::e2e::PrekeyBundle> {
    let t = shared.now();
    // Never hand the same one-time prekey out twice while the first
    // initiator may still use it: a second one's first message could not
    // be opened (and would cost it a session restart).
    st.expire_handed_out(t);
    let free = st
        .prekeys
        .one_time_prekeys()
        .iter()
        .map(|k| k.id)
        .find(|id| !st.handed_out.contains_key(id));
    let otk = free.filter(|_| st.prekey_quota.take(t, requester));
    let bundle = st.prekeys.bundle(&shared.identity, otk)?;
    if let Some(id) = otk {
        st.handed_out.insert(id, t);
        // On disk before the bundle leaves, so a restart keeps it.
        st.save_handed_out()?;
    }
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use tacnode_domain::Endpoint;
    use tacnode_domain::dht::SenderInfo;

    #[test]
    fn a_requester_is_told_where_it_came_from_only_when_it_did_not_say() {
        let local: SocketAddr = "10.0.0.5:4500".parse().unwrap();
        let mapped: SocketAddr = "198.51.100.7:40001".parse().unwrap();
        let sender = SenderInfo {
            node_type: NodeType::Client,
            endpoints: vec![Endpoint(local)],
            time: None,
        };
        assert_eq!(observed_for(local, &sender), None);
        assert_eq!(observed_for(mapped, &sender), Some(mapped));
        let silent = SenderInfo {
            endpoints: vec![],
            ..sender
        };
        assert_eq!(observed_for(local, &silent), Some(local));
    }
}
