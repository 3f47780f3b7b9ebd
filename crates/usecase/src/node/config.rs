//! What a node is told at start: the daemon builds it from its TOML file,
//! the simulator from its scenario.

use std::net::{Ipv4Addr, SocketAddr};

use tacnode_domain::{Admission, MemberCertificate, NodeType, PeerAddress};

use crate::delivery::DeliveryConfig;

/// One entry of the pre-shared peer list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootstrapPeer {
    /// The peer's address (its identity).
    pub address: PeerAddress,
    /// Where it listens.
    pub endpoint: SocketAddr,
}

/// Store-and-forward settings (`[mailbox]` of the daemon's TOML file).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailboxConfig {
    /// Holders a message is deposited at.
    pub replicas: usize,
    /// How long holders keep a message, hours.
    pub ttl_hours: u64,
    /// How often the node fetches its own mailboxes, seconds.
    pub fetch_interval_secs: u64,
    /// How long the holders of our own mailbox, once looked up, are fetched
    /// from without a new lookup, seconds (a failed fetch looks them up
    /// again at once). A lookup per fetch was most of an idle node's
    /// traffic.
    pub holder_lookup_interval_secs: u64,
    /// Entries held for one recipient.
    pub per_recipient_quota: u32,
    /// Payload megabytes held for others in total.
    pub total_megabytes: u64,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        Self {
            replicas: 5,
            ttl_hours: 7 * 24,
            fetch_interval_secs: 60,
            holder_lookup_interval_secs: 600,
            per_recipient_quota: 1_000,
            total_megabytes: 256,
        }
    }
}

/// Kademlia settings (`[dht]` of the daemon's TOML file).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DhtSettings {
    /// Bucket size and replication factor.
    pub k: usize,
    /// Requests in flight per lookup.
    pub alpha: usize,
    /// Timeout of one request, ms.
    pub request_timeout_ms: u64,
    /// Lifetime of a stored record unless republished, hours.
    pub record_ttl_hours: u64,
    /// How often our own records are republished, seconds.
    pub republish_interval_secs: u64,
    /// Disjoint lookup paths (S/Kademlia); 1 disables.
    pub disjoint_paths: usize,
}

impl Default for DhtSettings {
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

/// LAN discovery (`[discovery]` of the daemon's TOML file): signed beacons
/// on the named interfaces, so that nodes on one segment find each other
/// without a pre-shared peer list. Off unless `lan` is set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Send and hear beacons.
    pub lan: bool,
    /// The IPv4 addresses of the interfaces beacons go out and are heard
    /// on (the adapter's; the node itself only uses `lan` and
    /// `interval_ms`). Beacons never use an interface not named here.
    pub interfaces: Vec<Ipv4Addr>,
    /// UDP port of the beacons (the adapter's).
    pub port: u16,
    /// How often a beacon is sent, ms, once the first few went out (see
    /// [`crate::discovery`]).
    pub interval_ms: u64,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            lan: false,
            interfaces: Vec::new(),
            port: 4501,
            interval_ms: 5_000,
        }
    }
}

/// Relaying for nodes nobody can dial (`[relay]` of the daemon's TOML
/// file; see [`crate::relay_reservations`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// A server keeps reservations and passes calls to the nodes holding
    /// them (within the limits of [`crate::relay_reservations`]). On by
    /// default: behind a NAT, a client is otherwise reached only through
    /// its mailboxes, at its next fetch.
    pub serve: bool,
    /// Two nodes behind NATs that talk through a relay try to open a
    /// direct connection (see the node's `hole_punch`). Each then learns
    /// the other's public address; never done with `[privacy] mode =
    /// "onion"`, whatever this says.
    pub hole_punching: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            serve: true,
            hole_punching: true,
        }
    }
}

/// How a node's messages travel (`[privacy]` of the daemon's TOML file).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// `direct` (the default: one hop, the network sees who writes to
    /// whom) or `onion` (through relays; see ARCHITECTURE.md, *Onion
    /// routing*).
    pub mode: PrivacyMode,
    /// Relays on an onion path (1 to [`crate::onion_path::MAX_RELAYS`]).
    pub relays: usize,
    /// Mean of the random (exponential) time each relay holds a packet, ms.
    pub mix_delay_ms: u64,
    /// How long an onion-routed message waits for its receipt before it is
    /// sent again over another path, ms.
    pub receipt_wait_ms: u64,
    /// Cover traffic budget with onion routing, bits per second: the node
    /// sends onion packets at random (Poisson) times at this rate, real
    /// ones in the place of cover ones. 0: off (real packets go at once).
    pub cover_bps: u64,
}

/// See [`PrivacyConfig::mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyMode {
    /// Messages go straight to their recipient.
    #[default]
    Direct,
    /// Messages go through relays as onion packets.
    Onion,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            mode: PrivacyMode::Direct,
            relays: 3,
            mix_delay_ms: 50,
            receipt_wait_ms: 10_000,
            cover_bps: 8_000,
        }
    }
}

/// Who may take part (`[admission]` of the daemon's TOML file, resolved):
/// an open network, or a closed one with its admins and this node's
/// member certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Open, or closed with its admins. Revocation lists learned at run
    /// time are kept in the store and applied again at start.
    pub admission: Admission,
    /// This node's member certificate (required in a closed network).
    pub certificate: Option<MemberCertificate>,
    /// How often the admins' revocation lists are looked up in the DHT,
    /// seconds: a revocation is enforced by every node within this
    /// interval (plus one lookup) of its publication.
    pub revocation_fetch_interval_secs: u64,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            admission: Admission::Open,
            certificate: None,
            revocation_fetch_interval_secs: 600,
        }
    }
}

/// Everything a node is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    /// Server (always on, holds mailboxes) or client.
    pub node_type: NodeType,
    /// Display name published in the peer record.
    pub name: Option<String>,
    /// Addresses advertised in the peer record (default: where the network
    /// listens, unless that is a wildcard address).
    pub advertise: Vec<SocketAddr>,
    /// The pre-shared peer list.
    pub bootstrap: Vec<BootstrapPeer>,
    /// Retries and mailbox fallback.
    pub delivery: DeliveryConfig,
    /// Store-and-forward.
    pub mailbox: MailboxConfig,
    /// Kademlia.
    pub dht: DhtSettings,
    /// Open or closed network.
    pub admission: AdmissionConfig,
    /// LAN discovery.
    pub discovery: DiscoveryConfig,
    /// Group channels' overlay timers.
    pub gossip: tacnode_gossip::PlumtreeConfig,
    /// File transfer.
    pub files: super::FilesConfig,
    /// Direct or onion-routed messages.
    pub privacy: PrivacyConfig,
    /// Relaying for nodes nobody can dial.
    pub relay: RelayConfig,
}

impl NodeConfig {
    /// The schedule for a slow IP radio (about 64 kbit/s, 150 ms one way, a
    /// few % loss), where every byte is airtime the team shares: longer
    /// timeouts and retry waits, buckets and lookup answers of 8 instead of
    /// 20 and two lookup requests in flight instead of three, and background
    /// work spread out (records republished every 4 hours, mailboxes fetched
    /// every 5 minutes, their holders looked up hourly) so an idle node
    /// stays within its byte budget. `deploy/radio.example.toml` carries the same values
    /// (a test keeps them equal); the transport's part is
    /// `TransportConfig::radio` in `tacnode-transport`.
    pub fn radio() -> NodeConfig {
        let default = NodeConfig::default();
        NodeConfig {
            delivery: DeliveryConfig {
                initial_backoff_ms: 5_000,
                max_backoff_ms: 600_000,
                deposit_after_ms: 60_000,
                ..default.delivery
            },
            mailbox: MailboxConfig {
                fetch_interval_secs: 300,
                holder_lookup_interval_secs: 3_600,
                ..default.mailbox
            },
            dht: DhtSettings {
                k: 8,
                alpha: 2,
                request_timeout_ms: 15_000,
                republish_interval_secs: 4 * 3_600,
                ..default.dht
            },
            admission: AdmissionConfig {
                revocation_fetch_interval_secs: 3_600,
                ..default.admission
            },
            gossip: tacnode_gossip::PlumtreeConfig::radio(),
            privacy: PrivacyConfig {
                mix_delay_ms: 200,
                receipt_wait_ms: 60_000,
                cover_bps: 1_000,
                ..default.privacy
            },
            files: super::FilesConfig {
                max_bytes: super::files::RADIO_MAX_FILE_BYTES,
                max_receiving_bytes: super::files::RADIO_MAX_RECEIVING_BYTES,
                mailbox_max_bytes: super::files::RADIO_MAILBOX_MAX_BYTES,
                ..super::FilesConfig::default()
            },
            ..default
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            node_type: NodeType::Server,
            name: None,
            advertise: Vec::new(),
            bootstrap: Vec::new(),
            delivery: DeliveryConfig::default(),
            mailbox: MailboxConfig::default(),
            dht: DhtSettings::default(),
            admission: AdmissionConfig::default(),
            discovery: DiscoveryConfig::default(),
            gossip: tacnode_gossip::PlumtreeConfig::default(),
            files: super::FilesConfig::default(),
            privacy: PrivacyConfig::default(),
            relay: RelayConfig::default(),
        }
    }
}
