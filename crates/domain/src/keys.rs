use std::fmt;

use ed25519_dalek::VerifyingKey;

use crate::byte_prefix::write_byte_prefix;
use crate::id::KeyError;

/// Length in bytes of every public key (Ed25519 and X25519).
pub const KEY_LEN: usize = 32;
/// Length in bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A signature did not verify, or a key was not a valid Ed25519 point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The 32 bytes are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidKey,
    /// The signature does not match the message and key.
    #[error("signature verification failed")]
    BadSignature,
    /// Wrong length.
    #[error(transparent)]
    Length(#[from] KeyError),
}

/// An Ed25519 identity public key: who a user is.
///
/// Construction checks the point encoding; [`IdentityKey::verify`] uses strict
/// verification (rejects small-order keys and non-canonical signatures).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey(VerifyingKey);

impl IdentityKey {
    /// Parses a 32-byte compressed Edwards point.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<Self, SignatureError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| SignatureError::InvalidKey)
    }

    /// Parses exactly [`KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SignatureError> {
        let arr = <[u8; KEY_LEN]>::try_from(bytes).map_err(|_| KeyError {
            expected: KEY_LEN,
            actual: bytes.len(),
        })?;
        Self::from_bytes(&arr)
    }

    /// Raw bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        self.0.as_bytes()
    }

    /// The wrapped dalek key, for crates that do more than verify.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }

    /// Verifies `signature` over `message` (strict: no malleable signatures,
    /// no small-order keys).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
        if self.0.is_weak() {
            return Err(SignatureError::InvalidKey);
        }
        self.0
            .verify_strict(message, &sig)
            .map_err(|_| SignatureError::BadSignature)
    }
}

impl PartialOrd for IdentityKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdentityKey {
    /// By the raw key bytes: an arbitrary but stable order, so that sets of
    /// keys (group members) iterate and hash the same everywhere.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl From<VerifyingKey> for IdentityKey {
    fn from(key: VerifyingKey) -> Self {
        Self(key)
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_byte_prefix(f, "IdentityKey", self.as_bytes(), 8)
    }
}

/// An X25519 public key (device key, prekey, ratchet key, ephemeral key).
///
/// Any 32 bytes form a key; contributory checks happen at DH time in the
/// crypto crate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DhPublicKey(pub [u8; KEY_LEN]);

impl DhPublicKey {
    /// Parses exactly [`KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyError {
                expected: KEY_LEN,
                actual: bytes.len(),
            })
    }

    /// Raw bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DhPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_byte_prefix(f, "DhPublicKey", &self.0, 8)
    }
}

/// An Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// Parses exactly [`SIGNATURE_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; SIGNATURE_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyError {
                expected: SIGNATURE_LEN,
                actual: bytes.len(),
            })
    }

    /// Raw bytes.
    pub const fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_byte_prefix(f, "Signature", &self.0, 8)
    }
}
