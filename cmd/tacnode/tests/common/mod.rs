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

// Each test binary uses some of the helpers below.

/// `tacnode init` on `data`; the new node's address.
#[allow(dead_code)]
pub(crate) fn init(data: &Path, pass: &Path) -> String {
    let o = tacnode(data, &["init", "--passphrase-file", pass.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("address: ").map(str::to_owned))
        .expect("init prints the address")
}

/// `tacnode run` on `data`, listening on `listen`, joining through
/// `bootstrap` (`key_…@ip:port`) if given; its output is discarded.
#[allow(dead_code)]
pub(crate) fn spawn_daemon(
    data: &Path,
    pass: &Path,
    listen: &str,
    bootstrap: Option<&str>,
) -> std::process::Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tacnode"));
    c.arg("--data-dir")
        .arg(data)
        .args(["run", "--listen", listen, "--passphrase-file"])
        .arg(pass);
    if let Some(b) = bootstrap {
        c.args(["--bootstrap", b]);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run tacnode")
}

/// A UDP port on 127.0.0.1 that was free a moment ago (for a daemon the
/// others bootstrap from, whose address must be known in advance).
#[allow(dead_code)]
pub(crate) fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port()
}

/// Stops a daemon with SIGTERM and waits for it.
#[allow(dead_code)]
pub(crate) fn stop_daemon(mut daemon: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
}

/// What a command wrote, standard output then standard error.
#[allow(dead_code)]
pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The standard output of a command that must have succeeded.
#[allow(dead_code)]
pub(crate) fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}
