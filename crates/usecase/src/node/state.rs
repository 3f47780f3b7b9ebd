//! The node's state, owned by one task (see [`super::state_owner`]) and
//! reached through [`super::Shared::with_state`].

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use tacnode_crypto::prekey::PrekeyState;
use tacnode_crypto::{Identity, TextIdKey};
use tacnode_domain::ports::{NodeStore, batch_within};
use tacnode_domain::{IdentityKey, StoreError};
use tacnode_domain::{MessageId, NodeId, PeerRecord, UnixMillis};

use super::Result;
use crate::challenge::ChallengeBook;
use crate::conversation::Conversation;
use crate::delivery::DeliveryQueue;

/// Conversations kept in memory; more are reloaded from the store.
const MAX_CACHED_CONVERSATIONS: usize = 4096;
/// Least time between two resets of the session with one peer: a peer that
/// keeps refusing cannot make us fetch its prekeys in a loop.
pub(crate) const SESSION_RESET_INTERVAL_MS: u64 = 5 * 60 * 1000;
/// Peers whose last session reset is remembered; beyond it the oldest go.
const MAX_SESSION_RESETS: usize = 4096;
/// Least time between two notices to one sender that mail of its, fetched
/// from a mailbox, reused ratchet keys (see [`super::rewound`]): every
/// mailbox holder hands us a copy, and a holder that kept an old message
/// can forge the condition, so at most one notice (and one session restart)
/// per peer in this time.
pub(crate) const REWOUND_NOTICE_INTERVAL_MS: u64 = SESSION_RESET_INTERVAL_MS;
/// Peers whose last rewound notice is remembered; beyond it the oldest go.
const MAX_REWOUND_NOTICES: usize = 4096;
/// Least time between two reschedulings for one peer that calls us.
pub(crate) const PEER_SEEN_INTERVAL_MS: u64 = 5_000;
/// Peers remembered by [`State::peer_seen`]; beyond it the memory starts over.
const MAX_SEEN_PEERS: usize = 4096;
/// Peers remembered by [`State::peer_unanswered`]; beyond it the memory
/// starts over (the worst that costs is one more dial of an old address).
pub(crate) const MAX_UNANSWERED_PEERS: usize = 4096;
/// How far ahead of our clock an incoming message's own time may be and
/// still be filed at it: enough for a batch queued a millisecond apart
/// (5,000 messages) and ordinary clock drift; a sender further ahead is
/// clamped, so its clock cannot push its messages past everyone else's.
pub(crate) const MAX_INBOUND_AHEAD_MS: u64 = 5_000;
/// Senders whose last clamped filing time is remembered.
const MAX_CLAMPED_SENDERS: usize = 4096;
/// Meta key of the device key pinned for a contact: `pin.` and the hex of
/// the first 28 bytes of its node id (meta keys are at most 64 bytes; 224
/// bits keep ids apart).
pub(crate) const PIN_PREFIX: &str = "pin.";
/// How long a handed-out one-time prekey is held back for its initiator:
/// longer than mail waits in a mailbox (7 days by default), since an
/// initiator's first message may arrive from there, where a refusal would
/// never reach it.
pub(crate) const HANDED_OUT_TTL_MS: u64 = 8 * 24 * 60 * 60 * 1000;
/// Meta key of the one-time prekey ids handed out and not yet used.
pub(crate) const HANDED_OUT_KEY: &str = "prekeys.handed_out";
/// Meta key prefix of a changed device key awaiting verification.
pub(crate) const PENDING_PREFIX: &str = "new.";

/// Most text-id keys kept in memory (each costs a DH to make again).
const MAX_TEXT_ID_KEYS: usize = 4_096;

/// Makes room for one more peer in a bounded map of peer → time: at `max`
/// entries the oldest goes (ties by id, so the choice is deterministic).
fn make_room(map: &mut HashMap<NodeId, UnixMillis>, max: usize) {
    if map.len() >= max
        && let Some(oldest) = map
            .iter()
            .min_by_key(|(id, t)| (**t, **id))
            .map(|(id, _)| *id)
    {
        map.remove(&oldest);
    }
}

/// `prefix` and the hex of the first 28 bytes of `peer`.
pub(crate) fn peer_meta_key(prefix: &str, peer: &NodeId) -> String {
    let hex: String = peer.as_bytes()[..28]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{prefix}{hex}")
}

/// A queued message as sealed for its recipient, kept for its retries.
pub(crate) struct SealedOutgoing {
    /// Who it is for.
    pub(crate) recipient: NodeId,
    /// The ratchet ciphertext, handed over directly as is.
    pub(crate) sealed: tacnode_domain::e2e::SealedMessage,
    /// Its sender sealed to the recipient, made at its first deposit and
    /// deposited again with the same ciphertext.
    pub(crate) sealed_sender: Option<tacnode_domain::e2e::SealedSender>,
}

/// State owned by the node's state owner task.
pub(crate) struct State {
    pub(crate) store: Box<dyn NodeStore>,
    pub(crate) conversations: HashMap<NodeId, Conversation>,
    pub(crate) prekeys: PrekeyState,
    pub(crate) delivery: DeliveryQueue,
    pub(crate) challenges: ChallengeBook,
    pub(crate) rng: StdRng,
    /// Ciphertext of each queued message, made once: retries resend it, so
    /// failed attempts never advance the ratchet (a long outage would
    /// otherwise exceed the receiver's skipped-key limit).
    pub(crate) sealed_outbox: HashMap<MessageId, SealedOutgoing>,
    /// When we last dropped our session with a peer because it could not
    /// open our messages (at most one reset per [`SESSION_RESET_INTERVAL_MS`]).
    pub(crate) session_resets: HashMap<NodeId, UnixMillis>,
    /// Peers whose session must be restarted before the next message.
    pub(crate) restarts: std::collections::HashSet<NodeId>,
    /// When we last told a peer that its mail reused ratchet keys (at most
    /// one notice per [`REWOUND_NOTICE_INTERVAL_MS`]).
    pub(crate) rewound_notices: HashMap<NodeId, UnixMillis>,
    /// One-time prekeys handed out since start (never handed out twice).
    /// One-time prekeys handed out, and when (never handed out twice within
    /// [`HANDED_OUT_TTL_MS`]; an unused one comes back after it, so a flood
    /// of bundle requests cannot use them all up for good).
    pub(crate) handed_out: HashMap<tacnode_domain::e2e::PrekeyId, UnixMillis>,
    /// One-time prekeys handed out per requester and window.
    pub(crate) prekey_quota: crate::prekey_quota::OneTimePrekeyQuota,
    /// When each peer last made us look at what waits for it (see
    /// [`State::peer_seen`]).
    pub(crate) seen: HashMap<NodeId, UnixMillis>,
    /// Per sender, the last filing time given to a message clamped by
    /// [`MAX_INBOUND_AHEAD_MS`].
    pub(crate) clamped_inbound: HashMap<NodeId, UnixMillis>,
    /// Peer records seen (ours to dial with), newest sequence wins.
    pub(crate) peers: HashMap<NodeId, PeerRecord>,
    /// Peers that did not answer a call at the addresses we had for them:
    /// until a lookup finds their record, their pre-shared and routing-table
    /// addresses are not dialled before that lookup (see
    /// [`super::send::endpoints_of`]). At most [`MAX_UNANSWERED_PEERS`].
    pub(crate) unanswered: HashSet<NodeId>,
    /// Strictly increasing queue time, so the outbox keeps send order.
    pub(crate) last_outbox_time: UnixMillis,
    /// Per peer, the key pairwise texts' ids are derived with, and the
    /// peer's device key it was agreed with (at most
    /// [`MAX_TEXT_ID_KEYS`]; one DH each).
    pub(crate) text_id_keys: HashMap<NodeId, (tacnode_domain::DhPublicKey, TextIdKey)>,
    /// The ids of texts that came as mail (from a mailbox or through
    /// relays), by sender and the tag of their ciphertext: a copy sent
    /// again (its receipt was lost) is a replay the ratchet cannot read,
    /// and is acknowledged from here. At most [`MAX_REMEMBERED_MAIL`],
    /// oldest forgotten first; not kept across restarts.
    pub(crate) mail_ids: HashMap<(NodeId, [u8; 16]), MessageId>,
    /// Insertion order of `mail_ids`.
    pub(crate) mail_ids_order: std::collections::VecDeque<(NodeId, [u8; 16])>,
    /// The tags of our loop cover packets on their way.
    pub(crate) loop_tags: crate::loop_tags::LoopTags,
    /// Our reply blocks whose one reply is awaited, with what opens it and
    /// who waits for it (at most [`super::onion::MAX_REPLY_WAITS`]).
    pub(crate) reply_waits: HashMap<
        tacnode_crypto::sphinx::ReplyId,
        (
            tacnode_crypto::sphinx::ReplyOpener,
            tokio::sync::oneshot::Sender<Vec<u8>>,
        ),
    >,
    /// The group channels.
    pub(crate) groups: super::groups::GroupBook,
    /// File transfers, both ways (loaded at start).
    pub(crate) transfers: std::collections::BTreeMap<
        tacnode_domain::file_transfer::TransferId,
        super::files::TransferEntry,
    >,
}

/// Most mail ids [`State::mail_ids`] remembers.
pub(crate) const MAX_REMEMBERED_MAIL: usize = 4_096;

/// The last 16 bytes of a sealed message's ciphertext: its tag, which
/// tells one message from another (the same message sealed again, as a
/// retry sends it, has the same tag).
pub(crate) fn ciphertext_tag(sealed: &tacnode_domain::e2e::SealedMessage) -> [u8; 16] {
    let ciphertext = match &sealed.body {
        tacnode_domain::e2e::SealedBody::Initial(x) => &x.message.ciphertext,
        tacnode_domain::e2e::SealedBody::Message(m) => &m.ciphertext,
    };
    let mut tag = [0u8; 16];
    if let Some(tail) = ciphertext
        .len()
        .checked_sub(16)
        .and_then(|at| ciphertext.get(at..))
    {
        tag.copy_from_slice(tail);
    }
    tag
}

impl State {
    /// Remembers the id of a text that came as mail (see `mail_ids`).
    pub(crate) fn remember_mail(&mut self, key: (NodeId, [u8; 16]), id: MessageId) {
        if self.mail_ids.insert(key, id).is_none() {
            self.mail_ids_order.push_back(key);
        }
        while self.mail_ids_order.len() > MAX_REMEMBERED_MAIL {
            if let Some(old) = self.mail_ids_order.pop_front() {
                self.mail_ids.remove(&old);
            }
        }
    }

    /// `peer` did not answer a call at the addresses we had for it: it may
    /// have moved. Its record is looked up again next time, before any
    /// pre-shared or routing-table address of it is dialled.
    pub(crate) fn peer_unanswered(&mut self, peer: NodeId) {
        self.peers.remove(&peer);
        if self.unanswered.len() >= MAX_UNANSWERED_PEERS {
            self.unanswered.clear();
        }
        self.unanswered.insert(peer);
    }

    /// The key the ids of texts between us and `peer` are derived with,
    /// `peer`'s device key being `device` (a session's, so both ends agree
    /// on it); `None` when `device` is a low-order point.
    pub(crate) fn text_id_key(
        &mut self,
        identity: &Identity,
        peer: &IdentityKey,
        device: &tacnode_domain::DhPublicKey,
    ) -> Option<TextIdKey> {
        let node = NodeId::from_identity(peer);
        if let Some((d, key)) = self.text_id_keys.get(&node)
            && d == device
        {
            return Some(key.clone());
        }
        let key = TextIdKey::between(identity, peer, device).ok()?;
        if self.text_id_keys.len() >= MAX_TEXT_ID_KEYS {
            self.text_id_keys.clear();
        }
        self.text_id_keys.insert(node, (*device, key.clone()));
        Some(key)
    }

    /// The id of `text` that `sender` wrote for `recipient` at `sent`, one
    /// of them us, the other `peer` with the session device key `device`:
    /// derived by both ends, so it is left off the wire; `None` without a
    /// key.
    pub(crate) fn text_id(
        &mut self,
        identity: &Identity,
        (peer, device): (&IdentityKey, &tacnode_domain::DhPublicKey),
        outbound: bool,
        sent: UnixMillis,
        text: &str,
    ) -> Option<MessageId> {
        let key = self.text_id_key(identity, peer, device)?;
        let me = identity.identity_key();
        Some(if outbound {
            key.id_of(&me, peer, sent, text)
        } else {
            key.id_of(peer, &me, sent, text)
        })
    }

    /// A node's state from what its start loaded: nothing cached yet.
    pub(crate) fn new(
        store: Box<dyn NodeStore>,
        prekeys: PrekeyState,
        delivery: DeliveryQueue,
        rng: StdRng,
        handed_out: HashMap<tacnode_domain::e2e::PrekeyId, UnixMillis>,
    ) -> State {
        State {
            store,
            conversations: HashMap::new(),
            prekeys,
            delivery,
            challenges: ChallengeBook::new(),
            rng,
            sealed_outbox: HashMap::new(),
            session_resets: HashMap::new(),
            restarts: std::collections::HashSet::new(),
            rewound_notices: HashMap::new(),
            handed_out,
            prekey_quota: crate::prekey_quota::OneTimePrekeyQuota::new(),
            seen: HashMap::new(),
            clamped_inbound: HashMap::new(),
            peers: HashMap::new(),
            unanswered: HashSet::new(),
            text_id_keys: HashMap::new(),
            mail_ids: HashMap::new(),
            mail_ids_order: std::collections::VecDeque::new(),
            loop_tags: crate::loop_tags::LoopTags::default(),
            reply_waits: HashMap::new(),
            last_outbox_time: UnixMillis(0),
            groups: super::groups::GroupBook::default(),
            transfers: std::collections::BTreeMap::new(),
        }
    }

    /// The conversation with `peer`, loaded from the store on first use.
    pub(crate) fn conversation(&mut self, peer: &NodeId) -> Result<Option<&mut Conversation>> {
        if !self.conversations.contains_key(peer)
            && let Some(bytes) = self.store.load_session(peer)?
        {
            // Every conversation is saved after each change, so any cached
            // one can be dropped to bound memory and reloaded on demand.
            if self.conversations.len() >= MAX_CACHED_CONVERSATIONS
                && let Some(evict) = self.conversations.keys().min().copied()
            {
                self.conversations.remove(&evict);
            }
            let c = Conversation::from_bytes(bytes.as_slice())?;
            self.conversations.insert(*peer, c);
        }
        Ok(self.conversations.get_mut(peer))
    }

    /// Runs `f` as one store transaction (one fsync for everything it
    /// writes). When it fails nothing it wrote is on disk, but the cached
    /// conversations and prekeys may be ahead of the disk: they are dropped
    /// and reloaded from what was committed, so memory never runs ahead of
    /// the database (a ratchet step that is not durable is never used).
    pub(crate) fn batch_as<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut State) -> Result<T, E>,
    ) -> Result<T, E> {
        let result = batch_within(self, |st: &mut State| &mut *st.store, f);
        if result.is_err() {
            self.discard_uncommitted();
        }
        result
    }

    /// [`State::batch_as`] with the node's general error type.
    pub(crate) fn batch<T>(&mut self, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        self.batch_as(f)
    }

    /// Drops what memory may hold beyond the disk after writes that did not
    /// commit: cached sessions and ciphertexts (reloaded or made again) and
    /// the prekeys (reloaded).
    pub(crate) fn discard_uncommitted(&mut self) {
        self.conversations.clear();
        self.sealed_outbox.clear();
        self.groups.discard();
        self.reload_prekeys();
    }

    /// Reads the prekeys again from the store: a message opened and then
    /// refused must not use up a one-time prekey in memory only (the
    /// sender's next try names the same prekey).
    pub(crate) fn reload_prekeys(&mut self) {
        match self.store.load_prekey_state() {
            Ok(Some(bytes)) => match PrekeyState::from_bytes(bytes.as_slice()) {
                Ok(p) => self.prekeys = p,
                Err(e) => tracing::warn!("stored prekeys do not parse: {e}"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot reload prekeys after a failed write: {e}"),
        }
    }

    /// Persists the conversation with `peer` (after every change).
    pub(crate) fn save_conversation(&mut self, peer: &NodeId, now: UnixMillis) -> Result<()> {
        if let Some(c) = self.conversations.get(peer) {
            self.store.save_session(peer, &c.to_bytes(), now)?;
        }
        Ok(())
    }

    /// Marks our session with `peer` for a restart after it refused our
    /// messages as unreadable (it lost its side: a reinstall, a restored
    /// backup): the ciphertexts cached for it are dropped, and the next
    /// attempt runs X3DH again (see [`crate::conversation::Conversation::restart`];
    /// the old sessions stay for decrypting what the peer sent under them).
    /// Only the authenticated peer itself can refuse, so no one else can
    /// force this. Returns false when the last restart was too recent.
    pub(crate) fn restart_session(&mut self, peer: &NodeId, now: UnixMillis) -> bool {
        if let Some(last) = self.session_resets.get(peer)
            && now.millis_since(*last) < SESSION_RESET_INTERVAL_MS
        {
            return false;
        }
        make_room(&mut self.session_resets, MAX_SESSION_RESETS);
        self.sealed_outbox.retain(|_, o| o.recipient != *peer);
        self.groups.forget_sealed(peer);
        self.session_resets.insert(*peer, now);
        self.restarts.insert(*peer);
        true
    }

    /// Whether a notice that `peer`'s mail reused ratchet keys may go now
    /// (at most one per [`REWOUND_NOTICE_INTERVAL_MS`]); if so, it is
    /// counted as sent from `now`.
    pub(crate) fn rewound_notice_due(&mut self, peer: &NodeId, now: UnixMillis) -> bool {
        if let Some(last) = self.rewound_notices.get(peer)
            && now.millis_since(*last) < REWOUND_NOTICE_INTERVAL_MS
        {
            return false;
        }
        make_room(&mut self.rewound_notices, MAX_REWOUND_NOTICES);
        self.rewound_notices.insert(*peer, now);
        true
    }

    /// The time an incoming message from `sender`, stamped `sent` by its
    /// queue, is filed at when it arrives at `now`: its own time, which
    /// keeps each sender's messages in their order, unless that is more
    /// than [`MAX_INBOUND_AHEAD_MS`] ahead. Clamped ones get strictly
    /// increasing times per sender, so a fast sender's batch is not filed
    /// in one millisecond (and shown in message-id order).
    pub(crate) fn inbound_time(
        &mut self,
        sender: &NodeId,
        sent: UnixMillis,
        now: UnixMillis,
    ) -> UnixMillis {
        let limit = now.saturating_add_millis(MAX_INBOUND_AHEAD_MS);
        if sent <= limit {
            return sent;
        }
        let t = match self.clamped_inbound.get(sender) {
            Some(last) if *last >= limit => last.saturating_add_millis(1),
            _ => limit,
        };
        make_room(&mut self.clamped_inbound, MAX_CLAMPED_SENDERS);
        self.clamped_inbound.insert(*sender, t);
        t
    }

    /// `peer` just called us, so it is online: what waits for it goes now
    /// (at most once per [`PEER_SEEN_INTERVAL_MS`], however busy the peer).
    /// Returns whether anything was rescheduled.
    pub(crate) fn peer_seen(&mut self, peer: &NodeId, now: UnixMillis) -> bool {
        if let Some(last) = self.seen.get(peer)
            && now.millis_since(*last) < PEER_SEEN_INTERVAL_MS
        {
            return false;
        }
        make_room(&mut self.seen, MAX_SEEN_PEERS);
        self.seen.insert(*peer, now);
        if !self.delivery.has_pending_for(peer) {
            return false;
        }
        self.delivery.handle_peer_online(now, peer);
        true
    }

    /// Forgets hand-outs older than [`HANDED_OUT_TTL_MS`].
    pub(crate) fn expire_handed_out(&mut self, now: UnixMillis) {
        self.handed_out
            .retain(|_, at| now.millis_since(*at) < HANDED_OUT_TTL_MS);
    }

    /// Persists which one-time prekeys were handed out (those still held;
    /// at most [`tacnode_crypto::prekey::MAX_ONE_TIME_PREKEYS`], 4 bytes
    /// each). The times are not stored: after a restart the TTL counts from
    /// the start.
    pub(crate) fn save_handed_out(&mut self) -> Result<()> {
        let held: std::collections::HashSet<_> = self
            .prekeys
            .one_time_prekeys()
            .iter()
            .map(|k| k.id)
            .collect();
        self.handed_out.retain(|id, _| held.contains(id));
        let mut ids: Vec<u32> = self.handed_out.keys().copied().collect();
        ids.sort_unstable();
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_be_bytes()).collect();
        self.store.set_meta(HANDED_OUT_KEY, &bytes)?;
        Ok(())
    }

    /// Persists the prekey state (after every change).
    pub(crate) fn save_prekeys(&mut self, now: UnixMillis) -> Result<()> {
        self.store
            .save_prekey_state(&self.prekeys.to_bytes(), now)?;
        Ok(())
    }

    pub(crate) fn next_outbox_time(&mut self, now: UnixMillis) -> UnixMillis {
        let t = if now > self.last_outbox_time {
            now
        } else {
            self.last_outbox_time.saturating_add_millis(1)
        };
        self.last_outbox_time = t;
        t
    }

    /// Checks `device_key` against the one pinned for `peer` (pins it the first
    /// time). A different key flags the contact: sending stops until verified.
    pub(crate) fn check_pin(
        &mut self,
        peer: &NodeId,
        device_key: &tacnode_domain::DhPublicKey,
    ) -> Result<bool> {
        let key = peer_meta_key(PIN_PREFIX, peer);
        match self.store.meta(&key)? {
            None => {
                self.store.set_meta(&key, device_key.as_bytes())?;
                Ok(true)
            }
            Some(pinned) if pinned.as_slice() == device_key.as_bytes() => Ok(true),
            Some(_) => Ok(false),
        }
    }

    /// Remembers (on disk, so a restart keeps it) the new device key seen
    /// for `peer`, pinned once the operator verifies the contact again.
    pub(crate) fn set_pending_pin(
        &mut self,
        peer: &NodeId,
        device_key: &tacnode_domain::DhPublicKey,
    ) -> Result<()> {
        let key = peer_meta_key(PENDING_PREFIX, peer);
        self.store.set_meta(&key, device_key.as_bytes())?;
        Ok(())
    }

    /// The device key a verification of `peer` is about: the new one
    /// awaiting verification if there is one, else the pinned one.
    pub(crate) fn device_key_to_verify(
        &mut self,
        peer: &NodeId,
    ) -> Result<Option<tacnode_domain::DhPublicKey>> {
        for prefix in [PENDING_PREFIX, PIN_PREFIX] {
            if let Some(v) = self.store.meta(&peer_meta_key(prefix, peer))? {
                return Ok(tacnode_domain::DhPublicKey::from_slice(&v).ok());
            }
        }
        Ok(None)
    }

    /// Takes the device key remembered by [`State::set_pending_pin`].
    pub(crate) fn take_pending_pin(
        &mut self,
        peer: &NodeId,
    ) -> Result<Option<tacnode_domain::DhPublicKey>> {
        let key = peer_meta_key(PENDING_PREFIX, peer);
        let value = self.store.meta(&key)?;
        self.store.delete_meta(&key)?;
        Ok(value.and_then(|v| tacnode_domain::DhPublicKey::from_slice(&v).ok()))
    }

    /// Replaces the pin after the operator verified the contact again.
    pub(crate) fn repin(
        &mut self,
        peer: &NodeId,
        device_key: Option<&tacnode_domain::DhPublicKey>,
    ) -> Result<()> {
        let key = peer_meta_key(PIN_PREFIX, peer);
        match device_key {
            Some(k) => self.store.set_meta(&key, k.as_bytes())?,
            None => {
                self.store.delete_meta(&key)?;
            }
        }
        Ok(())
    }
}
