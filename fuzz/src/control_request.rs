//! The control socket's request parser (`tacnode::parse_control_request`,
//! the daemon's `serde_json` reading of one line) and its bounded line
//! reader (`tacnode::read_control_lines`) on arbitrary bytes.

/// Buffer size of the reference read.
pub const REFERENCE_CAPACITY: usize = 8 * 1024;

/// Parses the text as one request line, as given and with surrounding
/// whitespace trimmed (a request must parse the same however it is padded);
/// then reads the bytes as a line stream through a small buffer (its size
/// from the first byte) and a large one: the lines and the outcome must not
/// depend on the buffer, and the lines joined by newlines must be the start
/// of the input.
pub fn run(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = tacnode::parse_control_request(text);
        let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
        assert_eq!(
            tacnode::parse_control_request(trimmed),
            parsed,
            "JSON whitespace changed the verdict"
        );
    }
    let small = usize::from(data.first().copied().unwrap_or(0) % 64) + 1;
    let (lines, end) = tacnode::read_control_lines(data, small);
    let reference = tacnode::read_control_lines(data, REFERENCE_CAPACITY);
    assert_eq!(
        (&lines, &end),
        (&reference.0, &reference.1),
        "line reading depends on the buffer size"
    );
    let mut at = 0;
    for line in &lines {
        assert!(!line.contains('\n'), "a line holds a newline");
        let end_of_line = at + line.len();
        assert_eq!(
            data.get(at..end_of_line),
            Some(line.as_bytes()),
            "line is not the input"
        );
        assert_eq!(
            data.get(end_of_line),
            Some(&b'\n'),
            "line not ended by a newline"
        );
        at = end_of_line + 1;
        let _ = tacnode::parse_control_request(line);
    }
    if end.is_none() {
        assert_eq!(at, data.len(), "input left unread at end of stream");
    }
}
