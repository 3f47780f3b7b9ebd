//! Cryptography of tacnode: identities, the encrypted keystore, prekeys, X3DH
//! and a Double Ratchet written here, all without I/O.
//!
//! Randomness is injected (`rand_core::CryptoRng`) and time is a parameter;
//! only the keystore's small file read/write touches the disk.
//!
//! - [`identity`]: the dual identity (Ed25519 user key + certified X25519
//!   device key), signing of peer records.

pub mod identity;

pub use identity::Identity;
