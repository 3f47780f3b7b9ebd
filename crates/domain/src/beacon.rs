//! LAN beacons: a node announcing itself on its network segment so that
//! nodes without a pre-shared peer list find each other.
//!
//! A beacon is signed by the sender's identity over canonical,
//! domain-separated bytes ([`UnsignedBeacon::signing_bytes`]), never over
//! its encoding. It only says "dial me here": the QUIC handshake that
//! follows is what authenticates the sender.

use crate::id::NodeId;
use crate::keys::{IdentityKey, Signature, SignatureError};
use crate::record::{Endpoint, NodeType};
use crate::time::UnixMillis;

/// Most endpoints one beacon may list (a beacon must fit one small
/// datagram).
pub const MAX_BEACON_ENDPOINTS: usize = 4;
/// Largest encoded beacon, bytes: anything longer is refused before it is
/// parsed.
pub const MAX_BEACON_BYTES: usize = 512;

const BEACON_CONTEXT: &[u8] = b"tacnode/lan-beacon/v1\0";

/// Why a beacon was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BeaconError {
    /// More than [`MAX_BEACON_ENDPOINTS`] endpoints.
    #[error("{0} endpoints, the limit is {MAX_BEACON_ENDPOINTS}")]
    TooManyEndpoints(usize),
    /// The QUIC port is 0.
    #[error("the QUIC port is 0")]
    NoPort,
    /// The signature does not verify under the beacon's identity key.
    #[error("beacon signature: {0}")]
    Signature(SignatureError),
}

/// What a beacon says before its sender signs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnsignedBeacon {
    /// The sender's Ed25519 identity key.
    pub identity_key: IdentityKey,
    /// Server or client.
    pub node_type: NodeType,
    /// The UDP port QUIC listens on, at the address the beacon came from
    /// (a node listening on a wildcard address advertises no endpoint).
    pub port: u16,
    /// Where the node says it listens besides (its advertised endpoints).
    pub endpoints: Vec<Endpoint>,
    /// Strictly increasing per sender (across restarts too: it starts from
    /// the sender's clock).
    pub sequence: u64,
    /// The sender's clock when it sent the beacon.
    pub time: UnixMillis,
}

impl UnsignedBeacon {
    /// Canonical, domain-separated bytes the sender signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(BEACON_CONTEXT.len() + 32 + 1 + 2 + 8 + 8 + 1 + 19 * 4);
        m.extend_from_slice(BEACON_CONTEXT);
        m.extend_from_slice(self.identity_key.as_bytes());
        m.push(match self.node_type {
            NodeType::Server => 1,
            NodeType::Client => 2,
        });
        m.extend_from_slice(&self.port.to_be_bytes());
        m.extend_from_slice(&self.sequence.to_be_bytes());
        m.extend_from_slice(&self.time.0.to_be_bytes());
        // Bounded by MAX_BEACON_ENDPOINTS when verified; saturate rather
        // than panic when signing something oversized.
        m.push(u8::try_from(self.endpoints.len()).unwrap_or(u8::MAX));
        for e in &self.endpoints {
            e.push_signing_bytes(&mut m);
        }
        m
    }

    /// Attaches the sender's signature over [`UnsignedBeacon::signing_bytes`].
    pub fn with_signature(self, signature: Signature) -> Beacon {
        Beacon {
            body: self,
            signature,
        }
    }
}

/// A signed beacon.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Beacon {
    /// The signed content.
    pub body: UnsignedBeacon,
    /// The identity key's signature over `body.signing_bytes()`.
    pub signature: Signature,
}

impl Beacon {
    /// The sender's node id.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_identity(&self.body.identity_key)
    }

    /// Limits, then the signature (strict Ed25519).
    pub fn verify(&self) -> Result<(), BeaconError> {
        if self.body.endpoints.len() > MAX_BEACON_ENDPOINTS {
            return Err(BeaconError::TooManyEndpoints(self.body.endpoints.len()));
        }
        if self.body.port == 0 {
            return Err(BeaconError::NoPort);
        }
        self.body
            .identity_key
            .verify(&self.body.signing_bytes(), &self.signature)
            .map_err(BeaconError::Signature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn beacon(sk: &SigningKey) -> Beacon {
        let body = UnsignedBeacon {
            identity_key: IdentityKey::from(sk.verifying_key()),
            node_type: NodeType::Server,
            port: 4500,
            endpoints: vec![Endpoint("192.168.1.7:4500".parse().unwrap())],
            sequence: 9,
            time: UnixMillis(1_700_000_000_000),
        };
        let sig = Signature(sk.sign(&body.signing_bytes()).to_bytes());
        body.with_signature(sig)
    }

    #[test]
    fn a_signed_beacon_verifies_and_every_field_is_covered() {
        let sk = SigningKey::from_bytes(&[3; 32]);
        let b = beacon(&sk);
        b.verify().unwrap();
        let edits: [fn(&mut UnsignedBeacon); 5] = [
            |b| b.node_type = NodeType::Client,
            |b| b.port = 4501,
            |b| b.sequence += 1,
            |b| b.time = UnixMillis(b.time.0 + 1),
            |b| b.endpoints[0] = Endpoint("192.168.1.8:4500".parse().unwrap()),
        ];
        for edit in edits {
            let mut t = b.clone();
            edit(&mut t.body);
            assert!(matches!(t.verify(), Err(BeaconError::Signature(_))));
        }
    }

    #[test]
    fn limits_are_checked_before_the_signature() {
        let sk = SigningKey::from_bytes(&[3; 32]);
        let mut b = beacon(&sk);
        b.body.endpoints = vec![b.body.endpoints[0]; MAX_BEACON_ENDPOINTS + 1];
        assert_eq!(
            b.verify(),
            Err(BeaconError::TooManyEndpoints(MAX_BEACON_ENDPOINTS + 1))
        );
        let mut b = beacon(&sk);
        b.body.port = 0;
        assert_eq!(b.verify(), Err(BeaconError::NoPort));
    }

    #[test]
    fn the_signing_bytes_are_domain_separated() {
        let sk = SigningKey::from_bytes(&[3; 32]);
        assert!(beacon(&sk).body.signing_bytes().starts_with(BEACON_CONTEXT));
    }
}
