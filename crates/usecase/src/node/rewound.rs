//! Rewound mail from a mailbox: a sender whose state was rolled back (a
//! restored data directory) seals its next messages under ratchet headers
//! the recipient has already opened, which the recipient can only refuse
//! ([`DecryptError::Rewound`](tacnode_crypto::ratchet::DecryptError)).
//!
//! Handed over directly, such a message is refused as "cannot open" and the
//! sender restarts its session at once. Fetched from a mailbox there is no
//! answer to refuse with, so the recipient tells the sender with a notice
//! ([`Content::Rewound`]):
//! - the recipient restarts its own session with the sender (X3DH with the
//!   sender's bundle, fetched from it or from the DHT) and seals the notice
//!   in it, then hands it over directly or, failing that, deposits it in
//!   the sender's mailboxes, as a receipt goes. A new session opens
//!   whatever state the sender was rolled back to;
//! - the sender opens it (the new session becomes its active one; a notice
//!   sealed in an existing session makes it restart its own), puts every
//!   message to that recipient still without a receipt back in the queue
//!   ([`NodeStore::requeue_sent`](tacnode_domain::ports::NodeStore)), and
//!   sends them again under fresh keys. The recipient drops by id what it
//!   already had.
//!
//! Why a forged notice cannot make a sender drop a healthy session or
//! resend for nothing: the notice is end-to-end: it opens only in a
//! session with the recipient, so only the holder of the recipient's
//! certified device key (X3DH checks the certificate and the pin) or of the
//! session's keys can make one, and a replayed one is refused like any
//! replayed message. What an outsider can do is forge the *condition* at the
//! recipient: a mailbox holder that kept a message the recipient opened can
//! deposit it again with another ciphertext. That costs the recipient one
//! session restart and one notice per sender and
//! [`REWOUND_NOTICE_INTERVAL_MS`](super::state::REWOUND_NOTICE_INTERVAL_MS),
//! and the sender one resend of what has no receipt yet, never a lost
//! message.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tacnode_domain::{Content, MessageId, NodeId, UnixMillis};

use super::{NodeError, Result, Shared, State};

/// Tells each of `senders` (their mail, fetched from a mailbox, reused
/// ratchet keys) to send again, one notice per sender and
/// [`REWOUND_NOTICE_INTERVAL_MS`](super::state::REWOUND_NOTICE_INTERVAL_MS),
/// in tasks of their own (sharing the receipts' limit).
pub(crate) fn notify(shared: &Arc<Shared>, senders: Vec<NodeId>) {
    for sender in senders {
        let Ok(permit) = shared.receipt_tasks.clone().try_acquire_owned() else {
            tracing::warn!(%sender, "too many receipts and notices on their way: the sender of rewound mail is not told this time");
            continue;
        };
        let task_shared = shared.clone();
        shared.spawn(async move {
            let shared = task_shared;
            if let Err(e) = send_notice(&shared, sender).await {
                tracing::warn!(%sender, "could not tell the sender that its mail reused ratchet keys: {e:#}");
                // Another copy of the mail (from another holder, or the next
                // fetch) may try again.
                shared.post_state(move |st, _| {
                    st.rewound_notices.remove(&sender);
                });
            }
            drop(permit);
        });
    }
}

/// Restarts our session with `peer` and sends it the notice in the new
/// session: directly, else through its mailboxes.
async fn send_notice(shared: &Arc<Shared>, peer: NodeId) -> Result<()> {
    let due = shared
        .with_state(move |st, shared| {
            let t = shared.now();
            if !st.rewound_notice_due(&peer, t) {
                return Ok::<_, NodeError>(false);
            }
            if st.restart_session(&peer, t) {
                shared.session_restarts.fetch_add(1, Ordering::Relaxed);
            }
            Ok(true)
        })
        .await?;
    if !due {
        return Ok(());
    }
    tracing::warn!(%peer, "mail fetched from a mailbox reused ratchet keys (its sender's state was rolled back): asking it to send again in a new session");
    super::send::ensure_session(shared, peer, !super::send::onion(shared)).await?;
    super::receive::send_sealed_content(shared, peer, Content::Rewound).await
}

/// What a notice from `peer` changes once the transaction that took it (and
/// put `again` back in the outbox queue) committed: the ciphertexts cached
/// for `peer` were made under the rolled-back session and go, `again` is
/// scheduled at once, and unless the notice came in a session `peer` just
/// started (then ours is fresh already), our session restarts.
pub(crate) fn resend(
    st: &mut State,
    shared: &Shared,
    peer: NodeId,
    again: &[MessageId],
    new_session: bool,
    t: UnixMillis,
) {
    st.sealed_outbox.retain(|_, o| o.recipient != peer);
    st.groups.forget_sealed(&peer);
    if !new_session && st.restart_session(&peer, t) {
        shared.session_restarts.fetch_add(1, Ordering::Relaxed);
    }
    for id in again {
        if let Err(e) = st.delivery.handle_queued(t, *id, peer, t) {
            // It stays queued on disk and is scheduled as others finish.
            tracing::debug!(%peer, message = %id, "not scheduled yet: {e}");
        }
    }
    tracing::warn!(%peer, messages = again.len(), "the recipient could not open our mail (our state was rolled back): sending it again");
    shared.wake_delivery.notify_one();
}
