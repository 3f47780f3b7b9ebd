//! The control socket's request parser (`tacnode::parse_control_request`,
//! the daemon's `serde_json` reading of one line) on arbitrary text.

/// Parses the text as one request line, as given and with surrounding
/// whitespace trimmed; a request must parse the same however it is padded.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = tacnode::parse_control_request(text);
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    assert_eq!(
        tacnode::parse_control_request(trimmed),
        parsed,
        "JSON whitespace changed the verdict"
    );
}
