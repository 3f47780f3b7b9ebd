//! Cryptography of tacnode: identities, the encrypted keystore, prekeys, X3DH
//! and a Double Ratchet written here, all without I/O.
//!
//! Randomness is injected (`rand_core::CryptoRng`) and time is a parameter;
//! only the keystore's small file read/write touches the disk.
//!
//! - [`identity`]: the dual identity (Ed25519 user key + certified X25519
//!   device key), signing of peer records.
//! - [`prekey`]: signed and one-time prekeys ([`PrekeyState`]) and bundle
//!   verification.
//! - [`x3dh`]: the handshake. An initiator calls [`x3dh::initiate`] on a
//!   bundle, starts a [`Session::new_initiator`], encrypts the first message
//!   and wraps it with [`x3dh::InitiatorOutput::initial_message`]; the
//!   responder calls [`x3dh::respond`] and gets the session and plaintext.
//! - [`ratchet`]: the Double Ratchet [`Session`]: `encrypt`, `decrypt`, and a
//!   versioned pickle (`to_bytes`/`from_bytes`) for encrypted persistence.

mod aead;
mod dh;
pub mod identity;
mod kdf;
pub mod pickle;
pub mod prekey;
pub mod ratchet;
pub mod x3dh;

pub use identity::Identity;
pub use pickle::PickleError;
pub use prekey::PrekeyState;
pub use ratchet::Session;
