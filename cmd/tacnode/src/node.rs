//! Wiring of one node: the TOML configuration becomes a [`NodeConfig`], the
//! adapters (SQLite, QUIC, the system clock, the OS generator) become the
//! node's ports, and [`tacnode_usecase::node::Node`] runs over them. Every
//! behaviour lives in `crates/usecase`.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::keystore::KeystoreSecrets;
use tacnode_domain::UnixMillis;
use tacnode_domain::ports::Clock as _;
use tacnode_store::{DiskFiles, QUICK_CHECK_TIME_LIMIT, QuickCheck, Store};
use tacnode_transport::{QuicIncoming, QuicNetwork, Transport, UdpLanBeacon};
pub use tacnode_usecase::node::{
    MAX_SEND_BATCH, NodeConfig, NodeEvent, NodeHandle, NodePorts, NodeStatus,
};

use crate::adapters::SystemClock;
use crate::config::Config;

/// Wall clock (the daemon is where time is read).
pub fn now() -> UnixMillis {
    SystemClock.now()
}

/// A generator seeded from the OS.
pub fn os_rng() -> Result<StdRng> {
    StdRng::try_from_rng(&mut rand::rngs::SysRng).map_err(|e| anyhow!("OS random generator: {e}"))
}

/// What a node needs to start.
pub struct NodeSettings {
    /// Data directory (database, control socket).
    pub data_dir: PathBuf,
    /// Configuration.
    pub config: Config,
    /// Unlocked identity and storage key.
    pub secrets: KeystoreSecrets,
}

/// A running node over QUIC and SQLite.
pub struct Node(tacnode_usecase::node::Node);

impl Node {
    /// Opens the store, binds QUIC, starts every task and bootstraps.
    pub async fn start(settings: NodeSettings) -> Result<Node> {
        let NodeSettings {
            data_dir,
            config,
            secrets,
        } = settings;
        crate::keys::create_private_dir(&data_dir)?;
        let identity = secrets.identity().clone();
        let storage_key = secrets.storage_key().clone();
        let db = data_dir.join("tacnode.db");
        let mut store = Store::open(&db, storage_key)
            .with_context(|| format!("cannot open the database {}", db.display()))?;
        // Damage is found now, with the file named, not later as refused mail.
        let checked = store
            .quick_check(QUICK_CHECK_TIME_LIMIT)
            .with_context(|| format!("integrity check of {}", db.display()))?;
        if let QuickCheck::CutShort { after } = checked {
            // A file too large (or a disk too slow) to check within the
            // limit still starts: refusing would keep the node down.
            tracing::warn!(
                "the integrity check of {} was cut short after {} s (limit {} s): the rest of the file is unchecked; \
                 for a full check, stop the node and run: sqlite3 {} 'PRAGMA integrity_check'",
                db.display(),
                after.as_secs(),
                QUICK_CHECK_TIME_LIMIT.as_secs(),
                db.display()
            );
        }
        let mut node_config = config.node_config();
        let mut transport_config = config.transport_config();
        if node_config.admission.admission.is_closed() {
            let path = config
                .admission
                .certificate
                .clone()
                .unwrap_or_else(|| tacnode_admin::member_certificate_path(&data_dir));
            let certificate = tacnode_admin::read_member_certificate(&path)?;
            transport_config.admission = node_config.admission.admission.clone();
            transport_config.member_certificate = Some(certificate.clone());
            node_config.admission.certificate = Some(certificate);
        }
        let (transport, inbound) = Transport::bind(transport_config, &identity)
            .map_err(|e| anyhow!("cannot listen on {}: {e}", config.node.listen))?;
        let local = transport
            .local_addr()
            .map_err(|e| anyhow!("local address: {e}"))?;
        let d = &node_config.discovery;
        let beacon: Option<Box<dyn tacnode_usecase::ports::LanBeacon>> = if d.lan {
            let socket = UdpLanBeacon::bind(d.port, &d.interfaces)
                .map_err(|e| anyhow!("LAN discovery on port {}: {e}", d.port))?;
            Some(Box::new(socket))
        } else {
            None
        };
        let ports = NodePorts {
            identity,
            store: Box::new(store),
            network: QuicNetwork::new(transport, local),
            incoming: Box::new(QuicIncoming(inbound)),
            clock: std::sync::Arc::new(SystemClock),
            beacon,
            files: std::sync::Arc::new(DiskFiles::new(
                config
                    .files
                    .dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("files")),
            )),
            rng: os_rng()?,
        };
        let node = tacnode_usecase::node::Node::start(ports, node_config).await?;
        Ok(Node(node))
    }

    /// A handle for driving the node.
    pub fn handle(&self) -> NodeHandle {
        self.0.handle()
    }

    /// Stops every task, saves the routing table and closes connections.
    pub async fn shutdown(self) {
        self.0.shutdown().await;
    }
}
