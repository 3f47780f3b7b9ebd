//! The chat model driven by events as the event loop drives it, and the
//! view drawn on an 80×24 test terminal.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tacnode_chat::{Chat, ChatEvent, Effect, Key, Tick, view};
use tacnode_control::{ContactView, MessageView};

const NOW: u64 = 1_772_600_767_000;

fn contact(name: &str, changed: bool) -> ContactView {
    ContactView {
        name: name.into(),
        address: format!("key_{name}"),
        verified: !changed,
        identity_changed: changed,
    }
}

fn incoming(from: &str, id: &str, text: &str) -> ChatEvent {
    ChatEvent::Message(MessageView {
        time_ms: NOW,
        direction: "in".into(),
        peer_address: format!("key_{from}"),
        peer_name: Some(from.into()),
        message_id: id.into(),
        text: text.into(),
        status: "received".into(),
        group: None,
    })
}

fn typed(chat: &mut Chat, text: &str) -> Effect {
    for c in text.chars() {
        chat.apply(ChatEvent::Key(Key::Char(c)), NOW);
    }
    chat.apply(ChatEvent::Key(Key::Enter), NOW)
}

fn screen(chat: &Chat) -> String {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| view::render(f, chat, NOW, &TimeZone::UTC))
        .unwrap();
    let buf = t.backend().buffer().clone();
    (0..24)
        .map(|y| {
            (0..80)
                .map(|x| buf[(x, y)].symbol().to_owned())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn history_is_read_live_messages_count_as_unread_until_shown() {
    let mut chat = Chat::new(vec![contact("alpha", false), contact("bravo", false)]);
    assert!(chat.select("alpha"));
    chat.apply(incoming("bravo", "01", "old news"), NOW);
    chat.apply(ChatEvent::HistoryEnd, NOW);
    assert_eq!(chat.conversations()[1].unread, 0);
    chat.apply(incoming("bravo", "02", "new"), NOW);
    chat.apply(incoming("bravo", "02", "new"), NOW); // the same again
    chat.apply(incoming("alpha", "03", "to the shown one"), NOW);
    assert_eq!(chat.conversations()[1].unread, 1);
    assert_eq!(chat.conversations()[1].messages.len(), 2);
    assert_eq!(chat.conversations()[0].unread, 0);
    assert!(screen(&chat).contains("bravo (1)"));
    chat.apply(ChatEvent::Key(Key::NextConversation), NOW);
    assert_eq!(chat.current().unwrap().title(), "bravo");
    assert_eq!(chat.conversations()[1].unread, 0);
    // A peer that is no contact gets its own conversation.
    chat.apply(
        ChatEvent::Message(MessageView {
            peer_address: "ab12".into(),
            peer_name: None,
            ..match incoming("x", "04", "hello") {
                ChatEvent::Message(m) => m,
                _ => unreachable!(),
            }
        }),
        NOW,
    );
    assert_eq!(chat.conversations()[2].title(), "ab12");
    assert!(!chat.select("nobody"));
}

#[test]
fn a_sent_message_ticks_through_its_states_even_when_news_comes_early() {
    let mut chat = Chat::new(vec![contact("bravo", false)]);
    chat.apply(ChatEvent::HistoryEnd, NOW);
    assert_eq!(typed(&mut chat, "   "), Effect::None);
    let Effect::Send { local_id, to, text } = typed(&mut chat, "rally at 3") else {
        panic!("no send");
    };
    assert_eq!((to.as_str(), text.as_str()), ("bravo", "rally at 3"));
    assert!(chat.input().is_empty());
    let tick = |chat: &Chat| chat.conversations()[0].messages[0].tick.clone();
    assert_eq!(tick(&chat), Tick::Sending);
    // The status change overtakes the daemon's answer to the send.
    chat.apply(
        ChatEvent::StatusChange {
            message_id: "aa".into(),
            status: "sent".into(),
            reason: None,
        },
        NOW,
    );
    chat.apply(
        ChatEvent::Queued {
            local_id,
            message_id: "aa".into(),
        },
        NOW,
    );
    assert_eq!(tick(&chat), Tick::Sent);
    for (status, want) in [
        ("delivered", Tick::Delivered),
        ("sent", Tick::Delivered), // late news changes nothing
    ] {
        chat.apply(
            ChatEvent::StatusChange {
                message_id: "aa".into(),
                status: status.into(),
                reason: None,
            },
            NOW,
        );
        assert_eq!(tick(&chat), want);
    }
    assert!(screen(&chat).contains("me: rally at 3 [delivered]"));

    // A refused send shows why.
    let Effect::Send { local_id, .. } = typed(&mut chat, "second") else {
        panic!("no send");
    };
    chat.apply(
        ChatEvent::SendRefused {
            local_id,
            reason: "keys changed".into(),
        },
        NOW,
    );
    assert!(screen(&chat).contains("[failed: keys changed]"));
    // A failure the daemon reports later, with its reason.
    let Effect::Send { local_id, .. } = typed(&mut chat, "third") else {
        panic!("no send");
    };
    chat.apply(
        ChatEvent::Queued {
            local_id,
            message_id: "cc".into(),
        },
        NOW,
    );
    assert!(screen(&chat).contains("third [queued]"));
    chat.apply(
        ChatEvent::StatusChange {
            message_id: "cc".into(),
            status: "failed".into(),
            reason: Some("no mailbox holders reachable".into()),
        },
        NOW,
    );
    assert!(screen(&chat).contains("[failed: no mailbox holders reachable]"));
}

#[test]
fn key_changes_warn_and_the_screen_fits_80x24_without_raw_control_bytes() {
    let mut chat = Chat::new(vec![contact("bravo", false)]);
    chat.apply(ChatEvent::HistoryEnd, NOW);
    chat.apply(
        incoming("bravo", "01", "evil \u{1b}[2J text\nsecond line"),
        NOW,
    );
    let s = screen(&chat);
    assert!(s.contains("bravo (verified)"), "{s}");
    assert!(s.contains("05:06 bravo: evil"), "{s}");
    assert!(s.contains("second line"), "{s}");
    assert!(!s.contains('\u{1b}'));
    assert!(s.contains("Esc quit"));
    chat.apply(ChatEvent::Contacts(vec![contact("bravo", true)]), NOW);
    let s = screen(&chat);
    assert!(s.contains("KEYS CHANGED"), "{s}");
    assert!(s.contains("keys changed: sending is stopped"), "{s}");
    chat.apply(
        ChatEvent::Disconnected("the daemon closed the connection".into()),
        NOW,
    );
    assert!(screen(&chat).contains("daemon connection lost"));
    assert_eq!(chat.apply(ChatEvent::Key(Key::Quit), NOW), Effect::Quit);
}

#[test]
fn the_newest_messages_show_and_scrolling_goes_back() {
    let mut chat = Chat::new(vec![contact("bravo", false)]);
    for i in 0..60 {
        chat.apply(
            incoming("bravo", &format!("{i:02}"), &format!("line {i}")),
            NOW,
        );
    }
    let s = screen(&chat);
    assert!(s.contains("line 59") && !s.contains("line 30 "), "{s}");
    for _ in 0..4 {
        chat.apply(ChatEvent::Key(Key::ScrollBack), NOW);
    }
    let s = screen(&chat);
    assert!(s.contains("line 30") && !s.contains("line 59"), "{s}");
    // No contacts at all: a hint, and Enter sends nothing.
    let mut empty = Chat::new(vec![]);
    assert_eq!(typed(&mut empty, "hi"), Effect::None);
    assert!(screen(&empty).contains("No contacts yet"));
}

/// A text queued elsewhere (another terminal, a script) shows at once; a
/// text typed here shows once, whether the daemon's announcement of it
/// comes before or after its answer.
#[test]
fn texts_sent_elsewhere_show_at_once_and_ours_show_once() {
    let outgoing = |id: &str, text: &str| {
        ChatEvent::Message(MessageView {
            direction: "out".into(),
            status: "queued".into(),
            ..match incoming("alpha", id, text) {
                ChatEvent::Message(m) => m,
                _ => unreachable!(),
            }
        })
    };
    let mut chat = Chat::new(vec![contact("alpha", false)]);
    assert!(chat.select("alpha"));
    chat.apply(ChatEvent::HistoryEnd, NOW);
    chat.apply(outgoing("10", "from the other terminal"), NOW);
    assert_eq!(chat.current().unwrap().messages.len(), 1);
    assert!(screen(&chat).contains("from the other terminal"));
    // Typed here; the announcement overtakes the answer.
    let Effect::Send { local_id, .. } = typed(&mut chat, "typed here") else {
        panic!("not sent")
    };
    chat.apply(outgoing("11", "typed here"), NOW);
    chat.apply(
        ChatEvent::Queued {
            local_id,
            message_id: "11".into(),
        },
        NOW,
    );
    // Typed again; this time the answer comes first.
    let Effect::Send { local_id, .. } = typed(&mut chat, "and again") else {
        panic!("not sent")
    };
    chat.apply(
        ChatEvent::Queued {
            local_id,
            message_id: "12".into(),
        },
        NOW,
    );
    chat.apply(outgoing("12", "and again"), NOW);
    let texts: Vec<&str> = chat
        .current()
        .unwrap()
        .messages
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        texts,
        ["from the other terminal", "typed here", "and again"]
    );
}
