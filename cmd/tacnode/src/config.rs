//! The daemon's TOML configuration. Every key has a documented default (see
//! `deploy/tacnode.example.toml`); unknown keys are errors so typos never pass
//! silently, and every error names the key and the line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tacnode_domain::{NodeType, PeerAddress};

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A `key_…@host:port` entry of the pre-shared peer list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BootstrapPeer {
    pub(crate) address: PeerAddress,
    pub(crate) endpoint: SocketAddr,
}

impl std::str::FromStr for BootstrapPeer {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        let (addr, ep) = s
            .split_once('@')
            .context("expected key_<base58>@host:port")?;
        let address = addr.parse::<PeerAddress>()?;
        let endpoint = ep
            .parse::<SocketAddr>()
            .with_context(|| format!("bad endpoint {ep:?}: expected ip:port"))?;
        Ok(Self { address, endpoint })
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum NodeTypeConfig {
    #[default]
    Server,
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

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct NodeSection {
    /// UDP address to listen on.
    pub(crate) listen: SocketAddr,
    /// Addresses advertised in the peer record (default: `listen` when it is
    /// not a wildcard address).
    pub(crate) advertise: Vec<SocketAddr>,
    /// `server` (always-on, holds mailboxes) or `client` (intermittent).
    pub(crate) node_type: NodeTypeConfig,
    /// Display name published in the peer record metadata.
    pub(crate) name: Option<String>,
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

#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct BootstrapSection {
    /// Pre-shared peers, `key_…@host:port`.
    pub(crate) peers: Vec<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DeliverySection {
    pub(crate) initial_backoff_ms: u64,
    pub(crate) max_backoff_ms: u64,
    pub(crate) deposit_after_ms: u64,
    pub(crate) give_up_after_ms: u64,
}

impl Default for DeliverySection {
    fn default() -> Self {
        let d = tacnode_usecase::delivery::DeliveryConfig::default();
        Self {
            initial_backoff_ms: d.initial_backoff_ms,
            max_backoff_ms: d.max_backoff_ms,
            deposit_after_ms: d.deposit_after_ms,
            give_up_after_ms: d.give_up_after_ms,
        }
    }
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MailboxSection {
    /// Holders a message is deposited at.
    pub(crate) replicas: usize,
    /// How long holders keep a message, hours.
    pub(crate) ttl_hours: u64,
    /// How often the node fetches its own mailboxes, seconds.
    pub(crate) fetch_interval_secs: u64,
    /// Entries held for one recipient.
    pub(crate) per_recipient_quota: u32,
    /// Entries held in total.
    pub(crate) total_quota: u32,
}

impl Default for MailboxSection {
    fn default() -> Self {
        Self {
            replicas: 5,
            ttl_hours: 7 * 24,
            fetch_interval_secs: 60,
            per_recipient_quota: 1_000,
            total_quota: 100_000,
        }
    }
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct DhtSection {
    pub(crate) k: usize,
    pub(crate) alpha: usize,
    pub(crate) request_timeout_ms: u64,
    pub(crate) record_ttl_hours: u64,
    pub(crate) republish_interval_secs: u64,
    pub(crate) disjoint_paths: usize,
}

impl Default for DhtSection {
    fn default() -> Self {
        Self {
            k: 20,
            alpha: 3,
            request_timeout_ms: 5_000,
            record_ttl_hours: 24,
            republish_interval_secs: 3_600,
            disjoint_paths: 1,
        }
    }
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TransportSection {
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: usize,
    pub(crate) max_incoming_handshakes: usize,
    pub(crate) max_streams_per_connection: u32,
    pub(crate) idle_timeout_ms: u64,
    pub(crate) keep_alive_ms: u64,
    pub(crate) request_timeout_ms: u64,
}

impl Default for TransportSection {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_connections_per_ip: 16,
            max_incoming_handshakes: 64,
            max_streams_per_connection: 64,
            idle_timeout_ms: 60_000,
            keep_alive_ms: 15_000,
            request_timeout_ms: 10_000,
        }
    }
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LogSection {
    pub(crate) format: LogFormat,
    /// tracing filter, e.g. `info` or `tacnode=debug`.
    pub(crate) level: String,
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
pub(crate) struct Config {
    pub(crate) node: NodeSection,
    pub(crate) bootstrap: BootstrapSection,
    pub(crate) delivery: DeliverySection,
    pub(crate) mailbox: MailboxSection,
    pub(crate) dht: DhtSection,
    pub(crate) transport: TransportSection,
    pub(crate) log: LogSection,
}

impl Config {
    /// Parses and validates TOML text; `origin` names the file in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self> {
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
    pub(crate) fn load(path: &Path) -> Result<Self> {
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
        if self.mailbox.replicas == 0 || self.mailbox.replicas > 20 {
            bail!("key mailbox.replicas: must be 1..=20");
        }
        if self.dht.k == 0 || self.dht.k > 64 {
            bail!("key dht.k: must be 1..=64");
        }
        if self.dht.alpha == 0 || self.dht.alpha > self.dht.k {
            bail!("key dht.alpha: must be 1..=dht.k");
        }
        if self.dht.disjoint_paths == 0 || self.dht.disjoint_paths > self.dht.alpha {
            bail!("key dht.disjoint_paths: must be 1..=dht.alpha");
        }
        if self.delivery.initial_backoff_ms == 0
            || self.delivery.max_backoff_ms < self.delivery.initial_backoff_ms
        {
            bail!("key delivery.max_backoff_ms: must be >= delivery.initial_backoff_ms > 0");
        }
        if let Some(n) = &self.node.name
            && n.len() > tacnode_domain::MAX_METADATA_VALUE_BYTES
        {
            bail!(
                "key node.name: longer than {} bytes",
                tacnode_domain::MAX_METADATA_VALUE_BYTES
            );
        }
        Ok(())
    }

    /// The parsed pre-shared peers.
    pub(crate) fn bootstrap_peers(&self) -> Vec<BootstrapPeer> {
        self.bootstrap
            .peers
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

/// 1-based line of byte offset `at`.
fn bytecount_lines(text: &[u8], at: usize) -> usize {
    text.iter().take(at).filter(|b| **b == b'\n').count() + 1
}

/// The data directory: `--data-dir`, else `$XDG_DATA_HOME/tacnode`, else
/// `~/.local/share/tacnode`.
pub(crate) fn default_data_dir() -> PathBuf {
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

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../../deploy/tacnode.example.toml");
        Config::parse(text, "example").unwrap();
    }
}
