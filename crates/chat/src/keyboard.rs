//! Key presses from the terminal, read on their own thread and turned into
//! the model's keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tokio::sync::mpsc;

use crate::event::ChatEvent;
use crate::key::Key;

/// How often the reader thread checks whether the chat ended.
const STOP_POLL: Duration = Duration::from_millis(100);

/// The model's key for a terminal key press, if it means anything.
pub fn key(k: KeyEvent) -> Option<Key> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Char('c' | 'd' | 'q') if ctrl => Key::Quit,
        KeyCode::Char('w') if ctrl => Key::DeleteWord,
        KeyCode::Char('n') if ctrl => Key::NextConversation,
        KeyCode::Char('p') if ctrl => Key::PreviousConversation,
        KeyCode::Char('a') if ctrl => Key::Home,
        KeyCode::Char('e') if ctrl => Key::End,
        KeyCode::Char(_) if ctrl => return None,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Esc => Key::Quit,
        KeyCode::Enter => Key::Enter,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Delete => Key::Delete,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Tab | KeyCode::Down => Key::NextConversation,
        KeyCode::BackTab | KeyCode::Up => Key::PreviousConversation,
        KeyCode::PageUp => Key::ScrollBack,
        KeyCode::PageDown => Key::ScrollForward,
        _ => return None,
    })
}

/// Reads the terminal until `stop` is set or the chat stops listening.
pub(crate) fn spawn_reader(
    events: mpsc::Sender<ChatEvent>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let event = match event::poll(STOP_POLL) {
                Ok(false) => continue,
                Ok(true) => event::read(),
                Err(e) => Err(e),
            };
            let sent = match event {
                Ok(Event::Key(k)) => match key(k) {
                    Some(k) => events.blocking_send(ChatEvent::Key(k)),
                    None => Ok(()),
                },
                Ok(Event::Resize(..)) => events.blocking_send(ChatEvent::Resize),
                Ok(_) => Ok(()),
                Err(e) => {
                    let _ = events.blocking_send(ChatEvent::Disconnected(format!(
                        "cannot read the terminal: {e}"
                    )));
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    })
}
