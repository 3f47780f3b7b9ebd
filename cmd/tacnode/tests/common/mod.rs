//! Helpers the CLI's integration tests share: running the binary and
//! waiting for a daemon.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `tacnode --data-dir DIR ARGS…` with no passphrase or config from
/// the environment and no input.
pub(crate) fn tacnode(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("TACNODE_PASSPHRASE")
        .env_remove("TACNODE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run tacnode")
}

/// The address of the daemon on `data` once it answers (at most `patience`).
pub(crate) fn address_when_up(data: &Path, patience: Duration) -> String {
    let deadline = Instant::now() + patience;
    loop {
        let o = tacnode(data, &["id"]);
        if o.status.success() {
            let out = String::from_utf8_lossy(&o.stdout).into_owned();
            return out.lines().next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "daemon did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}
