//! Hand-off of held mail: a server that holds mail for a recipient but is
//! no longer among the holders a fetch would ask (closer servers joined, or
//! a partition healed and the mail was deposited on the wrong side of it)
//! passes the mail on to those holders and lets go of it. Without this,
//! mail deposited while the network was split waits, unseen, until it
//! expires.

use std::net::SocketAddr;
use std::sync::Arc;

use tacnode_domain::mailbox::{EntryId, MailboxDeposit};
use tacnode_domain::{MessageId, NodeId, NodeType, mailbox_key};
use tacnode_messaging::Message;

use super::{Result, Shared};

/// Recipients whose held mail one round looks at, at most.
pub(crate) const MAX_HANDOFF_RECIPIENTS: usize = 256;
/// Entries handed off per recipient per round, at most.
const MAX_HANDOFF_ENTRIES: usize = 256;

/// One round over the mail this node holds; returns how many entries it
/// handed off.
pub(crate) async fn hand_off_held_mail(shared: &Arc<Shared>) -> Result<usize> {
    if shared.node_type != NodeType::Server {
        return Ok(0);
    }
    let recipients = {
        let st = shared.state();
        st.store
            .mailbox_recipients(None, shared.now(), MAX_HANDOFF_RECIPIENTS)?
    };
    let mut handed = 0;
    for recipient in recipients {
        match hand_off(shared, recipient).await {
            Ok(n) => handed += n,
            Err(e) => tracing::debug!(%recipient, "held mail not handed off: {e:#}"),
        }
    }
    Ok(handed)
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

async fn hand_off(shared: &Arc<Shared>, recipient: NodeId) -> Result<usize> {
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
    let items = {
        let st = shared.state();
        st.store
            .mailbox_fetch(&recipient, shared.now(), MAX_HANDOFF_ENTRIES)?
    };
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
        let mut accepted = false;
        while let Some(r) = tasks.join_next().await {
            accepted |= matches!(r, Ok(true));
        }
        if accepted {
            passed.push(item.message_id);
        }
    }
    if passed.is_empty() {
        return Ok(0);
    }
    let mut st = shared.state();
    st.store.mailbox_remove(&recipient, &passed)?;
    tracing::debug!(%recipient, entries = passed.len(), "held mail handed to closer holders");
    Ok(passed.len())
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
