//! The AEADs of ratchet messages, under a one-use message key.
//!
//! The ratchet derives a fresh key for every message and deletes it after
//! use. A key is still used twice when the sender's state is rolled back (a
//! restored backup or database row). Messages are sealed with
//! AES-256-GCM-SIV (RFC 8452, [`seal_synthetic`]): nonce-misuse resistant,
//! so a key used twice reveals only whether the two plaintexts were equal,
//! and no nonce travels (its synthetic IV is the tag). Messages from nodes
//! before it used ChaCha20-Poly1305 under a random nonce carried in the
//! header ([`open`]), which kept a rolled-back key from repeating a (key,
//! nonce) pair; they are still opened.

use aes_gcm_siv::Aes256GcmSiv;
use chacha20poly1305::aead::{self, AeadInOut};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use tacnode_domain::e2e::MESSAGE_NONCE_LEN;
use zeroize::Zeroizing;

/// Length of the Poly1305 tag appended to every ciphertext.
pub(crate) const TAG_LEN: usize = 16;

/// The ciphertext failed authentication (or was shorter than a tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthentic;

/// Encrypts `plaintext` with ChaCha20-Poly1305 under a one-use key (sealed
/// sender boxes, group messages; ratchet messages before the synthetic
/// nonce), returning ciphertext ‖ tag.
pub(crate) fn seal(
    message_key: &[u8; 32],
    nonce: &[u8; MESSAGE_NONCE_LEN],
    associated_data: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    seal_in(
        &ChaCha20Poly1305::new(&(*message_key).into()),
        &Nonce::from(*nonce),
        associated_data,
        plaintext,
    )
}

/// Decrypts [`seal`]'s ciphertext ‖ tag into a fresh buffer.
pub(crate) fn open(
    message_key: &[u8; 32],
    nonce: &[u8; MESSAGE_NONCE_LEN],
    associated_data: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Unauthentic> {
    open_in(
        &ChaCha20Poly1305::new(&(*message_key).into()),
        &Nonce::from(*nonce),
        associated_data,
        ciphertext,
    )
}

/// The nonce under which [`seal_synthetic`] encrypts: fixed, since every
/// message key is meant for one message and AES-GCM-SIV stays safe when a
/// rolled-back sender reuses one.
const SYNTHETIC_NONCE: [u8; 12] = [0; 12];

/// Encrypts `plaintext` with AES-256-GCM-SIV, returning ciphertext ‖ tag.
pub(crate) fn seal_synthetic(
    message_key: &[u8; 32],
    associated_data: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    seal_in(
        &Aes256GcmSiv::new(&(*message_key).into()),
        &SYNTHETIC_NONCE.into(),
        associated_data,
        plaintext,
    )
}

/// Decrypts [`seal_synthetic`]'s ciphertext ‖ tag into a fresh buffer.
pub(crate) fn open_synthetic(
    message_key: &[u8; 32],
    associated_data: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Unauthentic> {
    open_in(
        &Aes256GcmSiv::new(&(*message_key).into()),
        &SYNTHETIC_NONCE.into(),
        associated_data,
        ciphertext,
    )
}

/// `cipher` over `plaintext`: ciphertext ‖ tag.
fn seal_in<C: AeadInOut>(
    cipher: &C,
    nonce: &aead::Nonce<C>,
    associated_data: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    // Encryption fails only for inputs of many GiB; callers cap plaintexts
    // far lower.
    match cipher.encrypt_inout_detached(nonce, associated_data, out.as_mut_slice().into()) {
        Ok(tag) => out.extend_from_slice(&tag),
        Err(_) => out.clear(),
    }
    out
}

/// `cipher` opening ciphertext ‖ tag into a fresh buffer.
fn open_in<C: AeadInOut>(
    cipher: &C,
    nonce: &aead::Nonce<C>,
    associated_data: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Unauthentic> {
    let body_len = ciphertext.len().checked_sub(TAG_LEN).ok_or(Unauthentic)?;
    let (body, tag) = ciphertext.split_at(body_len);
    let tag = aead::Tag::<C>::try_from(tag).map_err(|_| Unauthentic)?;
    let mut out = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_inout_detached(nonce, associated_data, out.as_mut_slice().into(), &tag)
        .map_err(|_| Unauthentic)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8452 appendix C.2 (AEAD_AES_256_GCM_SIV), the cases with nonce
    /// 03 00…: the crate computes the RFC's cipher.
    #[test]
    fn aes_256_gcm_siv_matches_rfc_8452() {
        let key: [u8; 32] =
            unhex("0100000000000000000000000000000000000000000000000000000000000000")
                .try_into()
                .unwrap();
        let cipher = Aes256GcmSiv::new(&key.into());
        let nonce: [u8; 12] = unhex("030000000000000000000000").try_into().unwrap();
        for (plaintext, expected) in [
            ("", "07f5f4169bbf55a8400cd47ea6fd400f"),
            (
                "0100000000000000",
                "c2ef328e5c71c83b843122130f7364b761e0b97427e3df28",
            ),
        ] {
            let mut buf = unhex(plaintext);
            let tag = cipher
                .encrypt_inout_detached(&nonce.into(), b"", buf.as_mut_slice().into())
                .unwrap();
            buf.extend_from_slice(&tag);
            assert_eq!(buf, unhex(expected), "plaintext {plaintext:?}");
        }
    }

    #[test]
    fn synthetic_round_trip_tamper_and_reuse() {
        let key = [3u8; 32];
        let ct = seal_synthetic(&key, b"ad", b"hello");
        assert_eq!(ct.len(), 5 + TAG_LEN);
        assert_eq!(
            open_synthetic(&key, b"ad", &ct).unwrap().as_slice(),
            b"hello"
        );
        assert_eq!(open_synthetic(&key, b"ae", &ct), Err(Unauthentic));
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(open_synthetic(&key, b"ad", &bad), Err(Unauthentic));
        let mut bad = ct.clone();
        bad[ct.len() - 1] ^= 1;
        assert_eq!(open_synthetic(&key, b"ad", &bad), Err(Unauthentic));
        assert_eq!(open_synthetic(&key, b"ad", &ct[..10]), Err(Unauthentic));
        assert_eq!(open_synthetic(&[4u8; 32], b"ad", &ct), Err(Unauthentic));
        // A key used twice (a rolled-back sender): the same plaintext gives
        // the same bytes, another one another keystream and tag.
        assert_eq!(seal_synthetic(&key, b"ad", b"hello"), ct);
        let other = seal_synthetic(&key, b"ad", b"hellp");
        assert_ne!(other[..4], ct[..4]);
        assert_ne!(other[5..], ct[5..]);
    }

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
