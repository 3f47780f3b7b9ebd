//! `tacnode-sim group`: one group of M members, each the unmodified
//! `GroupChannel` of `crates/usecase`, sending N texts over H hours while
//! members go offline and come back (churn) and the group is cut in two
//! halves for a while (partition).
//!
//! The network: an overlay link between two members exists while both are
//! online and on the same side of the partition and one of them prefers the
//! other ([`GroupChannel::wanted_neighbours`]); a link is reliable (QUIC
//! retransmits) with a one-way latency of `latency_ms` plus up to 20 ms of
//! jitter, and a message in flight on a link that closes is lost. Links are
//! re-formed at once when a member comes or goes or the partition starts or
//! ends (a real node notices within its idle timeout: the simulator is
//! optimistic there, and the tree repairs what is lost either way).
//!
//! Bytes are counted from the real encoded frames (`Message::Gossip`,
//! our 4-byte length) plus the simulated datagram overhead and one
//! acknowledgement per frame, as `tacnode-sim node` counts them; the
//! baseline sends the same text to every member one by one as a `Direct`
//! frame on an established Double Ratchet session, answered by a
//! `DirectAck`, counted the same way.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sha2::{Digest, Sha256};
use tacnode_domain::gossip::{GossipId, GossipMessage, Topic};
use tacnode_domain::{NodeId, UnixMillis};
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
    /// Members of the group.
    pub members: usize,
    /// Texts sent, by random online members, spread over `hours`.
    pub messages: usize,
    /// Fraction of members that go offline once, for 10 minutes to 2 hours.
    pub churn: f64,
    /// How long the group is cut in two halves (0: never); the cut starts
    /// a quarter into the sending period.
    pub partition_ms: u64,
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
    /// (member, text) pairs that should have arrived: every member of the
    /// group when the text was sent, but its sender.
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
    /// Copies of a text's payload its sender's uplink carried: mean.
    pub sender_copies_mean: f64,
    /// … and most.
    pub sender_copies_max: usize,
    /// Bytes on the wire of the whole group traffic.
    pub group_bytes: u64,
    /// Bytes the same texts cost sent to each member one by one.
    pub unicast_bytes: u64,
    /// `group_bytes / unicast_bytes`.
    pub bytes_ratio: f64,
    /// Of `group_bytes`, pushes (payload copies).
    pub push_bytes: u64,
    /// Of `group_bytes`, announcements, grafts and prunes.
    pub control_bytes: u64,
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
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "sent": self.sent,
            "expected": self.expected,
            "delivered": self.delivered,
            "delivery_ratio": self.delivery_ratio,
            "duplicates": self.duplicates,
            "order_violations": self.order_violations,
            "sender_copies_mean": self.sender_copies_mean,
            "sender_copies_max": self.sender_copies_max,
            "group_bytes": self.group_bytes,
            "unicast_bytes": self.unicast_bytes,
            "bytes_ratio": self.bytes_ratio,
            "push_bytes": self.push_bytes,
            "control_bytes": self.control_bytes,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "mean_degree": self.mean_degree,
            "trace": self.trace,
        })
        .to_string()
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
    Arrive {
        from: usize,
        to: usize,
        message: GossipMessage,
    },
}

/// A text as the run knows it.
struct Text {
    sender: usize,
    sent: UnixMillis,
    recipients: BTreeSet<usize>,
}

struct Run {
    scenario: GroupScenario,
    rng: StdRng,
    now: UnixMillis,
    ids: Vec<NodeId>,
    index: BTreeMap<NodeId, usize>,
    channels: Vec<GroupChannel>,
    online: Vec<bool>,
    partitioned: bool,
    links: BTreeSet<(usize, usize)>,
    queue: BTreeMap<(u64, u64), Event>,
    sequence: u64,
    texts: Vec<Text>,
    by_id: BTreeMap<GossipId, usize>,
    arrivals: BTreeMap<(usize, usize), (usize, UnixMillis)>,
    sender_copies: BTreeMap<usize, usize>,
    push_bytes: u64,
    control_bytes: u64,
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
    /// reachable members; links no one prefers any more close.
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
        for member in 0..n {
            self.collect(member);
        }
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        self.links.contains(&(a.min(b), a.max(b)))
    }

    /// Carries out `member`'s outputs.
    fn collect(&mut self, member: usize) {
        while let Some(output) = self.channels[member].poll_output() {
            match output {
                GroupOutput::Gossip { to, message } => {
                    let Some(&to) = self.index.get(&to) else {
                        continue;
                    };
                    if !self.linked(member, to) {
                        continue;
                    }
                    let frame = Message::Gossip(message.clone()).encode().len() + 4;
                    let bytes = wire_bytes(frame);
                    match &message {
                        GossipMessage::Push { id, .. } => {
                            self.push_bytes += bytes;
                            if let Some(&text) = self.by_id.get(id)
                                && self.texts[text].sender == member
                            {
                                *self.sender_copies.entry(text).or_default() += 1;
                            }
                        }
                        _ => self.control_bytes += bytes,
                    }
                    let jitter = self.rng.random_range(0..=GROUP_JITTER_MS);
                    let at = self
                        .now
                        .saturating_add_millis(self.scenario.latency_ms + jitter);
                    self.schedule(
                        at,
                        Event::Arrive {
                            from: member,
                            to,
                            message,
                        },
                    );
                }
                GroupOutput::Delivered(d) => {
                    let Some(&text) = self.by_id.get(&d.id) else {
                        continue;
                    };
                    let arrival = self.arrivals.entry((member, text)).or_insert((0, self.now));
                    arrival.0 += 1;
                    self.trace.update((member as u64).to_be_bytes());
                    self.trace.update((text as u64).to_be_bytes());
                    self.trace.update(self.now.0.to_be_bytes());
                }
            }
        }
    }

    fn send(&mut self) {
        let n = self.scenario.members;
        let online: Vec<usize> = (0..n).filter(|&m| self.online[m]).collect();
        if online.is_empty() {
            return;
        }
        let sender = online[self.rng.random_range(0..online.len())];
        let id: [u8; 16] = self.rng.random();
        let plaintext = text_plaintext(self.scenario.text_bytes, id, self.now);
        let now = self.now;
        let Ok(gossip_id) = self.channels[sender].send(now, &plaintext) else {
            return;
        };
        let recipients = self.channels[sender]
            .members()
            .iter()
            .filter_map(|m| self.index.get(m).copied())
            .filter(|&m| m != sender)
            .collect();
        let index = self.texts.len();
        self.texts.push(Text {
            sender,
            sent: now,
            recipients,
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

/// Runs `s` and measures it.
pub fn run_group_scenario(s: &GroupScenario) -> GroupMetrics {
    let mut rng = StdRng::seed_from_u64(s.seed);
    let n = s.members.max(2);
    let ids: Vec<NodeId> = (0..n)
        .map(|i| {
            let mut h = Sha256::new();
            h.update(b"tacnode sim group member");
            h.update(s.seed.to_be_bytes());
            h.update((i as u64).to_be_bytes());
            NodeId::from_bytes(h.finalize().into())
        })
        .collect();
    let topic = Topic(rng.random());
    let start = UnixMillis(EPOCH_MS);
    let channels = ids
        .iter()
        .map(|me| GroupChannel::new(topic, *me, ids.iter().copied(), s.gossip.clone()))
        .collect();
    let mut run = Run {
        scenario: GroupScenario {
            members: n,
            ..s.clone()
        },
        rng,
        now: start,
        index: ids.iter().enumerate().map(|(i, id)| (*id, i)).collect(),
        ids,
        channels,
        online: vec![true; n],
        partitioned: false,
        links: BTreeSet::new(),
        queue: BTreeMap::new(),
        sequence: 0,
        texts: Vec::new(),
        by_id: BTreeMap::new(),
        arrivals: BTreeMap::new(),
        sender_copies: BTreeMap::new(),
        push_bytes: 0,
        control_bytes: 0,
        trace: Sha256::new(),
    };
    run.relink();

    // Float to integer: a non-negative span of at most days in ms.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let span_ms = (s.hours.max(0.0) * 3_600_000.0) as u64;
    let first = start.saturating_add_millis(GROUP_WARM_UP_MS);
    for _ in 0..s.messages {
        let at = first.saturating_add_millis(run.rng.random_range(0..span_ms.max(1)));
        run.schedule(at, Event::Send);
    }
    let mut last = first.saturating_add_millis(span_ms);
    // Rounding a fraction of the member count.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let churning = ((s.churn.clamp(0.0, 1.0)) * n as f64).round() as usize;
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
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
    if s.partition_ms > 0 {
        let cut = first.saturating_add_millis(span_ms / 4);
        let heal = cut.saturating_add_millis(s.partition_ms);
        run.schedule(cut, Event::PartitionStart);
        run.schedule(heal, Event::PartitionEnd);
        last = last.max(heal);
    }
    run.run_until(last.saturating_add_millis(GROUP_DRAIN_MS));
    measure(&run, s)
}

fn measure(run: &Run, s: &GroupScenario) -> GroupMetrics {
    let mut m = GroupMetrics {
        sent: run.texts.len(),
        push_bytes: run.push_bytes,
        control_bytes: run.control_bytes,
        ..GroupMetrics::default()
    };
    let mut latencies = Vec::new();
    for (index, text) in run.texts.iter().enumerate() {
        m.expected += text.recipients.len();
        for &member in &text.recipients {
            if let Some((count, at)) = run.arrivals.get(&(member, index)) {
                m.delivered += 1;
                m.duplicates += count.saturating_sub(1);
                latencies.push(at.millis_since(text.sent));
            }
        }
    }
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
        let degrees: usize = run.channels.iter().map(GroupChannel::neighbours).sum();
        m.mean_degree = degrees as f64 / run.channels.len().max(1) as f64;
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
    m.group_bytes = m.push_bytes + m.control_bytes;
    if let Some((direct, ack)) =
        direct_frame_bytes(&text_plaintext(s.text_bytes, [0; 16], UnixMillis(EPOCH_MS)))
    {
        let per_copy = wire_bytes(direct) + wire_bytes(ack);
        m.unicast_bytes = run
            .texts
            .iter()
            .map(|t| t.recipients.len() as u64 * per_copy)
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
