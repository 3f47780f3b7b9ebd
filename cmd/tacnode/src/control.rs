//! The local control socket: how `tacnode id|contacts|send|inbox|peers|status`
//! talk to the running daemon.
//!
//! Protocol: a Unix domain socket `<data-dir>/control.sock`, mode 0600 inside
//! a 0700 data directory. The client writes one JSON object per line (a
//! [`Request`]); the daemon answers with one JSON line (a [`Response`]). For
//! `inbox --follow` the daemon keeps writing one [`Response::Message`] line per
//! new message until the client disconnects. Lines are capped at
//! [`MAX_LINE_BYTES`]; a longer or malformed line gets an error response and
//! the connection is closed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Longest request or response line: a 64 KiB text of control characters
/// is ~6x longer as JSON, plus the other fields.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;
/// File name of the socket inside the data directory.
pub(crate) const SOCKET_NAME: &str = "control.sock";

/// Path of the control socket in `data_dir`.
pub(crate) fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// A command for the daemon.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Request {
    /// Own address and node id.
    Id,
    /// Add a contact by name and `key_…` address.
    ContactsAdd { name: String, address: String },
    /// List contacts.
    ContactsList,
    /// Forget a contact (name, session, pinned device key).
    ContactsRemove { name: String },
    /// Show the safety number of a contact; with `confirm`, mark it verified.
    ContactsVerify { name: String, confirm: bool },
    /// Send a text to a contact (by name or address).
    Send { to: String, text: String },
    /// Queue several texts for one recipient, in order, in one commit (at
    /// most `MAX_SEND_BATCH`; all or none are queued).
    SendMany { to: String, texts: Vec<String> },
    /// Messages received (and sent); `follow` streams new ones.
    Inbox { follow: bool, limit: Option<u32> },
    /// Connected peers and routing table size.
    Peers,
    /// Messages waiting to go.
    Outbox,
    /// Cancel a waiting message (id or an unambiguous prefix).
    OutboxCancel { id: String },
    /// Try waiting messages now: to the recipient of `id`, or all.
    OutboxRetry { id: Option<String> },
    /// Daemon status.
    Status,
}

/// One message as shown to the operator.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageView {
    pub(crate) time_ms: u64,
    pub(crate) direction: String,
    pub(crate) peer_address: String,
    pub(crate) peer_name: Option<String>,
    pub(crate) message_id: String,
    pub(crate) text: String,
    pub(crate) status: String,
}

/// A message waiting to go.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboxView {
    /// Message id (hex).
    pub(crate) message_id: String,
    /// Contact name, or the recipient's address.
    pub(crate) to: String,
    /// When it was queued (Unix ms).
    pub(crate) queued_ms: u64,
    /// Attempts that failed so far.
    pub(crate) attempts: u32,
    /// `sending` (an attempt is on the wire) or `waiting`.
    pub(crate) state: String,
    /// When the next attempt is due (Unix ms), if scheduled.
    pub(crate) next_attempt_ms: Option<u64>,
    /// Why it waits, in words.
    pub(crate) reason: Option<String>,
}

/// A connected peer, named when it is a contact.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerView {
    /// Node id (hex).
    pub(crate) node_id: String,
    /// Contact name, if it is one.
    pub(crate) name: Option<String>,
}

/// One contact as shown to the operator.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactView {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) verified: bool,
    pub(crate) identity_changed: bool,
}

/// The daemon's answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Response {
    /// The request failed.
    Error { message: String },
    /// Done, nothing to show.
    Ok,
    /// Own identity.
    Id { address: String, node_id: String },
    /// Contacts.
    Contacts { contacts: Vec<ContactView> },
    /// A safety number.
    SafetyNumber {
        name: String,
        digits: String,
        /// Covers both device keys; `None` before the contact's is known.
        device_code: Option<String>,
        qr_payload_hex: String,
        verified: bool,
    },
    /// A message was queued.
    Queued { message_id: String },
    /// Messages were queued, ids in the order of the texts.
    QueuedMany { message_ids: Vec<String> },
    /// A message (inbox listing or follow).
    Message(MessageView),
    /// End of an inbox listing.
    End,
    /// Peers.
    Peers {
        connected: Vec<PeerView>,
        routing_table_size: usize,
    },
    /// Messages waiting to go, oldest first.
    Outbox { entries: Vec<OutboxView> },
    /// While following the inbox: one of our messages changed status
    /// (`sent`, `in mailbox`, `delivered`, `failed`).
    StatusChange {
        message_id: String,
        status: String,
        reason: Option<String>,
    },
    /// Status.
    Status {
        address: String,
        node_type: String,
        listen: String,
        uptime_secs: u64,
        routing_table_size: usize,
        connected_peers: usize,
        outbox_pending: usize,
        mailbox_entries_held: usize,
        /// Median of (peer's clock − ours), ms, once enough peers were heard.
        clock_offset_ms: Option<i64>,
        /// Set when most peers disagree with this node's clock.
        clock_warning: Option<String>,
        /// The last storage failure that refused or put off incoming mail
        /// (`"<time_ms>: <what>"`), if any since start.
        storage_failure: Option<String>,
    },
}

/// Why the CLI could not reach the daemon; `NotRunning` is exit code 3.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// The data dir has no identity.
    #[error("no identity in {}: run `tacnode init` first (or pass the daemon's --data-dir)", .0.display())]
    NoIdentity(std::path::PathBuf),
    /// The socket exists but is not ours to use.
    #[error(
        "cannot reach the daemon's control socket {}: permission denied; run this as the user \
         the daemon runs as",
        .0.display()
    )]
    PermissionDenied(std::path::PathBuf),
    /// Nothing listens on the socket.
    #[error("the tacnode daemon is not running (cannot connect to {}: {source}); start it with `tacnode run`", path.display())]
    NotRunning {
        /// The socket.
        path: std::path::PathBuf,
        /// Why the connection failed.
        source: std::io::Error,
    },
}

/// Reads one bounded line; `None` at end of stream.
pub(crate) async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Option<String>> {
    let mut buf = Vec::new();
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            if buf.is_empty() {
                return Ok(None);
            }
            bail!("connection closed inside a line");
        }
        if let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
            buf.extend_from_slice(&chunk[..pos]);
            reader.consume(pos + 1);
            break;
        }
        let n = chunk.len();
        buf.extend_from_slice(chunk);
        reader.consume(n);
        if buf.len() > MAX_LINE_BYTES {
            bail!("line longer than {MAX_LINE_BYTES} bytes");
        }
    }
    if buf.len() > MAX_LINE_BYTES {
        bail!("line longer than {MAX_LINE_BYTES} bytes");
    }
    Ok(Some(String::from_utf8(buf).context("line is not UTF-8")?))
}

/// Writes one JSON line.
pub(crate) async fn write_json<W: tokio::io::AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> Result<()> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await?;
    Ok(())
}

/// A connected client of the daemon.
pub(crate) struct ControlClient {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl ControlClient {
    /// Connects, with a clear error when no daemon runs there.
    pub(crate) async fn connect(data_dir: &Path) -> Result<Self, ConnectError> {
        let path = socket_path(data_dir);
        let stream = match UnixStream::connect(&path).await {
            Ok(s) => s,
            Err(_) if !crate::keys::keystore_path(data_dir).exists() => {
                return Err(ConnectError::NoIdentity(data_dir.to_path_buf()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(ConnectError::PermissionDenied(path));
            }
            Err(e) => return Err(ConnectError::NotRunning { path, source: e }),
        };
        let (r, w) = stream.into_split();
        Ok(Self {
            reader: BufReader::new(r),
            writer: w,
        })
    }

    /// Sends a request.
    pub(crate) async fn send(&mut self, req: &Request) -> Result<()> {
        write_json(&mut self.writer, req).await
    }

    /// Reads the next response; `None` when the daemon closed the connection.
    pub(crate) async fn next(&mut self) -> Result<Option<Response>> {
        match read_line(&mut self.reader).await? {
            None => Ok(None),
            Some(line) => Ok(Some(
                serde_json::from_str(&line).context("malformed response from the daemon")?,
            )),
        }
    }

    /// One request, one response.
    pub(crate) async fn call(&mut self, req: &Request) -> Result<Response> {
        self.send(req).await?;
        match self.next().await? {
            Some(Response::Error { message }) => bail!("{message}"),
            Some(r) => Ok(r),
            None => bail!("the daemon closed the connection without answering"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_unknown_fields_are_refused() {
        let r = Request::Send {
            to: "bob".into(),
            text: "hi".into(),
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"cmd":"send","to":"bob","text":"hi"}"#);
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), r);
        assert!(
            serde_json::from_str::<Request>(r#"{"cmd":"send","to":"a","text":"b","x":1}"#).is_err()
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"reboot"}"#).is_err());
    }

    #[tokio::test]
    async fn overlong_line_is_refused() {
        let data = vec![b'a'; MAX_LINE_BYTES + 10];
        let mut r = BufReader::new(data.as_slice());
        assert!(read_line(&mut r).await.is_err());
        let mut r = BufReader::new(&b"{\"cmd\":\"id\"}\nrest"[..]);
        assert_eq!(
            read_line(&mut r).await.unwrap().unwrap(),
            "{\"cmd\":\"id\"}"
        );
    }
}
