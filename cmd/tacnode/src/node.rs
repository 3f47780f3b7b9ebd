//! Wiring of one node: the TOML configuration becomes a [`NodeConfig`], the
//! adapters (SQLite, QUIC, the system clock, the OS generator) become the
//! node's ports, and [`tacnode_usecase::node::Node`] runs over them. Every
//! behaviour lives in `crates/usecase`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tacnode_crypto::keystore::KeystoreSecrets;
use tacnode_domain::UnixMillis;
use tacnode_domain::ports::Clock as _;
use tacnode_store::Store;
use tacnode_transport::{Transport, TransportConfig};
use tacnode_usecase::delivery::DeliveryConfig;
use tacnode_usecase::node::{BootstrapPeer, DhtSettings, MailboxConfig};
pub use tacnode_usecase::node::{
    MAX_SEND_BATCH, NodeConfig, NodeEvent, NodeHandle, NodePorts, NodeStatus,
};

use crate::adapters::SystemClock;
use crate::config::Config;
use tacnode_transport::{QuicIncoming, QuicNetwork};

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

/// The node's settings from the configuration file.
pub fn node_config(config: &Config) -> NodeConfig {
    NodeConfig {
        node_type: config.node.node_type.into(),
        name: config.node.name.clone(),
        advertise: config.node.advertise.clone(),
        bootstrap: config
            .bootstrap_peers()
            .into_iter()
            .map(|p| BootstrapPeer {
                address: p.address,
                endpoint: p.endpoint,
            })
            .collect(),
        delivery: DeliveryConfig {
            initial_backoff_ms: config.delivery.initial_backoff_ms,
            max_backoff_ms: config.delivery.max_backoff_ms,
            deposit_after_ms: config.delivery.deposit_after_ms,
            give_up_after_ms: config.delivery.give_up_after_ms,
        },
        mailbox: MailboxConfig {
            replicas: config.mailbox.replicas,
            ttl_hours: config.mailbox.ttl_hours,
            fetch_interval_secs: config.mailbox.fetch_interval_secs,
            per_recipient_quota: config.mailbox.per_recipient_quota,
            total_megabytes: config.mailbox.total_megabytes,
        },
        dht: DhtSettings {
            k: config.dht.k,
            alpha: config.dht.alpha,
            request_timeout_ms: config.dht.request_timeout_ms,
            record_ttl_hours: config.dht.record_ttl_hours,
            republish_interval_secs: config.dht.republish_interval_secs,
            disjoint_paths: config.dht.disjoint_paths,
        },
    }
}

fn transport_config(config: &Config) -> TransportConfig {
    let t = &config.transport;
    let mut tc = TransportConfig::with_listen(config.node.listen);
    tc.max_connections = t.max_connections;
    tc.max_connections_per_ip = t.max_connections_per_ip;
    tc.max_concurrent_handshakes = t.max_incoming_handshakes;
    tc.max_streams_per_connection = t.max_streams_per_connection;
    tc.idle_timeout = Duration::from_millis(t.idle_timeout_ms);
    tc.keep_alive = Duration::from_millis(t.keep_alive_ms);
    tc.request_timeout = Duration::from_millis(t.request_timeout_ms);
    tc
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
        let store = Store::open(&db, storage_key)
            .with_context(|| format!("cannot open the database {}", db.display()))?;
        // Damage is found now, with the file named, not later as refused mail.
        store
            .quick_check()
            .with_context(|| format!("integrity check of {}", db.display()))?;
        let (transport, inbound) = Transport::bind(transport_config(&config), &identity)
            .map_err(|e| anyhow!("cannot listen on {}: {e}", config.node.listen))?;
        let local = transport
            .local_addr()
            .map_err(|e| anyhow!("local address: {e}"))?;
        let ports = NodePorts {
            identity,
            store: Box::new(store),
            network: QuicNetwork::new(transport, local),
            incoming: Box::new(QuicIncoming(inbound)),
            clock: std::sync::Arc::new(SystemClock),
            rng: os_rng()?,
        };
        let node = tacnode_usecase::node::Node::start(ports, node_config(&config)).await?;
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
