//! Field testbed: real `tacnode run` daemons in network namespaces
//! (deploy/testbed/testbed.sh), talked to through their control sockets with
//! the `tacnode` CLI.
//!
//! Needs root, iproute2 and nftables (`.ci/testbed-deps`); tcpdump for the
//! capture tests; python3 for the radio profile. When `CI=true` a missing
//! prerequisite fails the test; elsewhere the test is skipped with a reason.
//! Tests run one at a time (a global lock): each builds and tears down its
//! own testbed under a unique namespace prefix.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// One testbed at a time: they share two cores.
static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `Some(reason)` when the testbed cannot run here; on CI that is a failure.
fn prerequisites(tools: &[&str]) -> Option<String> {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root".to_string());
    }
    for t in tools {
        if !have(t) {
            missing.push((*t).to_string());
        }
    }
    if missing.is_empty() {
        return None;
    }
    let reason = format!(
        "testbed needs {} (run as root; tools: .ci/testbed-deps)",
        missing.join(", ")
    );
    assert!(!on_ci(), "CI=true but {reason}");
    Some(reason)
}

/// The `tacnode` binary of this build profile, built if missing or stale
/// (the tests crate does not depend on the binary target).
fn tacnode_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TACNODE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/testbed-… → target/<profile>
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        // With the tests package selected too, features unify as in
        // `cargo test`, so neither build invalidates the other.
        .args([
            "build",
            "--quiet",
            "-p",
            "tacnode",
            "-p",
            "tacnode-tests",
            "--bins",
        ]);
    if release {
        cmd.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let st = cmd.status().expect("running cargo build -p tacnode");
    assert!(st.success(), "cargo build -p tacnode failed");
    let bin = profile_dir.join("tacnode");
    assert!(bin.exists(), "no tacnode binary at {}", bin.display());
    bin
}

/// A running testbed; torn down on drop, also when the test panics.
struct Testbed {
    prefix: String,
    bin: PathBuf,
}

impl Testbed {
    fn script() -> PathBuf {
        workspace_root().join("deploy/testbed/testbed.sh")
    }

    fn up(hosts: usize, profile: &str) -> Self {
        Self::up_with(hosts, profile, &[])
    }

    /// [`Testbed::up`] with extra environment for `testbed.sh up`.
    fn up_with(hosts: usize, profile: &str, env: &[(&str, &str)]) -> Self {
        let bin = tacnode_bin();
        let prefix = format!(
            "t{}x{}",
            std::process::id() % 100_000,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tb = Self { prefix, bin };
        // Leftovers of a crashed run with the same prefix.
        let _ = tb.script_output(&["down"]);
        let out = tb
            .command()
            .args(["up", &hosts.to_string(), profile])
            .envs(env.iter().copied())
            .output()
            .expect("running testbed.sh");
        assert!(
            out.status.success(),
            "testbed up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        tb
    }

    fn command(&self) -> Command {
        let mut c = Command::new("bash");
        c.arg(Self::script())
            .args(["-p", &self.prefix, "-b"])
            .arg(&self.bin);
        c
    }

    fn script_output(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .output()
            .expect("running testbed.sh")
    }

    /// Runs a testbed command that must succeed; returns its stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = self.script_output(args);
        assert!(
            out.status.success(),
            "testbed {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn state(&self) -> PathBuf {
        PathBuf::from(format!("/tmp/tacnode-testbed-{}", self.prefix))
    }

    fn data_dir(&self, i: usize) -> PathBuf {
        self.state().join(format!("n{i}"))
    }

    /// `tacnode --data-dir <node i> ARGS` (the control socket is a path, so
    /// no namespace is needed).
    fn cli(&self, i: usize, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--data-dir")
            .arg(self.data_dir(i))
            .args(args)
            .output()
            .expect("running tacnode")
    }

    fn address(&self, i: usize) -> String {
        std::fs::read_to_string(self.state().join(format!("n{i}.addr")))
            .unwrap()
            .trim()
            .to_string()
    }

    fn pid(&self, i: usize) -> Option<u32> {
        std::fs::read_to_string(self.state().join(format!("n{i}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn add_contacts(&self, from: usize, to: impl IntoIterator<Item = usize>) {
        for j in to {
            let out = self.cli(
                from,
                &["contacts", "add", &format!("n{j}"), &self.address(j)],
            );
            assert!(out.status.success(), "contacts add: {out:?}");
        }
    }

    /// `true` when the daemon accepted (queued) the message.
    fn send(&self, from: usize, to: usize, text: &str) -> bool {
        let out = self.cli(from, &["send", &format!("n{to}"), text]);
        out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("queued ")
    }

    /// Texts received by node `i` (texts contain no spaces).
    fn received(&self, i: usize) -> Vec<String> {
        let out = self.cli(i, &["inbox"]);
        assert!(out.status.success(), "inbox of node {i}: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(" <- "))
            .filter_map(|l| l.split_once("] ").map(|(_, t)| t.to_string()))
            .collect()
    }

    /// Starts a capture of `filter` on `iface` in `ns` (`hub` or a host
    /// number); returns once tcpdump listens.
    fn capture(&self, ns: &str, iface: &str, filter: &str, file: &Path) -> Child {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &format!("{}-{ns}", self.prefix)])
            .args(["tcpdump", "-i", iface, "-U", "-s", "0", "-w"])
            .arg(file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump");
        // tcpdump prints "listening on …" once the capture is live.
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read as _;
            let mut buf = [0u8; 256];
            let mut seen = Vec::new();
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&seen).contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("tcpdump did not start");
        child
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let out = self.script_output(&["down"]);
        if !out.status.success() {
            eprintln!(
                "testbed down failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Stops a capture started by [`Testbed::capture`] and flushes its file.
fn stop_capture(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// UDP payloads of a classic pcap file of Ethernet frames:
/// (source ip, destination ip, payload length).
fn udp_payloads(pcap: &[u8]) -> Vec<([u8; 4], [u8; 4], usize)> {
    udp_datagrams(pcap)
        .into_iter()
        .map(|(s, d, len, _)| (s, d, len))
        .collect()
}

/// Each UDP datagram of a pcap: source, destination, payload length and
/// whether it starts with a QUIC long header (a handshake packet).
fn udp_datagrams(pcap: &[u8]) -> Vec<([u8; 4], [u8; 4], usize, bool)> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = &pcap[off + 16..(off + 16 + incl).min(pcap.len())];
        off += 16 + incl;
        if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &frame[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 17 || ip.len() < ihl + 8 {
            continue;
        }
        let udp_len = usize::from(u16::from_be_bytes([ip[ihl + 4], ip[ihl + 5]]));
        out.push((
            ip[12..16].try_into().unwrap(),
            ip[16..20].try_into().unwrap(),
            udp_len.saturating_sub(8),
            ip.get(ihl + 8).is_some_and(|b| b & 0x80 != 0),
        ));
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Polls until every node in `expected` received exactly its texts (no loss)
/// or `timeout` passes; then asserts no text was received twice.
fn wait_all_received(
    tb: &Testbed,
    expected: &BTreeMap<usize, Vec<String>>,
    timeout: Duration,
) -> Duration {
    let start = Instant::now();
    let mut missing: Vec<(usize, String)>;
    // When each text was first seen, for the report of the slowest ones.
    let mut seen: HashMap<String, Duration> = HashMap::new();
    loop {
        missing = Vec::new();
        for (&node, texts) in expected {
            let got = tb.received(node);
            for t in texts {
                if got.contains(t) {
                    seen.entry(t.clone()).or_insert_with(|| start.elapsed());
                } else {
                    missing.push((node, t.clone()));
                }
            }
        }
        if missing.is_empty() || start.elapsed() > timeout {
            break;
        }
        sleep(Duration::from_millis(500));
    }
    let took = start.elapsed();
    let mut slowest: Vec<_> = seen.into_iter().collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
    let slowest: Vec<String> = slowest
        .iter()
        .take(8)
        .map(|(t, d)| format!("{t} {:.1} s", d.as_secs_f64()))
        .collect();
    println!("last delivered: {}", slowest.join(", "));
    assert!(
        missing.is_empty(),
        "after {took:?}, {} messages not delivered, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    for &node in expected.keys() {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for t in tb.received(node) {
            *counts.entry(t).or_default() += 1;
        }
        let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
        assert!(dups.is_empty(), "node {node} received duplicates: {dups:?}");
    }
    took
}

macro_rules! testbed_or_skip {
    ($($tool:expr),*) => {{
        let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reason) = prerequisites(&["ip", "nft", "tc" $(, $tool)*]) {
            eprintln!("skipped: {reason}");
            return;
        }
        guard
    }};
}

/// #18's target for [`radio_eight_hosts_all_to_all_delivered_once`]: all
/// 56 messages delivered this long after the first send.
const RADIO_ALL_TO_ALL_TARGET: Duration = Duration::from_secs(20);
/// How long that test waits for the messages before it gives up on them:
/// past the target, so a failure says how far over it was.
const RADIO_ALL_TO_ALL_WAIT: Duration = Duration::from_secs(240);

/// (a) Eight hosts on the radio profile (64 kbit/s, 150 ms ± 30 ms one way,
/// 5 % loss); every host messages every other one, and every message
/// arrives once, all within [`RADIO_ALL_TO_ALL_TARGET`] of the first send.
#[test]
fn radio_eight_hosts_all_to_all_delivered_once() {
    let _g = testbed_or_skip!("python3");
    const N: usize = 8;
    let tb = Testbed::up(N, "radio");
    for i in 1..=N {
        tb.add_contacts(i, (1..=N).filter(|&j| j != i));
    }
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let start = Instant::now();
    for i in 1..=N {
        for j in (1..=N).filter(|&j| j != i) {
            let text = format!("radio-{i}-to-{j}");
            assert!(tb.send(i, j, &text), "send {i}->{j} not accepted");
            expected.entry(j).or_default().push(text);
        }
    }
    let sending = start.elapsed();
    wait_all_received(&tb, &expected, RADIO_ALL_TO_ALL_WAIT);
    let took = start.elapsed();
    println!(
        "radio profile, {N} hosts, {} messages all to all: sent in {:.1} s, full delivery in {:.1} s",
        N * (N - 1),
        sending.as_secs_f64(),
        took.as_secs_f64()
    );
    assert!(
        took <= RADIO_ALL_TO_ALL_TARGET,
        "full delivery took {took:?}, over the target of {RADIO_ALL_TO_ALL_TARGET:?}"
    );
}

/// Fifty hosts on the LAN profile, every host a server with all the others
/// pre-shared; right after the start each host i writes to host i + 25:
/// all 50 first messages arrive within 10 s of the sends.
///
/// It failed (10 to 28 of 50 within 10 s) until the testbed raised the
/// kernel's neighbour-table limit: the table is shared by every namespace,
/// a 50-host mesh needs 2,450 entries, the default hard limit is 1,024, and
/// past it the kernel drops packets to peers it cannot resolve, so dials
/// between live hosts hung. The nodes were not at fault; this test now
/// keeps the testbed honest at its largest size.
#[test]
fn fifty_hosts_first_messages() {
    let _g = testbed_or_skip!();
    const N: usize = 50;
    let tb = Testbed::up(N, "lan");
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let start = Instant::now();
    for i in 1..=N {
        let j = (i - 1 + N / 2) % N + 1;
        tb.add_contacts(i, [j]);
        let text = format!("first-{i}-to-{j}");
        assert!(tb.send(i, j, &text), "send {i}->{j} not accepted");
        expected.entry(j).or_default().push(text);
    }
    let sending = start.elapsed();
    let took = wait_all_received(&tb, &expected, Duration::from_secs(10));
    println!(
        "{N} hosts, LAN profile: {N} first messages sent in {:.1} s, all delivered {:.1} s after the last send",
        sending.as_secs_f64(),
        took.as_secs_f64()
    );
}

/// (c) kill -9 one side in the middle of a 200-message exchange, restart it:
/// every message a `send` accepted arrives exactly once.
#[test]
fn kill_9_mid_exchange_loses_and_duplicates_nothing() {
    let _g = testbed_or_skip!();
    let tb = Testbed::up(4, "lan");
    tb.add_contacts(1, [2]);
    tb.add_contacts(2, [1]);
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut refused = 0;
    for k in 0..100 {
        if k == 50 {
            tb.run(&["kill", "2"]);
        }
        if k == 65 {
            tb.run(&["start", "2"]);
        }
        for (from, to) in [(1, 2), (2, 1)] {
            let text = format!("x-{from}-{to}-{k}");
            if tb.send(from, to, &text) {
                expected.entry(to).or_default().push(text);
            } else {
                refused += 1;
            }
        }
    }
    // Only node 2's sends while it was down may be refused.
    assert_eq!(refused, 15, "sends refused while the daemon was dead");
    let accepted: usize = expected.values().map(Vec::len).sum();
    assert_eq!(accepted, 185);
    let took = wait_all_received(&tb, &expected, Duration::from_secs(120));
    println!(
        "kill -9 and restart: {accepted} accepted messages delivered once, {took:?} after the last send"
    );
}

/// A host on the radio profile killed with `kill -9` while its peer keeps
/// queueing messages for it, then restarted: what waited for it arrives
/// within 10 s of its daemon answering again (#18).
#[test]
fn radio_kill_9_and_restart_delivers_the_queue_within_10_s() {
    let _g = testbed_or_skip!("python3");
    const AFTER_RESTART: Duration = Duration::from_secs(10);
    let tb = Testbed::up(4, "radio");
    tb.add_contacts(1, [2]);
    tb.add_contacts(2, [1]);
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (from, to) in [(1, 2), (2, 1)] {
        let text = format!("before-{from}-{to}");
        assert!(tb.send(from, to, &text), "send {from}->{to} not accepted");
        expected.entry(to).or_default().push(text);
    }
    wait_all_received(&tb, &expected, Duration::from_secs(120));
    tb.run(&["kill", "2"]);
    for k in 0..3 {
        sleep(Duration::from_secs(5));
        let text = format!("while-away-{k}");
        assert!(tb.send(1, 2, &text), "send 1->2 not accepted");
        expected.entry(2).or_default().push(text);
    }
    sleep(Duration::from_secs(5));
    let starting = Instant::now();
    tb.run(&["start", "2"]);
    let answering = Instant::now();
    let took = wait_all_received(&tb, &expected, Duration::from_secs(120));
    println!(
        "radio, kill -9 and restart after 20 s: the queue delivered {:.1} s after the daemon answered ({:.1} s after the start command)",
        took.as_secs_f64(),
        (took + answering.duration_since(starting)).as_secs_f64()
    );
    assert!(
        took <= AFTER_RESTART,
        "delivered {took:?} after the restart"
    );
}

/// (e) Nothing readable on the wire: neither a message text nor a textual
/// address appears in a capture of bootstrap, session setup and messages.
#[test]
fn no_plaintext_on_the_wire() {
    let _g = testbed_or_skip!("tcpdump");
    let tb = Testbed::up(3, "lan");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("wire.pcap");
    let cap = tb.capture("hub", "br0", "udp", &pcap);
    // Restart two nodes under capture so bootstrap and handshakes are seen too.
    tb.run(&["stop", "2"]);
    tb.run(&["stop", "3"]);
    tb.run(&["start", "2"]);
    tb.run(&["start", "3"]);
    tb.add_contacts(2, [3]);
    tb.add_contacts(3, [2]);
    let secret_a = "rally-at-checkpoint-three-SECRET-ALPHA";
    let secret_b = "copy-that-moving-now-SECRET-BRAVO";
    assert!(tb.send(2, 3, secret_a));
    assert!(tb.send(3, 2, secret_b));
    let expected = BTreeMap::from([
        (3, vec![secret_a.to_string()]),
        (2, vec![secret_b.to_string()]),
    ]);
    wait_all_received(&tb, &expected, Duration::from_secs(60));
    sleep(Duration::from_secs(1));
    stop_capture(cap);
    let bytes = std::fs::read(&pcap).unwrap();
    let packets = udp_payloads(&bytes);
    assert!(
        packets.len() > 10,
        "capture saw only {} packets",
        packets.len()
    );
    for needle in [secret_a, secret_b] {
        assert!(
            !contains(&bytes, needle.as_bytes()),
            "{needle:?} on the wire"
        );
    }
    for i in 1..=3 {
        let addr = tb.address(i);
        let b58 = addr.trim_start_matches("key_");
        assert!(
            !contains(&bytes, addr.as_bytes()),
            "address of node {i} on the wire"
        );
        assert!(
            !contains(&bytes, b58.as_bytes()),
            "base58 key of node {i} on the wire"
        );
    }
    println!(
        "captured {} UDP datagrams ({} bytes of pcap): no text, no textual address",
        packets.len(),
        bytes.len()
    );
}

/// Seconds of the day of a daemon log line's timestamp
/// (`2026-12-01T23:08:13.228131Z …`).
fn log_seconds(line: &str) -> Option<f64> {
    let time = line.get(11..26)?;
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The first line of node `i`'s log containing `needle`.
fn log_line(tb: &Testbed, i: usize, needle: &str) -> Option<String> {
    std::fs::read_to_string(tb.state().join(format!("n{i}.log")))
        .ok()?
        .lines()
        .find(|l| l.contains(needle))
        .map(str::to_string)
}

/// LAN discovery alone: two nodes on one segment, no pre-shared peer list,
/// find each other by their beacons and exchange a message (issue target:
/// a first message within 3 s of both running; the bound here is generous,
/// the figures are printed).
#[test]
fn lan_two_nodes_without_a_peer_list_find_each_other_and_exchange_a_message() {
    let _g = testbed_or_skip!();
    let tb = Testbed::up_with(2, "lan", &[("TESTBED_LAN_ONLY", "1")]);
    let config = std::fs::read_to_string(tb.state().join("n1.toml")).unwrap();
    assert!(
        config.contains("lan = true") && !config.contains("@10.77"),
        "not a LAN-only config: {config}"
    );
    tb.add_contacts(1, [2]);
    tb.add_contacts(2, [1]);
    let text = "found-you-on-the-segment";
    let sending = Instant::now();
    assert!(tb.send(1, 2, text), "send 1->2 not accepted");
    let expected = BTreeMap::from([(2, vec![text.to_string()])]);
    wait_all_received(&tb, &expected, Duration::from_secs(30));
    let delivered = sending.elapsed();
    // From the later daemon's start to the first node joining through a
    // peer it heard (their logs' clocks are one machine's).
    let started = log_line(&tb, 2, "tacnode running")
        .and_then(|l| log_seconds(&l))
        .expect("node 2 running");
    let joined = (1..=2)
        .filter_map(|i| log_line(&tb, i, "joined through a peer heard on the LAN"))
        .filter_map(|l| log_seconds(&l))
        .reduce(f64::min)
        .expect("no node joined through a peer heard on the LAN");
    let discovery = (joined - started).rem_euclid(86_400.0);
    println!(
        "LAN only: joined {:.0} ms after the second daemon started; the first message delivered {:.0} ms after it was sent",
        discovery * 1000.0,
        delivered.as_secs_f64() * 1000.0
    );
    assert!(discovery <= 10.0, "discovery took {discovery} s");
    assert!(delivered <= Duration::from_secs(10), "took {delivered:?}");
}

/// The deposits that the mailbox holders among nodes `holders` kept, as
/// each holder's log records them (who handed a deposit over, from which
/// address).
fn deposits_kept(tb: &Testbed, holders: impl IntoIterator<Item = usize>) -> Vec<String> {
    holders
        .into_iter()
        .flat_map(|i| {
            std::fs::read_to_string(tb.state().join(format!("n{i}.log")))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("mailbox deposit kept"))
                .map(|l| format!("n{i}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// (e, the holder view) With onion routing on: a mailbox holder takes a
/// deposit from the last relay of its path, never from its depositor. Node
/// 1 writes to node 7 while 7 is away; every deposit a holder kept (its own
/// record of it: the peer and the address that handed it over) came from
/// an address other than node 1's, and the capture of it all holds no
/// plaintext. In direct mode the same check fails: holders take deposits
/// from their depositors.
#[test]
fn onion_deposits_never_show_a_holder_their_depositors_address() {
    let _g = testbed_or_skip!("tcpdump");
    let tb = Testbed::up_with(
        7,
        "lan",
        &[
            ("TESTBED_PRIVACY", "onion"),
            (
                "TACNODE_TESTBED_LOG",
                "info,tacnode_usecase::node::serve=debug,tacnode_usecase::node::onion=debug",
            ),
        ],
    );
    tb.add_contacts(1, [7]);
    tb.add_contacts(7, [1]);
    // Node 7 published its prekeys and mailbox when it started; away now,
    // its mail goes to its mailboxes (through relays: three of nodes 2-6
    // for each copy, none the copy's holder).
    sleep(Duration::from_secs(3));
    tb.run(&["stop", "7"]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("holder.pcap");
    let cap = tb.capture("hub", "br0", "udp", &pcap);
    let secret = "hold-the-ridge-until-dawn-SECRET-CHARLIE";
    assert!(tb.send(1, 7, secret), "send 1->7 not accepted");
    // Node 1 says so once a first relay took each copy; then the copies
    // cross their relays' mixing delays.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(tb.state().join("n1.log"))
        .unwrap_or_default()
        .contains("deposited in the recipient's mailboxes")
    {
        assert!(
            Instant::now() < deadline,
            "node 1 did not deposit within 120 s"
        );
        sleep(Duration::from_secs(1));
    }
    sleep(Duration::from_secs(3));
    stop_capture(cap);
    let kept = deposits_kept(&tb, 1..=6);
    tb.run(&["start", "7"]);
    let expected = BTreeMap::from([(7, vec![secret.to_string()])]);
    wait_all_received(&tb, &expected, Duration::from_secs(120));
    assert!(!kept.is_empty(), "no holder kept a deposit");
    let sender = "addr=10.77.0.1:";
    for line in &kept {
        assert!(
            !line.contains(sender),
            "a holder took a deposit from its depositor: {line}"
        );
    }
    let bytes = std::fs::read(&pcap).unwrap();
    assert!(!contains(&bytes, secret.as_bytes()), "the text on the wire");
    println!(
        "{} deposit copies kept, none handed over by their depositor:\n{}",
        kept.len(),
        kept.join("\n")
    );
}

/// Every UDP payload byte of one 100-byte text on an established session,
/// both directions (the message, its answer, QUIC acknowledgements), LAN
/// profile: 777 B in 7 datagrams before direct deliveries stopped sending a
/// separate receipt; 397 B in 3 datagrams (422-424 B in 4, when the
/// recipient's QUIC stream-credit update goes on its own, 26 B) before the
/// compact message; 331-334 B in 3 before texts left their id out and
/// messages their nonce; now 289-291 B in 3, 314 B in 4. The issue's target
/// is 400 B.
const EXCHANGE_BUDGET: usize = 400;
/// The datagram carrying that text: 316 B before the compact message (64-byte
/// padding blocks, a 12-byte nonce, the protobuf ratchet header, the
/// DirectMessage wrapper), 251-252 B before texts left their derived id out
/// (18 B, and 14 B of padding with it), messages their nonce
/// (AES-256-GCM-SIV, 8 B) and direct deliveries their `SealedMessage` (3
/// B); now 208-209 B. The issue's target: 100 + 111 = 211 B (LXMF's
/// per-message overhead).
const MESSAGE_DATAGRAM_BUDGET: usize = 211;
/// Exchanges `wire_budget` measures; the cheapest counts.
const EXCHANGES_MEASURED: usize = 3;

/// The wire budget of one message (the per-message part of the radio
/// budget): fails when the exchange above costs more than
/// [`EXCHANGE_BUDGET`] or the datagram carrying the message more than
/// [`MESSAGE_DATAGRAM_BUDGET`].
#[test]
fn wire_budget() {
    let _g = testbed_or_skip!("tcpdump");
    // No mailbox fetches or keep-alives inside the measured window.
    let tb = Testbed::up_with(
        2,
        "lan",
        &[
            ("TESTBED_MAILBOX_FETCH_SECS", "3600"),
            ("TESTBED_KEEP_ALIVE_MS", "50000"),
        ],
    );
    tb.add_contacts(1, [2]);
    tb.add_contacts(2, [1]);
    // Establish the session both ways.
    assert!(tb.send(1, 2, "warm-up-1"));
    assert!(tb.send(2, 1, "warm-up-2"));
    let warm = BTreeMap::from([
        (2, vec!["warm-up-1".to_string()]),
        (1, vec!["warm-up-2".to_string()]),
    ]);
    wait_all_received(&tb, &warm, Duration::from_secs(60));
    sleep(Duration::from_secs(2));
    // The cheapest of a few exchanges: the protocol's cost. On a loaded
    // host the recipient may acknowledge the message on its own before its
    // answer is ready (QUIC's 25 ms acknowledgement delay), one datagram
    // more that says nothing about the protocol.
    let dir = tempfile::tempdir().unwrap();
    let mut cheapest = usize::MAX;
    let mut smallest_message = usize::MAX;
    for round in 0..EXCHANGES_MEASURED {
        let pcap = dir.path().join(format!("one-{round}.pcap"));
        let cap = tb.capture("h1", "eth0", "udp and host 10.77.0.2", &pcap);
        let text = format!("{round}{}", "m".repeat(99));
        let t0 = Instant::now();
        assert!(tb.send(1, 2, &text));
        let one = BTreeMap::from([(2, vec![text.clone()])]);
        wait_all_received(&tb, &one, Duration::from_secs(30));
        // Let the answer and the acknowledgements finish.
        sleep(Duration::from_millis(1500));
        stop_capture(cap);
        let took = t0.elapsed();
        let packets = udp_payloads(&std::fs::read(&pcap).unwrap());
        let h1 = [10, 77, 0, 1];
        let out: usize = packets.iter().filter(|p| p.0 == h1).map(|p| p.2).sum();
        let inb: usize = packets.iter().filter(|p| p.1 == h1).map(|p| p.2).sum();
        println!(
            "one 100-byte text on an established session: {} UDP datagrams, {out} bytes sender->recipient, {inb} bytes back (answer, acks), {} total in {took:?}",
            packets.len(),
            out + inb
        );
        for (s, d, len) in &packets {
            println!("  {s:?} -> {d:?} {len} bytes");
        }
        assert!(out >= 100, "the message itself is on the wire");
        let message = packets
            .iter()
            .filter(|p| p.0 == h1)
            .map(|p| p.2)
            .max()
            .unwrap_or(0);
        cheapest = cheapest.min(out + inb);
        smallest_message = smallest_message.min(message);
    }
    assert!(
        cheapest <= EXCHANGE_BUDGET,
        "one message cost at least {cheapest} bytes on the wire, over the budget of {EXCHANGE_BUDGET}"
    );
    assert!(
        smallest_message <= MESSAGE_DATAGRAM_BUDGET,
        "the datagram carrying the message took at least {smallest_message} bytes, over the budget of {MESSAGE_DATAGRAM_BUDGET}"
    );
}

/// Hosts of the network [`radio_idle_budget`] keeps idle.
const IDLE_HOSTS: usize = 8;
/// How long after the last daemon started the idle window opens: the joins
/// (bootstrap lookups, records published, first mailbox fetches) are over
/// by then (the simulator's warm-up).
const IDLE_WARM_UP: Duration = Duration::from_secs(120);
/// The idle window: #18 asks for 10 minutes in the testbed.
const IDLE_WINDOW: Duration = Duration::from_secs(600);
/// #18's idle budget: bytes an idle node sends per second, on average over
/// the window, UDP payloads (what the radio carries of each datagram past
/// its IP and UDP headers).
const IDLE_BUDGET_BYTES_PER_S: f64 = 50.0;

/// The idle budget on the radio: [`IDLE_HOSTS`] hosts on the radio profile
/// with the radio schedule (`deploy/radio.example.toml`) do nothing but
/// what a node does by itself for [`IDLE_WINDOW`] after joining, and every
/// UDP payload byte each one sends is counted; fails when a node sends
/// more than [`IDLE_BUDGET_BYTES_PER_S`] on average.
#[test]
fn radio_idle_budget() {
    let _g = testbed_or_skip!("tcpdump", "python3");
    let tb = Testbed::up_with(IDLE_HOSTS, "radio", &[("TESTBED_SCHEDULE", "radio")]);
    sleep(IDLE_WARM_UP);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("idle.pcap");
    // On the hub's bridge every datagram a host sends is seen once as it
    // leaves the host (then once more from the delay relay, at 10.77.1.x).
    let cap = tb.capture("hub", "br0", "udp and src net 10.77.0.0/24", &pcap);
    let t0 = Instant::now();
    sleep(IDLE_WINDOW);
    stop_capture(cap);
    let window = t0.elapsed().as_secs_f64();
    let mut sent: BTreeMap<usize, (usize, usize)> = (1..=IDLE_HOSTS).map(|i| (i, (0, 0))).collect();
    for (src, _, len) in udp_payloads(&std::fs::read(&pcap).unwrap()) {
        if src[..3] == [10, 77, 0]
            && let Some(n) = sent.get_mut(&usize::from(src[3]))
        {
            n.0 += 1;
            n.1 += len;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let per_s = |bytes: usize| bytes as f64 / window;
    for (i, (datagrams, bytes)) in &sent {
        println!(
            "  host {i}: {datagrams} datagrams, {bytes} bytes, {:.1} B/s",
            per_s(*bytes)
        );
    }
    let total: usize = sent.values().map(|n| n.1).sum();
    #[allow(clippy::cast_precision_loss)]
    let average = per_s(total) / IDLE_HOSTS as f64;
    let worst = sent.values().map(|n| per_s(n.1)).fold(0.0, f64::max);
    println!(
        "radio profile and schedule, {IDLE_HOSTS} hosts idle for {window:.0} s after joining: {average:.1} B/s per node on average (UDP payloads sent), the busiest {worst:.1} B/s"
    );
    assert!(
        average <= IDLE_BUDGET_BYTES_PER_S,
        "an idle node sent {average:.1} B/s on average, over the budget of {IDLE_BUDGET_BYTES_PER_S}"
    );
}

/// Bytes of one QUIC handshake between two nodes (what a dial costs; the
/// simulator charges it per dial): the connection closes after a short
/// linger time, and the next message dials again. Prints every datagram;
/// the long-header ones (Initial, Handshake) are the handshake. With MTU
/// discovery on (the LAN default) each end also sends probes of 1,326 to
/// 1,452 bytes; the radio schedule turns them off, as here.
#[test]
fn wire_bytes_of_a_handshake() {
    let _g = testbed_or_skip!("tcpdump");
    let tb = Testbed::up_with(
        2,
        "lan",
        &[
            ("TESTBED_MAILBOX_FETCH_SECS", "3600"),
            ("TESTBED_KEEP_ALIVE_MS", "1000"),
            ("TESTBED_LINGER_MS", "3000"),
            ("TESTBED_MTU_DISCOVERY", "false"),
        ],
    );
    tb.add_contacts(1, [2]);
    tb.add_contacts(2, [1]);
    assert!(tb.send(1, 2, "warm-up"));
    let warm = BTreeMap::from([(2, vec!["warm-up".to_string()])]);
    wait_all_received(&tb, &warm, Duration::from_secs(60));
    // Past the linger time (and its second round): the connection is closed.
    sleep(Duration::from_secs(8));
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("dial.pcap");
    let cap = tb.capture("h1", "eth0", "udp and host 10.77.0.2", &pcap);
    assert!(tb.send(1, 2, "after the linger time"));
    let one = BTreeMap::from([(2, vec!["after the linger time".to_string()])]);
    wait_all_received(&tb, &one, Duration::from_secs(30));
    sleep(Duration::from_millis(1500));
    stop_capture(cap);
    let packets = udp_datagrams(&std::fs::read(&pcap).unwrap());
    let h1 = [10, 77, 0, 1];
    let long = |from_h1: bool| -> (usize, usize) {
        let sel: Vec<usize> = packets
            .iter()
            .filter(|p| p.3 && (p.0 == h1) == from_h1)
            .map(|p| p.2)
            .collect();
        (sel.len(), sel.iter().sum())
    };
    let (out_n, out_b) = long(true);
    let (in_n, in_b) = long(false);
    println!(
        "a dial: {out_n} handshake datagrams, {out_b} bytes from the dialler; {in_n}, {in_b} bytes back; {} datagrams in all",
        packets.len()
    );
    for (s, d, len, long) in &packets {
        println!(
            "  {s:?} -> {d:?} {len} bytes{}",
            if *long { " (long header)" } else { "" }
        );
    }
    assert!(
        out_n > 0 && in_n > 0,
        "no handshake seen: the connection did not close"
    );
    // Without MTU probes nothing goes above the 1,200-byte initial size.
    assert!(
        packets.iter().all(|p| p.2 <= 1200),
        "a datagram above 1,200 bytes: MTU probes are on"
    );
}

/// (b) Two halves cut apart; messages across the cut are delivered after the
/// cut heals (directly or through mailboxes).
#[test]
fn partition_then_heal_delivers_across_the_cut() {
    let _g = testbed_or_skip!();
    const N: usize = 8;
    let tb = Testbed::up(N, "lan");
    for i in 1..=N {
        tb.add_contacts(i, (1..=N).filter(|&j| j != i));
    }
    tb.run(&["partition", "1 2 3 4", "5 6 7 8"]);
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (from, to) in [
        (1, 5),
        (2, 6),
        (3, 7),
        (4, 8),
        (5, 1),
        (6, 2),
        (7, 3),
        (8, 4),
    ] {
        for k in 0..3 {
            let text = format!("cut-{from}-{to}-{k}");
            assert!(tb.send(from, to, &text));
            expected.entry(to).or_default().push(text);
        }
    }
    // Past deposit_after_ms (5 s): the senders fall back to mailboxes.
    sleep(Duration::from_secs(10));
    for (&to, texts) in &expected {
        let got = tb.received(to);
        assert!(
            texts.iter().all(|t| !got.contains(t)),
            "node {to} got a message across the cut"
        );
    }
    tb.run(&["heal"]);
    let took = wait_all_received(&tb, &expected, Duration::from_secs(90));
    println!("partition healed: 24 messages across the cut delivered {took:?} after the heal");
}

/// A `Vm…:` line of /proc/PID/status in KiB (VmRSS now, VmHWM peak).
fn vm_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// (d) A flood of junk datagrams at one node: it keeps serving its peers and
/// its control socket, and its memory stays bounded.
#[test]
fn junk_flood_keeps_node_serving_with_bounded_memory() {
    let _g = testbed_or_skip!("python3");
    let tb = Testbed::up(4, "lan");
    let victim = 1;
    let pid = tb.pid(victim).unwrap();
    for i in 2..=3 {
        tb.add_contacts(i, [victim]);
    }
    tb.add_contacts(victim, [2, 3]);
    let rss_before = vm_kib(pid, "VmRSS:");
    // Junk from host 4: random datagrams, half made to look like QUIC long
    // headers (Initial), as fast as one Python process goes, for 20 s.
    let flood = r#"
import os, random, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 20
n = 0
while time.time() < end:
    size = random.choice([1, 20, 600, 1200, 1350, 1500])
    b = bytearray(os.urandom(size))
    if n % 2 == 0 and size >= 20:
        b[0] = 0xC0 | (b[0] & 0x0F); b[1:5] = b'\x00\x00\x00\x01'
    try:
        s.sendto(bytes(b), ("10.77.0.1", 4500))
    except OSError:
        pass
    n += 1
print(n)
"#;
    let flooder = Command::new("bash")
        .arg(Testbed::script())
        .args(["-p", &tb.prefix, "-b"])
        .arg(&tb.bin)
        .args(["exec", "4", "python3", "-c", flood])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    sleep(Duration::from_secs(2));
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut worst_status = Duration::ZERO;
    let mut rss_max = 0;
    for k in 0..10 {
        for (from, to) in [(2, victim), (3, victim), (victim, 2)] {
            let text = format!("flood-{from}-{to}-{k}");
            assert!(
                tb.send(from, to, &text),
                "send {from}->{to} refused under flood"
            );
            expected.entry(to).or_default().push(text);
        }
        rss_max = rss_max.max(vm_kib(pid, "VmRSS:"));
        let t = Instant::now();
        let st = tb.cli(victim, &["status"]);
        worst_status = worst_status.max(t.elapsed());
        assert!(st.status.success(), "control socket failed under flood");
        sleep(Duration::from_secs(1));
    }
    let took = wait_all_received(&tb, &expected, Duration::from_secs(60));
    let out = flooder.wait_with_output().unwrap();
    let sent: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    rss_max = rss_max.max(vm_kib(pid, "VmRSS:"));
    // VmHWM includes the 64 MiB Argon2id derivation of the keystore unlock.
    let hwm = vm_kib(pid, "VmHWM:");
    println!(
        "junk flood: {sent} datagrams in 20 s; 30 messages delivered ({took:?} after the last); \
         slowest status {worst_status:?}; RSS before {rss_before} KiB, max during the flood \
         {rss_max} KiB; VmHWM {hwm} KiB (includes the keystore's Argon2id)"
    );
    assert!(
        sent > 10_000,
        "the flood was too weak to mean anything: {sent}"
    );
    assert!(
        rss_max < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_max} KiB under the flood"
    );
}

/// Node `i`'s `status` line about reachability.
fn reach_line(tb: &Testbed, i: usize) -> String {
    let out = tb.cli(i, &["status"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("reach:"))
        .unwrap_or_default()
        .to_string()
}

/// Three public servers (hosts 1 to 3) and two client laptops behind NATs
/// of the kinds given (host 4 and host 5, each on a LAN of its own): both
/// find out that nobody can dial them, reserve at a relay, and then
/// exchange ten messages each way through the relays. Mailbox fetches are
/// ten minutes apart here, so only a relay delivers within the bounds.
fn nat_pair(kind_4: &str, kind_5: &str) {
    let nat = format!("4:{kind_4} 5:{kind_5}");
    let started = Instant::now();
    let tb = Testbed::up_with(
        5,
        "lan",
        &[
            ("TESTBED_NAT", nat.as_str()),
            ("TESTBED_MAILBOX_FETCH_SECS", "600"),
        ],
    );
    let up = started.elapsed();
    // Both daemons run: the first message goes at once (its sender looks
    // the recipient's record up, which names a relay as soon as the
    // recipient joined and found peers see it elsewhere).
    let online = Instant::now();
    tb.add_contacts(4, [5]);
    tb.add_contacts(5, [4]);
    assert!(tb.send(4, 5, "first-through-the-relay"), "send 4->5");
    while !tb
        .received(5)
        .iter()
        .any(|t| t == "first-through-the-relay")
    {
        assert!(
            online.elapsed() < Duration::from_secs(30),
            "the first message not delivered within 30 s"
        );
        sleep(Duration::from_millis(20));
    }
    let first_took = online.elapsed();
    let relayed = |i: usize| {
        let line = reach_line(&tb, i);
        line.contains("PRIVATE") && line.contains("called through relay")
    };
    while !(relayed(4) && relayed(5)) {
        assert!(
            online.elapsed() < Duration::from_secs(30),
            "no relay after 30 s: {} / {}",
            reach_line(&tb, 4),
            reach_line(&tb, 5)
        );
        sleep(Duration::from_millis(100));
    }
    let relay_ready = online.elapsed();
    for (i, kind) in [(4, kind_4), (5, kind_5)] {
        let line = reach_line(&tb, i);
        println!("host {i} ({kind}): {line}");
        if kind == "eim" {
            // One mapping for every peer, the host's own port kept.
            assert!(
                line.contains(&format!("seen at 10.77.0.{i}:4500")),
                "{line}"
            );
        } else {
            // A mapping per peer: no two agree, nothing is published.
            assert!(line.contains("not agreed by peers yet"), "{line}");
        }
    }
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for k in 0..10 {
        for (from, to) in [(4, 5), (5, 4)] {
            let text = format!("nat-{from}-to-{to}-{k}");
            assert!(tb.send(from, to, &text), "send {from}->{to}");
            expected.entry(to).or_default().push(text);
        }
    }
    expected
        .entry(5)
        .or_default()
        .push("first-through-the-relay".into());
    let all_took = wait_all_received(&tb, &expected, Duration::from_secs(20));
    println!(
        "NAT {kind_4} <-> {kind_5}: testbed up in {:.1} s; from both daemons running, \
         first message delivered in {:.0} ms (polled every 20 ms, contacts added first), \
         both found private by a dial-back, with a relay, in {:.1} s; 20 more in {:.1} s",
        up.as_secs_f64(),
        first_took.as_secs_f64() * 1000.0,
        relay_ready.as_secs_f64(),
        all_took.as_secs_f64()
    );
    assert!(first_took <= Duration::from_secs(10), "{first_took:?}");
    // Hole punching: only between two endpoint-independent NATs (a
    // symmetric NAT's node has no agreed address and refuses); a pair that
    // cannot punch keeps the relay, which delivered everything above.
    sleep(Duration::from_secs(3));
    let punched: usize = [4, 5].iter().map(|&i| punches(&tb, i).0.len()).sum();
    println!("NAT {kind_4} <-> {kind_5}: {punched} hole punches succeeded");
    if kind_4 == "eim" && kind_5 == "eim" {
        assert!(punched >= 1, "no direct connection between two eim NATs");
    } else {
        assert_eq!(punched, 0, "punched through a symmetric NAT?");
    }
}

#[test]
fn nat_endpoint_independent_pair_relayed_then_punched() {
    let _g = testbed_or_skip!();
    nat_pair("eim", "eim");
}

#[test]
fn nat_endpoint_independent_to_symmetric_through_a_relay() {
    let _g = testbed_or_skip!();
    nat_pair("eim", "sym");
}

#[test]
fn nat_symmetric_to_symmetric_through_a_relay() {
    let _g = testbed_or_skip!();
    nat_pair("sym", "sym");
}

/// The peers node `i` punched a direct connection to, and how many punches
/// it saw fail, from its log.
fn punches(tb: &Testbed, i: usize) -> (Vec<String>, usize) {
    let log = std::fs::read_to_string(tb.state().join(format!("n{i}.log"))).unwrap_or_default();
    let punched = log
        .lines()
        .filter(|l| l.contains("hole punched"))
        .filter_map(|l| l.split("peer=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    let failed = log
        .lines()
        .filter(|l| l.contains("hole punch failed"))
        .count();
    (punched, failed)
}

/// Hole punching between endpoint-independent NATs: three public servers
/// and eight laptops, each behind a NAT of its own. Every laptop writes to
/// every other (through the relays first); each pair punches a direct
/// connection at the first try; then the servers (relays and mailbox
/// holders) are killed, and every laptop writes to every other again:
/// only the punched connections are left to carry those.
#[test]
fn nat_endpoint_independent_laptops_punch_direct_connections() {
    let _g = testbed_or_skip!();
    const SERVERS: usize = 3;
    const LAPTOPS: usize = 8;
    let nat: Vec<String> = (SERVERS + 1..=SERVERS + LAPTOPS)
        .map(|i| format!("{i}:eim"))
        .collect();
    let nat = nat.join(" ");
    let tb = Testbed::up_with(
        SERVERS + LAPTOPS,
        "lan",
        &[
            ("TESTBED_NAT", nat.as_str()),
            ("TESTBED_MAILBOX_FETCH_SECS", "600"),
            (
                "TACNODE_TESTBED_LOG",
                "info,tacnode_usecase::node::hole_punch=debug",
            ),
        ],
    );
    let laptops: Vec<usize> = (SERVERS + 1..=SERVERS + LAPTOPS).collect();
    let waiting = Instant::now();
    while !laptops
        .iter()
        .all(|&i| reach_line(&tb, i).contains("called through relay"))
    {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "no relays after 60 s"
        );
        sleep(Duration::from_millis(200));
    }
    for &i in &laptops {
        tb.add_contacts(i, laptops.iter().copied().filter(|&j| j != i));
    }
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for &from in &laptops {
        for &to in &laptops {
            if from != to {
                let text = format!("relayed-{from}-to-{to}");
                assert!(tb.send(from, to, &text), "send {from}->{to}");
                expected.entry(to).or_default().push(text);
            }
        }
    }
    wait_all_received(&tb, &expected, Duration::from_secs(60));
    // Punches run in the background after the first relayed call.
    let pairs = LAPTOPS * (LAPTOPS - 1) / 2;
    let punched_pairs = || {
        let mut set = std::collections::BTreeSet::new();
        let mut failed = 0;
        for &i in &laptops {
            let (punched, f) = punches(&tb, i);
            failed += f;
            for peer in punched {
                set.insert((i, peer));
            }
        }
        (set, failed)
    };
    let settle = Instant::now();
    let (mut punched, mut failed) = punched_pairs();
    while punched.len() < pairs && settle.elapsed() < Duration::from_secs(20) {
        sleep(Duration::from_millis(500));
        (punched, failed) = punched_pairs();
    }
    // A pair whose ends both started a punch counts once per end; each
    // end's punch is an attempt of its own.
    println!(
        "hole punching, {LAPTOPS} laptops behind endpoint-independent NATs: {} punches succeeded, {failed} failed ({pairs} pairs)",
        punched.len()
    );
    assert!(
        punched.len() >= pairs,
        "fewer punches than pairs: {}",
        punched.len()
    );
    assert_eq!(failed, 0, "failed punches");
    for i in 1..=SERVERS {
        tb.run(&["kill", &i.to_string()]);
    }
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for &from in &laptops {
        for &to in &laptops {
            if from != to {
                let text = format!("direct-{from}-to-{to}");
                assert!(tb.send(from, to, &text), "send {from}->{to}");
                expected.entry(to).or_default().push(text);
            }
        }
    }
    let took = wait_all_received(&tb, &expected, Duration::from_secs(30));
    println!(
        "with every server killed: {} messages over the punched connections in {:.1} s",
        LAPTOPS * (LAPTOPS - 1),
        took.as_secs_f64()
    );
}

/// An address change mid-conversation: two laptops behind endpoint-
/// independent NATs talk (through relays, then over a punched
/// connection); one laptop's network changes (its router's public address
/// moves, and the NAT forgets its mappings). Every message of the
/// conversation arrives once, those sent after the change within seconds,
/// and the moved laptop's record comes to name its new address.
#[test]
fn nat_address_change_mid_conversation() {
    let _g = testbed_or_skip!();
    let tb = Testbed::up_with(
        5,
        "lan",
        &[
            ("TESTBED_NAT", "4:eim 5:eim"),
            ("TESTBED_MAILBOX_FETCH_SECS", "600"),
            (
                "TACNODE_TESTBED_LOG",
                "info,tacnode_usecase::node::hole_punch=debug",
            ),
        ],
    );
    tb.add_contacts(4, [5]);
    tb.add_contacts(5, [4]);
    let mut expected: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let round = |tb: &Testbed, name: &str, expected: &mut BTreeMap<usize, Vec<String>>| {
        let mut sent = BTreeMap::new();
        for k in 0..5 {
            for (from, to) in [(4, 5), (5, 4)] {
                let text = format!("{name}-{from}-to-{to}-{k}");
                assert!(tb.send(from, to, &text), "send {from}->{to}");
                sent.entry(to).or_insert_with(Vec::new).push(text.clone());
                expected.entry(to).or_default().push(text);
            }
        }
        sent
    };
    let before = round(&tb, "before", &mut expected);
    wait_all_received(&tb, &before, Duration::from_secs(20));
    sleep(Duration::from_secs(2));
    let moved_to = tb.run(&["readdress", "4"]).trim().to_string();
    assert_eq!(moved_to, "10.77.2.4");
    let changed = Instant::now();
    let after = round(&tb, "after", &mut expected);
    let took = wait_all_received(&tb, &after, Duration::from_secs(60));
    // And the whole conversation once, in both inboxes.
    wait_all_received(&tb, &expected, Duration::from_secs(5));
    let published = Instant::now();
    while !reach_line(&tb, 4).contains("seen at 10.77.2.4:4500") {
        assert!(
            published.elapsed() < Duration::from_secs(120),
            "the new address is not agreed: {}",
            reach_line(&tb, 4)
        );
        sleep(Duration::from_millis(500));
    }
    println!(
        "address change: 10 messages sent right after it delivered in {:.1} s; \
         the new address agreed {:.1} s after the change: {}",
        took.as_secs_f64(),
        changed.elapsed().as_secs_f64(),
        reach_line(&tb, 4)
    );
    assert!(took <= Duration::from_secs(30), "{took:?}");
}
