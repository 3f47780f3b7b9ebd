//! The event loop: key presses, the daemon's live stream and the answers
//! to sends go into one queue; each event updates the model, the model's
//! effect is carried out, and the screen is redrawn.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::tz::TimeZone;
use tacnode_control::{ContactView, ControlClient, Request, Response};
use tokio::sync::mpsc;

use crate::chat::Chat;
use crate::error::ChatError;
use crate::event::{ChatEvent, Effect};
use crate::screen::Screen;

/// Events waiting to be applied; producers wait when it is full.
const EVENT_QUEUE: usize = 1_024;
/// Messages of history shown at start (per the daemon's inbox listing).
const HISTORY_LIMIT: u32 = 1_000;
/// How often contacts are read again (names, verification, key changes).
const CONTACTS_REFRESH: Duration = Duration::from_secs(5);

/// Runs the chat on the daemon of `data_dir`, showing `contact` first.
/// Returns when the operator quits; the terminal is restored however it
/// ends.
pub async fn run(data_dir: &Path, contact: Option<String>) -> Result<(), ChatError> {
    let contacts = contacts(data_dir).await?;
    let mut chat = Chat::new(contacts);
    if let Some(who) = contact
        && !chat.select(&who)
    {
        return Err(ChatError::UnknownContact(who));
    }
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(ChatError::NotATerminal);
    }
    let mut follow = ControlClient::connect(data_dir).await?;
    follow
        .send(&Request::Inbox {
            follow: true,
            limit: Some(HISTORY_LIMIT),
        })
        .await?;

    let (tx, mut rx) = mpsc::channel(EVENT_QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = [
        tokio::spawn(follow_stream(follow, tx.clone())),
        tokio::spawn(refresh_contacts(data_dir.to_path_buf(), tx.clone())),
        tokio::spawn(signals(tx.clone())),
    ];
    let tz = TimeZone::system();
    let mut screen = Screen::enter()?;
    let keys = crate::keyboard::spawn_reader(tx.clone(), stop.clone());
    let result = async {
        loop {
            let now = now_ms();
            screen
                .terminal()
                .draw(|f| crate::view::render(f, &chat, now, &tz))?;
            let Some(event) = rx.recv().await else {
                return Ok(());
            };
            // Apply everything already waiting before the next redraw.
            let mut next = Some(event);
            while let Some(event) = next {
                match chat.apply(event, now_ms()) {
                    Effect::Quit => return Ok(()),
                    Effect::Send { local_id, to, text } => {
                        tokio::spawn(send(data_dir.to_path_buf(), local_id, to, text, tx.clone()));
                    }
                    Effect::None => {}
                }
                next = rx.try_recv().ok();
            }
        }
    }
    .await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.abort();
    }
    drop(screen);
    drop(rx);
    let _ = keys.join();
    result
}

/// The daemon's contacts, once.
async fn contacts(data_dir: &Path) -> Result<Vec<ContactView>, ChatError> {
    let mut client = ControlClient::connect(data_dir).await?;
    match client.call(&Request::ContactsList).await? {
        Response::Contacts { contacts } => Ok(contacts),
        other => Err(ChatError::Unexpected(format!("{other:?}"))),
    }
}

/// The history, then every new message and status change, until the
/// daemon closes the stream.
async fn follow_stream(mut client: ControlClient, tx: mpsc::Sender<ChatEvent>) {
    let why = loop {
        let event = match client.next().await {
            Ok(Some(Response::Message(m))) => ChatEvent::Message(m),
            Ok(Some(Response::End)) => ChatEvent::HistoryEnd,
            Ok(Some(Response::StatusChange {
                message_id,
                status,
                reason,
            })) => ChatEvent::StatusChange {
                message_id,
                status,
                reason,
            },
            Ok(Some(Response::Error { message })) => break message,
            Ok(Some(_)) => continue,
            Ok(None) => break "the daemon closed the connection (it stopped?)".to_owned(),
            Err(e) => break e.to_string(),
        };
        if tx.send(event).await.is_err() {
            return;
        }
    };
    let _ = tx.send(ChatEvent::Disconnected(why)).await;
}

/// Contacts again every [`CONTACTS_REFRESH`]: new contacts, names and key
/// changes show without restarting the chat.
async fn refresh_contacts(data_dir: PathBuf, tx: mpsc::Sender<ChatEvent>) {
    let mut every = tokio::time::interval(CONTACTS_REFRESH);
    every.tick().await;
    loop {
        every.tick().await;
        if let Ok(c) = contacts(&data_dir).await
            && tx.send(ChatEvent::Contacts(c)).await.is_err()
        {
            return;
        }
    }
}

/// SIGTERM, SIGHUP and SIGINT end the chat like Esc, so the terminal is
/// restored.
async fn signals(tx: mpsc::Sender<ChatEvent>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = int.recv() => {}
    }
    let _ = tx.send(ChatEvent::Key(crate::key::Key::Quit)).await;
}

/// One message to the daemon; its answer goes back as an event.
async fn send(
    data_dir: PathBuf,
    local_id: u64,
    to: String,
    text: String,
    tx: mpsc::Sender<ChatEvent>,
) {
    let answer = async {
        let mut client = ControlClient::connect(&data_dir).await?;
        Ok::<_, ChatError>(client.call(&Request::Send { to, text }).await?)
    }
    .await;
    let event = match answer {
        Ok(Response::Queued { message_id }) => ChatEvent::Queued {
            local_id,
            message_id,
        },
        Ok(other) => ChatEvent::SendRefused {
            local_id,
            reason: format!("unexpected answer {other:?}"),
        },
        Err(e) => ChatEvent::SendRefused {
            local_id,
            reason: e.to_string(),
        },
    };
    let _ = tx.send(event).await;
}

/// Wall-clock time in Unix ms.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
