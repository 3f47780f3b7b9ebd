//! File transfer on loopback against raw quinn in the same run: a 100 MiB
//! file from one real node to another (QUIC with identity-bound TLS,
//! SQLite, the file port on disk; blocks sealed, pulled, written, hashed,
//! synced every few MiB, moved into the downloads directory), and the same
//! bytes written one way on one quinn stream with the same TLS setup and
//! read into memory.
//!
//! `cargo bench -p tacnode --bench file [-- MIB [ROUNDS]]` (default 100 MiB,
//! 3 rounds, alternating which side goes first; the medians are printed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rand::{Rng as _, SeedableRng as _};
use tacnode::demo::demo_config;
use tacnode::node::{Node, NodeHandle, NodeSettings};
use tacnode_crypto::keystore::KeystoreSecrets;
use tacnode_transport::{QuicSetup, TransportConfig};
use tacnode_usecase::file_transfer::TransferState;

async fn start(
    root: &std::path::Path,
    i: u64,
    bootstrap: Option<String>,
) -> (Node, KeystoreSecrets) {
    let secrets = KeystoreSecrets::generate(&mut rand::rngs::StdRng::seed_from_u64(2000 + i));
    let config = demo_config(SocketAddr::from(([127, 0, 0, 1], 0)), bootstrap);
    let node = Node::start(NodeSettings {
        data_dir: root.join(format!("n{i}")),
        config,
        secrets: secrets.clone(),
    })
    .await
    .unwrap();
    (node, secrets)
}

/// Seconds from `send_file` (which hashes the file) to the recipient's
/// file saved and checked, and of that the transfer alone (from the offer
/// handed over).
async fn ours(root: &std::path::Path, source: &std::path::Path, size: u64) -> (f64, f64) {
    let (a, sa) = start(root, 1, None).await;
    let boot = format!("{}@{}", sa.identity().address(), a.handle().local_addr());
    let (b, sb) = start(root, 2, Some(boot)).await;
    let (ha, hb): (NodeHandle, NodeHandle) = (a.handle(), b.handle());
    hb.wait_for_routing(1, Duration::from_secs(10)).await;
    ha.add_contact("b", &sb.identity().address().to_string())
        .await
        .unwrap();
    hb.add_contact("a", &sa.identity().address().to_string())
        .await
        .unwrap();
    hb.publish().await.unwrap();
    // A session first, as between teammates: a text both ways.
    ha.send("b", "hello").await.unwrap();
    hb.send("a", "hello").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    ha.send_file("b", source).await.unwrap();
    let mut offered = None;
    loop {
        match hb.files().await.unwrap().first() {
            Some(f) if f.state == TransferState::Done => break,
            Some(f) if matches!(f.state, TransferState::Failed(_)) => panic!("{f:?}"),
            Some(_) if offered.is_none() => offered = Some(Instant::now()),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let total = t.elapsed().as_secs_f64();
    let transfer = offered.map_or(total, |o| o.elapsed().as_secs_f64());
    let got = hb.files().await.unwrap()[0].path.clone().unwrap();
    assert_eq!(std::fs::metadata(&got).unwrap().len(), size);
    a.shutdown().await;
    b.shutdown().await;
    (total, transfer)
}

/// Seconds for raw quinn to carry `size` bytes one way on one stream,
/// same TLS setup, the reader keeping them in memory.
async fn raw(size: usize) -> f64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let (sid, cid) = (
        tacnode_crypto::Identity::generate(&mut rng),
        tacnode_crypto::Identity::generate(&mut rng),
    );
    let config = TransportConfig::with_listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let server_setup = QuicSetup::new(&config, &sid).unwrap();
    let ep = quinn::Endpoint::server(
        server_setup.server_config().unwrap(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .unwrap();
    let addr = ep.local_addr().unwrap();
    let server = ep.clone();
    let reader = tokio::spawn(async move {
        let conn = server.accept().await.unwrap().await.unwrap();
        let mut recv = conn.accept_uni().await.unwrap();
        let body = recv.read_to_end(usize::MAX).await.unwrap();
        body.len()
    });
    let client_setup = QuicSetup::new(&config, &cid).unwrap();
    let client = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let conn = client
        .connect_with(
            client_setup.client_config(sid.node_id()).unwrap(),
            addr,
            QuicSetup::server_name(),
        )
        .unwrap()
        .await
        .unwrap();
    let body = vec![0x5au8; size];
    let t = Instant::now();
    let mut s = conn.open_uni().await.unwrap();
    s.write_all(&body).await.unwrap();
    s.finish().unwrap();
    assert_eq!(reader.await.unwrap(), size);
    let took = t.elapsed().as_secs_f64();
    conn.close(0u32.into(), b"");
    ep.close(0u32.into(), b"");
    took
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if std::env::args().any(|a| a == "--list") {
        println!("file: bench");
        return;
    }
    let mib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let size = mib * 1024 * 1024;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("payload.bin");
        let mut content = vec![0u8; size];
        rand::rngs::StdRng::seed_from_u64(1).fill_bytes(&mut content);
        std::fs::write(&source, &content).unwrap();
        drop(content);
        let (mut totals, mut transfers, mut raws) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let root = tempfile::tempdir().unwrap();
            let run_ours = || async {
                let (total, transfer) = ours(root.path(), &source, size as u64).await;
                (total, transfer)
            };
            let (o, r) = if round % 2 == 0 {
                let r = raw(size).await;
                (run_ours().await, r)
            } else {
                let o = run_ours().await;
                (o, raw(size).await)
            };
            let mb = |s: f64| size as f64 / s / 1048576.0;
            println!(
                "round {round}: ours {:.1} MiB/s ({:.1} MiB/s with the sender's hash first), raw quinn {:.1} MiB/s, ratio {:.2} ({:.2})",
                mb(o.1),
                mb(o.0),
                mb(r),
                r / o.1,
                r / o.0
            );
            totals.push(o.0);
            transfers.push(o.1);
            raws.push(r);
        }
        let ratios: Vec<f64> = raws.iter().zip(&transfers).map(|(r, x)| r / x).collect();
        let (t, x, r) = (median(totals), median(transfers), median(raws));
        println!("| measure ({mib} MiB, median of {rounds}) | value |");
        println!("|---|---|");
        println!("| raw quinn, one stream, into memory | {:.1} MiB/s |", size as f64 / r / 1048576.0);
        println!("| tacnode transfer (offer to file saved and checked) | {:.1} MiB/s |", size as f64 / x / 1048576.0);
        println!("| tacnode from send-file (includes the sender's SHA-256 pass) | {:.1} MiB/s |", size as f64 / t / 1048576.0);
        println!("| ratio transfer / raw quinn (target >= 0.7), of the medians | {:.2} |", r / x);
        println!("| ratio transfer / raw quinn, median of the rounds' ratios | {:.2} |", median(ratios));
        println!("| ratio from send-file / raw quinn | {:.2} |", r / t);
    });
}
