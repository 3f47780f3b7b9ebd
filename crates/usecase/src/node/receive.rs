//! The receive path, shared by direct delivery and mailbox fetches: open
//! each sealed message, store what it carries in one transaction, then emit
//! events and, for mail fetched from mailboxes, send receipts (a direct
//! delivery's answer, sent after the commit, is its receipt) and tell the
//! senders of mail that reused ratchet keys ([`super::rewound`]).

use std::sync::Arc;

use tacnode_crypto::ratchet::DecryptError;
use tacnode_domain::StoreError;
use tacnode_domain::dht::RefusalCode;
use tacnode_domain::e2e::{SealedBody, SealedMessage};
use tacnode_domain::{Contact, Content, MessageId, NodeId, PeerAddress};
use tacnode_messaging::{
    DecodeError, Message, decode_plaintext, decode_plaintext_with, encode_plaintext,
};

use super::{NodeError, NodeEvent, Result, Shared, State};
use crate::conversation::{Conversation, OpenError};

/// Unverified contacts at most: beyond it, a first message from a sender
/// that is neither a contact nor in a session is refused.
pub(crate) const MAX_UNVERIFIED_CONTACTS: u64 = 1_000;

/// Why a received message was not kept. The refusal code a direct sender
/// gets is decided from the variant (see [`ReceiveError::refusal`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReceiveError {
    /// Our own storage failed (a write, or a row that does not read back):
    /// nothing of the batch is kept, and the sender tries again later.
    #[error("storage: {0}")]
    Storage(NodeError),
    /// A stranger wrote while unverified contacts are at their cap.
    #[error(
        "{0} unverified contacts: messages from new senders are refused until some are verified or removed"
    )]
    StrangerCap(u64),
    /// A stranger's first message must be a text (nothing else keeps a
    /// session for it).
    #[error("a first message from a stranger must be a text")]
    StrangerNotText,
    /// An invitation into a group from a peer that is no contact: only
    /// contacts make this node join groups (the inviter tries again until
    /// the operator adds it).
    #[error("an invitation from a peer that is no contact: add it as a contact to be invited")]
    InviterNotAContact,
    /// The sealed sender is not the peer that delivered it.
    #[error("sealed sender {sealed} is not the connected peer {peer}")]
    WrongSender {
        /// Who the message says sent it.
        sealed: NodeId,
        /// Who delivered it (TLS-authenticated).
        peer: NodeId,
    },
    /// It cannot be opened: no session for it, or forged.
    #[error("cannot open: {0}")]
    Open(#[source] OpenError),
    /// It opened, but its plaintext does not decode.
    #[error("bad plaintext: {0}")]
    Plaintext(#[source] DecodeError),
    /// The node is stopping: nothing was stored, the sender tries again.
    #[error("the node is stopping")]
    Stopping,
}

impl From<NodeError> for ReceiveError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Stopping => ReceiveError::Stopping,
            other => ReceiveError::Storage(other),
        }
    }
}

impl From<StoreError> for ReceiveError {
    fn from(e: StoreError) -> Self {
        ReceiveError::Storage(e.into())
    }
}

impl ReceiveError {
    /// The answer to a direct delivery that failed. `Unauthorized` means
    /// "cannot open it" and nothing else: the sender restarts its session
    /// on it; a full contact list or our own disk must not.
    pub(crate) fn refusal(&self) -> Message {
        let (code, detail) = match self {
            ReceiveError::StrangerCap(_) => (RefusalCode::Quota, "too many unverified contacts"),
            ReceiveError::InviterNotAContact => {
                (RefusalCode::Quota, "invitations only from contacts")
            }
            ReceiveError::Storage(_) => (RefusalCode::Internal, "cannot store messages"),
            ReceiveError::Stopping => (RefusalCode::Internal, "shutting down"),
            ReceiveError::StrangerNotText
            | ReceiveError::WrongSender { .. }
            | ReceiveError::Open(_)
            | ReceiveError::Plaintext(_) => (RefusalCode::Unauthorized, "cannot open message"),
        };
        Message::Error {
            code,
            detail: detail.into(),
        }
    }
}

/// `Some(count of unverified contacts)` when `sender` is a stranger (neither
/// a contact nor in a session) and strangers are at their cap. Every
/// stranger costs a contact, a session and inbox rows, and identities are
/// free to make, so strangers are capped.
fn stranger_over_cap(st: &mut State, sender: &NodeId) -> Result<Option<u64>> {
    if is_stranger(st, sender)? {
        let unverified = st.store.unverified_contact_count()?;
        if unverified >= MAX_UNVERIFIED_CONTACTS {
            return Ok(Some(unverified));
        }
    }
    Ok(None)
}

/// Neither a contact nor in a session with us.
fn is_stranger(st: &mut State, sender: &NodeId) -> Result<bool> {
    Ok(st.conversation(sender)?.is_none() && st.store.contact(sender)?.is_none())
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
    /// A notice that mail of ours reused ratchet keys: what it has not
    /// acknowledged goes again.
    Rewound,
    /// A group's sender key or invitation (taken, even when the group
    /// refused what it carried).
    Group,
    /// A file offer (taken, or recorded as refused) or a file's block
    /// (kept, or dropped).
    File,
}

/// Opens a sealed message and acts on it. `from` is the authenticated
/// transport peer for direct delivery (it must be the sender), `None` for a
/// mailbox entry.
pub(crate) async fn receive(
    shared: &Arc<Shared>,
    from: Option<NodeId>,
    sealed: SealedMessage,
    via_mailbox: bool,
) -> Result<Received, ReceiveError> {
    receive_all(shared, from, vec![sealed], via_mailbox)
        .await?
        .into_iter()
        .next()
        // One in, one out; an empty answer cannot happen.
        .unwrap_or(Ok(Received::Replayed))
}

/// Opens a direct batch from `from`; returns the indices of the messages
/// refused. Everything accepted is committed together before this returns.
pub(crate) async fn receive_batch(
    shared: &Arc<Shared>,
    from: NodeId,
    list: Vec<SealedMessage>,
) -> Result<Vec<u32>, ReceiveError> {
    let results = receive_all(shared, Some(from), list, false).await?;
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
    /// Per peer that sent a rewound notice: our messages put back in the
    /// queue, and whether the notice came in a session it just started.
    resend: Vec<(NodeId, Vec<MessageId>, bool)>,
    /// File offers taken, recorded in the batch.
    offers: Vec<crate::file_transfer::Transfer>,
    /// File blocks came: the file task has something to write.
    blocks: bool,
    /// How files of ours ended at their recipients.
    file_receipts: Vec<(
        NodeId,
        tacnode_domain::file_transfer::TransferId,
        Option<String>,
    )>,
}

/// Opens every message of `list` and stores what they carry in one
/// transaction; once committed, emits the events and, for mail fetched
/// from mailboxes, sends one receipt per sender. The outer error means
/// nothing was stored (the database failed, or a stranger is over the cap);
/// the inner ones are per message (it could not be opened).
pub(crate) async fn receive_all(
    shared: &Arc<Shared>,
    from: Option<NodeId>,
    list: Vec<SealedMessage>,
    via_mailbox: bool,
) -> Result<Vec<Result<Received, ReceiveError>>, ReceiveError> {
    let (results, receipts, rewound) = shared
        .with_state(move |st, shared| store_received(st, shared, from, &list, via_mailbox))
        .await?;
    super::rewound::notify(shared, rewound);
    for (sender, ids) in receipts {
        for chunk in ids.chunks(tacnode_domain::MAX_RECEIPT_IDS) {
            // Beyond the limit receipts are skipped: the sender keeps the
            // messages as "sent", nothing is lost.
            let Ok(permit) = shared.receipt_tasks.clone().try_acquire_owned() else {
                break;
            };
            let task_shared = shared.clone();
            let ids = chunk.to_vec();
            shared.spawn(async move {
                let shared = task_shared;
                let sent = if via_mailbox {
                    send_sealed_content(&shared, sender, Content::Receipt(ids)).await
                } else {
                    send_relayed_receipt(&shared, sender, ids).await
                };
                if let Err(e) = sent {
                    tracing::debug!(%sender, "receipt not delivered: {e:#}");
                }
                drop(permit);
            });
        }
    }
    Ok(results)
}

/// The results of a batch of received messages, the receipts owed, and the
/// senders of mailbox mail that reused ratchet keys.
type Stored = (
    Vec<Result<Received, ReceiveError>>,
    Vec<(NodeId, Vec<MessageId>)>,
    Vec<NodeId>,
);

/// [`receive_all`] on the state: opens and stores in one transaction; once
/// it is committed, applies what it changed in memory and emits the events.
fn store_received(
    st: &mut State,
    shared: &Shared,
    from: Option<NodeId>,
    list: &[SealedMessage],
    via_mailbox: bool,
) -> Result<Stored, ReceiveError> {
    let t = shared.now();
    let mut effects = Effects::default();
    let mut receipts: Vec<(NodeId, Vec<MessageId>)> = Vec::new();
    let mut rewound: Vec<NodeId> = Vec::new();
    let results = {
        let results = st.batch_as(|st| -> Result<_, ReceiveError> {
            let mut results = Vec::with_capacity(list.len());
            for sealed in list {
                match open_one(shared, st, from, sealed, via_mailbox, t, &mut effects) {
                    Ok((received, receipt)) => {
                        // Mail: remember a text's id by its ciphertext, and
                        // acknowledge a copy sent again (a replay, which
                        // the ratchet cannot read twice) from that.
                        let key = (
                            NodeId::from_identity(&sealed.sender_identity_key),
                            super::state::ciphertext_tag(sealed),
                        );
                        let receipt = match (from, &received, receipt) {
                            (None, Received::Replayed, None) => {
                                st.mail_ids.get(&key).map(|id| (key.0, *id))
                            }
                            (None, _, Some((sender, id))) => {
                                st.remember_mail(key, id);
                                Some((sender, id))
                            }
                            (_, _, receipt) => receipt,
                        };
                        // A message handed over directly is acknowledged by
                        // the answer itself (sent once this transaction
                        // commits); only mail fetched from a mailbox gets a
                        // receipt of its own.
                        if let Some((sender, id)) = receipt.filter(|_| from.is_none()) {
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
                    Err(e @ ReceiveError::Storage(_)) => return Err(e),
                    Err(e @ ReceiveError::StrangerCap(_)) if from.is_some() => return Err(e),
                    Err(e) => {
                        // Mail that reused ratchet keys its sender had used
                        // (rolled back): no answer reaches the sender from
                        // here, so it is told apart. A direct one is refused
                        // as "cannot open", which says the same.
                        if from.is_none()
                            && matches!(
                                e,
                                ReceiveError::Open(OpenError::Decrypt(DecryptError::Rewound))
                            )
                        {
                            let sender = NodeId::from_identity(&sealed.sender_identity_key);
                            if !rewound.contains(&sender) {
                                rewound.push(sender);
                            }
                        }
                        results.push(Err(e));
                    }
                }
            }
            Ok(results)
        })?;
        for id in &effects.delivered {
            st.delivery.forget(*id);
            st.sealed_outbox.remove(id);
        }
        for (peer, again, new_session) in &effects.resend {
            super::rewound::resend(st, shared, *peer, again, *new_session, t);
        }
        let offers = std::mem::take(&mut effects.offers);
        super::files::offers_committed(st, shared, offers, &mut effects.events);
        if effects.blocks {
            shared.wake_files.notify_one();
        }
        for (sender, transfer, declined) in std::mem::take(&mut effects.file_receipts) {
            super::files::receipt_arrived(st, shared, sender, transfer, declined);
        }
        results
    };
    shared
        .x3dh_sessions
        .fetch_add(effects.handshakes, std::sync::atomic::Ordering::Relaxed);
    for e in effects.events {
        shared.emit(e);
    }
    shared.wake_groups.notify_one();
    Ok((results, receipts, rewound))
}

/// Opens one message inside the caller's store batch. Returns what it was
/// and, for a text, the id to acknowledge to its sender.
fn open_one(
    shared: &Shared,
    st: &mut State,
    from: Option<NodeId>,
    sealed: &SealedMessage,
    via_mailbox: bool,
    t: tacnode_domain::UnixMillis,
    effects: &mut Effects,
) -> Result<(Received, Option<(NodeId, MessageId)>), ReceiveError> {
    let sender_key = sealed.sender_identity_key;
    let sender = NodeId::from_identity(&sender_key);
    if let Some(p) = from
        && p != sender
    {
        return Err(ReceiveError::WrongSender {
            sealed: sender,
            peer: p,
        });
    }
    let stranger = is_stranger(st, &sender).map_err(ReceiveError::Storage)?;
    if let Some(unverified) = stranger_over_cap(st, &sender).map_err(ReceiveError::Storage)? {
        return Err(ReceiveError::StrangerCap(unverified));
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
            Err(e) => return Err(ReceiveError::Open(e)),
        };
    // The sender's device key as the session that opened this has it: the
    // one the sender derived the text's id with.
    let key = st.text_id_key(&shared.identity, &sender_key, &opened.remote_device_key);
    let me = shared.identity.identity_key();
    let plaintext = match key {
        Some(key) => decode_plaintext_with(&opened.plaintext, |sent, text| {
            key.id_of(&sender_key, &me, sent, text)
        }),
        None => decode_plaintext(&opened.plaintext),
    }
    .map_err(ReceiveError::Plaintext);
    // A stranger becomes known only through a text, which adds it as a
    // (capped) contact: no session is kept for anything else it sends.
    // A group key only comes from a member of a group we are in; an
    // invitation only from a contact (checked below).
    if matches!(&plaintext, Ok(p) if matches!(p.content, Content::GroupKey { .. })) {
        super::groups::ensure_loaded(st, shared)?;
    }
    let welcome = match &plaintext {
        Ok(p) => match &p.content {
            Content::Text(_) => true,
            Content::GroupKey { group, .. } => st.groups.admits_key(group, &sender_key),
            Content::GroupInvite(_)
            | Content::Receipt(_)
            | Content::Rewound
            | Content::FileOffer(_)
            | Content::FileBlock { .. }
            | Content::FileReceipt { .. } => false,
        },
        Err(_) => false,
    };
    if stranger && !welcome {
        // Opening it may have used a one-time prekey: put it back, so the
        // sender's next try (same prekey) opens once it is welcome.
        if opened.new_session {
            st.reload_prekeys();
        }
        return Err(ReceiveError::StrangerNotText);
    }
    // Pin (or compare) the device key only now, and only when X3DH ran on
    // this message and verified its certificate: a forged or edited initial
    // message cannot flag a contact (a repeat of an answered one was
    // checked against the session's own keys instead).
    if let SealedBody::Initial(i) = &sealed.body
        && opened.new_session
        && !st
            .check_pin(&sender, &i.device_key)
            .map_err(ReceiveError::Storage)?
    {
        flag_identity_change(st, &sender, i.device_key, &mut effects.events)
            .map_err(ReceiveError::Storage)?;
    }
    let new_session = opened.new_session;
    if let Some(c) = new {
        st.conversations.insert(sender, c);
    }
    st.save_conversation(&sender, t)
        .map_err(ReceiveError::Storage)?;
    if opened.new_session {
        st.save_prekeys(t).map_err(ReceiveError::Storage)?;
        effects.handshakes += 1;
    }
    let plaintext = plaintext?;
    match plaintext.content {
        Content::Text(text) => {
            add_sender_contact(st, sender, sender_key, t)?;
            // Ordered by the sender's queue time (strictly increasing per
            // sender), so each sender's messages keep their order however
            // they arrived; a time far ahead of ours is clamped.
            let time = st.inbound_time(&sender, plaintext.sent, t);
            let id = plaintext.message_id;
            match st.store.insert_inbound(&sender, &id, &text, time)? {
                tacnode_domain::store::InsertOutcome::Inserted => {
                    effects.events.push(NodeEvent::Received {
                        from: sender,
                        message_id: id,
                        text,
                        via_mailbox,
                    });
                    Ok((Received::Text(id), Some((sender, id))))
                }
                // Acknowledge again: the first receipt may have been lost.
                tacnode_domain::store::InsertOutcome::AlreadyPresent => {
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
        Content::GroupKey {
            group,
            distribution,
        } => group_taken(super::groups::receive_key(
            st,
            shared,
            sender_key,
            group,
            distribution,
            &mut effects.events,
        )),
        Content::GroupInvite(ops) => {
            if st.store.contact(&sender)?.is_none() {
                return Err(ReceiveError::InviterNotAContact);
            }
            group_taken(super::groups::receive_invite(
                st,
                shared,
                sender_key,
                ops,
                &mut effects.events,
            ))
        }
        Content::FileOffer(offer) => {
            super::files::offered(st, shared, sender, offer, t, &mut effects.offers)?;
            Ok((Received::File, None))
        }
        Content::FileBlock {
            offer,
            index,
            content,
        } => {
            super::files::block_arrived(
                st,
                shared,
                sender,
                (offer, index, content),
                t,
                &mut effects.offers,
            )?;
            effects.blocks = true;
            Ok((Received::File, None))
        }
        Content::FileReceipt { transfer, declined } => {
            // Acted on once the batch committed (the transfer's end is
            // recorded and announced then).
            effects.file_receipts.push((sender, transfer, declined));
            Ok((Received::File, None))
        }
        Content::Rewound => {
            let again = st
                .store
                .requeue_sent(&sender, t, tacnode_domain::store::MAX_QUERY_ROWS)?;
            let again = again.into_iter().map(|(id, _)| id).collect();
            effects.resend.push((sender, again, new_session));
            Ok((Received::Rewound, None))
        }
    }
}

/// A sender that is no contact becomes an unverified one (named by the
/// start of its address).
fn add_sender_contact(
    st: &mut State,
    sender: NodeId,
    sender_key: tacnode_domain::IdentityKey,
    t: tacnode_domain::UnixMillis,
) -> Result<(), ReceiveError> {
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
    Ok(())
}

/// A group key or invitation is taken whatever the group made of it; only
/// our own storage failing refuses it (so the sender tries again).
fn group_taken(
    result: Result<()>,
) -> Result<(Received, Option<(NodeId, MessageId)>), ReceiveError> {
    match result {
        Ok(()) => Ok((Received::Group, None)),
        Err(e @ (NodeError::Storage(_) | NodeError::Stopping)) => Err(e.into()),
        // The operator should know an invitation went unanswered.
        Err(e @ NodeError::TooManyGroups { .. }) => {
            tracing::warn!("a group invitation was not taken: {e:#}");
            Ok((Received::Group, None))
        }
        Err(e) => {
            tracing::debug!("group key or invitation not used: {e:#}");
            Ok((Received::Group, None))
        }
    }
}

fn flag_identity_change(
    st: &mut State,
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

/// Seals `content` (a receipt, a rewound notice) in the session with
/// `peer` and hands it over directly, else deposits it in its mailboxes.
pub(crate) async fn send_sealed_content(
    shared: &Arc<Shared>,
    peer: NodeId,
    content: Content,
) -> Result<()> {
    let sealed = seal_content(shared, peer, content).await?;
    super::send::deliver_sealed(shared, peer, &sealed, true, None, None).await?;
    Ok(())
}

/// The receipt of mail that came through relays: back through relays (not
/// also deposited: one that is lost makes the sender, which keeps the
/// message pending until it comes, send it again, and the copy is
/// acknowledged again from `State::mail_ids`). Mail fetched from a mailbox gets [`send_sealed_content`]'s,
/// which a mailbox keeps if the sender is away: its sender no longer waits.
async fn send_relayed_receipt(
    shared: &Arc<Shared>,
    peer: NodeId,
    ids: Vec<MessageId>,
) -> Result<()> {
    // Through relays even when this node does not route its own messages
    // so: a direct answer would show the pair the sender hid.
    let sealed = seal_content(shared, peer, Content::Receipt(ids)).await?;
    super::onion::send(shared, peer, &sealed, None).await
}

/// Seals `content` in the session with `peer` (which must exist), the
/// session saved before the sealed message is returned.
pub(crate) async fn seal_content(
    shared: &Arc<Shared>,
    peer: NodeId,
    content: Content,
) -> Result<SealedMessage> {
    shared
        .with_state(move |st, shared| {
            let t = shared.now();
            st.conversation(&peer)?;
            let conv = st
                .conversations
                .get_mut(&peer)
                .ok_or(NodeError::NoSession(peer))?;
            let plaintext = super::plaintext_for(id_for_receipt(&mut st.rng), content, t);
            let sealed = conv.seal(
                &mut st.rng,
                shared.identity.identity_key(),
                &encode_plaintext(&plaintext),
            )?;
            st.save_conversation(&peer, t)?;
            Ok::<_, NodeError>(sealed)
        })
        .await
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
        assert_eq!(
            code(&ReceiveError::StrangerCap(1000).refusal()),
            RefusalCode::Quota
        );
        let disk = ReceiveError::from(StoreError::backend(std::io::Error::other("disk full")));
        assert_eq!(code(&disk.refusal()), RefusalCode::Internal);
        assert_eq!(
            code(&ReceiveError::Open(OpenError::NoSession).refusal()),
            RefusalCode::Unauthorized
        );
        assert_eq!(
            code(&ReceiveError::StrangerNotText.refusal()),
            RefusalCode::Unauthorized
        );
        // A rolled-back sender reused a message key: it must restart.
        let rewound = ReceiveError::Open(OpenError::Decrypt(DecryptError::Rewound));
        assert_eq!(code(&rewound.refusal()), RefusalCode::Unauthorized);
    }
}
