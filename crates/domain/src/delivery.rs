use crate::id::NodeId;
use crate::message::MessageId;
use crate::time::UnixMillis;

/// Which way a message travelled, seen from this node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Direction {
    /// Received from the peer.
    Inbound,
    /// Sent to the peer.
    Outbound,
}

/// Where an outbound message is on its way to the peer.
///
/// Moves forward: `Queued → Sent → Delivered`, or `Queued | Sent → Failed`.
/// A delivery receipt may still turn `Failed` into `Delivered`. The one way
/// back is `Sent → Queued`, when the recipient could not open a message
/// and asks for it again (see `NodeStore::requeue_sent`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MessageStatus {
    /// Durable in the outbox, not yet handed to the peer or a mailbox.
    Queued,
    /// Handed to the peer or deposited in a mailbox; no receipt yet.
    Sent,
    /// The peer's end-to-end encrypted receipt arrived.
    Delivered,
    /// Gave up after the last retry.
    Failed,
}

impl std::fmt::Display for MessageStatus {
    /// Lower case, as the operator reads it: `queued`, `sent`, …
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        })
    }
}

/// One text message of the conversation history, either direction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StoredMessage {
    /// When it was queued (outbound) or received (inbound).
    pub time: UnixMillis,
    /// The other end of the conversation.
    pub peer: NodeId,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The sender-chosen id.
    pub message_id: MessageId,
    /// The text.
    pub text: String,
    /// The group it was written to; `None` for a pairwise message (then
    /// `peer` is the other end; in a group, `peer` is the member that
    /// wrote it, this node for its own).
    pub group: Option<crate::group::GroupId>,
}

/// Delivery progress of an outbound message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeliveryState {
    /// Current status.
    pub status: MessageStatus,
    /// Send attempts that failed so far.
    pub attempts: u32,
    /// When to try again; `None` once no retry is planned.
    pub next_attempt: Option<UnixMillis>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the status last changed.
    pub updated: UnixMillis,
}

/// An outbound message together with its delivery progress.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OutboxEntry {
    /// The message (direction is always [`Direction::Outbound`]).
    pub message: StoredMessage,
    /// Its delivery progress.
    pub delivery: DeliveryState,
}
