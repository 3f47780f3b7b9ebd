//! The dual-identity model: an Ed25519 signing key is the user identity; an
//! X25519 device key, certified by an identity signature, is used for X3DH.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};
use rand_core::CryptoRng;
use tacnode_domain::{
    DhPublicKey, IdentityKey, NodeId, PeerAddress, PeerRecord, Signature, UnsignedPeerRecord,
};
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// HKDF salt of [`Identity::endpoint_secret`].
const ENDPOINT_SECRET_SALT: &[u8] = b"tacnode/endpoint-secret/v1";

/// What an [`Identity::endpoint_secret`] is for; each has its own label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointSecret {
    /// The QUIC stateless-reset key.
    StatelessReset,
    /// The key of the QUIC connection-id checksum.
    ConnectionIdChecksum,
}

impl EndpointSecret {
    fn label(self) -> &'static [u8] {
        match self {
            EndpointSecret::StatelessReset => b"tacnode/quic-stateless-reset/v1",
            EndpointSecret::ConnectionIdChecksum => b"tacnode/quic-cid-checksum/v1",
        }
    }
}

/// A node's long-term secret identity.
///
/// Both secrets are zeroized on drop (the dalek types do it themselves) and
/// never printed.
#[derive(Clone, ZeroizeOnDrop)]
pub struct Identity {
    signing: SigningKey,
    device: StaticSecret,
    // Cached: deriving public keys costs a scalar multiplication each.
    #[zeroize(skip)]
    identity_key: IdentityKey,
    #[zeroize(skip)]
    device_key: DhPublicKey,
    #[zeroize(skip)]
    device_key_signature: Signature,
}

impl Identity {
    /// Generates a fresh identity from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let signing = SigningKey::generate(rng);
        let device = StaticSecret::random_from_rng(rng);
        Self::from_parts(signing, device)
    }

    /// Rebuilds an identity from its two 32-byte secrets (as the keystore holds them).
    pub fn from_secret_bytes(signing: &[u8; 32], device: &[u8; 32]) -> Self {
        Self::from_parts(SigningKey::from_bytes(signing), StaticSecret::from(*device))
    }

    fn from_parts(signing: SigningKey, device: StaticSecret) -> Self {
        let identity_key = IdentityKey::from(signing.verifying_key());
        let device_key = DhPublicKey(X25519Public::from(&device).to_bytes());
        let device_key_signature = Signature(
            signing
                .sign(&UnsignedPeerRecord::device_key_message(&device_key))
                .to_bytes(),
        );
        Self {
            signing,
            device,
            identity_key,
            device_key,
            device_key_signature,
        }
    }

    /// The Ed25519 secret seed, for the keystore. Zeroize the copy after use.
    pub fn signing_secret_bytes(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The X25519 device secret, for the keystore. Zeroize the copy after use.
    pub fn device_secret_bytes(&self) -> [u8; 32] {
        self.device.to_bytes()
    }

    /// A 32-byte secret for this identity's network endpoint, for one
    /// `purpose` and `context` (e.g. the listen address): HKDF-SHA-256 of
    /// the signing seed with the purpose as its label. The same identity,
    /// purpose and context give the same secret in every process (a
    /// restarted node can reset the QUIC connections its previous process
    /// left behind); different purposes give independent secrets, and none
    /// tells anything about the seed.
    pub fn endpoint_secret(
        &self,
        purpose: EndpointSecret,
        context: &[u8],
    ) -> Result<zeroize::Zeroizing<[u8; 32]>, crate::primitives::HkdfError> {
        let seed = zeroize::Zeroizing::new(self.signing.to_bytes());
        let mut info = Vec::with_capacity(64 + context.len());
        info.extend_from_slice(purpose.label());
        info.push(0);
        info.extend_from_slice(context);
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        crate::primitives::hkdf_sha256_into(
            ENDPOINT_SECRET_SALT,
            seed.as_slice(),
            &info,
            out.as_mut_slice(),
        )?;
        Ok(out)
    }

    /// The X25519 device secret, for X3DH.
    pub fn device_secret(&self) -> &StaticSecret {
        &self.device
    }

    /// The public identity key.
    pub fn identity_key(&self) -> IdentityKey {
        self.identity_key
    }

    /// The public device key.
    pub fn device_key(&self) -> DhPublicKey {
        self.device_key
    }

    /// The identity key's certificate over the device key.
    pub fn device_key_signature(&self) -> Signature {
        self.device_key_signature
    }

    /// `SHA-256(identity key)`.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_identity(&self.identity_key)
    }

    /// The textual `key_…` address.
    pub fn address(&self) -> PeerAddress {
        PeerAddress::new(self.identity_key)
    }

    /// Signs `message` with the identity key.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.signing.sign(message).to_bytes())
    }

    /// Signs a peer record body.
    pub fn sign_peer_record(&self, body: UnsignedPeerRecord) -> PeerRecord {
        let sig = self.sign(&body.signing_bytes());
        body.with_signature(sig)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("identity_key", &self.identity_key)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

impl Zeroize for Identity {
    fn zeroize(&mut self) {
        // SigningKey and StaticSecret zeroize themselves on drop; replace them
        // with all-zero keys so an explicit zeroize also clears them now.
        self.signing = SigningKey::from_bytes(&[0; 32]);
        self.device = StaticSecret::from([0; 32]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::BTreeMap;
    use tacnode_domain::{NodeType, UnixMillis};

    #[test]
    fn endpoint_secrets_are_stable_per_identity_and_independent_per_purpose() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let a = Identity::generate(&mut rng);
        let b = Identity::generate(&mut rng);
        let again =
            Identity::from_secret_bytes(&a.signing_secret_bytes(), &a.device_secret_bytes());
        let reset = |i: &Identity, ctx: &[u8]| {
            *i.endpoint_secret(EndpointSecret::StatelessReset, ctx)
                .unwrap()
        };
        assert_eq!(reset(&a, b"0.0.0.0:4500"), reset(&again, b"0.0.0.0:4500"));
        assert_ne!(reset(&a, b"0.0.0.0:4500"), reset(&b, b"0.0.0.0:4500"));
        assert_ne!(reset(&a, b"0.0.0.0:4500"), reset(&a, b"0.0.0.0:4501"));
        assert_ne!(
            reset(&a, b"x"),
            *a.endpoint_secret(EndpointSecret::ConnectionIdChecksum, b"x")
                .unwrap()
        );
        assert_ne!(reset(&a, b"x"), a.signing_secret_bytes());
    }

    #[test]
    fn signed_record_verifies_and_debug_is_redacted() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let id = Identity::generate(&mut rng);
        let rec = id.sign_peer_record(UnsignedPeerRecord {
            identity_key: id.identity_key(),
            device_key: id.device_key(),
            device_key_signature: id.device_key_signature(),
            endpoints: vec![],
            node_type: NodeType::Client,
            last_seen: UnixMillis(1),
            metadata: BTreeMap::new(),
            sequence: 1,
            member: None,
            reachability: None,
            relay: None,
        });
        rec.verify().unwrap();
        assert_eq!(rec.node_id, id.node_id());
        let dbg = format!("{id:?}");
        assert!(dbg.contains("redacted"));
        let restored =
            Identity::from_secret_bytes(&id.signing_secret_bytes(), &id.device_secret_bytes());
        assert_eq!(restored.identity_key(), id.identity_key());
        assert_eq!(restored.device_key(), id.device_key());
    }
}
