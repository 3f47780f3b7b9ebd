//! Harness for tacnode's multi-node integration tests (in `tests/`): start
//! real nodes on 127.0.0.1 with fresh data directories, stop and restart
//! them, and wait for events.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use rand::SeedableRng;
use tacnode::config::Config;
use tacnode::demo::demo_config;
use tacnode::node::{Node, NodeEvent, NodeHandle, NodeSettings};
use tacnode_crypto::keystore::KeystoreSecrets;
use tokio::sync::broadcast;

/// One node of a test network, restartable with the same identity and data.
pub struct TestNode {
    /// Its data directory.
    pub dir: PathBuf,
    /// Its identity and storage key.
    pub secrets: KeystoreSecrets,
    /// Its configuration (the listen port is fixed after the first start).
    pub config: Config,
    node: Option<Node>,
}

impl TestNode {
    /// A node (not started) under `root`, bootstrapping from `bootstrap`.
    pub fn new(
        root: &std::path::Path,
        name: &str,
        seed: u64,
        bootstrap: Option<&TestNode>,
    ) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let secrets = KeystoreSecrets::generate(&mut rng);
        let bootstrap = bootstrap.map(TestNode::locator);
        Self {
            dir: root.join(name),
            secrets,
            config: demo_config(SocketAddr::from(([127, 0, 0, 1], 0)), bootstrap),
            node: None,
        }
    }

    /// `key_…@ip:port` of a started node.
    pub fn locator(&self) -> String {
        format!(
            "{}@{}",
            self.secrets.identity().address(),
            self.config.node.listen
        )
    }

    /// Starts (or restarts) the node.
    pub async fn start(&mut self) -> Result<NodeHandle> {
        let node = Node::start(NodeSettings {
            data_dir: self.dir.clone(),
            config: self.config.clone(),
            secrets: self.secrets.clone(),
        })
        .await
        .context("node start")?;
        self.config.node.listen = node.handle().local_addr();
        let h = node.handle();
        self.node = Some(node);
        Ok(h)
    }

    /// Stops the node gracefully.
    pub async fn stop(&mut self) {
        if let Some(n) = self.node.take() {
            n.shutdown().await;
        }
    }

    /// Handle of the running node (`None` while stopped).
    pub fn handle(&self) -> Option<NodeHandle> {
        self.node.as_ref().map(Node::handle)
    }

    /// Its `key_…` address.
    pub fn address(&self) -> String {
        self.secrets.identity().address().to_string()
    }
}

/// Waits for an event matching `want`, at most `timeout`.
pub async fn wait_event<F>(
    rx: &mut broadcast::Receiver<NodeEvent>,
    timeout: Duration,
    mut want: F,
) -> bool
where
    F: FnMut(&NodeEvent) -> bool,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if want(&e) => return true,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            _ => return false,
        }
    }
}

/// Polls `check` every 50 ms until it is true or `timeout` passes.
pub async fn eventually<F>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> bool,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}
