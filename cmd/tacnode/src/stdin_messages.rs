//! `tacnode send` without a text: standard input read as one message per
//! line (`tacnode_control::send_many` splits them into requests).

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
