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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tacnode_crypto::sealed_sender;
use tacnode_crypto::sphinx::{
    MAX_DELAY_MS, PathHop, ProcessError, Processed, SphinxPacket, create_packet,
};
use tacnode_domain::dht::RefusalCode;
use tacnode_domain::e2e::{MailboxPayload, SealedMessage, SenderSealedMessage};
use tacnode_domain::onion::OnionPayloadKind;
use tacnode_domain::{MessageId, NodeId, NodeType};
use tacnode_messaging::{Message, decode_mailbox_payload, encode_mailbox_payload};

use super::{NodeError, Result, Shared};
use crate::onion_path::{RelayCandidate, choose_relays};

/// Onion packets this node holds to pass on at once; beyond it a packet is
/// refused as over quota (its sender's receipt wait sends it again by
/// another path).
pub(crate) const MAX_ONION_FORWARDS: usize = 256;
/// How long a relay keeps the replay tag of a packet it processed, ms.
/// Packets carry no time (it would tell relays apart), so a packet replayed
/// later than this is processed again: its message arrives twice and is
/// dropped as a duplicate by its recipient.
pub(crate) const ONION_REPLAY_KEEP_MS: u64 = 24 * 3_600_000;
/// Paths tried for one send when a first relay does not take the packet.
const FIRST_HOP_TRIES: usize = 3;
/// Record lookups one send may start to learn more relays' keys.
const MAX_RELAY_LOOKUPS: usize = 4;

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
    let mut candidates = relay_candidates(shared, recipient).await?;
    let mut last = None;
    for _ in 0..FIRST_HOP_TRIES {
        let sealed = sealed.clone();
        let pool = candidates.clone();
        let (first, packet) = shared
            .with_state(move |st, shared| {
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
                let config = &shared.config.privacy;
                let relays = choose_relays(
                    &mut st.rng,
                    &pool,
                    config.relays,
                    &[shared.node_id(), recipient],
                )?;
                let mut path: Vec<PathHop> = relays
                    .iter()
                    .map(|r| PathHop {
                        node: r.node,
                        public_key: r.device_key,
                        delay_ms: mix_delay_ms(&mut st.rng, config.mix_delay_ms),
                    })
                    .collect();
                path.push(PathHop {
                    node: recipient,
                    public_key: device_key,
                    delay_ms: 0,
                });
                let packet = create_packet(&mut st.rng, &path, &payload)?;
                let first = relays.first().map(|r| (r.node, r.endpoints.clone()));
                Ok::<_, NodeError>((first, packet.to_bytes().to_vec()))
            })
            .await?;
        let (node, addrs) = match first {
            Some(known) => known,
            // No relays configured: the recipient is the first hop.
            None => (
                recipient,
                super::send::endpoints_of(shared, recipient).await?,
            ),
        };
        match shared.net.call(node, &addrs, &Message::Onion(packet)).await {
            Ok(Message::OnionAccepted) => return Ok(()),
            Ok(other) => last = Some(NodeError::unexpected(node, &other)),
            Err(e) => {
                tracing::debug!(relay = %node, "onion packet not taken: {e}");
                last = Some(e.into());
            }
        }
        candidates.retain(|c| c.node != node);
    }
    Err(last.unwrap_or(NodeError::OnionRefused {
        tries: FIRST_HOP_TRIES,
    }))
}

/// An exponential delay of mean `mean_ms`, at most what a header can say.
fn mix_delay_ms<R: rand_core::Rng + ?Sized>(rng: &mut R, mean_ms: u64) -> u32 {
    if mean_ms == 0 {
        return 0;
    }
    // Uniform in (0, 1]: 53 random bits, never zero.
    let uniform = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
    let delay = -(mean_ms as f64) * uniform.ln();
    if delay >= f64::from(MAX_DELAY_MS) {
        MAX_DELAY_MS
    } else {
        delay as u32
    }
}

/// The server nodes of our routing table whose records we hold (looking
/// up a few more when too few are known), with the round-trip time of any
/// open connection to them.
async fn relay_candidates(shared: &Arc<Shared>, recipient: NodeId) -> Result<Vec<RelayCandidate>> {
    let me = shared.node_id();
    let servers: Vec<NodeId> = shared
        .dht
        .routing_snapshot()
        .await?
        .into_iter()
        .filter(|e| e.node_type == NodeType::Server && e.node_id != me && e.node_id != recipient)
        .map(|e| e.node_id)
        .collect();
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
            for id in servers {
                if st.unanswered.contains(&id) {
                    continue;
                }
                match st.peers.get(&id) {
                    Some(record) => known.push(candidate(record)),
                    None => missing.push(id),
                }
            }
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

/// The answer to an onion packet from the previous hop: processed with our
/// device key, then passed on after its delay, or opened as mail for us.
pub(crate) async fn handle(shared: &Arc<Shared>, bytes: &[u8]) -> Message {
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
            let Ok(permit) = shared.onion_tasks.clone().try_acquire_owned() else {
                return refusal(RefusalCode::Quota, &"too many onion packets in flight");
            };
            let task_shared = shared.clone();
            shared.spawn(async move {
                let shared = task_shared;
                tokio::time::sleep(Duration::from_millis(u64::from(delay_ms))).await;
                forward(&shared, next, packet.to_bytes().to_vec()).await;
                drop(permit);
            });
            Message::OnionAccepted
        }
        Ok(Processed::Deliver { payload }) => deliver(shared, &payload).await,
        // A reply: no reply blocks are handed out yet, nothing waits for
        // one.
        Ok(_) => Message::OnionAccepted,
        // Dropped without a word: the previous hop learns nothing more.
        Err(ProcessError::Replayed) => Message::OnionAccepted,
        Err(e @ ProcessError::ReplayCacheFull { .. }) => refusal(RefusalCode::Quota, &e),
        Err(e) => refusal(RefusalCode::Malformed, &e),
    }
}

fn refusal(code: RefusalCode, e: &dyn std::fmt::Display) -> Message {
    tracing::debug!("onion packet refused: {e}");
    Message::Error {
        code,
        detail: e.to_string(),
    }
}

async fn forward(shared: &Arc<Shared>, next: NodeId, packet: Vec<u8>) {
    let addrs: Vec<SocketAddr> = match super::send::endpoints_of(shared, next).await {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(%next, "onion packet dropped: next hop not found: {e:#}");
            return;
        }
    };
    match shared.net.call(next, &addrs, &Message::Onion(packet)).await {
        Ok(Message::OnionAccepted) => {}
        Ok(other) => tracing::debug!(%next, "onion packet not taken: {other:?}"),
        Err(e) => tracing::debug!(%next, "onion packet not passed on: {e}"),
    }
}

/// A payload for this node: mail, opened like mail from a mailbox (its
/// receipt goes back to its sender).
async fn deliver(shared: &Arc<Shared>, payload: &[u8]) -> Message {
    let Some((&kind, rest)) = payload.split_first() else {
        return refusal(RefusalCode::Malformed, &"empty onion payload");
    };
    match OnionPayloadKind::from_byte(kind) {
        Some(OnionPayloadKind::Mail) => {}
        None => return refusal(RefusalCode::Unsupported, &"unknown onion payload kind"),
    }
    let sealed = match decode_mailbox_payload(rest) {
        Ok(MailboxPayload::SenderSealed(m)) => match sealed_sender::open(&shared.identity, &m) {
            Ok(sealed) => sealed,
            Err(e) => return refusal(RefusalCode::Unauthorized, &e),
        },
        Ok(MailboxPayload::Unsealed(_)) => {
            return refusal(RefusalCode::Malformed, &"onion mail must seal its sender");
        }
        Err(e) => return refusal(RefusalCode::Malformed, &e),
    };
    match super::receive::receive_all(shared, None, vec![sealed], false).await {
        Ok(mut results) => match results.pop() {
            Some(Err(e)) => e.refusal(),
            _ => Message::OnionAccepted,
        },
        Err(e) => e.refusal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn mix_delays_average_their_mean_and_stay_in_range() {
        let mut rng = StdRng::seed_from_u64(1);
        let n = 20_000u64;
        let sum: u64 = (0..n).map(|_| u64::from(mix_delay_ms(&mut rng, 100))).sum();
        let mean = sum / n;
        assert!((90..=110).contains(&mean), "{mean}");
        assert_eq!(mix_delay_ms(&mut rng, 0), 0);
        assert!(mix_delay_ms(&mut rng, u64::MAX / 2) <= MAX_DELAY_MS);
    }
}
