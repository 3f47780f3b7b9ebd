//! ChaCha20-Poly1305 under a one-use message key.
//!
//! The 32-byte message key is the cipher key and the nonce is fixed at zero:
//! the ratchet derives a fresh key for every message and deletes it after
//! use, so no (key, nonce) pair ever repeats. Deriving a nonce from the key
//! (with HKDF, as the specification does for its CBC variant) would add no
//! protection: a reused message key would repeat that nonce as well.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use zeroize::Zeroizing;

/// Length of the Poly1305 tag appended to every ciphertext.
pub(crate) const TAG_LEN: usize = 16;

/// The ciphertext failed authentication (or was shorter than a tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthentic;

fn cipher(message_key: &[u8; 32]) -> (ChaCha20Poly1305, Nonce) {
    (
        ChaCha20Poly1305::new(&(*message_key).into()),
        Nonce::from([0u8; 12]),
    )
}

/// Encrypts `plaintext`, returning ciphertext ‖ tag.
pub(crate) fn seal(message_key: &[u8; 32], associated_data: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let (cipher, nonce) = cipher(message_key);
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    // Encryption fails only for inputs over 256 GiB; callers cap plaintexts far lower.
    match cipher.encrypt_inout_detached(&nonce, associated_data, out.as_mut_slice().into()) {
        Ok(tag) => out.extend_from_slice(&tag),
        Err(_) => out.clear(),
    }
    out
}

/// Decrypts ciphertext ‖ tag into a fresh buffer.
pub(crate) fn open(
    message_key: &[u8; 32],
    associated_data: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Unauthentic> {
    let body_len = ciphertext.len().checked_sub(TAG_LEN).ok_or(Unauthentic)?;
    let (body, tag) = ciphertext.split_at(body_len);
    let tag = Tag::try_from(tag).map_err(|_| Unauthentic)?;
    let (cipher, nonce) = cipher(message_key);
    let mut out = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_inout_detached(&nonce, associated_data, out.as_mut_slice().into(), &tag)
        .map_err(|_| Unauthentic)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = [3u8; 32];
        let ct = seal(&key, b"ad", b"hello");
        assert_eq!(ct.len(), 5 + TAG_LEN);
        assert_eq!(open(&key, b"ad", &ct).unwrap().as_slice(), b"hello");
        assert_eq!(open(&key, b"ae", &ct), Err(Unauthentic));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(open(&key, b"ad", &bad), Err(Unauthentic));
        assert_eq!(open(&key, b"ad", &ct[..10]), Err(Unauthentic));
        assert_eq!(open(&[4u8; 32], b"ad", &ct), Err(Unauthentic));
    }
}
