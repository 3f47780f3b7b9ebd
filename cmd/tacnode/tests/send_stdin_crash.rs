//! `send --stdin` when the daemon dies in the middle (issue #17, bug 9): the
//! CLI used to say "0 of 3000 queued" when 1,000 were committed. It must
//! name the lines queued for sure and the group in flight, and what the
//! daemon committed must lie between the two.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{address_when_up, init, spawn_daemon, stop_daemon, tacnode};

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LINES: usize = 60_000;

/// The numbers in "lines 1-N of T are queued for sure; lines A-B were being
/// queued …".
fn reported(stderr: &str) -> (usize, usize) {
    let sure = stderr
        .split("lines 1-")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of the lines queued for sure: {stderr}"));
    let in_flight = stderr
        .split("; lines ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|range| range.split('-').nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no range of the lines in flight: {stderr}"));
    (sure, in_flight)
}

#[test]
fn a_daemon_killed_during_send_stdin_leaves_a_count_the_operator_can_trust() {
    let tmp = tempfile::tempdir().unwrap();
    let pass_file = tmp.path().join("pass");
    std::fs::write(&pass_file, "pw\n").unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let addr_b = init(&b, &pass_file);
    init(&a, &pass_file);
    let mut da = spawn_daemon(&a, &pass_file, "127.0.0.1:0", None);
    address_when_up(&a, Duration::from_secs(30));
    assert!(
        tacnode(&a, &["contacts", "add", "bravo", &addr_b])
            .status
            .success()
    );

    let mut send = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(&a)
        .args(["send", "bravo", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = send.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut text = String::with_capacity(LINES * 8);
        for i in 0..LINES {
            text.push_str(&format!("m{i}\n"));
        }
        let _ = input.write_all(text.as_bytes());
    });
    // Once two groups are queued, the daemon dies without warning.
    let mut stdout = BufReader::new(send.stdout.take().unwrap());
    let mut line = String::new();
    let mut seen = 0;
    while seen < 2_000 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the CLI stopped early"
        );
        seen += 1;
    }
    let _ = da.kill();
    let _ = da.wait();
    // The CLI's own count, whatever else it printed.
    let mut printed = seen;
    loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        printed += 1;
    }
    let status = send.wait().unwrap();
    writer.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut send.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "the CLI reported success: {stderr}");
    let (sure, up_to) = reported(&stderr);
    assert_eq!(sure, printed, "{stderr}");
    assert!(sure < LINES && up_to > sure, "{stderr}");

    // After a restart, what the daemon committed lies in the reported range.
    let da = spawn_daemon(&a, &pass_file, "127.0.0.1:0", None);
    address_when_up(&a, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    let committed = loop {
        let o = tacnode(&a, &["--json", "outbox"]);
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            break v["entries"].as_array().unwrap().len();
        }
        assert!(Instant::now() < deadline, "the daemon did not answer");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        (sure..=up_to).contains(&committed),
        "{committed} committed, the CLI said {sure} for sure and up to {up_to}: {stderr}"
    );
    stop_daemon(da);
}
