//! `tacnode chat` driven as an operator drives it: in a detached tmux
//! session of 80×24 over two real daemons, typing with send-keys and reading
//! the screen with capture-pane.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{address_when_up, free_port, spawn_daemon, tacnode};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the network, the screen or a delivery may take.
const PATIENCE: Duration = Duration::from_secs(60);

/// Stops daemons and the tmux server however the test ends.
struct Cleanup {
    daemons: Vec<Child>,
    tmux_socket: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.tmux_socket)
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
        for d in &mut self.daemons {
            let _ = Command::new("kill")
                .args(["-TERM", &d.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while matches!(d.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = d.kill();
        }
    }
}

/// tmux on the test's own server socket.
fn tmux(socket: &Path, args: &[&str]) -> String {
    let o = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(args)
        .output()
        .expect("run tmux");
    assert!(
        o.status.success(),
        "tmux {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Waits until the pane shows what `done` looks for; returns the screen.
fn screen_until(socket: &Path, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let screen = tmux(socket, &["capture-pane", "-p", "-t", "chat"]);
        if done(&screen) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "the screen never showed {what}:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether tmux can be run; in CI its absence is a failure, elsewhere the
/// test says why it is skipped.
fn tmux_present() -> bool {
    let present = Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tmux is missing in CI: .ci/testbed-deps installs it"
        );
        eprintln!("skipped: tmux is not installed (apt-get install tmux) to drive the chat");
    }
    present
}

#[test]
fn chat_in_tmux_sends_shows_ticks_and_restores_the_terminal() {
    if !tmux_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "pw\n").unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        let o = tacnode(d, &["init", "--passphrase-file", pass.to_str().unwrap()]);
        assert!(o.status.success());
    }
    let listen_a = format!("127.0.0.1:{}", free_port());
    let mut cleanup = Cleanup {
        daemons: vec![spawn_daemon(&a, &pass, &listen_a, None)],
        tmux_socket: tmp.path().join("tmux.sock"),
    };
    let addr_a = address_when_up(&a, PATIENCE);
    let bootstrap = format!("{addr_a}@{listen_a}");
    cleanup
        .daemons
        .push(spawn_daemon(&b, &pass, "127.0.0.1:0", Some(&bootstrap)));
    let addr_b = address_when_up(&b, PATIENCE);
    assert!(
        tacnode(&a, &["contacts", "add", "bravo", &addr_b])
            .status
            .success()
    );
    assert!(
        tacnode(&b, &["contacts", "add", "alpha", &addr_a])
            .status
            .success()
    );
    // b joins through a; until a knows b's record a send is refused.
    let deadline = Instant::now() + PATIENCE;
    while !tacnode(&a, &["send", "bravo", "warm-up"]).status.success() {
        assert!(Instant::now() < deadline, "send refused");
        std::thread::sleep(Duration::from_millis(200));
    }

    // A shell in an 80×24 terminal, and the chat in it.
    let socket = cleanup.tmux_socket.clone();
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "chat",
            "-x",
            "80",
            "-y",
            "24",
            "sh",
        ],
    );
    let size = tmux(
        &socket,
        &[
            "display",
            "-p",
            "-t",
            "chat",
            "#{pane_width}x#{pane_height}",
        ],
    );
    assert_eq!(size.trim(), "80x24");
    let line = format!(
        "{} --data-dir {} chat bravo; echo chat-exit=$?",
        env!("CARGO_BIN_EXE_tacnode"),
        a.display()
    );
    tmux(&socket, &["send-keys", "-t", "chat", "-l", &line]);
    tmux(&socket, &["send-keys", "-t", "chat", "Enter"]);
    screen_until(&socket, "the chat", |s| {
        s.contains("Message to bravo") && s.contains("me: warm-up [")
    });

    tmux(
        &socket,
        &["send-keys", "-t", "chat", "-l", "hello from tmux"],
    );
    tmux(&socket, &["send-keys", "-t", "chat", "Enter"]);
    let shown = screen_until(&socket, "the message delivered", |s| {
        s.contains("me: hello from tmux [delivered]")
    });
    assert!(shown.contains("bravo (unverified)"), "{shown}");
    let received = tacnode(&b, &["inbox"]);
    assert!(
        String::from_utf8_lossy(&received.stdout).contains("<- alpha [received] hello from tmux"),
        "{}",
        String::from_utf8_lossy(&received.stdout)
    );

    // A reply shows live in the chat.
    assert!(
        tacnode(&b, &["send", "alpha", "copy that"])
            .status
            .success()
    );
    screen_until(&socket, "the reply", |s| s.contains("bravo: copy that"));

    // Esc quits; the shell is back on the main screen in cooked mode (a
    // terminal left raw would not turn Enter into a line for the shell).
    tmux(&socket, &["send-keys", "-t", "chat", "Escape"]);
    screen_until(&socket, "the chat's exit", |s| s.contains("chat-exit=0"));
    let modes = tmux(
        &socket,
        &[
            "display",
            "-p",
            "-t",
            "chat",
            "#{alternate_on} #{cursor_flag}",
        ],
    );
    assert_eq!(
        modes.trim(),
        "0 1",
        "alternate screen or hidden cursor left behind"
    );
    tmux(
        &socket,
        &["send-keys", "-t", "chat", "-l", "echo restored-$((40+2))"],
    );
    tmux(&socket, &["send-keys", "-t", "chat", "Enter"]);
    let after = screen_until(&socket, "the shell answering", |s| {
        s.contains("restored-42")
    });
    assert!(!after.contains("Message to bravo"), "{after}");
}
