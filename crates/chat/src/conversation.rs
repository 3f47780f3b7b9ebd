//! The messages exchanged with one peer.

use crate::chat_message::ChatMessage;

/// Most messages a conversation keeps in memory; older ones drop off the
/// top (the daemon keeps the history).
pub const MAX_MESSAGES_PER_CONVERSATION: usize = 2_000;

/// A conversation with one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The peer's `key_…` address (or node id hex for a peer that is not a
    /// contact): the key conversations are found by.
    pub address: String,
    /// The contact name, if the peer is one.
    pub name: Option<String>,
    /// Messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Messages received while another conversation was shown.
    pub unread: usize,
    /// The safety number was compared and confirmed.
    pub verified: bool,
    /// The peer's keys changed: the daemon stops sending until the operator
    /// verifies again.
    pub keys_changed: bool,
}

impl Conversation {
    /// An empty conversation with `address`.
    pub fn new(address: String, name: Option<String>) -> Self {
        Self {
            address,
            name,
            messages: Vec::new(),
            unread: 0,
            verified: false,
            keys_changed: false,
        }
    }

    /// The name shown: the contact name, else the address.
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.address)
    }

    /// What `send` is addressed to: the contact name, else the address.
    pub fn recipient(&self) -> String {
        self.title().to_owned()
    }

    /// Adds a message, dropping the oldest past the cap.
    pub fn push(&mut self, message: ChatMessage) {
        self.messages.push(message);
        if self.messages.len() > MAX_MESSAGES_PER_CONVERSATION {
            let excess = self.messages.len() - MAX_MESSAGES_PER_CONVERSATION;
            self.messages.drain(..excess);
        }
    }
}
