//! Sealed sender: the sender's identity sealed to the recipient's device
//! key, so a mailbox entry does not tell its holder who wrote it.
//!
//! An ephemeral-static X25519 box, bound to the ratchet message it travels
//! with:
//!
//! - `E` a fresh X25519 key pair per box, `DK_B` the recipient's device key;
//!   `DH(E, DK_B)` must be contributory (on both sides).
//! - key = HKDF-SHA-256(salt 0³², ikm DH output, info
//!   `"tacnode/sealed-sender/v1"` ‖ E ‖ DK_B); the key encrypts one box only
//!   (a fresh `E` each time), so the ChaCha20-Poly1305 nonce is zero.
//! - associated data = DK_B ‖ E ‖ SHA-256(`"tacnode/sealed-sender/body/v1\0"`
//!   ‖ the canonical bytes of the anonymous body: kind, for a first message
//!   the X3DH ephemeral key and prekey ids, then the ratchet header and the
//!   ciphertext with its length). A box therefore opens only with the
//!   recipient's device secret and only on the ratchet message it was made
//!   for: moved onto another ciphertext, it fails.
//! - plaintext = the sender's identity key (32 bytes), and for a first
//!   message its device key (32) and the device key's certificate (64).
//!
//! The box authenticates nothing about the sender (anyone can seal any
//! identity to a public device key): the identity it names is checked by
//! the ratchet message itself, which only that sender's session (or X3DH
//! with that sender's certified device key) opens.

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use tacnode_domain::e2e::MESSAGE_NONCE_LEN;
use tacnode_domain::e2e::{
    AnonymousBody, AnonymousInitial, RatchetMessage, SEALED_SENDER_CIPHERTEXT_LEN_INITIAL,
    SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE, SEALED_SENDER_PLAINTEXT_LEN_INITIAL,
    SEALED_SENDER_PLAINTEXT_LEN_MESSAGE, SealedBody, SealedMessage, SealedSender,
    SenderSealedMessage, X3dhInitial,
};
use tacnode_domain::{DhPublicKey, IdentityKey, KEY_LEN, Signature};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::Identity;
use crate::aead;
use crate::dh::{dh, public_of};
use crate::kdf::hkdf;

/// HKDF info label of the box key (followed by E ‖ DK_B).
const KEY_INFO: &[u8] = b"tacnode/sealed-sender/v1";

/// Domain separation of the hashed body in the associated data.
const BODY_LABEL: &[u8] = b"tacnode/sealed-sender/body/v1\0";

/// Each box key encrypts exactly one box (its ephemeral key is fresh).
const ZERO_NONCE: [u8; MESSAGE_NONCE_LEN] = [0u8; MESSAGE_NONCE_LEN];

/// Length of the associated data: DK_B ‖ E ‖ SHA-256(body).
const ASSOCIATED_DATA_LEN: usize = KEY_LEN + KEY_LEN + 32;

/// Why a sealed sender could not be made or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealedSenderError {
    /// The DH of the box is all zero: the recipient's device key (sealing)
    /// or the box's ephemeral key (opening) is a low-order point.
    #[error("sealed sender: non-contributory DH")]
    NonContributory,
    /// The box's length does not fit its body (a later message carries an
    /// identity key, a first message the certified device key too).
    #[error("sealed sender: {actual} bytes of box, {expected} expected for its body")]
    WrongLength {
        /// Expected ciphertext length.
        expected: usize,
        /// Actual ciphertext length.
        actual: usize,
    },
    /// The box does not open: not sealed to our device key, altered, or
    /// moved onto another ratchet message.
    #[error("sealed sender: the box does not open")]
    Unauthentic,
    /// The box opened but the identity key inside is not a valid key.
    #[error("sealed sender: invalid identity key inside")]
    InvalidIdentityKey,
}

/// Seals the sender of `sealed` (its identity key, and for a first message
/// the initiator's device key and certificate) to `recipient_device_key`,
/// bound to `sealed`'s ratchet message.
pub fn seal<R: CryptoRng + ?Sized>(
    rng: &mut R,
    recipient_device_key: &DhPublicKey,
    sealed: &SealedMessage,
) -> Result<SenderSealedMessage, SealedSenderError> {
    let ephemeral = StaticSecret::random_from_rng(rng);
    let ephemeral_key = public_of(&ephemeral);
    let shared =
        dh(&ephemeral, recipient_device_key).map_err(|_| SealedSenderError::NonContributory)?;
    let key = box_key(shared.as_bytes(), &ephemeral_key, recipient_device_key);
    let body = sealed.anonymous_body();
    let ad = associated_data(recipient_device_key, &ephemeral_key, &body);
    let plaintext = sender_plaintext(sealed);
    let ciphertext = aead::seal(&key, &ZERO_NONCE, &ad, &plaintext);
    Ok(SenderSealedMessage {
        sealed_sender: SealedSender {
            ephemeral_key,
            ciphertext,
        },
        body,
    })
}

/// Opens the box of `message` with our device secret and returns the
/// sealed message it names the sender of. The sender is not authenticated
/// yet: the caller decrypts the ratchet message as from that sender, which
/// fails unless the sender is who the box says.
pub fn open(
    identity: &Identity,
    message: &SenderSealedMessage,
) -> Result<SealedMessage, SealedSenderError> {
    let expected = match message.body {
        AnonymousBody::Initial(_) => SEALED_SENDER_CIPHERTEXT_LEN_INITIAL,
        AnonymousBody::Message(_) => SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE,
    };
    let boxed = &message.sealed_sender;
    if boxed.ciphertext.len() != expected {
        return Err(SealedSenderError::WrongLength {
            expected,
            actual: boxed.ciphertext.len(),
        });
    }
    let own_device_key = identity.device_key();
    let shared = dh(identity.device_secret(), &boxed.ephemeral_key)
        .map_err(|_| SealedSenderError::NonContributory)?;
    let key = box_key(shared.as_bytes(), &boxed.ephemeral_key, &own_device_key);
    let ad = associated_data(&own_device_key, &boxed.ephemeral_key, &message.body);
    let plaintext = aead::open(&key, &ZERO_NONCE, &ad, &boxed.ciphertext)
        .map_err(|_| SealedSenderError::Unauthentic)?;
    named_sealed_message(&plaintext, &message.body)
}

/// The box key: HKDF over the DH output, bound to both public keys.
fn box_key(
    shared: &[u8; 32],
    ephemeral_key: &DhPublicKey,
    recipient_device_key: &DhPublicKey,
) -> Zeroizing<[u8; 32]> {
    let mut info = [0u8; KEY_INFO.len() + 2 * KEY_LEN];
    let (label, keys) = info.split_at_mut(KEY_INFO.len());
    label.copy_from_slice(KEY_INFO);
    let (e, dk) = keys.split_at_mut(KEY_LEN);
    e.copy_from_slice(ephemeral_key.as_bytes());
    dk.copy_from_slice(recipient_device_key.as_bytes());
    hkdf::<32>(&[0u8; 32], &[shared], &info)
}

/// DK_B ‖ E ‖ SHA-256(label ‖ canonical body).
fn associated_data(
    recipient_device_key: &DhPublicKey,
    ephemeral_key: &DhPublicKey,
    body: &AnonymousBody,
) -> [u8; ASSOCIATED_DATA_LEN] {
    let mut hash = Sha256::new();
    hash.update(BODY_LABEL);
    let message = match body {
        AnonymousBody::Initial(i) => {
            hash.update([1u8]);
            hash.update(i.ephemeral_key.as_bytes());
            hash.update(i.signed_prekey_id.to_be_bytes());
            match i.one_time_prekey_id {
                Some(id) => {
                    hash.update([1u8]);
                    hash.update(id.to_be_bytes());
                }
                None => hash.update([0u8]),
            }
            &i.message
        }
        AnonymousBody::Message(m) => {
            hash.update([0u8]);
            m
        }
    };
    hash_ratchet_message(&mut hash, message);
    let mut ad = [0u8; ASSOCIATED_DATA_LEN];
    let (dk, rest) = ad.split_at_mut(KEY_LEN);
    dk.copy_from_slice(recipient_device_key.as_bytes());
    let (e, digest) = rest.split_at_mut(KEY_LEN);
    e.copy_from_slice(ephemeral_key.as_bytes());
    digest.copy_from_slice(&hash.finalize());
    ad
}

fn hash_ratchet_message(hash: &mut Sha256, m: &RatchetMessage) {
    hash.update(m.header.ratchet_key.as_bytes());
    hash.update(m.header.previous_chain_length.to_be_bytes());
    hash.update(m.header.message_number.to_be_bytes());
    hash.update(m.header.nonce);
    let len = u64::try_from(m.ciphertext.len()).unwrap_or(u64::MAX);
    hash.update(len.to_be_bytes());
    hash.update(&m.ciphertext);
}

/// The box's plaintext: identity key [‖ device key ‖ certificate].
fn sender_plaintext(sealed: &SealedMessage) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(SEALED_SENDER_PLAINTEXT_LEN_INITIAL));
    out.extend_from_slice(sealed.sender_identity_key.as_bytes());
    if let SealedBody::Initial(i) = &sealed.body {
        out.extend_from_slice(i.device_key.as_bytes());
        out.extend_from_slice(i.device_key_signature.as_bytes());
    }
    out
}

/// Puts the sender named in an opened box back into the body.
fn named_sealed_message(
    plaintext: &[u8],
    body: &AnonymousBody,
) -> Result<SealedMessage, SealedSenderError> {
    let wrong = || SealedSenderError::WrongLength {
        expected: match body {
            AnonymousBody::Initial(_) => SEALED_SENDER_PLAINTEXT_LEN_INITIAL,
            AnonymousBody::Message(_) => SEALED_SENDER_PLAINTEXT_LEN_MESSAGE,
        },
        actual: plaintext.len(),
    };
    let (identity, rest) = plaintext.split_first_chunk::<KEY_LEN>().ok_or_else(wrong)?;
    let sender_identity_key =
        IdentityKey::from_bytes(identity).map_err(|_| SealedSenderError::InvalidIdentityKey)?;
    let body = match body {
        AnonymousBody::Message(m) if rest.is_empty() => SealedBody::Message(m.clone()),
        AnonymousBody::Initial(i) => {
            let (device_key, signature) = rest.split_first_chunk::<KEY_LEN>().ok_or_else(wrong)?;
            let signature: [u8; 64] = signature.try_into().map_err(|_| wrong())?;
            let AnonymousInitial {
                ephemeral_key,
                signed_prekey_id,
                one_time_prekey_id,
                message,
            } = i.as_ref();
            SealedBody::Initial(Box::new(X3dhInitial {
                identity_key: sender_identity_key,
                device_key: DhPublicKey(*device_key),
                device_key_signature: Signature(signature),
                ephemeral_key: *ephemeral_key,
                signed_prekey_id: *signed_prekey_id,
                one_time_prekey_id: *one_time_prekey_id,
                message: message.clone(),
            }))
        }
        AnonymousBody::Message(_) => return Err(wrong()),
    };
    Ok(SealedMessage {
        sender_identity_key,
        body,
    })
}

#[cfg(test)]
#[path = "sealed_sender_tests.rs"]
mod tests;
