//! The chat's whole state, driven by events: pure, no I/O.

use tacnode_control::{ContactView, MessageView};

use crate::chat_message::ChatMessage;
use crate::conversation::Conversation;
use crate::event::{ChatEvent, Effect};
use crate::input_line::InputLine;
use crate::key::Key;
use crate::tick::Tick;

/// Status changes kept for messages the chat does not know yet (the change
/// can arrive before the daemon's answer to the send); the oldest go first.
pub const MAX_EARLY_STATUSES: usize = 1_000;
/// Lines one scroll key moves.
pub const SCROLL_STEP: usize = 5;

/// The terminal chat's state.
#[derive(Debug, Clone, Default)]
pub struct Chat {
    conversations: Vec<Conversation>,
    selected: usize,
    input: InputLine,
    scroll: usize,
    live: bool,
    next_local_id: u64,
    early: Vec<(String, Tick)>,
    notice: Option<String>,
}

impl Chat {
    /// A chat with one (empty) conversation per contact.
    pub fn new(contacts: Vec<ContactView>) -> Self {
        let mut chat = Self::default();
        chat.update_contacts(contacts);
        chat
    }

    /// Conversations in the order listed.
    pub fn conversations(&self) -> &[Conversation] {
        &self.conversations
    }

    /// Index of the conversation shown.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// The conversation shown, if there is any.
    pub fn current(&self) -> Option<&Conversation> {
        self.conversations.get(self.selected)
    }

    /// The line being typed.
    pub fn input(&self) -> &InputLine {
        &self.input
    }

    /// Lines scrolled back from the newest.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// A line for the status bar (a refused action, a lost daemon).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Shows the conversation with `who` (a contact name or address); a
    /// `key_…` address that is no contact gets a new conversation. `false`
    /// when `who` names nobody.
    pub fn select(&mut self, who: &str) -> bool {
        let found = self
            .conversations
            .iter()
            .position(|c| c.name.as_deref() == Some(who) || c.address == who);
        let index = match found {
            Some(i) => i,
            None if who.starts_with("key_") => {
                self.conversations
                    .push(Conversation::new(who.to_owned(), None));
                self.conversations.len() - 1
            }
            None => return false,
        };
        self.show(index);
        true
    }

    /// Applies one event at `now_ms` (Unix ms) and says what to do next.
    pub fn apply(&mut self, event: ChatEvent, now_ms: u64) -> Effect {
        match event {
            ChatEvent::Key(key) => return self.key(key, now_ms),
            ChatEvent::Resize => {}
            ChatEvent::Message(m) => self.message(m),
            ChatEvent::HistoryEnd => self.live = true,
            ChatEvent::StatusChange {
                message_id,
                status,
                reason,
            } => self.status_change(message_id, Tick::from_status(&status, reason)),
            ChatEvent::Queued {
                local_id,
                message_id,
            } => self.queued(local_id, message_id),
            ChatEvent::SendRefused { local_id, reason } => {
                if let Some(m) = self.by_local_id(local_id) {
                    m.tick = Tick::Failed(Some(reason));
                }
            }
            ChatEvent::Contacts(contacts) => self.update_contacts(contacts),
            ChatEvent::Disconnected(why) => {
                self.notice = Some(format!("daemon connection lost: {why}; Esc quits"));
            }
        }
        Effect::None
    }

    fn key(&mut self, key: Key, now_ms: u64) -> Effect {
        let count = self.conversations.len();
        match key {
            Key::Quit => return Effect::Quit,
            Key::Enter => return self.send(now_ms),
            Key::Char(c) => self.input.insert(c),
            Key::Backspace => self.input.backspace(),
            Key::Delete => self.input.delete(),
            Key::DeleteWord => self.input.delete_word(),
            Key::Left => self.input.left(),
            Key::Right => self.input.right(),
            Key::Home => self.input.home(),
            Key::End => self.input.end(),
            Key::NextConversation if count > 0 => self.show((self.selected + 1) % count),
            Key::PreviousConversation if count > 0 => {
                self.show((self.selected + count - 1) % count);
            }
            Key::NextConversation | Key::PreviousConversation => {}
            Key::ScrollBack => self.scroll = self.scroll.saturating_add(SCROLL_STEP),
            Key::ScrollForward => self.scroll = self.scroll.saturating_sub(SCROLL_STEP),
        }
        Effect::None
    }

    fn show(&mut self, index: usize) {
        self.selected = index;
        self.scroll = 0;
        if let Some(c) = self.conversations.get_mut(index) {
            c.unread = 0;
        }
    }

    fn send(&mut self, now_ms: u64) -> Effect {
        if self.input.text().trim().is_empty() {
            self.input.take();
            return Effect::None;
        }
        let Some(conversation) = self.conversations.get_mut(self.selected) else {
            self.notice = Some("no conversation: start the chat with a contact".to_owned());
            return Effect::None;
        };
        let text = self.input.take();
        let local_id = self.next_local_id;
        self.next_local_id += 1;
        conversation.push(ChatMessage {
            message_id: None,
            local_id: Some(local_id),
            time_ms: now_ms,
            outgoing: true,
            text: text.clone(),
            tick: Tick::Sending,
        });
        self.scroll = 0;
        Effect::Send {
            local_id,
            to: conversation.recipient(),
            text,
        }
    }

    fn message(&mut self, mut m: MessageView) {
        // A group is a conversation of its own, `@NAME` (what `send` takes),
        // each text headed by the member that wrote it.
        let (address, name) = match &m.group {
            Some(group) => {
                if m.direction != "out" {
                    let who = m.peer_name.as_deref().unwrap_or(&m.peer_address);
                    let who: String = who.chars().take(16).collect();
                    m.text = format!("{who}: {}", m.text);
                }
                (format!("@{group}"), Some(format!("@{group}")))
            }
            None => (m.peer_address.clone(), m.peer_name.clone()),
        };
        let index = match self.conversations.iter().position(|c| c.address == address) {
            Some(i) => i,
            None => {
                self.conversations.push(Conversation::new(address, name));
                self.conversations.len() - 1
            }
        };
        let (live, shown) = (self.live, index == self.selected);
        let Some(c) = self.conversations.get_mut(index) else {
            return;
        };
        let known = c
            .messages
            .iter()
            .any(|old| old.message_id.as_deref() == Some(m.message_id.as_str()));
        if known {
            return;
        }
        let outgoing = m.direction == "out";
        if live && !outgoing && !shown {
            c.unread += 1;
        }
        c.push(ChatMessage {
            message_id: Some(m.message_id),
            local_id: None,
            time_ms: m.time_ms,
            outgoing,
            text: m.text,
            tick: Tick::from_status(&m.status, None),
        });
    }

    fn queued(&mut self, local_id: u64, message_id: String) {
        let early = self
            .early
            .iter()
            .position(|(id, _)| *id == message_id)
            .map(|i| self.early.remove(i).1);
        if let Some(m) = self.by_local_id(local_id) {
            let tick = std::mem::replace(&mut m.tick, Tick::Sending).advance(Tick::Queued);
            m.tick = match early {
                Some(next) => tick.advance(next),
                None => tick,
            };
            m.message_id = Some(message_id.clone());
        }
        // The daemon announces every queued text to its followers, ours
        // too, and that announcement may come before this answer: keep the
        // line typed here, drop the announced copy.
        for c in &mut self.conversations {
            c.messages
                .retain(|m| m.local_id.is_some() || m.message_id.as_deref() != Some(&message_id));
        }
    }

    fn status_change(&mut self, message_id: String, tick: Tick) {
        let found = self
            .conversations
            .iter_mut()
            .flat_map(|c| c.messages.iter_mut())
            .find(|m| m.message_id.as_deref() == Some(message_id.as_str()));
        match found {
            Some(m) => m.tick = std::mem::replace(&mut m.tick, Tick::Sending).advance(tick),
            None => {
                if self.early.len() == MAX_EARLY_STATUSES {
                    self.early.remove(0);
                }
                self.early.push((message_id, tick));
            }
        }
    }

    fn by_local_id(&mut self, local_id: u64) -> Option<&mut ChatMessage> {
        self.conversations
            .iter_mut()
            .flat_map(|c| c.messages.iter_mut())
            .find(|m| m.local_id == Some(local_id))
    }

    fn update_contacts(&mut self, contacts: Vec<ContactView>) {
        for contact in contacts {
            let existing = self
                .conversations
                .iter_mut()
                .find(|c| c.address == contact.address);
            let c = match existing {
                Some(c) => c,
                None => {
                    self.conversations
                        .push(Conversation::new(contact.address.clone(), None));
                    let last = self.conversations.len() - 1;
                    &mut self.conversations[last]
                }
            };
            c.name = Some(contact.name);
            c.verified = contact.verified;
            c.keys_changed = contact.identity_changed;
        }
    }
}
