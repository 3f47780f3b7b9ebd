//! `tacnode peers --watch`: the table redrawn every second, like `top`,
//! until Ctrl-C. When standard output is not a terminal it prints one
//! snapshot a second instead (with `--json`, one object per line). No
//! terminal mode is changed (no raw mode, no alternate screen), so nothing
//! is left to restore however it ends.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use tacnode_control::{ControlClient, Request, Response};

use crate::run::{CliError, print_line};
use crate::show;

/// Time between two snapshots.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Cursor to the top left, then clear the screen.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

/// Shows the peers every [`WATCH_INTERVAL`] until Ctrl-C or until the
/// reader goes away.
pub(crate) async fn peers(data_dir: &Path, json: bool) -> Result<ExitCode, CliError> {
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let r = ControlClient::connect(data_dir)
            .await?
            .call(&Request::Peers)
            .await?;
        let text = match &r {
            _ if json => serde_json::to_string(&r)?,
            Response::Peers {
                peers,
                routing_table_size,
            } => {
                let table = show::peers(peers, *routing_table_size);
                if tty {
                    format!("{CLEAR_SCREEN}every 1 s; Ctrl-C quits\n{table}")
                } else {
                    table
                }
            }
            Response::Error { message } => {
                return Err(CliError::Other(anyhow::anyhow!("{message}")));
            }
            other => {
                return Err(CliError::Other(anyhow::anyhow!(
                    "unexpected answer {other:?}"
                )));
            }
        };
        if !print_line(&mut out, text.trim_end_matches('\n'))? {
            return Ok(ExitCode::SUCCESS);
        }
        // Snapshots on a pipe are told apart by a blank line.
        if !json && !tty && !print_line(&mut out, "")? {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            biased;
            _ = &mut ctrl_c => return Ok(ExitCode::SUCCESS),
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
    }
}
