//! Announcements: signed alerts and service advertisements for every node
//! of the network, over the network-wide gossip overlay
//! ([`ANNOUNCEMENT_TOPIC`]), sans-IO.
//!
//! Every node checks an announcement before it forwards it: its limits and
//! signature, its author's clock within [`MAX_CLOCK_SKEW_MS`], a sequence
//! above the last one heard from that author (no replays), and at most
//! [`MAX_ANNOUNCEMENTS_PER_HOUR`] from one author in any hour. What fails
//! goes no further than the node that checked it, so a flooding author
//! reaches its neighbours only.

use std::collections::{BTreeMap, VecDeque};

use tacnode_crypto::Identity;
use tacnode_domain::gossip::{GossipId, GossipMessage};
use tacnode_domain::{
    ANNOUNCEMENT_TOPIC, Announcement, AnnouncementError, AnnouncementKind, IdentityKey,
    MAX_CLOCK_SKEW_MS, NodeId, UnixMillis, UnsignedAnnouncement,
};
use tacnode_gossip::{GossipError, GossipEvent, Plumtree, PlumtreeConfig};
use tacnode_messaging::{DecodeError, decode_announcement, encode_announcement};

/// Most announcements one author gets forwarded in any hour.
pub const MAX_ANNOUNCEMENTS_PER_HOUR: usize = 6;

/// Most authors whose sequence and rate are remembered; the one heard
/// from longest ago is forgotten first.
pub const MAX_TRACKED_AUTHORS: usize = 4_096;

/// Most services listed at once; the one lapsing first goes.
pub const MAX_LISTED_SERVICES: usize = 256;

/// Sequences remembered per author: one arriving out of order (another
/// path was faster) is taken if it is new and above the oldest of these;
/// below them it counts as a replay.
pub const REPLAY_WINDOW: usize = 16;

const HOUR_MS: u64 = 3_600_000;

/// Why an announcement was not taken (and so not forwarded).
#[derive(Debug, thiserror::Error)]
pub enum AnnouncementRefusal {
    /// Over a limit, or a bad signature.
    #[error(transparent)]
    Invalid(#[from] AnnouncementError),
    /// Heard already from its author, or older than the last
    /// [`REPLAY_WINDOW`] heard from it.
    #[error(
        "sequence {sequence} was heard already or is older than {oldest}, the oldest remembered of this author"
    )]
    Replayed {
        /// Its sequence.
        sequence: u64,
        /// The oldest remembered.
        oldest: u64,
    },
    /// The author already had its share this hour.
    #[error(
        "this author already announced {MAX_ANNOUNCEMENTS_PER_HOUR} times in the last hour; wait"
    )]
    RateLimited,
    /// The author's clock is too far from ours.
    #[error("announced at {time}, more than a week from this node's clock")]
    ClockSkew {
        /// Its time.
        time: UnixMillis,
    },
    /// The gossip layer refused the message.
    #[error(transparent)]
    Gossip(#[from] GossipError),
    /// A message from a node this one has no link with.
    #[error("{0:?} has no link with this node; report the link first")]
    NotANeighbour(NodeId),
    /// Not an announcement.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
}

/// A service on offer, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceListing {
    /// Who offers it.
    pub author: IdentityKey,
    /// Its name.
    pub name: String,
    /// What the author says about it.
    pub detail: String,
    /// Listed until then.
    pub until: UnixMillis,
}

/// What the board asks its driver to do or tells it.
#[derive(Clone, Debug)]
pub enum AnnouncementOutput {
    /// Send this overlay message to a neighbour.
    Gossip {
        /// The neighbour.
        to: NodeId,
        /// The message.
        message: GossipMessage,
    },
    /// An announcement heard for the first time (checked).
    Heard(Box<Announcement>),
}

#[derive(Debug, Default)]
struct AuthorState {
    /// The last [`REPLAY_WINDOW`] sequences heard, oldest first.
    sequences: VecDeque<u64>,
    recent: VecDeque<UnixMillis>,
    last_heard: UnixMillis,
}

/// One node's end of the announcement overlay.
#[derive(Debug)]
pub struct AnnouncementBoard {
    me: IdentityKey,
    overlay: Plumtree<NodeId>,
    authors: BTreeMap<IdentityKey, AuthorState>,
    services: BTreeMap<(IdentityKey, String), ServiceListing>,
    next_sequence: u64,
    outputs: VecDeque<AnnouncementOutput>,
}

/// Whether `a` may be taken now, and if so, records it.
fn admit(
    authors: &mut BTreeMap<IdentityKey, AuthorState>,
    now: UnixMillis,
    a: &Announcement,
) -> Result<(), AnnouncementRefusal> {
    a.verify()?;
    let time = a.body.time;
    if time.millis_since(now) > MAX_CLOCK_SKEW_MS || now.millis_since(time) > MAX_CLOCK_SKEW_MS {
        return Err(AnnouncementRefusal::ClockSkew { time });
    }
    let state = authors.entry(a.body.author).or_default();
    let sequence = a.body.sequence;
    let oldest = state.sequences.iter().min().copied().unwrap_or(0);
    let full = state.sequences.len() >= REPLAY_WINDOW;
    if state.sequences.contains(&sequence) || (full && sequence <= oldest) {
        return Err(AnnouncementRefusal::Replayed { sequence, oldest });
    }
    while state
        .recent
        .front()
        .is_some_and(|t| now.millis_since(*t) >= HOUR_MS)
    {
        state.recent.pop_front();
    }
    if state.recent.len() >= MAX_ANNOUNCEMENTS_PER_HOUR {
        return Err(AnnouncementRefusal::RateLimited);
    }
    state.recent.push_back(now);
    if full
        && let Some(i) = state
            .sequences
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| **s)
            .map(|(i, _)| i)
    {
        state.sequences.remove(i);
    }
    state.sequences.push_back(sequence);
    state.last_heard = now;
    if authors.len() > MAX_TRACKED_AUTHORS
        && let Some(oldest) = authors
            .iter()
            .min_by_key(|(_, s)| s.last_heard)
            .map(|(k, _)| *k)
    {
        authors.remove(&oldest);
    }
    Ok(())
}

impl AnnouncementBoard {
    /// A board for the node `identity`; its own sequence starts at `now`
    /// (milliseconds), so it stays increasing across restarts.
    pub fn new(identity: &Identity, now: UnixMillis, config: PlumtreeConfig) -> Self {
        Self {
            me: identity.identity_key(),
            overlay: Plumtree::new(ANNOUNCEMENT_TOPIC, config)
                .with_salt(identity.node_id().as_bytes()),
            authors: BTreeMap::new(),
            services: BTreeMap::new(),
            next_sequence: now.0,
            outputs: VecDeque::new(),
        }
    }

    /// Announces `kind` to the network, signed by `identity`.
    pub fn announce(
        &mut self,
        now: UnixMillis,
        identity: &Identity,
        kind: AnnouncementKind,
    ) -> Result<GossipId, AnnouncementRefusal> {
        let sequence = self.next_sequence.max(now.0).saturating_add(1);
        let body = UnsignedAnnouncement {
            author: self.me,
            sequence,
            time: now,
            kind,
        };
        let signature = identity.sign(&body.signing_bytes());
        let announcement = body.with_signature(signature);
        admit(&mut self.authors, now, &announcement)?;
        self.next_sequence = sequence;
        let id = self
            .overlay
            .broadcast(now, encode_announcement(&announcement))?;
        self.list(&announcement);
        self.pump(None);
        Ok(id)
    }

    /// A neighbour's overlay message.
    pub fn handle_gossip(
        &mut self,
        now: UnixMillis,
        from: NodeId,
        message: GossipMessage,
    ) -> Result<(), AnnouncementRefusal> {
        // Only over a link the driver reported.
        if !self.overlay.is_neighbour(&from) {
            return Err(AnnouncementRefusal::NotANeighbour(from));
        }
        let authors = &mut self.authors;
        let mut taken: Option<Announcement> = None;
        let mut refusal: Option<AnnouncementRefusal> = None;
        self.overlay
            .handle_message_checked(now, from, message, |_, payload| {
                let checked = decode_announcement(payload)
                    .map_err(AnnouncementRefusal::from)
                    .and_then(|a| admit(authors, now, &a).map(|()| a));
                match checked {
                    Ok(a) => {
                        taken = Some(a);
                        true
                    }
                    Err(e) => {
                        refusal = Some(e);
                        false
                    }
                }
            })?;
        self.pump(taken);
        refusal.map_or(Ok(()), Err)
    }

    /// Services on offer now, by name then author.
    pub fn services(&self, now: UnixMillis) -> Vec<ServiceListing> {
        let mut listed: Vec<ServiceListing> = self
            .services
            .values()
            .filter(|s| s.until > now)
            .cloned()
            .collect();
        listed.sort_by(|a, b| (&a.name, a.author).cmp(&(&b.name, b.author)));
        listed
    }

    /// A link to `peer` opened.
    pub fn neighbour_up(&mut self, now: UnixMillis, peer: NodeId) {
        self.overlay.neighbour_up(now, peer);
        self.pump(None);
    }

    /// The link to `peer` closed.
    pub fn neighbour_down(&mut self, peer: &NodeId) {
        self.overlay.neighbour_down(peer);
    }

    /// Announcements held (to announce to neighbours that link up).
    pub fn held(&self) -> usize {
        self.overlay.cached()
    }

    /// Whether a link to `peer` is up.
    pub fn is_neighbour(&self, peer: &NodeId) -> bool {
        self.overlay.is_neighbour(peer)
    }

    /// The peers linked now.
    pub fn neighbours(&self) -> Vec<NodeId> {
        self.overlay
            .eager_peers()
            .chain(self.overlay.lazy_peers())
            .copied()
            .collect()
    }

    /// Runs the overlay's timers; lapsed services go.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        self.overlay.handle_timeout(now);
        self.services.retain(|_, s| s.until > now);
        self.pump(None);
    }

    /// When [`AnnouncementBoard::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.overlay.poll_timeout()
    }

    /// The next thing to do or to know.
    pub fn poll_output(&mut self) -> Option<AnnouncementOutput> {
        self.outputs.pop_front()
    }

    fn list(&mut self, a: &Announcement) {
        if let AnnouncementKind::Service {
            name,
            detail,
            until,
        } = &a.body.kind
        {
            self.services.insert(
                (a.body.author, name.clone()),
                ServiceListing {
                    author: a.body.author,
                    name: name.clone(),
                    detail: detail.clone(),
                    until: *until,
                },
            );
            while self.services.len() > MAX_LISTED_SERVICES {
                let first = self
                    .services
                    .iter()
                    .min_by_key(|(_, s)| s.until)
                    .map(|(k, _)| k.clone());
                if let Some(k) = first {
                    self.services.remove(&k);
                }
            }
        }
    }

    fn pump(&mut self, mut taken: Option<Announcement>) {
        while let Some((to, message)) = self.overlay.poll_transmit() {
            self.outputs
                .push_back(AnnouncementOutput::Gossip { to, message });
        }
        while let Some(GossipEvent::Delivered { .. }) = self.overlay.poll_event() {
            if let Some(a) = taken.take() {
                self.list(&a);
                self.outputs
                    .push_back(AnnouncementOutput::Heard(Box::new(a)));
            }
        }
    }
}

#[cfg(test)]
#[path = "announcements_tests.rs"]
mod tests;
