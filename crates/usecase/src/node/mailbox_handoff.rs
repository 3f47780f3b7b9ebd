//! Hand-off of held mail: a server that holds mail for a recipient but is
//! no longer among the holders a fetch would ask (closer servers joined, or
//! a partition healed and the mail was deposited on the wrong side of it)
//! passes the mail on to those holders and lets go of it. Without this,
//! mail deposited while the network was split waits, unseen, until it
//! expires. The round is bounded (recipients and entries), resumes where
//! the last one stopped, and a copy is let go only once a majority of the
//! holders took it.

use std::net::SocketAddr;
use std::sync::Arc;

use tacnode_domain::mailbox::{EntryId, MailboxDeposit};
use tacnode_domain::{MessageId, NodeId, NodeType, mailbox_key};
use tacnode_messaging::Message;

use super::{NodeError, Result, Shared};

/// Recipients whose held mail one round looks at, at most; the next round
/// goes on after the last one.
pub(crate) const MAX_HANDOFF_RECIPIENTS: usize = 64;
/// Entries handed off in one round, at most (each costs a deposit at every
/// holder).
const MAX_HANDOFF_ENTRIES: usize = 256;

/// One round over the mail this node holds, from the recipient after
/// `cursor`; returns where the next round goes on (`None`: from the start).
pub(crate) async fn hand_off_held_mail(
    shared: &Arc<Shared>,
    cursor: Option<NodeId>,
) -> Result<Option<NodeId>> {
    if shared.node_type != NodeType::Server {
        return Ok(None);
    }
    let recipients = shared
        .with_state(move |st, shared| {
            Ok::<_, NodeError>(st.store.mailbox_recipients(
                cursor.as_ref(),
                shared.now(),
                MAX_HANDOFF_RECIPIENTS,
            )?)
        })
        .await?;
    let next = if recipients.len() < MAX_HANDOFF_RECIPIENTS {
        None
    } else {
        recipients.last().copied()
    };
    let mut budget = MAX_HANDOFF_ENTRIES;
    for recipient in recipients {
        if budget == 0 {
            return Ok(Some(recipient));
        }
        match hand_off(shared, recipient, budget).await {
            Ok(n) => budget = budget.saturating_sub(n.max(1)),
            Err(e) => tracing::debug!(%recipient, "held mail not handed off: {e:#}"),
        }
    }
    Ok(next)
}

/// Whether this node is among the `replicas` holders closest to the key of
/// `recipient`'s mailbox, given the closest servers a lookup found (which
/// never include the node itself).
fn still_a_holder(me: &NodeId, recipient: &NodeId, found: &[NodeId], replicas: usize) -> bool {
    let key = mailbox_key(recipient);
    let mine = key.distance(me);
    let closer = found
        .iter()
        .filter(|h| *h != recipient && key.distance(h) < mine)
        .count();
    closer < replicas
}

/// Holders that must take an entry before we let go of our copy: a
/// majority of those found, so one full or Sybil holder cannot make the
/// mail thinner than it was.
fn needed(holders: usize) -> usize {
    holders / 2 + 1
}

/// Hands at most `budget` entries held for `recipient` to its holders;
/// returns how many entries it looked at.
async fn hand_off(shared: &Arc<Shared>, recipient: NodeId, budget: usize) -> Result<usize> {
    let holders = super::send::mailbox_holders(shared, recipient).await?;
    let found: Vec<NodeId> = holders.iter().map(|h| h.node_id).collect();
    if holders.is_empty()
        || still_a_holder(
            &shared.node_id(),
            &recipient,
            &found,
            shared.config.mailbox.replicas,
        )
    {
        return Ok(0);
    }
    let items = shared
        .with_state(move |st, shared| {
            Ok::<_, NodeError>(st.store.mailbox_fetch(&recipient, shared.now(), budget)?)
        })
        .await?;
    let looked = items.len();
    let mut passed: Vec<MessageId> = Vec::new();
    for item in items {
        let msg = Message::MailboxDeposit(MailboxDeposit {
            recipient,
            entry_id: EntryId(item.message_id.0),
            payload: item.payload,
            expires: item.expires,
        });
        let mut tasks = tokio::task::JoinSet::new();
        for h in &holders {
            let shared = shared.clone();
            let msg = msg.clone();
            let to = h.node_id;
            let addrs: Vec<SocketAddr> = h.endpoints.iter().map(|e| e.0).collect();
            tasks.spawn(async move {
                matches!(
                    shared.net.call(to, &addrs, &msg).await,
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
        if accepted >= needed(holders.len()) {
            passed.push(item.message_id);
        }
    }
    if !passed.is_empty() {
        let n = passed.len();
        shared
            .with_state(move |st, _| {
                Ok::<_, NodeError>(st.store.mailbox_remove(&recipient, &passed)?)
            })
            .await?;
        tracing::debug!(%recipient, entries = n, "held mail handed to closer holders");
    }
    Ok(looked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_lets_go_only_when_enough_closer_holders_exist() {
        let recipient = NodeId::from_bytes([7; 32]);
        let key = mailbox_key(&recipient);
        let mut others: Vec<NodeId> = (1..=12u8).map(|b| NodeId::from_bytes([b; 32])).collect();
        others.sort_by_key(|n| key.distance(n));
        // Closest of all: keeps the mail.
        let nearest = others.remove(0);
        assert!(still_a_holder(&nearest, &recipient, &others, 5));
        // Farthest of all, with 11 closer: lets go.
        let farthest = others.pop().unwrap_or(nearest);
        assert!(!still_a_holder(&farthest, &recipient, &others, 5));
        // The recipient itself never counts as a holder.
        assert!(still_a_holder(&farthest, &recipient, &[recipient], 1));
    }
}
