//! `tacnode demo`: a local network of real nodes (QUIC on 127.0.0.1, fresh
//! data directories) that message each other, including a recipient that
//! goes offline and gets its messages from the DHT mailboxes when it returns.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tacnode_crypto::keystore::KeystoreSecrets;
use tacnode_domain::{MessageId, MessageStatus};
use tokio::sync::broadcast;

use crate::config::Config;

/// How many times [`LocalNode::start`] tries a listening port in use.
const RESTART_BIND_TRIES: usize = 40;

/// Whether starting failed because the listening address is in use.
fn addr_in_use(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
    }) || format!("{e:#}").contains("Address already in use")
}
use crate::node::{Node, NodeEvent, NodeHandle, NodeSettings, os_rng};

/// How long each phase may take before the demo reports failure.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

/// Configuration tuned for a quick local demonstration (short retry and
/// mailbox intervals); production defaults are in `deploy/`.
pub fn demo_config(listen: SocketAddr, bootstrap: Option<String>) -> Config {
    let mut c = Config::default();
    c.node.listen = listen;
    c.bootstrap.peers = bootstrap.into_iter().collect();
    c.delivery.initial_backoff_ms = 300;
    c.delivery.max_backoff_ms = 2_000;
    c.delivery.deposit_after_ms = 1_500;
    c.mailbox.fetch_interval_secs = 2;
    c.dht.request_timeout_ms = 2_000;
    c.transport.request_timeout_ms = 3_000;
    // Every node shares 127.0.0.1: the per-IP limit protects real networks.
    c.transport.max_connections_per_ip = 1024;
    c.log.level = "warn".into();
    c
}

/// A node on this machine with its own data directory, restartable with
/// the same identity and data. The demo and the integration tests use it.
pub struct LocalNode {
    /// Display name.
    pub name: String,
    /// Data directory.
    pub dir: PathBuf,
    /// Identity and storage key.
    pub secrets: KeystoreSecrets,
    /// Configuration; the listen port is pinned after the first start so a
    /// restart comes back at the same address.
    pub config: Config,
    node: Option<Node>,
}

impl LocalNode {
    /// A node (not started) under `root`, with [`demo_config`], bootstrapping
    /// from `bootstrap` (which must have been started).
    pub fn new(
        root: &Path,
        name: &str,
        secrets: KeystoreSecrets,
        bootstrap: Option<&LocalNode>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            dir: root.join(name),
            secrets,
            config: demo_config(
                SocketAddr::from(([127, 0, 0, 1], 0)),
                bootstrap.map(LocalNode::locator),
            ),
            node: None,
        }
    }

    /// `key_…@ip:port` of the node.
    pub fn locator(&self) -> String {
        format!(
            "{}@{}",
            self.secrets.identity().address(),
            self.config.node.listen
        )
    }

    /// Its `key_…` address.
    pub fn address(&self) -> String {
        self.secrets.identity().address().to_string()
    }

    /// Handle of the running node (`None` while stopped).
    pub fn handle(&self) -> Option<NodeHandle> {
        self.node.as_ref().map(Node::handle)
    }

    /// Starts (or restarts) the node. A restart listens where the node
    /// listened before, so peers find it there; while the stopped node's
    /// socket is still being released (or the port is briefly taken), the
    /// start is tried again, for up to [`RESTART_BIND_TRIES`] × 250 ms.
    pub async fn start(&mut self) -> Result<NodeHandle> {
        let mut tries = 0;
        let node = loop {
            let started = Node::start(NodeSettings {
                data_dir: self.dir.clone(),
                config: self.config.clone(),
                secrets: self.secrets.clone(),
            })
            .await;
            match started {
                Ok(node) => break node,
                Err(e) if tries + 1 < RESTART_BIND_TRIES && addr_in_use(&e) => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.context(format!("starting {}", self.name))),
            }
        };
        self.config.node.listen = node.handle().local_addr();
        let handle = node.handle();
        self.node = Some(node);
        Ok(handle)
    }

    /// Stops the node gracefully.
    pub async fn stop(&mut self) {
        if let Some(n) = self.node.take() {
            n.shutdown().await;
        }
    }

    fn running(&self) -> Result<NodeHandle> {
        self.handle().context("node is stopped")
    }
}

async fn wait_for<F>(rx: &mut broadcast::Receiver<NodeEvent>, mut want: F) -> bool
where
    F: FnMut(&NodeEvent) -> bool,
{
    let deadline = tokio::time::Instant::now() + PHASE_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if want(&e) => return true,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) | Err(_) => return false,
        }
    }
}

/// Waits (one phase at most) until `pick` has named every id of `ids` in
/// events; returns those it named.
async fn wait_for_all<F>(
    rx: &mut broadcast::Receiver<NodeEvent>,
    ids: &HashSet<MessageId>,
    mut pick: F,
) -> HashSet<MessageId>
where
    F: FnMut(&NodeEvent) -> Option<MessageId>,
{
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + PHASE_TIMEOUT;
    while seen.len() < ids.len() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) => seen.extend(pick(&e).filter(|id| ids.contains(id))),
            Ok(Err(_)) | Err(_) => break,
        }
    }
    seen
}

/// Runs the demo; non-zero exit when anything was not delivered.
pub async fn run(count: usize) -> Result<ExitCode> {
    if count < 3 {
        bail!("the demo needs at least 3 nodes");
    }
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
    let started = Instant::now();
    let root = tempfile::tempdir().context("temporary directory")?;
    let mut rng = os_rng()?;
    println!(
        "tacnode demo: {count} nodes on 127.0.0.1, data under {}",
        root.path().display()
    );

    // 1. Start the nodes; every one bootstraps from node 0 only.
    let mut nodes: Vec<LocalNode> = Vec::with_capacity(count);
    for i in 0..count {
        let mut n = LocalNode::new(
            root.path(),
            &format!("node{i}"),
            KeystoreSecrets::generate(&mut rng),
            nodes.first(),
        );
        n.start().await?;
        nodes.push(n);
    }
    println!(
        "[1] started {count} nodes; each knows only node0 ({})",
        nodes[0].config.node.listen
    );
    for n in &nodes {
        n.running()?
            .wait_for_routing(2, Duration::from_secs(10))
            .await;
    }
    for n in &nodes {
        n.running()?.publish().await.ok();
    }
    let mut sizes = Vec::new();
    for n in &nodes {
        sizes.push(n.running()?.status().await?.routing_table_size.to_string());
    }
    println!(
        "[2] routing tables built by DHT lookups: sizes {}",
        sizes.join(" ")
    );

    // 2. Every node messages the next one around the ring.
    let mut subs: Vec<_> = nodes
        .iter()
        .map(|n| n.running().map(|h| h.subscribe()))
        .collect::<Result<_>>()?;
    let mut sent: Vec<(usize, usize, MessageId)> = Vec::new();
    for i in 0..count {
        let j = (i + 1) % count;
        let to = nodes[j].secrets.identity().address().to_string();
        let h = nodes[i].running()?;
        h.add_contact(&nodes[j].name, &to).await?;
        let id = h
            .send(
                &nodes[j].name,
                &format!("hello {} from {}", nodes[j].name, nodes[i].name),
            )
            .await?;
        sent.push((i, j, id));
    }
    let mut ok = 0;
    for (i, j, id) in &sent {
        let got = wait_for(
            &mut subs[*j],
            |e| matches!(e, NodeEvent::Received { message_id, .. } if message_id == id),
        )
        .await;
        ok += usize::from(got);
        let outcome = if got {
            "delivered end to end"
        } else {
            "NOT delivered"
        };
        println!("    {} -> {}: {outcome}", nodes[*i].name, nodes[*j].name);
    }
    let mut receipts = 0;
    for (i, _, id) in &sent {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if nodes[*i].running()?.message_status(id).await? == Some(MessageStatus::Delivered) {
                receipts += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!("[3] ring of {count} messages: {ok} received, {receipts} delivery receipts back");

    // 3. Take a recipient offline and write to it.
    let off = count / 2;
    let sender = 0;
    nodes[off].stop().await;
    println!("[4] {} is offline", nodes[off].name);
    let target = nodes[off].secrets.identity().address().to_string();
    let h = nodes[sender].running()?;
    h.add_contact(&nodes[off].name, &target).await?;
    let mut offline_ids = HashSet::new();
    for k in 0..3 {
        offline_ids.insert(
            h.send(
                &nodes[off].name,
                &format!("message {k} while you were away"),
            )
            .await?,
        );
    }
    let mut rx = h.subscribe();
    let deposited = wait_for_all(&mut rx, &offline_ids, |e| match e {
        NodeEvent::Sent {
            message_id,
            via_mailbox: true,
        } => Some(*message_id),
        _ => None,
    })
    .await;
    println!(
        "[5] {} found {} unreachable and deposited {}/{} messages in its mailboxes",
        nodes[sender].name,
        nodes[off].name,
        deposited.len(),
        offline_ids.len()
    );

    // 4. Bring it back: it fetches its mailboxes.
    nodes[off].start().await?;
    let back = nodes[off].running()?;
    let mut rx = back.subscribe();
    back.wait_for_routing(1, Duration::from_secs(10)).await;
    let _ = back.fetch_mailboxes().await;
    let arrived = wait_for_all(&mut rx, &offline_ids, |e| {
        let NodeEvent::Received {
            message_id,
            text,
            via_mailbox,
            ..
        } = e
        else {
            return None;
        };
        if !offline_ids.contains(message_id) {
            return None;
        }
        let how = if *via_mailbox {
            "from a mailbox"
        } else {
            "directly"
        };
        println!("    {} received {text:?} {how}", nodes[off].name);
        Some(*message_id)
    })
    .await;
    println!(
        "[6] {} is back and received {}/{} messages",
        nodes[off].name,
        arrived.len(),
        offline_ids.len()
    );

    for n in &mut nodes {
        n.stop().await;
    }
    let all = ok == count && arrived.len() == offline_ids.len();
    println!(
        "summary: {ok}/{count} ring messages, {receipts}/{count} receipts, {}/{} offline messages via mailboxes, {:.1} s",
        arrived.len(),
        offline_ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
