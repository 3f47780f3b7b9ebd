//! `tacnode files`: each transfer with its direction, progress and state.

use std::fmt::Write as _;

use crate::views::FileView;

/// `bytes` for a person: B, KiB, MiB or GiB with one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"B"))
    }
}

/// Text from a peer (a file's name, a refusal's reason) as shown:
/// control characters escaped, the rest as it is.
pub fn shown(name: &str) -> String {
    super::escape_controls(name, false)
}

/// One transfer on one line, then its reason or path on the next.
pub fn file_line(f: &FileView, now_ms: u64) -> String {
    let short = f.id.get(..8).unwrap_or(&f.id);
    let (arrow, who) = if f.direction == "out" {
        ("to", &f.peer)
    } else {
        ("from", &f.peer)
    };
    let percent = f
        .done
        .saturating_mul(100)
        .checked_div(f.size)
        .unwrap_or(100);
    let progress = match f.state.as_str() {
        "done" | "failed" | "cancelled" => String::new(),
        _ => format!(
            " {} of {} ({percent} %)",
            human_bytes(f.done),
            human_bytes(f.size)
        ),
    };
    let mut out = format!(
        "  {short}  {} {arrow} {who}  {}  {}{progress}",
        shown(&f.name),
        human_bytes(f.size),
        f.state
    );
    if let Some(t) = f.next_try_ms {
        let _ = write!(out, ", next try in {} s", t.saturating_sub(now_ms) / 1000);
    }
    if let Some(r) = &f.reason {
        let _ = write!(out, "\n            {}", shown(r));
    } else if let Some(p) = f
        .path
        .as_ref()
        .filter(|_| f.state == "done" && f.direction == "in")
    {
        let _ = write!(out, "\n            saved as {p}");
    }
    out
}

/// Every transfer, newest first.
pub fn files(list: &[FileView], now_ms: u64) -> String {
    let mut out = format!("{} file transfers\n", list.len());
    for f in list {
        out.push_str(&file_line(f, now_ms));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(direction: &str, state: &str, done: u64) -> FileView {
        FileView {
            id: "00112233445566778899aabbccddeeff".into(),
            peer: "bob".into(),
            direction: direction.into(),
            name: "map\u{1b}[2J.png".into(),
            size: 3 * 1024 * 1024,
            done,
            state: state.into(),
            reason: None,
            path: Some("/home/op/files/map.png".into()),
            created_ms: 0,
            next_try_ms: None,
        }
    }

    #[test]
    fn progress_while_under_way_and_where_it_went_once_done() {
        let text = files(
            &[
                view("in", "receiving", 1024 * 1024),
                view("in", "done", 3 * 1024 * 1024),
            ],
            0,
        );
        assert!(text.starts_with("2 file transfers\n"), "{text}");
        assert!(
            text.contains(
                "00112233  map\\u{1b}[2J.png from bob  3.0 MiB  receiving 1.0 MiB of 3.0 MiB (33 %)"
            ),
            "{text}"
        );
        assert!(text.contains("saved as /home/op/files/map.png"), "{text}");
        let mut failed = view("out", "failed", 0);
        failed.reason = Some("the file changed\u{1b}]52;c;x\u{7}".into());
        failed.next_try_ms = Some(5_000);
        let line = file_line(&failed, 1_000);
        assert!(line.contains("to bob"), "{line}");
        assert!(
            line.contains("next try in 4 s\n            the file changed\\u{1b}]52;c;x\\u{7}"),
            "{line}"
        );
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
