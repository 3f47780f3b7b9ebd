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
//! - [`prekey`]: signed and one-time prekeys ([`PrekeyState`]) and bundle
//!   verification.
//! - [`x3dh`]: the handshake. An initiator calls [`x3dh::initiate`] on a
//!   bundle, starts a [`Session::new_initiator`], encrypts the first message
//!   and wraps it with [`x3dh::InitiatorOutput::initial_message`]; the
//!   responder calls [`x3dh::respond`] and gets the session and plaintext.
//! - [`sealed_sender`]: the sender's identity sealed to the recipient's
//!   device key (an ephemeral-static X25519 box bound to the ratchet
//!   message), for mailbox entries.
//! - [`sphinx`]: onion packets ([`sphinx::create_packet`],
//!   [`sphinx::SphinxPacket::process`]), fixed-size at every hop, with
//!   replay tags and single-use reply blocks ([`sphinx::ReplyBlock`]).
//! - [`ratchet`]: the Double Ratchet [`Session`]: `encrypt`, `decrypt`, and a
//!   versioned pickle (`to_bytes`/`from_bytes`) for encrypted persistence.
//! - [`group`]: sender keys for group messages (Signal's Sender Key,
//!   Matrix's Megolm): our [`group::SenderChain`] (a forward-secure
//!   symmetric chain and a per-chain Ed25519 signing key), the
//!   [`group::SenderKeyDistribution`] each member gets over its pairwise
//!   session, and the [`group::ReceiverChain`] it builds from it to verify
//!   and open our messages, out of order within a bounded window, each
//!   once. Rotation (a new chain) is the caller's decision.

pub mod admin;
mod aead;
mod dh;
pub mod file_block;
pub mod group;
pub mod identity;
mod kdf;
pub mod keystore;
pub mod pickle;
pub mod prekey;
pub mod primitives;
pub mod ratchet;
pub mod safety;
pub mod sealed_sender;
pub mod sphinx;
pub mod text_id;
pub mod x3dh;

pub use identity::{EndpointSecret, Identity};
pub use keystore::{KdfParams, KeystoreError, KeystoreFileError, KeystoreSecrets, StorageKey};
pub use pickle::PickleError;
pub use prekey::PrekeyState;
pub use ratchet::Session;
pub use safety::{DeviceCode, SafetyNumber};
pub use text_id::TextIdKey;
