//! The daemon's TOML configuration. Every key has a documented default (see
//! `deploy/tacnode.example.toml`); unknown keys are errors so typos never pass
//! silently, and every error names the key and the line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tacnode_domain::{Admission, ClosedNetwork, NodeType, PeerAddress};
use tacnode_transport::TransportConfig;
use tacnode_usecase::delivery::DeliveryConfig;
use tacnode_usecase::node::{
    AdmissionConfig, BootstrapPeer, DhtSettings, DiscoveryConfig, MailboxConfig, NodeConfig,
    PlumtreeConfig, PrivacyConfig, RelayConfig,
};

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// `node.node_type`.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeTypeConfig {
    /// Always-on full node.
    #[default]
    Server,
    /// Intermittent node.
    Client,
}

impl From<NodeTypeConfig> for NodeType {
    fn from(t: NodeTypeConfig) -> Self {
        match t {
            NodeTypeConfig::Server => NodeType::Server,
            NodeTypeConfig::Client => NodeType::Client,
        }
    }
}

/// `log.format`.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[node]`: identity on the network.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// Addresses advertised in the peer record (default: `listen` when it is
    /// not a wildcard address).
    pub advertise: Vec<SocketAddr>,
    /// `server` (always-on, holds mailboxes) or `client` (intermittent).
    pub node_type: NodeTypeConfig,
    /// Display name published in the peer record metadata.
    pub name: Option<String>,
}

impl Default for NodeSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 4500)),
            advertise: Vec::new(),
            node_type: NodeTypeConfig::Server,
            name: None,
        }
    }
}

/// `[bootstrap]`: the pre-shared peer list.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BootstrapSection {
    /// Pre-shared peers, `key_…@host:port`.
    pub peers: Vec<String>,
}

/// `[transport]`: QUIC limits and timers.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TransportSection {
    /// Open connections at most.
    pub max_connections: usize,
    /// Connections from one remote IP at most.
    pub max_connections_per_ip: usize,
    /// Concurrent incoming handshakes at most.
    pub max_incoming_handshakes: usize,
    /// Our own dials starting at once at most (radio: 2).
    pub max_concurrent_dials: usize,
    /// Concurrent streams a peer may open.
    pub max_streams_per_connection: u32,
    /// Idle connections close after this long, ms.
    pub idle_timeout_ms: u64,
    /// Keep-alive interval, ms (0: none).
    pub keep_alive_ms: u64,
    /// Deadline of one handshake, ms.
    pub handshake_timeout_ms: u64,
    /// Connections nothing used for this long close, ms (0: never).
    pub linger_ms: u64,
    /// Probe new connections for a path MTU above 1,200 bytes.
    pub mtu_discovery: bool,
    /// Timeout of one request, ms.
    pub request_timeout_ms: u64,
}

impl Default for TransportSection {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_connections_per_ip: 16,
            max_incoming_handshakes: 64,
            max_concurrent_dials: tacnode_transport::DEFAULT_MAX_CONCURRENT_DIALS,
            max_streams_per_connection: 64,
            idle_timeout_ms: 60_000,
            keep_alive_ms: 15_000,
            handshake_timeout_ms: 5_000,
            linger_ms: 120_000,
            mtu_discovery: true,
            request_timeout_ms: 10_000,
        }
    }
}

/// `[log]`: logging.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: LogFormat,
    /// tracing filter, e.g. `info` or `tacnode=debug`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// The whole file.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[node]`
    pub node: NodeSection,
    /// `[bootstrap]`
    pub bootstrap: BootstrapSection,
    /// `[delivery]`
    pub delivery: DeliveryConfig,
    /// `[mailbox]`
    pub mailbox: MailboxConfig,
    /// `[dht]`
    pub dht: DhtSettings,
    /// `[transport]`
    pub transport: TransportSection,
    /// `[log]`
    pub log: LogSection,
    /// `[admission]`
    pub admission: AdmissionSection,
    /// `[discovery]`
    pub discovery: DiscoveryConfig,
    /// `[groups]`
    pub groups: GroupsSection,
    /// `[files]`
    pub files: FilesSection,
    /// `[privacy]`
    pub privacy: PrivacyConfig,
    /// `[relay]`
    pub relay: RelayConfig,
}

/// `[files]`: file transfer.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FilesSection {
    /// Largest file sent or taken, in bytes; a larger offer is refused.
    pub max_bytes: u64,
    /// Most bytes of all the files still arriving at once.
    pub max_receiving_bytes: u64,
    /// Least time between two syncs of a file arriving, ms.
    pub sync_interval_ms: u64,
    /// Largest file whose blocks follow its offer into mailboxes.
    pub mailbox_max_bytes: u64,
    /// Where received files go (default: `files` in the data directory).
    pub dir: Option<std::path::PathBuf>,
}

impl Default for FilesSection {
    fn default() -> Self {
        Self {
            max_bytes: tacnode_usecase::node::DEFAULT_MAX_FILE_BYTES,
            max_receiving_bytes: tacnode_usecase::node::DEFAULT_MAX_RECEIVING_BYTES,
            sync_interval_ms: tacnode_usecase::node::DEFAULT_SYNC_INTERVAL_MS,
            mailbox_max_bytes: tacnode_domain::file_transfer::MAILBOX_FILE_BYTES,
            dir: None,
        }
    }
}

/// `[groups]`: the group channels' overlay timers.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsSection {
    /// Wait for an announced message's push before asking for it, ms.
    pub graft_timeout_ms: u64,
    /// Up to this much more, per member and message, ms.
    pub graft_jitter_ms: u64,
    /// Wait for an asked member before asking the next, ms.
    pub graft_retry_ms: u64,
    /// Announcements wait this long to go together, ms.
    pub lazy_flush_ms: u64,
    /// Messages are kept this long to repair members that were away, ms.
    pub cache_ttl_ms: u64,
}

impl Default for GroupsSection {
    fn default() -> Self {
        let d = PlumtreeConfig::default();
        Self {
            graft_timeout_ms: d.graft_timeout_ms,
            graft_jitter_ms: d.graft_jitter_ms,
            graft_retry_ms: d.graft_retry_ms,
            lazy_flush_ms: d.lazy_flush_ms,
            cache_ttl_ms: d.cache_ttl_ms,
        }
    }
}

/// `[admission]`: no admins is an open network; with admins, a closed one
/// that admits holders of a member certificate one of them signed.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionSection {
    /// Admin keys (`key_…` addresses); empty: an open network.
    pub admins: Vec<String>,
    /// This node's member certificate (default `<data-dir>/member.cert`).
    pub certificate: Option<PathBuf>,
    /// How often the admins' revocation lists are looked up, seconds.
    pub revocation_fetch_interval_secs: u64,
}

impl Default for AdmissionSection {
    fn default() -> Self {
        Self {
            admins: Vec::new(),
            certificate: None,
            revocation_fetch_interval_secs: AdmissionConfig::default()
                .revocation_fetch_interval_secs,
        }
    }
}

impl Config {
    /// Parses and validates TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| bytecount_lines(text.as_bytes(), s.start));
            match line {
                Some(l) => anyhow::anyhow!("{origin}: line {l}: {}", e.message()),
                None => anyhow::anyhow!("{origin}: {}", e.message()),
            }
        })?;
        config.validate().with_context(|| origin.to_owned())?;
        Ok(config)
    }

    /// Reads and parses a file (bounded size).
    pub fn load(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            bail!(
                "config {} is {} bytes, the limit is {MAX_CONFIG_BYTES}",
                path.display(),
                meta.len()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    fn validate(&self) -> Result<()> {
        for (i, p) in self.bootstrap.peers.iter().enumerate() {
            p.parse::<BootstrapPeer>()
                .with_context(|| format!("key bootstrap.peers[{i}]: {p:?}"))?;
        }
        self.admission()?;
        self.node_config().validate()?;
        // A bare word is a *target* to tracing ("verbose" enables only a
        // target named verbose, silencing everything else): require levels.
        let levels = ["off", "error", "warn", "info", "debug", "trace"];
        let bad = self.log.level.split(',').map(str::trim).find(|d| {
            let level = d.rsplit_once('=').map_or(*d, |(_, l)| l);
            !levels.contains(&level.to_ascii_lowercase().as_str())
        });
        if bad.is_some() || tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            bail!(
                "key log.level: {:?} is not a log filter; use error, warn, info, debug, trace, \
                 or directives such as \"info,tacnode=debug\"",
                self.log.level
            );
        }
        Ok(())
    }

    /// The parsed pre-shared peers.
    pub fn bootstrap_peers(&self) -> Vec<BootstrapPeer> {
        self.bootstrap
            .peers
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Open, or closed with the configured admins.
    pub fn admission(&self) -> Result<Admission> {
        if self.admission.admins.is_empty() {
            return Ok(Admission::Open);
        }
        let admins = self
            .admission
            .admins
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.parse::<PeerAddress>()
                    .map(|a| *a.identity_key())
                    .with_context(|| format!("key admission.admins[{i}]: {a:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Admission::Closed(
            ClosedNetwork::new(admins).context("key admission.admins")?,
        ))
    }

    /// The node's settings (in a closed network without the member
    /// certificate, which [`crate::node::Node::start`] reads).
    pub fn node_config(&self) -> NodeConfig {
        NodeConfig {
            node_type: self.node.node_type.into(),
            name: self.node.name.clone(),
            advertise: self.node.advertise.clone(),
            bootstrap: self.bootstrap_peers(),
            delivery: self.delivery,
            mailbox: self.mailbox.clone(),
            dht: self.dht.clone(),
            admission: AdmissionConfig {
                admission: self.admission().unwrap_or_default(),
                certificate: None,
                revocation_fetch_interval_secs: self.admission.revocation_fetch_interval_secs,
            },
            discovery: self.discovery.clone(),
            privacy: self.privacy.clone(),
            relay: self.relay.clone(),
            files: tacnode_usecase::node::FilesConfig {
                max_bytes: self.files.max_bytes,
                max_receiving_bytes: self.files.max_receiving_bytes,
                sync_interval_ms: self.files.sync_interval_ms,
                mailbox_max_bytes: self.files.mailbox_max_bytes,
            },
            gossip: PlumtreeConfig {
                graft_timeout_ms: self.groups.graft_timeout_ms,
                graft_jitter_ms: self.groups.graft_jitter_ms,
                graft_retry_ms: self.groups.graft_retry_ms,
                lazy_flush_ms: self.groups.lazy_flush_ms,
                cache_ttl_ms: self.groups.cache_ttl_ms,
            },
        }
    }

    /// The QUIC transport's settings.
    pub fn transport_config(&self) -> TransportConfig {
        let t = &self.transport;
        let mut tc = TransportConfig::with_listen(self.node.listen);
        tc.max_connections = t.max_connections;
        tc.max_connections_per_ip = t.max_connections_per_ip;
        tc.max_concurrent_handshakes = t.max_incoming_handshakes;
        tc.max_concurrent_dials = t.max_concurrent_dials;
        tc.max_streams_per_connection = t.max_streams_per_connection;
        tc.idle_timeout = Duration::from_millis(t.idle_timeout_ms);
        tc.keep_alive = Duration::from_millis(t.keep_alive_ms);
        tc.linger = Duration::from_millis(t.linger_ms);
        tc.mtu_discovery = t.mtu_discovery;
        tc.handshake_timeout = Duration::from_millis(t.handshake_timeout_ms);
        tc.request_timeout = Duration::from_millis(t.request_timeout_ms);
        tc
    }
}

/// 1-based line of byte offset `at`.
fn bytecount_lines(text: &[u8], at: usize) -> usize {
    text.iter().take(at).filter(|b| **b == b'\n').count() + 1
}

/// The data directory: `--data-dir`, else `$XDG_DATA_HOME/tacnode`, else
/// `~/.local/share/tacnode`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("tacnode");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/tacnode");
    }
    PathBuf::from("tacnode-data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("", "t").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = Config::parse(
            "[node]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n",
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let err = Config::parse("[node]\nnode_type = \"laptop\"\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = format!(
            "{:#}",
            Config::parse("[bootstrap]\npeers = [\"nope@1.2.3.4:5\"]\n", "t.toml").unwrap_err()
        );
        assert!(err.contains("bootstrap.peers[0]"), "{err}");
    }

    /// `log.level = "verbose"` used to silence the daemon entirely (issue
    /// #17, bug 4): it is refused with the key and what is valid.
    #[test]
    fn an_invalid_log_level_is_refused() {
        let err = format!(
            "{:#}",
            Config::parse("[log]\nlevel = \"verbose\"\n", "t.toml").unwrap_err()
        );
        assert!(
            err.contains("log.level") && err.contains("verbose"),
            "{err}"
        );
        Config::parse("[log]\nlevel = \"info,tacnode=debug\"\n", "t.toml").unwrap();
    }

    #[test]
    fn example_configs_parse() {
        let text = include_str!("../../../deploy/tacnode.example.toml");
        Config::parse(text, "example").unwrap();
        // The radio example is the radio schedule the simulator measures.
        let radio = include_str!("../../../deploy/radio.example.toml");
        let radio = Config::parse(radio, "radio").unwrap();
        let (node, want) = (radio.node_config(), NodeConfig::radio());
        assert_eq!(
            (node.delivery, node.mailbox, node.dht, node.admission),
            (want.delivery, want.mailbox, want.dht, want.admission)
        );
        assert_eq!(node.files, want.files);
        let (t, want) = (radio.transport_config(), TransportConfig::radio());
        assert_eq!(
            (t.keep_alive, t.idle_timeout, t.linger, t.request_timeout),
            (
                want.keep_alive,
                want.idle_timeout,
                want.linger,
                want.request_timeout
            )
        );
        assert_eq!(
            (
                t.handshake_timeout,
                t.max_connections,
                t.mtu_discovery,
                t.max_concurrent_dials
            ),
            (
                want.handshake_timeout,
                want.max_connections,
                want.mtu_discovery,
                want.max_concurrent_dials
            )
        );
    }
}
