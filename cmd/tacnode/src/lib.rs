//! The tacnode node and its command-line interface: configuration, wiring of
//! every crate, the daemon, the control socket and the demo.
//!
//! `main.rs` calls [`main_entry`]. Integration tests start nodes in-process
//! with [`node::Node::start`] and drive them through [`node::NodeHandle`].

mod adapters;
mod cli;
pub mod config;
mod control;
mod control_server;
mod daemon;
pub mod demo;
mod keys;
pub mod node;
mod qr;
mod run;
mod show;
mod stdin_messages;

use std::process::ExitCode;

use clap::Parser as _;

/// Whether `line` parses as a control-socket request (one JSON object, as
/// the daemon reads it). The control protocol is private; this exists so the
/// fuzz targets can reach its parser.
pub fn parse_control_request(line: &str) -> bool {
    serde_json::from_str::<control::Request>(line).is_ok()
}

/// Reads `bytes` as the daemon reads its control socket: bounded lines
/// through a buffer of `capacity` bytes. Returns each line read, then the
/// error that stopped the reading, if any. The control protocol is private;
/// this exists so the fuzz targets can reach its line reader.
pub fn read_control_lines(bytes: &[u8], capacity: usize) -> (Vec<String>, Option<String>) {
    use std::future::Future as _;
    use std::task::{Context, Poll, Waker};

    let mut reader = tokio::io::BufReader::with_capacity(capacity.max(1), bytes);
    // Reading from memory never waits, so one poll completes each line.
    let mut cx = Context::from_waker(Waker::noop());
    let mut lines = Vec::new();
    loop {
        let mut next = std::pin::pin!(control::read_line(&mut reader));
        match next.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(Some(line))) => lines.push(line),
            Poll::Ready(Ok(None)) => return (lines, None),
            Poll::Ready(Err(e)) => return (lines, Some(format!("{e:#}"))),
            Poll::Pending => return (lines, Some("reader would block".to_owned())),
        }
    }
}

/// Parses the command line, runs the command and maps errors to exit codes:
/// 0 success, 1 failure, 2 usage error (clap), 3 daemon not running.
pub fn main_entry() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tacnode: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::dispatch(cli)) {
        Ok(code) => code,
        Err(run::CliError::DaemonNotRunning(e)) => {
            eprintln!("tacnode: {e}");
            ExitCode::from(3)
        }
        Err(run::CliError::Other(e)) => {
            eprintln!("tacnode: {e:#}");
            ExitCode::FAILURE
        }
    }
}
