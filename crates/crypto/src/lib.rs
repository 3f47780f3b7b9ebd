//! Cryptography of tacnode: identities, the encrypted keystore, prekeys, X3DH
//! and a Double Ratchet written here, all without I/O.
//!
//! Randomness is injected (`rand_core::CryptoRng`) and time is a parameter;
//! only the keystore's small file read/write touches the disk.
//!
//! - [`identity`]: the dual identity (Ed25519 user key + certified X25519
//!   device key), signing of peer records.
//! - [`primitives`]: thin wrappers over X25519 (contributory check), HKDF,
//!   HMAC (constant-time verify), ChaCha20-Poly1305, AES-256-GCM and strict
//!   Ed25519 verification; checked against Wycheproof vectors.
//! - [`keystore`]: the passphrase-sealed identity and storage key
//!   (Argon2id + AES-256-GCM, versioned JSON), and its atomic file helpers.
//! - [`safety`]: safety numbers (60 digits and a QR payload) for
//!   out-of-band verification of identity keys.

pub mod identity;
pub mod keystore;
pub mod primitives;
pub mod safety;

pub use identity::Identity;
pub use keystore::{KdfParams, KeystoreError, KeystoreFileError, KeystoreSecrets, StorageKey};
pub use safety::SafetyNumber;
