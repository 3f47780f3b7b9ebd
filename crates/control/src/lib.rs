//! The local control socket: how the CLI (`tacnode id|contacts|send|inbox|…`)
//! and the chat talk to the running daemon.
//!
//! Protocol: a Unix domain socket `<data-dir>/control.sock`, mode 0600 inside
//! a 0700 data directory. The client writes one JSON object per line (a
//! [`Request`]); the daemon answers with one JSON line (a [`Response`]). For
//! `inbox --follow` the daemon keeps writing one [`Response::Message`] or
//! [`Response::StatusChange`] line per event until the client disconnects.
//! Lines are capped at [`MAX_LINE_BYTES`]; a longer or malformed line gets an
//! error response and the connection is closed.
//!
//! The daemon's side lives in the binary (it drives the node); this crate is
//! what both sides share, the client and the client's commands: the answers
//! as an operator reads them on a terminal ([`text`]), the inbox written out
//! ([`write_inbox`]), many texts sent in groups ([`send_many`]) and `peers
//! --watch` ([`watch_peers`]) and file transfers followed while they run
//! ([`follow_files`]).

mod client;
mod data_dir;
mod follow_files;
mod inbox;
mod line;
mod output_line;
mod request;
mod response;
mod send_many;
pub mod text;
mod views;
mod watch;

pub use client::{ClientError, ConnectError, ControlClient};
pub use data_dir::{KEYSTORE_NAME, SOCKET_NAME, keystore_path, socket_path};
pub use follow_files::{FOLLOW_INTERVAL, Follow, FollowError, follow_files};
pub use inbox::{InboxError, write_inbox};
pub use line::{LineError, MAX_LINE_BYTES, read_line, write_json};
pub use output_line::write_line;
pub use request::Request;
pub use response::Response;
pub use send_many::{SendManyError, send_groups, send_many};
pub use views::{
    ContactView, FileView, GroupMemberView, GroupView, MessageView, OutboxView, PeerView,
    ServiceView,
};
pub use watch::{WATCH_INTERVAL, WatchError, WatchOutput, watch_peers};

/// Whether `line` parses as a control-socket request (one JSON object, as
/// the daemon reads it). For the fuzz targets.
pub fn parse_request(line: &str) -> bool {
    serde_json::from_str::<Request>(line).is_ok()
}

/// Reads `bytes` as the daemon reads its control socket: bounded lines
/// through a buffer of `capacity` bytes. Returns each line read, then the
/// error that stopped the reading, if any. For the fuzz targets.
pub fn read_lines(bytes: &[u8], capacity: usize) -> (Vec<String>, Option<String>) {
    use std::future::Future as _;
    use std::task::{Context, Poll, Waker};

    let mut reader = tokio::io::BufReader::with_capacity(capacity.max(1), bytes);
    // Reading from memory never waits, so one poll completes each line.
    let mut cx = Context::from_waker(Waker::noop());
    let mut lines = Vec::new();
    loop {
        let mut next = std::pin::pin!(read_line(&mut reader));
        match next.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(Some(line))) => lines.push(line),
            Poll::Ready(Ok(None)) => return (lines, None),
            Poll::Ready(Err(e)) => return (lines, Some(e.to_string())),
            Poll::Pending => return (lines, Some("reader would block".to_owned())),
        }
    }
}
