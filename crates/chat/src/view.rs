//! Draws the model: conversation list, message pane, input line, status
//! bar. Fits an 80×24 terminal; remote text never reaches the terminal raw.

use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, Paragraph, Wrap};

use crate::chat::Chat;
use crate::chat_message::ChatMessage;
use crate::conversation::Conversation;
use crate::tick::Tick;

/// Width of the conversation list, borders included.
pub const LIST_WIDTH: u16 = 22;
/// Height of the input box, borders included.
const INPUT_HEIGHT: u16 = 3;
/// What the status bar says when there is no notice.
const HELP: &str = "Enter send  Tab/S-Tab chat  PgUp/PgDn scroll  Esc quit";

/// Draws `chat` on `frame`, times in `tz` relative to `now_ms`.
pub fn render(frame: &mut Frame<'_>, chat: &Chat, now_ms: u64, tz: &TimeZone) {
    let [body, input_area, status_area] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(INPUT_HEIGHT),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let [list_area, messages_area] =
        Layout::horizontal([Constraint::Length(LIST_WIDTH), Constraint::Min(10)]).areas(body);

    frame.render_widget(conversation_list(chat), list_area);
    frame.render_widget(messages(chat, messages_area, now_ms, tz), messages_area);
    render_input(frame, chat, input_area);
    let status = match chat.notice() {
        Some(n) => Line::from(Span::styled(
            clean(n),
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        )),
        None => Line::from(Span::styled(HELP, Style::new().fg(Color::DarkGray))),
    };
    frame.render_widget(Paragraph::new(status), status_area);
}

fn conversation_list(chat: &Chat) -> List<'static> {
    let items: Vec<ListItem<'static>> = chat
        .conversations()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let marker = if i == chat.selected() { ">" } else { " " };
            let mut spans = vec![Span::raw(format!("{marker}{}", clean(c.title())))];
            if c.keys_changed {
                spans.push(Span::styled(" !", Style::new().fg(Color::Red)));
            }
            if c.unread > 0 {
                spans.push(Span::styled(
                    format!(" ({})", c.unread),
                    Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
                ));
            }
            let style = if i == chat.selected() {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            ListItem::new(Line::from(spans)).style(style)
        })
        .collect();
    List::new(items).block(Block::new().borders(Borders::ALL).title("Chats"))
}

fn messages(chat: &Chat, area: Rect, now_ms: u64, tz: &TimeZone) -> Paragraph<'static> {
    let Some(c) = chat.current() else {
        let hint = "No contacts yet: add one with `tacnode contacts add NAME key_...`.";
        return Paragraph::new(hint)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL));
    };
    let mut lines = Vec::new();
    if c.keys_changed {
        lines.push(Line::from(Span::styled(
            format!(
                "! {}'s keys changed: sending is stopped until you compare safety numbers \
                 (tacnode contacts verify {0}, then --confirm)",
                clean(c.title())
            ),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
    }
    for m in &c.messages {
        lines.extend(message_lines(c, m, now_ms, tz));
    }
    let block = Block::new().borders(Borders::ALL).title(title(c));
    let inner = block.inner(area);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    // Bottom-anchored: the newest line at the bottom, `scroll` lines back.
    let total = paragraph.line_count(inner.width);
    let top = total
        .saturating_sub(usize::from(inner.height))
        .saturating_sub(chat.scroll());
    paragraph
        .scroll((u16::try_from(top).unwrap_or(u16::MAX), 0))
        .block(block)
}

fn title(c: &Conversation) -> String {
    let state = if c.keys_changed {
        "KEYS CHANGED"
    } else if c.verified {
        "verified"
    } else if c.name.is_some() {
        "unverified"
    } else {
        "not a contact"
    };
    format!("{} ({state})", clean(c.title()))
}

fn message_lines(
    c: &Conversation,
    m: &ChatMessage,
    now_ms: u64,
    tz: &TimeZone,
) -> Vec<Line<'static>> {
    let time = crate::clock::local_time(m.time_ms, now_ms, tz);
    let who = if m.outgoing {
        "me".to_owned()
    } else {
        clean(c.title())
    };
    let who_style = if m.outgoing {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::Magenta)
    };
    let mut text_lines = m.text.split('\n').map(clean);
    let first = text_lines.next().unwrap_or_default();
    let mut first_line = vec![
        Span::styled(format!("{time} "), Style::new().fg(Color::DarkGray)),
        Span::styled(format!("{who}: "), who_style.add_modifier(Modifier::BOLD)),
        Span::raw(first),
    ];
    let mut lines: Vec<Vec<Span<'static>>> = vec![];
    let rest: Vec<Vec<Span<'static>>> = text_lines
        .map(|l| vec![Span::raw(format!("  {l}"))])
        .collect();
    if rest.is_empty() {
        first_line.extend(tick(&m.tick));
        lines.push(first_line);
    } else {
        lines.push(first_line);
        lines.extend(rest);
        if let Some(last) = lines.last_mut() {
            last.extend(tick(&m.tick));
        }
    }
    lines.into_iter().map(Line::from).collect()
}

fn tick(t: &Tick) -> Option<Span<'static>> {
    let label = t.label()?;
    let color = match t {
        Tick::Delivered => Color::Green,
        Tick::Sent | Tick::InMailbox => Color::Blue,
        Tick::Failed(_) => Color::Red,
        _ => Color::DarkGray,
    };
    Some(Span::styled(
        format!(" [{}]", clean(&label)),
        Style::new().fg(color),
    ))
}

fn render_input(frame: &mut Frame<'_>, chat: &Chat, area: Rect) {
    let to = chat
        .current()
        .map_or("nobody".to_owned(), |c| clean(c.title()));
    let block = Block::new()
        .borders(Borders::ALL)
        .title(format!("Message to {to}"));
    let inner = block.inner(area);
    let input = chat.input();
    let chars: Vec<char> = input.text().chars().collect();
    // Keep the cursor in view: show the end of a line wider than the box.
    let width = usize::from(inner.width.max(1)) - 1;
    let start = input.cursor().saturating_sub(width);
    let shown: String = chars.iter().skip(start).take(width + 1).collect();
    frame.render_widget(Paragraph::new(shown).block(block), area);
    let x = inner.x + u16::try_from(input.cursor() - start).unwrap_or(0);
    frame.set_cursor_position(Position::new(x, inner.y));
}

/// `s` with control characters (escape sequences included) replaced, so a
/// peer's text cannot drive the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
