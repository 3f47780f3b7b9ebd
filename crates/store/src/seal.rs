//! At-rest encryption of rows: AES-256-GCM under the [`StorageKey`], a fresh
//! random 96-bit nonce per write, and associated data naming the table and the
//! row's key so a sealed value copied into another row no longer opens.
//!
//! Sealed layout: `nonce (12) ‖ ciphertext ‖ tag (16)`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

pub use tacnode_domain::{STORAGE_KEY_LEN, StorageKey};

use crate::error::SqliteError;

/// Length of the per-row random nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Domain separation of every associated-data string.
const AAD_CONTEXT: &[u8] = b"tacnode/store/v1\0";

pub use tacnode_domain::store::SecretBytes;

/// Associated data binding a sealed value to `table` and the row's key parts.
///
/// Parts are fixed-length ids or length-prefixed, so distinct rows never share
/// an encoding.
fn row_aad(table: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_CONTEXT.len() + table.len() + 1 + 64);
    aad.extend_from_slice(AAD_CONTEXT);
    aad.extend_from_slice(table.as_bytes());
    aad.push(0);
    for part in parts {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad
}

/// AES-256-GCM keyed with the storage key (the key schedule zeroizes on drop).
#[derive(Clone)]
pub(crate) struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub(crate) fn new(key: &StorageKey) -> Self {
        Self {
            cipher: Aes256Gcm::new(&(*key.as_bytes()).into()),
        }
    }

    /// Encrypts `plaintext` for the row of `table` keyed by `parts`, under a
    /// fresh random nonce.
    pub(crate) fn seal(
        &self,
        table: &'static str,
        parts: &[&[u8]],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SqliteError> {
        let aad = row_aad(table, parts);
        let mut nonce = [0u8; NONCE_LEN];
        SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SqliteError::Randomness)?;
        let ct = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Only fails for plaintexts beyond 64 GiB, far above every limit here.
            .map_err(|_| SqliteError::Corrupt {
                table,
                reason: "value too long to seal",
            })?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ct.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ct);
        Ok(sealed)
    }

    /// Authenticates and decrypts the value of the row of `table` keyed by
    /// `parts`. Values longer than `max_plaintext` are rejected before decrypting.
    pub(crate) fn open(
        &self,
        table: &'static str,
        parts: &[&[u8]],
        sealed: &[u8],
        max_plaintext: usize,
    ) -> Result<Zeroizing<Vec<u8>>, SqliteError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(SqliteError::Corrupt {
                table,
                reason: "sealed value shorter than nonce and tag",
            });
        }
        if sealed.len() > max_plaintext.saturating_add(SEAL_OVERHEAD) {
            return Err(SqliteError::Corrupt {
                table,
                reason: "sealed value longer than its limit",
            });
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| SqliteError::Corrupt {
            table,
            reason: "bad nonce",
        })?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: &row_aad(table, parts),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SqliteError::Decrypt { table })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn debug_is_redacted() {
        let key = StorageKey::from_bytes([0x41; 32]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "StorageKey(<redacted>)");
    }

    #[test]
    fn nonces_differ_per_seal() {
        let s = Sealer::new(&StorageKey::from_bytes([1; 32]));
        let a = s.seal("t", &[b"aad"], b"same").unwrap();
        let b = s.seal("t", &[b"aad"], b"same").unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }

    #[test]
    fn aad_parts_are_unambiguous() {
        assert_ne!(row_aad("t", &[b"ab", b"c"]), row_aad("t", &[b"a", b"bc"]));
        assert_ne!(row_aad("inbox", &[b"x"]), row_aad("outbox", &[b"x"]));
    }

    #[test]
    fn short_and_oversized_values_are_corrupt() {
        let s = Sealer::new(&StorageKey::from_bytes([1; 32]));
        assert!(matches!(
            s.open("t", &[], &[0; SEAL_OVERHEAD - 1], 10),
            Err(SqliteError::Corrupt { .. })
        ));
        let sealed = s.seal("t", &[], &[7; 11]).unwrap();
        assert!(matches!(
            s.open("t", &[], &sealed, 10),
            Err(SqliteError::Corrupt { .. })
        ));
        assert_eq!(s.open("t", &[], &sealed, 11).unwrap().as_slice(), &[7; 11]);
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(
            key in any::<[u8; 32]>(),
            other in any::<[u8; 32]>(),
            plaintext in proptest::collection::vec(any::<u8>(), 0..512),
            aad in proptest::collection::vec(any::<u8>(), 0..64),
            flip in any::<usize>(),
        ) {
            let s = Sealer::new(&StorageKey::from_bytes(key));
            let sealed = s.seal("t", &[&aad], &plaintext).unwrap();
            prop_assert_eq!(sealed.len(), plaintext.len() + SEAL_OVERHEAD);
            let opened = s.open("t", &[&aad], &sealed, 512).unwrap();
            prop_assert_eq!(opened.as_slice(), plaintext.as_slice());

            // Any flipped bit fails authentication.
            let mut tampered = sealed.clone();
            let i = flip % tampered.len();
            tampered[i] ^= 1 << (flip % 8);
            prop_assert!(matches!(s.open("t", &[&aad], &tampered, 512), Err(SqliteError::Decrypt { .. })), "expected a decrypt error");

            // Another table fails.
            prop_assert!(matches!(s.open("u", &[&aad], &sealed, 512), Err(SqliteError::Decrypt { .. })), "expected a decrypt error");

            // Different associated data fails.
            let mut aad2 = aad.clone();
            aad2.push(0);
            prop_assert!(matches!(s.open("t", &[&aad2], &sealed, 512), Err(SqliteError::Decrypt { .. })), "expected a decrypt error");

            // Another key fails.
            if other != key {
                let s2 = Sealer::new(&StorageKey::from_bytes(other));
                prop_assert!(matches!(s2.open("t", &[&aad], &sealed, 512), Err(SqliteError::Decrypt { .. })), "expected a decrypt error");
            }
        }
    }
}
