//! Why the chat could not run.

use tacnode_control::{ClientError, ConnectError};

/// A chat that failed to start or broke off.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The daemon could not be reached (not running: exit code 3).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The daemon failed a request.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The contact named on the command line is unknown.
    #[error("no contact named {0:?}; see `tacnode contacts list`")]
    UnknownContact(String),
    /// The daemon answered something else than asked.
    #[error("unexpected answer from the daemon: {0}")]
    Unexpected(String),
    /// Standard input or output is not a terminal.
    #[error("tacnode chat needs a terminal (standard input and output)")]
    NotATerminal,
    /// The terminal failed.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}
