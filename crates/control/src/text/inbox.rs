//! `tacnode inbox`: a line per message, and while following, a line per
//! status change of our own messages. Remote text never reaches the
//! terminal raw: control characters other than newlines are escaped, and
//! dropped from names.

use crate::views::MessageView;

/// One inbox line: time, direction, peer, status and text.
pub fn message(m: MessageView) -> String {
    let who = m.peer_name.unwrap_or(m.peer_address);
    let arrow = if m.direction == "in" { "<-" } else { "->" };
    let text = super::escape_controls(&m.text, true);
    let mut who: String = who.chars().filter(|c| !c.is_control()).collect();
    if let Some(group) = &m.group {
        let group: String = group.chars().filter(|c| !c.is_control()).collect();
        who = format!("{who} @{group}");
    }
    format!("{} {arrow} {who} [{}] {text}", m.time_ms, m.status)
}

/// While following the inbox: one of our messages changed status, seen at
/// `now_ms`.
pub fn status_change(
    message_id: &str,
    status: &str,
    reason: Option<String>,
    now_ms: u64,
) -> String {
    let short = message_id.get(..8).unwrap_or(message_id);
    let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
    format!("{now_ms} -> [{status}] message {short}{why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_text_and_names_never_reach_the_terminal_raw() {
        let m = MessageView {
            time_ms: 7,
            direction: "in".to_owned(),
            peer_address: "key_abc".to_owned(),
            peer_name: Some("bob\u{1b}[2J".to_owned()),
            message_id: "00".repeat(16),
            text: "hi\u{1b}[31m\nthere".to_owned(),
            status: "received".to_owned(),
            group: None,
        };
        assert_eq!(message(m), "7 <- bob[2J [received] hi\\u{1b}[31m\nthere");
        let m = MessageView {
            time_ms: 8,
            direction: "out".to_owned(),
            peer_address: "key_abc".to_owned(),
            peer_name: None,
            message_id: "00".repeat(16),
            text: "yes".to_owned(),
            status: "queued".to_owned(),
            group: None,
        };
        assert_eq!(message(m.clone()), "8 -> key_abc [queued] yes");
        let m = MessageView {
            direction: "in".to_owned(),
            peer_name: Some("bob".to_owned()),
            status: "received".to_owned(),
            group: Some("squad\u{7}".to_owned()),
            ..m
        };
        assert_eq!(message(m), "8 <- bob @squad [received] yes");
    }

    #[test]
    fn a_status_change_names_the_message_short_and_why() {
        assert_eq!(
            status_change("0123456789abcdef", "failed", Some("refused".to_owned()), 9),
            "9 -> [failed] message 01234567: refused"
        );
        assert_eq!(
            status_change("0123", "delivered", None, 9),
            "9 -> [delivered] message 0123"
        );
    }
}
