//! Periodic work: bootstrap, republishing our records, fetching our
//! mailboxes, expiring held mail, rotating prekeys, snapshotting routing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{NodeError, Result, Shared};
use crate::challenge::prove;
use tacnode_crypto::sealed_sender;
use tacnode_domain::dht::{Contact, Record, RecordValue};
use tacnode_domain::e2e::MailboxPayload;
use tacnode_domain::mailbox::{MAX_ENTRIES_PER_BATCH, MailboxAck, MailboxFetch, MailboxOperation};
use tacnode_domain::{Endpoint, NodeId, UnixMillis, UnsignedPeerRecord};
use tacnode_messaging::{Message, decode_mailbox_payload};

/// How often held mail is expired and the routing table snapshotted.
const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// How often the node checks that its pre-shared peers are still in its
/// routing table, and joins through them again when one is missing: after a
/// partition, each side has dropped the other's nodes, and without this the
/// two halves of the DHT would never find each other again.
const REJOIN: Duration = Duration::from_secs(300);
/// How often a server checks that it should still hold the mail it holds
/// (see [`super::mailbox_handoff`]).
const MAIL_HANDOFF: Duration = Duration::from_secs(600);
/// Signed prekeys are rotated this often.
const SIGNED_PREKEY_ROTATION_MS: u64 = 7 * 24 * 3_600_000;
/// First and longest wait between two attempts to join the network.
const JOIN_RETRY_MIN: Duration = Duration::from_secs(2);
const JOIN_RETRY_MAX: Duration = Duration::from_secs(300);
/// Meta key of the published prekeys' sequence number.
const META_PREKEYS_SEQUENCE: &str = "prekeys.sequence";

/// Bootstraps, then runs the periodic work until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    // Each periodic job runs in a loop of its own, so a slow one (a fetch
    // from unreachable holders, a long hand-off) never holds up the others.
    // The loops end with this task: dropping the set aborts them.
    let mut jobs = tokio::task::JoinSet::new();
    // What a start owes its peers and itself (the greetings after an
    // unclean stop, the first mailbox fetch) goes as soon as the routing
    // table is seeded (the pre-shared peers and the snapshot), alongside
    // joining and publishing our records: on a radio a join and a
    // publication take seconds each, and what waited for us while we were
    // away should not wait for them too. What failed on the seeded table
    // is done again once the join succeeded.
    let joined_once = Arc::new(tokio::sync::Notify::new());
    let mut greeted_and_fetched = false;
    // Until our records reached someone, retry joining with backoff: the
    // bootstrap peers may be slow, far (radio) or not up yet.
    let mut retry = JOIN_RETRY_MIN;
    loop {
        let early = (!greeted_and_fetched).then(|| {
            greeted_and_fetched = true;
            (&mut jobs, joined_once.clone())
        });
        let joined = match bootstrap(&shared, early).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!("bootstrap: {e:#}");
                false
            }
        };
        if joined {
            // A permit is kept: a waiter that comes later goes on at once.
            joined_once.notify_one();
        }
        let published = match publish_records(&shared).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!("publishing our records: {e:#}");
                false
            }
        };
        if (joined && published) || shared.config.bootstrap.is_empty() && !joined {
            break;
        }
        tracing::info!(retry_in_ms = retry.as_millis() as u64, "not joined yet");
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(JOIN_RETRY_MAX);
    }
    let republish = Duration::from_secs(shared.config.dht.republish_interval_secs.max(1));
    let fetch = Duration::from_secs(shared.config.mailbox.fetch_interval_secs.max(1));
    for (job, period) in [
        (Job::Republish, republish),
        (Job::Fetch, fetch),
        (Job::Housekeep, HOUSEKEEPING),
        (Job::Rejoin, REJOIN),
        (Job::HandOff, MAIL_HANDOFF),
        (
            Job::Revocations,
            Duration::from_secs(
                shared
                    .config
                    .admission
                    .revocation_fetch_interval_secs
                    .max(1),
            ),
        ),
    ] {
        if matches!(job, Job::Revocations) && !shared.config.admission.admission.is_closed() {
            continue;
        }
        jobs.spawn(every(shared.clone(), job, period));
    }
    jobs.spawn(super::reachability::run(shared.clone()));
    jobs.spawn(super::relay::keep_reservation(shared.clone()));
    jobs.spawn(super::reachability::confirm_address(shared.clone()));
    while jobs.join_next().await.is_some() {}
}

/// The periodic jobs of a node.
#[derive(Clone, Copy, Debug)]
enum Job {
    /// Rotate prekeys; publish new versions of our records when they changed.
    Republish,
    /// Fetch our mailboxes.
    Fetch,
    /// Expire held mail, snapshot the routing table.
    Housekeep,
    /// Join again through missing pre-shared peers.
    Rejoin,
    /// Hand held mail to closer holders.
    HandOff,
    /// Look up the admins' revocation lists (closed networks).
    Revocations,
}

/// Runs `job` one `period` after it last ended (the first time one period
/// from now; a run that overran is followed by a full period, not a burst)
/// until shutdown. Only a timer is used: the time itself comes from the
/// clock port.
async fn every(shared: Arc<Shared>, job: Job, period: Duration) {
    let mut shutdown = shared.shutdown.clone();
    let mut handoff_cursor = None;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            () = tokio::time::sleep(period) => {}
        }
        match job {
            // The DHT core republishes what we published (one owner of
            // republishing); new versions go out only when they changed.
            Job::Republish => {
                let rotated = shared
                    .with_state(|st, shared| Ok::<_, NodeError>(rotate_prekeys(st, shared)))
                    .await
                    .unwrap_or(false);
                if rotated && let Err(e) = publish_records(&shared).await {
                    tracing::warn!("publishing the rotated prekeys: {e:#}");
                }
            }
            Job::Fetch => {
                if let Err(e) = fetch_own_mailboxes(&shared).await {
                    tracing::debug!("mailbox fetch: {e:#}");
                }
            }
            Job::Housekeep => housekeep(&shared).await,
            Job::Rejoin => {
                if let Err(e) = rejoin(&shared).await {
                    tracing::debug!("rejoining through the pre-shared peers: {e:#}");
                }
            }
            Job::Revocations => {
                if let Err(e) = super::admission::fetch_revocations(&shared).await {
                    tracing::debug!("revocation lookup: {e:#}");
                }
            }
            Job::HandOff => {
                match super::mailbox_handoff::hand_off_held_mail(&shared, handoff_cursor).await {
                    Ok(next) => handoff_cursor = next,
                    Err(e) => tracing::warn!("handing off held mail: {e:#}"),
                }
            }
        }
    }
}

/// After a start: greets the recent peers (after an unclean stop) and
/// fetches our mailboxes, both at once; a fetch that failed, or greetings
/// none of which went through, are done again once `joined` says the join
/// succeeded (the seeded table may have been stale or empty).
async fn greet_and_fetch(shared: Arc<Shared>, joined: Arc<tokio::sync::Notify>) {
    let greet = async {
        if shared.unclean_start && !greet_recent_peers(&shared).await {
            joined.notified().await;
            greet_recent_peers(&shared).await;
        }
    };
    let fetch = async {
        if let Err(e) = fetch_own_mailboxes(&shared).await {
            tracing::debug!("first mailbox fetch, before joining: {e:#}");
            joined.notified().await;
            if let Err(e) = fetch_own_mailboxes(&shared).await {
                tracing::debug!("first mailbox fetch: {e:#}");
            }
        }
    };
    tokio::join!(greet, fetch);
}

/// Peers greeted after a start, at most.
const MAX_GREETINGS: usize = 16;
/// Only peers whose session changed this recently are greeted, ms.
const GREETING_WINDOW_MS: u64 = 24 * 3_600_000;

/// Tells the peers we talked with lately that we are (back) online, with a
/// ping each: a peer whose messages to us went to our previous process (a
/// crash, a restart) sends them now instead of after its timeout and
/// backoff. Costs one ping per recent peer per start. False when there
/// were peers to greet and none was greeted.
async fn greet_recent_peers(shared: &Arc<Shared>) -> bool {
    let since = UnixMillis(shared.now().0.saturating_sub(GREETING_WINDOW_MS));
    let peers = match shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(st.store.recent_session_peers(since, MAX_GREETINGS)?)
        })
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("cannot list recent peers to greet: {e}");
            return true;
        }
    };
    let to_greet = peers.len();
    let ping = super::probe::ping(shared);
    let mut tasks = tokio::task::JoinSet::new();
    for peer in peers {
        let shared = shared.clone();
        let ping = ping.clone();
        tasks.spawn(async move {
            let addrs = super::send::endpoints_of(&shared, peer).await?;
            if let Err(e) = shared.net.call(peer, &addrs, &ping).await {
                super::send::unanswered_call(&shared, peer, &e);
                return Err(e.into());
            }
            Ok::<(), NodeError>(())
        });
    }
    let mut greeted = 0;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => greeted += 1,
            Ok(Err(e)) => tracing::debug!("greeting a recent peer: {e:#}"),
            Err(_) => {}
        }
    }
    to_greet == 0 || greeted > 0
}

/// The pre-shared peers (but this node) as DHT contacts.
fn preshared_contacts(shared: &Shared) -> Vec<Contact> {
    shared
        .config
        .bootstrap
        .iter()
        .filter(|p| p.address.node_id() != shared.node_id())
        .map(|p| Contact {
            node_id: p.address.node_id(),
            endpoints: vec![Endpoint(p.endpoint)],
        })
        .collect()
}

/// Returns the routing table size afterwards. With `early`, spawns the
/// greetings and the first fetch ([`greet_and_fetch`]) there once the table
/// is seeded, before the join itself is done.
async fn bootstrap(
    shared: &Arc<Shared>,
    early: Option<(&mut tokio::task::JoinSet<()>, Arc<tokio::sync::Notify>)>,
) -> Result<usize> {
    let mut contacts = preshared_contacts(shared);
    let snapshot = shared
        .with_state(|st, _| Ok::<_, NodeError>(st.store.load_routing_snapshot()?))
        .await?;
    contacts.extend(snapshot.into_iter().map(|e| Contact {
        node_id: e.node_id,
        endpoints: e.endpoints,
    }));
    if contacts.is_empty() {
        tracing::info!("no bootstrap peers: waiting to be contacted");
        if let Some((jobs, joined)) = early {
            jobs.spawn(greet_and_fetch(shared.clone(), joined));
        }
        return Ok(0);
    }
    let join = shared.dht.start_bootstrap(contacts).await?;
    if let Some((jobs, joined)) = early {
        jobs.spawn(greet_and_fetch(shared.clone(), joined));
    }
    let n = join.await.map_err(|_| NodeError::DhtStopped)?;
    tracing::info!(routing_table = n, "bootstrapped");
    Ok(n)
}

/// Joins again through the pre-shared peers missing from the routing table
/// that answer a ping (a lookup of our own id through them); returns how
/// many it joined through.
async fn rejoin(shared: &Shared) -> Result<usize> {
    let peers = preshared_contacts(shared);
    let missing = shared
        .dht
        .missing_from_routing(peers.iter().map(|c| c.node_id).collect())
        .await?;
    if missing.is_empty() {
        return Ok(0);
    }
    // Only through those that answer: a pre-shared peer that is gone for
    // good costs one ping per round, not a whole join.
    let ping = super::probe::ping(shared);
    let mut answering = Vec::new();
    for c in peers.into_iter().filter(|c| missing.contains(&c.node_id)) {
        let addrs: Vec<SocketAddr> = c.endpoints.iter().map(|e| e.0).collect();
        if shared.net.call(c.node_id, &addrs, &ping).await.is_ok() {
            answering.push(c);
        }
    }
    if answering.is_empty() {
        return Ok(0);
    }
    let joined = answering.len();
    let n = shared.dht.bootstrap(answering).await?;
    tracing::info!(
        through = joined,
        routing_table = n,
        "joined again through pre-shared peers that had dropped out of the routing table"
    );
    Ok(joined)
}

pub(crate) fn own_endpoints(shared: &Shared) -> Vec<Endpoint> {
    if !shared.config.advertise.is_empty() {
        return shared
            .config
            .advertise
            .iter()
            .map(|a| Endpoint(*a))
            .collect();
    }
    let local: SocketAddr = shared.net.local_addr();
    if local.ip().is_unspecified() {
        Vec::new()
    } else {
        vec![Endpoint(local)]
    }
}

/// Publishes our signed peer record and prekeys to the DHT; returns how
/// many nodes stored the peer record.
pub(crate) async fn publish_records(shared: &Arc<Shared>) -> Result<usize> {
    let t = shared.now();
    let ttl = shared.config.dht.record_ttl_hours.saturating_mul(3_600_000);
    let (peer, prekeys) = shared
        .with_state(move |st, shared| {
            let seq = st
                .store
                .meta_u64(tacnode_domain::store::META_PEER_RECORD_SEQUENCE)?
                .unwrap_or(0)
                .max(t.0)
                .saturating_add(1);
            st.store
                .set_meta_u64(tacnode_domain::store::META_PEER_RECORD_SEQUENCE, seq)?;
            let mut metadata = BTreeMap::new();
            if let Some(name) = &shared.config.name {
                metadata.insert("name".to_owned(), name.clone());
            }
            let record = shared.identity.sign_peer_record(UnsignedPeerRecord {
                identity_key: shared.identity.identity_key(),
                device_key: shared.identity.device_key(),
                device_key_signature: shared.identity.device_key_signature(),
                endpoints: super::reachability::published_endpoints(shared),
                node_type: shared.node_type,
                last_seen: t,
                metadata,
                sequence: seq,
                member: shared.config.admission.certificate.clone(),
                reachability: super::reachability::reachability(shared),
                relay: super::relay::published_relay(shared),
            });
            let pseq = st
                .store
                .meta_u64(META_PREKEYS_SEQUENCE)?
                .unwrap_or(0)
                .max(t.0)
                .saturating_add(1);
            st.store.set_meta_u64(META_PREKEYS_SEQUENCE, pseq)?;
            let published = st.prekeys.published(&shared.identity, pseq);
            Ok::<_, NodeError>((record, published))
        })
        .await?;
    let expires = t.saturating_add_millis(ttl);
    let a = shared
        .dht
        .put(Record {
            value: RecordValue::Peer(peer),
            expires,
        })
        .await?;
    let b = shared
        .dht
        .put(Record {
            value: RecordValue::Prekeys(prekeys),
            expires,
        })
        .await?;
    tracing::debug!(peer_record_holders = a, prekey_holders = b, "published");
    Ok(a)
}

/// Rotates the signed prekey when it is due and refills one-time prekeys;
/// returns whether the signed prekey changed (so the published prekeys must
/// be published anew). The new keys are on disk before anything uses them:
/// when saving fails, memory goes back to what the disk holds and nothing
/// new is published or handed out.
fn rotate_prekeys(st: &mut super::State, shared: &Shared) -> bool {
    let t = shared.now();
    let mut rotated = false;
    if t.millis_since(st.prekeys.signed_prekey().created) >= SIGNED_PREKEY_ROTATION_MS {
        match st
            .prekeys
            .rotate_signed_prekey(&mut st.rng, &shared.identity, t)
        {
            Ok(_) => rotated = true,
            Err(e) => tracing::warn!("rotating the signed prekey: {e}"),
        }
    }
    st.prekeys.expire(t);
    if let Err(e) = super::refill_prekeys(st, t) {
        tracing::warn!("saving prekeys: {e:#}");
        st.discard_uncommitted();
        return false;
    }
    rotated
}

async fn housekeep(shared: &Arc<Shared>) {
    shared.post_state(|st, shared| {
        let t = shared.now();
        match st.store.mailbox_purge_expired(t) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(expired = n, "purged held mail"),
            Err(e) => tracing::warn!("purging held mail: {e}"),
        }
        report_expired_deposits(st, shared, t);
    });
    if let Ok(snapshot) = shared.dht.routing_snapshot().await {
        shared.post_state(move |st, _| {
            if let Err(e) = st.store.save_routing_snapshot(&snapshot) {
                tracing::warn!("saving the routing table: {e}");
            }
        });
    }
}

/// Why a deposited message failed.
const EXPIRED_DEPOSIT: &str =
    "no receipt before its mail expired in the mailboxes (the recipient did not fetch it in time)";
/// Expired deposits reported per round, at most.
const MAX_EXPIRED_PER_ROUND: usize = 1_000;

/// Our messages that waited in mailboxes longer than mail lives there
/// (`mailbox.ttl_hours`) with no receipt: the holders dropped them, so they
/// are failed, and the operator is told.
fn report_expired_deposits(st: &mut super::State, shared: &Shared, t: UnixMillis) {
    let ttl = shared.config.mailbox.ttl_hours.saturating_mul(3_600_000);
    let before = t.saturating_sub_millis(ttl);
    let expired = st
        .store
        .expire_deposited(before, EXPIRED_DEPOSIT, t, MAX_EXPIRED_PER_ROUND);
    match expired {
        Ok(list) => {
            for (id, peer) in list {
                tracing::info!(message = %id, %peer, "message failed: {EXPIRED_DEPOSIT}");
                shared.emit(super::NodeEvent::Failed {
                    message_id: id,
                    reason: EXPIRED_DEPOSIT.into(),
                });
            }
        }
        Err(e) => tracing::warn!("checking for expired deposits: {e}"),
    }
}

/// Fetches and acknowledges everything our mailbox holders keep for us;
/// returns how many new texts arrived.
pub(crate) async fn fetch_own_mailboxes(shared: &Arc<Shared>) -> Result<usize> {
    let me = shared.node_id();
    let now = shared.now();
    let holders_ttl_ms = shared
        .config
        .mailbox
        .holder_lookup_interval_secs
        .saturating_mul(1000);
    let cached = shared
        .own_holders
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
        .filter(|(at, _)| now.millis_since(*at) < holders_ttl_ms && *at <= now)
        .map(|(_, h)| h.clone());
    let holders = match cached {
        Some(h) => h,
        None => {
            let h = super::send::mailbox_holders(shared, me).await?;
            if h.is_empty() {
                return Err(NodeError::NoHoldersReachable);
            }
            *shared
                .own_holders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((now, h.clone()));
            h
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for h in holders {
        let shared = shared.clone();
        tasks.spawn(async move {
            fetch_from(
                &shared,
                h.node_id,
                h.endpoints.iter().map(|e| e.0).collect(),
            )
            .await
        });
    }
    let mut fresh = 0;
    let mut failed = false;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(n)) => fresh += n,
            Ok(Err(e)) => {
                failed = true;
                tracing::debug!("mailbox holder: {e:#}");
            }
            Err(_) => failed = true,
        }
    }
    if failed {
        // A holder is gone or moved: look them up afresh next time.
        *shared
            .own_holders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
    Ok(fresh)
}

/// A holder's challenge, and whether it said it holds nothing for us.
async fn challenge(
    shared: &Shared,
    holder: NodeId,
    addrs: &[SocketAddr],
) -> Result<([u8; 32], bool)> {
    match shared
        .net
        .call(
            holder,
            addrs,
            &Message::MailboxChallengeRequest {
                recipient: shared.node_id(),
            },
        )
        .await?
    {
        Message::MailboxChallenge {
            nonce,
            nothing_held,
        } => Ok((nonce, nothing_held)),
        other => Err(NodeError::unexpected(holder, &other)),
    }
}

async fn fetch_from(shared: &Arc<Shared>, holder: NodeId, addrs: Vec<SocketAddr>) -> Result<usize> {
    let me = shared.node_id();
    let mut fresh = 0;
    // Bounded: a holder that keeps saying "more" cannot keep us here forever.
    for _ in 0..64 {
        let (nonce, nothing_held) = challenge(shared, holder, &addrs).await?;
        if nothing_held {
            return Ok(fresh);
        }
        let fetch = Message::MailboxFetch(MailboxFetch {
            recipient: me,
            proof: prove(&shared.identity, &holder, nonce, MailboxOperation::Fetch),
            max_entries: u32::try_from(MAX_ENTRIES_PER_BATCH).unwrap_or(u32::MAX),
        });
        let (entries, more) = match shared.net.call(holder, &addrs, &fetch).await? {
            Message::MailboxEntries { entries, more } => (entries, more),
            other => return Err(NodeError::unexpected(holder, &other)),
        };
        if entries.is_empty() {
            return Ok(fresh);
        }
        let mut done = Vec::with_capacity(entries.len());
        let mut disk_failed = false;
        let mut opened = Vec::with_capacity(entries.len());
        for e in entries {
            match decode_mailbox_payload(&e.payload) {
                // The sender sealed to our device key: who it names is
                // authenticated when its ratchet message opens (below).
                Ok(MailboxPayload::SenderSealed(m)) => {
                    match sealed_sender::open(&shared.identity, &m) {
                        Ok(sealed) => opened.push((e.entry_id, sealed)),
                        // Processed: a box that does not open never will.
                        Err(err) => {
                            tracing::debug!("mailbox entry not opened: {err}");
                            done.push(e.entry_id);
                        }
                    }
                }
                // Written before sealed sender: accepted during the transition.
                Ok(MailboxPayload::Unsealed(sealed)) => opened.push((e.entry_id, sealed)),
                // Processed: a malformed entry never becomes readable.
                Err(err) => {
                    tracing::debug!("mailbox entry malformed: {err}");
                    done.push(e.entry_id);
                }
            }
        }
        let sealed: Vec<_> = opened.iter().map(|(_, s)| s.clone()).collect();
        // One transaction for the whole answer.
        match super::receive::receive_all(shared, None, sealed, true).await {
            Ok(results) => {
                for ((entry_id, _), result) in opened.iter().zip(results) {
                    match result {
                        Ok(super::receive::Received::Text(_)) => fresh += 1,
                        Ok(_) => {}
                        Err(err) => tracing::debug!("mailbox entry not opened: {err:#}"),
                    }
                    // Processed either way: a message that cannot be opened
                    // now never will be.
                    done.push(*entry_id);
                }
            }
            // Our own disk failed, not the messages: keep them at the holder
            // for the next fetch.
            Err(err) => {
                shared.storage_failed("fetched mail was left at its holder", &err);
                disk_failed = true;
            }
        }
        let (nonce, _) = challenge(shared, holder, &addrs).await?;
        let ack = Message::MailboxAck(MailboxAck {
            recipient: me,
            proof: prove(&shared.identity, &holder, nonce, MailboxOperation::Ack),
            entry_ids: done,
        });
        shared.net.call(holder, &addrs, &ack).await?;
        // The same entries would come back: try again next round.
        if !more || disk_failed {
            break;
        }
    }
    Ok(fresh)
}
