//! Loopback comparison of the transport against plain quinn with the same
//! TLS setup (same certificates, verifiers and QUIC parameters).
//!
//! Run once: `cargo bench -p tacnode-transport --bench transport`.
//! Prints (a) one-way throughput, (b) RPC round trips per second, (c) dial to
//! first authenticated response, (d) RSS per idle connection.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use tacnode_crypto::Identity;
use tacnode_domain::NodeId;
use tacnode_transport::{InboundEvent, QuicSetup, Transport, TransportConfig};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn identity(seed: u64) -> Identity {
    Identity::generate(&mut rand::rngs::StdRng::seed_from_u64(seed))
}

fn config() -> TransportConfig {
    let mut c = TransportConfig::with_listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    c.max_connections = 1024;
    c.max_connections_per_ip = 1024;
    c.max_concurrent_handshakes = 256;
    c.max_frame_len = 128 * 1024;
    c.request_timeout = Duration::from_secs(30);
    c
}

/// A plain quinn server using the same TLS setup as the transport. Echoes
/// requests on bidirectional streams; counts bytes of unidirectional ones.
fn raw_server(seed: u64) -> Res<(quinn::Endpoint, NodeId, Arc<AtomicUsize>)> {
    let id = identity(seed);
    let setup = QuicSetup::new(&config(), &id)?;
    let ep = quinn::Endpoint::server(
        setup.server_config()?,
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )?;
    let received = Arc::new(AtomicUsize::new(0));
    let server = ep.clone();
    let counter = received.clone();
    tokio::spawn(async move {
        while let Some(incoming) = server.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(conn) = incoming.await else { return };
                loop {
                    tokio::select! {
                        r = conn.accept_bi() => {
                            let Ok((mut send, mut recv)) = r else { break };
                            tokio::spawn(async move {
                                if let Ok(body) = recv.read_to_end(1 << 20).await {
                                    let _ = send.write_all(&body).await;
                                    let _ = send.finish();
                                }
                            });
                        }
                        r = conn.accept_uni() => {
                            let Ok(mut recv) = r else { break };
                            let counter = counter.clone();
                            tokio::spawn(async move {
                                if let Ok(body) = recv.read_to_end(1 << 20).await {
                                    counter.fetch_add(body.len(), Ordering::AcqRel);
                                }
                            });
                        }
                    }
                }
            });
        }
    });
    Ok((ep, id.node_id(), received))
}

async fn raw_client(seed: u64, server: NodeId, addr: SocketAddr) -> Res<quinn::Connection> {
    let setup = QuicSetup::new(&config(), &identity(seed))?;
    let ep = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(ep
        .connect_with(setup.client_config(server)?, addr, QuicSetup::server_name())?
        .await?)
}

/// A transport that echoes requests and counts pushed bytes.
fn our_server(seed: u64) -> Res<(Transport, SocketAddr, Arc<AtomicUsize>)> {
    let (t, mut inbound) = Transport::bind(config(), &identity(seed))?;
    let addr = t.local_addr()?;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        while let Some(ev) = inbound.recv().await {
            match ev {
                InboundEvent::Request { body, reply, .. } => {
                    // Small responses never wait for flow control: answer inline.
                    let _ = reply.send(body).await;
                }
                InboundEvent::Push { body, .. } => {
                    counter.fetch_add(body.len(), Ordering::AcqRel);
                }
                _ => {}
            }
        }
    });
    Ok((t, addr, received))
}

async fn wait_for(counter: &AtomicUsize, total: usize) {
    while counter.load(Ordering::Acquire) < total {
        tokio::task::yield_now().await;
    }
}

async fn throughput(size: usize, count: usize) -> Res<(f64, f64)> {
    let body = vec![0xa5u8; size];
    let total = size * count;
    // Raw quinn: one unidirectional stream per message.
    let (ep, server_id, received) = raw_server(1)?;
    let conn = raw_client(2, server_id, ep.local_addr()?).await?;
    let start = Instant::now();
    for _ in 0..count {
        let mut s = conn.open_uni().await?;
        s.write_all(&body).await?;
        s.finish()?;
    }
    wait_for(&received, total).await;
    let raw = total as f64 / start.elapsed().as_secs_f64();
    conn.close(0u32.into(), b"");
    ep.close(0u32.into(), b"");

    // Ours: push per message.
    let (server, addr, received) = our_server(3)?;
    let (client, _in) = Transport::bind(config(), &identity(4))?;
    client.push(server.node_id(), &[addr], vec![]).await?;
    let start = Instant::now();
    for _ in 0..count {
        client.push(server.node_id(), &[addr], body.clone()).await?;
    }
    wait_for(&received, total).await;
    let ours = total as f64 / start.elapsed().as_secs_f64();
    client.close().await;
    server.close().await;
    Ok((ours, raw))
}

async fn round_trips(count: usize, concurrency: usize) -> Res<(f64, f64)> {
    let body = vec![7u8; 64];
    let per_task = count / concurrency;
    // Raw quinn: one bidirectional stream per request.
    let (ep, server_id, _) = raw_server(5)?;
    let conn = raw_client(6, server_id, ep.local_addr()?).await?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let conn = conn.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                let (mut send, mut recv) = conn.open_bi().await?;
                send.write_all(&body).await?;
                send.finish()?;
                recv.read_to_end(1 << 20).await?;
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let raw = (per_task * concurrency) as f64 / start.elapsed().as_secs_f64();
    ep.close(0u32.into(), b"");

    let (server, addr, _) = our_server(7)?;
    let (client, _in) = Transport::bind(config(), &identity(8))?;
    client.request(server.node_id(), &[addr], vec![]).await?;
    let peer = server.node_id();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_task {
                client.request(peer, &[addr], body.clone()).await?;
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let ours = (per_task * concurrency) as f64 / start.elapsed().as_secs_f64();
    client.close().await;
    server.close().await;
    Ok((ours, raw))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

async fn dial_latency(iterations: u64) -> Res<(Duration, Duration)> {
    let (ep, server_id, _) = raw_server(9)?;
    let raw_addr = ep.local_addr()?;
    let mut raw = Vec::new();
    for i in 0..iterations {
        let setup = QuicSetup::new(&config(), &identity(1000 + i))?;
        let client = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let cfg = setup.client_config(server_id)?;
        let start = Instant::now();
        let conn = client
            .connect_with(cfg, raw_addr, QuicSetup::server_name())?
            .await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(b"ping").await?;
        send.finish()?;
        recv.read_to_end(1024).await?;
        raw.push(start.elapsed());
        conn.close(0u32.into(), b"");
    }
    ep.close(0u32.into(), b"");

    let (server, addr, _) = our_server(10)?;
    let mut ours = Vec::new();
    for i in 0..iterations {
        let (client, _in) = Transport::bind(config(), &identity(2000 + i))?;
        let start = Instant::now();
        client
            .request(server.node_id(), &[addr], b"ping".to_vec())
            .await?;
        ours.push(start.elapsed());
        client.close().await;
    }
    server.close().await;
    Ok((median(ours), median(raw)))
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

async fn rss_per_connection(n: u64) -> Res<f64> {
    let (server, addr, _) = our_server(11)?;
    let mut clients = Vec::new();
    for i in 0..n {
        clients.push(Transport::bind(config(), &identity(3000 + i))?);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes();
    for (c, _) in &clients {
        c.request(server.node_id(), &[addr], b"hi".to_vec()).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes();
    Ok((after.saturating_sub(before)) as f64 / n as f64)
}

fn main() -> Res<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        for (size, count) in [(1024usize, 20_000usize), (64 * 1024, 2_000)] {
            let (ours, raw) = throughput(size, count).await?;
            println!(
                "(a) one-way {:>5} B x {count}: ours {:.1} MiB/s, raw quinn {:.1} MiB/s, ratio {:.2}",
                size,
                ours / 1048576.0,
                raw / 1048576.0,
                ours / raw
            );
        }
        for concurrency in [1usize, 32] {
            let (ours, raw) = round_trips(20_000, concurrency).await?;
            println!(
                "(b) RPC 64 B, {concurrency} in flight: ours {ours:.0}/s, raw quinn {raw:.0}/s, ratio {:.2}",
                ours / raw
            );
        }
        let (ours, raw) = dial_latency(101).await?;
        println!(
            "(c) dial to first response, median of 101: ours {:.3} ms, raw quinn {:.3} ms, diff {:+.3} ms",
            ours.as_secs_f64() * 1e3,
            raw.as_secs_f64() * 1e3,
            (ours.as_secs_f64() - raw.as_secs_f64()) * 1e3
        );
        let per = rss_per_connection(200).await?;
        println!(
            "(d) RSS per idle connection (both ends in this process): {:.1} KiB",
            per / 1024.0
        );
        Ok(())
    })
}
