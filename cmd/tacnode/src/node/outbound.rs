//! The delivery loop: turns the delivery queue's attempts into direct sends
//! and mailbox deposits, one recipient at a time so each peer receives our
//! messages in the order they were written.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tacnode_domain::dht::Contact;
use tacnode_domain::e2e::{PrekeyBundle, SealedMessage};
use tacnode_domain::mailbox::{EntryId, MailboxDeposit};
use tacnode_domain::{Content, MessageId, MessageStatus, NodeId, PeerRecord, mailbox_key};
use tacnode_messaging::{Message, encode_plaintext, encode_sealed};
use tacnode_usecase::conversation::Conversation;
use tacnode_usecase::delivery::{Attempt, Outcome};
use tokio::sync::mpsc;

use super::net::NetError;
use super::{NodeEvent, Shared, now};

/// Longest the loop sleeps without looking at the queue.
const MAX_IDLE: Duration = Duration::from_secs(5);

/// Runs until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    // One worker per recipient, fed in queue order: a peer receives our
    // messages in the order they were written.
    let mut lanes: HashMap<NodeId, mpsc::UnboundedSender<Attempt>> = HashMap::new();
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (attempts, next) = {
            let mut st = shared.state();
            st.delivery.handle_timeout(now());
            let mut a = Vec::new();
            while let Some(x) = st.delivery.poll() {
                a.push(x);
            }
            (a, st.delivery.poll_timeout())
        };
        for attempt in attempts {
            let recipient = match attempt {
                Attempt::Direct { recipient, .. } | Attempt::Deposit { recipient, .. } => recipient,
                Attempt::GiveUp { id } => {
                    give_up(&shared, id);
                    continue;
                }
            };
            let lane = lanes.entry(recipient).or_insert_with(|| {
                let (tx, mut rx) = mpsc::unbounded_channel::<Attempt>();
                let shared = shared.clone();
                tokio::spawn(async move {
                    while let Some(a) = rx.recv().await {
                        attempt_once(&shared, a).await;
                    }
                });
                tx
            });
            if let Err(e) = lane.send(attempt) {
                // The worker ended (only on shutdown); start a new lane next time.
                lanes.remove(&recipient);
                tracing::debug!(%recipient, "delivery lane closed: {e}");
            }
        }
        let wait = next
            .map(|t| Duration::from_millis(t.millis_since(now())))
            .unwrap_or(MAX_IDLE)
            .min(MAX_IDLE);
        tokio::select! {
            _ = shared.wake_delivery.notified() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn give_up(shared: &Shared, id: MessageId) {
    let mut st = shared.state();
    st.sealed_outbox.remove(&id);
    let _ = st
        .store
        .mark_failed(&id, "not delivered before the give-up time", now());
    drop(st);
    shared.emit(NodeEvent::Failed {
        message_id: id,
        reason: "not delivered before the give-up time".into(),
    });
}

async fn attempt_once(shared: &Arc<Shared>, attempt: Attempt) {
    let (id, recipient, deposit) = match attempt {
        Attempt::Direct { id, recipient } => (id, recipient, false),
        Attempt::Deposit { id, recipient } => (id, recipient, true),
        Attempt::GiveUp { .. } => return,
    };
    let result = deliver_queued(shared, id, recipient, deposit).await;
    let outcome = match (&result, deposit) {
        (Ok(_), false) => Outcome::DirectAccepted,
        (Ok(_), true) => Outcome::Deposited,
        (Err(_), false) => Outcome::DirectFailed,
        (Err(_), true) => Outcome::DepositFailed,
    };
    let t = now();
    let mut guard = shared.state();
    let st = &mut *guard;
    st.delivery.handle_outcome(t, id, outcome, &mut st.rng);
    match result {
        Ok(via_mailbox) => {
            st.sealed_outbox.remove(&id);
            let _ = st.store.mark_sent(&id, t);
            drop(guard);
            shared.emit(NodeEvent::Sent {
                message_id: id,
                via_mailbox,
            });
        }
        Err(e) => {
            tracing::debug!(%recipient, message = %id, deposit, "delivery attempt failed: {e:#}");
            // The store's own counter is informational here: the delivery
            // queue decides retries, so a store-side Failed is reverted.
            if let Ok(state) = st.store.record_send_failure(&id, &format!("{e:#}"), t)
                && state.status == MessageStatus::Failed
            {
                let _ = st.store.requeue_failed(&id, t);
            }
        }
    }
}

/// One attempt; `Ok(true)` when the message went to mailboxes. A mailbox
/// attempt still tries the recipient directly first: it may be back.
async fn deliver_queued(
    shared: &Arc<Shared>,
    id: MessageId,
    recipient: NodeId,
    deposit: bool,
) -> Result<bool> {
    let entry = {
        let st = shared.state();
        let entry = st
            .store
            .outbound(&id)?
            .ok_or_else(|| anyhow!("not in the outbox"))?;
        if let Some(c) = st.store.contact(&recipient)?
            && c.identity_changed
        {
            bail!("the contact's keys changed; waiting for verification");
        }
        entry
    };
    if entry.delivery.status != MessageStatus::Queued {
        return Ok(false);
    }
    let cached = shared.state().sealed_outbox.get(&id).cloned();
    let sealed = match cached {
        Some(s) => s,
        None => seal_queued(shared, id, recipient, &entry, deposit).await?,
    };
    deliver_sealed(shared, recipient, &sealed, deposit).await
}

async fn seal_queued(
    shared: &Arc<Shared>,
    id: MessageId,
    recipient: NodeId,
    entry: &tacnode_domain::OutboxEntry,
    deposit: bool,
) -> Result<SealedMessage> {
    ensure_session(shared, recipient, !deposit).await?;
    let sealed = {
        let mut guard = shared.state();
        let st = &mut *guard;
        let conv = st
            .conversations
            .get_mut(&recipient)
            .ok_or_else(|| anyhow!("no session"))?;
        let plaintext = tacnode_domain::Plaintext {
            message_id: id,
            sent: entry.message.time,
            content: Content::Text(entry.message.text.clone()),
        };
        let sealed = conv.seal(
            &mut st.rng,
            shared.identity.identity_key(),
            &encode_plaintext(&plaintext),
        )?;
        st.save_conversation(&recipient, now())?;
        st.sealed_outbox.insert(id, sealed.clone());
        sealed
    };
    Ok(sealed)
}

/// Hands `sealed` to `peer` directly, or (with `fallback`) deposits it in its
/// mailboxes. Returns true when it went to mailboxes.
pub(crate) async fn deliver_sealed(
    shared: &Arc<Shared>,
    peer: NodeId,
    sealed: &SealedMessage,
    fallback: bool,
) -> Result<bool> {
    match direct(shared, peer, sealed).await {
        Ok(()) => Ok(false),
        // The recipient itself refused the message: a mailbox copy would be
        // refused the same way when fetched.
        Err(e)
            if e.chain().any(|c| {
                matches!(c.downcast_ref::<NetError>(), Some(NetError::Refused { .. }))
            }) =>
        {
            Err(e)
        }
        Err(e) if fallback => {
            tracing::debug!(%peer, "direct delivery failed ({e:#}), depositing");
            deposit_sealed(shared, peer, sealed).await.map(|()| true)
        }
        Err(e) => Err(e),
    }
}

async fn direct(shared: &Arc<Shared>, peer: NodeId, sealed: &SealedMessage) -> Result<()> {
    let addrs = endpoints_of(shared, peer).await?;
    match shared
        .net
        .call(peer, &addrs, &Message::Direct(sealed.clone()))
        .await
    {
        Ok(Message::DirectAck) => Ok(()),
        Ok(other) => bail!("unexpected answer {other:?}"),
        Err(e) => {
            if !matches!(e, NetError::Refused { .. }) {
                // The peer may have moved: look its record up again next time.
                shared.state().peers.remove(&peer);
            }
            Err(e.into())
        }
    }
}

/// Deposits at the `mailbox.replicas` server nodes closest to the mailbox
/// key; succeeds when at least one holder accepted.
async fn deposit_sealed(
    shared: &Arc<Shared>,
    recipient: NodeId,
    sealed: &SealedMessage,
) -> Result<()> {
    let holders = mailbox_holders(shared, recipient).await?;
    if holders.is_empty() {
        bail!("no mailbox holders found");
    }
    let payload = encode_sealed(sealed);
    let mut entry_id = [0u8; 16];
    {
        let mut st = shared.state();
        rand_core::Rng::fill_bytes(&mut st.rng, &mut entry_id);
    }
    let expires =
        now().saturating_add_millis(shared.config.mailbox.ttl_hours.saturating_mul(3_600_000));
    let msg = Message::MailboxDeposit(MailboxDeposit {
        recipient,
        entry_id: EntryId(entry_id),
        payload,
        expires,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for h in holders {
        let shared = shared.clone();
        let msg = msg.clone();
        tasks.spawn(async move {
            let addrs: Vec<SocketAddr> = h.endpoints.iter().map(|e| e.0).collect();
            matches!(
                shared.net.call(h.node_id, &addrs, &msg).await,
                Ok(Message::MailboxDeposited { accepted: true })
            )
        });
    }
    let mut accepted = 0usize;
    while let Some(r) = tasks.join_next().await {
        if matches!(r, Ok(true)) {
            accepted += 1;
        }
    }
    if accepted == 0 {
        bail!("no mailbox holder accepted the deposit");
    }
    tracing::debug!(%recipient, accepted, "deposited in mailboxes");
    Ok(())
}

/// The server nodes that hold `recipient`'s mailbox (excluding the
/// recipient itself, which cannot hold its own mail while offline).
pub(crate) async fn mailbox_holders(shared: &Shared, recipient: NodeId) -> Result<Vec<Contact>> {
    let key = mailbox_key(&recipient);
    let mut closest = shared.dht.closest(key).await?;
    closest.retain(|c| c.node_id != recipient);
    closest.truncate(shared.config.mailbox.replicas);
    Ok(closest)
}

/// Where `peer` listens: its peer record, from memory or the DHT.
pub(crate) async fn endpoints_of(shared: &Shared, peer: NodeId) -> Result<Vec<SocketAddr>> {
    if let Some(r) = shared.state().peers.get(&peer) {
        return Ok(r.body.endpoints.iter().map(|e| e.0).collect());
    }
    let record = resolve_peer(shared, peer).await?;
    Ok(record.body.endpoints.iter().map(|e| e.0).collect())
}

async fn resolve_peer(shared: &Shared, peer: NodeId) -> Result<PeerRecord> {
    let record = shared
        .dht
        .find_peer(peer)
        .await?
        .ok_or_else(|| anyhow!("no peer record for {peer} in the DHT"))?;
    let mut st = shared.state();
    let newer = st
        .peers
        .get(&peer)
        .is_none_or(|old| old.body.sequence < record.body.sequence);
    if newer {
        st.peers.insert(peer, record.clone());
    }
    Ok(record)
}

/// Makes sure a session with `peer` exists: X3DH with a bundle fetched from
/// the peer itself (`direct`), else with its prekeys published in the DHT.
async fn ensure_session(shared: &Arc<Shared>, peer: NodeId, direct: bool) -> Result<()> {
    let expected = {
        let mut st = shared.state();
        if st.conversation(&peer)?.is_some() {
            return Ok(());
        }
        super::known_identity(&st, &peer).ok_or_else(|| anyhow!("unknown identity for {peer}"))?
    };
    let bundle = if direct {
        match fetch_bundle(shared, peer).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(%peer, "prekey bundle from the peer failed ({e:#}); trying the DHT copy");
                published_bundle(shared, peer).await?
            }
        }
    } else {
        published_bundle(shared, peer).await?
    };
    if bundle.identity_key != expected {
        bail!("prekey bundle is for another identity");
    }
    let mut guard = shared.state();
    let st = &mut *guard;
    if !st.check_pin(&peer, &bundle.device_key)? {
        st.store.flag_contact_key_change(&peer)?;
        st.set_pending_pin(&peer, &bundle.device_key)?;
        shared.emit(NodeEvent::IdentityChanged { node_id: peer });
        bail!("the contact's device key changed; verify it again");
    }
    if st.conversations.contains_key(&peer) {
        return Ok(());
    }
    let conv = Conversation::initiate(&mut st.rng, &shared.identity, &bundle).context("X3DH")?;
    st.conversations.insert(peer, conv);
    st.save_conversation(&peer, now())?;
    shared
        .x3dh_sessions
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

async fn fetch_bundle(shared: &Shared, peer: NodeId) -> Result<PrekeyBundle> {
    let addrs = endpoints_of(shared, peer).await?;
    match shared
        .net
        .call(peer, &addrs, &Message::PrekeyBundleRequest)
        .await?
    {
        Message::PrekeyBundle(b) => Ok(b),
        other => bail!("unexpected answer {other:?}"),
    }
}

async fn published_bundle(shared: &Shared, peer: NodeId) -> Result<PrekeyBundle> {
    let p = shared
        .dht
        .find_prekeys(peer)
        .await?
        .ok_or_else(|| anyhow!("no published prekeys for {peer}"))?;
    tacnode_crypto::prekey::verify_published(&p).context("published prekeys")?;
    Ok(PrekeyBundle {
        identity_key: p.identity_key,
        device_key: p.device_key,
        device_key_signature: p.device_key_signature,
        signed_prekey: p.signed_prekey,
        one_time_prekey: None,
    })
}
