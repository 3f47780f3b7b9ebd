//! The daemon's answers as the operator reads them on a terminal (`--json`
//! prints them as they came instead). Each function returns the text to
//! print; the time, where one is shown, is a parameter (Unix ms), so every
//! rendering is tested without a clock.

mod contacts;
mod files;
mod groups;
mod inbox;
mod outbox;
mod peers;
mod qr;
mod safety_number;
mod status;

pub use contacts::contacts;
pub use files::{file_line, files, human_bytes, shown};
pub use groups::{alert, group_members, groups, services};
pub use inbox::{message, status_change};
pub use outbox::outbox;
pub use peers::{MAX_PEER_COLUMN, peers_table};
pub use qr::{QrCodeError, qr_code};
pub use safety_number::safety_number;
pub use status::status;

/// `text` from a peer as a terminal shows it: control characters escaped
/// (`\u{1b}`), newlines kept when `keep_newlines`, the rest as it is.
pub(crate) fn escape_controls(text: &str, keep_newlines: bool) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() && !(keep_newlines && c == '\n') {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
