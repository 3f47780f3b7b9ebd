use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sha2::{Digest, Sha256};

use tacnode_domain::UnixMillis;
use tacnode_domain::gossip::{
    Announced, GossipId, GossipMessage, MAX_GOSSIP_IDS, MAX_GOSSIP_PAYLOAD, MAX_GOSSIP_ROUND,
    Topic, gossip_id,
};

use crate::config::PlumtreeConfig;
use crate::error::GossipError;
use crate::missing::Missing;
use crate::received::{Received, ReceivedBroadcast};

/// What the overlay hands up to its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GossipEvent<P> {
    /// A broadcast received for the first time.
    Delivered {
        /// Its id.
        id: GossipId,
        /// Its payload (not yet checked: the layer above verifies it).
        payload: Vec<u8>,
        /// The neighbour that pushed it.
        from: P,
    },
}

/// One overlay's epidemic broadcast tree, for neighbours named by `P`.
///
/// Every neighbour starts eager (pushes go to it); a neighbour that pushes
/// us something we had is pruned to lazy (it gets ids only), and a lazy
/// neighbour whose announcement beats every push is grafted back. The eager
/// links settle into a spanning tree of the neighbour graph.
#[derive(Debug)]
pub struct Plumtree<P> {
    topic: Topic,
    config: PlumtreeConfig,
    eager: BTreeSet<P>,
    lazy: BTreeSet<P>,
    received: Received,
    missing: Missing<P>,
    lazy_queue: BTreeMap<P, Vec<Announced>>,
    lazy_deadline: Option<UnixMillis>,
    transmits: VecDeque<(P, GossipMessage)>,
    events: VecDeque<GossipEvent<P>>,
    salt: [u8; 16],
}

impl<P: Ord + Clone> Plumtree<P> {
    /// An overlay with no neighbours yet.
    pub fn new(topic: Topic, config: PlumtreeConfig) -> Self {
        Self {
            topic,
            config,
            eager: BTreeSet::new(),
            lazy: BTreeSet::new(),
            received: Received::default(),
            missing: Missing::default(),
            lazy_queue: BTreeMap::new(),
            lazy_deadline: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            salt: [0; 16],
        }
    }

    /// Sets what makes this member's graft jitter differ from others' (its
    /// node id, say): without it, every member waits the same for the same
    /// broadcast.
    pub fn with_salt(mut self, salt: &[u8]) -> Self {
        let digest: [u8; 32] = Sha256::digest(salt).into();
        self.salt.copy_from_slice(&digest[..16]);
        self
    }

    /// How long to wait for `id`'s push once it is announced.
    fn graft_wait(&self, id: &GossipId) -> u64 {
        if self.config.graft_jitter_ms == 0 {
            return self.config.graft_timeout_ms;
        }
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(id.0);
        let digest: [u8; 32] = h.finalize().into();
        let mut eight = [0u8; 8];
        eight.copy_from_slice(&digest[..8]);
        let jitter = u64::from_be_bytes(eight) % (self.config.graft_jitter_ms + 1);
        self.config.graft_timeout_ms.saturating_add(jitter)
    }

    /// This overlay's topic.
    pub fn topic(&self) -> Topic {
        self.topic
    }

    /// Neighbours that get pushes.
    pub fn eager_peers(&self) -> impl Iterator<Item = &P> {
        self.eager.iter()
    }

    /// Neighbours that get announcements only.
    pub fn lazy_peers(&self) -> impl Iterator<Item = &P> {
        self.lazy.iter()
    }

    /// Whether `peer` is a neighbour (eager or lazy).
    pub fn is_neighbour(&self, peer: &P) -> bool {
        self.eager.contains(peer) || self.lazy.contains(peer)
    }

    /// Whether the broadcast `id` was sent or received here (and is still
    /// cached).
    pub fn has(&self, id: &GossipId) -> bool {
        self.received.contains(id)
    }

    /// How many broadcasts are cached.
    pub fn cached(&self) -> usize {
        self.received.len()
    }

    /// How many announced broadcasts are awaited.
    pub fn awaited(&self) -> usize {
        self.missing.len()
    }

    /// A link to `peer` opened. It becomes eager and is sent a summary of
    /// what is held here; if it holds something else, the two tell each
    /// other everything they hold ([`GossipMessage::Summary`]), so what one
    /// missed while apart (a partition, a restart) reaches it.
    pub fn neighbour_up(&mut self, now: UnixMillis, peer: P) {
        self.received.expire(now, self.config.cache_ttl_ms);
        if self.is_neighbour(&peer) {
            return;
        }
        self.eager.insert(peer.clone());
        let (count, digest) = self.received.summary();
        self.transmits.push_back((
            peer,
            GossipMessage::Summary {
                topic: self.topic,
                count,
                digest,
            },
        ));
    }

    /// Sends `peer` the ids of everything held.
    fn announce_all(&mut self, peer: &P) {
        let ids: Vec<Announced> = self
            .received
            .ids()
            .map(|(id, round)| Announced { id, round })
            .collect();
        self.send_ihave(peer, &ids);
    }

    /// `ids` to `peer`, in announcements of at most [`MAX_GOSSIP_IDS`].
    fn send_ihave(&mut self, peer: &P, ids: &[Announced]) {
        for chunk in ids.chunks(MAX_GOSSIP_IDS) {
            self.transmits.push_back((
                peer.clone(),
                GossipMessage::IHave {
                    topic: self.topic,
                    ids: chunk.to_vec(),
                },
            ));
        }
    }

    /// The link to `peer` closed or failed.
    pub fn neighbour_down(&mut self, peer: &P) {
        self.eager.remove(peer);
        self.lazy.remove(peer);
        self.lazy_queue.remove(peer);
        self.missing.forget_peer(peer);
        if self.lazy_queue.is_empty() {
            self.lazy_deadline = None;
        }
    }

    /// Sends our own broadcast: pushed to the eager neighbours, announced to
    /// the lazy ones. Returns its id ([`gossip_id`] of the payload).
    pub fn broadcast(
        &mut self,
        now: UnixMillis,
        payload: Vec<u8>,
    ) -> Result<GossipId, GossipError> {
        if payload.len() > MAX_GOSSIP_PAYLOAD {
            return Err(GossipError::PayloadTooLarge { len: payload.len() });
        }
        self.received.expire(now, self.config.cache_ttl_ms);
        let id = gossip_id(&payload);
        if self.received.contains(&id) {
            return Err(GossipError::AlreadyKnown);
        }
        self.missing.received(&id);
        self.forward(now, id, 0, &payload, None);
        self.received.insert(
            id,
            ReceivedBroadcast {
                payload,
                round: 0,
                at: now,
            },
        );
        Ok(id)
    }

    /// A message from neighbour `from`. A peer that was not a neighbour
    /// becomes one (the link exists: it just spoke over it).
    pub fn handle_message(
        &mut self,
        now: UnixMillis,
        from: P,
        message: GossipMessage,
    ) -> Result<(), GossipError> {
        self.handle_message_checked(now, from, message, |_, _| true)
    }

    /// [`Plumtree::handle_message`], with `check` deciding whether a new
    /// push's payload is worth forwarding and delivering (the layer above
    /// verifies what it can). A push `check` refuses is dropped as if it
    /// never came: not forwarded, not cached, so a good copy from another
    /// neighbour is still taken.
    pub fn handle_message_checked(
        &mut self,
        now: UnixMillis,
        from: P,
        message: GossipMessage,
        check: impl FnOnce(&GossipId, &[u8]) -> bool,
    ) -> Result<(), GossipError> {
        if message.topic() != self.topic {
            return Err(GossipError::WrongTopic {
                expected: self.topic,
                got: message.topic(),
            });
        }
        self.received.expire(now, self.config.cache_ttl_ms);
        match message {
            GossipMessage::Push { round, payload, .. } => {
                let id = gossip_id(&payload);
                if !self.received.contains(&id) && !check(&id, &payload) {
                    return Ok(());
                }
                self.on_push(now, from, id, round, payload)
            }
            GossipMessage::IHave { ids, .. } => {
                if ids.len() > MAX_GOSSIP_IDS {
                    return Err(GossipError::TooManyIds { count: ids.len() });
                }
                self.ensure_neighbour(&from, false);
                for Announced { id, round } in &ids {
                    if !self.received.contains(id) {
                        let wait = self.graft_wait(id);
                        self.missing.announced(now, wait, *id, from.clone(), *round);
                    }
                }
                // What it announced it has: our announcement of the same
                // would be wasted on it.
                self.not_to_announce(&from, |a| ids.iter().any(|i| i.id == a.id));
                Ok(())
            }
            GossipMessage::Graft { ids, .. } => {
                if ids.len() > MAX_GOSSIP_IDS {
                    return Err(GossipError::TooManyIds { count: ids.len() });
                }
                self.make_eager(&from);
                for id in ids {
                    if let Some(held) = self.received.get(&id) {
                        self.transmits.push_back((
                            from.clone(),
                            GossipMessage::Push {
                                topic: self.topic,
                                round: held.round.saturating_add(1).min(MAX_GOSSIP_ROUND),
                                payload: held.payload.clone(),
                            },
                        ));
                    }
                }
                Ok(())
            }
            GossipMessage::Prune { .. } => {
                self.make_lazy(&from);
                Ok(())
            }
            GossipMessage::Summary { count, digest, .. } => {
                self.ensure_neighbour(&from, true);
                if (count, digest) != self.received.summary() {
                    self.announce_all(&from);
                }
                Ok(())
            }
        }
    }

    fn on_push(
        &mut self,
        now: UnixMillis,
        from: P,
        id: GossipId,
        round: u32,
        payload: Vec<u8>,
    ) -> Result<(), GossipError> {
        if payload.len() > MAX_GOSSIP_PAYLOAD {
            return Err(GossipError::PayloadTooLarge { len: payload.len() });
        }
        if round > MAX_GOSSIP_ROUND {
            return Err(GossipError::RoundTooLarge { round });
        }
        if self.received.contains(&id) {
            // A second copy: this link is redundant for the tree, and the
            // sender needs no announcement of it.
            self.not_to_announce(&from, |a| a.id == id);
            self.make_lazy(&from);
            self.transmits
                .push_back((from, GossipMessage::Prune { topic: self.topic }));
            return Ok(());
        }
        self.missing.received(&id);
        self.make_eager(&from);
        let next_round = round.saturating_add(1).min(MAX_GOSSIP_ROUND);
        self.forward(now, id, next_round, &payload, Some(&from));
        self.received.insert(
            id,
            ReceivedBroadcast {
                payload: payload.clone(),
                round: next_round,
                at: now,
            },
        );
        self.events
            .push_back(GossipEvent::Delivered { id, payload, from });
        Ok(())
    }

    /// Pushes to every eager neighbour but `except`, queues announcements
    /// for every lazy one.
    fn forward(
        &mut self,
        now: UnixMillis,
        id: GossipId,
        round: u32,
        payload: &[u8],
        except: Option<&P>,
    ) {
        for peer in &self.eager {
            if Some(peer) == except {
                continue;
            }
            self.transmits.push_back((
                peer.clone(),
                GossipMessage::Push {
                    topic: self.topic,
                    round,
                    payload: payload.to_vec(),
                },
            ));
        }
        let lazy: Vec<P> = self
            .lazy
            .iter()
            .filter(|p| Some(*p) != except)
            .cloned()
            .collect();
        for peer in lazy {
            self.lazy_queue
                .entry(peer)
                .or_default()
                .push(Announced { id, round });
        }
        if !self.lazy_queue.is_empty() && self.lazy_deadline.is_none() {
            self.lazy_deadline = Some(now.saturating_add_millis(self.config.lazy_flush_ms));
        }
    }

    /// Drops the queued announcements to `peer` that `has` says it holds.
    fn not_to_announce(&mut self, peer: &P, has: impl Fn(&Announced) -> bool) {
        if let Some(queued) = self.lazy_queue.get_mut(peer) {
            queued.retain(|a| !has(a));
            if queued.is_empty() {
                self.lazy_queue.remove(peer);
                if self.lazy_queue.is_empty() {
                    self.lazy_deadline = None;
                }
            }
        }
    }

    fn ensure_neighbour(&mut self, peer: &P, eager: bool) {
        if !self.is_neighbour(peer) {
            if eager {
                self.eager.insert(peer.clone());
            } else {
                self.lazy.insert(peer.clone());
            }
        }
    }

    fn make_eager(&mut self, peer: &P) {
        self.lazy.remove(peer);
        self.eager.insert(peer.clone());
    }

    fn make_lazy(&mut self, peer: &P) {
        self.eager.remove(peer);
        self.lazy.insert(peer.clone());
    }

    /// Runs the timers: announcements due are sent, and missing broadcasts
    /// whose wait ran out are asked for (grafting the announcer).
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        if self.lazy_deadline.is_some_and(|d| d <= now) {
            self.lazy_deadline = None;
            for (peer, ids) in std::mem::take(&mut self.lazy_queue) {
                self.send_ihave(&peer, &ids);
            }
        }
        let mut grafts: BTreeMap<P, Vec<GossipId>> = BTreeMap::new();
        for (id, peer) in self.missing.due(now, self.config.graft_retry_ms) {
            grafts.entry(peer).or_default().push(id);
        }
        for (peer, ids) in grafts {
            self.make_eager(&peer);
            for chunk in ids.chunks(MAX_GOSSIP_IDS) {
                self.transmits.push_back((
                    peer.clone(),
                    GossipMessage::Graft {
                        topic: self.topic,
                        ids: chunk.to_vec(),
                    },
                ));
            }
        }
        self.received.expire(now, self.config.cache_ttl_ms);
    }

    /// When [`Plumtree::handle_timeout`] next has something to do.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        match (self.lazy_deadline, self.missing.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next message to send, and to whom.
    pub fn poll_transmit(&mut self) -> Option<(P, GossipMessage)> {
        self.transmits.pop_front()
    }

    /// The next event for the layer above.
    pub fn poll_event(&mut self) -> Option<GossipEvent<P>> {
        self.events.pop_front()
    }
}

#[cfg(test)]
#[path = "plumtree_tests.rs"]
mod tests;
