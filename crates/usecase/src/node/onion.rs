//! Onion routing in the node: sending a sealed message through relays, and
//! processing the packets that reach this node as a relay or as their
//! destination.
//!
//! A message goes as one Sphinx packet whose payload is the message as it
//! would be deposited in a mailbox (its sender sealed to the recipient's
//! device key), so no relay, and not the network, learns who wrote it; only
//! the recipient opens it. Each relay answers its predecessor as soon as it
//! took the packet, holds it a random (exponential) time, and passes it on.
//! The sender learns that the message arrived from its end-to-end receipt,
//! which comes back the same way; without one after
//! `privacy.receipt_wait_ms` the same ciphertext goes again over a new path.
//!
//! With cover traffic (`privacy.cover_bps`), packets this node makes leave
//! only at the times of its [`CoverSchedule`]: a made packet waits in the
//! [`OnionOutbox`] for the next time, and a time with none waiting sends a
//! loop (a packet through relays back to this node).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tacnode_crypto::sealed_sender;
use tacnode_crypto::sphinx::{
    CreateError, MAX_DELAY_MS, MAX_PAYLOAD_LEN, PathHop, ProcessError, Processed, ReplyBlock,
    ReplyId, SphinxPacket, create_packet,
};
use tacnode_domain::dht::RefusalCode;
use tacnode_domain::e2e::{MailboxPayload, SealedMessage, SenderSealedMessage};
use tacnode_domain::mailbox::MailboxDeposit;
use tacnode_domain::onion::OnionPayloadKind;
use tacnode_domain::{DhPublicKey, MessageId, NodeId, NodeType};
use tacnode_messaging::{
    Message, decode_mailbox_deposit, decode_mailbox_payload, decode_published_prekeys,
    encode_mailbox_deposit, encode_mailbox_payload, encode_published_prekeys,
};

use super::{NodeError, Result, Shared};
use crate::cover_schedule::{CoverSchedule, exponential_ms};
use crate::onion_path::{MAX_RELAY_HOLD_MS, PathError, RelayCandidate, choose_relays};

/// Onion packets this node holds to pass on at once; beyond it a packet is
/// refused as over quota (its sender's receipt wait sends it again by
/// another path).
pub(crate) const MAX_ONION_FORWARDS: usize = 256;
/// Packets one predecessor may have held at this relay at once: a quarter
/// of [`MAX_ONION_FORWARDS`], so that no single node fills a relay's hold
/// and crowds everyone else's packets out.
pub(crate) const MAX_ONION_FORWARDS_PER_PEER: usize = MAX_ONION_FORWARDS / 4;
/// How long a relay keeps the replay tag of a packet it processed, ms.
/// Packets carry no time (it would tell relays apart), so a packet replayed
/// later than this is processed again: its message arrives twice and is
/// dropped as a duplicate by its recipient.
pub(crate) const ONION_REPLAY_KEEP_MS: u64 = 24 * 3_600_000;
// A relay's hold fits what a header can ask for.
const _: () = assert!(MAX_RELAY_HOLD_MS <= MAX_DELAY_MS);
/// Paths tried for one send when a first relay does not take the packet.
const FIRST_HOP_TRIES: usize = 3;
/// Record lookups one send may start to learn more relays' keys.
const MAX_RELAY_LOOKUPS: usize = 4;
/// Loops on their way to their first relay at most (a loop may wait for
/// relay records to be looked up): past it a slot goes without a loop
/// rather than pile up tasks.
pub(crate) const MAX_LOOPS_IN_FLIGHT: usize = 8;
/// Replies awaited at once at most (prekey requests on their way); more
/// requests wait their turn.
pub(crate) const MAX_REPLY_WAITS: usize = 64;
/// Prekey requests a holder answers at once at most (each waits for a
/// cover slot); beyond, requests are dropped unanswered.
pub(crate) const MAX_PREKEY_ANSWERS: usize = 8;
/// Holders of a prekey record asked, one after the other, before the
/// lookup falls back to the DHT.
const PREKEY_REQUEST_TRIES: usize = 2;
/// Packets waiting for a cover slot at most; beyond it a send fails (and is
/// retried like any failed attempt).
pub(crate) const MAX_ONION_OUTBOX: usize = 1_024;

/// How many held packets each predecessor handed this relay.
#[derive(Default)]
pub(crate) struct HeldFrom(Arc<std::sync::Mutex<std::collections::HashMap<NodeId, usize>>>);

/// One held packet counted against its predecessor until dropped.
pub(crate) struct HeldSlot {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<NodeId, usize>>>,
    peer: NodeId,
}

impl HeldFrom {
    /// Counts one more packet from `peer`, unless it has
    /// [`MAX_ONION_FORWARDS_PER_PEER`] held already.
    fn take(&self, peer: NodeId) -> Option<HeldSlot> {
        let mut held = self.0.lock().ok()?;
        let count = held.entry(peer).or_insert(0);
        if *count >= MAX_ONION_FORWARDS_PER_PEER {
            return None;
        }
        *count += 1;
        Some(HeldSlot {
            counts: self.0.clone(),
            peer,
        })
    }
}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        if let Ok(mut held) = self.counts.lock()
            && let Some(count) = held.get_mut(&self.peer)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.peer);
            }
        }
    }
}

/// A made packet waiting for its slot.
pub(crate) struct OutboxPacket {
    node: NodeId,
    addrs: Vec<SocketAddr>,
    packet: Vec<u8>,
    taken: tokio::sync::oneshot::Sender<Result<()>>,
}

/// The packets this node made that wait for a cover slot, oldest first.
/// Locked only to push or pop, never across an await.
pub(crate) type OnionOutbox = std::sync::Mutex<std::collections::VecDeque<OutboxPacket>>;

/// Sends `sealed` to `recipient` through `privacy.relays` relays. `Ok` when
/// the first relay took it: whether it arrived, the receipt says.
/// `queued` names the outbox message it is, whose sealed sender is kept so
/// that a retry sends the same bytes inside.
pub(super) async fn send(
    shared: &Arc<Shared>,
    recipient: NodeId,
    sealed: &SealedMessage,
    queued: Option<MessageId>,
) -> Result<()> {
    let sealed = sealed.clone();
    let (payload, device_key) = shared
        .with_state(move |st, _| {
            let sealed_sender = super::send::sealed_sender_for(st, recipient, &sealed, queued)?;
            let mut payload = vec![OnionPayloadKind::Mail as u8];
            payload.extend(encode_mailbox_payload(&SenderSealedMessage {
                sealed_sender,
                body: sealed.anonymous_body(),
            }));
            let device_key = st
                .conversation(&recipient)?
                .ok_or(NodeError::NoSession(recipient))?
                .remote_device_key();
            Ok::<_, NodeError>((payload, device_key))
        })
        .await?;
    route(shared, recipient, device_key, payload, Vec::new(), &[]).await
}

/// Deposits `deposit` in its recipient's mailboxes through relays: each
/// of the `mailbox.replicas` holders gets its copy by a path of its own,
/// and no copy's path goes through another holder where there are relays
/// enough (a holder that was a copy's first relay would see the depositor,
/// then read the recipient in its own copy). So no holder sees who
/// deposits (it sees the last relay and the mailbox). `Ok` when a first
/// relay took at least one copy; whether they reached their holders no
/// one answers (the recipient's receipt does, once it fetched them).
pub(super) async fn deposit(shared: &Arc<Shared>, deposit: &MailboxDeposit) -> Result<()> {
    let mut payload = vec![OnionPayloadKind::Deposit as u8];
    payload.extend(encode_mailbox_deposit(deposit));
    // Before any lookup: a deposit that cannot fit never will.
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(NodeError::OnionPacket(CreateError::PayloadTooLong {
            len: payload.len(),
            max: MAX_PAYLOAD_LEN,
        }));
    }
    let recipient = deposit.recipient;
    let holders =
        region_holders(shared, tacnode_domain::mailbox_key(&recipient), recipient).await?;
    if holders.is_empty() {
        return Err(NodeError::NoMailboxHolders);
    }
    let spare: Vec<NodeId> = holders.iter().map(|(id, _)| *id).collect();
    let mut copies = tokio::task::JoinSet::new();
    for (holder, key) in holders {
        let shared = shared.clone();
        let payload = payload.clone();
        let spare = spare.clone();
        copies.spawn(
            async move { route(&shared, holder, key, payload, vec![recipient], &spare).await },
        );
    }
    let mut taken = 0usize;
    let mut last = None;
    while let Some(copy) = copies.join_next().await {
        match copy {
            Ok(Ok(())) => taken += 1,
            Ok(Err(e)) => {
                tracing::debug!(%recipient, "onion deposit copy not sent: {e:#}");
                last = Some(e);
            }
            Err(e) => tracing::warn!(%recipient, "onion deposit copy task failed: {e}"),
        }
    }
    if taken == 0 {
        return Err(last.unwrap_or(NodeError::DepositRefused));
    }
    tracing::debug!(%recipient, taken, "deposited in mailboxes through relays");
    Ok(())
}

/// `peer`'s published prekeys, asked of a node that holds them through
/// relays, with a reply block for the answer: the holder learns whose
/// prekeys are wanted but not by whom, and no lookup names them (the
/// holders are found by region, as a mailbox's are). Checked here (the
/// peer's identity, its signatures, not revoked): a holder whose answer
/// does not check out is passed over for the next. No DHT lookup of the
/// prekeys follows a failure: a holder could force one by keeping quiet.
pub(super) async fn fetch_prekeys(
    shared: &Arc<Shared>,
    peer: NodeId,
) -> Result<tacnode_domain::e2e::PublishedPrekeys> {
    let key = tacnode_domain::prekey_record_key(&peer);
    let holders = region_holders(shared, key, peer).await?;
    let spare: Vec<NodeId> = holders.iter().map(|(id, _)| *id).collect();
    let mut last = NodeError::NoPublishedPrekeys(peer);
    for (holder, holder_key) in holders.into_iter().take(PREKEY_REQUEST_TRIES) {
        let answered = ask_prekeys(shared, peer, key, (holder, holder_key), &spare)
            .await
            .and_then(|p| check_prekeys(shared, peer, p));
        match answered {
            Ok(p) => return Ok(p),
            Err(e) => {
                tracing::debug!(%peer, %holder, "prekeys not had through relays: {e:#}");
                last = e;
            }
        }
    }
    Err(last)
}

/// What the DHT's record checks would say of prekeys that came another
/// way: the peer's own, signed by it, and the peer not revoked.
fn check_prekeys(
    shared: &Shared,
    peer: NodeId,
    p: tacnode_domain::e2e::PublishedPrekeys,
) -> Result<tacnode_domain::e2e::PublishedPrekeys> {
    if NodeId::from_identity(&p.identity_key) != peer {
        return Err(NodeError::BundleIdentity);
    }
    tacnode_crypto::prekey::verify_published(&p)?;
    if shared.admission.current().is_revoked(&peer) {
        return Err(NodeError::NoPublishedPrekeys(peer));
    }
    Ok(p)
}

/// `count` relays from `pool`, none of `avoid` and, while there are
/// enough others, none of `spare`.
fn choose_sparing<R: rand_core::CryptoRng + ?Sized>(
    rng: &mut R,
    pool: &[RelayCandidate],
    count: usize,
    avoid: &[NodeId],
    spare: &[NodeId],
) -> Result<Vec<RelayCandidate>> {
    let preferred: Vec<RelayCandidate> = pool
        .iter()
        .filter(|c| !spare.contains(&c.node))
        .cloned()
        .collect();
    match choose_relays(rng, &preferred, count, avoid) {
        Ok(relays) => Ok(relays),
        Err(PathError::TooFewRelays { .. }) => Ok(choose_relays(rng, pool, count, avoid)?),
        Err(e) => Err(e.into()),
    }
}

/// One prekey request to `holder` (its id and device key), its request
/// and reply paths clear of the other holders in `spare` where relays
/// allow; answered within the receipt wait.
async fn ask_prekeys(
    shared: &Arc<Shared>,
    peer: NodeId,
    key: NodeId,
    (holder, holder_key): (NodeId, DhPublicKey),
    spare: &[NodeId],
) -> Result<tacnode_domain::e2e::PublishedPrekeys> {
    // Waits its turn: at most MAX_REPLY_WAITS replies awaited at once.
    let _turn = shared
        .reply_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| NodeError::ReplyWaitsFull {
            max: MAX_REPLY_WAITS,
        })?;
    let me = shared.node_id();
    let candidates = relay_candidates(shared, &[me, peer, holder]).await?;
    let (answer, wait) = tokio::sync::oneshot::channel();
    let spared = spare.to_vec();
    let (payload, id) = shared
        .with_state(move |st, shared| {
            if st.reply_waits.len() >= MAX_REPLY_WAITS {
                return Err(NodeError::ReplyWaitsFull {
                    max: MAX_REPLY_WAITS,
                });
            }
            let config = &shared.config.privacy;
            let relays = choose_sparing(
                &mut st.rng,
                &candidates,
                config.relays,
                &[me, peer, holder],
                &spared,
            )?;
            let back = path_home(&mut st.rng, &relays, shared);
            let (block, opener) = ReplyBlock::create(&mut st.rng, &back)?;
            let id = opener.id();
            let mut payload = vec![OnionPayloadKind::PrekeyRequest as u8];
            payload.extend_from_slice(key.as_bytes());
            payload.extend_from_slice(&block.to_bytes());
            st.reply_waits.insert(id, (opener, answer));
            Ok::<_, NodeError>((payload, id))
        })
        .await?;
    let sent = route(shared, holder, holder_key, payload, vec![peer], spare).await;
    let answered = match sent {
        Ok(()) => {
            tokio::time::timeout(Duration::from_millis(receipt_wait_ms(&shared.config)), wait)
                .await
                .ok()
                .and_then(std::result::Result::ok)
        }
        Err(e) => {
            forget_reply(shared, id).await;
            return Err(e);
        }
    };
    let Some(bytes) = answered else {
        forget_reply(shared, id).await;
        return Err(NodeError::NoPublishedPrekeys(peer));
    };
    // An empty answer: the holder has none under the key.
    if bytes.is_empty() {
        return Err(NodeError::NoPublishedPrekeys(peer));
    }
    decode_published_prekeys(&bytes).map_err(|e| NodeError::UnreadableReply(e.to_string()))
}

async fn forget_reply(shared: &Arc<Shared>, id: ReplyId) {
    let _ = shared
        .with_state(move |st, _| {
            st.reply_waits.remove(&id);
            Ok::<_, NodeError>(())
        })
        .await;
}

/// A prekey request for this node: the prekeys it holds under the key
/// (an empty answer when it holds none, so the asker moves on at once),
/// sent back with the request's reply block. Answered only to a first hop
/// this node already knows where to reach (no lookup for a stranger's
/// block), and at most [`MAX_PREKEY_ANSWERS`] at once; beyond, dropped.
fn answer_prekeys(shared: &Arc<Shared>, rest: &[u8]) -> std::result::Result<(), String> {
    let (key, block) = rest
        .split_at_checked(tacnode_domain::ID_LEN)
        .ok_or("prekey request too short")?;
    let key = <[u8; tacnode_domain::ID_LEN]>::try_from(key)
        .map(NodeId::from_bytes)
        .map_err(|e| e.to_string())?;
    let block = ReplyBlock::from_bytes(block).map_err(|e| e.to_string())?;
    let Ok(permit) = shared.prekey_answers.clone().try_acquire_owned() else {
        return Err("too many prekey answers on their way".into());
    };
    let task_shared = shared.clone();
    shared.spawn(async move {
        let shared = task_shared;
        let answered = async {
            let first = block.first_hop();
            let known = shared
                .with_state(move |st, _| {
                    Ok::<_, NodeError>(super::send::known_endpoints(st, &first))
                })
                .await
                .map_err(|e| e.to_string())?;
            let addrs = match known {
                Some(addrs) => addrs,
                None => shared
                    .dht
                    .routing_snapshot()
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .find(|e| e.node_id == first)
                    .map(|e| e.endpoints.iter().map(|a| a.0).collect())
                    .ok_or("the reply block's first hop is not known here")?,
            };
            let prekeys = shared
                .dht
                .local_prekeys(key)
                .await
                .map_err(|e| e.to_string())?;
            let payload = prekeys
                .as_ref()
                .map(encode_published_prekeys)
                .unwrap_or_default();
            let packet = block.seal(&payload).map_err(|e| e.to_string())?;
            hand_over(&shared, first, addrs, packet.to_bytes().to_vec())
                .await
                .map_err(|e| e.to_string())
        };
        if let Err(e) = answered.await {
            tracing::debug!("prekey request not answered: {e}");
        }
        drop(permit);
    });
    Ok(())
}

/// Most records of a mailbox region's nodes looked up for one deposit.
const MAX_REGION_RECORD_LOOKUPS: usize = 32;

/// The `mailbox.replicas` server nodes closest to `key` (a mailbox's or a
/// prekey record's; not `owner`, whose key it is) with their device keys,
/// closest first. Records are looked up for every node of the region's
/// answer we hold none for, not for the closest alone: lookups of exactly
/// the nodes closest to a key would name it.
async fn region_holders(
    shared: &Arc<Shared>,
    key: NodeId,
    owner: NodeId,
) -> Result<Vec<(NodeId, DhPublicKey)>> {
    let answer: Vec<NodeId> = super::send::region_answer(shared, key, owner)
        .await?
        .into_iter()
        .map(|c| c.node_id)
        .collect();
    let ids = answer.clone();
    let missing = shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(
                ids.into_iter()
                    .filter(|id| !st.peers.contains_key(id))
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    let mut lookups = tokio::task::JoinSet::new();
    for id in missing.into_iter().take(MAX_REGION_RECORD_LOOKUPS) {
        let shared = shared.clone();
        lookups.spawn(async move { super::send::resolve_peer(&shared, id).await });
    }
    while lookups.join_next().await.is_some() {}
    let replicas = shared.config.mailbox.replicas;
    shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(
                answer
                    .into_iter()
                    .filter_map(|id| {
                        st.peers
                            .get(&id)
                            .filter(|r| r.body.node_type == NodeType::Server)
                            .map(|r| (id, r.body.device_key))
                    })
                    .take(replicas)
                    .collect(),
            )
        })
        .await
}

/// Sends `payload` to `destination` (whose device key is `key`) through
/// `privacy.relays` relays, none of them us, the destination or one of
/// `avoid`, and none of `spare` while there are enough others. `Ok` when
/// the first relay took it; a first relay that does not is left out of
/// the next try.
async fn route(
    shared: &Arc<Shared>,
    destination: NodeId,
    key: DhPublicKey,
    payload: Vec<u8>,
    mut avoid: Vec<NodeId>,
    spare: &[NodeId],
) -> Result<()> {
    avoid.push(shared.node_id());
    avoid.push(destination);
    let mut candidates = relay_candidates(shared, &avoid).await?;
    let mut last = None;
    for _ in 0..FIRST_HOP_TRIES {
        let pool = candidates.clone();
        let payload = payload.clone();
        let avoid = avoid.clone();
        let spare = spare.to_vec();
        let (first, packet) = shared
            .with_state(move |st, shared| {
                let config = &shared.config.privacy;
                let relays = choose_sparing(&mut st.rng, &pool, config.relays, &avoid, &spare)?;
                let path = path_to(&mut st.rng, &relays, config.mix_delay_ms, destination, key);
                let packet = create_packet(&mut st.rng, &path, &payload)?;
                let first = relays.first().map(|r| (r.node, r.endpoints.clone()));
                Ok::<_, NodeError>((first, packet.to_bytes().to_vec()))
            })
            .await?;
        let (node, addrs) = match first {
            Some(known) => known,
            // No relays configured: the destination is the first hop.
            None => (
                destination,
                super::send::endpoints_of(shared, destination).await?,
            ),
        };
        match hand_over(shared, node, addrs, packet).await {
            Ok(()) => return Ok(()),
            Err(e @ NodeError::OnionOutboxFull { .. }) => return Err(e),
            Err(e) => last = Some(e),
        }
        candidates.retain(|c| c.node != node);
    }
    Err(last.unwrap_or(NodeError::OnionRefused {
        tries: FIRST_HOP_TRIES,
    }))
}

/// Gives `packet` to its first hop: at once, or with cover traffic at the
/// next slot of the schedule. `Ok` once the first hop took it.
async fn hand_over(
    shared: &Arc<Shared>,
    node: NodeId,
    addrs: Vec<SocketAddr>,
    packet: Vec<u8>,
) -> Result<()> {
    if cover_schedule(shared).is_none() {
        return call_first_hop(shared, node, &addrs, packet).await;
    }
    let (taken, done) = tokio::sync::oneshot::channel();
    {
        let mut outbox = shared
            .onion_outbox
            .lock()
            .map_err(|_| NodeError::OnionOutboxFull { max: 0 })?;
        if outbox.len() >= MAX_ONION_OUTBOX {
            return Err(NodeError::OnionOutboxFull {
                max: MAX_ONION_OUTBOX,
            });
        }
        outbox.push_back(OutboxPacket {
            node,
            addrs,
            packet,
            taken,
        });
    }
    done.await
        .map_err(|_| NodeError::OnionRefused { tries: 0 })?
}

async fn call_first_hop(
    shared: &Arc<Shared>,
    node: NodeId,
    addrs: &[SocketAddr],
    packet: Vec<u8>,
) -> Result<()> {
    match shared.net.call(node, addrs, &Message::Onion(packet)).await {
        Ok(Message::OnionAccepted) => Ok(()),
        Ok(other) => Err(NodeError::unexpected(node, &other)),
        Err(e) => {
            tracing::debug!(relay = %node, "onion packet not taken: {e}");
            // Not chosen again until heard from: a relay that went away
            // would otherwise keep costing slots.
            super::send::unanswered_call(shared, node, &e);
            Err(e.into())
        }
    }
}

/// The cover schedule in force: onion routing on and a budget set.
fn cover_schedule(shared: &Shared) -> Option<CoverSchedule> {
    schedule_of(&shared.config)
}

fn schedule_of(config: &super::NodeConfig) -> Option<CoverSchedule> {
    let privacy = &config.privacy;
    if privacy.mode != super::PrivacyMode::Onion {
        return None;
    }
    CoverSchedule::new(privacy.cover_bps).ok().flatten()
}

/// How long a relayed message waits for its receipt before it goes
/// again: `privacy.receipt_wait_ms`, but at least four times what a packet
/// is expected to wait on its way (a cover slot, then each relay's mixing
/// delay), so that a receipt that is only slow does not cost a copy.
pub(crate) fn receipt_wait_ms(config: &super::NodeConfig) -> u64 {
    let privacy = &config.privacy;
    let slot = schedule_of(config).map_or(0, |s| s.mean_gap_ms());
    let mixing = privacy.mix_delay_ms.saturating_mul(privacy.relays as u64);
    privacy
        .receipt_wait_ms
        .max(slot.saturating_add(mixing).saturating_mul(4))
}

/// When a message is deposited in its recipient's mailboxes: the
/// configured deposit time, but through relays not before three receipt
/// waits (a deposit tells its holders who writes to whom, so it is kept
/// for recipients that are away).
pub(crate) fn deposit_after_ms(config: &super::NodeConfig) -> u64 {
    let deposit = config.delivery.deposit_after_ms;
    if config.privacy.mode == super::PrivacyMode::Onion {
        // Never past the give-up time: a message is deposited before it is
        // given up.
        deposit
            .max(receipt_wait_ms(config).saturating_mul(3))
            .min(config.delivery.give_up_after_ms)
    } else {
        deposit
    }
}

/// Sends at the times of the cover schedule: the oldest packet waiting,
/// else a loop. Returns at once without a schedule.
pub(crate) async fn run_cover(shared: Arc<Shared>) {
    let Some(schedule) = cover_schedule(&shared) else {
        return;
    };
    loop {
        let gap = match shared
            .with_state(move |st, _| Ok::<_, NodeError>(schedule.next_gap_ms(&mut st.rng)))
            .await
        {
            Ok(gap) => gap,
            // The node is stopping.
            Err(_) => return,
        };
        tokio::time::sleep(Duration::from_millis(gap)).await;
        let waiting = match shared.onion_outbox.lock() {
            Ok(mut outbox) => outbox.pop_front(),
            Err(_) => return,
        };
        let task_shared = shared.clone();
        match waiting {
            Some(job) => shared.spawn(async move {
                let result = call_first_hop(&task_shared, job.node, &job.addrs, job.packet).await;
                // The sender may have stopped waiting; nothing to tell then.
                let _ = job.taken.send(result);
            }),
            // A bounded number of loops on their way to their first relay:
            // slow lookups or first hops cost slots, never a pile of tasks.
            None => {
                if let Ok(permit) = shared.loop_in_flight.clone().try_acquire_owned() {
                    shared.spawn(async move {
                        if let Err(e) = send_loop(&task_shared).await {
                            tracing::debug!("loop cover packet not sent: {e:#}");
                        }
                        drop(permit);
                    });
                }
            }
        }
    }
}

/// A loop: a packet through relays back to this node, whose payload says
/// only that it is one, and carries a tag only this node knows (so that
/// nobody else can make a loop seem to return).
async fn send_loop(shared: &Arc<Shared>) -> Result<()> {
    let me = shared.node_id();
    let candidates = relay_candidates(shared, &[me]).await?;
    let (first, packet) = shared
        .with_state(move |st, shared| {
            let config = &shared.config.privacy;
            let relays = choose_relays(&mut st.rng, &candidates, config.relays.max(1), &[me])?;
            let path = path_home(&mut st.rng, &relays, shared);
            let mut payload = vec![OnionPayloadKind::Loop as u8];
            let tag = st.loop_tags.issue(&mut st.rng);
            payload.extend_from_slice(&tag);
            let packet = create_packet(&mut st.rng, &path, &payload)?;
            let first = relays.first().map(|r| (r.node, r.endpoints.clone()));
            Ok::<_, NodeError>((first, packet.to_bytes().to_vec()))
        })
        .await?;
    let Some((node, addrs)) = first else {
        return Ok(());
    };
    call_first_hop(shared, node, &addrs, packet).await?;
    shared
        .loops_sent
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The Sphinx path through `relays`, each holding the packet a random
/// mixing delay, to `destination` (whose device key is `key`).
fn path_to<R: rand_core::Rng + ?Sized>(
    rng: &mut R,
    relays: &[RelayCandidate],
    mix_mean_ms: u64,
    destination: NodeId,
    key: tacnode_domain::DhPublicKey,
) -> Vec<PathHop> {
    let mut path: Vec<PathHop> = relays
        .iter()
        .map(|r| PathHop {
            node: r.node,
            public_key: r.device_key,
            delay_ms: mix_delay_ms(rng, mix_mean_ms),
        })
        .collect();
    path.push(PathHop {
        node: destination,
        public_key: key,
        delay_ms: 0,
    });
    path
}

/// The Sphinx path through `relays` back to this node itself (a loop's,
/// a reply block's).
fn path_home<R: rand_core::Rng + ?Sized>(
    rng: &mut R,
    relays: &[RelayCandidate],
    shared: &Shared,
) -> Vec<PathHop> {
    path_to(
        rng,
        relays,
        shared.config.privacy.mix_delay_ms,
        shared.node_id(),
        shared.identity.device_key(),
    )
}

/// An exponential mixing delay of mean `mean_ms`, at most what a relay
/// holds a packet.
fn mix_delay_ms<R: rand_core::Rng + ?Sized>(rng: &mut R, mean_ms: u64) -> u32 {
    u32::try_from(exponential_ms(rng, mean_ms))
        .unwrap_or(MAX_RELAY_HOLD_MS)
        .min(MAX_RELAY_HOLD_MS)
}

/// The server nodes of our routing table whose records we hold (looking
/// up a few more when too few are known), with the round-trip time of any
/// open connection to them.
async fn relay_candidates(shared: &Arc<Shared>, avoid: &[NodeId]) -> Result<Vec<RelayCandidate>> {
    let servers = super::send::routing_servers(shared, avoid).await?;
    let rtts: std::collections::HashMap<NodeId, u64> = shared
        .net
        .connections()
        .into_iter()
        .map(|c| (c.peer, u64::try_from(c.rtt.as_millis()).unwrap_or(u64::MAX)))
        .collect();
    let (mut known, missing) = shared
        .with_state(move |st, _| {
            let mut known = Vec::new();
            let mut missing = Vec::new();
            // Relays that did not answer lately are looked up again only
            // when too few others are known.
            let mut silent = Vec::new();
            for id in servers {
                if st.unanswered.contains(&id) {
                    silent.push(id);
                    continue;
                }
                match st.peers.get(&id) {
                    Some(record) => known.push(candidate(record)),
                    None => missing.push(id),
                }
            }
            missing.extend(silent);
            Ok::<_, NodeError>((known, missing))
        })
        .await?;
    let wanted = shared.config.privacy.relays.saturating_mul(2);
    if known.len() < wanted {
        let mut lookups = tokio::task::JoinSet::new();
        for id in missing.into_iter().take(MAX_RELAY_LOOKUPS) {
            let shared = shared.clone();
            lookups.spawn(async move { super::send::resolve_peer(&shared, id).await });
        }
        while let Some(found) = lookups.join_next().await {
            if let Ok(Ok(record)) = found
                && record.body.node_type == NodeType::Server
            {
                known.push(candidate(&record));
            }
        }
    }
    for c in &mut known {
        c.rtt_ms = rtts.get(&c.node).copied();
    }
    Ok(known)
}

fn candidate(record: &tacnode_domain::PeerRecord) -> RelayCandidate {
    RelayCandidate {
        node: record.node_id,
        device_key: record.body.device_key,
        endpoints: record.body.endpoints.iter().map(|e| e.0).collect(),
        rtt_ms: None,
    }
}

/// The answer to an onion packet from the previous hop `from` (its id and
/// address): processed with our device key, then passed on after its
/// delay, or opened as mail or a deposit for us.
pub(crate) async fn handle(
    shared: &Arc<Shared>,
    bytes: &[u8],
    from: (NodeId, SocketAddr),
) -> Message {
    let packet = match SphinxPacket::from_bytes(bytes) {
        Ok(p) => p,
        Err(e) => return refusal(RefusalCode::Malformed, &e),
    };
    let now = shared.now();
    let processed = match shared.onion_replays.lock() {
        Ok(mut replays) => packet.process(shared.identity.device_secret(), &mut replays, now),
        Err(_) => return refusal(RefusalCode::Internal, &"onion replay cache unavailable"),
    };
    match processed {
        Ok(Processed::Forward {
            next,
            delay_ms,
            packet,
        }) => {
            // Only servers relay (a client or radio node does not carry
            // others' traffic).
            if shared.node_type != NodeType::Server {
                return refusal(RefusalCode::Unsupported, &"this node does not relay");
            }
            let delay_ms = delay_ms.min(MAX_RELAY_HOLD_MS);
            let Some(slot) = shared.onion_held_from.take(from.0) else {
                return refusal(
                    RefusalCode::Quota,
                    &"too many onion packets from this node in flight",
                );
            };
            let Ok(permit) = shared.onion_tasks.clone().try_acquire_owned() else {
                return refusal(RefusalCode::Quota, &"too many onion packets in flight");
            };
            let task_shared = shared.clone();
            shared.spawn(async move {
                let shared = task_shared;
                tokio::time::sleep(Duration::from_millis(u64::from(delay_ms))).await;
                forward(&shared, next, packet.to_bytes().to_vec()).await;
                drop(permit);
                drop(slot);
            });
            Message::OnionAccepted
        }
        // Taken at once, whatever becomes of it: an answer that told a
        // refused payload apart (a tampered body, say) would let the last
        // relay learn what the first one did to it. A payload lost here
        // is sent again by its sender, whose receipt does not come.
        Ok(Processed::Deliver { payload }) => {
            // Within the predecessor's share and the node's bound, or
            // dropped unseen (its sender sends again, as for a loss).
            if let Some(slot) = shared.onion_held_from.take(from.0)
                && let Ok(permit) = shared.onion_tasks.clone().try_acquire_owned()
            {
                let task_shared = shared.clone();
                shared.spawn(async move {
                    if let Err(e) = deliver(&task_shared, &payload, from).await {
                        tracing::debug!("onion payload not taken: {e}");
                    }
                    drop(permit);
                    drop(slot);
                });
            }
            Message::OnionAccepted
        }
        // A reply to one of our reply blocks: opened, and handed to what
        // waits for it (nothing does once it timed out).
        Ok(Processed::Reply { body }) => {
            let Ok(permit) = shared.onion_tasks.clone().try_acquire_owned() else {
                return Message::OnionAccepted;
            };
            let task_shared = shared.clone();
            shared.spawn(async move {
                let opened = task_shared
                    .with_state(move |st, _| {
                        Ok::<_, NodeError>(
                            st.reply_waits
                                .remove(&body.id())
                                .map(|(opener, waiter)| (opener.open(&body), waiter)),
                        )
                    })
                    .await;
                match opened {
                    Ok(Some((Ok(bytes), waiter))) => {
                        let _ = waiter.send(bytes);
                    }
                    Ok(Some((Err(e), _))) => {
                        tracing::debug!("reply through relays unreadable: {e}")
                    }
                    Ok(None) | Err(_) => tracing::debug!("reply through relays nobody waits for"),
                }
                drop(permit);
            });
            Message::OnionAccepted
        }
        Ok(_) => Message::OnionAccepted,
        // Dropped without a word: the previous hop learns nothing more.
        Err(ProcessError::Replayed) => Message::OnionAccepted,
        Err(e @ ProcessError::ReplayCacheFull { .. }) => refusal(RefusalCode::Quota, &e),
        Err(e) => refusal(RefusalCode::Malformed, &e),
    }
}

fn refusal(code: RefusalCode, e: &dyn std::fmt::Display) -> Message {
    tracing::debug!("onion packet refused: {e}");
    super::serve::refuse(code, e.to_string())
}

async fn forward(shared: &Arc<Shared>, next: NodeId, packet: Vec<u8>) {
    let addrs: Vec<SocketAddr> = match super::send::endpoints_of(shared, next).await {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(%next, "onion packet dropped: next hop not found: {e:#}");
            return;
        }
    };
    // A destination nobody can dial is reached through its relay.
    match super::relay::call(shared, next, &addrs, &Message::Onion(packet)).await {
        Ok(Message::OnionAccepted) => {}
        Ok(other) => tracing::debug!(%next, "onion packet not taken: {other:?}"),
        Err(e) => {
            tracing::debug!(%next, "onion packet not passed on: {e}");
            super::send::unanswered_call(shared, next, &e);
        }
    }
}

/// A payload for this node: mail, opened like mail from a mailbox (its
/// receipt goes back to its sender), a deposit for a mailbox we hold, or
/// one of our loops come back.
async fn deliver(
    shared: &Arc<Shared>,
    payload: &[u8],
    from: (NodeId, SocketAddr),
) -> std::result::Result<(), String> {
    let Some((&kind, rest)) = payload.split_first() else {
        return Err("empty onion payload".into());
    };
    match OnionPayloadKind::from_byte(kind) {
        Some(OnionPayloadKind::Mail) => {}
        Some(OnionPayloadKind::Loop) => {
            let tag = rest.to_vec();
            let ours = shared
                .with_state(move |st, _| Ok::<_, NodeError>(st.loop_tags.handle_returned(&tag)))
                .await
                .unwrap_or(false);
            if !ours {
                return Err("a loop packet this node did not send".into());
            }
            shared
                .loops_returned
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        Some(OnionPayloadKind::PrekeyRequest) => return answer_prekeys(shared, rest),
        Some(OnionPayloadKind::Deposit) => {
            let deposit = decode_mailbox_deposit(rest).map_err(|e| e.to_string())?;
            return super::serve::keep_deposit(shared, deposit, from)
                .await
                .map_err(|(code, detail)| format!("deposit refused ({code:?}): {detail}"));
        }
        None => return Err(format!("unknown onion payload kind {kind}")),
    }
    let sealed = match decode_mailbox_payload(rest) {
        Ok(MailboxPayload::SenderSealed(m)) => {
            sealed_sender::open(&shared.identity, &m).map_err(|e| e.to_string())?
        }
        Ok(MailboxPayload::Unsealed(_)) => return Err("onion mail must seal its sender".into()),
        Err(e) => return Err(e.to_string()),
    };
    // Not "via mailbox": its sender keeps it pending until the receipt.
    match super::receive::receive_all(shared, None, vec![sealed], false).await {
        Ok(mut results) => match results.pop() {
            Some(Err(e)) => Err(format!("{e:#}")),
            _ => Ok(()),
        },
        Err(e) => Err(format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn the_receipt_wait_and_the_deposit_time_grow_with_cover_and_mixing() {
        let mut config = super::super::NodeConfig::default();
        assert_eq!(deposit_after_ms(&config), 30_000);
        config.privacy.mode = super::super::PrivacyMode::Onion;
        config.privacy.cover_bps = 0;
        assert_eq!(receipt_wait_ms(&config), 10_000);
        assert_eq!(deposit_after_ms(&config), 30_000);
        config.privacy.cover_bps = 2_000;
        config.privacy.mix_delay_ms = 1_000;
        // A 4.6 s slot and three 1 s mixes, four times.
        assert_eq!(receipt_wait_ms(&config), 30_400);
        assert_eq!(deposit_after_ms(&config), 91_200);
    }

    #[test]
    fn one_predecessor_cannot_fill_a_relays_hold() {
        let held = HeldFrom::default();
        let (a, b) = (NodeId::from_bytes([1; 32]), NodeId::from_bytes([2; 32]));
        let mut slots: Vec<HeldSlot> = (0..MAX_ONION_FORWARDS_PER_PEER)
            .map(|_| held.take(a).unwrap())
            .collect();
        assert!(held.take(a).is_none(), "over its quota");
        // Others still get in, and a packet passed on frees its slot.
        assert!(held.take(b).is_some());
        slots.pop();
        assert!(held.take(a).is_some());
        drop(slots);
        assert!(held.0.lock().unwrap().is_empty(), "every slot given back");
    }

    #[test]
    fn mix_delays_average_their_mean_and_stay_in_range() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = 20_000u64;
        let sum: u64 = (0..n).map(|_| u64::from(mix_delay_ms(&mut rng, 100))).sum();
        let mean = sum / n;
        assert!((90..=110).contains(&mean), "{mean}");
        assert_eq!(mix_delay_ms(&mut rng, 0), 0);
        assert!(mix_delay_ms(&mut rng, u64::MAX / 2) <= MAX_RELAY_HOLD_MS);
    }
}
