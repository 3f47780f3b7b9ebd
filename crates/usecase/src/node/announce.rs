//! Announcements in the node: the network-wide [`AnnouncementBoard`],
//! driven by the group task ([`super::groups`]) over the same gossip
//! requests.
//!
//! The overlay rides on connections the node has anyway: a node that holds
//! announcements links to the peers it is connected to (up to
//! [`MAX_ANNOUNCE_LINKS`], those whose rendezvous hash with it is smallest
//! first), so it passes them on; a peer it links to holds them next, and
//! links on in turn. A link drops when its connection closes. So
//! announcements never dial anyone, reach every node a chain of
//! connections reaches, and a network with nothing announced in the last
//! day sends no byte for them.
//! Announcements are not kept across a restart: services are listed again
//! when their authors announce them again.

use tacnode_domain::gossip::GossipMessage;
use tacnode_domain::{ANNOUNCEMENT_TOPIC, AnnouncementKind, MAX_SERVICE_LIFETIME_MS};
use tacnode_domain::{NodeId, UnixMillis};

use super::groups::GroupAction;
use super::{NodeError, NodeEvent, Result, Shared, State};
use crate::announcements::{AnnouncementBoard, AnnouncementOutput, ServiceListing};
use crate::group::neighbours::preferred;

/// Most links a node keeps in the announcement overlay.
pub(crate) const MAX_ANNOUNCE_LINKS: usize = 8;

/// The board, made on first use.
fn board<'a>(st: &'a mut State, shared: &Shared) -> &'a mut AnnouncementBoard {
    st.groups.board.get_or_insert_with(|| {
        AnnouncementBoard::new(&shared.identity, shared.now(), shared.config.gossip.clone())
    })
}

/// Takes what the board asks for: gossip to send, announcements heard.
pub(crate) fn drain(st: &mut State, shared: &Shared) -> (Vec<GroupAction>, Vec<NodeEvent>) {
    let mut actions = Vec::new();
    let mut events = Vec::new();
    while let Some(out) = board(st, shared).poll_output() {
        match out {
            AnnouncementOutput::Gossip { to, message } => {
                actions.push(GroupAction::Gossip { to, message });
            }
            AnnouncementOutput::Heard(a) => {
                let from = NodeId::from_identity(&a.body.author);
                match a.body.kind {
                    AnnouncementKind::Alert { text } => events.push(NodeEvent::Alert {
                        from,
                        text,
                        time: a.body.time,
                    }),
                    AnnouncementKind::Service { name, .. } => {
                        tracing::debug!(%from, "service {name:?} advertised");
                    }
                }
            }
        }
    }
    (actions, events)
}

/// Whether `topic` is the announcement overlay's.
pub(crate) fn is_announcement(message: &GossipMessage) -> bool {
    message.topic() == ANNOUNCEMENT_TOPIC
}

/// A peer's announcement gossip: its link is taken up (within the limit),
/// and what it carries judged by the board.
pub(crate) fn receive(
    st: &mut State,
    shared: &Shared,
    from: NodeId,
    message: GossipMessage,
) -> Result<(Vec<GroupAction>, Vec<NodeEvent>)> {
    let t = shared.now();
    let b = board(st, shared);
    if !b.is_neighbour(&from) {
        if b.neighbours().len() >= MAX_ANNOUNCE_LINKS {
            // Taken and ignored: a refusal would read as a dead link to
            // the caller and take its group links to us down too; it
            // passes announcements on over its other links.
            return Ok((Vec::new(), Vec::new()));
        }
        b.neighbour_up(t, from);
    }
    if let Err(e) = b.handle_gossip(t, from, message) {
        tracing::debug!(peer = %from, "announcement refused: {e}");
    }
    Ok(drain(st, shared))
}

/// The board's round in the group task: timers, and links following the
/// connections open now.
pub(crate) fn tick(
    st: &mut State,
    shared: &Shared,
    connected: &[NodeId],
) -> (Vec<GroupAction>, Vec<NodeEvent>) {
    let t = shared.now();
    // Peers whose calls failed lately are left out, as for group links.
    let connected: Vec<NodeId> = connected
        .iter()
        .filter(|p| st.groups.link_ok(p, t))
        .copied()
        .collect();
    let connected = connected.as_slice();
    let me = shared.node_id();
    let b = board(st, shared);
    if b.poll_timeout().is_some_and(|due| due <= t) {
        b.handle_timeout(t);
    }
    for peer in b.neighbours() {
        if !connected.contains(&peer) {
            b.neighbour_down(&peer);
        }
    }
    let mut wanted = if b.held() > 0 {
        preferred(&ANNOUNCEMENT_TOPIC, &me, connected)
    } else {
        Vec::new()
    };
    wanted.truncate(MAX_ANNOUNCE_LINKS);
    tracing::trace!(me = %me, held = b.held(), connected = connected.len(), links = b.neighbours().len(), "announcement links");
    for peer in wanted {
        if !b.is_neighbour(&peer) && b.neighbours().len() < MAX_ANNOUNCE_LINKS {
            b.neighbour_up(t, peer);
        }
    }
    drain(st, shared)
}

/// Announces `kind` to every node (at most 6 an hour).
pub(crate) fn announce(st: &mut State, shared: &Shared, kind: AnnouncementKind) -> Result<()> {
    let t = shared.now();
    board(st, shared)
        .announce(t, &shared.identity, kind)
        .map_err(NodeError::Announcement)?;
    let (actions, _) = drain(st, shared);
    st.groups.pending.extend(actions);
    Ok(())
}

/// A service advertisement lasting `hours` (at most 24).
pub(crate) fn service(name: &str, detail: &str, hours: u64, now: UnixMillis) -> AnnouncementKind {
    let lifetime = hours.saturating_mul(3_600_000).min(MAX_SERVICE_LIFETIME_MS);
    AnnouncementKind::Service {
        name: name.to_owned(),
        detail: detail.to_owned(),
        until: now.saturating_add_millis(lifetime),
    }
}

/// Services on offer now.
pub(crate) fn services(st: &mut State, shared: &Shared) -> Vec<ServiceListing> {
    let t = shared.now();
    board(st, shared).services(t)
}
