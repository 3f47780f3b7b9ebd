//! The client side of the control socket.

use std::path::{Path, PathBuf};

use tokio::io::BufReader;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::data_dir::{keystore_path, socket_path};
use crate::line::{LineError, read_line, write_json};
use crate::request::Request;
use crate::response::Response;

/// Why a client could not reach the daemon; `NotRunning` is the CLI's exit
/// code 3.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The data dir has no identity.
    #[error("no identity in {}: run `tacnode init` first (or pass the daemon's --data-dir)", .0.display())]
    NoIdentity(PathBuf),
    /// The socket exists but is not ours to use.
    #[error(
        "cannot reach the daemon's control socket {}: permission denied; run this as the user \
         the daemon runs as",
        .0.display()
    )]
    PermissionDenied(PathBuf),
    /// Nothing listens on the socket.
    #[error("the tacnode daemon is not running (cannot connect to {}: {source}); start it with `tacnode run`", path.display())]
    NotRunning {
        /// The socket.
        path: PathBuf,
        /// Why the connection failed.
        source: std::io::Error,
    },
}

/// A request that failed once connected.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Reading or writing a line failed.
    #[error(transparent)]
    Line(#[from] LineError),
    /// The daemon's line is not a response.
    #[error("malformed response from the daemon: {0}")]
    Malformed(#[source] serde_json::Error),
    /// The daemon refused the request, saying why.
    #[error("{0}")]
    Refused(String),
    /// The daemon closed the connection before answering.
    #[error("the daemon closed the connection without answering")]
    Closed,
}

/// A connected client of the daemon.
pub struct ControlClient {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl ControlClient {
    /// Connects, with a clear error when no daemon runs there.
    pub async fn connect(data_dir: &Path) -> Result<Self, ConnectError> {
        let path = socket_path(data_dir);
        let stream = match UnixStream::connect(&path).await {
            Ok(s) => s,
            Err(_) if !keystore_path(data_dir).exists() => {
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
    pub async fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        Ok(write_json(&mut self.writer, req).await?)
    }

    /// Reads the next response; `None` when the daemon closed the
    /// connection. Not cancel-safe (see [`read_line`]).
    pub async fn next(&mut self) -> Result<Option<Response>, ClientError> {
        match read_line(&mut self.reader).await? {
            None => Ok(None),
            Some(line) => Ok(Some(
                serde_json::from_str(&line).map_err(ClientError::Malformed)?,
            )),
        }
    }

    /// One request, one response; an `error` response is
    /// [`ClientError::Refused`].
    pub async fn call(&mut self, req: &Request) -> Result<Response, ClientError> {
        self.send(req).await?;
        match self.next().await? {
            Some(Response::Error { message }) => Err(ClientError::Refused(message)),
            Some(r) => Ok(r),
            None => Err(ClientError::Closed),
        }
    }
}
