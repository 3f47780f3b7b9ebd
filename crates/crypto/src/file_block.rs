//! The blocks of a transferred file, each sealed with the transfer's key.
//!
//! AES-256-GCM under the key the offer carried (random per transfer, sent
//! only inside the Double Ratchet session), nonce = 4 zero bytes ‖ the
//! block index (u64, big-endian), associated data = `"tacnode/file-block/v1"`
//! ‖ transfer id ‖ block index ‖ file size. A key seals one file, so each
//! nonce seals one block's content: the sender reads a block only while
//! the file is unchanged since the offer, so a block sealed again is the
//! same ciphertext. A block opens only at its own index of its own
//! transfer of that size: blocks cannot be reordered, moved between
//! transfers, or a file cut short unnoticed (the receiver also checks the
//! content's SHA-256 at the end).

use aes_gcm::Aes256Gcm;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use tacnode_domain::file_transfer::{FILE_BLOCK_BYTES, FILE_KEY_LEN, TransferId};

use crate::primitives::AEAD_NONCE_LEN;

const AAD_LABEL: &[u8] = b"tacnode/file-block/v1";

/// Why a block could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileBlockError {
    /// The key is not [`FILE_KEY_LEN`] bytes.
    #[error("the file key is {0} bytes, expected {FILE_KEY_LEN}")]
    KeyLength(usize),
    /// More than [`FILE_BLOCK_BYTES`] of content.
    #[error("a block of {0} bytes is over the {FILE_BLOCK_BYTES}-byte limit")]
    TooLong(usize),
    /// The block did not open: not sealed with this key at this index of
    /// this transfer, or altered.
    #[error("the block did not open (altered, or not this block of this transfer)")]
    Authentication,
}

/// Seals and opens the blocks of one transfer.
pub struct FileCipher {
    cipher: Aes256Gcm,
    transfer: TransferId,
    size: u64,
}

impl std::fmt::Debug for FileCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCipher")
            .field("transfer", &self.transfer)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl FileCipher {
    /// The cipher of `transfer` (a file of `size` bytes) under `key`.
    pub fn new(key: &[u8], transfer: TransferId, size: u64) -> Result<Self, FileBlockError> {
        let key: &[u8; FILE_KEY_LEN] = key
            .try_into()
            .map_err(|_| FileBlockError::KeyLength(key.len()))?;
        Ok(Self {
            cipher: Aes256Gcm::new(key.into()),
            transfer,
            size,
        })
    }

    fn nonce_and_aad(&self, index: u64) -> ([u8; AEAD_NONCE_LEN], [u8; 21 + 16 + 8 + 8]) {
        let mut nonce = [0u8; AEAD_NONCE_LEN];
        nonce[4..].copy_from_slice(&index.to_be_bytes());
        let mut aad = [0u8; 21 + 16 + 8 + 8];
        aad[..21].copy_from_slice(AAD_LABEL);
        aad[21..37].copy_from_slice(self.transfer.as_bytes());
        aad[37..45].copy_from_slice(&index.to_be_bytes());
        aad[45..].copy_from_slice(&self.size.to_be_bytes());
        (nonce, aad)
    }

    /// Seals the content of block `index`: the ciphertext then its tag.
    pub fn seal(&self, index: u64, content: &[u8]) -> Result<Vec<u8>, FileBlockError> {
        if content.len() > FILE_BLOCK_BYTES {
            return Err(FileBlockError::TooLong(content.len()));
        }
        let (nonce, aad) = self.nonce_and_aad(index);
        self.cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: content,
                    aad: &aad,
                },
            )
            .map_err(|_| FileBlockError::Authentication)
    }

    /// Opens sealed block `index`. The content of a received file is not
    /// secret once it arrived (it is written to the downloads directory),
    /// so it is not wiped.
    pub fn open(&self, index: u64, sealed: &[u8]) -> Result<Vec<u8>, FileBlockError> {
        let (nonce, aad) = self.nonce_and_aad(index);
        self.cipher
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| FileBlockError::Authentication)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_opens_only_where_it_was_sealed() {
        let t = TransferId([7; 16]);
        let c = FileCipher::new(&[1; 32], t, 100_000).expect("key");
        let sealed = c.seal(1, b"hello").expect("seal");
        assert_eq!(c.open(1, &sealed).expect("open"), b"hello");
        // Another index, transfer, size or key: refused.
        assert_eq!(c.open(0, &sealed), Err(FileBlockError::Authentication));
        let other = FileCipher::new(&[1; 32], TransferId([8; 16]), 100_000).expect("key");
        assert!(other.open(1, &sealed).is_err());
        let shorter = FileCipher::new(&[1; 32], t, 99_999).expect("key");
        assert!(shorter.open(1, &sealed).is_err());
        let key2 = FileCipher::new(&[2; 32], t, 100_000).expect("key");
        assert!(key2.open(1, &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(c.open(1, &flipped).is_err());
        assert_eq!(
            FileCipher::new(&[1; 31], t, 1).map(|_| ()),
            Err(FileBlockError::KeyLength(31))
        );
    }
}
