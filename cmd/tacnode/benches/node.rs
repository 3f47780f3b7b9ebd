//! Node benchmarks on loopback, one run, figures printed as a table:
//! end-to-end latency on an established session (p50/p99), first-contact
//! latency (resolve + QUIC + X3DH + first message) in a 20-node network,
//! message throughput on an established session against the bound
//! 1 / (1/transport + 1/ratchet) measured in the same run, and the RSS of an
//! idle daemon.
//!
//! `cargo bench -p tacnode --bench node`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use tacnode::demo::demo_config;
use tacnode::node::{Node, NodeEvent, NodeHandle, NodeSettings};
use tacnode_crypto::keystore::KeystoreSecrets;

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

async fn wait_received(
    rx: &mut tokio::sync::broadcast::Receiver<NodeEvent>,
    id: tacnode_domain::MessageId,
) {
    loop {
        match rx.recv().await {
            Ok(NodeEvent::Received { message_id, .. }) if message_id == id => return,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

async fn start(
    root: &std::path::Path,
    i: usize,
    bootstrap: Option<String>,
) -> (Node, KeystoreSecrets) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + i as u64);
    let secrets = KeystoreSecrets::generate(&mut rng);
    let mut config = demo_config(SocketAddr::from(([127, 0, 0, 1], 0)), bootstrap);
    config.delivery.deposit_after_ms = 60_000;
    let node = Node::start(NodeSettings {
        data_dir: root.join(format!("n{i}")),
        config,
        secrets: secrets.clone(),
    })
    .await
    .unwrap();
    (node, secrets)
}

async fn network(root: &std::path::Path, n: usize) -> Vec<(Node, KeystoreSecrets)> {
    let mut nodes = vec![start(root, 0, None).await];
    let boot = format!(
        "{}@{}",
        nodes[0].1.identity().address(),
        nodes[0].0.handle().local_addr()
    );
    for i in 1..n {
        nodes.push(start(root, i, Some(boot.clone())).await);
    }
    for (node, _) in &nodes {
        node.handle()
            .wait_for_routing(5, Duration::from_secs(20))
            .await;
        node.handle().publish().await.unwrap();
    }
    nodes
}

fn ratchet_rate() -> f64 {
    use tacnode_crypto::prekey::PrekeyState;
    use tacnode_usecase::conversation::Conversation;
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let a = tacnode_crypto::Identity::generate(&mut rng);
    let b = tacnode_crypto::Identity::generate(&mut rng);
    let mut pb = PrekeyState::new(&mut rng, &b, tacnode_domain::UnixMillis(0));
    let bundle = pb.bundle(&b, None).unwrap();
    let mut ca = Conversation::initiate(&mut rng, &a, &bundle).unwrap();
    let first = ca.seal(&mut rng, a.identity_key(), b"hi").unwrap();
    let (_, cb) =
        Conversation::open(None, &b, &mut pb, &first, tacnode_domain::UnixMillis(1)).unwrap();
    let mut cb = cb.unwrap();
    let reply = cb.seal(&mut rng, b.identity_key(), b"ok").unwrap();
    Conversation::open(
        Some(&mut ca),
        &a,
        &mut PrekeyState::new(&mut rng, &a, tacnode_domain::UnixMillis(0)),
        &reply,
        tacnode_domain::UnixMillis(1),
    )
    .unwrap();
    let body = vec![7u8; 100];
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        let m = ca.seal(&mut rng, a.identity_key(), &body).unwrap();
        let bytes = tacnode_messaging::encode_sealed(&m);
        let m = tacnode_messaging::decode_sealed(&bytes).unwrap();
        Conversation::open(
            Some(&mut cb),
            &b,
            &mut pb,
            &m,
            tacnode_domain::UnixMillis(1),
        )
        .unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

async fn transport_rate() -> f64 {
    use tacnode_transport::{InboundEvent, Transport, TransportConfig};
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let a = tacnode_crypto::Identity::generate(&mut rng);
    let b = tacnode_crypto::Identity::generate(&mut rng);
    let (ta, _ia) = Transport::bind(
        TransportConfig::with_listen("127.0.0.1:0".parse().unwrap()),
        &a,
    )
    .unwrap();
    let (tb, mut ib) = Transport::bind(
        TransportConfig::with_listen("127.0.0.1:0".parse().unwrap()),
        &b,
    )
    .unwrap();
    tokio::spawn(async move {
        while let Some(ev) = ib.recv().await {
            if let InboundEvent::Request { reply, .. } = ev {
                let _ = reply.send(vec![1; 8]).await;
            }
        }
    });
    let addr = tb.local_addr().unwrap();
    let body = vec![7u8; 250];
    ta.request(b.node_id(), &[addr], body.clone())
        .await
        .unwrap();
    let n = 5_000;
    let t = Instant::now();
    for _ in 0..n {
        ta.request(b.node_id(), &[addr], body.clone())
            .await
            .unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn idle_rss_kib() -> Option<u64> {
    let tmp = tempfile::tempdir().ok()?;
    let pass = tmp.path().join("pass");
    std::fs::write(&pass, "bench\n").ok()?;
    let data = tmp.path().join("data");
    let bin = env!("CARGO_BIN_EXE_tacnode");
    let ok = std::process::Command::new(bin)
        .args([
            "--data-dir",
            data.to_str()?,
            "init",
            "--passphrase-file",
            pass.to_str()?,
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let mut child = std::process::Command::new(bin)
        .args([
            "--data-dir",
            data.to_str()?,
            "run",
            "--listen",
            "127.0.0.1:0",
            "--passphrase-file",
            pass.to_str()?,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_secs(5));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    let _ = child.kill();
    let _ = child.wait();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("node: bench");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let root = tempfile::tempdir().unwrap();
        let nodes = network(root.path(), 20).await;
        let h: Vec<NodeHandle> = nodes.iter().map(|(n, _)| n.handle()).collect();
        let addr = |i: usize| nodes[i].1.identity().address().to_string();

        // First contact: fresh pairs, nothing cached.
        let mut first = Vec::new();
        for i in 0..10 {
            let (s, r) = (i, 10 + i);
            h[s].add_contact("peer", &addr(r)).await.unwrap();
            let mut rx = h[r].subscribe();
            let t = Instant::now();
            let id = h[s].send("peer", "first contact").await.unwrap();
            wait_received(&mut rx, id).await;
            first.push(t.elapsed().as_secs_f64() * 1e3);
        }

        // Established session: one message at a time.
        let mut rx = h[10].subscribe();
        let mut lat = Vec::new();
        for i in 0..500 {
            let t = Instant::now();
            let id = h[0].send("peer", &format!("m{i}")).await.unwrap();
            wait_received(&mut rx, id).await;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
        }

        // Throughput: bursts on the established session, queued one send()
        // (one commit) at a time, then send_many() in groups of 100.
        let n = 2_000;
        let t = Instant::now();
        let mut last = None;
        for i in 0..n {
            last = Some(h[0].send("peer", &format!("burst {i:>90}")).await.unwrap());
        }
        wait_received(&mut rx, last.unwrap()).await;
        let single_rate = n as f64 / t.elapsed().as_secs_f64();
        let texts: Vec<String> = (0..n).map(|i| format!("group {i:>90}")).collect();
        let t = Instant::now();
        let mut last = None;
        for group in texts.chunks(100) {
            let group: Vec<&str> = group.iter().map(String::as_str).collect();
            last = h[0].send_many("peer", &group).await.unwrap().pop();
        }
        wait_received(&mut rx, last.unwrap()).await;
        let node_rate = n as f64 / t.elapsed().as_secs_f64();
        for (node, _) in nodes {
            node.shutdown().await;
        }
        let tr = transport_rate().await;
        let rr = ratchet_rate();
        let bound = 1.0 / (1.0 / tr + 1.0 / rr);

        println!("| measure | value |");
        println!("|---|---|");
        println!(
            "| first contact (20 nodes), p50 / max | {:.2} ms / {:.2} ms |",
            percentile(&mut first.clone(), 0.5),
            percentile(&mut first, 1.0)
        );
        println!(
            "| established session, p50 / p99 | {:.3} ms / {:.3} ms |",
            percentile(&mut lat.clone(), 0.5),
            percentile(&mut lat, 0.99)
        );
        println!(
            "| throughput, established session, send() one at a time | {single_rate:.0} msg/s |"
        );
        println!("| throughput, established session, send_many() by 100 | {node_rate:.0} msg/s |");
        println!("| transport alone (request/response) | {tr:.0} req/s |");
        println!("| ratchet alone (seal+encode+decode+open) | {rr:.0} msg/s |");
        println!("| bound 1/(1/transport + 1/ratchet) | {bound:.0} msg/s |");
        println!(
            "| ratio throughput / bound (target >= 0.7), one at a time / by 100 | {:.2} / {:.2} |",
            single_rate / bound,
            node_rate / bound
        );
    });
    match idle_rss_kib() {
        Some(kib) => println!(
            "| idle daemon RSS (target <= 20 MB) | {:.1} MB |",
            kib as f64 / 1024.0
        ),
        None => println!("| idle daemon RSS | not measured |"),
    }
}
