//! `tacnode-sim group`: one group of M members, each the unmodified
//! `GroupChannel` of `crates/usecase` (membership CRDT, sender keys,
//! epidemic broadcast tree), sending N texts over H hours while members go
//! offline and come back (churn), the group is cut in two halves for a
//! while (partition), and an admin on each side removes a member during it.
//!
//! The network: an overlay link between two members exists while both are
//! online and on the same side of the partition and one of them prefers the
//! other ([`GroupChannel::wanted_neighbours`]); a link is reliable (QUIC
//! retransmits) with a one-way latency of `latency_ms` plus up to 20 ms of
//! jitter, and a message in flight on a link that closes is lost. Links are
//! re-formed at once when a member comes or goes or the partition starts or
//! ends (a real node notices within its idle timeout: the simulator is
//! optimistic there, and the tree repairs what is lost either way).
//! Sender keys travel in pairwise sessions: delivered after the link
//! latency when the recipient is online and on the sender's side, else held
//! (as a mailbox holds them) until it is.
//!
//! Bytes are counted from the real encoded frames (`Message::Gossip`,
//! our 4-byte length) plus the simulated datagram overhead and one
//! acknowledgement per frame, as `tacnode-sim node` counts them; a sender
//! key as a `Direct` frame of its size. The baseline sends the same text to
//! every member one by one as a `Direct` frame on an established Double
//! Ratchet session, answered by a `DirectAck`, counted the same way.
//!
//! Removed members: every broadcast is also handed to them (as an
//! eavesdropper that kept every key it ever held would collect them), and
//! what they can still open is counted: texts whose sender had applied the
//! removal when it wrote them must be none.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sha2::{Digest, Sha256};
use tacnode_crypto::Identity;
use tacnode_crypto::group::{SENDER_KEY_DISTRIBUTION_LEN, SenderKeyDistribution};
use tacnode_domain::gossip::{GossipId, GossipMessage, gossip_id};
use tacnode_domain::group::{GROUP_ID_LEN, Role};
use tacnode_domain::{IdentityKey, NodeId, UnixMillis};
use tacnode_gossip::PlumtreeConfig;
use tacnode_messaging::Message;
use tacnode_usecase::group::{GroupChannel, GroupOutput};

use super::unicast::{direct_frame_bytes, text_plaintext};
use crate::EPOCH_MS;
use crate::node::network::{ACK_BYTES, DATAGRAM_OVERHEAD, DATAGRAM_PAYLOAD};

/// Time before the first message: every member online and linked.
pub const GROUP_WARM_UP_MS: u64 = 60_000;
/// Shortest and longest absence of a member that churns.
pub const GROUP_ABSENCE_MS: (u64, u64) = (10 * 60_000, 2 * 3_600_000);
/// Most time after the last event for the group to settle.
pub const GROUP_DRAIN_MS: u64 = 2 * 3_600_000;
/// Most jitter added to a link's latency.
pub const GROUP_JITTER_MS: u64 = 20;

/// What to run.
#[derive(Clone, Debug)]
pub struct GroupScenario {
    /// Members of the group (at least 6).
    pub members: usize,
    /// Texts sent, by random online members, spread over `hours`.
    pub messages: usize,
    /// Fraction of members that go offline once, for 10 minutes to 2 hours.
    pub churn: f64,
    /// How long the group is cut in two halves (0: never); the cut starts
    /// a quarter into the sending period.
    pub partition_ms: u64,
    /// Remove a member on each side (in the middle of the partition, or 40 %
    /// into the sending period without one).
    pub removals: bool,
    /// Length of the sending period.
    pub hours: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Bytes of each text.
    pub text_bytes: usize,
    /// One-way latency of a link.
    pub latency_ms: u64,
    /// The overlay's timers.
    pub gossip: PlumtreeConfig,
}

impl Default for GroupScenario {
    fn default() -> Self {
        Self {
            members: 50,
            messages: 1_000,
            churn: 0.3,
            partition_ms: 6 * 3_600_000,
            removals: true,
            hours: 12.0,
            seed: 1,
            text_bytes: 100,
            latency_ms: 50,
            gossip: PlumtreeConfig::default(),
        }
    }
}

/// What came out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupMetrics {
    /// Texts sent.
    pub sent: usize,
    /// (member, text) pairs that should have arrived: every member in the
    /// sender's view when it wrote the text, but the sender, members
    /// removed by then, and members removed later that were on the other
    /// side of the partition when it was written (they are cut off before
    /// the heal brings it over); texts of members removed during the run
    /// are not counted (members drop a removed member's messages).
    pub expected: usize,
    /// Of those, how many arrived (once or more).
    pub delivered: usize,
    /// `delivered / expected`.
    pub delivery_ratio: f64,
    /// Arrivals beyond the first of a text at a member.
    pub duplicates: usize,
    /// (member, sender) pairs whose view, ordered by (send time, sender),
    /// has the sender's texts out of its order.
    pub order_violations: usize,
    /// Whether every remaining member ends with the same members and roles.
    pub views_identical: bool,
    /// Texts a removed member could open whose sender had applied the
    /// removal when it wrote them (must be 0).
    pub removed_read_after_removal: usize,
    /// Texts a removed member could open that were written after its
    /// removal by a member that had not learnt of it yet (the other side of
    /// a partition): what no system without one agreed order prevents.
    pub removed_read_concurrent: usize,
    /// Copies of a text's payload its sender's uplink carried: mean.
    pub sender_copies_mean: f64,
    /// … and most.
    pub sender_copies_max: usize,
    /// Bytes on the wire of the whole group traffic (texts, membership,
    /// repair, and sender keys after the group was formed).
    pub group_bytes: u64,
    /// Bytes the same texts cost sent to each member one by one.
    pub unicast_bytes: u64,
    /// `group_bytes / unicast_bytes`.
    pub bytes_ratio: f64,
    /// Of `group_bytes`, pushes (payload copies).
    pub push_bytes: u64,
    /// Of `group_bytes`, announcements, summaries, grafts and prunes.
    pub control_bytes: u64,
    /// Of `group_bytes`, sender keys in pairwise sessions.
    pub key_bytes: u64,
    /// Sender keys sent in pairwise sessions after the group was formed.
    pub keys_sent: usize,
    /// Sender keys sent when the group was formed (not in `group_bytes`).
    pub setup_keys: usize,
    /// Delivery latency (send to arrival), median and 99th percentile, ms.
    pub latency_p50_ms: u64,
    /// See `latency_p50_ms`.
    pub latency_p99_ms: u64,
    /// Members' overlay links at the end: mean.
    pub mean_degree: f64,
    /// SHA-256 of every arrival (member, text, time), first 16 bytes in hex:
    /// the same seed gives the same trace.
    pub trace: String,
}

impl GroupMetrics {
    /// One JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sent": self.sent,
            "expected": self.expected,
            "delivered": self.delivered,
            "delivery_ratio": self.delivery_ratio,
            "duplicates": self.duplicates,
            "order_violations": self.order_violations,
            "views_identical": self.views_identical,
            "removed_read_after_removal": self.removed_read_after_removal,
            "removed_read_concurrent": self.removed_read_concurrent,
            "sender_copies_mean": self.sender_copies_mean,
            "sender_copies_max": self.sender_copies_max,
            "group_bytes": self.group_bytes,
            "unicast_bytes": self.unicast_bytes,
            "bytes_ratio": self.bytes_ratio,
            "push_bytes": self.push_bytes,
            "control_bytes": self.control_bytes,
            "key_bytes": self.key_bytes,
            "keys_sent": self.keys_sent,
            "setup_keys": self.setup_keys,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "mean_degree": self.mean_degree,
            "trace": self.trace,
        })
    }

    /// Every member got every text owed to it exactly once, in order, the
    /// views agree and no removed member reads what followed its removal.
    pub fn whole(&self) -> bool {
        self.delivered == self.expected
            && self.duplicates == 0
            && self.order_violations == 0
            && self.views_identical
            && self.removed_read_after_removal == 0
    }
}

#[derive(Debug)]
enum Event {
    Send,
    Offline {
        member: usize,
    },
    Online {
        member: usize,
    },
    PartitionStart,
    PartitionEnd,
    Remove {
        admin: usize,
        member: usize,
    },
    Arrive {
        from: usize,
        to: usize,
        message: GossipMessage,
    },
    Key {
        from: usize,
        to: usize,
        distribution: Box<SenderKeyDistribution>,
    },
}

/// A text as the run knows it.
struct Text {
    sender: usize,
    sent: UnixMillis,
    /// Members the sender's view named when it wrote the text, but itself.
    view: BTreeSet<usize>,
    /// Members on the other side of the partition when it was written.
    cut_off: BTreeSet<usize>,
}

struct Run {
    scenario: GroupScenario,
    rng: StdRng,
    now: UnixMillis,
    identities: Vec<Identity>,
    ids: Vec<NodeId>,
    index: BTreeMap<NodeId, usize>,
    key_index: BTreeMap<IdentityKey, usize>,
    channels: Vec<GroupChannel>,
    online: Vec<bool>,
    partitioned: bool,
    links: BTreeSet<(usize, usize)>,
    queue: BTreeMap<(u64, u64), Event>,
    sequence: u64,
    /// Sender keys held for a recipient that cannot be reached yet.
    held_keys: Vec<(usize, usize, SenderKeyDistribution)>,
    key_frame_bytes: u64,
    counting: bool,
    texts: Vec<Text>,
    by_id: BTreeMap<GossipId, usize>,
    arrivals: BTreeMap<(usize, usize), (usize, UnixMillis)>,
    /// Removed members and when.
    removed: BTreeMap<usize, UnixMillis>,
    eavesdropped: BTreeSet<GossipId>,
    removed_reads: BTreeSet<(usize, usize)>,
    sender_copies: BTreeMap<usize, usize>,
    push_bytes: u64,
    control_bytes: u64,
    key_bytes: u64,
    keys_sent: usize,
    setup_keys: usize,
    trace: Sha256,
}

/// Wire bytes of one frame of `frame` bytes: datagram overhead and its
/// acknowledgement.
fn wire_bytes(frame: usize) -> u64 {
    let datagrams = frame.div_ceil(DATAGRAM_PAYLOAD).max(1);
    (frame + datagrams * DATAGRAM_OVERHEAD) as u64 + ACK_BYTES
}

impl Run {
    fn schedule(&mut self, at: UnixMillis, event: Event) {
        self.sequence += 1;
        self.queue.insert((at.0, self.sequence), event);
    }

    /// When something sent now arrives: the latency and up to
    /// [`GROUP_JITTER_MS`] more.
    fn after_latency(&mut self) -> UnixMillis {
        let jitter = self.rng.random_range(0..=GROUP_JITTER_MS);
        self.now
            .saturating_add_millis(self.scenario.latency_ms + jitter)
    }

    fn half(&self, member: usize) -> bool {
        member < self.scenario.members / 2
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        a != b
            && self.online[a]
            && self.online[b]
            && (!self.partitioned || self.half(a) == self.half(b))
    }

    /// Re-forms the overlay: the union of every online member's preferred
    /// reachable members; links no one prefers any more close. Held sender
    /// keys whose recipient is reachable now go out.
    fn relink(&mut self) {
        let n = self.scenario.members;
        let mut wanted: BTreeSet<(usize, usize)> = BTreeSet::new();
        for a in 0..n {
            if !self.online[a] {
                continue;
            }
            let reachable: Vec<NodeId> = (0..n)
                .filter(|&b| self.reachable(a, b))
                .map(|b| self.ids[b])
                .collect();
            for peer in self.channels[a].wanted_neighbours(&reachable) {
                if let Some(&b) = self.index.get(&peer) {
                    wanted.insert((a.min(b), a.max(b)));
                }
            }
        }
        let closing: Vec<(usize, usize)> = self.links.difference(&wanted).copied().collect();
        for (a, b) in closing {
            self.links.remove(&(a, b));
            let (ia, ib) = (self.ids[a], self.ids[b]);
            self.channels[a].neighbour_down(&ib);
            self.channels[b].neighbour_down(&ia);
        }
        let opening: Vec<(usize, usize)> = wanted.difference(&self.links).copied().collect();
        for (a, b) in opening {
            let now = self.now;
            let (ia, ib) = (self.ids[a], self.ids[b]);
            if self.channels[a].neighbour_up(now, ib).is_err() {
                continue;
            }
            if self.channels[b].neighbour_up(now, ia).is_err() {
                self.channels[a].neighbour_down(&ib);
                continue;
            }
            self.links.insert((a, b));
        }
        let held = std::mem::take(&mut self.held_keys);
        for (from, to, distribution) in held {
            self.send_key(from, to, distribution);
        }
        for member in 0..n {
            self.collect(member);
        }
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        self.links.contains(&(a.min(b), a.max(b)))
    }

    /// A sender key in the pairwise session (`from` to `to`): delivered
    /// when `to` is online on `from`'s side, else held.
    fn send_key(&mut self, from: usize, to: usize, distribution: SenderKeyDistribution) {
        let deliverable =
            self.online[to] && (!self.partitioned || self.half(from) == self.half(to));
        if !deliverable {
            self.held_keys.push((from, to, distribution));
            return;
        }
        if self.counting {
            self.key_bytes += self.key_frame_bytes;
            self.keys_sent += 1;
        } else {
            self.setup_keys += 1;
        }
        let at = self.after_latency();
        self.schedule(
            at,
            Event::Key {
                from,
                to,
                distribution: Box::new(distribution),
            },
        );
    }

    /// Carries out `member`'s outputs.
    fn collect(&mut self, member: usize) {
        while let Some(output) = self.channels[member].poll_output() {
            match output {
                GroupOutput::Gossip { to, message } => self.gossip(member, to, message),
                GroupOutput::Distribute {
                    to, distribution, ..
                } => {
                    if let Some(&to) = self.key_index.get(&to) {
                        self.send_key(member, to, *distribution);
                    }
                }
                // Every member joined with the whole group; the scenario
                // adds no one later.
                GroupOutput::Invite { .. } => {}
                // The chain turns over at the member's next message.
                GroupOutput::ViewChanged { .. } => {}
                GroupOutput::Delivered(d) => {
                    let Some(&text) = self.by_id.get(&d.id) else {
                        continue;
                    };
                    let arrival = self.arrivals.entry((member, text)).or_insert((0, self.now));
                    arrival.0 += 1;
                    if self.removed.contains_key(&member) {
                        self.removed_reads.insert((member, text));
                    }
                    self.trace.update((member as u64).to_be_bytes());
                    self.trace.update((text as u64).to_be_bytes());
                    self.trace.update(self.now.0.to_be_bytes());
                }
            }
        }
    }

    fn gossip(&mut self, member: usize, to: NodeId, message: GossipMessage) {
        let Some(&to) = self.index.get(&to) else {
            return;
        };
        if !self.linked(member, to) {
            return;
        }
        let frame = Message::Gossip(message.clone()).encode().len() + 4;
        let bytes = wire_bytes(frame);
        match &message {
            GossipMessage::Push { payload, .. } => {
                self.push_bytes += bytes;
                let id = &gossip_id(payload);
                if let Some(&text) = self.by_id.get(id)
                    && self.texts[text].sender == member
                {
                    *self.sender_copies.entry(text).or_default() += 1;
                }
                if self.eavesdropped.insert(*id) {
                    let removed: Vec<usize> = self.removed.keys().copied().collect();
                    for r in removed {
                        // What it cannot open it ignores.
                        let _ = self.channels[r].receive_broadcast(payload);
                        self.collect(r);
                    }
                }
            }
            _ => self.control_bytes += bytes,
        }
        let at = self.after_latency();
        self.schedule(
            at,
            Event::Arrive {
                from: member,
                to,
                message,
            },
        );
    }

    fn send(&mut self) {
        let n = self.scenario.members;
        let candidates: Vec<usize> = (0..n)
            .filter(|&m| self.online[m] && !self.removed.contains_key(&m))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let sender = candidates[self.rng.random_range(0..candidates.len())];
        let now = self.now;
        // A group text's id is its broadcast's: not on the wire.
        let plaintext = text_plaintext(self.scenario.text_bytes, [0; 16], now);
        let Ok(gossip_id) = self.channels[sender].send(&mut self.rng, now, &plaintext) else {
            return;
        };
        let view = self.channels[sender]
            .member_ids()
            .filter_map(|m| self.index.get(m).copied())
            .filter(|&m| m != sender)
            .collect();
        let cut_off = (0..n)
            .filter(|&m| self.partitioned && self.half(m) != self.half(sender))
            .collect();
        let index = self.texts.len();
        self.texts.push(Text {
            sender,
            sent: now,
            view,
            cut_off,
        });
        self.by_id.insert(gossip_id, index);
        self.collect(sender);
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Send => self.send(),
            Event::Offline { member } => {
                self.online[member] = false;
                self.relink();
            }
            Event::Online { member } => {
                self.online[member] = true;
                self.relink();
            }
            Event::PartitionStart => {
                self.partitioned = true;
                self.relink();
            }
            Event::PartitionEnd => {
                self.partitioned = false;
                self.relink();
            }
            Event::Remove { admin, member } => {
                let now = self.now;
                let key = self.identities[member].identity_key();
                if self.channels[admin]
                    .remove(now, &self.identities[admin], key)
                    .is_ok()
                {
                    self.removed.insert(member, now);
                }
                self.collect(admin);
                self.relink();
            }
            Event::Arrive { from, to, message } => {
                if !self.linked(from, to) {
                    return;
                }
                let now = self.now;
                let from_id = self.ids[from];
                // A refused message changes nothing; the run goes on.
                let _ = self.channels[to].handle_gossip(now, from_id, message);
                self.collect(to);
            }
            Event::Key {
                from,
                to,
                distribution,
            } => {
                let key = self.identities[from].identity_key();
                // A key from someone not (yet) a member waits in the channel.
                let _ = self.channels[to].handle_distribution(key, *distribution);
                self.collect(to);
            }
        }
    }

    fn next_timer(&self) -> Option<(UnixMillis, usize)> {
        self.channels
            .iter()
            .enumerate()
            .filter(|(m, _)| self.online[*m])
            .filter_map(|(m, c)| c.poll_timeout().map(|t| (t, m)))
            .min()
    }

    fn run_until(&mut self, end: UnixMillis) {
        loop {
            let event_at = self.queue.first_key_value().map(|(k, _)| UnixMillis(k.0));
            let timer = self.next_timer();
            let take_timer = match (event_at, timer) {
                (None, None) => return,
                (Some(e), Some((t, _))) => t < e,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            if take_timer {
                let Some((at, member)) = timer else { return };
                if at > end {
                    return;
                }
                self.now = self.now.max(at);
                let now = self.now;
                self.channels[member].handle_timeout(now);
                self.collect(member);
            } else {
                let Some((key, event)) = self.queue.pop_first() else {
                    return;
                };
                if key.0 > end.0 {
                    self.queue.insert(key, event);
                    return;
                }
                self.now = self.now.max(UnixMillis(key.0));
                self.handle(event);
            }
        }
    }
}

/// The group as formed: member 0 creates it, adds everyone (the last
/// member as a second admin, for the other side of the partition), and
/// every member joins from the creator's operations.
fn form_group(
    s: &GroupScenario,
    rng: &mut StdRng,
    identities: &[Identity],
    start: UnixMillis,
) -> Option<Vec<GroupChannel>> {
    let n = identities.len();
    let mut creator =
        GroupChannel::create(rng, &identities[0], "squad", start, s.gossip.clone()).ok()?;
    for (i, identity) in identities.iter().enumerate().skip(1) {
        let role = if i == n - 1 {
            Role::Admin
        } else {
            Role::Member
        };
        creator
            .add(start, &identities[0], identity.identity_key(), role)
            .ok()?;
    }
    let ops = creator.ops();
    let mut channels = vec![creator];
    for identity in identities.iter().skip(1) {
        channels
            .push(GroupChannel::join(rng, identity, ops.clone(), start, s.gossip.clone()).ok()?);
    }
    Some(channels)
}

/// Runs `s` and measures it. `None` when the group cannot be formed (fewer
/// than 6 members).
pub fn run_group_scenario(s: &GroupScenario) -> Option<GroupMetrics> {
    if s.members < 6 {
        return None;
    }
    let n = s.members;
    let mut rng = StdRng::seed_from_u64(s.seed);
    let identities: Vec<Identity> = (0..n).map(|_| Identity::generate(&mut rng)).collect();
    let ids: Vec<NodeId> = identities.iter().map(Identity::node_id).collect();
    let start = UnixMillis(EPOCH_MS);
    let channels = form_group(s, &mut rng, &identities, start)?;
    let key_plaintext = text_plaintext(GROUP_ID_LEN + SENDER_KEY_DISTRIBUTION_LEN, [0; 16], start);
    let key_frame_bytes =
        direct_frame_bytes(&key_plaintext, false).map_or(0, |(d, a)| wire_bytes(d) + wire_bytes(a));
    let mut run = Run {
        scenario: s.clone(),
        rng,
        now: start,
        key_index: identities
            .iter()
            .enumerate()
            .map(|(i, id)| (id.identity_key(), i))
            .collect(),
        identities,
        index: ids.iter().enumerate().map(|(i, id)| (*id, i)).collect(),
        ids,
        channels,
        online: vec![true; n],
        partitioned: false,
        links: BTreeSet::new(),
        queue: BTreeMap::new(),
        sequence: 0,
        held_keys: Vec::new(),
        key_frame_bytes,
        counting: false,
        texts: Vec::new(),
        by_id: BTreeMap::new(),
        arrivals: BTreeMap::new(),
        removed: BTreeMap::new(),
        eavesdropped: BTreeSet::new(),
        removed_reads: BTreeSet::new(),
        sender_copies: BTreeMap::new(),
        push_bytes: 0,
        control_bytes: 0,
        key_bytes: 0,
        keys_sent: 0,
        setup_keys: 0,
        trace: Sha256::new(),
    };
    // Formation: everyone's first key goes round, the overlay forms.
    for member in 0..n {
        run.collect(member);
    }
    run.relink();
    let first = start.saturating_add_millis(GROUP_WARM_UP_MS);
    run.run_until(first);
    run.counting = true;
    run.push_bytes = 0;
    run.control_bytes = 0;

    // Float to integer: a non-negative span of at most days in ms.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let span_ms = (s.hours.max(0.0) * 3_600_000.0) as u64;
    for _ in 0..s.messages {
        let at = first.saturating_add_millis(run.rng.random_range(0..span_ms.max(1)));
        run.schedule(at, Event::Send);
    }
    let mut last = first.saturating_add_millis(span_ms);
    // The admins (0 and the last) and the removed (1 and the last but one)
    // stay online; the others may churn.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let churning = ((s.churn.clamp(0.0, 1.0)) * n as f64).round() as usize;
    let mut order: Vec<usize> = (2..n - 2).collect();
    for i in (1..order.len()).rev() {
        let j = run.rng.random_range(0..=i);
        order.swap(i, j);
    }
    for &member in order.iter().take(churning) {
        let down = first.saturating_add_millis(run.rng.random_range(0..span_ms.max(1)));
        let back = down.saturating_add_millis(
            run.rng
                .random_range(GROUP_ABSENCE_MS.0..=GROUP_ABSENCE_MS.1),
        );
        run.schedule(down, Event::Offline { member });
        run.schedule(back, Event::Online { member });
        last = last.max(back);
    }
    let mut removal_at = first.saturating_add_millis(span_ms * 2 / 5);
    if s.partition_ms > 0 {
        let cut = first.saturating_add_millis(span_ms / 4);
        let heal = cut.saturating_add_millis(s.partition_ms);
        run.schedule(cut, Event::PartitionStart);
        run.schedule(heal, Event::PartitionEnd);
        last = last.max(heal);
        removal_at = cut.saturating_add_millis(s.partition_ms / 2);
    }
    if s.removals {
        run.schedule(
            removal_at,
            Event::Remove {
                admin: 0,
                member: 1,
            },
        );
        run.schedule(
            removal_at.saturating_add_millis(1),
            Event::Remove {
                admin: n - 1,
                member: n - 2,
            },
        );
    }
    run.run_until(last.saturating_add_millis(GROUP_DRAIN_MS));
    Some(measure(&run, s))
}

fn measure(run: &Run, s: &GroupScenario) -> GroupMetrics {
    let mut m = GroupMetrics {
        sent: run.texts.len(),
        push_bytes: run.push_bytes,
        control_bytes: run.control_bytes,
        key_bytes: run.key_bytes,
        keys_sent: run.keys_sent,
        setup_keys: run.setup_keys,
        ..GroupMetrics::default()
    };
    let mut latencies = Vec::new();
    for (index, text) in run.texts.iter().enumerate() {
        if run.removed.contains_key(&text.sender) {
            continue;
        }
        for &member in &text.view {
            // Removed before the text was written, or before the heal could
            // bring it over from the other side of the partition: not owed.
            if run.removed.contains_key(&member)
                && (run.removed.get(&member).is_some_and(|at| *at <= text.sent)
                    || text.cut_off.contains(&member))
            {
                continue;
            }
            m.expected += 1;
            if let Some((count, at)) = run.arrivals.get(&(member, index)) {
                m.delivered += 1;
                m.duplicates += count.saturating_sub(1);
                latencies.push(at.millis_since(text.sent));
            }
        }
    }
    for &(member, text) in &run.removed_reads {
        let t = &run.texts[text];
        if !t.view.contains(&member) {
            m.removed_read_after_removal += 1;
        } else if run.removed.get(&member).is_some_and(|at| *at <= t.sent) {
            m.removed_read_concurrent += 1;
        }
    }
    let remaining: Vec<&GroupChannel> = run
        .channels
        .iter()
        .enumerate()
        .filter(|(i, _)| !run.removed.contains_key(i))
        .map(|(_, c)| c)
        .collect();
    m.views_identical = remaining
        .windows(2)
        .all(|w| w[0].view_hash() == w[1].view_hash());
    // Counts of at most millions: exact enough as f64.
    #[allow(clippy::cast_precision_loss)]
    {
        m.delivery_ratio = if m.expected == 0 {
            1.0
        } else {
            m.delivered as f64 / m.expected as f64
        };
        let copies: Vec<usize> = (0..run.texts.len())
            .map(|t| run.sender_copies.get(&t).copied().unwrap_or(0))
            .collect();
        m.sender_copies_max = copies.iter().copied().max().unwrap_or(0);
        m.sender_copies_mean = if copies.is_empty() {
            0.0
        } else {
            copies.iter().sum::<usize>() as f64 / copies.len() as f64
        };
        let degrees: usize = remaining.iter().map(|c| c.neighbours()).sum();
        m.mean_degree = degrees as f64 / remaining.len().max(1) as f64;
    }
    latencies.sort_unstable();
    let pick = |q: usize| {
        latencies
            .get((latencies.len().saturating_sub(1)) * q / 100)
            .copied()
            .unwrap_or(0)
    };
    m.latency_p50_ms = pick(50);
    m.latency_p99_ms = pick(99);
    // Per-sender order in each member's view ordered by (send time, sender).
    for member in 0..run.scenario.members {
        let mut view: Vec<(UnixMillis, usize, usize)> = run
            .arrivals
            .keys()
            .filter(|(to, _)| *to == member)
            .map(|&(_, text)| (run.texts[text].sent, run.texts[text].sender, text))
            .collect();
        view.sort_unstable();
        let mut last_of: BTreeMap<usize, usize> = BTreeMap::new();
        let mut bad: BTreeSet<usize> = BTreeSet::new();
        for (_, sender, text) in view {
            if let Some(prev) = last_of.insert(sender, text)
                && prev > text
            {
                bad.insert(sender);
            }
        }
        m.order_violations += bad.len();
    }
    m.group_bytes = m.push_bytes + m.control_bytes + m.key_bytes;
    if let Some((direct, ack)) = direct_frame_bytes(
        &text_plaintext(s.text_bytes, [0; 16], UnixMillis(EPOCH_MS)),
        true,
    ) {
        let per_copy = wire_bytes(direct) + wire_bytes(ack);
        m.unicast_bytes = run
            .texts
            .iter()
            .map(|t| t.view.len() as u64 * per_copy)
            .sum();
    }
    #[allow(clippy::cast_precision_loss)]
    {
        m.bytes_ratio = if m.unicast_bytes == 0 {
            0.0
        } else {
            m.group_bytes as f64 / m.unicast_bytes as f64
        };
    }
    let digest: [u8; 32] = run.trace.clone().finalize().into();
    m.trace = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    m
}
