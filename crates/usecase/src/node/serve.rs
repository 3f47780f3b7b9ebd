//! Answers requests from peers, and the receive path shared with mailboxes.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{NodeEvent, Result, Shared};
use crate::conversation::{Conversation, OpenError};
use crate::ports::{Incoming, IncomingCall};
use anyhow::{Context, anyhow, bail};
use tacnode_crypto::ratchet::DecryptError;
use tacnode_domain::dht::RefusalCode;
use tacnode_domain::e2e::{SealedBody, SealedMessage};
use tacnode_domain::mailbox::{EntryId, MAX_ENTRIES_PER_BATCH, MailboxEntry, MailboxOperation};
use tacnode_domain::{Contact, Content, MessageId, NodeId, NodeType, PeerAddress};
use tacnode_messaging::{Message, decode_plaintext, encode_plaintext};

/// Bytes of mailbox payload one fetch answer carries at most: a frame is
/// 1 MiB, and a payload is at most 80 KiB, so one always fits.
const FETCH_ANSWER_BUDGET: usize = tacnode_messaging::frame::MAX_FRAME_LEN - 64 * 1024;
/// Protobuf overhead of one mailbox entry (ids, lengths, tags), generously.
const ENTRY_OVERHEAD: usize = 64;
/// Unverified contacts at most: beyond it, a first message from a sender
/// that is neither a contact nor in a session is refused.
pub(crate) const MAX_UNVERIFIED_CONTACTS: u64 = 1_000;
/// Serves incoming calls until the network closes.
pub(crate) async fn run(shared: Arc<Shared>, mut incoming: Box<dyn Incoming>) {
    while let Some(call) = incoming.next().await {
        let IncomingCall {
            peer,
            remote,
            body,
            reply,
        } = call;
        let shared = shared.clone();
        tokio::spawn(async move {
            // A peer that calls us is online: what waits for it goes now (it
            // may have restarted while our last attempt went to its old
            // process).
            let rescheduled = {
                let now = shared.now();
                shared.state().peer_seen(&peer, now)
            };
            if rescheduled {
                shared.wake_delivery.notify_one();
            }
            let answer = answer(&shared, peer, remote, &body).await;
            if let Err(e) = reply.send(answer.encode_answer(shared.now())).await {
                tracing::debug!(%peer, "answer not sent: {e}");
            }
        });
    }
}

/// The answer to a direct delivery that failed. `Unauthorized` means "cannot
/// open it" and nothing else: the sender restarts its session on it.
fn refuse_delivery(e: &anyhow::Error) -> Message {
    if e.chain().any(|c| c.is::<StrangerCapReached>()) {
        refuse(RefusalCode::Quota, "too many unverified contacts")
    } else if e.chain().any(|c| c.is::<tacnode_store::StoreError>()) {
        refuse(RefusalCode::Internal, "cannot store messages")
    } else {
        refuse(RefusalCode::Unauthorized, "cannot open message")
    }
}

/// A stranger wrote while unverified contacts are at their cap.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} unverified contacts: messages from new senders are refused until some are verified or removed"
)]
struct StrangerCapReached(u64);

fn refuse(code: RefusalCode, detail: impl Into<String>) -> Message {
    Message::Error {
        code,
        detail: detail.into(),
    }
}

async fn answer(shared: &Arc<Shared>, peer: NodeId, remote: SocketAddr, body: &[u8]) -> Message {
    let msg = match Message::decode(body) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(%peer, "malformed request: {e}");
            return refuse(RefusalCode::Malformed, e.to_string());
        }
    };
    match msg {
        Message::DhtRequest(req) => {
            if let Some(t) = req.sender().time {
                shared.observe_clock(peer, t);
            }
            match shared.dht.handle_request(peer, remote, req).await {
                Ok(tacnode_domain::dht::DhtResponse::Refused(code)) => refuse(code, ""),
                Ok(resp) => Message::DhtResponse(resp),
                Err(_) => refuse(RefusalCode::Internal, "shutting down"),
            }
        }
        Message::PrekeyBundleRequest => match prekey_bundle(shared) {
            Ok(b) => Message::PrekeyBundle(b),
            Err(e) => {
                tracing::warn!("cannot hand out a prekey bundle: {e:#}");
                refuse(RefusalCode::Internal, "no prekeys")
            }
        },
        // Refused as a whole, and as "full", not "unreadable": the sender
        // keeps its session and retries later.
        Message::Direct(_) | Message::DirectBatch(_) if refuses_stranger(shared, &peer) => {
            refuse(RefusalCode::Quota, "too many unverified contacts")
        }
        Message::Direct(sealed) => match receive(shared, Some(peer), &sealed, false).await {
            Ok(_) => Message::DirectAck,
            Err(e) => {
                tracing::debug!(%peer, "direct message refused: {e:#}");
                refuse_delivery(&e)
            }
        },
        Message::DirectBatch(list) => match receive_batch(shared, peer, &list).await {
            Ok(refused) => Message::DirectBatchAck { refused },
            Err(e) => {
                tracing::warn!(%peer, "direct batch not stored: {e:#}");
                refuse_delivery(&e)
            }
        },
        Message::MailboxDeposit(d) => {
            if shared.node_type != NodeType::Server {
                return refuse(RefusalCode::Unsupported, "client nodes hold no mailboxes");
            }
            let t = shared.now();
            let max_expiry =
                t.saturating_add_millis(shared.config.mailbox.ttl_hours.saturating_mul(3_600_000));
            let expires = d.expires.min(max_expiry);
            let mut st = shared.state();
            match st.store.mailbox_deposit(
                &d.recipient,
                &MessageId(d.entry_id.0),
                &d.payload,
                expires,
                t,
            ) {
                Ok(_) => Message::MailboxDeposited { accepted: true },
                Err(
                    tacnode_store::StoreError::MailboxRecipientQuota { .. }
                    | tacnode_store::StoreError::MailboxTotalQuota { .. },
                ) => refuse(RefusalCode::Quota, "mailbox full"),
                Err(e) => refuse(RefusalCode::Malformed, e.to_string()),
            }
        }
        Message::MailboxChallengeRequest { recipient } => {
            let now = shared.now();
            let mut st = shared.state();
            let st = &mut *st;
            let nonce = st.challenges.issue(now, recipient, &mut st.rng);
            // Only the owner itself (TLS authenticated it) learns that its
            // mailbox is empty, and skips the signed fetch: most fetches
            // find nothing, and each costs a signature on both ends.
            let nothing_held = peer == recipient
                && st
                    .store
                    .mailbox_fetch(&recipient, now, 1)
                    .is_ok_and(|held| held.is_empty());
            Message::MailboxChallenge {
                nonce,
                nothing_held,
            }
        }
        Message::MailboxFetch(f) => {
            let mut st = shared.state();
            let t = shared.now();
            let holder = shared.node_id();
            if let Err(e) =
                st.challenges
                    .redeem(t, &holder, &f.recipient, MailboxOperation::Fetch, &f.proof)
            {
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
        Message::MailboxAck(a) => {
            let mut st = shared.state();
            let holder = shared.node_id();
            if let Err(e) = st.challenges.redeem(
                shared.now(),
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
        _ => refuse(RefusalCode::Unsupported, "not a request"),
    }
}

fn prekey_bundle(shared: &Shared) -> Result<tacnode_domain::e2e::PrekeyBundle> {
    let mut st = shared.state();
    let t = shared.now();
    // Never hand the same one-time prekey out twice while the first
    // initiator may still use it: a second one's first message could not
    // be opened (and would cost it a session restart).
    st.expire_handed_out(t);
    let otk = st
        .prekeys
        .one_time_prekeys()
        .iter()
        .map(|k| k.id)
        .find(|id| !st.handed_out.contains_key(id));
    let bundle = st.prekeys.bundle(&shared.identity, otk)?;
    if let Some(id) = otk {
        st.handed_out.insert(id, t);
        // On disk before the bundle leaves, so a restart keeps it.
        st.save_handed_out()?;
    }
    Ok(bundle)
}

/// `Some(count of unverified contacts)` when `sender` is a stranger (neither
/// a contact nor in a session) and strangers are at their cap. Every
/// stranger costs a contact, a session and inbox rows, and identities are
/// free to make, so strangers are capped.
fn stranger_over_cap(st: &mut super::State, sender: &NodeId) -> Result<Option<u64>> {
    if is_stranger(st, sender)? {
        let unverified = st.store.unverified_contact_count()?;
        if unverified >= MAX_UNVERIFIED_CONTACTS {
            return Ok(Some(unverified));
        }
    }
    Ok(None)
}

/// Neither a contact nor in a session with us.
fn is_stranger(st: &mut super::State, sender: &NodeId) -> Result<bool> {
    Ok(st.conversation(sender)?.is_none() && st.store.contact(sender)?.is_none())
}

/// Whether direct messages from `peer` are refused up front (a stranger over
/// the cap, or the check itself failed).
fn refuses_stranger(shared: &Shared, peer: &NodeId) -> bool {
    let mut st = shared.state();
    !matches!(stranger_over_cap(&mut st, peer), Ok(None))
}

/// What [`receive`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// A new text.
    Text(MessageId),
    /// A text already received (by id).
    Duplicate(MessageId),
    /// A receipt.
    Receipt,
    /// A message opened before (its key is used): accepted again.
    Replayed,
}

/// Opens a sealed message and acts on it. `from` is the authenticated
/// transport peer for direct delivery (it must be the sender), `None` for a
/// mailbox entry.
async fn receive(
    shared: &Arc<Shared>,
    from: Option<NodeId>,
    sealed: &SealedMessage,
    via_mailbox: bool,
) -> Result<Received> {
    receive_all(shared, from, std::slice::from_ref(sealed), via_mailbox)?
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(anyhow!("nothing received")))
}

/// Opens a direct batch from `from`; returns the indices of the messages
/// refused. Everything accepted is committed together before this returns.
async fn receive_batch(
    shared: &Arc<Shared>,
    from: NodeId,
    list: &[SealedMessage],
) -> Result<Vec<u32>> {
    let results = receive_all(shared, Some(from), list, false)?;
    let mut refused = Vec::new();
    for (i, r) in results.iter().enumerate() {
        if let Err(e) = r {
            tracing::debug!(peer = %from, index = i, "message of a batch refused: {e:#}");
            refused.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
    }
    Ok(refused)
}

/// What a batch of received messages changes outside the store; applied
/// only once the batch is committed.
#[derive(Default)]
struct Effects {
    events: Vec<NodeEvent>,
    /// Our messages the peer acknowledged.
    delivered: Vec<MessageId>,
    /// X3DH handshakes answered.
    handshakes: u64,
}

/// Opens every message of `list` and stores what they carry in one
/// transaction; once committed, emits the events and sends one receipt per
/// sender. The outer error means nothing was stored (the database failed,
/// or a stranger is over the cap); the inner ones are per message (it
/// could not be opened).
pub(crate) fn receive_all(
    shared: &Arc<Shared>,
    from: Option<NodeId>,
    list: &[SealedMessage],
    via_mailbox: bool,
) -> Result<Vec<Result<Received>>> {
    let t = shared.now();
    let mut effects = Effects::default();
    let mut receipts: Vec<(NodeId, Vec<MessageId>)> = Vec::new();
    let results = {
        let mut guard = shared.state();
        let results = guard.batch(|st| {
            let mut results = Vec::with_capacity(list.len());
            for sealed in list {
                match open_one(shared, st, from, sealed, via_mailbox, t, &mut effects) {
                    Ok((received, receipt)) => {
                        if let Some((sender, id)) = receipt {
                            match receipts.iter_mut().find(|(s, _)| *s == sender) {
                                Some((_, ids)) => ids.push(id),
                                None => receipts.push((sender, vec![id])),
                            }
                        }
                        results.push(Ok(received));
                    }
                    // Nothing of the batch is kept: the disk failed, or a
                    // stranger over the cap sent it directly (a direct batch
                    // has one sender). A mailbox batch mixes senders, so
                    // there a stranger's entry is refused on its own.
                    Err(e)
                        if e.chain().any(|c| {
                            c.is::<tacnode_store::StoreError>()
                                || (from.is_some() && c.is::<StrangerCapReached>())
                        }) =>
                    {
                        return Err(e);
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            Ok(results)
        })?;
        let st = &mut *guard;
        for id in &effects.delivered {
            st.delivery.forget(*id);
            st.sealed_outbox.remove(id);
        }
        results
    };
    shared
        .x3dh_sessions
        .fetch_add(effects.handshakes, std::sync::atomic::Ordering::Relaxed);
    for e in effects.events {
        shared.emit(e);
    }
    for (sender, ids) in receipts {
        for chunk in ids.chunks(tacnode_domain::MAX_RECEIPT_IDS) {
            // Beyond the limit receipts are skipped: the sender keeps the
            // messages as "sent", nothing is lost.
            let Ok(permit) = shared.receipt_tasks.clone().try_acquire_owned() else {
                break;
            };
            let shared = shared.clone();
            let ids = chunk.to_vec();
            tokio::spawn(async move {
                if let Err(e) = send_receipt(&shared, sender, ids).await {
                    tracing::debug!(%sender, "receipt not delivered: {e:#}");
                }
                drop(permit);
            });
        }
    }
    Ok(results)
}

/// Opens one message inside the caller's store batch. Returns what it was
/// and, for a text, the id to acknowledge to its sender.
fn open_one(
    shared: &Shared,
    st: &mut super::State,
    from: Option<NodeId>,
    sealed: &SealedMessage,
    via_mailbox: bool,
    t: tacnode_domain::UnixMillis,
    effects: &mut Effects,
) -> Result<(Received, Option<(NodeId, MessageId)>)> {
    let sender_key = sealed.sender_identity_key;
    let sender = NodeId::from_identity(&sender_key);
    if let Some(p) = from
        && p != sender
    {
        return Err(anyhow!(
            "sealed sender {sender} is not the connected peer {p}"
        ));
    }
    let stranger = is_stranger(st, &sender)?;
    if let Some(unverified) = stranger_over_cap(st, &sender)? {
        return Err(StrangerCapReached(unverified).into());
    }
    let existing = st.conversations.get_mut(&sender);
    let (opened, new) =
        match Conversation::open(existing, &shared.identity, &mut st.prekeys, sealed, t) {
            Ok(o) => o,
            // Opened before (the answer or the receipt was lost and the
            // sender tried again): accepted, nothing to do.
            Err(OpenError::Decrypt(DecryptError::Replay) | OpenError::ReplayedInitial) => {
                return Ok((Received::Replayed, None));
            }
            Err(e) => return Err(anyhow::Error::new(e).context("cannot open")),
        };
    let plaintext = decode_plaintext(&opened.plaintext).context("bad plaintext");
    // A stranger becomes known only through a text, which adds it as a
    // (capped) contact: no session is kept for anything else it sends.
    if stranger && !matches!(&plaintext, Ok(p) if matches!(p.content, Content::Text(_))) {
        bail!("a first message from a stranger must be a text");
    }
    // Pin (or compare) the device key only now: X3DH verified its
    // certificate, so a forged initial message cannot flag a contact.
    if let SealedBody::Initial(i) = &sealed.body
        && !st.check_pin(&sender, &i.device_key)?
    {
        flag_identity_change(st, &sender, i.device_key, &mut effects.events)?;
    }
    if let Some(c) = new {
        st.conversations.insert(sender, c);
    }
    st.save_conversation(&sender, t)?;
    if opened.new_session {
        st.save_prekeys(t)?;
        effects.handshakes += 1;
    }
    let plaintext = plaintext?;
    match plaintext.content {
        Content::Text(text) => {
            if st.store.contact(&sender)?.is_none() {
                let addr = PeerAddress::new(sender_key).to_string();
                st.store.add_contact(&Contact {
                    name: addr.chars().take(16).collect(),
                    node_id: sender,
                    identity_key: sender_key,
                    first_seen: t,
                    verified: false,
                    identity_changed: false,
                })?;
            }
            // Ordered by the sender's queue time (strictly increasing per
            // sender), so each sender's messages keep their order however
            // they arrived; a future time is clamped to now.
            let time = plaintext.sent.min(t);
            let id = plaintext.message_id;
            match st.store.insert_inbound(&sender, &id, &text, time)? {
                tacnode_store::InsertOutcome::Inserted => {
                    effects.events.push(NodeEvent::Received {
                        from: sender,
                        message_id: id,
                        text,
                        via_mailbox,
                    });
                    Ok((Received::Text(id), Some((sender, id))))
                }
                // Acknowledge again: the first receipt may have been lost.
                tacnode_store::InsertOutcome::AlreadyPresent => {
                    Ok((Received::Duplicate(id), Some((sender, id))))
                }
            }
        }
        Content::Receipt(ids) => {
            for id in ids {
                if st.store.mark_delivered(&sender, &id, t).is_ok() {
                    effects.delivered.push(id);
                    effects.events.push(NodeEvent::Delivered { message_id: id });
                }
            }
            Ok((Received::Receipt, None))
        }
    }
}

fn flag_identity_change(
    st: &mut super::State,
    sender: &NodeId,
    device_key: tacnode_domain::DhPublicKey,
    events: &mut Vec<NodeEvent>,
) -> Result<()> {
    if st.store.contact(sender)?.is_some() {
        st.store.flag_contact_key_change(sender)?;
    }
    st.set_pending_pin(sender, &device_key)?;
    tracing::warn!(peer = %sender, "the device key of a contact changed; sending to it is blocked until it is verified again");
    events.push(NodeEvent::IdentityChanged { node_id: *sender });
    Ok(())
}

/// Sends one end-to-end encrypted receipt for `ids` back to `peer`.
async fn send_receipt(shared: &Arc<Shared>, peer: NodeId, ids: Vec<MessageId>) -> Result<()> {
    let sealed = {
        let mut guard = shared.state();
        let st = &mut *guard;
        let t = shared.now();
        st.conversation(&peer)?;
        let conv = st
            .conversations
            .get_mut(&peer)
            .ok_or_else(|| anyhow!("no session"))?;
        let plaintext = super::plaintext_for(id_for_receipt(&mut st.rng), Content::Receipt(ids), t);
        let sealed = conv.seal(
            &mut st.rng,
            shared.identity.identity_key(),
            &encode_plaintext(&plaintext),
        )?;
        st.save_conversation(&peer, t)?;
        sealed
    };
    super::send::deliver_sealed(shared, peer, &sealed, true)
        .await
        .map(|_| ())
}

fn id_for_receipt(rng: &mut rand::rngs::StdRng) -> MessageId {
    let mut id = [0u8; tacnode_domain::MESSAGE_ID_LEN];
    rand_core::Rng::fill_bytes(rng, &mut id);
    MessageId(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(m: &Message) -> RefusalCode {
        match m {
            Message::Error { code, .. } => *code,
            other => panic!("not a refusal: {other:?}"),
        }
    }

    #[test]
    fn only_an_unreadable_message_is_refused_as_unauthorized() {
        // "Cannot open" is the one answer that makes the sender restart its
        // session: a full contact list or our own disk must not.
        let cap = anyhow::Error::new(StrangerCapReached(1000)).context("receiving");
        assert_eq!(code(&refuse_delivery(&cap)), RefusalCode::Quota);
        let disk = anyhow::Error::new(tacnode_store::StoreError::Io(std::io::Error::other(
            "disk full",
        )))
        .context("saving");
        assert_eq!(code(&refuse_delivery(&disk)), RefusalCode::Internal);
        let unreadable = anyhow::Error::new(OpenError::NoSession).context("cannot open");
        assert_eq!(
            code(&refuse_delivery(&unreadable)),
            RefusalCode::Unauthorized
        );
    }
}
