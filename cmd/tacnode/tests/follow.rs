//! `inbox --follow` (and so the chat) shows a text the moment another
//! front end queued it, not only after a restart.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{address_when_up, init, spawn_daemon, stop_daemon, tacnode};

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn inbox_follow_shows_a_text_queued_by_another_command() {
    let tmp = tempfile::tempdir().unwrap();
    let pass_file = tmp.path().join("pass");
    std::fs::write(&pass_file, "pw\n").unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let addr_b = init(&b, &pass_file);
    init(&a, &pass_file);
    let daemon = spawn_daemon(&a, &pass_file, "127.0.0.1:0", None);
    address_when_up(&a, Duration::from_secs(30));
    assert!(
        tacnode(&a, &["contacts", "add", "bravo", &addr_b])
            .status
            .success()
    );
    // Sent before following: it is in the history, which the daemon reads
    // after it started listening for new messages.
    assert!(tacnode(&a, &["send", "bravo", "before"]).status.success());
    let mut follow = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(&a)
        .args(["--json", "inbox", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();
    let history = lines.next().unwrap().unwrap();
    assert!(history.contains("\"before\""), "{history}");
    assert!(
        tacnode(&a, &["send", "bravo", "sent from another terminal"])
            .status
            .success()
    );
    // The next message line (a status change of "before" may come first).
    let v: serde_json::Value = loop {
        let line = lines.next().unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "message" {
            break v;
        }
    };
    assert_eq!(v["direction"], "out", "{v}");
    assert_eq!(v["text"], "sent from another terminal", "{v}");
    assert_eq!(v["peer_name"], "bravo", "{v}");
    let _ = follow.kill();
    let _ = follow.wait();
    stop_daemon(daemon);
}
