//! Loopback comparison of the transport against plain quinn with the same
//! TLS setup (same certificates, verifiers and QUIC parameters).
//!
//! Run: `cargo bench -p tacnode-transport --bench transport [-- SECTIONS]
//! [--rounds N] [--side ours|raw]`. Prints (a) one-way throughput (`a1k`,
//! `a64k`), (b) RPC round trips per second (`b1`, `b32`), (c) dial to first
//! authenticated response (`c`), (d) RSS per idle connection (`d`). With
//! `--rounds N` the sides alternate which runs first and the median of the
//! per-round ratios (differences for `c`) is printed at the end.

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

/// Which side a measurement runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Ours,
    Raw,
}

/// One-way throughput in bytes per second: `count` messages of `size` bytes.
async fn throughput(side: Side, size: usize, count: usize) -> Res<f64> {
    let body = vec![0xa5u8; size];
    let total = size * count;
    match side {
        Side::Raw => {
            // One unidirectional stream per message, carrying the same
            // length-prefixed frame as ours so both put the same bytes on the
            // wire. The frame is built once: framing costs raw quinn nothing.
            let mut frame = u32::try_from(size)?.to_be_bytes().to_vec();
            frame.extend_from_slice(&body);
            let (ep, server_id, received) = raw_server(1)?;
            let conn = raw_client(2, server_id, ep.local_addr()?).await?;
            let start = Instant::now();
            for _ in 0..count {
                let mut s = conn.open_uni().await?;
                s.write_all(&frame).await?;
                s.finish()?;
            }
            wait_for(&received, total + 4 * count).await;
            let rate = total as f64 / start.elapsed().as_secs_f64();
            conn.close(0u32.into(), b"");
            ep.close(0u32.into(), b"");
            Ok(rate)
        }
        Side::Ours => {
            let (server, addr, received) = our_server(3)?;
            let (client, _in) = Transport::bind(config(), &identity(4))?;
            client.push(server.node_id(), &[addr], vec![]).await?;
            let start = Instant::now();
            for _ in 0..count {
                // The API takes the body by value, so a caller reusing one
                // buffer pays this copy; raw quinn's `write_all` copies too.
                client.push(server.node_id(), &[addr], body.clone()).await?;
            }
            wait_for(&received, total).await;
            let rate = total as f64 / start.elapsed().as_secs_f64();
            client.close().await;
            server.close().await;
            Ok(rate)
        }
    }
}

/// Request/response round trips per second with `concurrency` in flight.
async fn round_trips(side: Side, count: usize, concurrency: usize) -> Res<f64> {
    let body = vec![7u8; 64];
    let per_task = count / concurrency;
    match side {
        Side::Raw => {
            // One bidirectional stream per request, echoed by the server,
            // with the same length prefix as ours (built once).
            let mut body = u32::try_from(body.len())?.to_be_bytes().to_vec();
            body.extend_from_slice(&[7u8; 64]);
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
            let rate = (per_task * concurrency) as f64 / start.elapsed().as_secs_f64();
            conn.close(0u32.into(), b"");
            ep.close(0u32.into(), b"");
            Ok(rate)
        }
        Side::Ours => {
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
            let rate = (per_task * concurrency) as f64 / start.elapsed().as_secs_f64();
            client.close().await;
            server.close().await;
            Ok(rate)
        }
    }
}

fn median<T: PartialOrd + Copy + Default>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Median time from starting a dial (client endpoint and certificate ready)
/// to the first response from the server.
///
/// Neither side waits for its previous connection to finish closing before
/// the next dial: raw quinn drops its client endpoint, ours closes in the
/// background. (Waiting on one side only, as an earlier version did with
/// `close().await`, leaves that side's runtime idle for the draining period
/// before every dial and adds about 0.3 ms of wake-up cost to its figure.)
async fn dial_latency(side: Side, iterations: u64) -> Res<Duration> {
    let mut samples = Vec::new();
    match side {
        Side::Raw => {
            let (ep, server_id, _) = raw_server(9)?;
            let raw_addr = ep.local_addr()?;
            for i in 0..iterations {
                let setup = QuicSetup::new(&config(), &identity(1000 + i))?;
                let client = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
                let cfg = setup.client_config(server_id)?;
                let start = Instant::now();
                let conn = client
                    .connect_with(cfg, raw_addr, QuicSetup::server_name())?
                    .await?;
                let (mut send, mut recv) = conn.open_bi().await?;
                send.write_all(b"\0\0\0\x04ping").await?;
                send.finish()?;
                recv.read_to_end(1024).await?;
                samples.push(start.elapsed());
                conn.close(0u32.into(), b"");
            }
            ep.close(0u32.into(), b"");
        }
        Side::Ours => {
            let (server, addr, _) = our_server(10)?;
            for i in 0..iterations {
                let (client, _in) = Transport::bind(config(), &identity(2000 + i))?;
                let start = Instant::now();
                client
                    .request(server.node_id(), &[addr], b"ping".to_vec())
                    .await?;
                samples.push(start.elapsed());
                tokio::spawn(async move { client.close().await });
            }
            server.close().await;
        }
    }
    Ok(median(samples))
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

/// Command line: optional section names (`a1k a64k b1 b32 c d`; default all),
/// `--rounds N` (default 1), `--side ours|raw` (one side only, e.g. under a
/// profiler). With several rounds the two sides alternate which goes first
/// and the median of the per-round ratios is printed.
struct Options {
    sections: Vec<String>,
    rounds: usize,
    side: Option<Side>,
}

fn options() -> Res<Options> {
    let mut o = Options {
        sections: Vec::new(),
        rounds: 1,
        side: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            // Passed by `cargo bench`.
            "--bench" => {}
            "--rounds" => o.rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--side" => {
                o.side = match args.next().as_deref() {
                    Some("ours") => Some(Side::Ours),
                    Some("raw") => Some(Side::Raw),
                    _ => return Err("--side ours|raw".into()),
                }
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}").into()),
            s => o.sections.push(s.to_string()),
        }
    }
    if o.sections.is_empty() {
        o.sections = ["a1k", "a64k", "b1", "b32", "c", "d"]
            .map(String::from)
            .to_vec();
    }
    Ok(o)
}

/// Runs `f` for both sides (or the selected one), alternating the order by
/// round; returns (ours, raw), `NaN` for a side not run.
async fn pair<F, Fut>(o: &Options, round: usize, f: F) -> Res<(f64, f64)>
where
    F: Fn(Side) -> Fut,
    Fut: std::future::Future<Output = Res<f64>>,
{
    let order = if round.is_multiple_of(2) {
        [Side::Raw, Side::Ours]
    } else {
        [Side::Ours, Side::Raw]
    };
    let (mut ours, mut raw) = (f64::NAN, f64::NAN);
    for side in order {
        if o.side.is_some_and(|s| s != side) {
            continue;
        }
        let v = f(side).await?;
        match side {
            Side::Ours => ours = v,
            Side::Raw => raw = v,
        }
    }
    Ok((ours, raw))
}

fn main() -> Res<()> {
    let o = options()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut ratios: Vec<(String, Vec<f64>)> = Vec::new();
        let mut record = |name: &str, v: f64| match ratios.iter_mut().find(|(n, _)| n == name) {
            Some((_, r)) => r.push(v),
            None => ratios.push((name.to_string(), vec![v])),
        };
        for round in 0..o.rounds {
            for section in &o.sections {
                match section.as_str() {
                    "a1k" | "a64k" => {
                        let (size, count) = if section == "a1k" {
                            (1024usize, 20_000usize)
                        } else {
                            (64 * 1024, 2_000)
                        };
                        let (ours, raw) =
                            pair(&o, round, |side| throughput(side, size, count)).await?;
                        println!(
                            "(a) one-way {size:>5} B x {count}: ours {:.1} MiB/s, raw quinn {:.1} MiB/s, ratio {:.2}",
                            ours / 1048576.0,
                            raw / 1048576.0,
                            ours / raw
                        );
                        record(section, ours / raw);
                    }
                    "b1" | "b32" => {
                        let concurrency = if section == "b1" { 1 } else { 32 };
                        let (ours, raw) =
                            pair(&o, round, |side| round_trips(side, 20_000, concurrency)).await?;
                        println!(
                            "(b) RPC 64 B, {concurrency} in flight: ours {ours:.0}/s, raw quinn {raw:.0}/s, ratio {:.2}",
                            ours / raw
                        );
                        record(section, ours / raw);
                    }
                    "c" => {
                        let (ours, raw) = pair(&o, round, |side| async move {
                            Ok(dial_latency(side, 101).await?.as_secs_f64() * 1e3)
                        })
                        .await?;
                        println!(
                            "(c) dial to first response, median of 101: ours {ours:.3} ms, raw quinn {raw:.3} ms, diff {:+.3} ms",
                            ours - raw
                        );
                        record(section, ours - raw);
                    }
                    "d" => {
                        let per = rss_per_connection(200).await?;
                        println!(
                            "(d) RSS per idle connection (both ends in this process): {:.1} KiB",
                            per / 1024.0
                        );
                    }
                    other => return Err(format!("unknown section {other}").into()),
                }
            }
        }
        if o.rounds > 1 {
            for (name, r) in ratios {
                let kind = if name == "c" { "diff (ms)" } else { "ratio" };
                println!("median {kind} {name} over {} rounds: {:.3}", o.rounds, median(r));
            }
        }
        Ok(())
    })
}
