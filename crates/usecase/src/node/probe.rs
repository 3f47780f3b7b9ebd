//! Fast failure detection: a delivery that goes unanswered for a while is
//! checked with a ping over the same path, and given up as soon as the ping
//! goes unanswered too.
//!
//! A peer killed without goodbye leaves its connection open at our end; a
//! request on it is retransmitted until the transport's request timeout (30 s
//! on the radio schedule) before it fails, and a delivery attempt waits that
//! long before its message is retried, or deposited in the peer's mailboxes.
//! A ping is small: unlike a large batch on a 64 kbit/s link it needs no
//! more than a round trip and a few retransmissions, so one unanswered for
//! [`PROBE_TIMEOUT`] says the peer is gone. A peer that answers the ping is
//! alive (or at least its new process is), and the delivery waits on to its
//! own timeout.
//!
//! A peer given up is forgotten by the network port: its connection is
//! closed and dropped, so the next call to it dials afresh (and, while the
//! peer is gone, fails at the handshake timeout, then at once while the
//! dial backs off) instead of waiting out the request timeout on the
//! connection the dead process left.

use std::net::SocketAddr;
use std::time::Duration;

use tacnode_domain::NodeId;
use tacnode_domain::dht::{DhtRequest, SenderInfo};
use tacnode_messaging::Message;

use super::{NodeError, Shared};
use crate::ports::CallError;

/// A delivery unanswered this long (plus the time its bytes take on the
/// slowest link, [`PROBE_SLOWEST_LINK_BPS`]) is probed.
pub(crate) const PROBE_AFTER: Duration = Duration::from_secs(4);
/// How long the probe's ping may go unanswered before the peer counts as
/// gone: a round trip of a radio (300 ms), retransmissions at 5 % loss, and
/// room for the bytes queued before it.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(6);
/// The slowest uplink a request is assumed to cross, bits per second: a
/// request of n bytes is probed only `n × 8 / PROBE_SLOWEST_LINK_BPS`
/// seconds after [`PROBE_AFTER`], so a large batch on a radio is not taken
/// for a silent peer while it is still being sent.
pub(crate) const PROBE_SLOWEST_LINK_BPS: u64 = 32_000;

/// When a request of `bytes` bytes is probed.
pub(crate) fn probe_after(bytes: usize) -> Duration {
    let bits = u64::try_from(bytes).unwrap_or(u64::MAX).saturating_mul(8);
    let sending_ms = bits.saturating_mul(1000) / PROBE_SLOWEST_LINK_BPS;
    PROBE_AFTER.saturating_add(Duration::from_millis(sending_ms))
}

/// A DHT ping from us (our node type, endpoints and clock).
pub(crate) fn ping(shared: &Shared) -> Message {
    Message::DhtRequest(DhtRequest::Ping {
        sender: SenderInfo {
            node_type: shared.node_type,
            endpoints: super::maintenance::own_endpoints(shared),
            time: Some(shared.now()),
        },
    })
}

/// Whether the connection open to `peer` still carries an answer: a ping
/// over it answered (a refusal is an answer too) within [`PROBE_TIMEOUT`].
/// Asked when a call over it failed: a slow call is no reason to close a
/// connection that works (a large batch on a radio times out so).
pub(crate) async fn still_answers(shared: &Shared, peer: NodeId) -> bool {
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, shared.net.call(peer, &[], &ping(shared))).await,
        Ok(Ok(_) | Err(CallError::Refused { .. }))
    )
}

/// Calls `peer` with `request` as [`super::net::Net::call`] does; if no
/// answer came after [`probe_after`], pings the peer, and gives the call up
/// with [`NodeError::PeerSilent`] when the ping is not answered within
/// [`PROBE_TIMEOUT`] (or fails). An answered ping (a refusal is an answer
/// too) lets the call run to its own timeout.
pub(crate) async fn call_probed(
    shared: &Shared,
    peer: NodeId,
    addrs: &[SocketAddr],
    request: &Message,
) -> Result<Message, NodeError> {
    // Encoded twice (here and by the call): a copy of bytes that will take
    // far longer on the wire.
    let request_bytes = request.encode().len();
    let call = shared.net.call(peer, addrs, request);
    tokio::pin!(call);
    tokio::select! {
        biased;
        answer = &mut call => return Ok(answer?),
        () = tokio::time::sleep(probe_after(request_bytes)) => {}
    }
    let ping = ping(shared);
    let probe = tokio::time::timeout(PROBE_TIMEOUT, shared.net.call(peer, addrs, &ping));
    tokio::select! {
        biased;
        answer = &mut call => Ok(answer?),
        probed = probe => match probed {
            Ok(Ok(_) | Err(CallError::Refused { .. })) => Ok(call.await?),
            Ok(Err(e)) => {
                tracing::debug!(%peer, "a slow delivery's probe failed ({e}): giving it up");
                shared.net.forget(peer);
                Err(NodeError::PeerSilent(peer))
            }
            Err(_) => {
                tracing::debug!(%peer, "a slow delivery's probe went unanswered: giving it up");
                shared.net.forget(peer);
                Err(NodeError::PeerSilent(peer))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_requests_are_probed_later() {
        assert_eq!(probe_after(0), PROBE_AFTER);
        // 4,000 bytes take a second at 32 kbit/s.
        assert_eq!(probe_after(4_000), PROBE_AFTER + Duration::from_secs(1));
        assert!(probe_after(usize::MAX) >= PROBE_AFTER);
    }
}
