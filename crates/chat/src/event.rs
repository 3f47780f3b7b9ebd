//! What drives the model, and what it asks the event loop to do.

use tacnode_control::{ContactView, MessageView};

use crate::key::Key;

/// Something that happened: a key press or news from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// The operator pressed a key.
    Key(Key),
    /// The terminal changed size (only a redraw).
    Resize,
    /// A message from the history (before [`ChatEvent::HistoryEnd`]) or a
    /// new one.
    Message(MessageView),
    /// The history is complete; what follows is live.
    HistoryEnd,
    /// One of our messages changed status.
    StatusChange {
        /// The message (hex id).
        message_id: String,
        /// `sent`, `in mailbox`, `delivered` or `failed`.
        status: String,
        /// Why it failed.
        reason: Option<String>,
    },
    /// The daemon queued a message this chat sent.
    Queued {
        /// The chat's number for it.
        local_id: u64,
        /// The daemon's id for it.
        message_id: String,
    },
    /// The daemon refused a message this chat sent.
    SendRefused {
        /// The chat's number for it.
        local_id: u64,
        /// Why.
        reason: String,
    },
    /// The contacts as the daemon has them now.
    Contacts(Vec<ContactView>),
    /// The live stream from the daemon ended.
    Disconnected(String),
}

/// What the event loop is to do after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Nothing but a redraw.
    None,
    /// Ask the daemon to send `text` to `to`.
    Send {
        /// The chat's number for the message.
        local_id: u64,
        /// Contact name or address.
        to: String,
        /// The text.
        text: String,
    },
    /// Leave the chat.
    Quit,
}
