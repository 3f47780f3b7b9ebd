//! The key that encrypts a node's data at rest: made and sealed by the
//! keystore (crypto), used by the store. One type for both.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes of a [`StorageKey`].
pub const STORAGE_KEY_LEN: usize = 32;

/// The 32-byte secret that encrypts rows at rest. Wiped on drop, redacted
/// in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct StorageKey([u8; STORAGE_KEY_LEN]);

impl StorageKey {
    /// Wraps raw key bytes. The caller should zeroize its own copy.
    pub const fn from_bytes(bytes: [u8; STORAGE_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key bytes.
    pub const fn as_bytes(&self) -> &[u8; STORAGE_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = StorageKey::from_bytes([0x41; STORAGE_KEY_LEN]);
        assert_eq!(format!("{key:?}"), "StorageKey(<redacted>)");
        assert_eq!(key.as_bytes(), &[0x41; STORAGE_KEY_LEN]);
    }
}
