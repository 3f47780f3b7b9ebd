//! ChaCha20-Poly1305 under a one-use message key and a random nonce.
//!
//! The ratchet derives a fresh key for every message and deletes it after
//! use. A key is still used twice when the sender's state is rolled back (a
//! restored backup or database row): the nonce, random per encryption and
//! carried in the header, keeps that from repeating a (key, nonce) pair and
//! so a keystream or a Poly1305 key. 96 random bits make a collision
//! negligible for the few times a key can be reused.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use tacnode_domain::e2e::MESSAGE_NONCE_LEN;
use zeroize::Zeroizing;

/// Length of the Poly1305 tag appended to every ciphertext.
pub(crate) const TAG_LEN: usize = 16;

/// The ciphertext failed authentication (or was shorter than a tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthentic;

/// Encrypts `plaintext`, returning ciphertext ‖ tag.
pub(crate) fn seal(
    message_key: &[u8; 32],
    nonce: &[u8; MESSAGE_NONCE_LEN],
    associated_data: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&(*message_key).into());
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    // Encryption fails only for inputs over 256 GiB; callers cap plaintexts far lower.
    match cipher.encrypt_inout_detached(
        &Nonce::from(*nonce),
        associated_data,
        out.as_mut_slice().into(),
    ) {
        Ok(tag) => out.extend_from_slice(&tag),
        Err(_) => out.clear(),
    }
    out
}

/// Decrypts ciphertext ‖ tag into a fresh buffer.
pub(crate) fn open(
    message_key: &[u8; 32],
    nonce: &[u8; MESSAGE_NONCE_LEN],
    associated_data: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Unauthentic> {
    let body_len = ciphertext.len().checked_sub(TAG_LEN).ok_or(Unauthentic)?;
    let (body, tag) = ciphertext.split_at(body_len);
    let tag = Tag::try_from(tag).map_err(|_| Unauthentic)?;
    let cipher = ChaCha20Poly1305::new(&(*message_key).into());
    let mut out = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_inout_detached(
            &Nonce::from(*nonce),
            associated_data,
            out.as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| Unauthentic)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let (key, nonce) = ([3u8; 32], [5u8; MESSAGE_NONCE_LEN]);
        let ct = seal(&key, &nonce, b"ad", b"hello");
        assert_eq!(ct.len(), 5 + TAG_LEN);
        assert_eq!(open(&key, &nonce, b"ad", &ct).unwrap().as_slice(), b"hello");
        assert_eq!(open(&key, &nonce, b"ae", &ct), Err(Unauthentic));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(open(&key, &nonce, b"ad", &bad), Err(Unauthentic));
        assert_eq!(open(&key, &nonce, b"ad", &ct[..10]), Err(Unauthentic));
        assert_eq!(open(&[4u8; 32], &nonce, b"ad", &ct), Err(Unauthentic));
        assert_eq!(
            open(&key, &[6u8; MESSAGE_NONCE_LEN], b"ad", &ct),
            Err(Unauthentic)
        );
        // Another nonce, another keystream.
        let other = seal(&key, &[6u8; MESSAGE_NONCE_LEN], b"ad", b"hello");
        assert_ne!(other[..5], ct[..5]);
    }
}
