use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_core::CryptoRng;
use tacnode_crypto::Identity;
use tacnode_crypto::group::{
    CHAIN_ID_LEN, GroupCiphertext, ROTATE_AFTER_MESSAGES, ReceiverChain, SenderChain,
    SenderKeyDistribution,
};
use tacnode_domain::gossip::{GossipId, GossipMessage, TOPIC_LEN, Topic, gossip_id};
use tacnode_domain::group::{
    Applied, GroupBroadcast, GroupId, GroupOp, GroupOpKind, Membership, MembershipView, Role,
};
use tacnode_domain::{IdentityKey, KEY_LEN, MessageId, NodeId, Plaintext, UnixMillis};
use tacnode_gossip::{GossipEvent, Plumtree, PlumtreeConfig};
use tacnode_messaging::{
    decode_group_broadcast, decode_group_op, decode_plaintext_with, encode_group_broadcast,
    encode_group_op, encode_plaintext_with,
};
use zeroize::Zeroizing;

use super::error::GroupError;
use super::neighbours::{GROUP_DEGREE, MAX_GROUP_NEIGHBOURS, preferred};
use super::pickle::{GroupPickleError, PICKLE_LIMITS, Reader, Writer};

/// A sending chain older than this is replaced before the next message
/// (besides after [`ROTATE_AFTER_MESSAGES`] messages and after any removal).
pub const GROUP_CHAIN_MAX_AGE_MS: u64 = 7 * 24 * 3_600_000;

/// Most chains kept per member (its current one and those before it, for
/// messages still on their way).
pub const MAX_CHAINS_PER_MEMBER: usize = 4;

/// Most messages kept while their sender's key has not arrived.
pub const MAX_WAITING_MESSAGES: usize = 1_024;

/// Most sender keys kept from identities not (yet) known as members.
pub const MAX_WAITING_DISTRIBUTIONS: usize = 64;

/// A group message as one member receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDelivery {
    /// Its broadcast id.
    pub id: GossipId,
    /// The member that wrote it.
    pub sender: IdentityKey,
    /// What it says.
    pub plaintext: Plaintext,
}

/// What a [`GroupChannel`] asks its driver to do or tells it.
#[derive(Clone, Debug)]
pub enum GroupOutput {
    /// Send this overlay message to a neighbour.
    Gossip {
        /// The neighbour.
        to: NodeId,
        /// The message.
        message: GossipMessage,
    },
    /// Send this member our sender key, sealed in the pairwise session.
    Distribute {
        /// The member.
        to: IdentityKey,
        /// The group.
        group: GroupId,
        /// Our current sending chain, from its current message on.
        distribution: Box<SenderKeyDistribution>,
    },
    /// Send this newly added member the group's operations, in the
    /// pairwise session: its invitation (also sent to a member just
    /// removed, so it learns of its removal).
    Invite {
        /// The member.
        to: IdentityKey,
        /// Every operation, the create first.
        ops: Vec<GroupOp>,
    },
    /// A member's message arrived (once).
    Delivered(GroupDelivery),
    /// The members changed.
    ViewChanged {
        /// Who is no longer a member.
        removed: BTreeSet<IdentityKey>,
    },
}

/// Where a held chain is filed: its id, then its owner's identity key.
type ChainKey = ([u8; CHAIN_ID_LEN], [u8; KEY_LEN]);

/// Every key filed under chain id `id`, whoever the owner.
fn chain_range(id: &[u8; CHAIN_ID_LEN]) -> std::ops::RangeInclusive<ChainKey> {
    (*id, [0; KEY_LEN])..=(*id, [0xff; KEY_LEN])
}

/// A chain we hold of another member's.
#[derive(Debug)]
struct HeldChain {
    owner: IdentityKey,
    chain: ReceiverChain,
}

/// One member's end of one group: its membership replica, its sending
/// chain and the chains of the others, and the overlay links. Sans-IO: the
/// driver feeds it time, links, neighbours' messages and what arrives in
/// pairwise sessions, and carries out its outputs.
///
/// - A message is encrypted with our sending chain (associated data: the
///   group's 32-byte id), pushed along the overlay; members open it with our chain,
///   which reached them sealed in the pairwise sessions.
/// - A neighbour's push is checked before it is forwarded: an operation's
///   signature, a message's chain signature (when the chain is held: a
///   message whose chain has not arrived yet is forwarded and kept).
/// - When the view loses anyone, our chain is replaced and the new one
///   sent to the remaining members before our next message; a chain also
///   turns over after [`ROTATE_AFTER_MESSAGES`] messages or
///   [`GROUP_CHAIN_MAX_AGE_MS`]. A member added gets our current chain.
pub struct GroupChannel {
    me: IdentityKey,
    me_id: NodeId,
    membership: Membership,
    topic: Topic,
    member_ids: BTreeMap<NodeId, IdentityKey>,
    overlay: Plumtree<NodeId>,
    sending: SenderChain,
    sending_since: UnixMillis,
    /// Members our current chain went to.
    holders: BTreeSet<IdentityKey>,
    /// By chain id, then owner: a member that hands out another's chain id
    /// gets a chain of its own under it, not the other's place.
    chains: BTreeMap<ChainKey, HeldChain>,
    chains_of: BTreeMap<IdentityKey, VecDeque<[u8; CHAIN_ID_LEN]>>,
    waiting: VecDeque<(GossipId, GroupCiphertext)>,
    waiting_keys: VecDeque<(IdentityKey, SenderKeyDistribution)>,
    outputs: VecDeque<GroupOutput>,
}

impl std::fmt::Debug for GroupChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupChannel")
            .field("group", &self.membership.group_id())
            .field("members", &self.member_ids.len())
            .field("chains", &self.chains.len())
            .finish_non_exhaustive()
    }
}

impl GroupChannel {
    /// Creates the group `name` with `identity` as its first admin.
    pub fn create<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &Identity,
        name: &str,
        now: UnixMillis,
        config: PlumtreeConfig,
    ) -> Result<Self, GroupError> {
        let unsigned = tacnode_domain::group::UnsignedGroupOp {
            group: None,
            author: identity.identity_key(),
            kind: GroupOpKind::Create { name: name.into() },
            parents: Vec::new(),
            lamport: 0,
        };
        let signature = identity.sign(&unsigned.signing_bytes());
        let membership = Membership::new(unsigned.with_signature(signature))?;
        Ok(Self::with_membership(
            identity,
            membership,
            SenderChain::new(rng),
            now,
            config,
        ))
    }

    /// Joins a group from its invitation: every operation, the create
    /// first. Our sender key goes to every member.
    pub fn join<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &Identity,
        ops: Vec<GroupOp>,
        now: UnixMillis,
        config: PlumtreeConfig,
    ) -> Result<Self, GroupError> {
        let mut ops = ops.into_iter();
        let create = ops.next().ok_or(GroupError::NoCreate)?;
        if !create.is_create() {
            return Err(GroupError::NoCreate);
        }
        let mut membership = Membership::new(create)?;
        for op in ops {
            membership.apply(op)?;
        }
        let mut channel =
            Self::with_membership(identity, membership, SenderChain::new(rng), now, config);
        channel.distribute_to_all();
        Ok(channel)
    }

    fn with_membership(
        identity: &Identity,
        membership: Membership,
        sending: SenderChain,
        now: UnixMillis,
        config: PlumtreeConfig,
    ) -> Self {
        let mut topic = [0u8; TOPIC_LEN];
        topic.copy_from_slice(&membership.group_id().0[..TOPIC_LEN]);
        let topic = Topic(topic);
        let mut channel = Self {
            me: identity.identity_key(),
            me_id: identity.node_id(),
            topic,
            member_ids: BTreeMap::new(),
            overlay: Plumtree::new(topic, config).with_salt(identity.node_id().as_bytes()),
            sending,
            sending_since: now,
            holders: BTreeSet::new(),
            membership,
            chains: BTreeMap::new(),
            chains_of: BTreeMap::new(),
            waiting: VecDeque::new(),
            waiting_keys: VecDeque::new(),
            outputs: VecDeque::new(),
        };
        channel.refresh_member_ids();
        channel
    }

    fn refresh_member_ids(&mut self) {
        self.member_ids = self
            .membership
            .members()
            .into_iter()
            .map(|k| (NodeId::from_identity(&k), k))
            .collect();
    }

    /// The group's id.
    pub fn group_id(&self) -> GroupId {
        self.membership.group_id()
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        self.membership.name()
    }

    /// The group's overlay topic.
    pub fn topic(&self) -> Topic {
        self.topic
    }

    /// The members as this member sees them.
    pub fn members(&self) -> BTreeSet<IdentityKey> {
        self.membership.members()
    }

    /// The members' node ids.
    pub fn member_ids(&self) -> impl Iterator<Item = &NodeId> {
        self.member_ids.keys()
    }

    /// Whether this node is still a member.
    pub fn is_member(&self) -> bool {
        self.membership.is_member(&self.me)
    }

    /// A hash of the members and their roles: equal on two members exactly
    /// when their views are.
    pub fn view_hash(&self) -> [u8; 32] {
        self.membership.view_hash()
    }

    /// Every operation, the create first: an invitation's content.
    pub fn ops(&self) -> Vec<GroupOp> {
        self.membership.ops_since(&[])
    }

    /// Whether `member` is an admin of the group, as this member sees it.
    pub fn is_admin(&self, member: &IdentityKey) -> bool {
        self.membership.is_admin(member)
    }

    /// Whether a link to `peer` is up in the overlay.
    pub fn is_neighbour(&self, peer: &NodeId) -> bool {
        self.overlay.is_neighbour(peer)
    }

    /// The identity key of the member with node id `id`.
    pub fn member_key(&self, id: &NodeId) -> Option<IdentityKey> {
        self.member_ids.get(id).copied()
    }

    /// Sends our current sender key to every other member again (after a
    /// restart, when a distribution may have been lost on its way): a
    /// member that holds it already ignores it.
    pub fn distribute_again(&mut self) {
        if self.is_member() {
            self.distribute_to_all();
        }
    }

    /// Links this member holds in the overlay.
    pub fn neighbours(&self) -> usize {
        self.overlay.eager_peers().count() + self.overlay.lazy_peers().count()
    }

    /// Which of `reachable` (nodes the driver can reach now) this member
    /// should link to: its [`GROUP_DEGREE`] preferred members. None once
    /// this node is no longer a member.
    pub fn wanted_neighbours(&self, reachable: &[NodeId]) -> Vec<NodeId> {
        if !self.is_member() {
            return Vec::new();
        }
        let members: Vec<NodeId> = reachable
            .iter()
            .filter(|p| self.member_ids.contains_key(p))
            .copied()
            .collect();
        let mut wanted = preferred(&self.topic, &self.me_id, &members);
        wanted.truncate(GROUP_DEGREE);
        wanted
    }

    /// A link to `peer` opened (either side dialled).
    pub fn neighbour_up(&mut self, now: UnixMillis, peer: NodeId) -> Result<(), GroupError> {
        if !self.is_member() {
            return Err(GroupError::Removed);
        }
        if !self.member_ids.contains_key(&peer) || peer == self.me_id {
            return Err(GroupError::NotAMember(peer));
        }
        if !self.overlay.is_neighbour(&peer) && self.neighbours() >= MAX_GROUP_NEIGHBOURS {
            return Err(GroupError::TooManyNeighbours {
                max: MAX_GROUP_NEIGHBOURS,
            });
        }
        self.overlay.neighbour_up(now, peer);
        self.pump(None);
        Ok(())
    }

    /// The link to `peer` closed.
    pub fn neighbour_down(&mut self, peer: &NodeId) {
        self.overlay.neighbour_down(peer);
    }

    /// Sends a message to the group.
    pub fn send<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: UnixMillis,
        plaintext: &Plaintext,
    ) -> Result<GossipId, GroupError> {
        if !self.is_member() {
            return Err(GroupError::Removed);
        }
        if self.rotation_due()
            || self.sending.should_rotate(ROTATE_AFTER_MESSAGES)
            || now.millis_since(self.sending_since) >= GROUP_CHAIN_MAX_AGE_MS
        {
            self.rotate(rng, now);
        }
        let group = self.group_id();
        // A text's id is its broadcast's ([`MessageId::of_group_broadcast`]):
        // it is left out, whatever `plaintext.message_id` says.
        let encoded = encode_plaintext_with(plaintext, |_, _| plaintext.message_id);
        let ciphertext = self.sending.encrypt(&group.0, &encoded)?;
        let payload = encode_group_broadcast(&GroupBroadcast::Message(ciphertext.to_bytes()));
        let id = self.overlay.broadcast(now, payload)?;
        self.pump(None);
        Ok(id)
    }

    /// Adds `member` with `role` (this member must be an admin): the
    /// operation goes to the group, the invitation and our key to the new
    /// member.
    pub fn add(
        &mut self,
        now: UnixMillis,
        identity: &Identity,
        member: IdentityKey,
        role: Role,
    ) -> Result<(), GroupError> {
        self.write_op(now, identity, GroupOpKind::Add { member, role })
    }

    /// Removes `member` (this member must be an admin). Our chain is
    /// replaced before our next message.
    pub fn remove(
        &mut self,
        now: UnixMillis,
        identity: &Identity,
        member: IdentityKey,
    ) -> Result<(), GroupError> {
        self.write_op(now, identity, GroupOpKind::Remove { member })
    }

    fn write_op(
        &mut self,
        now: UnixMillis,
        identity: &Identity,
        kind: GroupOpKind,
    ) -> Result<(), GroupError> {
        let unsigned = self.membership.next_op(self.me, kind)?;
        let signature = identity.sign(&unsigned.signing_bytes());
        let op = unsigned.with_signature(signature);
        let payload = encode_group_broadcast(&GroupBroadcast::Op(Box::new(op.clone())));
        self.apply_op(op)?;
        self.overlay.broadcast(now, payload)?;
        self.pump(None);
        Ok(())
    }

    /// A member's sender key arrived in its pairwise session with us.
    pub fn handle_distribution(
        &mut self,
        from: IdentityKey,
        distribution: SenderKeyDistribution,
    ) -> Result<(), GroupError> {
        if from == self.me {
            return Ok(());
        }
        if !self.membership.is_member(&from) {
            // Its Add may still be on its way: keep the key a while.
            if self.waiting_keys.len() >= MAX_WAITING_DISTRIBUTIONS {
                self.waiting_keys.pop_front();
            }
            self.waiting_keys.push_back((from, distribution));
            return Err(GroupError::NotAMember(NodeId::from_identity(&from)));
        }
        let id = *distribution.chain_id();
        if !self.chains.contains_key(&(id, *from.as_bytes())) {
            let list = self.chains_of.entry(from).or_default();
            list.push_back(id);
            while list.len() > MAX_CHAINS_PER_MEMBER {
                if let Some(old) = list.pop_front() {
                    self.chains.remove(&(old, *from.as_bytes()));
                }
            }
            self.chains.insert(
                (id, *from.as_bytes()),
                HeldChain {
                    owner: from,
                    chain: ReceiverChain::new(&distribution),
                },
            );
        }
        // Messages that waited for this chain.
        let waiting = std::mem::take(&mut self.waiting);
        for (gid, ciphertext) in waiting {
            // One that this key does not open (another member's under the
            // same id) waits on for its own.
            if ciphertext.chain_id() != &id || !self.open(gid, &ciphertext) {
                self.waiting.push_back((gid, ciphertext));
            }
        }
        Ok(())
    }

    /// A neighbour's overlay message.
    pub fn handle_gossip(
        &mut self,
        now: UnixMillis,
        from: NodeId,
        message: GossipMessage,
    ) -> Result<(), GroupError> {
        if !self.member_ids.contains_key(&from) {
            return Err(GroupError::NotAMember(from));
        }
        // Only over a link the driver reported: the neighbour limit holds.
        if !self.overlay.is_neighbour(&from) {
            return Err(GroupError::NotANeighbour(from));
        }
        let group = self.membership.group_id();
        let chains = &mut self.chains;
        let mut opened: Option<(IdentityKey, Vec<u8>)> = None;
        let result = self
            .overlay
            .handle_message_checked(now, from, message, |_, payload| {
                match decode_group_broadcast(payload) {
                    Ok(GroupBroadcast::Op(op)) => {
                        op.body.group == Some(group) && op.verify_signature().is_ok()
                    }
                    Ok(GroupBroadcast::Message(bytes)) => {
                        let Ok(ciphertext) = GroupCiphertext::from_bytes(&bytes) else {
                            return false;
                        };
                        let mut held_any = false;
                        for (_, held) in chains.range_mut(chain_range(ciphertext.chain_id())) {
                            held_any = true;
                            // The signature is checked first: only the
                            // chain's owner opens it.
                            if let Ok(plain) = held.chain.decrypt(&group.0, &ciphertext) {
                                opened = Some((held.owner, plain.to_vec()));
                                return true;
                            }
                        }
                        // No chain by that id yet: not ours to judge;
                        // forwarded, kept.
                        !held_any
                    }
                    Err(_) => false,
                }
            });
        self.pump(opened);
        result.map_err(GroupError::from)
    }

    /// A group broadcast that came another way than the overlay (a
    /// mailbox): processed as if pushed, not forwarded.
    pub fn receive_broadcast(&mut self, payload: &[u8]) -> Result<(), GroupError> {
        let id = gossip_id(payload);
        if self.overlay.has(&id) {
            return Ok(());
        }
        self.take_broadcast(id, payload, None)
    }

    /// Runs the overlay's timers.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        self.overlay.handle_timeout(now);
        self.pump(None);
    }

    /// When [`GroupChannel::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.overlay.poll_timeout()
    }

    /// The next thing to do or to know.
    pub fn poll_output(&mut self) -> Option<GroupOutput> {
        self.outputs.pop_front()
    }

    /// Before a broadcast's first delivery, what it carried
    /// (`opened`: a message the check already decrypted).
    fn pump(&mut self, mut opened: Option<(IdentityKey, Vec<u8>)>) {
        while let Some((to, message)) = self.overlay.poll_transmit() {
            self.outputs.push_back(GroupOutput::Gossip { to, message });
        }
        while let Some(GossipEvent::Delivered { id, payload, .. }) = self.overlay.poll_event() {
            // A refused payload was refused by the check already.
            let _ = self.take_broadcast(id, &payload, opened.take());
        }
        while let Some((to, message)) = self.overlay.poll_transmit() {
            self.outputs.push_back(GroupOutput::Gossip { to, message });
        }
    }

    fn take_broadcast(
        &mut self,
        id: GossipId,
        payload: &[u8],
        opened: Option<(IdentityKey, Vec<u8>)>,
    ) -> Result<(), GroupError> {
        match decode_group_broadcast(payload)? {
            GroupBroadcast::Op(op) => self.apply_op(*op),
            GroupBroadcast::Message(bytes) => {
                if let Some((sender, plain)) = opened {
                    self.deliver(id, sender, &plain);
                    return Ok(());
                }
                let ciphertext = GroupCiphertext::from_bytes(&bytes)?;
                let held = self
                    .chains
                    .range(chain_range(ciphertext.chain_id()))
                    .next()
                    .is_some();
                if !held || !self.open(id, &ciphertext) {
                    if self.waiting.len() >= MAX_WAITING_MESSAGES {
                        self.waiting.pop_front();
                    }
                    self.waiting.push_back((id, ciphertext));
                }
                Ok(())
            }
        }
    }

    /// Opens `ciphertext` with a chain held under its id; whether one did.
    fn open(&mut self, id: GossipId, ciphertext: &GroupCiphertext) -> bool {
        let group = self.membership.group_id();
        let mut opened = None;
        for (_, held) in self.chains.range_mut(chain_range(ciphertext.chain_id())) {
            if let Ok(plain) = held.chain.decrypt(&group.0, ciphertext) {
                opened = Some((held.owner, plain));
                break;
            }
        }
        match opened {
            Some((owner, plain)) => {
                self.deliver(id, owner, &plain);
                true
            }
            None => false,
        }
    }

    fn deliver(&mut self, id: GossipId, sender: IdentityKey, plain: &[u8]) {
        if !self.membership.is_member(&sender) {
            return;
        }
        if let Ok(mut plaintext) =
            decode_plaintext_with(plain, |_, _| MessageId::of_group_broadcast(&id))
        {
            // A text's id is its broadcast's, whatever the sender wrote: no
            // member picks the ids of its texts.
            if matches!(plaintext.content, tacnode_domain::Content::Text(_)) {
                plaintext.message_id = MessageId::of_group_broadcast(&id);
            }
            self.outputs
                .push_back(GroupOutput::Delivered(GroupDelivery {
                    id,
                    sender,
                    plaintext,
                }));
        }
    }

    fn apply_op(&mut self, op: GroupOp) -> Result<(), GroupError> {
        let before = self.membership.view().clone();
        let applied = self.membership.apply(op)?;
        if let Applied::Integrated {
            view_changed: true, ..
        } = applied
        {
            self.view_changed(&before);
        }
        Ok(())
    }

    fn view_changed(&mut self, before: &MembershipView) {
        self.refresh_member_ids();
        let removed = self.membership.removed_since(before);
        for gone in &removed {
            self.overlay.neighbour_down(&NodeId::from_identity(gone));
            if let Some(ids) = self.chains_of.remove(gone) {
                for id in ids {
                    self.chains.remove(&(id, *gone.as_bytes()));
                }
            }
        }
        let added: Vec<IdentityKey> = self
            .membership
            .members()
            .into_iter()
            .filter(|m| !before.is_member(m) && *m != self.me)
            .collect();
        if self.is_member() {
            let invitation = self.ops();
            // A removed member may hear of its removal from no neighbour
            // (they drop it as they learn of it): an admin tells it in the
            // pairwise session, with the operations (no key).
            if self.membership.is_admin(&self.me) {
                for gone in &removed {
                    self.outputs.push_back(GroupOutput::Invite {
                        to: *gone,
                        ops: invitation.clone(),
                    });
                }
            }
            for member in &added {
                // Whoever sees an add first tells the new member; the
                // duplicates cost little and cover an admin offline.
                if before.is_admin(&self.me) || self.membership.is_admin(&self.me) {
                    self.outputs.push_back(GroupOutput::Invite {
                        to: *member,
                        ops: invitation.clone(),
                    });
                }
                self.holders.insert(*member);
                self.outputs.push_back(GroupOutput::Distribute {
                    to: *member,
                    group: self.group_id(),
                    distribution: Box::new(self.sending.distribution()),
                });
            }
        }
        // Keys that waited for their owner's add.
        let keys = std::mem::take(&mut self.waiting_keys);
        for (from, distribution) in keys {
            let _ = self.handle_distribution(from, distribution);
        }
        if !removed.is_empty() {
            self.outputs.push_back(GroupOutput::ViewChanged { removed });
        }
    }

    /// Whether our chain must be replaced before the next message: someone
    /// who held it is no longer a member.
    fn rotation_due(&self) -> bool {
        self.holders.iter().any(|h| !self.membership.is_member(h))
    }

    fn rotate<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: UnixMillis) {
        self.sending = SenderChain::new(rng);
        self.sending_since = now;
        self.holders.clear();
        self.distribute_to_all();
    }

    /// This channel as bytes, for the node to seal and keep (see
    /// [`super::pickle`] for what is kept and what is not).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        w.u64(self.sending_since.0);
        w.bytes(&self.sending.to_bytes());
        let ops = self.ops();
        w.count(ops.len());
        for op in &ops {
            w.bytes(&encode_group_op(op));
        }
        w.count(self.holders.len());
        for h in &self.holders {
            w.key(h);
        }
        w.count(self.chains_of.len());
        for (owner, ids) in &self.chains_of {
            w.key(owner);
            let held: Vec<&HeldChain> = ids
                .iter()
                .filter_map(|id| self.chains.get(&(*id, *owner.as_bytes())))
                .collect();
            w.count(held.len());
            for h in held {
                w.bytes(&h.chain.to_bytes());
            }
        }
        w.finish()
    }

    /// Restores a channel of `identity`'s from [`GroupChannel::to_bytes`].
    pub fn from_bytes(
        identity: &Identity,
        bytes: &[u8],
        config: PlumtreeConfig,
    ) -> Result<Self, GroupPickleError> {
        let (max_ops, max_members, max_chains) = PICKLE_LIMITS;
        let mut r = Reader::new(bytes)?;
        let sending_since = UnixMillis(r.u64()?);
        let sending = SenderChain::from_bytes(r.bytes()?)?;
        let op_count = r.count("operations", max_ops)?;
        let mut membership: Option<Membership> = None;
        for _ in 0..op_count {
            let op = decode_group_op(r.bytes()?)?;
            match membership.as_mut() {
                None => membership = Some(Membership::new(op)?),
                Some(m) => {
                    m.apply(op)?;
                }
            }
        }
        let membership = membership.ok_or(GroupPickleError::Length)?;
        let mut holders = BTreeSet::new();
        for _ in 0..r.count("holders", max_members)? {
            holders.insert(r.key()?);
        }
        let mut chains = BTreeMap::new();
        let mut chains_of: BTreeMap<IdentityKey, VecDeque<[u8; CHAIN_ID_LEN]>> = BTreeMap::new();
        for _ in 0..r.count("owners", max_members)? {
            let owner = r.key()?;
            let list = chains_of.entry(owner).or_default();
            for _ in 0..r.count("chains", max_chains)? {
                let chain = ReceiverChain::from_bytes(r.bytes()?)?;
                let id = *chain.chain_id();
                list.push_back(id);
                chains.insert((id, *owner.as_bytes()), HeldChain { owner, chain });
            }
        }
        r.finish()?;
        let mut channel =
            Self::with_membership(identity, membership, sending, sending_since, config);
        channel.holders = holders;
        channel.chains = chains;
        channel.chains_of = chains_of;
        Ok(channel)
    }

    /// Replaces our chain now if a removal calls for it (the driver calls
    /// this after a view change, so the new key travels before the next
    /// message is written).
    pub fn rotate_if_due<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: UnixMillis) {
        if self.is_member() && self.rotation_due() {
            self.rotate(rng, now);
        }
    }

    fn distribute_to_all(&mut self) {
        let group = self.group_id();
        for member in self.membership.members() {
            if member == self.me {
                continue;
            }
            self.holders.insert(member);
            self.outputs.push_back(GroupOutput::Distribute {
                to: member,
                group,
                distribution: Box::new(self.sending.distribution()),
            });
        }
    }
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
