//! One message in a conversation.

use crate::tick::Tick;

/// A message as the chat shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The daemon's message id (hex); `None` until the daemon queued it.
    pub message_id: Option<String>,
    /// The chat's own number for a message it sent, to match the daemon's
    /// answer to it.
    pub local_id: Option<u64>,
    /// When it was sent or received (Unix ms).
    pub time_ms: u64,
    /// Ours (true) or the peer's.
    pub outgoing: bool,
    /// The text.
    pub text: String,
    /// Its delivery state.
    pub tick: Tick,
}
