use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::admission::MemberCertificate;
use crate::id::{ID_LEN, NodeId};
use crate::keys::{DhPublicKey, IdentityKey, Signature, SignatureError};
use crate::reachability::Reachability;
use crate::time::UnixMillis;

/// Most endpoints one peer record may list.
pub const MAX_ENDPOINTS: usize = 8;
/// Most metadata entries one peer record may carry.
pub const MAX_METADATA_ENTRIES: usize = 16;
/// Longest metadata key, in bytes.
pub const MAX_METADATA_KEY_BYTES: usize = 64;
/// Longest metadata value, in bytes.
pub const MAX_METADATA_VALUE_BYTES: usize = 256;

const PEER_RECORD_CONTEXT: &[u8] = b"tacnode/peer-record/v1\0";
const DEVICE_KEY_CONTEXT: &[u8] = b"tacnode/device-key/v1\0";
const MAILBOX_CONTEXT: &[u8] = b"tacnode/mailbox/v1";
const PREKEY_CONTEXT: &[u8] = b"tacnode/prekeys/v1";

/// Why a peer record was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// `node_id` is not SHA-256 of the identity key.
    #[error("node id does not match the identity key")]
    NodeIdMismatch,
    /// The identity key does not certify the device key.
    #[error("device key certificate: {0}")]
    DeviceKey(SignatureError),
    /// The record signature is invalid.
    #[error("record signature: {0}")]
    Signature(SignatureError),
    /// More than [`MAX_ENDPOINTS`] endpoints.
    #[error("{0} endpoints, the limit is {MAX_ENDPOINTS}")]
    TooManyEndpoints(usize),
    /// More than [`MAX_METADATA_ENTRIES`] metadata entries.
    #[error("{0} metadata entries, the limit is {MAX_METADATA_ENTRIES}")]
    TooManyMetadataEntries(usize),
    /// A metadata key longer than [`MAX_METADATA_KEY_BYTES`].
    #[error("metadata key of {0} bytes, the limit is {MAX_METADATA_KEY_BYTES}")]
    MetadataKeyTooLong(usize),
    /// A metadata value longer than [`MAX_METADATA_VALUE_BYTES`].
    #[error("metadata value of {0} bytes, the limit is {MAX_METADATA_VALUE_BYTES}")]
    MetadataValueTooLong(usize),
}

/// Whether a node is an always-on full node or an intermittent client.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum NodeType {
    /// Always-on: answers DHT requests, sits in routing tables, stores records
    /// and holds mailboxes.
    Server,
    /// Intermittent (laptop, radio): runs lookups and publishes its own record,
    /// but is never put in routing tables and stores nothing for others.
    Client,
}

impl NodeType {
    fn tag(self) -> u8 {
        match self {
            Self::Server => 1,
            Self::Client => 2,
        }
    }
}

/// A UDP address where a node accepts QUIC connections.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Endpoint(pub SocketAddr);

impl Endpoint {
    /// Its canonical bytes in what an identity signs: 4 or 6, the address's
    /// octets, the port (big-endian).
    pub(crate) fn push_signing_bytes(&self, m: &mut Vec<u8>) {
        match self.0 {
            SocketAddr::V4(a) => {
                m.push(4);
                m.extend_from_slice(&a.ip().octets());
            }
            SocketAddr::V6(a) => {
                m.push(6);
                m.extend_from_slice(&a.ip().octets());
            }
        }
        m.extend_from_slice(&self.0.port().to_be_bytes());
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Endpoint {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

/// The content of a peer record before its owner signs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnsignedPeerRecord {
    /// Owner's Ed25519 identity key.
    pub identity_key: IdentityKey,
    /// Owner's X25519 device key.
    pub device_key: DhPublicKey,
    /// Identity key's signature over the device key ([`UnsignedPeerRecord::device_key_message`]).
    pub device_key_signature: Signature,
    /// Where the node listens, then the address peers see it at when that
    /// differs (its NAT's mapping, learnt from at least two peers).
    pub endpoints: Vec<Endpoint>,
    /// Server or client.
    pub node_type: NodeType,
    /// When the owner last published the record.
    pub last_seen: UnixMillis,
    /// Free-form, bounded key/value pairs (e.g. a display name, software version).
    pub metadata: BTreeMap<String, String>,
    /// Strictly increasing per owner; a record with a lower or equal number is stale.
    pub sequence: u64,
    /// In a closed network, the owner's member certificate; covered by the
    /// signature when present (records without one sign the same bytes as
    /// before it existed).
    pub member: Option<MemberCertificate>,
    /// Whether a server could dial the node back (`None`: not found out
    /// yet); covered by the signature when present (records without it
    /// sign the same bytes as before it existed).
    pub reachability: Option<Reachability>,
    /// The relay the node keeps a reservation at, when nobody can dial it
    /// (see [`crate::relay`]); covered by the signature when present
    /// (records without it sign the same bytes as before it existed).
    pub relay: Option<crate::RelayHint>,
}

impl UnsignedPeerRecord {
    /// What the identity key signs to certify `device_key`.
    pub fn device_key_message(device_key: &DhPublicKey) -> Vec<u8> {
        let mut m = Vec::with_capacity(DEVICE_KEY_CONTEXT.len() + 32);
        m.extend_from_slice(DEVICE_KEY_CONTEXT);
        m.extend_from_slice(device_key.as_bytes());
        m
    }

    /// Canonical, domain-separated bytes the owner signs. Independent of the
    /// wire encoding so that re-encoding never breaks a signature.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(256);
        m.extend_from_slice(PEER_RECORD_CONTEXT);
        m.extend_from_slice(self.identity_key.as_bytes());
        m.extend_from_slice(self.device_key.as_bytes());
        m.extend_from_slice(self.device_key_signature.as_bytes());
        m.push(self.node_type.tag());
        m.extend_from_slice(&self.last_seen.0.to_be_bytes());
        m.extend_from_slice(&self.sequence.to_be_bytes());
        push_len(&mut m, self.endpoints.len());
        for e in &self.endpoints {
            e.push_signing_bytes(&mut m);
        }
        push_len(&mut m, self.metadata.len());
        for (k, v) in &self.metadata {
            push_len(&mut m, k.len());
            m.extend_from_slice(k.as_bytes());
            push_len(&mut m, v.len());
            m.extend_from_slice(v.as_bytes());
        }
        // Appended only when present, so records without one keep their bytes.
        if let Some(c) = &self.member {
            m.push(1);
            m.extend_from_slice(&MemberCertificate::signing_bytes(
                &c.admin,
                &c.member,
                c.role,
                c.not_after,
                &c.name,
            ));
            m.extend_from_slice(c.signature.as_bytes());
        }
        // Appended only when present, after a tag of its own: a record
        // without it keeps its bytes, and one with both cannot be read as
        // one with the other alone.
        if let Some(r) = self.reachability {
            m.push(2);
            m.push(r.tag());
        }
        if let Some(r) = &self.relay {
            m.push(3);
            m.extend_from_slice(r.node_id.as_bytes());
            Endpoint(r.endpoint).push_signing_bytes(&mut m);
        }
        m
    }

    /// Checks the size limits.
    pub fn check_limits(&self) -> Result<(), RecordError> {
        if self.endpoints.len() > MAX_ENDPOINTS {
            return Err(RecordError::TooManyEndpoints(self.endpoints.len()));
        }
        if self.metadata.len() > MAX_METADATA_ENTRIES {
            return Err(RecordError::TooManyMetadataEntries(self.metadata.len()));
        }
        for (k, v) in &self.metadata {
            if k.len() > MAX_METADATA_KEY_BYTES {
                return Err(RecordError::MetadataKeyTooLong(k.len()));
            }
            if v.len() > MAX_METADATA_VALUE_BYTES {
                return Err(RecordError::MetadataValueTooLong(v.len()));
            }
        }
        Ok(())
    }

    /// Attaches the owner's signature over [`UnsignedPeerRecord::signing_bytes`].
    /// Nothing is checked here; receivers call [`PeerRecord::verify`].
    pub fn with_signature(self, signature: Signature) -> PeerRecord {
        PeerRecord {
            node_id: NodeId::from_identity(&self.identity_key),
            body: self,
            signature,
        }
    }
}

// Lengths are bounded by the limits above, far below u16::MAX; saturate rather than panic.
fn push_len(m: &mut Vec<u8>, len: usize) {
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    m.extend_from_slice(&len.to_be_bytes());
}

/// A signed entry of the distributed public-key registry: who a node is and
/// where to reach it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PeerRecord {
    /// SHA-256 of `body.identity_key`; the DHT key the record is stored under.
    pub node_id: NodeId,
    /// The signed content.
    pub body: UnsignedPeerRecord,
    /// Identity key's signature over `body.signing_bytes()`.
    pub signature: Signature,
}

impl PeerRecord {
    /// Full validation: id binding, device key certificate, limits, signature.
    pub fn verify(&self) -> Result<(), RecordError> {
        if self.node_id != NodeId::from_identity(&self.body.identity_key) {
            return Err(RecordError::NodeIdMismatch);
        }
        self.body.check_limits()?;
        self.body
            .identity_key
            .verify(
                &UnsignedPeerRecord::device_key_message(&self.body.device_key),
                &self.body.device_key_signature,
            )
            .map_err(RecordError::DeviceKey)?;
        self.body
            .identity_key
            .verify(&self.body.signing_bytes(), &self.signature)
            .map_err(RecordError::Signature)
    }
}

/// DHT key of `recipient`'s mailbox: SHA-256("tacnode/mailbox/v1" ‖ node id).
pub fn mailbox_key(recipient: &NodeId) -> NodeId {
    derived_key(MAILBOX_CONTEXT, recipient)
}

/// DHT key of `owner`'s published prekey bundle: SHA-256("tacnode/prekeys/v1" ‖ node id).
pub fn prekey_record_key(owner: &NodeId) -> NodeId {
    derived_key(PREKEY_CONTEXT, owner)
}

fn derived_key(context: &[u8], id: &NodeId) -> NodeId {
    let mut h = Sha256::new();
    h.update(context);
    h.update(id.as_bytes());
    let out: [u8; ID_LEN] = h.finalize().into();
    NodeId::from_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn sign(sk: &SigningKey, m: &[u8]) -> Signature {
        Signature(sk.sign(m).to_bytes())
    }

    fn record(sk: &SigningKey) -> PeerRecord {
        let identity_key = IdentityKey::from(sk.verifying_key());
        let device_key = DhPublicKey([9; 32]);
        let body = UnsignedPeerRecord {
            identity_key,
            device_key,
            device_key_signature: sign(sk, &UnsignedPeerRecord::device_key_message(&device_key)),
            endpoints: vec![
                "127.0.0.1:4000".parse().unwrap(),
                "[::1]:4001".parse().unwrap(),
            ],
            node_type: NodeType::Server,
            last_seen: UnixMillis(1_700_000_000_000),
            metadata: BTreeMap::from([("name".into(), "alpha".into())]),
            sequence: 7,
            member: None,
            reachability: None,
            relay: None,
        };
        let sig = sign(sk, &body.signing_bytes());
        body.with_signature(sig)
    }

    #[test]
    fn signed_record_verifies_and_tampering_is_caught() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let r = record(&sk);
        r.verify().unwrap();

        let mut t = r.clone();
        t.body.sequence += 1;
        assert!(matches!(t.verify(), Err(RecordError::Signature(_))));

        let mut t = r.clone();
        t.body.device_key = DhPublicKey([8; 32]);
        assert!(matches!(t.verify(), Err(RecordError::DeviceKey(_))));

        let mut t = r.clone();
        t.node_id = NodeId::from_bytes([0; 32]);
        assert_eq!(t.verify(), Err(RecordError::NodeIdMismatch));

        let mut t = r.clone();
        t.body.reachability = Some(Reachability::Public);
        assert!(matches!(t.verify(), Err(RecordError::Signature(_))));

        let mut t = r;
        t.body.endpoints = vec!["127.0.0.1:1".parse().unwrap(); MAX_ENDPOINTS + 1];
        assert_eq!(
            t.verify(),
            Err(RecordError::TooManyEndpoints(MAX_ENDPOINTS + 1))
        );
    }

    #[test]
    fn reachability_is_signed_and_a_record_without_it_keeps_its_bytes() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let r = record(&sk);
        let before = r.body.signing_bytes();
        let mut body = r.body.clone();
        body.reachability = Some(Reachability::Private);
        let with = body.signing_bytes();
        assert_eq!(with.get(..before.len()), Some(before.as_slice()));
        assert_eq!(with.get(before.len()..), Some([2, 2].as_slice()));
        let signed = body.clone().with_signature(sign(&sk, &with));
        signed.verify().unwrap();
        let mut flipped = signed;
        flipped.body.reachability = Some(Reachability::Public);
        assert!(matches!(flipped.verify(), Err(RecordError::Signature(_))));
    }

    #[test]
    fn the_relay_is_signed_and_a_record_without_it_keeps_its_bytes() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let r = record(&sk);
        let before = r.body.signing_bytes();
        let mut body = r.body.clone();
        body.relay = Some(crate::RelayHint {
            node_id: NodeId::from_bytes([5; 32]),
            endpoint: "10.0.0.1:4500".parse().unwrap(),
        });
        let with = body.signing_bytes();
        assert_eq!(with.get(..before.len()), Some(before.as_slice()));
        assert_eq!(with.get(before.len()), Some(&3));
        let signed = body.clone().with_signature(sign(&sk, &with));
        signed.verify().unwrap();
        for tampered in [
            crate::RelayHint {
                node_id: NodeId::from_bytes([6; 32]),
                endpoint: "10.0.0.1:4500".parse().unwrap(),
            },
            crate::RelayHint {
                node_id: NodeId::from_bytes([5; 32]),
                endpoint: "10.0.0.2:4500".parse().unwrap(),
            },
        ] {
            let mut t = signed.clone();
            t.body.relay = Some(tampered);
            assert!(matches!(t.verify(), Err(RecordError::Signature(_))));
        }
        let mut dropped = signed;
        dropped.body.relay = None;
        assert!(matches!(dropped.verify(), Err(RecordError::Signature(_))));
    }

    #[test]
    fn record_signed_by_another_key_is_rejected() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let mut r = record(&sk);
        r.signature = sign(&other, &r.body.signing_bytes());
        assert!(matches!(r.verify(), Err(RecordError::Signature(_))));
    }

    #[test]
    fn derived_keys_differ_per_purpose() {
        let id = NodeId::from_bytes([1; 32]);
        assert_ne!(mailbox_key(&id), prekey_record_key(&id));
        assert_ne!(mailbox_key(&id), id);
    }
}
