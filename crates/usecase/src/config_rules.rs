//! What a node's configuration must satisfy, and how a pre-shared peer is
//! written (`key_…@host:port`). Keys in the errors are those of the
//! daemon's TOML file, which has the same sections as [`NodeConfig`].

use std::net::{AddrParseError, SocketAddr};
use std::str::FromStr;

use tacnode_domain::{AddressError, MAX_METADATA_VALUE_BYTES, PeerAddress};

use crate::node::{BootstrapPeer, NodeConfig};

/// Most mailbox holders a message is deposited at.
pub const MAX_MAILBOX_REPLICAS: usize = 20;
/// Largest Kademlia bucket size (`dht.k`).
pub const MAX_BUCKET_SIZE: usize = 64;

/// Most interfaces `[discovery]` may name.
pub const MAX_DISCOVERY_INTERFACES: usize = 8;

/// A setting out of its range; `key` is the TOML key (`dht.alpha`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key {key}: {rule}")]
pub struct ConfigError {
    /// The offending key.
    pub key: &'static str,
    /// What it must be.
    pub rule: String,
}

/// A pre-shared peer that does not read as `key_…@host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapPeerError {
    /// No `@`.
    #[error("expected key_<base58>@host:port")]
    MissingEndpoint,
    /// The part before `@` is not an address.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The part after `@` is not `ip:port`.
    #[error("bad endpoint {0:?}: expected ip:port")]
    Endpoint(String, #[source] AddrParseError),
}

impl FromStr for BootstrapPeer {
    type Err = BootstrapPeerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, endpoint) = s
            .split_once('@')
            .ok_or(BootstrapPeerError::MissingEndpoint)?;
        Ok(Self {
            address: address.parse::<PeerAddress>()?,
            endpoint: endpoint
                .parse::<SocketAddr>()
                .map_err(|e| BootstrapPeerError::Endpoint(endpoint.to_owned(), e))?,
        })
    }
}

impl NodeConfig {
    /// Checks every range the node relies on; the first violation is named.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let refuse = |key, rule: String| Err(ConfigError { key, rule });
        let (mailbox, dht, delivery) = (&self.mailbox, &self.dht, &self.delivery);
        if mailbox.replicas == 0 || mailbox.replicas > MAX_MAILBOX_REPLICAS {
            return refuse(
                "mailbox.replicas",
                format!("must be 1..={MAX_MAILBOX_REPLICAS}"),
            );
        }
        if dht.k == 0 || dht.k > MAX_BUCKET_SIZE {
            return refuse("dht.k", format!("must be 1..={MAX_BUCKET_SIZE}"));
        }
        if dht.alpha == 0 || dht.alpha > dht.k {
            return refuse("dht.alpha", "must be 1..=dht.k".into());
        }
        if dht.disjoint_paths == 0 || dht.disjoint_paths > dht.alpha {
            return refuse("dht.disjoint_paths", "must be 1..=dht.alpha".into());
        }
        if delivery.initial_backoff_ms == 0 || delivery.max_backoff_ms < delivery.initial_backoff_ms
        {
            return refuse(
                "delivery.max_backoff_ms",
                "must be >= delivery.initial_backoff_ms > 0".into(),
            );
        }
        let discovery = &self.discovery;
        if discovery.interval_ms < crate::discovery::MIN_BEACON_INTERVAL_MS {
            return refuse(
                "discovery.interval_ms",
                format!(
                    "must be >= {} (beacons are rate-limited)",
                    crate::discovery::MIN_BEACON_INTERVAL_MS
                ),
            );
        }
        if discovery.port == 0 {
            return refuse("discovery.port", "must be 1..=65535".into());
        }
        if discovery.interfaces.len() > MAX_DISCOVERY_INTERFACES {
            return refuse(
                "discovery.interfaces",
                format!("at most {MAX_DISCOVERY_INTERFACES}"),
            );
        }
        let privacy = &self.privacy;
        // At least one relay: with none, packets would go straight to the
        // recipient, as in direct mode but slower.
        if privacy.relays == 0 || privacy.relays > crate::onion_path::MAX_RELAYS {
            return refuse(
                "privacy.relays",
                format!("must be 1..={}", crate::onion_path::MAX_RELAYS),
            );
        }
        if let Err(e) = crate::cover_schedule::CoverSchedule::new(privacy.cover_bps) {
            return refuse("privacy.cover_bps", e.to_string());
        }
        // A fifth of the longest hold: fewer than 1 % of the delays drawn
        // are cut to it (a cut delay would tie a packet's way out of a
        // relay to its way in).
        let hold = u64::from(crate::onion_path::MAX_RELAY_HOLD_MS);
        if privacy.mix_delay_ms.saturating_mul(5) > hold {
            return refuse(
                "privacy.mix_delay_ms",
                format!(
                    "must be at most {} (a fifth of the longest a relay holds a packet)",
                    hold / 5
                ),
            );
        }
        if privacy.receipt_wait_ms == 0 {
            return refuse("privacy.receipt_wait_ms", "must be > 0".into());
        }
        if self
            .name
            .as_ref()
            .is_some_and(|n| n.len() > MAX_METADATA_VALUE_BYTES)
        {
            return refuse(
                "node.name",
                format!("longer than {MAX_METADATA_VALUE_BYTES} bytes"),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_and_named() {
        assert_eq!(NodeConfig::default().validate(), Ok(()));
        assert_eq!(NodeConfig::radio().validate(), Ok(()));
        let mut c = NodeConfig::default();
        c.privacy.relays = 6;
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(e, "key privacy.relays: must be 1..=5");
        let mut c = NodeConfig::default();
        c.privacy.cover_bps = 10;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("key privacy.cover_bps: "), "{e}");
        let mut c = NodeConfig::default();
        c.dht.alpha = c.dht.k + 1;
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(e, "key dht.alpha: must be 1..=dht.k");
        let mut c = NodeConfig::default();
        c.mailbox.replicas = 0;
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(e, "key mailbox.replicas: must be 1..=20");
        let mut c = NodeConfig::default();
        c.discovery.interval_ms = crate::discovery::MIN_BEACON_INTERVAL_MS - 1;
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.starts_with("key discovery.interval_ms: must be >= 1000"),
            "{e}"
        );
    }

    #[test]
    fn a_bootstrap_peer_needs_an_endpoint() {
        assert_eq!(
            "key_x".parse::<BootstrapPeer>(),
            Err(BootstrapPeerError::MissingEndpoint)
        );
        assert!(matches!(
            "key_x@1.2.3.4:5".parse::<BootstrapPeer>(),
            Err(BootstrapPeerError::Address(_))
        ));
    }
}
