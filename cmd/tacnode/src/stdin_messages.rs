//! `tacnode send --stdin`: standard input read as one message per line, and
//! split into the groups one control request carries.

use anyhow::{Context, Result, bail};

/// Most lines `send --stdin` reads: beyond it, split the input.
const MAX_STDIN_MESSAGES: usize = 100_000;

/// The non-empty lines of standard input, each checked as a message text
/// before anything is sent (an error names the line).
pub(crate) fn read_stdin_messages() -> Result<Vec<String>> {
    use std::io::BufRead;
    let mut lines = Vec::new();
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        // Bounded read: a line longer than a message is refused without
        // reading the rest of it into memory.
        let limit = u64::try_from(tacnode_domain::MAX_TEXT_BYTES + 2).unwrap_or(u64::MAX);
        let n = std::io::Read::take(&mut reader, limit)
            .read_until(b'\n', &mut buf)
            .context("cannot read standard input")?;
        if n == 0 {
            break;
        }
        number += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if n as u64 == limit {
            bail!(
                "line {number} is longer than a message may be ({} bytes)",
                tacnode_domain::MAX_TEXT_BYTES
            );
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if buf.is_empty() {
            continue;
        }
        let text = String::from_utf8(buf.clone())
            .map_err(|_| anyhow::anyhow!("line {number} is not UTF-8"))?;
        tacnode_domain::Content::text(text.as_str())
            .map_err(|e| anyhow::anyhow!("line {number}: {e}"))?;
        if lines.len() == MAX_STDIN_MESSAGES {
            bail!("more than {MAX_STDIN_MESSAGES} messages on standard input; split it");
        }
        lines.push(text);
    }
    Ok(lines)
}

/// Splits texts into groups that one control request carries: at most
/// [`crate::node::MAX_SEND_BATCH`] texts, and a JSON line within the
/// control socket's limit.
pub(crate) fn send_groups(texts: &[String]) -> Vec<&[String]> {
    // Room for the request's other fields.
    let budget = tacnode_control::MAX_LINE_BYTES - 4096;
    let mut groups = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, t) in texts.iter().enumerate() {
        // A text's exact size as a JSON string, plus the comma.
        let cost = serde_json::to_string(t).map_or(usize::MAX, |j| j.len() + 1);
        if i > start && (i - start == crate::node::MAX_SEND_BATCH || bytes + cost > budget) {
            groups.push(&texts[start..i]);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(cost);
    }
    if start < texts.len() {
        groups.push(&texts[start..]);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use tacnode_control::Request;

    #[test]
    fn groups_respect_the_count_and_the_line_limit() {
        let small: Vec<String> = (0..2500).map(|i| i.to_string()).collect();
        let g = send_groups(&small);
        assert_eq!(
            g.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        // 64 KiB of control characters is 6x longer as JSON: two per group.
        let big = vec!["\u{1}".repeat(tacnode_domain::MAX_TEXT_BYTES); 3];
        let g = send_groups(&big);
        assert_eq!(g.iter().map(|g| g.len()).collect::<Vec<_>>(), [2, 1]);
        for group in &g {
            let line = serde_json::to_string(&Request::SendMany {
                to: "x".into(),
                texts: group.to_vec(),
            })
            .unwrap();
            assert!(line.len() < tacnode_control::MAX_LINE_BYTES);
        }
        // Order and content kept.
        let joined: Vec<&String> = g.iter().flat_map(|g| g.iter()).collect();
        assert_eq!(joined.len(), 3);
        assert!(send_groups(&[]).is_empty());
    }
}
