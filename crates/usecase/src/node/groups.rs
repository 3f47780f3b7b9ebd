//! Group channels in the node: the sans-IO [`GroupChannel`]s (see
//! [`crate::group`]) kept in the [`State`], sealed in the store after every
//! change, and driven by the group task ([`run`]).
//!
//! - **Overlay links.** Each channel wants links to its preferred members
//!   ([`GroupChannel::wanted_neighbours`]). A link is taken as up when the
//!   node decides to use it (or when a member's gossip arrives) and proven by
//!   the first exchange: a gossip call that fails takes the link down and
//!   keeps that member out of the choice for [`LINK_RETRY_MS`], doubling
//!   with each failure in a row to [`LINK_RETRY_MAX_MS`], so the next
//!   preferred member is tried.
//! - **Gossip** travels as `Gossip` requests on the QUIC port, answered by
//!   `GossipAck`, one call at a time per neighbour so each gets its
//!   messages in order; what a push carries is judged by the channel, not
//!   the answer.
//! - **Sender keys and invitations** travel sealed in the pairwise Double
//!   Ratchet sessions (`Content::GroupKey`, `Content::GroupInvite`),
//!   directly or through the recipient's mailboxes; one that cannot be
//!   handed over or deposited is tried again (after [`OWED_RETRY_MS`],
//!   doubling to [`OWED_RETRY_MAX_MS`]) for [`OWED_GIVE_UP_MS`]. One task
//!   per member at a time: two X3DH starts with one peer would race. After
//!   a restart our current key goes to every
//!   member again (one that holds it ignores it), so a distribution lost in
//!   a crash is made good.
//! - **Messages** are filed in the history with their group, by their
//!   sender's time (clamped as pairwise ones are).
//!
//! Invitations are accepted only from contacts (a stranger's is refused,
//! and its inviter tries again until the operator adds it as a contact, for
//! up to 7 days): nobody else can make this node join groups. A sender
//! key is taken from a member of a group this node is in, contact or not.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tacnode_domain::e2e::SealedMessage;
use tacnode_domain::gossip::GossipMessage;
use tacnode_domain::group::{GroupId, Role};
use tacnode_domain::store::{InsertOutcome, SecretBytes};
use tacnode_domain::{
    Content, Direction, IdentityKey, MAX_INVITATION_OPS, MessageId, NodeId, PeerAddress, UnixMillis,
};
use tacnode_gossip::PlumtreeConfig;
use tacnode_messaging::{Message, encode_group_broadcast};

use super::{NodeError, NodeEvent, Result, Shared, State};
use crate::group::{GroupChannel, GroupError, GroupOutput, GroupPickleError};

/// Most groups one node is in.
pub const MAX_GROUPS: usize = 64;
/// How often the group task runs the channels' timers and their links
/// while any channel exists.
pub(crate) const GROUP_TICK_MS: u64 = 1_000;
/// How long a member whose link failed is left out of the link choice:
/// this, doubled after each failure in a row (a member that has not seen
/// the invitation or the add yet refuses the link for a moment), up to
/// [`LINK_RETRY_MAX_MS`].
pub(crate) const LINK_RETRY_MS: u64 = 2_000;
/// The longest a member whose link keeps failing is left out.
pub(crate) const LINK_RETRY_MAX_MS: u64 = 60_000;
/// How long a sender key or invitation that could not be handed over
/// waits before the next try: this, doubled after each failed try (the
/// recipient may refuse a key until the invitation it waits for arrives),
/// up to [`OWED_RETRY_MAX_MS`].
pub(crate) const OWED_RETRY_MS: u64 = 2_000;
/// The longest wait between two tries of a key or invitation.
pub(crate) const OWED_RETRY_MAX_MS: u64 = 60_000;
/// After this long an undeliverable key or invitation is given up (the
/// member gets our next key, or is invited again by `group add`).
pub(crate) const OWED_GIVE_UP_MS: u64 = 7 * 24 * 3_600_000;
/// Most keys and invitations waiting for another try.
const MAX_OWED: usize = 4_096;
/// Most sender keys kept for groups whose invitation has not arrived.
const MAX_EARLY_KEYS: usize = 64;
/// Most of those from one sender: a contact that sends keys for groups
/// that do not exist pushes out only its own.
const MAX_EARLY_KEYS_PER_SENDER: usize = 8;
/// How long the group task sleeps with no channel (it is woken on change).
const IDLE_WAIT_MS: u64 = 3_600_000;

/// A group as the operator lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// Its id.
    pub id: GroupId,
    /// Its name.
    pub name: String,
    /// Members as this node sees them.
    pub members: usize,
    /// This node is an admin.
    pub admin: bool,
    /// This node is still a member (false once removed).
    pub member: bool,
    /// Overlay links up now.
    pub links: usize,
    /// Why its stored state cannot be read, when it cannot: the group is
    /// left out (name, members and role unknown) and its row kept as it is
    /// until an invitation replaces it.
    pub unreadable: Option<String>,
}

/// One member of a group as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    /// Its identity key.
    pub identity_key: IdentityKey,
    /// Its contact name, when it is one.
    pub name: Option<String>,
    /// Admin or member.
    pub admin: bool,
    /// This node itself.
    pub me: bool,
    /// An overlay link to it is up.
    pub linked: bool,
}

/// Something the group task does on the network (for the channels and
/// the announcement board).
pub(crate) enum GroupAction {
    /// An overlay message for a neighbour.
    Gossip { to: NodeId, message: GossipMessage },
    /// A key or invitation, sealed in the pairwise session with `to`.
    Pairwise {
        to: NodeId,
        content: Content,
        first: UnixMillis,
        tries: u32,
        /// Sealed by an earlier try the peer never answered: sent again as
        /// it is, so retries do not move the session's chain on (the peer
        /// skips at most `tacnode_crypto::ratchet::MAX_SKIP` messages).
        sealed: Option<Box<SealedMessage>>,
    },
}

/// A key or invitation to try again.
struct Owed {
    to: NodeId,
    content: Content,
    first: UnixMillis,
    tries: u32,
    due: UnixMillis,
    /// What the first try sealed, while the peer has not answered it and
    /// the session has not started anew.
    sealed: Option<Box<SealedMessage>>,
}

/// The node's group channels and what waits around them.
#[derive(Default)]
pub(crate) struct GroupBook {
    channels: BTreeMap<GroupId, GroupChannel>,
    /// Channels are read from the store on first use, and again after a
    /// batch that did not commit.
    loaded: bool,
    ever_loaded: bool,
    /// Groups whose stored state does not parse: left out, so the others
    /// run on; their rows stay untouched until an invitation replaces them.
    unreadable: BTreeMap<GroupId, Arc<GroupPickleError>>,
    early_keys: VecDeque<(IdentityKey, GroupId, SecretBytes)>,
    owed: VecDeque<Owed>,
    /// Per member whose link failed: until when it is left out, and the
    /// failures in a row.
    link_retry: HashMap<NodeId, (UnixMillis, u32)>,
    pub(crate) pending: Vec<GroupAction>,
    /// Peers a key or invitation is on its way to: one at a time per peer,
    /// so two never start a session with it at once.
    sending_to: std::collections::HashSet<NodeId>,
    /// Peers a gossip call is on its way to: their next messages wait for
    /// it, so each neighbour gets them in order.
    gossiping_to: std::collections::HashSet<NodeId>,
    /// The network-wide announcement overlay (see [`super::announce`]).
    pub(crate) board: Option<crate::announcements::AnnouncementBoard>,
}

impl GroupBook {
    /// Keeps a sender key for a group whose invitation has not arrived: at
    /// most [`MAX_EARLY_KEYS_PER_SENDER`] from one sender (its oldest goes)
    /// and [`MAX_EARLY_KEYS`] in all (the oldest goes).
    fn hold_early_key(&mut self, from: IdentityKey, group: GroupId, distribution: SecretBytes) {
        let held = self
            .early_keys
            .iter()
            .filter(|(k, _, _)| *k == from)
            .count();
        if held >= MAX_EARLY_KEYS_PER_SENDER {
            if let Some(oldest) = self.early_keys.iter().position(|(k, _, _)| *k == from) {
                self.early_keys.remove(oldest);
            }
        } else if self.early_keys.len() >= MAX_EARLY_KEYS {
            self.early_keys.pop_front();
        }
        self.early_keys.push_back((from, group, distribution));
    }

    /// The session with `peer` starts anew: what was sealed in the old one
    /// for it is sealed again.
    pub(crate) fn forget_sealed(&mut self, peer: &NodeId) {
        for o in self.owed.iter_mut().filter(|o| o.to == *peer) {
            o.sealed = None;
        }
    }

    /// Memory may be ahead of the disk: read the channels again on next use.
    pub(crate) fn discard(&mut self) {
        self.loaded = false;
        self.channels.clear();
        self.unreadable.clear();
    }

    /// Groups kept on disk, readable or not: what counts toward
    /// [`MAX_GROUPS`].
    fn kept(&self) -> usize {
        self.channels.len() + self.unreadable.len()
    }

    /// The identity key of a member of any of our groups.
    pub(crate) fn member_key(&self, id: &NodeId) -> Option<IdentityKey> {
        self.channels.values().find_map(|c| c.member_key(id))
    }

    /// Whether `peer` may be linked at `t` (its last call did not fail
    /// within its back-off).
    pub(crate) fn link_ok(&self, peer: &NodeId, t: UnixMillis) -> bool {
        self.link_retry
            .get(peer)
            .is_none_or(|(until, _)| *until <= t)
    }

    /// Whether `sender` is a member of `group`, which we are in.
    fn is_member_of(&self, group: &GroupId, sender: &IdentityKey) -> bool {
        self.channels
            .get(group)
            .is_some_and(|c| c.members().contains(sender))
    }

    /// Whether a group key from `sender` for `group` is welcome from a
    /// peer that is not a contact.
    pub(crate) fn admits_key(&self, group: &GroupId, sender: &IdentityKey) -> bool {
        self.is_member_of(group, sender)
    }
}

/// `base` doubled once per failure in a row (`tries`), at most `max`: the
/// back-off of group links and of keys and invitations.
fn doubled(base: u64, tries: u32, max: u64) -> u64 {
    base.saturating_mul(1 << tries.min(16)).min(max)
}

/// The overlay timers for this node's profile.
fn gossip_config(shared: &Shared) -> PlumtreeConfig {
    shared.config.gossip.clone()
}

/// Reads the channels from the store if they are not in memory.
pub(crate) fn ensure_loaded(st: &mut State, shared: &Shared) -> Result<()> {
    if st.groups.loaded {
        return Ok(());
    }
    let first = !st.groups.ever_loaded;
    let mut channels = BTreeMap::new();
    let mut unreadable = BTreeMap::new();
    for (id, pickle) in st.store.groups()? {
        match GroupChannel::from_bytes(&shared.identity, pickle.as_slice(), gossip_config(shared)) {
            Ok(mut channel) => {
                if first {
                    channel.distribute_again();
                }
                channels.insert(id, channel);
            }
            Err(source) => {
                // One damaged row must not stop every other group.
                if first {
                    tracing::error!(
                        group = %hex(id.as_bytes()),
                        error = %source,
                        "the stored state of a group cannot be read: it is left out and its row \
                         kept as it is; the other groups run on. An admin of the group running \
                         `tacnode group add` for this node again replaces it, or restore the \
                         database from a backup"
                    );
                }
                unreadable.insert(id, Arc::new(source));
            }
        }
    }
    st.groups.channels = channels;
    st.groups.unreadable = unreadable;
    st.groups.loaded = true;
    st.groups.ever_loaded = true;
    // The keys the reload put out, on their way after the next tick.
    for id in st.groups.channels.keys().copied().collect::<Vec<_>>() {
        let (actions, _, _) = drain(st, shared, id)?;
        st.groups.pending.extend(actions);
    }
    Ok(())
}

/// Takes what a channel asks for: network actions are returned, messages
/// filed, views acted on. Does not save; the flag says whether the
/// channel's kept state changed (anything but gossip came out).
fn drain(
    st: &mut State,
    shared: &Shared,
    id: GroupId,
) -> Result<(Vec<GroupAction>, Vec<NodeEvent>, bool)> {
    let t = shared.now();
    let mut actions = Vec::new();
    let mut events = Vec::new();
    let mut changed = false;
    while let Some(channel) = st.groups.channels.get_mut(&id) {
        let Some(output) = channel.poll_output() else {
            break;
        };
        changed |= !matches!(output, GroupOutput::Gossip { .. });
        match output {
            GroupOutput::Gossip { to, message } => {
                actions.push(GroupAction::Gossip { to, message })
            }
            GroupOutput::Distribute {
                to,
                group,
                distribution,
            } => actions.push(GroupAction::Pairwise {
                to: NodeId::from_identity(&to),
                content: Content::GroupKey {
                    group,
                    distribution: SecretBytes::from(distribution.to_bytes()),
                },
                first: t,
                tries: 0,
                sealed: None,
            }),
            GroupOutput::Invite { to, ops } => {
                if ops.len() > MAX_INVITATION_OPS {
                    tracing::warn!(
                        group = %channel.name(),
                        "the group's history is too long to invite a member ({} operations, at most {MAX_INVITATION_OPS}); create the group anew",
                        ops.len()
                    );
                } else {
                    actions.push(GroupAction::Pairwise {
                        to: NodeId::from_identity(&to),
                        content: Content::GroupInvite(ops),
                        first: t,
                        tries: 0,
                        sealed: None,
                    });
                }
            }
            GroupOutput::Delivered(d) => {
                let Content::Text(text) = d.plaintext.content else {
                    continue;
                };
                let group_name = channel.name().to_owned();
                let sender = NodeId::from_identity(&d.sender);
                let time = st.inbound_time(&sender, d.plaintext.sent, t);
                let message_id = d.plaintext.message_id;
                if st.store.insert_group_message(
                    &id,
                    &sender,
                    Direction::Inbound,
                    &message_id,
                    &text,
                    time,
                )? == InsertOutcome::Inserted
                {
                    events.push(NodeEvent::GroupMessage {
                        group: id,
                        group_name,
                        from: sender,
                        message_id,
                        text,
                        time,
                        outbound: false,
                    });
                }
            }
            GroupOutput::ViewChanged { removed } => {
                if removed.contains(&shared.identity.identity_key()) {
                    events.push(NodeEvent::GroupRemoved {
                        group: id,
                        group_name: channel.name().to_owned(),
                    });
                }
                // The new key travels before our next message is written.
                channel.rotate_if_due(&mut st.rng, t);
            }
        }
    }
    Ok((actions, events, changed))
}

/// Drains channel `id` and keeps its state, in the caller's batch.
fn settle(st: &mut State, shared: &Shared, id: GroupId, events: &mut Vec<NodeEvent>) -> Result<()> {
    let (actions, more, _) = drain(st, shared, id)?;
    if let Some(channel) = st.groups.channels.get(&id) {
        st.store
            .save_group(&id, &channel.to_bytes(), shared.now())?;
    }
    st.groups.pending.extend(actions);
    events.extend(more);
    Ok(())
}

/// Runs `f` on the channels in one store batch, then settles `changed`:
/// the channels it touched. Events go out once the batch is committed,
/// and the group task is woken for the actions. A refusal (unknown group,
/// not an admin, a link refused) changes nothing and keeps everything in
/// memory; only when the store failed is memory read again from what was
/// committed. Actions this call queued go only once it committed.
fn in_batch<T>(
    st: &mut State,
    shared: &Shared,
    f: impl FnOnce(&mut State, &Shared) -> Result<(T, Vec<GroupId>)>,
) -> Result<T> {
    ensure_loaded(st, shared)?;
    let mark = st.groups.pending.len();
    let mut events = Vec::new();
    let result = tacnode_domain::ports::batch_within(
        st,
        |st: &mut State| &mut *st.store,
        |st| {
            let (value, changed) = f(st, shared)?;
            for id in changed {
                settle(st, shared, id, &mut events)?;
            }
            Ok::<_, NodeError>(value)
        },
    );
    if let Err(e) = &result {
        st.groups.pending.truncate(mark);
        if matches!(e, NodeError::Storage(_)) {
            st.discard_uncommitted();
        }
    }
    let value = result?;
    for e in events {
        shared.emit(e);
    }
    shared.wake_groups.notify_one();
    Ok(value)
}

/// The group named `name` (or whose id in hex starts with it).
fn find(st: &State, name: &str) -> Result<GroupId> {
    let by_name: Vec<GroupId> = st
        .groups
        .channels
        .iter()
        .filter(|(_, c)| c.name() == name)
        .map(|(id, _)| *id)
        .collect();
    match by_name.as_slice() {
        [one] => return Ok(*one),
        [] => {}
        _ => return Err(NodeError::AmbiguousGroup(name.to_owned())),
    }
    let prefix = name.to_ascii_lowercase();
    let by_id: Vec<GroupId> = st
        .groups
        .channels
        .keys()
        .filter(|id| prefix.len() >= 8 && hex(id.as_bytes()).starts_with(&prefix))
        .copied()
        .collect();
    match by_id.as_slice() {
        [one] => Ok(*one),
        [] => match st
            .groups
            .unreadable
            .iter()
            .find(|(id, _)| prefix.len() >= 8 && hex(id.as_bytes()).starts_with(&prefix))
        {
            Some((id, source)) => Err(NodeError::CorruptGroup {
                group: *id,
                source: Arc::clone(source),
            }),
            None => Err(NodeError::UnknownGroup(name.to_owned())),
        },
        _ => Err(NodeError::AmbiguousGroup(name.to_owned())),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn channel_mut<'a>(st: &'a mut State, id: &GroupId) -> Result<&'a mut GroupChannel> {
    st.groups
        .channels
        .get_mut(id)
        .ok_or_else(|| NodeError::UnknownGroup(hex(id.as_bytes())))
}

/// Checks that this node may change `id`'s members.
fn require_admin(st: &State, shared: &Shared, id: &GroupId) -> Result<()> {
    let channel = st
        .groups
        .channels
        .get(id)
        .ok_or_else(|| NodeError::UnknownGroup(hex(id.as_bytes())))?;
    if !channel.is_member() {
        return Err(NodeError::NotInGroup(channel.name().to_owned()));
    }
    if !channel.is_admin(&shared.identity.identity_key()) {
        return Err(NodeError::NotGroupAdmin(channel.name().to_owned()));
    }
    Ok(())
}

/// Creates the group `name`, with this node as its admin.
pub(crate) fn create(st: &mut State, shared: &Shared, name: &str) -> Result<GroupInfo> {
    in_batch(st, shared, |st, shared| {
        if st.groups.channels.values().any(|c| c.name() == name) {
            return Err(NodeError::GroupNameTaken(name.to_owned()));
        }
        if st.groups.kept() >= MAX_GROUPS {
            return Err(NodeError::TooManyGroups { max: MAX_GROUPS });
        }
        let channel = GroupChannel::create(
            &mut st.rng,
            &shared.identity,
            name,
            shared.now(),
            gossip_config(shared),
        )?;
        let id = channel.group_id();
        st.groups.channels.insert(id, channel);
        Ok((id, vec![id]))
    })
    .and_then(|id| {
        list(st, shared)?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or_else(|| NodeError::UnknownGroup(name.to_owned()))
    })
}

/// Every group this node is in (or was, until removed), by name.
pub(crate) fn list(st: &mut State, shared: &Shared) -> Result<Vec<GroupInfo>> {
    ensure_loaded(st, shared)?;
    let me = shared.identity.identity_key();
    let mut all: Vec<GroupInfo> = st
        .groups
        .channels
        .iter()
        .map(|(id, c)| GroupInfo {
            id: *id,
            name: c.name().to_owned(),
            members: c.members().len(),
            admin: c.is_admin(&me),
            member: c.is_member(),
            links: c.neighbours(),
            unreadable: None,
        })
        .chain(st.groups.unreadable.iter().map(|(id, e)| GroupInfo {
            id: *id,
            name: String::new(),
            members: 0,
            admin: false,
            member: false,
            links: 0,
            unreadable: Some(e.to_string()),
        }))
        .collect();
    all.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.id.as_bytes().cmp(b.id.as_bytes()))
    });
    Ok(all)
}

/// The members of the group `name`.
pub(crate) fn members(st: &mut State, shared: &Shared, name: &str) -> Result<Vec<GroupMember>> {
    ensure_loaded(st, shared)?;
    let id = find(st, name)?;
    let me = shared.identity.identity_key();
    let channel = st
        .groups
        .channels
        .get(&id)
        .ok_or_else(|| NodeError::UnknownGroup(name.to_owned()))?;
    let mut out = Vec::new();
    for key in channel.members() {
        let node = NodeId::from_identity(&key);
        out.push(GroupMember {
            identity_key: key,
            name: st.store.contact(&node)?.map(|c| c.name),
            admin: channel.is_admin(&key),
            me: key == me,
            linked: channel.is_neighbour(&node),
        });
    }
    out.sort_by(|a, b| {
        (!a.me, a.name.is_none(), &a.name, a.identity_key.as_bytes()).cmp(&(
            !b.me,
            b.name.is_none(),
            &b.name,
            b.identity_key.as_bytes(),
        ))
    });
    Ok(out)
}

/// Adds `member` (a contact or `key_…` address) to the group `name`; if it
/// is a member already, sends it the invitation and our key again.
pub(crate) fn add(st: &mut State, shared: &Shared, name: &str, member: &str) -> Result<()> {
    in_batch(st, shared, |st, shared| {
        let id = find(st, name)?;
        require_admin(st, shared, &id)?;
        let key = member_identity(st, member)?;
        if key == shared.identity.identity_key() {
            return Err(NodeError::OwnAddress);
        }
        let t = shared.now();
        let channel = channel_mut(st, &id)?;
        if channel.members().contains(&key) {
            let ops = channel.ops();
            channel.distribute_again();
            if ops.len() <= MAX_INVITATION_OPS {
                st.groups.pending.push(GroupAction::Pairwise {
                    to: NodeId::from_identity(&key),
                    content: Content::GroupInvite(ops),
                    first: t,
                    tries: 0,
                    sealed: None,
                });
            }
        } else {
            channel.add(t, &shared.identity, key, Role::Member)?;
        }
        Ok(((), vec![id]))
    })
}

/// Removes `member` from the group `name`; our key is replaced at once.
pub(crate) fn remove(st: &mut State, shared: &Shared, name: &str, member: &str) -> Result<()> {
    in_batch(st, shared, |st, shared| {
        let id = find(st, name)?;
        require_admin(st, shared, &id)?;
        let key = member_identity(st, member)?;
        let t = shared.now();
        let channel = st
            .groups
            .channels
            .get_mut(&id)
            .ok_or_else(|| NodeError::UnknownGroup(name.to_owned()))?;
        if !channel.members().contains(&key) {
            return Err(NodeError::NotAGroupMember {
                member: member.to_owned(),
                group: channel.name().to_owned(),
            });
        }
        channel.remove(t, &shared.identity, key)?;
        channel.rotate_if_due(&mut st.rng, t);
        Ok(((), vec![id]))
    })
}

/// Writes `text` to the group `name`; its id.
pub(crate) fn send(st: &mut State, shared: &Shared, name: &str, text: &str) -> Result<MessageId> {
    if text.is_empty() {
        return Err(NodeError::EmptyText);
    }
    let content = Content::text(text)?;
    let last_outbox_time = st.last_outbox_time;
    let sent = in_batch(st, shared, |st, shared| {
        let id = find(st, name)?;
        let me = shared.node_id();
        let channel = st
            .groups
            .channels
            .get(&id)
            .ok_or_else(|| NodeError::UnknownGroup(name.to_owned()))?;
        if !channel.is_member() {
            return Err(NodeError::NotInGroup(channel.name().to_owned()));
        }
        let group_name = channel.name().to_owned();
        // The id is the broadcast's, so it need not travel.
        let t = st.next_outbox_time(shared.now());
        let placeholder = MessageId([0; tacnode_domain::MESSAGE_ID_LEN]);
        let plaintext = super::plaintext_for(placeholder, content, t);
        let channel = st
            .groups
            .channels
            .get_mut(&id)
            .ok_or_else(|| NodeError::UnknownGroup(name.to_owned()))?;
        let broadcast = channel.send(&mut st.rng, t, &plaintext)?;
        let message_id = MessageId::of_group_broadcast(&broadcast);
        st.store
            .insert_group_message(&id, &me, Direction::Outbound, &message_id, text, t)?;
        Ok(((id, message_id, group_name, t), vec![id]))
    });
    let (id, message_id, group_name, time) = match sent {
        Ok(s) => s,
        Err(e) => {
            // Nothing was written: reuse the times.
            st.last_outbox_time = last_outbox_time;
            return Err(e);
        }
    };
    shared.emit(NodeEvent::GroupMessage {
        group: id,
        group_name,
        from: shared.node_id(),
        message_id,
        text: text.to_owned(),
        time,
        outbound: true,
    });
    Ok(message_id)
}

/// A member's overlay message; refused (with why) when it is for no group
/// of ours or from a member we cannot link to.
pub(crate) fn receive_gossip(
    st: &mut State,
    shared: &Shared,
    from: NodeId,
    message: GossipMessage,
) -> Result<()> {
    if super::announce::is_announcement(&message) {
        let (actions, events) = super::announce::receive(st, shared, from, message)?;
        st.groups.pending.extend(actions);
        for e in events {
            shared.emit(e);
        }
        shared.wake_groups.notify_one();
        return Ok(());
    }
    in_batch(st, shared, |st, shared| {
        let topic = message.topic();
        let id = st
            .groups
            .channels
            .iter()
            .find(|(_, c)| c.topic() == topic && c.is_member())
            .map(|(id, _)| *id)
            .ok_or(NodeError::NotInGroup(format!("topic {:?}", topic)))?;
        let t = shared.now();
        let channel = channel_mut(st, &id)?;
        if !channel.is_neighbour(&from) {
            channel.neighbour_up(t, from)?;
        }
        st.groups.link_retry.remove(&from);
        let channel = channel_mut(st, &id)?;
        tracing::trace!(me = %shared.node_id(), peer = %from, "gossip {message:?}");
        if let Err(e) = channel.handle_gossip(t, from, message) {
            tracing::debug!(peer = %from, group = %channel.name(), "group message refused: {e}");
        }
        Ok(((), vec![id]))
    })
}

/// A sender key arrived in the pairwise session with `from` (inside the
/// receiving batch: the caller commits; the group task is woken after).
pub(crate) fn receive_key(
    st: &mut State,
    shared: &Shared,
    from: IdentityKey,
    group: GroupId,
    distribution: SecretBytes,
    events: &mut Vec<NodeEvent>,
) -> Result<()> {
    ensure_loaded(st, shared)?;
    let Some(channel) = st.groups.channels.get_mut(&group) else {
        // Its invitation may still be on its way.
        st.groups.hold_early_key(from, group, distribution);
        return Ok(());
    };
    let distribution =
        tacnode_crypto::group::SenderKeyDistribution::from_bytes(distribution.as_slice())
            .map_err(GroupError::from)?;
    tracing::debug!(me = %shared.node_id(), from = %NodeId::from_identity(&from), "group key arrived");
    if let Err(e) = channel.handle_distribution(from, distribution) {
        tracing::debug!(group = %channel.name(), "sender key kept for later: {e}");
    }
    settle(st, shared, group, events)
}

/// An invitation from `from` arrived (inside the receiving batch).
pub(crate) fn receive_invite(
    st: &mut State,
    shared: &Shared,
    from: IdentityKey,
    ops: Vec<tacnode_domain::group::GroupOp>,
    events: &mut Vec<NodeEvent>,
) -> Result<()> {
    ensure_loaded(st, shared)?;
    let t = shared.now();
    let Some(create) = ops.first() else {
        return Err(GroupError::NoCreate.into());
    };
    let id = GroupId::from(create.id());
    if let Some(channel) = st.groups.channels.get_mut(&id) {
        // Known: what we missed of its history is merged in.
        for op in ops {
            let payload =
                encode_group_broadcast(&tacnode_domain::group::GroupBroadcast::Op(Box::new(op)));
            let _ = channel.receive_broadcast(&payload);
        }
        return settle(st, shared, id, events);
    }
    // An invitation to a group whose stored state cannot be read replaces
    // that state: the invitation carries the group's history, and the
    // members get our new key.
    let replaces = st.groups.unreadable.contains_key(&id);
    if !replaces && st.groups.kept() >= MAX_GROUPS {
        return Err(NodeError::TooManyGroups { max: MAX_GROUPS });
    }
    let mut channel =
        GroupChannel::join(&mut st.rng, &shared.identity, ops, t, gossip_config(shared))?;
    if !channel.is_member() {
        return Err(GroupError::NotAMember(shared.node_id()).into());
    }
    let early: Vec<_> = std::mem::take(&mut st.groups.early_keys)
        .into_iter()
        .collect();
    for (owner, group, distribution) in early {
        if group != id {
            st.groups.early_keys.push_back((owner, group, distribution));
            continue;
        }
        if let Ok(d) =
            tacnode_crypto::group::SenderKeyDistribution::from_bytes(distribution.as_slice())
        {
            let _ = channel.handle_distribution(owner, d);
        }
    }
    events.push(NodeEvent::GroupJoined {
        group: id,
        group_name: channel.name().to_owned(),
        by: NodeId::from_identity(&from),
    });
    st.groups.channels.insert(id, channel);
    settle(st, shared, id, events)?;
    if st.groups.unreadable.remove(&id).is_some() {
        tracing::warn!(
            group = %hex(id.as_bytes()),
            "a group whose stored state could not be read was joined again by invitation"
        );
    }
    Ok(())
}

/// One round of the group task on the state: timers, links, keys owed;
/// the actions to carry out and how long to wait before the next round.
fn tick(st: &mut State, shared: &Shared) -> Result<(Vec<GroupAction>, Duration)> {
    ensure_loaded(st, shared)?;
    let t = shared.now();
    let me = shared.node_id();
    // Failures are forgotten once a member has been back in the choice for
    // as long as the longest wait.
    st.groups
        .link_retry
        .retain(|_, (until, _)| until.saturating_add_millis(LINK_RETRY_MAX_MS) > t);
    let ids: Vec<GroupId> = st.groups.channels.keys().copied().collect();
    let mut events = Vec::new();
    for id in &ids {
        let retry = st.groups.link_retry.clone();
        let Some(channel) = st.groups.channels.get_mut(id) else {
            continue;
        };
        if channel.poll_timeout().is_some_and(|due| due <= t) {
            channel.handle_timeout(t);
        }
        let candidates: Vec<NodeId> = channel
            .member_ids()
            .filter(|m| **m != me && retry.get(*m).is_none_or(|(until, _)| *until <= t))
            .copied()
            .collect();
        for peer in channel.wanted_neighbours(&candidates) {
            if !channel.is_neighbour(&peer) {
                let _ = channel.neighbour_up(t, peer);
            }
        }
    }
    // What the timers and links brought out, in one batch: a channel whose
    // kept state changed is saved with what it delivered; if the batch
    // fails the channels are read again from what was committed.
    if !ids.is_empty() {
        let result = st.batch(|st| {
            for id in &ids {
                let (actions, more, changed) = drain(st, shared, *id)?;
                st.groups.pending.extend(actions);
                events.extend(more);
                if changed && let Some(channel) = st.groups.channels.get(id) {
                    st.store.save_group(id, &channel.to_bytes(), t)?;
                }
            }
            Ok(())
        });
        if result.is_err() {
            st.groups.discard();
            st.groups.pending.clear();
        }
        result?;
        for e in std::mem::take(&mut events) {
            shared.emit(e);
        }
    }
    let connected = shared.net.connected_peers();
    let (actions, more) = super::announce::tick(st, shared, &connected);
    st.groups.pending.extend(actions);
    for e in more {
        shared.emit(e);
    }
    // Keys and invitations tried before go first: a key must not overtake
    // the invitation it depends on.
    let mut actions = Vec::new();
    let mut later = VecDeque::new();
    while let Some(o) = st.groups.owed.pop_front() {
        if o.due <= t && !st.groups.sending_to.contains(&o.to) {
            actions.push(GroupAction::Pairwise {
                to: o.to,
                content: o.content,
                first: o.first,
                tries: o.tries,
                sealed: o.sealed,
            });
        } else {
            later.push_back(o);
        }
    }
    st.groups.owed = later;
    let (ready, waiting): (Vec<GroupAction>, Vec<GroupAction>) =
        std::mem::take(&mut st.groups.pending)
            .into_iter()
            .partition(|a| match a {
                GroupAction::Pairwise { to, .. } => !st.groups.sending_to.contains(to),
                GroupAction::Gossip { to, .. } => !st.groups.gossiping_to.contains(to),
            });
    st.groups.pending = waiting;
    actions.extend(ready);
    // One task per peer, its keys and invitations in order.
    for a in &actions {
        match a {
            GroupAction::Pairwise { to, .. } => st.groups.sending_to.insert(*to),
            GroupAction::Gossip { to, .. } => st.groups.gossiping_to.insert(*to),
        };
    }
    let busy = !st.groups.channels.is_empty()
        || !st.groups.owed.is_empty()
        || st
            .groups
            .board
            .as_ref()
            .is_some_and(|b| b.held() > 0 || !b.neighbours().is_empty());
    let wait = if busy { GROUP_TICK_MS } else { IDLE_WAIT_MS };
    Ok((actions, Duration::from_millis(wait)))
}

/// The group task: runs [`tick`] every [`GROUP_TICK_MS`] while any channel
/// exists (else when woken), and carries out what it returns.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let wait = match shared.with_state(tick).await {
            Ok((actions, wait)) => {
                perform(&shared, actions);
                wait
            }
            Err(NodeError::Stopping) => return,
            Err(e) => {
                tracing::warn!("group channels: {e:#}");
                Duration::from_millis(GROUP_TICK_MS)
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = shared.wake_groups.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Carries out `actions`: one task per peer, its gossip messages in
/// order, and one per peer for its keys and invitations, in order.
fn perform(shared: &Arc<Shared>, actions: Vec<GroupAction>) {
    type Item = (Content, UnixMillis, u32, Option<Box<SealedMessage>>);
    let mut by_peer: BTreeMap<NodeId, Vec<Item>> = BTreeMap::new();
    let mut gossip: BTreeMap<NodeId, Vec<GossipMessage>> = BTreeMap::new();
    for action in actions {
        match action {
            GroupAction::Gossip { to, message } => gossip.entry(to).or_default().push(message),
            GroupAction::Pairwise {
                to,
                content,
                first,
                tries,
                sealed,
            } => {
                by_peer
                    .entry(to)
                    .or_default()
                    .push((content, first, tries, sealed));
            }
        }
    }
    for (to, messages) in gossip {
        let task_shared = shared.clone();
        shared.spawn(async move {
            let shared = task_shared;
            let mut failure = None;
            for message in messages {
                let answer = async {
                    let addrs = super::send::endpoints_of(&shared, to).await?;
                    Ok::<_, NodeError>(
                        super::relay::call(&shared, to, &addrs, &Message::Gossip(message)).await?,
                    )
                }
                .await;
                match answer {
                    Ok(Message::GossipAck) => {}
                    Ok(other) => {
                        failure = Some(NodeError::UnexpectedAnswer {
                            peer: to,
                            answer: format!("{other:?}").chars().take(40).collect(),
                        });
                        break;
                    }
                    Err(e) => {
                        if let NodeError::Network(call) = &e {
                            super::send::unanswered_call(&shared, to, call);
                        }
                        failure = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = &failure {
                tracing::debug!(me = %shared.node_id(), peer = %to, "group link down: {e:#}");
            }
            let down = failure.is_some();
            shared.post_state(move |st, shared| {
                st.groups.gossiping_to.remove(&to);
                if down {
                    let t = shared.now();
                    let tries = st.groups.link_retry.get(&to).map_or(0, |(_, n)| *n);
                    let wait = doubled(LINK_RETRY_MS, tries, LINK_RETRY_MAX_MS);
                    st.groups
                        .link_retry
                        .insert(to, (t.saturating_add_millis(wait), tries.saturating_add(1)));
                    for channel in st.groups.channels.values_mut() {
                        channel.neighbour_down(&to);
                    }
                    if let Some(board) = st.groups.board.as_mut() {
                        board.neighbour_down(&to);
                    }
                }
                shared.wake_groups.notify_one();
            });
        });
    }
    for (to, list) in by_peer {
        let shared = shared.clone();
        let task_shared = shared.clone();
        shared.spawn(async move {
            let shared = task_shared;
            let mut failed = Vec::new();
            for (content, first, tries, sealed) in list {
                // After one failure the rest wait for the next try too.
                if !failed.is_empty() {
                    failed.push((content, first, tries, sealed));
                    continue;
                }
                let sealed = match sealed {
                    Some(sealed) => Ok(*sealed),
                    None => {
                        async {
                            super::send::ensure_session(&shared, to, !super::send::onion(&shared))
                                .await?;
                            super::receive::seal_content(&shared, to, content.clone()).await
                        }
                        .await
                    }
                };
                let sealed = match sealed {
                    Ok(sealed) => sealed,
                    Err(e) => {
                        tracing::debug!(peer = %to, "group key or invitation not sealed: {e:#}");
                        failed.push((content, first, tries, None));
                        continue;
                    }
                };
                match super::send::deliver_sealed(&shared, to, &sealed, true, None, None).await {
                    Ok(_) => {
                        tracing::debug!(me = %shared.node_id(), peer = %to, "group key or invitation sent");
                    }
                    // The peer answered: it opened this copy (an invitation
                    // from a non-contact is refused after that, and the
                    // same bytes again would pass as a replay) or cannot
                    // open it. Sealed anew next time.
                    Err(e @ super::send::AttemptError::Refused { .. }) => {
                        tracing::debug!(peer = %to, "group key or invitation refused: {e:#}");
                        failed.push((content, first, tries, None));
                    }
                    Err(e) => {
                        tracing::debug!(peer = %to, "group key or invitation not handed over: {e:#}");
                        failed.push((content, first, tries, Some(Box::new(sealed))));
                    }
                }
            }
            shared.post_state(move |st, shared| {
                st.groups.sending_to.remove(&to);
                let t = shared.now();
                for (content, first, tries, sealed) in failed {
                    if t.millis_since(first) >= OWED_GIVE_UP_MS {
                        tracing::warn!(peer = %to, "a group key or invitation could not be handed over for 7 days; given up");
                        continue;
                    }
                    if st.groups.owed.len() >= MAX_OWED {
                        st.groups.owed.pop_front();
                    }
                    let wait = doubled(OWED_RETRY_MS, tries, OWED_RETRY_MAX_MS);
                    st.groups.owed.push_back(Owed {
                        to,
                        content,
                        first,
                        tries: tries.saturating_add(1),
                        due: t.saturating_add_millis(wait),
                        sealed,
                    });
                }
                shared.wake_groups.notify_one();
            });
        });
    }
}

/// A member given by contact name or `key_…` address: its identity key.
fn member_identity(st: &State, member: &str) -> Result<IdentityKey> {
    if let Ok(address) = member.parse::<PeerAddress>() {
        return Ok(*address.identity_key());
    }
    let (id, contact) = super::resolve_target(st, member)?;
    contact
        .map(|c| c.identity_key)
        .ok_or(NodeError::UnknownIdentity(id))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tacnode_crypto::Identity;

    use super::*;

    /// A contact that floods keys for groups nobody invited us to pushes
    /// out its own held keys, never another member's.
    #[test]
    fn a_flood_of_early_keys_from_one_sender_pushes_out_only_its_own() {
        let mut rng = StdRng::seed_from_u64(3);
        let member = Identity::generate(&mut rng).identity_key();
        let flooder = Identity::generate(&mut rng).identity_key();
        let mut book = GroupBook::default();
        let awaited = GroupId([7; 32]);
        book.hold_early_key(member, awaited, SecretBytes::from(vec![1]));
        for n in 0..(MAX_EARLY_KEYS * 4) {
            let group = GroupId([u8::try_from(n % 251).unwrap_or(0); 32]);
            book.hold_early_key(flooder, group, SecretBytes::from(vec![2]));
        }
        let from_member: Vec<_> = book
            .early_keys
            .iter()
            .filter(|(k, _, _)| *k == member)
            .map(|(_, g, _)| *g)
            .collect();
        assert_eq!(from_member, vec![awaited]);
        let from_flooder = book
            .early_keys
            .iter()
            .filter(|(k, _, _)| *k == flooder)
            .count();
        assert_eq!(from_flooder, MAX_EARLY_KEYS_PER_SENDER);
        // Many senders: the whole is bounded too.
        for n in 0..(MAX_EARLY_KEYS * 2) {
            let sender = Identity::generate(&mut rng).identity_key();
            let group = GroupId([u8::try_from(n % 251).unwrap_or(0); 32]);
            book.hold_early_key(sender, group, SecretBytes::from(vec![3]));
        }
        assert_eq!(book.early_keys.len(), MAX_EARLY_KEYS);
    }
}
