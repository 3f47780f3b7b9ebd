//! The binary as an operator uses it: clear errors, exit codes, nothing
//! written on failure, and a daemon driven through its control socket.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{address_when_up, tacnode};

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn client_commands_without_a_daemon_say_so_with_exit_code_3() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pass = write(tmp.path(), "pass", "pw\n");
    let args_list = [
        &["status"][..],
        &["send", "bob", "hi"],
        &["peers"],
        &["id"],
        &["chat"],
    ];
    // Never initialised (issue #17, bug 6): say so, not "not running".
    for args in args_list {
        let o = tacnode(&data, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no identity") && stderr(&o).contains("tacnode init"),
            "{}",
            stderr(&o)
        );
    }
    let o = tacnode(
        &data,
        &["init", "--passphrase-file", pass.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for args in args_list {
        let o = tacnode(&data, args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("daemon is not running"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn init_refuses_to_overwrite_and_run_refuses_a_wrong_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pass = write(tmp.path(), "pass", "correct horse\n");
    let bad = write(tmp.path(), "bad", "wrong horse\n");
    let o = tacnode(
        &data,
        &["init", "--passphrase-file", pass.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("key_"));
    let keystore = std::fs::read(data.join("identity.json")).unwrap();

    let o = tacnode(
        &data,
        &["init", "--passphrase-file", pass.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(data.join("identity.json")).unwrap(), keystore);

    let before = files(&data);
    let o = tacnode(&data, &["run", "--passphrase-file", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).to_lowercase().contains("passphrase"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files(&data), before, "nothing may be written");
}

#[test]
fn malformed_config_names_key_and_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pass = write(tmp.path(), "pass", "pw\n");
    assert!(
        tacnode(
            &data,
            &["init", "--passphrase-file", pass.to_str().unwrap()]
        )
        .status
        .success()
    );
    let before = files(&data);
    let cfg = write(
        tmp.path(),
        "bad.toml",
        "[node]\nlisten = \"127.0.0.1:0\"\n\n[dht]\nkay = 20\n",
    );
    let o = tacnode(
        &data,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("line 5") && err.contains("kay"), "{err}");
    assert_eq!(files(&data), before);
}

#[test]
fn daemon_serves_its_control_socket_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pass = write(tmp.path(), "pass", "pw\n");
    assert!(
        tacnode(
            &data,
            &["init", "--passphrase-file", pass.to_str().unwrap()]
        )
        .status
        .success()
    );
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--passphrase-file",
            pass.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let o = tacnode(&data, &["id"]);
        if o.status.success() {
            break String::from_utf8_lossy(&o.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not come up: {}",
            stderr(&o)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(id.starts_with("key_"), "{id}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("control.sock"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "control socket must be owner-only");

    let o = tacnode(&data, &["contacts", "add", "bob", "key_notbase58!"]);
    assert_eq!(o.status.code(), Some(1));
    let o = tacnode(&data, &["send", "nobody", "hi"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown contact"), "{}", stderr(&o));
    let o = tacnode(&data, &["--json", "status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("routing_table_size"));
    // The summary an operator reads (issue #17): no raw JSON.
    let o = tacnode(&data, &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        summary.contains("network:") && summary.contains("outbox:") && !summary.contains('{'),
        "{summary}"
    );

    // send --stdin: one message per non-empty line, queued in order.
    let other = tmp.path().join("other");
    let o = tacnode(
        &other,
        &["init", "--passphrase-file", pass.to_str().unwrap()],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let bob = out
        .lines()
        .find_map(|l| l.strip_prefix("address: "))
        .unwrap_or_else(|| panic!("no address in {out:?}"))
        .to_owned();
    assert!(
        tacnode(&data, &["contacts", "add", "bob", &bob])
            .status
            .success()
    );
    let piped = |input: &str, args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tacnode"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let o = piped("first\n\nsecond\r\nthird", &["send", "bob", "--stdin"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches("queued ")
            .count(),
        3
    );
    // A bad line refuses the whole input before anything is queued.
    let long = format!("ok\n{}\n", "x".repeat(70_000));
    let o = piped(&long, &["send", "bob", "--stdin"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    let o = tacnode(&data, &["inbox"]);
    let inbox = String::from_utf8_lossy(&o.stdout).into_owned();
    let sent: Vec<&str> = inbox
        .lines()
        .filter_map(|l| {
            ["first", "second", "third", "ok"]
                .into_iter()
                .find(|w| l.ends_with(w))
        })
        .collect();
    assert_eq!(sent, ["first", "second", "third"], "{inbox}");
    // The outbox (issue #17): bob never ran, so the messages wait, each
    // listed with its recipient (and, once an attempt failed, why).
    let o = tacnode(&data, &["outbox"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let outbox = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        outbox.contains("messages waiting") && outbox.contains("to bob"),
        "{outbox}"
    );
    let o = tacnode(&data, &["--json", "outbox"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = v["entries"].as_array().unwrap().clone();
    assert!(entries.len() >= 3, "{v}");
    assert!(tacnode(&data, &["outbox", "retry"]).status.success());
    // Cancel one by a prefix of its id (refused while an attempt is on the
    // wire: try again until it waits).
    let first = entries[0]["message_id"].as_str().unwrap()[..10].to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = tacnode(&data, &["outbox", "cancel", &first]);
        if o.status.success() {
            break;
        }
        assert!(stderr(&o).contains("being sent"), "{}", stderr(&o));
        assert!(Instant::now() < deadline, "never cancellable");
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = tacnode(&data, &["--json", "outbox"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["entries"].as_array().unwrap().len(),
        entries.len() - 1,
        "{v}"
    );
    let o = tacnode(&data, &["outbox", "cancel", "ffffffffffff"]);
    assert_eq!(o.status.code(), Some(1));
    // --json (issue #17): what the daemon answered, as JSON; the inbox as
    // one object per line.
    for args in [
        &["--json", "id"][..],
        &["--json", "contacts", "list"],
        &["--json", "peers"],
    ] {
        let o = tacnode(&data, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {:?}", String::from_utf8_lossy(&o.stdout)));
        assert!(v.is_object(), "{args:?}");
    }
    let o = tacnode(&data, &["--json", "contacts", "list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"bob\""));
    let o = tacnode(&data, &["inbox", "--json"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 3, "{lines:?}");
    // Removing a contact forgets it; its history stays.
    assert!(
        tacnode(&data, &["contacts", "remove", "bob"])
            .status
            .success()
    );
    let o = tacnode(&data, &["contacts", "list"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("bob"));
    let o = tacnode(&data, &["contacts", "remove", "bob"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown contact"), "{}", stderr(&o));
    let o = tacnode(&data, &["inbox"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("third"));

    // SIGTERM: graceful exit 0.
    let pid = daemon.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(!data.join("control.sock").exists());
}

/// `export` writes the decrypted history owner-only and never over an
/// existing file (issue #17, bug 7; #13's data-integrity list).
#[test]
fn export_is_owner_only_and_never_overwrites() {
    let (tmp, data, pass) = initialised();
    let p = pass.to_str().unwrap();
    run_once(&data, p);
    let out = tmp.path().join("history.jsonl");
    let o = tacnode(
        &data,
        &["export", "--passphrase-file", p, out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    std::fs::write(&out, b"keep me").unwrap();
    let o = tacnode(
        &data,
        &["export", "--passphrase-file", p, out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

/// Starts the daemon, waits until it answers, and stops it with SIGTERM:
/// its database then exists.
fn run_once(data: &Path, pass_file: &str) {
    let daemon = spawn_daemon(data, pass_file, "127.0.0.1:0");
    address_when_up(data, Duration::from_secs(30));
    stop(daemon);
}

/// Starts `tacnode run` on `data`, listening on `listen`.
fn spawn_daemon(data: &Path, pass_file: &str, listen: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(data)
        .args(["run", "--listen", listen, "--passphrase-file", pass_file])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stop(mut daemon: std::process::Child) {
    let pid = daemon.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while daemon.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A second daemon on the same data dir stops before any networking and
/// names the running one's pid; with the same port it used to report only
/// "Address already in use" (issue #17, bug 3). And 40 idle connections to
/// the control socket no longer lock every other command out (bug 8).
#[test]
fn a_second_daemon_and_idle_control_clients_are_turned_away() {
    use std::io::Read as _;
    let (_tmp, data, pass) = initialised();
    let p = pass.to_str().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let first = spawn_daemon(&data, p, &listen);
    address_when_up(&data, Duration::from_secs(30));
    let mut second = spawn_daemon(&data, p, &listen);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "second daemon kept running");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("another tacnode daemon is running")
            && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
    assert!(
        !err.contains("tacnode running"),
        "it started networking: {err}"
    );

    // Idle clients hold connections open without sending anything.
    let idle: Vec<_> = (0..40)
        .map(|_| std::os::unix::net::UnixStream::connect(data.join("control.sock")).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let mut served = false;
    while started.elapsed() < Duration::from_secs(20) {
        if tacnode(&data, &["status"]).status.success() {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(served, "status never got through 40 idle control clients");
    drop(idle);
    stop(first);
}

/// Daemon logs: plain text when stderr is not a terminal, and `RUST_LOG`
/// wins over `log.level` (issue #17, bug 4).
#[test]
fn daemon_logs_are_plain_when_piped_and_follow_rust_log() {
    use std::io::Read as _;
    let (_tmp, data, pass) = initialised();
    let p = pass.to_str().unwrap();
    for (rust_log, quiet) in [(None, false), (Some("warn"), false), (None, true)] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tacnode"));
        if quiet {
            cmd.arg("-q");
        }
        cmd.arg("--data-dir")
            .arg(&data)
            .args(["run", "--listen", "127.0.0.1:0", "--passphrase-file", p])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match rust_log {
            Some(f) => cmd.env("RUST_LOG", f),
            None => cmd.env_remove("RUST_LOG"),
        };
        let mut daemon = cmd.spawn().unwrap();
        address_when_up(&data, Duration::from_secs(30));
        let mut err = daemon.stderr.take().unwrap();
        stop(daemon);
        let mut log = String::new();
        err.read_to_string(&mut log).unwrap();
        assert!(!log.contains('\x1b'), "colour codes in a pipe: {log:?}");
        match (rust_log, quiet) {
            (None, false) => assert!(log.contains("tacnode running"), "{log}"),
            (Some(_), _) => assert!(!log.contains("tacnode running"), "RUST_LOG ignored: {log}"),
            (None, true) => assert!(!log.contains("tacnode running"), "-q ignored: {log}"),
        }
    }
}

/// `inbox --follow` fails loudly when the daemon goes away, where it used
/// to exit 0 silently (issue #17, bug 5).
#[test]
fn inbox_follow_fails_when_the_daemon_stops() {
    let (_tmp, data, pass) = initialised();
    let p = pass.to_str().unwrap();
    let daemon = spawn_daemon(&data, p, "127.0.0.1:0");
    address_when_up(&data, Duration::from_secs(30));
    let follow = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(&data)
        .args(["inbox", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stop(daemon);
    let out = follow.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("daemon closed"), "{}", stderr(&out));
}

/// A deleted database next to a kept keystore was silently replaced by an
/// empty one (issue #13, data integrity): the daemon now refuses to start
/// until the operator restores it or asks for a new one; a damaged file is
/// named at start.
#[test]
fn a_missing_or_damaged_database_is_refused_at_start() {
    let (_tmp, data, pass) = initialised();
    let p = pass.to_str().unwrap();
    run_once(&data, p);
    let db = data.join("tacnode.db");
    let saved = std::fs::read(&db).unwrap();
    for side in ["tacnode.db", "tacnode.db-wal", "tacnode.db-shm"] {
        let _ = std::fs::remove_file(data.join(side));
    }
    let o = tacnode(
        &data,
        &["run", "--listen", "127.0.0.1:0", "--passphrase-file", p],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is missing") && stderr(&o).contains("--new-database"),
        "{}",
        stderr(&o)
    );
    assert!(!db.exists(), "nothing may be created");

    // Damaged pages: named at start, with what to do.
    let mut damaged = saved.clone();
    let page = 4096;
    if damaged.len() > 2 * page {
        for b in &mut damaged[page + 16..2 * page] {
            *b ^= 0x5a;
        }
    }
    std::fs::write(&db, &damaged).unwrap();
    let o = tacnode(
        &data,
        &["run", "--listen", "127.0.0.1:0", "--passphrase-file", p],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("tacnode.db"), "{err}");
    assert!(
        err.contains("damaged")
            || err.contains("malformed")
            || err.contains("corrupt")
            || err.contains("not a database"),
        "{err}"
    );

    // Asked for explicitly, a new database starts.
    std::fs::remove_file(&db).unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--new-database",
            "--passphrase-file",
            p,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tacnode(&data, &["id"]).status.success() {
        assert!(daemon.try_wait().unwrap().is_none(), "daemon exited");
        assert!(Instant::now() < deadline, "daemon did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(daemon);
}

/// Two daemons on loopback, b joined through a (at `listen_a`), and b
/// added to a's contacts as `bravo`.
struct JoinedPair {
    _tmp: tempfile::TempDir,
    a: std::path::PathBuf,
    b: std::path::PathBuf,
    da: std::process::Child,
    db: std::process::Child,
    listen_a: String,
    addr_a: String,
    addr_b: String,
}

fn joined_pair() -> JoinedPair {
    let tmp = tempfile::tempdir().unwrap();
    let pass = write(tmp.path(), "pass", "pw\n");
    let p = pass.to_str().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        assert!(
            tacnode(d, &["init", "--passphrase-file", p])
                .status
                .success()
        );
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen_a = format!("127.0.0.1:{port}");
    let da = spawn_daemon(&a, p, &listen_a);
    let addr_a = address_when_up(&a, Duration::from_secs(30));
    let db = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(&b)
        .args(["run", "--listen", "127.0.0.1:0", "--passphrase-file", p])
        .args(["--bootstrap", &format!("{addr_a}@{listen_a}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr_b = address_when_up(&b, Duration::from_secs(30));
    assert!(
        tacnode(&a, &["contacts", "add", "bravo", &addr_b])
            .status
            .success()
    );
    JoinedPair {
        _tmp: tmp,
        a,
        b,
        da,
        db,
        listen_a,
        addr_a,
        addr_b,
    }
}

/// `inbox --follow` shows the status changes of our own messages (issue
/// #17): two daemons on loopback, a message from one to the other, and the
/// sender's follower sees it go and be delivered.
#[test]
fn inbox_follow_shows_our_messages_going_and_delivered() {
    use std::io::Read as _;
    let JoinedPair {
        _tmp, a, da, db, ..
    } = joined_pair();
    let mut follower = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(&a)
        .args(["inbox", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = false;
    while !sent {
        // b joins through a first; until a knows b's record the send waits.
        sent = tacnode(&a, &["send", "bravo", "status-please"])
            .status
            .success();
        assert!(Instant::now() < deadline, "send refused");
    }
    let mut out = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until && !seen.contains("[delivered]") {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
        seen
    });
    let seen = reader.join().unwrap();
    let _ = follower.kill();
    let _ = follower.wait();
    stop(db);
    stop(da);
    assert!(
        seen.contains("[sent]") || seen.contains("[in mailbox]"),
        "{seen}"
    );
    assert!(seen.contains("[delivered]"), "{seen}");
}

/// `peers` (issue #17): two daemons that talk show each other connected,
/// named, with a round-trip time, endpoints and the direct path; `--watch`
/// on a pipe prints successive snapshots, one JSON object per line with
/// `--json`.
#[test]
fn peers_shows_the_other_daemon_connected_with_rtt_and_endpoints() {
    let JoinedPair {
        _tmp,
        a,
        b,
        da,
        db,
        listen_a,
        addr_a,
        addr_b,
    } = joined_pair();
    // b joined through a: each sees the other connected.
    let connected = |data: &Path, address: &str| -> Option<serde_json::Value> {
        let o = tacnode(data, &["--json", "peers"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["kind"], "peers", "{v}");
        v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["address"] == address && p["connected"] == true)
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let bravo = loop {
        if let Some(p) = connected(&a, &addr_b) {
            break p;
        }
        assert!(Instant::now() < deadline, "b never showed as connected");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(bravo["name"], "bravo", "{bravo}");
    assert_eq!(bravo["node_type"], "server", "{bravo}");
    assert_eq!(bravo["path"], "direct", "{bravo}");
    assert!(bravo["rtt_us"].as_u64().is_some(), "{bravo}");
    assert!(bravo["last_seen_ms"].as_u64().is_some(), "{bravo}");
    assert_eq!(bravo["node_id"].as_str().unwrap().len(), 64, "{bravo}");
    let endpoints = bravo["endpoints"].as_array().unwrap();
    assert!(
        endpoints
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("127.0.0.1:")),
        "{bravo}"
    );
    // From b, a is a stranger shown by its address, at the address it
    // listens on.
    let alpha = connected(&b, &addr_a).unwrap();
    assert!(alpha["name"].is_null(), "{alpha}");
    assert!(alpha["rtt_us"].as_u64().is_some(), "{alpha}");
    assert!(
        alpha["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == listen_a.as_str()),
        "{alpha}"
    );
    // The table names the contact and its state.
    let o = tacnode(&a, &["peers"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().find(|l| l.starts_with("bravo")).unwrap();
    assert!(
        line.contains("server") && line.contains("connected") && line.contains(" ms"),
        "{text}"
    );
    assert!(
        line.contains("direct") && line.contains("127.0.0.1:"),
        "{text}"
    );
    // --watch on a pipe: snapshots one after the other, until stopped.
    let snapshots = watch_output(&a, &["peers", "--watch"], |out| {
        out.matches(" in the routing table, ").count() >= 2
    });
    assert!(
        snapshots.matches("\nbravo ").count() >= 2 && !snapshots.contains('\x1b'),
        "{snapshots}"
    );
    let lines = watch_output(&a, &["--json", "peers", "--watch"], |out| {
        out.lines().count() >= 2
    });
    for l in lines.lines().take(2) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["kind"], "peers", "{l}");
    }
    stop(db);
    stop(da);
}

/// What `tacnode ARGS…` on `data` printed to a pipe once `enough` says so
/// (at most 30 s), then it is killed.
fn watch_output(data: &Path, args: &[&str], enough: fn(&str) -> bool) -> String {
    use std::io::Read as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tacnode"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !enough(&seen.lock().unwrap()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Still running: it stops only when told.
    assert!(child.try_wait().unwrap().is_none(), "it stopped by itself");
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap();
    let out = seen.lock().unwrap().clone();
    assert!(enough(&out), "{out}");
    out
}

/// The shell completions and the manual page shipped in deploy/ (and the
/// Debian package) are what this build generates (issue #17). After a CLI
/// change, regenerate them as deploy/completions/README.md says.
#[test]
fn shipped_completions_and_manual_match_the_cli() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let tmp = tempfile::tempdir().unwrap();
    for (args, file) in [
        (&["completions", "bash"][..], "completions/tacnode.bash"),
        (&["completions", "zsh"], "completions/_tacnode"),
        (&["completions", "fish"], "completions/tacnode.fish"),
        (&["man"], "man/tacnode.1"),
    ] {
        let o = tacnode(tmp.path(), args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let shipped = std::fs::read(root.join(file)).unwrap();
        assert!(
            o.stdout == shipped,
            "deploy/{file} is out of date: regenerate it (deploy/completions/README.md)"
        );
    }
}

/// A data dir with an identity (passphrase "pw"): the temporary root, the
/// data dir and the passphrase file.
fn initialised() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pass = write(tmp.path(), "pass", "pw\n");
    let o = tacnode(
        &data,
        &["init", "--passphrase-file", pass.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    (tmp, data, pass)
}

/// Polls `cmd` on `data` until its standard output contains `want`, at
/// most 60 s; the last output.
fn eventually_prints(data: &Path, cmd: &[&str], want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let o = tacnode(data, cmd);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if out.contains(want) || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Team channels from the command line (issue #15): a group created on
/// one daemon, the other added, texts both ways with `send @NAME`, group
/// lines in the inbox, announcements and services, and each mistake
/// refused with what to do.
#[test]
fn groups_and_announcements_from_the_command_line() {
    let JoinedPair {
        _tmp,
        a,
        b,
        da,
        db,
        addr_a,
        ..
    } = joined_pair();
    let created = tacnode(&a, &["group", "create", "squad"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let listed = String::from_utf8_lossy(&created.stdout).into_owned();
    assert!(
        listed.contains("@squad") && listed.contains("admin"),
        "{listed}"
    );
    let again = tacnode(&a, &["group", "create", "squad"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );
    for args in [
        &["group", "members", "nosuch"][..],
        &["send", "@nosuch", "hi"],
    ] {
        let o = tacnode(&a, args);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            stderr(&o).contains("unknown group"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let at = tacnode(&a, &["contacts", "add", "@x", &addr_a]);
    assert!(!at.status.success());
    assert!(stderr(&at).contains("@NAME is a group"), "{}", stderr(&at));
    let alpha = tacnode(&b, &["contacts", "add", "alpha", &addr_a]);
    assert!(alpha.status.success(), "{}", stderr(&alpha));
    let added = tacnode(&a, &["group", "add", "squad", "bravo"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let joined = eventually_prints(&b, &["group", "list"], "@squad");
    assert!(joined.contains("member"), "{joined}");
    let members = eventually_prints(&b, &["group", "members", "squad"], "admin");
    assert!(members.contains("(this node)"), "{members}");
    let sent = tacnode(&b, &["send", "@squad", "hello-from-b"]);
    assert!(sent.status.success(), "{}", stderr(&sent));
    let inbox = eventually_prints(&a, &["inbox"], "hello-from-b");
    assert!(inbox.contains("@squad [received] hello-from-b"), "{inbox}");
    let not_admin = tacnode(&b, &["group", "remove", "squad", &addr_a]);
    assert!(!not_admin.status.success());
    assert!(
        stderr(&not_admin).contains("not an admin"),
        "{}",
        stderr(&not_admin)
    );
    let alert = tacnode(&a, &["announce", "gas at grid 4417"]);
    assert!(alert.status.success(), "{}", stderr(&alert));
    let advertised = tacnode(
        &a,
        &[
            "announce",
            "--service",
            "medic",
            "--detail",
            "at the bridge",
        ],
    );
    assert!(advertised.status.success(), "{}", stderr(&advertised));
    let services = eventually_prints(&b, &["services"], "medic");
    assert!(services.contains("at the bridge"), "{services}");
    stop(db);
    stop(da);
}
