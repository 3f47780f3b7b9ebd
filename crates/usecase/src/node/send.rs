//! The delivery loop: turns the delivery queue's attempts into direct sends
//! and mailbox deposits, one recipient at a time so each peer receives our
//! messages in the order they were written.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tacnode_crypto::sealed_sender;
use tacnode_domain::dht::{Contact, RefusalCode};
use tacnode_domain::e2e::{PrekeyBundle, SealedMessage, SealedSender, SenderSealedMessage};
use tacnode_domain::mailbox::{EntryId, MailboxDeposit};
use tacnode_domain::{
    Content, MAX_DIRECT_BATCH, MessageId, MessageStatus, NodeId, PeerRecord, mailbox_key,
};
use tacnode_messaging::{Message, encode_mailbox_payload, encode_plaintext, encode_plaintext_with};
use tokio::sync::mpsc;

use super::state::SealedOutgoing;
use super::{NodeError, NodeEvent, Result, Shared};
use crate::conversation::Conversation;
use crate::delivery::{Attempt, Outcome};
use crate::lookup_region;
use crate::ports::CallError;
use tacnode_domain::StoreError;

/// Delivery lanes kept without pruning; beyond it, idle lanes end.
const MAX_LANES_KEPT: usize = 256;
/// Longest the loop sleeps without looking at the queue.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// Runs until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    // One worker per recipient, fed in queue order: a peer receives our
    // messages in the order they were written.
    let mut lanes: HashMap<NodeId, mpsc::UnboundedSender<Attempt>> = HashMap::new();
    let mut shutdown = shared.shutdown.clone();
    loop {
        let due = shared
            .with_state(|st, shared| {
                st.delivery.handle_timeout(shared.now());
                let mut a = Vec::new();
                while let Some(x) = st.delivery.poll() {
                    a.push(x);
                }
                Ok::<_, NodeError>((a, st.delivery.poll_timeout()))
            })
            .await;
        let Ok((attempts, next)) = due else {
            // The node is stopping.
            return;
        };
        for attempt in attempts {
            let recipient = match attempt {
                Attempt::Direct { recipient, .. } | Attempt::Deposit { recipient, .. } => recipient,
                Attempt::GiveUp { id } => {
                    give_up(&shared, id);
                    continue;
                }
            };
            let lane = lanes.entry(recipient).or_insert_with(|| {
                let (tx, mut rx) = mpsc::unbounded_channel::<Attempt>();
                let lane_shared = shared.clone();
                shared.spawn(async move {
                    let shared = lane_shared;
                    // Whatever queued up while the previous round was on
                    // the wire goes together: one batch, one commit.
                    let mut round = Vec::new();
                    while rx.recv_many(&mut round, MAX_DIRECT_BATCH).await > 0 {
                        attempt_round(&shared, recipient, std::mem::take(&mut round)).await;
                    }
                });
                tx
            });
            if let Err(e) = lane.send(attempt) {
                // The worker ended: start a new lane next time, and give the
                // attempt back to the queue so it is not left in flight.
                lanes.remove(&recipient);
                tracing::debug!(%recipient, "delivery lane closed");
                let (id, outcome) = match e.0 {
                    Attempt::Direct { id, .. } => (id, Outcome::DirectFailed),
                    Attempt::Deposit { id, .. } => (id, Outcome::DepositFailed),
                    Attempt::GiveUp { .. } => continue,
                };
                shared.post_state(move |st, shared| {
                    st.delivery
                        .handle_outcome(shared.now(), id, outcome, &mut st.rng);
                });
            }
        }
        if lanes.len() > MAX_LANES_KEPT {
            // A lane whose recipient has nothing pending (nothing queued,
            // nothing on the wire) ends; the next message starts a new one.
            let recipients: Vec<NodeId> = lanes.keys().copied().collect();
            let pending = shared
                .with_state(move |st, _| {
                    Ok::<_, NodeError>(
                        recipients
                            .into_iter()
                            .filter(|r| st.delivery.has_pending_for(r))
                            .collect::<std::collections::HashSet<NodeId>>(),
                    )
                })
                .await;
            if let Ok(pending) = pending {
                lanes.retain(|recipient, _| pending.contains(recipient));
            }
        }
        let wait = next
            .map(|t| Duration::from_millis(t.millis_since(shared.now())))
            .unwrap_or(MAX_IDLE)
            .min(MAX_IDLE);
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = shared.wake_delivery.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn give_up(shared: &Arc<Shared>, id: MessageId) {
    shared.post_state(move |st, shared| {
        st.sealed_outbox.remove(&id);
        let _ = st
            .store
            .mark_failed(&id, "not delivered before the give-up time", shared.now());
        shared.emit(NodeEvent::Failed {
            message_id: id,
            reason: "not delivered before the give-up time".into(),
        });
    });
}

/// One round of a lane: runs of direct attempts go as batches, deposits one
/// at a time, in queue order.
async fn attempt_round(shared: &Arc<Shared>, recipient: NodeId, round: Vec<Attempt>) {
    let mut direct = Vec::new();
    for attempt in round {
        match attempt {
            Attempt::Direct { id, .. } => direct.push(id),
            Attempt::Deposit { id, .. } => {
                attempt_direct(shared, recipient, std::mem::take(&mut direct)).await;
                let result = deliver_queued(shared, id, recipient, true).await;
                settle(shared, recipient, vec![(id, result)], true);
            }
            Attempt::GiveUp { .. } => {}
        }
    }
    attempt_direct(shared, recipient, direct).await;
}

/// Direct attempts for `ids`: one message goes as before, several as
/// batches that fit a frame.
async fn attempt_direct(shared: &Arc<Shared>, recipient: NodeId, ids: Vec<MessageId>) {
    if onion(shared) {
        // One packet per message, in order (a packet has no room for a
        // batch).
        for id in ids {
            let result = deliver_queued(shared, id, recipient, false).await;
            settle(shared, recipient, vec![(id, result)], false);
        }
        return;
    }
    match ids.as_slice() {
        [] => {}
        [id] => {
            let result = deliver_queued(shared, *id, recipient, false).await;
            settle(shared, recipient, vec![(*id, result)], false);
        }
        _ => {
            let results = deliver_batch(shared, recipient, ids).await;
            settle(shared, recipient, results, false);
        }
    }
}

/// Records the outcome of each attempt: the statuses in one store batch,
/// then (whatever the disk said) the delivery queue, so no attempt is left
/// in flight. When the batch failed every attempt counts as failed: the
/// disk still says queued, so they are retried and the recipient drops any
/// copy it already has.
fn settle(
    shared: &Arc<Shared>,
    recipient: NodeId,
    results: Vec<(MessageId, AttemptResult)>,
    deposit: bool,
) {
    // Queued, not awaited: whatever this lane does next reaches the state
    // after it.
    shared.post_state(move |st, shared| {
        if settle_in(st, shared, recipient, &results, deposit) {
            // A failure scheduled its retry for now (its recipient showed
            // up meanwhile): the delivery loop may be asleep until later.
            shared.wake_delivery.notify_one();
        }
    });
}

/// [`settle`] on the state; returns whether a retry is due now.
fn settle_in(
    st: &mut super::State,
    shared: &Shared,
    recipient: NodeId,
    results: &[(MessageId, AttemptResult)],
    deposit: bool,
) -> bool {
    let t = shared.now();
    let committed = st.batch(|st| {
        for (id, result) in results {
            match result {
                Ok(Handed::Mailbox) => {
                    st.store.mark_deposited(id, t)?;
                }
                // On its way through relays: it stays queued until its
                // receipt comes.
                Ok(Handed::Relayed) => {}
                // Handed to the recipient itself, which answered only
                // once the message was committed on its disk (TLS
                // authenticates the answer): that is delivery, and no
                // separate receipt is sent for it (one request less on the
                // air per message).
                Ok(Handed::Recipient) => {
                    st.store.mark_delivered(&recipient, id, t)?;
                }
                Err(e) => {
                    tracing::debug!(%recipient, message = %id, deposit, "delivery attempt failed: {e:#}");
                    // Counted and explained for the operator; the delivery
                    // queue alone decides what happens next.
                    st.store.record_send_failure(id, &e.reason(), t)?;
                }
            }
        }
        Ok(())
    });
    if let Err(e) = &committed {
        tracing::warn!(%recipient, "delivery status not stored, will retry: {e:#}");
    }
    for (id, result) in results {
        let accepted = committed.is_ok() && result.is_ok();
        let outcome = match (accepted, deposit, result) {
            (true, _, Ok(Handed::Relayed)) => Outcome::Relayed {
                wait_ms: super::onion::receipt_wait_ms(&shared.config),
            },
            (true, false, _) => Outcome::DirectAccepted,
            (true, true, _) => Outcome::Deposited,
            (false, false, _) => Outcome::DirectFailed,
            (false, true, _) => Outcome::DepositFailed,
        };
        st.delivery.handle_outcome(t, *id, outcome, &mut st.rng);
        // A relayed message keeps its ciphertext (and sealed sender) for
        // the next path, and is "sent" once its receipt says delivered.
        if let (true, Ok(handed @ (Handed::Recipient | Handed::Mailbox))) = (accepted, result) {
            let via_mailbox = *handed == Handed::Mailbox;
            st.sealed_outbox.remove(id);
            shared.emit(NodeEvent::Sent {
                message_id: *id,
                via_mailbox,
            });
            if !via_mailbox {
                shared.emit(NodeEvent::Delivered { message_id: *id });
            }
        }
    }
    // The recipient itself (only it can answer so over TLS) could not open
    // what we sent: its side of the session is gone. The next attempt
    // starts a new one.
    if results
        .iter()
        .any(|(_, r)| r.as_ref().is_err_and(AttemptError::unopenable))
        && st.restart_session(&recipient, t)
    {
        shared
            .session_restarts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(%recipient, "the recipient cannot open our messages; starting a new session");
    }
    st.delivery.poll_timeout().is_some_and(|due| due <= t)
}

/// Why a delivery attempt failed, as the decisions that follow need it
/// (restart the session? deposit instead?).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptError {
    /// The recipient itself answered with a refusal (only it can: TLS
    /// authenticates the answer). `Unauthorized` means it cannot open the
    /// message.
    #[error("the recipient refused ({code:?}): {detail}")]
    Refused {
        /// Why.
        code: RefusalCode,
        /// Detail.
        detail: String,
    },
    /// Anything else: the network, no session yet, our own disk (shared:
    /// one failure may stand for every message of a round).
    #[error("{0}")]
    Other(Arc<NodeError>),
}

impl From<NodeError> for AttemptError {
    fn from(e: NodeError) -> Self {
        AttemptError::Other(Arc::new(e))
    }
}

impl From<StoreError> for AttemptError {
    fn from(e: StoreError) -> Self {
        NodeError::from(e).into()
    }
}

impl From<AttemptError> for NodeError {
    fn from(e: AttemptError) -> Self {
        match e {
            AttemptError::Refused { code, detail } => NodeError::Refused { code, detail },
            AttemptError::Other(e) => NodeError::Shared(e),
        }
    }
}

impl From<CallError> for AttemptError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Refused { code, detail } => AttemptError::Refused { code, detail },
            other => NodeError::Network(other).into(),
        }
    }
}

/// Why a message to a contact whose keys changed waits (`tacnode outbox`).
pub(crate) const WAITING_FOR_VERIFICATION: &str =
    "waiting for key verification (tacnode contacts verify)";

impl AttemptError {
    /// Why the message waits, in an operator's words (shown by `tacnode
    /// outbox`), with the detail after a colon where it adds something.
    pub(crate) fn reason(&self) -> String {
        use tacnode_domain::dht::RefusalCode as C;
        let (why, detail) = match self {
            AttemptError::Refused {
                code: C::Unauthorized,
                detail,
            } => (
                "the recipient cannot open it: the session is being restarted",
                detail.clone(),
            ),
            AttemptError::Refused {
                code: C::Quota,
                detail,
            } => (
                "the recipient refused it for now (full, or too many unknown senders)",
                detail.clone(),
            ),
            AttemptError::Refused {
                code: C::Internal,
                detail,
            } => (
                "the recipient's storage failed; trying again later",
                detail.clone(),
            ),
            AttemptError::Refused { detail, .. } => ("the recipient refused it", detail.clone()),
            AttemptError::Other(e) => match &**e {
                NodeError::NoPublishedPrekeys(_) => (
                    "recipient never seen online: no published prekeys",
                    String::new(),
                ),
                NodeError::NoPeerRecord(_) => (
                    "recipient not found in the network (offline, or never joined)",
                    String::new(),
                ),
                NodeError::Network(CallError::Timeout) | NodeError::PeerSilent(_) => (
                    "the recipient did not answer (offline or out of reach)",
                    String::new(),
                ),
                NodeError::Network(CallError::Unreachable(d)) => {
                    ("recipient unreachable", d.clone())
                }
                NodeError::NoMailboxHolders | NodeError::NoHoldersReachable => {
                    ("no mailbox holders reachable", String::new())
                }
                NodeError::DepositRefused => {
                    ("the mailbox holders refused the deposit", String::new())
                }
                NodeError::KeysChanged(_) | NodeError::DeviceKeyChanged => {
                    (WAITING_FOR_VERIFICATION, String::new())
                }
                other => ("delivery failed", other.to_string()),
            },
        };
        if detail.is_empty() {
            why.to_owned()
        } else {
            format!("{why}: {detail}")
        }
    }

    /// The recipient says it cannot open the message: its side of the
    /// session is gone.
    fn unopenable(&self) -> bool {
        matches!(
            self,
            AttemptError::Refused {
                code: RefusalCode::Unauthorized,
                ..
            }
        )
    }

    /// The same failure, for another message of the same round.
    fn again(&self) -> AttemptError {
        match self {
            AttemptError::Refused { code, detail } => AttemptError::Refused {
                code: *code,
                detail: detail.clone(),
            },
            AttemptError::Other(e) => AttemptError::Other(e.clone()),
        }
    }
}

/// Who took a message an attempt handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handed {
    /// The recipient itself, which answered once it had stored it.
    Recipient,
    /// Mailbox holders.
    Mailbox,
    /// The first relay of an onion path: only a receipt will say it
    /// arrived.
    Relayed,
}

/// The outcome of one message's attempt.
type AttemptResult = std::result::Result<Handed, AttemptError>;

/// Whether this node sends through onion paths.
pub(super) fn onion(shared: &Shared) -> bool {
    shared.config.privacy.mode == super::PrivacyMode::Onion
}

/// Bytes of sealed messages one direct batch carries at most, estimated
/// from the text lengths: well inside a frame.
const DIRECT_BATCH_BUDGET: usize = tacnode_messaging::frame::MAX_FRAME_LEN / 2;
/// Generous estimate of a sealed message's size beyond its text (ratchet
/// header, X3DH header while unanswered, MAC, ids, protobuf tags).
const SEALED_OVERHEAD: usize = 1024;

/// Direct delivery of several queued messages to `recipient`: sealed under
/// one commit, sent as [`Message::DirectBatch`]es that fit a frame, in
/// order. Every id gets its own result.
async fn deliver_batch(
    shared: &Arc<Shared>,
    recipient: NodeId,
    ids: Vec<MessageId>,
) -> Vec<(MessageId, AttemptResult)> {
    let mut results = Vec::with_capacity(ids.len());
    let fail_all = |ids: &[MessageId], e: &AttemptError| -> Vec<(MessageId, AttemptResult)> {
        ids.iter().map(|id| (*id, Err(e.again()))).collect()
    };
    let (entries, ready, endpoints) = match queued_entries(shared, recipient, ids.clone()).await {
        Ok(e) => e,
        Err(e) => return fail_all(&ids, &e.into()),
    };
    if !ready && let Err(e) = ensure_session(shared, recipient, true).await {
        return fail_all(&ids, &e.into());
    }
    let mut rest = entries.as_slice();
    while !rest.is_empty() {
        // Take what fits the budget (at least one message).
        let mut bytes = 0usize;
        let mut n = 0usize;
        for (_, entry) in rest {
            let cost = entry
                .as_ref()
                .map_or(0, |e| e.message.text.len().saturating_add(SEALED_OVERHEAD));
            if n > 0 && bytes.saturating_add(cost) > DIRECT_BATCH_BUDGET {
                break;
            }
            bytes = bytes.saturating_add(cost);
            n += 1;
        }
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        let (chunk_results, failed) =
            deliver_chunk(shared, recipient, chunk, endpoints.clone()).await;
        results.extend(chunk_results);
        if let Some(e) = failed {
            // The peer is unreachable (or the disk failed): the rest would
            // fail the same way, after a lookup and a dial each, and could
            // overtake what failed.
            let ids: Vec<MessageId> = rest.iter().map(|(id, _)| *id).collect();
            results.extend(fail_all(&ids, &e));
            break;
        }
    }
    results
}

/// The outbox entries of `ids`; `None` for one no longer queued (already
/// sent or delivered: its attempt succeeds without sending).
/// The outbox entries of `ids` as [`queued_entries_in`] finds them, whether
/// a session with `recipient` is ready, and where it listens if known.
type Queued = (
    Vec<(MessageId, Option<tacnode_domain::OutboxEntry>)>,
    bool,
    Option<Vec<SocketAddr>>,
);

/// The outbox entries of `ids`, whether the session is ready and the
/// recipient's known endpoints, in one look at the state.
async fn queued_entries(
    shared: &Arc<Shared>,
    recipient: NodeId,
    ids: Vec<MessageId>,
) -> Result<Queued> {
    shared
        .with_state(move |st, _| {
            let entries = queued_entries_in(st, recipient, &ids)?;
            let ready = session_ready(st, &recipient)?;
            Ok((entries, ready, known_endpoints(st, &recipient)))
        })
        .await
}

/// The outbox entries of `ids`; `None` for one no longer queued. Refused
/// while the recipient's keys changed and are not verified again.
fn queued_entries_in(
    st: &super::State,
    recipient: NodeId,
    ids: &[MessageId],
) -> Result<Vec<(MessageId, Option<tacnode_domain::OutboxEntry>)>> {
    if let Some(c) = st.store.contact(&recipient)?
        && c.identity_changed
    {
        return Err(NodeError::KeysChanged(c.name));
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let entry = st.store.outbound(id)?.ok_or(NodeError::NotInOutbox)?;
        let queued = entry.delivery.status == MessageStatus::Queued;
        out.push((*id, queued.then_some(entry)));
    }
    Ok(out)
}

/// A session with `peer` exists and needs no restart.
fn session_ready(st: &mut super::State, peer: &NodeId) -> Result<bool> {
    Ok(!st.restarts.contains(peer) && st.conversation(peer)?.is_some())
}

/// Where `peer` listens, from the peer records in memory.
pub(super) fn known_endpoints(st: &super::State, peer: &NodeId) -> Option<Vec<SocketAddr>> {
    st.peers
        .get(peer)
        .map(|r| r.body.endpoints.iter().map(|e| e.0).collect())
}

/// Seals and sends one chunk. Returns each id's result and, when the whole
/// chunk failed (not a per-message refusal), why.
async fn deliver_chunk(
    shared: &Arc<Shared>,
    recipient: NodeId,
    chunk: &[(MessageId, Option<tacnode_domain::OutboxEntry>)],
    endpoints: Option<Vec<SocketAddr>>,
) -> (Vec<(MessageId, AttemptResult)>, Option<AttemptError>) {
    let sealed = match seal_chunk(shared, recipient, chunk.to_vec()).await {
        Ok(s) => s,
        Err(e) => {
            let e = AttemptError::from(e);
            let results = chunk.iter().map(|(id, _)| (*id, Err(e.again()))).collect();
            return (results, Some(e));
        }
    };
    let sent: Vec<(MessageId, bool)> = sealed.iter().map(|(id, s)| (*id, s.is_some())).collect();
    let sending: Vec<SealedMessage> = sealed.into_iter().filter_map(|(_, s)| s).collect();
    let answer = if sending.is_empty() {
        Ok(Vec::new())
    } else {
        direct_batch(shared, recipient, sending, endpoints).await
    };
    match answer {
        Ok(refused) => {
            let results = batch_results(&sent, &refused)
                .into_iter()
                .map(|(id, accepted)| {
                    let result = if accepted {
                        Ok(Handed::Recipient)
                    } else {
                        Err(AttemptError::Refused {
                            code: RefusalCode::Unauthorized,
                            detail: "the recipient could not open it".into(),
                        })
                    };
                    (id, result)
                })
                .collect();
            (results, None)
        }
        Err(e) => {
            let results = sent
                .into_iter()
                .map(|(id, was_sent)| {
                    // One no longer queued needed no sending.
                    let result = if was_sent {
                        Err(e.again())
                    } else {
                        Ok(Handed::Recipient)
                    };
                    (id, result)
                })
                .collect();
            (results, Some(e))
        }
    }
}

/// Maps a batch answer back to the messages: `sent` lists every id of the
/// chunk and whether it went in the batch (indices count only those that
/// did); `refused` holds the batch indices the recipient refused. Returns
/// each id with whether it is accepted (an id that needed no sending is).
fn batch_results(sent: &[(MessageId, bool)], refused: &[u32]) -> Vec<(MessageId, bool)> {
    let mut index = 0u32;
    sent.iter()
        .map(|(id, was_sent)| {
            if !was_sent {
                return (*id, true);
            }
            let accepted = !refused.contains(&index);
            index = index.saturating_add(1);
            (*id, accepted)
        })
        .collect()
}

/// Seals every queued message of `chunk` not sealed yet, then commits the
/// ratchet once: the ciphertexts exist only after their ratchet state is on
/// disk.
async fn seal_chunk(
    shared: &Arc<Shared>,
    recipient: NodeId,
    chunk: Vec<(MessageId, Option<tacnode_domain::OutboxEntry>)>,
) -> Result<Vec<(MessageId, Option<SealedMessage>)>> {
    shared
        .with_state(move |st, shared| seal_in(st, shared, recipient, &chunk))
        .await
}

/// [`seal_chunk`] on the state.
fn seal_in(
    st: &mut super::State,
    shared: &Shared,
    recipient: NodeId,
    chunk: &[(MessageId, Option<tacnode_domain::OutboxEntry>)],
) -> Result<Vec<(MessageId, Option<SealedMessage>)>> {
    let (out, fresh) = st.batch(|st| {
        st.conversation(&recipient)?;
        let mut out = Vec::with_capacity(chunk.len());
        let mut fresh = Vec::new();
        for (id, entry) in chunk {
            let Some(entry) = entry else {
                out.push((*id, None));
                continue;
            };
            if let Some(o) = st.sealed_outbox.get(id) {
                out.push((*id, Some(o.sealed.clone())));
                continue;
            }
            let (peer, device) = {
                let conv = st
                    .conversations
                    .get(&recipient)
                    .ok_or(NodeError::NoSession(recipient))?;
                (conv.remote_identity(), conv.remote_device_key())
            };
            let plaintext = tacnode_domain::Plaintext {
                message_id: *id,
                sent: entry.message.time,
                content: Content::Text(entry.message.text.clone()),
            };
            // A text's id is derived by both ends: it is left out when it
            // is the one derived in this session.
            let derived = st.text_id(
                &shared.identity,
                (&peer, &device),
                true,
                plaintext.sent,
                &entry.message.text,
            );
            let encoded = match derived {
                Some(d) => encode_plaintext_with(&plaintext, |_, _| d),
                None => encode_plaintext(&plaintext),
            };
            let conv = st
                .conversations
                .get_mut(&recipient)
                .ok_or(NodeError::NoSession(recipient))?;
            let sealed = conv.seal(&mut st.rng, shared.identity.identity_key(), &encoded)?;
            fresh.push((*id, sealed.clone()));
            out.push((*id, Some(sealed)));
        }
        st.save_conversation(&recipient, shared.now())?;
        Ok((out, fresh))
    })?;
    // Cached only once their ratchet step is on disk.
    for (id, sealed) in fresh {
        st.sealed_outbox.insert(
            id,
            SealedOutgoing {
                recipient,
                sealed,
                sealed_sender: None,
            },
        );
    }
    Ok(out)
}

/// Sends a batch straight to `peer`; the indices it refused. A peer that
/// does not know batches (it refuses the request as malformed or
/// unsupported) gets the messages one by one, in order, stopping at the
/// first that fails.
async fn direct_batch(
    shared: &Arc<Shared>,
    peer: NodeId,
    batch: Vec<SealedMessage>,
    endpoints: Option<Vec<SocketAddr>>,
) -> std::result::Result<Vec<u32>, AttemptError> {
    let addrs = match endpoints {
        Some(known) => known,
        None => endpoints_of(shared, peer).await?,
    };
    let request = Message::DirectBatch(batch);
    match call_recipient(shared, peer, &addrs, &request).await {
        Ok(Message::DirectBatchAck { refused }) => {
            shared
                .direct_batches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(refused)
        }
        Ok(other) => Err(NodeError::unexpected(peer, &other).into()),
        Err(NodeError::Network(CallError::Refused {
            code: RefusalCode::Malformed | RefusalCode::Unsupported,
            ..
        })) => {
            let Message::DirectBatch(batch) = request else {
                return Ok(Vec::new());
            };
            let mut refused = Vec::new();
            for (i, sealed) in batch.iter().enumerate() {
                match direct(shared, peer, sealed, Some(addrs.clone())).await {
                    Ok(()) => {}
                    Err(e) if e.unopenable() => {
                        refused.push(u32::try_from(i).unwrap_or(u32::MAX));
                    }
                    // Order: what follows must not overtake this one.
                    Err(e) => return Err(e),
                }
            }
            Ok(refused)
        }
        Err(e) => Err(call_failed(shared, peer, e)),
    }
}

/// One attempt. A mailbox attempt still tries the recipient directly (or
/// through relays) first: it may be back. Through relays, a direct attempt
/// ends when the first relay took the message.
async fn deliver_queued(
    shared: &Arc<Shared>,
    id: MessageId,
    recipient: NodeId,
    deposit: bool,
) -> AttemptResult {
    // One look at the state: the entry, its ciphertext if made before (or
    // made now when the session is ready: the common case), and where the
    // recipient listens.
    let prepared = shared
        .with_state(move |st, shared| -> Result<_> {
            let Some((_, Some(entry))) = queued_entries_in(st, recipient, &[id])?.pop() else {
                return Ok(None);
            };
            let mut sealed = st.sealed_outbox.get(&id).map(|o| o.sealed.clone());
            if sealed.is_none() && session_ready(st, &recipient)? {
                sealed = seal_in(st, shared, recipient, &[(id, Some(entry.clone()))])?
                    .pop()
                    .and_then(|(_, s)| s);
            }
            Ok(Some((entry, sealed, known_endpoints(st, &recipient))))
        })
        .await?;
    // No longer queued (sent or delivered meanwhile): nothing to send.
    let Some((entry, sealed, endpoints)) = prepared else {
        return Ok(Handed::Recipient);
    };
    let sealed = match sealed {
        Some(s) => s,
        None => seal_queued(shared, id, recipient, &entry, deposit).await?,
    };
    if onion(shared) {
        if deposit {
            // The onion attempts were the direct ones: a packet to a
            // recipient that is away dies at its last relay, unseen.
            match deposit_sealed(shared, recipient, &sealed, Some(id)).await {
                Ok(()) => return Ok(Handed::Mailbox),
                // Too long to deposit through relays (a deposit carries
                // more than mail): it keeps going to the recipient
                // instead, until its receipt comes or it is given up.
                Err(NodeError::OnionPacket(
                    tacnode_crypto::sphinx::CreateError::PayloadTooLong { .. },
                )) => {}
                Err(e) => return Err(e.into()),
            }
        }
        super::onion::send(shared, recipient, &sealed, Some(id)).await?;
        return Ok(Handed::Relayed);
    }
    deliver_sealed(shared, recipient, &sealed, deposit, endpoints, Some(id))
        .await
        .map(|to_mailbox| {
            if to_mailbox {
                Handed::Mailbox
            } else {
                Handed::Recipient
            }
        })
}

async fn seal_queued(
    shared: &Arc<Shared>,
    id: MessageId,
    recipient: NodeId,
    entry: &tacnode_domain::OutboxEntry,
    deposit: bool,
) -> Result<SealedMessage> {
    // Through relays, the bundle comes from the DHT: fetching it from the
    // recipient would tell the network who is about to write to it.
    ensure_session(shared, recipient, !deposit && !onion(shared)).await?;
    seal_chunk(shared, recipient, vec![(id, Some(entry.clone()))])
        .await?
        .pop()
        .and_then(|(_, sealed)| sealed)
        .ok_or(NodeError::NotInOutbox)
}

/// Hands `sealed` to `peer` directly, or (with `fallback`) deposits it in its
/// mailboxes. Returns true when it went to mailboxes. `queued` names the
/// outbox message it is, whose sealed sender is kept for its retries.
pub(crate) async fn deliver_sealed(
    shared: &Arc<Shared>,
    peer: NodeId,
    sealed: &SealedMessage,
    fallback: bool,
    endpoints: Option<Vec<SocketAddr>>,
    queued: Option<MessageId>,
) -> std::result::Result<bool, AttemptError> {
    if onion(shared) {
        // Whether the packet arrives only a receipt could say, and this
        // content has none: with `fallback` it is also deposited, so a
        // recipient that is away finds it in its mailboxes.
        let relayed = super::onion::send(shared, peer, sealed, queued).await;
        if let Err(e) = &relayed {
            tracing::debug!(%peer, "onion delivery failed ({e:#})");
        }
        if fallback {
            match deposit_sealed(shared, peer, sealed, queued).await {
                Ok(()) => return Ok(true),
                // Not deposited (too long for a deposit through relays,
                // no holder found): what the relays took stands.
                Err(e) if relayed.is_ok() => {
                    tracing::debug!(%peer, "not deposited ({e:#}); relayed only");
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Not to mailboxes: on its way to the recipient itself.
        return relayed.map(|()| false).map_err(AttemptError::from);
    }
    match direct(shared, peer, sealed, endpoints).await {
        Ok(()) => Ok(false),
        // The recipient itself refused the message: a mailbox copy would be
        // refused the same way when fetched.
        Err(e @ AttemptError::Refused { .. }) => Err(e),
        Err(e) if fallback => {
            tracing::debug!(%peer, "direct delivery failed ({e:#}), depositing");
            Ok(deposit_sealed(shared, peer, sealed, queued)
                .await
                .map(|()| true)?)
        }
        Err(e) => Err(e),
    }
}

async fn direct(
    shared: &Arc<Shared>,
    peer: NodeId,
    sealed: &SealedMessage,
    endpoints: Option<Vec<SocketAddr>>,
) -> std::result::Result<(), AttemptError> {
    let addrs = match endpoints {
        Some(known) => known,
        None => endpoints_of(shared, peer).await?,
    };
    match call_recipient(shared, peer, &addrs, &Message::Direct(sealed.clone())).await {
        Ok(Message::DirectAck) => Ok(()),
        Ok(other) => Err(NodeError::unexpected(peer, &other).into()),
        Err(e) => Err(call_failed(shared, peer, e)),
    }
}

/// Calls the recipient `peer` with `request`, probed, as
/// [`super::relay::call`] does: through its relay when it has one and no
/// connection is open (a dial into its NAT would only wait out the
/// handshake timeout), or when the open one no longer answers.
async fn call_recipient(
    shared: &Arc<Shared>,
    peer: NodeId,
    addrs: &[SocketAddr],
    request: &Message,
) -> Result<Message> {
    let route = super::relay::route_to(shared, peer).await;
    let through = |relay| async move {
        super::relay::call_through(shared, peer, relay, request)
            .await
            .map_err(NodeError::Network)
    };
    if let (Some(relay), false) = (route.relay, route.connected) {
        return through(relay).await;
    }
    let direct = super::probe::call_probed(shared, peer, addrs, request).await;
    if !route.connected {
        return direct;
    }
    // Over the open connection (a punched one): when it no longer answers
    // (an address changed, and a NAT drops what comes the old way), through
    // the relay at once. The probe found it silent (and closed it), or,
    // when the call failed before its probe, a ping must go unanswered: a
    // slow call is no reason to leave a connection that works.
    let dead = match &direct {
        Err(NodeError::PeerSilent(_)) => true,
        Err(NodeError::Network(e)) if nobody_answered(e) => {
            !super::probe::still_answers(shared, peer).await
        }
        _ => false,
    };
    if !dead {
        return direct;
    }
    shared.net.forget(peer);
    // Its record first when we do not hold it (a peer reached over a
    // punched connection may never have been looked up).
    let relay = match route.relay {
        Some(relay) => Some(relay),
        None => {
            let _ = resolve_peer(shared, peer).await;
            super::relay::route_to(shared, peer).await.relay
        }
    };
    match relay {
        Some(relay) => {
            tracing::debug!(%peer, "its connection no longer answers: through its relay");
            through(relay).await
        }
        None => direct,
    }
}

/// A direct delivery's call failed: the attempt's error. Unless the peer
/// refused (it answered), it may have moved: its record is looked up again
/// next time.
fn call_failed(shared: &Arc<Shared>, peer: NodeId, e: NodeError) -> AttemptError {
    match e {
        NodeError::Network(CallError::Refused { code, detail }) => {
            AttemptError::Refused { code, detail }
        }
        other => {
            let silent = match &other {
                NodeError::PeerSilent(_) => true,
                NodeError::Network(e) => nobody_answered(e),
                _ => false,
            };
            shared.post_state(move |st, _| {
                if silent {
                    st.peer_unanswered(peer);
                } else {
                    st.peers.remove(&peer);
                }
            });
            other.into()
        }
    }
}

/// Deposits at the `mailbox.replicas` server nodes closest to the mailbox
/// key; succeeds when at least one holder accepted (through relays: when
/// a first relay took at least one copy). The payload names no sender: it
/// goes sealed to the recipient's device key.
pub(crate) async fn deposit_sealed(
    shared: &Arc<Shared>,
    recipient: NodeId,
    sealed: &SealedMessage,
    queued: Option<MessageId>,
) -> Result<()> {
    let sealed = sealed.clone();
    let (payload, entry_id) = shared
        .with_state(move |st, _| {
            let sealed_sender = sealed_sender_for(st, recipient, &sealed, queued)?;
            let payload = encode_mailbox_payload(&SenderSealedMessage {
                sealed_sender,
                body: sealed.anonymous_body(),
            });
            let mut entry_id = [0u8; 16];
            rand_core::Rng::fill_bytes(&mut st.rng, &mut entry_id);
            Ok::<_, NodeError>((payload, entry_id))
        })
        .await?;
    let expires = shared
        .now()
        .saturating_add_millis(shared.config.mailbox.ttl_hours.saturating_mul(3_600_000));
    let deposit = MailboxDeposit {
        recipient,
        entry_id: EntryId(entry_id),
        payload,
        expires,
    };
    if onion(shared) {
        // Through relays, one path per holder: a holder that took the
        // deposit from us would see who writes to whom.
        return super::onion::deposit(shared, &deposit).await;
    }
    let holders = mailbox_holders(shared, recipient).await?;
    if holders.is_empty() {
        return Err(NodeError::NoMailboxHolders);
    }
    let msg = Message::MailboxDeposit(deposit);
    let mut tasks = tokio::task::JoinSet::new();
    for h in holders {
        let shared = shared.clone();
        let msg = msg.clone();
        tasks.spawn(async move {
            let addrs: Vec<SocketAddr> = h.endpoints.iter().map(|e| e.0).collect();
            matches!(
                shared.net.call(h.node_id, &addrs, &msg).await,
                Ok(Message::MailboxDeposited { accepted: true })
            )
        });
    }
    let mut accepted = 0usize;
    while let Some(r) = tasks.join_next().await {
        if matches!(r, Ok(true)) {
            accepted += 1;
        }
    }
    if accepted == 0 {
        return Err(NodeError::DepositRefused);
    }
    tracing::debug!(%recipient, accepted, "deposited in mailboxes");
    Ok(())
}

/// The sender of `sealed` sealed to `recipient`'s device key: the one made
/// at the first deposit of the queued message `queued` (so a retry deposits
/// the same bytes), else a new one, kept for the next retry while `sealed`
/// is still that message's ciphertext.
pub(super) fn sealed_sender_for(
    st: &mut super::State,
    recipient: NodeId,
    sealed: &SealedMessage,
    queued: Option<MessageId>,
) -> Result<SealedSender> {
    let cached = queued
        .and_then(|id| st.sealed_outbox.get(&id))
        .filter(|o| o.sealed == *sealed);
    if let Some(made) = cached.and_then(|o| o.sealed_sender.clone()) {
        return Ok(made);
    }
    let device_key = st
        .conversation(&recipient)?
        .ok_or(NodeError::NoSession(recipient))?
        .remote_device_key();
    let made = sealed_sender::seal(&mut st.rng, &device_key, sealed)?.sealed_sender;
    if let Some(o) = queued
        .and_then(|id| st.sealed_outbox.get_mut(&id))
        .filter(|o| o.sealed == *sealed)
    {
        o.sealed_sender = Some(made.clone());
    }
    Ok(made)
}

/// The server nodes that hold `recipient`'s mailbox (excluding the
/// recipient itself, which cannot hold its own mail while offline).
pub(crate) async fn mailbox_holders(shared: &Shared, recipient: NodeId) -> Result<Vec<Contact>> {
    let key = mailbox_key(&recipient);
    let mut closest = shared.dht.closest(key).await?;
    closest.retain(|c| c.node_id != recipient);
    closest.truncate(shared.config.mailbox.replicas);
    Ok(closest)
}

/// The server nodes of our routing table, not us nor one of `avoid`.
pub(crate) async fn routing_servers(shared: &Shared, avoid: &[NodeId]) -> Result<Vec<NodeId>> {
    Ok(routing_server_entries(shared)
        .await?
        .into_iter()
        .filter(|e| !avoid.contains(&e.node_id))
        .map(|e| e.node_id)
        .collect())
}

/// The server nodes of our routing table but us, with their endpoints.
pub(crate) async fn routing_server_entries(
    shared: &Shared,
) -> Result<Vec<tacnode_domain::store::RoutingEntry>> {
    let me = shared.node_id();
    Ok(shared
        .dht
        .routing_snapshot()
        .await?
        .into_iter()
        .filter(|e| e.node_type == tacnode_domain::NodeType::Server && e.node_id != me)
        .collect())
}

/// The server nodes around `key` (someone's mailbox key or prekey key),
/// closest first, not `owner` (whose key it is), found without naming the
/// key: a lookup of a random key of its region ([`crate::lookup_region`]),
/// whose answer holds the whole region. A lookup of the key itself would
/// tell every node it asks who is about to write to whom.
pub(crate) async fn region_answer(
    shared: &Arc<Shared>,
    key: NodeId,
    owner: NodeId,
) -> Result<Vec<Contact>> {
    let me = shared.node_id();
    let servers = routing_servers(shared, &[]).await?;
    let k = shared.config.dht.k;
    let bits =
        lookup_region::region_bits(lookup_region::network_size_estimate(&me, &servers, k), k);
    let target = shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(lookup_region::region_target(&key, bits, &mut st.rng))
        })
        .await?;
    let mut answer = shared.dht.closest(target).await?;
    answer.retain(|c| c.node_id != owner);
    answer.sort_by_key(|c| key.distance(&c.node_id));
    Ok(answer)
}

/// Where `peer` listens: its peer record from memory; else, while a
/// connection to it is open, the address it answers at there (a call goes
/// over that connection whatever the addresses, so no lookup is needed);
/// else the addresses the pre-shared peer list and our routing table hold
/// for it, unless it did not answer there ([`State::peer_unanswered`]): on a
/// radio a lookup costs seconds, and at a cold start, before anyone has
/// published, it finds nothing anyway; else its record from the DHT, and
/// when the DHT has none yet (a peer that has only just joined publishes it
/// after its join), those local addresses after all. Any address is only
/// where to dial: the handshake authenticates whoever answers.
///
/// [`State::peer_unanswered`]: super::State::peer_unanswered
pub(crate) async fn endpoints_of(shared: &Arc<Shared>, peer: NodeId) -> Result<Vec<SocketAddr>> {
    let (known, unanswered) = shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>((
                st.peers
                    .get(&peer)
                    .map(|r| r.body.endpoints.iter().map(|e| e.0).collect::<Vec<_>>()),
                st.unanswered.contains(&peer),
            ))
        })
        .await?;
    if let Some(endpoints) = known {
        return Ok(endpoints);
    }
    if let Some(connection) = shared
        .net
        .connections()
        .into_iter()
        .find(|c| c.peer == peer)
    {
        return Ok(vec![connection.remote]);
    }
    if !unanswered {
        let local = local_endpoints(shared, peer).await?;
        if !local.is_empty() {
            tracing::debug!(%peer, "dialling it where the peer list or the routing table has it");
            return Ok(local);
        }
    }
    match resolve_peer(shared, peer).await {
        Ok(record) => Ok(record.body.endpoints.iter().map(|e| e.0).collect()),
        Err(NodeError::NoPeerRecord(_)) => {
            let local = local_endpoints(shared, peer).await?;
            if local.is_empty() {
                return Err(NodeError::NoPeerRecord(peer));
            }
            tracing::debug!(%peer, "no peer record yet: dialling it where the peer list or the routing table has it");
            Ok(local)
        }
        Err(e) => Err(e),
    }
}

/// The addresses the routing table and the pre-shared peer list hold for
/// `peer`, without duplicates: the routing table's first, as they are
/// where the peer last answered (dials try the addresses in order, each for
/// up to the handshake timeout).
async fn local_endpoints(shared: &Arc<Shared>, peer: NodeId) -> Result<Vec<SocketAddr>> {
    let mut local: Vec<SocketAddr> = shared
        .dht
        .routing_snapshot()
        .await?
        .into_iter()
        .filter(|e| e.node_id == peer)
        .flat_map(|e| e.endpoints.into_iter().map(|a| a.0))
        .collect();
    let listed = shared
        .config
        .bootstrap
        .iter()
        .filter(|p| p.address.node_id() == peer);
    for p in listed {
        if !local.contains(&p.endpoint) {
            local.push(p.endpoint);
        }
    }
    Ok(local)
}

pub(super) async fn resolve_peer(shared: &Arc<Shared>, peer: NodeId) -> Result<PeerRecord> {
    let record = shared
        .dht
        .find_peer(peer)
        .await?
        .ok_or(NodeError::NoPeerRecord(peer))?;
    let kept = record.clone();
    shared.post_state(move |st, _| {
        st.unanswered.remove(&peer);
        let newer = st
            .peers
            .get(&peer)
            .is_none_or(|old| old.body.sequence < kept.body.sequence);
        if newer {
            st.peers.insert(peer, kept);
        }
    });
    Ok(record)
}

/// Makes sure a usable session with `peer` exists: X3DH with a bundle
/// fetched from the peer itself (`direct`), else with its prekeys published
/// in the DHT. Also restarts a session the peer lost
/// ([`super::State::restart_session`]).
pub(crate) async fn ensure_session(shared: &Arc<Shared>, peer: NodeId, direct: bool) -> Result<()> {
    let expected = shared
        .with_state(move |st, _| {
            if !st.restarts.contains(&peer) && st.conversation(&peer)?.is_some() {
                return Ok(None);
            }
            super::known_identity(st, &peer)
                .map(Some)
                .ok_or(NodeError::UnknownIdentity(peer))
        })
        .await?;
    let Some(expected) = expected else {
        return Ok(());
    };
    let bundle = if direct {
        match fetch_bundle(shared, peer).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(%peer, "prekey bundle from the peer failed ({e:#}); trying the DHT copy");
                published_bundle(shared, peer).await?
            }
        }
    } else {
        published_bundle(shared, peer).await?
    };
    if bundle.identity_key != expected {
        return Err(NodeError::BundleIdentity);
    }
    // Every signature in the bundle is checked before its device key is
    // compared with the pin: a forged bundle must not flag the contact or
    // become the pending pin.
    tacnode_crypto::prekey::verify_bundle(&bundle)?;
    shared
        .with_state(move |st, shared| start_session(st, shared, peer, &bundle))
        .await
}

/// Pins (or checks) the device key of `bundle` and starts (or restarts) the
/// session with `peer` from it, committed before it is used.
fn start_session(
    st: &mut super::State,
    shared: &Shared,
    peer: NodeId,
    bundle: &PrekeyBundle,
) -> Result<()> {
    if !st.check_pin(&peer, &bundle.device_key)? {
        st.store.flag_contact_key_change(&peer)?;
        st.set_pending_pin(&peer, &bundle.device_key)?;
        shared.emit(NodeEvent::IdentityChanged { node_id: peer });
        return Err(NodeError::DeviceKeyChanged);
    }
    let restart = st.restarts.contains(&peer);
    st.conversation(&peer)?;
    match st.conversations.get_mut(&peer) {
        Some(conv) if restart => conv.restart(&mut st.rng, &shared.identity, bundle)?,
        // Another task made one meanwhile.
        Some(_) => return Ok(()),
        None => {
            let conv = Conversation::initiate(&mut st.rng, &shared.identity, bundle)?;
            st.conversations.insert(peer, conv);
        }
    }
    // A failed save drops the cached session: memory never runs ahead.
    st.batch(|st| st.save_conversation(&peer, shared.now()))?;
    st.restarts.remove(&peer);
    shared
        .x3dh_sessions
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

async fn fetch_bundle(shared: &Arc<Shared>, peer: NodeId) -> Result<PrekeyBundle> {
    let addrs = endpoints_of(shared, peer).await?;
    match super::relay::call(shared, peer, &addrs, &Message::PrekeyBundleRequest).await {
        Ok(Message::PrekeyBundle(b)) => Ok(b),
        Ok(other) => Err(NodeError::unexpected(peer, &other)),
        Err(e) => {
            unanswered_call(shared, peer, &e);
            Err(e.into())
        }
    }
}

/// A call to `peer` at the addresses [`endpoints_of`] gave failed with `e`:
/// when nobody answered there, it may have moved
/// ([`super::State::peer_unanswered`]).
pub(crate) fn unanswered_call(shared: &Arc<Shared>, peer: NodeId, e: &CallError) {
    if nobody_answered(e) {
        shared.post_state(move |st, _| st.peer_unanswered(peer));
    }
}

/// Whether a call failed because nobody answered at the addresses we had
/// (or over the connection we had: a NAT no longer lets it through after
/// an address change).
pub(crate) fn nobody_answered(e: &CallError) -> bool {
    matches!(e, CallError::Timeout | CallError::Unreachable(_))
}

/// `peer`'s published prekeys as a bundle (no one-time prekey). With onion
/// routing on they are asked of a holder through relays, never looked up
/// (a lookup would tell the nodes it asks who is about to write to whom):
/// when that fails, so does this attempt, and the next retries.
async fn published_bundle(shared: &Arc<Shared>, peer: NodeId) -> Result<PrekeyBundle> {
    let p = if onion(shared) {
        super::onion::fetch_prekeys(shared, peer).await?
    } else {
        shared
            .dht
            .find_prekeys(peer)
            .await?
            .ok_or(NodeError::NoPublishedPrekeys(peer))?
    };
    if NodeId::from_identity(&p.identity_key) != peer {
        return Err(NodeError::BundleIdentity);
    }
    tacnode_crypto::prekey::verify_published(&p)?;
    Ok(PrekeyBundle {
        identity_key: p.identity_key,
        device_key: p.device_key,
        device_key_signature: p.device_key_signature,
        signed_prekey: p.signed_prekey,
        one_time_prekey: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers_map_to_the_messages_that_were_sent() {
        let id = |n: u8| MessageId([n; 16]);
        // 1 and 3 were no longer queued: they were not in the batch, so the
        // batch indices are 0 -> id 0, 1 -> id 2, 2 -> id 4.
        let sent = [
            (id(0), true),
            (id(1), false),
            (id(2), true),
            (id(3), false),
            (id(4), true),
        ];
        assert_eq!(
            batch_results(&sent, &[1]),
            vec![
                (id(0), true),
                (id(1), true),
                (id(2), false),
                (id(3), true),
                (id(4), true)
            ]
        );
        // Out-of-range indices from a confused peer refuse nothing.
        assert!(
            batch_results(&sent, &[7, u32::MAX])
                .iter()
                .all(|(_, ok)| *ok)
        );
        assert!(
            batch_results(&sent, &[0, 1, 2])
                .iter()
                .all(|(i, ok)| *ok == (i.0[0] % 2 == 1))
        );
    }
}

#[cfg(test)]
mod sealed_sender_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tacnode_crypto::Identity;
    use tacnode_crypto::prekey::PrekeyState;
    use tacnode_domain::UnixMillis;
    use tacnode_store::MemoryStore;

    use super::*;
    use crate::delivery::{DeliveryConfig, DeliveryQueue};

    /// Retries of a queued message deposit the same sealed sender; anything
    /// else (a receipt, a ciphertext made again) gets a box of its own.
    #[test]
    fn a_queued_message_keeps_its_sealed_sender_for_every_deposit() {
        let mut rng = StdRng::seed_from_u64(9);
        let alice = Identity::generate(&mut rng);
        let bob = Identity::generate(&mut rng);
        let bob_prekeys = PrekeyState::new(&mut rng, &bob, UnixMillis(1));
        let prekeys = PrekeyState::new(&mut rng, &alice, UnixMillis(1));
        let mut st = super::super::State::new(
            Box::new(MemoryStore::new()),
            prekeys,
            DeliveryQueue::new(DeliveryConfig::default()),
            StdRng::seed_from_u64(10),
            HashMap::new(),
        );
        let to = bob.node_id();
        let bundle = bob_prekeys.bundle(&bob, None).unwrap();
        let mut conv = Conversation::initiate(&mut rng, &alice, &bundle).unwrap();
        let first = conv.seal(&mut rng, alice.identity_key(), b"one").unwrap();
        let again = conv.seal(&mut rng, alice.identity_key(), b"one").unwrap();
        st.conversations.insert(to, conv);
        let id = MessageId([1; 16]);
        st.sealed_outbox.insert(
            id,
            SealedOutgoing {
                recipient: to,
                sealed: first.clone(),
                sealed_sender: None,
            },
        );
        let one = sealed_sender_for(&mut st, to, &first, Some(id)).unwrap();
        let two = sealed_sender_for(&mut st, to, &first, Some(id)).unwrap();
        assert_eq!(one, two);
        // It is sealed to Bob and names Alice.
        let deposited = SenderSealedMessage {
            sealed_sender: one.clone(),
            body: first.anonymous_body(),
        };
        assert_eq!(sealed_sender::open(&bob, &deposited).unwrap(), first);
        // Not kept for anything that is not that message's ciphertext.
        assert_ne!(sealed_sender_for(&mut st, to, &first, None).unwrap(), one);
        let other = sealed_sender_for(&mut st, to, &again, Some(id)).unwrap();
        assert_ne!(other, one);
        assert_eq!(
            sealed_sender_for(&mut st, to, &first, Some(id)).unwrap(),
            one
        );
        // No session, no box.
        let stranger = Identity::generate(&mut rng).node_id();
        assert!(matches!(
            sealed_sender_for(&mut st, stranger, &first, None),
            Err(NodeError::NoSession(_))
        ));
    }
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    /// `tacnode outbox` explains a waiting message in words (issue #17).
    #[test]
    fn failures_are_explained_in_words() {
        let peer = NodeId::from_bytes([1; 32]);
        let cases = [
            (
                AttemptError::from(NodeError::NoPublishedPrekeys(peer)),
                "recipient never seen online: no published prekeys",
            ),
            (
                AttemptError::from(NodeError::Network(CallError::Timeout)),
                "the recipient did not answer (offline or out of reach)",
            ),
            (
                AttemptError::from(NodeError::NoHoldersReachable),
                "no mailbox holders reachable",
            ),
            (
                AttemptError::from(NodeError::KeysChanged("bravo".into())),
                "waiting for key verification (tacnode contacts verify)",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.reason(), want);
        }
        let refused = AttemptError::Refused {
            code: RefusalCode::Quota,
            detail: "mailbox full".into(),
        };
        assert!(
            refused.reason().ends_with(": mailbox full"),
            "{}",
            refused.reason()
        );
    }
}
