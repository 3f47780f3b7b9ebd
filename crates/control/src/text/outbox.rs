//! `tacnode outbox`: each waiting message, its age and its next try.

use std::fmt::Write as _;

use crate::views::OutboxView;

/// A summary line, then each waiting message as seen at `now_ms` (with why
/// it waits on a line of its own, when known).
pub fn outbox(entries: &[OutboxView], now_ms: u64) -> String {
    let mut out = format!("{} messages waiting\n", entries.len());
    for e in entries {
        let short = e.message_id.get(..8).unwrap_or(&e.message_id);
        let age = now_ms.saturating_sub(e.queued_ms) / 1000;
        let next = match (e.state.as_str(), e.next_attempt_ms) {
            ("sending", _) => "sending now".to_owned(),
            (_, Some(t)) => format!("next try in {} s", t.saturating_sub(now_ms) / 1000),
            (_, None) => "not scheduled".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {short}  to {:<16} queued {age} s ago, {} failed attempts, {next}",
            e.to, e.attempts
        );
        if let Some(r) = &e.reason {
            let _ = writeln!(out, "            {r}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: &str, next_attempt_ms: Option<u64>, reason: Option<&str>) -> OutboxView {
        OutboxView {
            message_id: "0123456789abcdef".to_owned(),
            to: "bob".to_owned(),
            queued_ms: 10_000,
            attempts: 2,
            state: state.to_owned(),
            next_attempt_ms,
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn each_message_with_its_age_and_next_try() {
        let text = outbox(
            &[
                entry("waiting", Some(95_000), Some("bob is unreachable")),
                entry("sending", None, None),
                entry("waiting", None, None),
            ],
            70_000,
        );
        assert_eq!(
            text,
            "3 messages waiting\n\
             \x20 01234567  to bob              queued 60 s ago, 2 failed attempts, next try in 25 s\n\
             \x20           bob is unreachable\n\
             \x20 01234567  to bob              queued 60 s ago, 2 failed attempts, sending now\n\
             \x20 01234567  to bob              queued 60 s ago, 2 failed attempts, not scheduled\n"
        );
        assert_eq!(outbox(&[], 0), "0 messages waiting\n");
    }
}
