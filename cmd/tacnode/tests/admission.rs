//! A closed network driven from the command line over real QUIC: an admin
//! key, certificates issued and installed, a member without a certificate
//! that cannot start, an outsider that cannot join, and a revocation that
//! takes effect at once on the daemon it was given to.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{address_when_up, free_port, ok, spawn_daemon, stop_daemon, tacnode, text};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `init`, returning the new node's address.
fn init(dir: &Path, pass: &str) -> String {
    let out = ok(tacnode(dir, &["init", "--passphrase-file", pass]));
    out.lines()
        .find_map(|l| l.strip_prefix("address: "))
        .unwrap()
        .to_owned()
}

fn status(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(tacnode(dir, &["--json", "status"]))).unwrap()
}

fn inbox_has(dir: &Path, needle: &str) -> bool {
    ok(tacnode(dir, &["inbox"])).contains(needle)
}

fn wait_for(what: &str, patience: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_closed_network_admits_members_only_and_a_revocation_cuts_one_off() {
    let tmp = tempfile::tempdir().unwrap();
    let pass_file = tmp.path().join("pass");
    std::fs::write(&pass_file, "pw\n").unwrap();
    let p = pass_file.to_str().unwrap();
    let dir = |n: &str| -> PathBuf { tmp.path().join(n) };
    let file = |n: &str| -> String { dir(n).to_str().unwrap().to_owned() };

    // The admin's key, and the config lines it prints for the members.
    let out = ok(tacnode(
        &dir("hq"),
        &["admin", "init", "--passphrase-file", p],
    ));
    let admins_line = out
        .lines()
        .find(|l| l.starts_with("admins = "))
        .unwrap()
        .to_owned();
    let closed = format!("[admission]\n{admins_line}\n");
    let (a, b, c) = (dir("a"), dir("b"), dir("c"));
    let (addr_a, addr_b) = (init(&a, p), init(&b, p));
    init(&c, p);
    for d in [&a, &b, &c] {
        std::fs::write(d.join("tacnode.toml"), &closed).unwrap();
    }
    for (addr, d, cert) in [(&addr_a, &a, "a.cert"), (&addr_b, &b, "b.cert")] {
        ok(tacnode(
            &dir("hq"),
            &[
                "admin",
                "issue",
                addr,
                "--out",
                &file(cert),
                "--passphrase-file",
                p,
            ],
        ));
        ok(tacnode(d, &["member", "import", &file(cert)]));
    }
    // A certificate with one signature digit changed is refused at import.
    let cert = std::fs::read_to_string(dir("a.cert")).unwrap();
    let mut edited = cert.trim_end().to_owned();
    let last = edited.pop().unwrap();
    edited.push(if last == '0' { '1' } else { '0' });
    std::fs::write(dir("edited.cert"), edited).unwrap();
    let o = tacnode(&c, &["member", "import", &file("edited.cert")]);
    assert!(!o.status.success());
    assert!(text(&o).contains("does not verify"), "{}", text(&o));

    // c has no certificate: it refuses to start and says what to do.
    let o = tacnode(
        &c,
        &["run", "--listen", "127.0.0.1:0", "--passphrase-file", p],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("tacnode member import"), "{}", text(&o));

    let listen_a = format!("127.0.0.1:{}", free_port());
    let da = spawn_daemon(&a, &pass_file, &listen_a, None);
    address_when_up(&a, Duration::from_secs(30));
    let boot = format!("{addr_a}@{listen_a}");
    let db = spawn_daemon(&b, &pass_file, "127.0.0.1:0", Some(&boot));
    address_when_up(&b, Duration::from_secs(30));
    // c, as an open node, tries to join through a: a's handshake refuses it.
    std::fs::remove_file(c.join("tacnode.toml")).unwrap();
    let dc = spawn_daemon(&c, &pass_file, "127.0.0.1:0", Some(&boot));
    address_when_up(&c, Duration::from_secs(30));

    ok(tacnode(&b, &["contacts", "add", "alpha", &addr_a]));
    ok(tacnode(&c, &["contacts", "add", "alpha", &addr_a]));
    ok(tacnode(&b, &["send", "alpha", "from a member"]));
    ok(tacnode(&c, &["send", "alpha", "from an outsider"]));
    wait_for("the member's message", Duration::from_secs(60), || {
        inbox_has(&a, "from a member")
    });
    assert_eq!(status(&c)["routing_table_size"], 0, "the outsider joined");
    assert!(!inbox_has(&a, "from an outsider"));
    let s = status(&a);
    assert_eq!(s["admission"], "closed", "{s}");
    assert_eq!(s["revoked_members"], 0, "{s}");

    // The admin revokes b; a gets the list and cuts b off at once.
    ok(tacnode(
        &dir("hq"),
        &[
            "admin",
            "revoke",
            &addr_b,
            "--out",
            &file("rev1"),
            "--passphrase-file",
            p,
        ],
    ));
    let out = ok(tacnode(&a, &["member", "revocations", &file("rev1")]));
    assert!(out.contains("1 members newly revoked"), "{out}");
    assert_eq!(status(&a)["revoked_members"], 1);
    // The same list again is stale.
    assert!(
        !tacnode(&a, &["member", "revocations", &file("rev1")])
            .status
            .success()
    );
    ok(tacnode(&b, &["send", "alpha", "after the revocation"]));
    std::thread::sleep(Duration::from_secs(5));
    assert!(!inbox_has(&a, "after the revocation"));
    let peers: serde_json::Value =
        serde_json::from_str(&ok(tacnode(&a, &["--json", "peers"]))).unwrap();
    assert!(
        !peers["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["address"] == addr_b.as_str() && p["connected"] == true),
        "{peers}"
    );
    for d in [da, db, dc] {
        stop_daemon(d);
    }
}
