use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tacnode_domain::gossip::{GossipId, GossipMessage, Topic};
use tacnode_domain::{NodeId, Plaintext, UnixMillis};
use tacnode_gossip::{GossipEvent, Plumtree, PlumtreeConfig};
use tacnode_messaging::{decode_plaintext, encode_plaintext};

use super::error::GroupError;
use super::neighbours::{GROUP_DEGREE, MAX_GROUP_NEIGHBOURS, preferred};
use super::payload::{GroupPayload, gossip_id};

/// A group message as one member receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDelivery {
    /// Its broadcast id.
    pub id: GossipId,
    /// The member that wrote it.
    pub sender: NodeId,
    /// Its place in the sender's sequence (0, 1, ...).
    pub sequence: u64,
    /// What it says.
    pub plaintext: Plaintext,
}

/// What a [`GroupChannel`] asks its driver to do or tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOutput {
    /// Send this overlay message to a neighbour.
    Gossip {
        /// The neighbour.
        to: NodeId,
        /// The message.
        message: GossipMessage,
    },
    /// A member's message arrived (once).
    Delivered(GroupDelivery),
}

/// One member's end of one group: the overlay links, the members, and the
/// messages seen. Sans-IO: the driver feeds it time, links and neighbours'
/// messages and carries out its outputs.
#[derive(Debug)]
pub struct GroupChannel {
    topic: Topic,
    me: NodeId,
    overlay: Plumtree<NodeId>,
    members: BTreeSet<NodeId>,
    next_sequence: u64,
    delivered: BTreeMap<NodeId, BTreeSet<u64>>,
    outputs: VecDeque<GroupOutput>,
}

impl GroupChannel {
    /// `me`'s end of the group `topic` of `members` (`me` among them).
    pub fn new(
        topic: Topic,
        me: NodeId,
        members: impl IntoIterator<Item = NodeId>,
        config: PlumtreeConfig,
    ) -> Self {
        let mut members: BTreeSet<NodeId> = members.into_iter().collect();
        members.insert(me);
        Self {
            topic,
            me,
            overlay: Plumtree::new(topic, config),
            members,
            next_sequence: 0,
            delivered: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// The group's topic.
    pub fn topic(&self) -> Topic {
        self.topic
    }

    /// The members as this member sees them.
    pub fn members(&self) -> &BTreeSet<NodeId> {
        &self.members
    }

    /// Links this member holds in the overlay.
    pub fn neighbours(&self) -> usize {
        self.overlay.eager_peers().count() + self.overlay.lazy_peers().count()
    }

    /// Which of `reachable` (members the driver can reach now) this member
    /// should link to, in order: its [`GROUP_DEGREE`] preferred ones.
    pub fn wanted_neighbours(&self, reachable: &[NodeId]) -> Vec<NodeId> {
        let members: Vec<NodeId> = reachable
            .iter()
            .filter(|p| self.members.contains(p))
            .copied()
            .collect();
        let mut wanted = preferred(&self.topic, &self.me, &members);
        wanted.truncate(GROUP_DEGREE);
        wanted
    }

    /// A link to member `peer` opened (either side dialled).
    pub fn neighbour_up(&mut self, now: UnixMillis, peer: NodeId) -> Result<(), GroupError> {
        if !self.members.contains(&peer) || peer == self.me {
            return Err(GroupError::NotAMember(peer));
        }
        if !self.overlay.is_neighbour(&peer) && self.neighbours() >= MAX_GROUP_NEIGHBOURS {
            return Err(GroupError::TooManyNeighbours {
                max: MAX_GROUP_NEIGHBOURS,
            });
        }
        self.overlay.neighbour_up(now, peer);
        self.pump();
        Ok(())
    }

    /// The link to `peer` closed.
    pub fn neighbour_down(&mut self, peer: &NodeId) {
        self.overlay.neighbour_down(peer);
    }

    /// Sends a message to the group.
    pub fn send(&mut self, now: UnixMillis, plaintext: &Plaintext) -> Result<GossipId, GroupError> {
        let payload = GroupPayload::Message {
            sender: self.me,
            sequence: self.next_sequence,
            body: encode_plaintext(plaintext),
        }
        .encode();
        let id = gossip_id(&payload);
        self.overlay.broadcast(now, id, payload)?;
        self.next_sequence += 1;
        self.pump();
        Ok(id)
    }

    /// An overlay message from neighbour `from`.
    pub fn handle_gossip(
        &mut self,
        now: UnixMillis,
        from: NodeId,
        message: GossipMessage,
    ) -> Result<(), GroupError> {
        if !self.members.contains(&from) {
            return Err(GroupError::NotAMember(from));
        }
        let members = &self.members;
        let result = self
            .overlay
            .handle_message_checked(now, from, message, |id, payload| {
                *id == gossip_id(payload)
                    && matches!(
                        GroupPayload::decode(payload),
                        Ok(GroupPayload::Message { sender, .. }) if members.contains(&sender)
                    )
            });
        self.pump();
        result.map_err(GroupError::from)
    }

    /// Runs the overlay's timers.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        self.overlay.handle_timeout(now);
        self.pump();
    }

    /// When [`GroupChannel::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.overlay.poll_timeout()
    }

    /// The next thing to do or to know.
    pub fn poll_output(&mut self) -> Option<GroupOutput> {
        self.outputs.pop_front()
    }

    fn pump(&mut self) {
        while let Some((to, message)) = self.overlay.poll_transmit() {
            self.outputs.push_back(GroupOutput::Gossip { to, message });
        }
        while let Some(GossipEvent::Delivered { id, payload, .. }) = self.overlay.poll_event() {
            let Ok(GroupPayload::Message {
                sender,
                sequence,
                body,
            }) = GroupPayload::decode(&payload)
            else {
                continue;
            };
            let Ok(plaintext) = decode_plaintext(&body) else {
                continue;
            };
            if !self.delivered.entry(sender).or_default().insert(sequence) {
                continue;
            }
            self.outputs
                .push_back(GroupOutput::Delivered(GroupDelivery {
                    id,
                    sender,
                    sequence,
                    plaintext,
                }));
        }
    }
}
