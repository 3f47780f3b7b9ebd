//! `tacnode peers --watch`: the table redrawn every second, like `top`,
//! until stopped. When the output is not a terminal it writes one snapshot
//! a second instead (as JSON, one object per line). No terminal mode is
//! changed (no raw mode, no alternate screen), so nothing is left to
//! restore however it ends.

use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::client::{ClientError, ConnectError, ControlClient};
use crate::output_line::write_line;
use crate::request::Request;
use crate::response::Response;
use crate::views::PeerView;

/// Time between two snapshots.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Cursor to the top left, then clear the screen.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

/// How each snapshot is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchOutput {
    /// The daemon's answer as one JSON object per line.
    Json,
    /// A terminal: the screen cleared, then the table.
    Terminal,
    /// A pipe or a file: one table after another, a blank line between.
    Pipe,
}

/// Why watching stopped other than by the stop signal or a closed reader.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The daemon could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The daemon refused or failed the request.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The daemon answered with something else than peers.
    #[error("unexpected answer {0:?}")]
    Unexpected(Box<Response>),
    /// Writing a snapshot failed.
    #[error(transparent)]
    Write(#[from] std::io::Error),
    /// An answer could not be written as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Asks the daemon in `data_dir` for its peers every [`WATCH_INTERVAL`] and
/// writes each answer to `out` (`table` turns peers and the routing table
/// size into text), until `stop` completes or the reader of `out` goes
/// away.
pub async fn watch_peers<W, S>(
    data_dir: &Path,
    output: WatchOutput,
    out: &mut W,
    table: &dyn Fn(&[PeerView], usize) -> String,
    stop: S,
) -> Result<(), WatchError>
where
    W: Write,
    S: Future,
{
    let mut stop = std::pin::pin!(stop);
    loop {
        let r = ControlClient::connect(data_dir)
            .await?
            .call(&Request::Peers)
            .await?;
        let text = match (&r, output) {
            (_, WatchOutput::Json) => serde_json::to_string(&r)?,
            (
                Response::Peers {
                    peers,
                    routing_table_size,
                },
                _,
            ) => {
                let table = table(peers, *routing_table_size);
                if output == WatchOutput::Terminal {
                    format!("{CLEAR_SCREEN}every 1 s; Ctrl-C quits\n{table}")
                } else {
                    table
                }
            }
            _ => return Err(WatchError::Unexpected(Box::new(r))),
        };
        if !write_line(out, text.trim_end_matches('\n'))? {
            return Ok(());
        }
        // Snapshots on a pipe are told apart by a blank line.
        if output == WatchOutput::Pipe && !write_line(out, "")? {
            return Ok(());
        }
        tokio::select! {
            biased;
            _ = &mut stop => return Ok(()),
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::data_dir::socket_path;
    use crate::line::{read_line, write_json};

    /// A daemon that answers every request on its socket with `answer`.
    fn daemon(dir: &Path, answer: Response) {
        let listener = tokio::net::UnixListener::bind(socket_path(dir)).unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, mut w) = stream.into_split();
                let mut r = tokio::io::BufReader::new(r);
                while let Ok(Some(_)) = read_line(&mut r).await {
                    write_json(&mut w, &answer).await.unwrap();
                }
            }
        });
    }

    fn peers() -> Response {
        Response::Peers {
            peers: Vec::new(),
            routing_table_size: 3,
        }
    }

    fn table(peers: &[PeerView], size: usize) -> String {
        format!("{} peers of {size}\nend\n", peers.len())
    }

    async fn watch(output: WatchOutput, answer: Response) -> (Result<(), WatchError>, String) {
        let dir = tempfile::tempdir().unwrap();
        daemon(dir.path(), answer);
        let mut out = Vec::new();
        // Stops once the first snapshot is out.
        let r = watch_peers(dir.path(), output, &mut out, &table, std::future::ready(())).await;
        (r, String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn each_output_gets_its_own_form() {
        let (r, pipe) = watch(WatchOutput::Pipe, peers()).await;
        r.unwrap();
        assert_eq!(pipe, "0 peers of 3\nend\n\n");
        let (r, tty) = watch(WatchOutput::Terminal, peers()).await;
        r.unwrap();
        assert_eq!(
            tty,
            "\x1b[H\x1b[2Jevery 1 s; Ctrl-C quits\n0 peers of 3\nend\n"
        );
        let (r, json) = watch(WatchOutput::Json, peers()).await;
        r.unwrap();
        assert_eq!(json.lines().count(), 1);
        let back: Response = serde_json::from_str(&json).unwrap();
        assert_eq!(back, peers());
    }

    #[tokio::test]
    async fn a_refusal_or_another_answer_ends_it_with_an_error() {
        let (r, out) = watch(WatchOutput::Pipe, Response::Ok).await;
        assert_eq!(r.unwrap_err().to_string(), "unexpected answer Ok");
        assert_eq!(out, "");
        let refused = Response::Error {
            message: "busy".to_owned(),
        };
        let (r, _) = watch(WatchOutput::Pipe, refused).await;
        assert_eq!(r.unwrap_err().to_string(), "busy");
    }

    #[tokio::test]
    async fn no_daemon_is_a_connect_error() {
        let dir = tempfile::tempdir().unwrap();
        let r = watch_peers(
            dir.path(),
            WatchOutput::Pipe,
            &mut Vec::new(),
            &table,
            std::future::pending::<()>(),
        )
        .await;
        assert!(matches!(r, Err(WatchError::Connect(_))), "{r:?}");
    }

    /// A reader that went away.
    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_closed_reader_ends_it_quietly() {
        let dir = tempfile::tempdir().unwrap();
        daemon(dir.path(), peers());
        let r = watch_peers(
            dir.path(),
            WatchOutput::Pipe,
            &mut ClosedPipe,
            &table,
            std::future::pending::<()>(),
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
    }
}
