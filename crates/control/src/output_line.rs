//! A line written for a reader that may go away (`tacnode inbox | head`).

use std::io::Write;

/// Writes `line` and a newline, flushed; `false` when the reader went away
/// (a broken pipe), which ends the output quietly.
pub fn write_line(out: &mut impl Write, line: &str) -> Result<bool, std::io::Error> {
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        other => other.map(|()| true),
    }
}
