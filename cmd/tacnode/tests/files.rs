//! `tacnode send-file` and `tacnode files` between two daemons over real
//! QUIC: the file arrives whole, `--json` prints the offer and the end,
//! both ends list it, and bad input says what to do.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{address_when_up, free_port, init, ok, spawn_daemon, stop_daemon, tacnode, text};

use std::path::Path;
use std::time::Duration;

#[test]
fn send_file_delivers_a_file_and_files_lists_it_on_both_ends() {
    let tmp = tempfile::tempdir().unwrap();
    let pass_file = tmp.path().join("pass");
    std::fs::write(&pass_file, "pw\n").unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let (addr_a, addr_b) = (init(&a, &pass_file), init(&b, &pass_file));
    let listen_a = format!("127.0.0.1:{}", free_port());
    let da = spawn_daemon(&a, &pass_file, &listen_a, None);
    address_when_up(&a, Duration::from_secs(30));
    let boot = format!("{addr_a}@{listen_a}");
    let db = spawn_daemon(&b, &pass_file, "127.0.0.1:0", Some(&boot));
    address_when_up(&b, Duration::from_secs(30));
    ok(tacnode(&a, &["contacts", "add", "bravo", &addr_b]));
    ok(tacnode(&b, &["contacts", "add", "alpha", &addr_a]));

    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let source = tmp.path().join("sitrep.bin");
    std::fs::write(&source, &content).unwrap();

    // Bad input: a missing file and an unknown contact, each with what to do.
    let o = tacnode(&a, &["send-file", "bravo", "/nonexistent/x.bin"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("cannot read it"), "{}", text(&o));
    let o = tacnode(&a, &["send-file", "nobody", source.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("contacts add"), "{}", text(&o));

    // --json: the offer, then the transfer as it ended; exit 0 once done.
    let out = ok(tacnode(
        &a,
        &["--json", "send-file", "bravo", source.to_str().unwrap()],
    ));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["kind"], "file", "{out}");
    assert_eq!(lines[0]["name"], "sitrep.bin", "{out}");
    assert_eq!(lines[0]["direction"], "out", "{out}");
    assert_eq!(lines[1]["state"], "done", "{out}");
    assert_eq!(lines[1]["size"], content.len(), "{out}");

    // The recipient lists it, saved in its data directory, byte for byte.
    let listed: serde_json::Value =
        serde_json::from_str(&ok(tacnode(&b, &["--json", "files"]))).unwrap();
    let t = &listed["transfers"][0];
    assert_eq!(t["direction"], "in", "{listed}");
    assert_eq!(t["state"], "done", "{listed}");
    assert_eq!(t["peer"], "alpha", "{listed}");
    let saved = t["path"].as_str().unwrap();
    assert_eq!(Path::new(saved), b.join("files").join("sitrep.bin"));
    assert!(std::fs::read(saved).unwrap() == content);
    let human = ok(tacnode(&b, &["files"]));
    assert!(
        human.contains("sitrep.bin from alpha") && human.contains("saved as"),
        "{human}"
    );

    // Nothing under way: --watch says so at once; an ended transfer
    // cannot be cancelled.
    let watched = ok(tacnode(&b, &["files", "--watch"]));
    assert!(watched.contains("no file transfer under way"), "{watched}");
    let id = t["id"].as_str().unwrap();
    let o = tacnode(&b, &["files", "cancel", &id[..8]]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("has ended already"), "{}", text(&o));

    // A second send of the same name lands beside it, never over it.
    ok(tacnode(
        &a,
        &["send-file", "bravo", source.to_str().unwrap()],
    ));
    assert!(b.join("files").join("sitrep (1).bin").exists());
    stop_daemon(da);
    stop_daemon(db);
}
