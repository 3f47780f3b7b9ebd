//! `tacnode chat`: a terminal chat over the running daemon's control
//! socket.
//!
//! Three layers: a pure model ([`Chat`], driven by [`ChatEvent`]s and
//! answering with an [`Effect`]), a ratatui view ([`view::render`]) that
//! fits 80×24 and works over SSH, and a thin event loop ([`run`]) that merges
//! key presses with the daemon's `inbox --follow` stream and sends with the
//! `send` request. The terminal is restored on every exit, error or panic.

mod chat;
mod chat_message;
mod clock;
mod conversation;
mod error;
mod event;
mod input_line;
mod key;
mod keyboard;
mod screen;
mod session;
mod tick;
pub mod view;

pub use chat::{Chat, MAX_EARLY_STATUSES, SCROLL_STEP};
pub use chat_message::ChatMessage;
pub use clock::{local_time, system_local_time};
pub use conversation::{Conversation, MAX_MESSAGES_PER_CONVERSATION};
pub use error::ChatError;
pub use event::{ChatEvent, Effect};
pub use input_line::{InputLine, MAX_INPUT_CHARS};
pub use key::Key;
pub use keyboard::key as terminal_key;
pub use session::run;
pub use tick::Tick;
