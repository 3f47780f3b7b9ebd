//! Thin wrappers over the primitive implementations, so the rest of the crate
//! uses one vetted entry point per primitive with the project's policies built
//! in:
//!
//! - X25519 results are checked to be contributory (an all-zero shared secret,
//!   produced by low-order public keys, is an error).
//! - MAC verification compares in constant time (`subtle`).
//! - Ed25519 verification is strict ([`IdentityKey::verify`]): no small-order
//!   keys, no malleable signatures.
//! - AEADs take exactly 32-byte keys and 12-byte nonces and append a 16-byte
//!   tag; opening fails with one opaque error.
//! - Secret outputs are wrapped in [`Zeroizing`] so they are wiped on drop.
//!
//! Every wrapper here is exercised against the Project Wycheproof vectors in
//! `tests/wycheproof.rs`.

use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::consts::{U12, U32};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use tacnode_domain::{DhPublicKey, IdentityKey, Signature, SignatureError};
use x25519_dalek::{PublicKey as X25519Public, StaticSecret};
use zeroize::Zeroizing;

/// Length of an X25519 secret, public key or shared secret.
pub const X25519_LEN: usize = 32;
/// Length of an AEAD key (ChaCha20-Poly1305 and AES-256-GCM).
pub const AEAD_KEY_LEN: usize = 32;
/// Length of an AEAD nonce (ChaCha20-Poly1305 and AES-256-GCM).
pub const AEAD_NONCE_LEN: usize = 12;
/// Length of the authentication tag appended by the AEAD seal functions.
pub const AEAD_TAG_LEN: usize = 16;
/// Largest plaintext or associated data the AEAD wrappers accept (64 MiB),
/// far below either cipher's own limit and far above any tacnode message.
pub const MAX_AEAD_INPUT_LEN: usize = 64 * 1024 * 1024;
/// Length of an HMAC-SHA-256 tag.
pub const HMAC_SHA256_LEN: usize = 32;
/// Largest output of HKDF-SHA-256 (RFC 5869: 255 blocks of the hash length).
pub const HKDF_SHA256_MAX_OUTPUT_LEN: usize = 255 * 32;

/// An X25519 exchange produced no shared secret worth using.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DhError {
    /// The shared secret is all zeros: the peer's public key has low order,
    /// so the result does not depend on our secret.
    #[error("X25519 result is not contributory (low-order public key)")]
    NonContributory,
}

/// HKDF-SHA-256 could not produce the requested output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HkdfError {
    /// More than [`HKDF_SHA256_MAX_OUTPUT_LEN`] bytes were requested.
    #[error("HKDF-SHA-256 output of {requested} bytes exceeds the maximum of {max}")]
    OutputTooLong {
        /// Bytes requested.
        requested: usize,
        /// [`HKDF_SHA256_MAX_OUTPUT_LEN`].
        max: usize,
    },
}

/// An HMAC tag did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MacError {
    /// The tag is not the [`HMAC_SHA256_LEN`]-byte HMAC of the data under the key
    /// (truncated tags are refused too).
    #[error("MAC verification failed")]
    BadTag,
}

/// An AEAD operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AeadError {
    /// Wrong key, nonce or associated data, or the ciphertext was altered.
    /// Deliberately carries no detail.
    #[error("AEAD authentication failed")]
    Authentication,
    /// The ciphertext is shorter than the [`AEAD_TAG_LEN`]-byte tag.
    #[error("AEAD ciphertext of {actual} bytes is shorter than the tag")]
    TooShort {
        /// Length received.
        actual: usize,
    },
    /// Plaintext, ciphertext or associated data over [`MAX_AEAD_INPUT_LEN`].
    #[error("AEAD input of {actual} bytes exceeds the maximum of {max}")]
    TooLong {
        /// Length received.
        actual: usize,
        /// [`MAX_AEAD_INPUT_LEN`].
        max: usize,
    },
}

/// X25519 of a raw secret scalar and a raw public key, refusing an all-zero
/// (non-contributory) result.
///
/// The secret is clamped as RFC 7748 specifies; the public key's top bit is
/// ignored and non-canonical encodings are reduced, as RFC 7748 requires.
pub fn x25519(
    secret: &[u8; X25519_LEN],
    public: &[u8; X25519_LEN],
) -> Result<Zeroizing<[u8; X25519_LEN]>, DhError> {
    diffie_hellman(&StaticSecret::from(*secret), &DhPublicKey(*public))
}

/// X25519 between a held secret and a peer's public key, refusing an all-zero
/// (non-contributory) result. The check runs in constant time.
pub fn diffie_hellman(
    secret: &StaticSecret,
    public: &DhPublicKey,
) -> Result<Zeroizing<[u8; X25519_LEN]>, DhError> {
    let shared = secret.diffie_hellman(&X25519Public::from(public.0));
    if !shared.was_contributory() {
        return Err(DhError::NonContributory);
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// HKDF-SHA-256 (RFC 5869) extract-then-expand into `okm`.
///
/// An empty `salt` is the RFC's "not provided" salt (a block of zeros is the
/// same HMAC key).
pub fn hkdf_sha256_into(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
    okm: &mut [u8],
) -> Result<(), HkdfError> {
    let too_long = HkdfError::OutputTooLong {
        requested: okm.len(),
        max: HKDF_SHA256_MAX_OUTPUT_LEN,
    };
    if okm.len() > HKDF_SHA256_MAX_OUTPUT_LEN {
        return Err(too_long);
    }
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm)
        .map_err(|_| too_long)
}

/// HKDF-SHA-256 (RFC 5869) producing `out_len` bytes, wiped on drop.
pub fn hkdf_sha256(
    salt: &[u8],
    ikm: &[u8],
    info: &[u8],
    out_len: usize,
) -> Result<Zeroizing<Vec<u8>>, HkdfError> {
    if out_len > HKDF_SHA256_MAX_OUTPUT_LEN {
        return Err(HkdfError::OutputTooLong {
            requested: out_len,
            max: HKDF_SHA256_MAX_OUTPUT_LEN,
        });
    }
    let mut okm = Zeroizing::new(vec![0u8; out_len]);
    hkdf_sha256_into(salt, ikm, info, &mut okm)?;
    Ok(okm)
}

/// HMAC-SHA-256 of `data` under `key` (any key length).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; HMAC_SHA256_LEN] {
    // HMAC takes keys of every length, so `new_from_slice` cannot fail; the
    // fallback (all-zero block key) only keeps this path panic-free.
    let mut mac = <Hmac<Sha256>>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256>>::new(&Default::default()));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Verifies a full-length HMAC-SHA-256 `tag` over `data` in constant time.
///
/// Tags of any length other than [`HMAC_SHA256_LEN`] are refused.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), MacError> {
    let expected = hmac_sha256(key, data);
    // `ct_eq` on slices of different lengths is false (length is not secret).
    if bool::from(expected.as_slice().ct_eq(tag)) {
        Ok(())
    } else {
        Err(MacError::BadTag)
    }
}

/// ChaCha20-Poly1305 (RFC 8439): returns `ciphertext || tag`.
pub fn chacha20poly1305_seal(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    seal::<ChaCha20Poly1305>(key, nonce, aad, plaintext)
}

/// Opens ChaCha20-Poly1305 `ciphertext || tag`; the plaintext is wiped on drop.
pub fn chacha20poly1305_open(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AeadError> {
    open::<ChaCha20Poly1305>(key, nonce, aad, ciphertext)
}

/// AES-256-GCM with a 96-bit nonce: returns `ciphertext || tag` (128-bit tag).
pub fn aes256gcm_seal(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    seal::<Aes256Gcm>(key, nonce, aad, plaintext)
}

/// Opens AES-256-GCM `ciphertext || tag`; the plaintext is wiped on drop.
pub fn aes256gcm_open(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AeadError> {
    open::<Aes256Gcm>(key, nonce, aad, ciphertext)
}

/// Both AEADs: a 256-bit key, a 96-bit nonce, the same length policies.
fn seal<C: Aead + KeyInit<KeySize = U32> + AeadCore<NonceSize = U12>>(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    check_len(plaintext.len())?;
    check_len(aad.len())?;
    C::new(key.into())
        .encrypt(
            nonce.into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| AeadError::Authentication)
}

fn open<C: Aead + KeyInit<KeySize = U32> + AeadCore<NonceSize = U12>>(
    key: &[u8; AEAD_KEY_LEN],
    nonce: &[u8; AEAD_NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AeadError> {
    check_open_input(aad, ciphertext)?;
    C::new(key.into())
        .decrypt(
            nonce.into(),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| AeadError::Authentication)
}

/// Strict Ed25519 verification of `signature` over `message` under the raw
/// 32-byte `public_key`, via [`IdentityKey::verify`].
pub fn ed25519_verify(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    IdentityKey::from_bytes(public_key)?.verify(message, &Signature(*signature))
}

fn check_len(actual: usize) -> Result<(), AeadError> {
    if actual > MAX_AEAD_INPUT_LEN {
        return Err(AeadError::TooLong {
            actual,
            max: MAX_AEAD_INPUT_LEN,
        });
    }
    Ok(())
}

fn check_open_input(aad: &[u8], ciphertext: &[u8]) -> Result<(), AeadError> {
    check_len(aad.len())?;
    check_len(ciphertext.len().saturating_sub(AEAD_TAG_LEN))?;
    if ciphertext.len() < AEAD_TAG_LEN {
        return Err(AeadError::TooShort {
            actual: ciphertext.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x25519_rejects_zero_point_and_agrees_otherwise() {
        let a = [7u8; 32];
        let b = [9u8; 32];
        let pa = x25519_dalek::x25519(a, x25519_dalek::X25519_BASEPOINT_BYTES);
        let pb = x25519_dalek::x25519(b, x25519_dalek::X25519_BASEPOINT_BYTES);
        assert_eq!(*x25519(&a, &pb).unwrap(), *x25519(&b, &pa).unwrap());
        assert_eq!(x25519(&a, &[0; 32]), Err(DhError::NonContributory));
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(x25519(&a, &one), Err(DhError::NonContributory));
    }

    #[test]
    fn hmac_verify_refuses_truncated_and_altered_tags() {
        let tag = hmac_sha256(b"key", b"data");
        hmac_sha256_verify(b"key", b"data", &tag).unwrap();
        assert_eq!(
            hmac_sha256_verify(b"key", b"data", &tag[..16]),
            Err(MacError::BadTag)
        );
        let mut bad = tag;
        bad[31] ^= 1;
        assert_eq!(
            hmac_sha256_verify(b"key", b"data", &bad),
            Err(MacError::BadTag)
        );
        assert_eq!(
            hmac_sha256_verify(b"key", b"datb", &tag),
            Err(MacError::BadTag)
        );
    }

    #[test]
    fn hkdf_refuses_oversized_output() {
        assert!(hkdf_sha256(b"", b"ikm", b"", HKDF_SHA256_MAX_OUTPUT_LEN).is_ok());
        assert_eq!(
            hkdf_sha256(b"", b"ikm", b"", HKDF_SHA256_MAX_OUTPUT_LEN + 1).map(|_| ()),
            Err(HkdfError::OutputTooLong {
                requested: HKDF_SHA256_MAX_OUTPUT_LEN + 1,
                max: HKDF_SHA256_MAX_OUTPUT_LEN
            })
        );
    }

    #[test]
    fn aead_round_trip_and_tamper() {
        let key = [1u8; 32];
        let nonce = [2u8; 12];
        type Seal = fn(&[u8; 32], &[u8; 12], &[u8], &[u8]) -> Result<Vec<u8>, AeadError>;
        type Open = fn(&[u8; 32], &[u8; 12], &[u8], &[u8]) -> Result<Zeroizing<Vec<u8>>, AeadError>;
        let pairs: [(Seal, Open); 2] = [
            (chacha20poly1305_seal, chacha20poly1305_open),
            (aes256gcm_seal, aes256gcm_open),
        ];
        for (seal, open) in pairs {
            let ct = seal(&key, &nonce, b"aad", b"hello").unwrap();
            assert_eq!(ct.len(), 5 + AEAD_TAG_LEN);
            assert_eq!(&**open(&key, &nonce, b"aad", &ct).unwrap(), b"hello");
            assert_eq!(
                open(&key, &nonce, b"aae", &ct).map(|_| ()),
                Err(AeadError::Authentication)
            );
            let mut bad = ct.clone();
            bad[0] ^= 0x80;
            assert_eq!(
                open(&key, &nonce, b"aad", &bad).map(|_| ()),
                Err(AeadError::Authentication)
            );
            assert_eq!(
                open(&key, &nonce, b"aad", &ct[..15]).map(|_| ()),
                Err(AeadError::TooShort { actual: 15 })
            );
        }
    }
}
