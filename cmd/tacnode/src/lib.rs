//! The tacnode node and its command-line interface: configuration, wiring of
//! every crate, the daemon, the control socket and the demo.
//!
//! `main.rs` calls [`main_entry`]. Integration tests start nodes in-process
//! with [`node::Node::start`] and drive them through [`node::NodeHandle`].

mod adapters;
mod admin;
mod cli;
pub mod config;
mod control_server;
mod daemon;
pub mod demo;
mod files;
mod keys;
pub mod node;
mod run;
mod stdin_messages;

use std::process::ExitCode;

use clap::Parser as _;

/// For the fuzz targets: the control protocol's request parser and line
/// reader.
pub use tacnode_control::{
    parse_request as parse_control_request, read_lines as read_control_lines,
};

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
