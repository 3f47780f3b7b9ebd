//! The ids of pairwise texts, derived by both ends so they need not travel.
//!
//! A text's id is `HMAC-SHA-256(K, label ‖ sender's identity key ‖
//! recipient's identity key ‖ send time (u64 BE) ‖ text)`, its first 16
//! bytes, under a key `K` only the two ends hold:
//! `HKDF-SHA-256(DH(our device secret, their device key), info = label ‖
//! the two identity keys in byte order)`. Derived from what the text is
//! (not from its ciphertext), an id survives the text being sealed anew in
//! a new session; keyed, it tells nothing to whoever holds the id without
//! the key: the database keeps ids, times and peers in clear, and a stolen
//! one (without the keystore's passphrase) must not let anyone confirm a
//! guessed text. The device keys are long-term, so the key stays the same
//! across sessions; when a peer's device key changes, ids derived under the
//! old key no longer match and are simply written out in full.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use tacnode_domain::{DhPublicKey, IdentityKey, MESSAGE_ID_LEN, MessageId, UnixMillis};
use zeroize::Zeroizing;

use crate::Identity;
use crate::dh::dh;

/// HKDF info label of a [`TextIdKey`].
const KEY_INFO: &[u8] = b"tacnode/text-id-key/v1\0";
/// What [`TextIdKey::id_of`] MACs first.
const ID_LABEL: &[u8] = b"tacnode/text-id/v1\0";

/// The peer's device key is a low-order point: no key can be agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the peer's device key is a low-order point")]
pub struct LowOrderDeviceKey;

/// The key two nodes derive their texts' ids with (secret: never logged).
#[derive(Clone)]
pub struct TextIdKey(Zeroizing<[u8; 32]>);

impl TextIdKey {
    /// The key between `identity` and the peer whose identity key is
    /// `peer_identity` and whose device key is `peer_device`. Both ends
    /// get the same key.
    pub fn between(
        identity: &Identity,
        peer_identity: &IdentityKey,
        peer_device: &DhPublicKey,
    ) -> Result<Self, LowOrderDeviceKey> {
        let shared = dh(identity.device_secret(), peer_device).map_err(|_| LowOrderDeviceKey)?;
        let own = identity.identity_key();
        let (first, second) = if own.as_bytes() <= peer_identity.as_bytes() {
            (own, *peer_identity)
        } else {
            (*peer_identity, own)
        };
        let mut info = Vec::with_capacity(KEY_INFO.len() + 64);
        info.extend_from_slice(KEY_INFO);
        info.extend_from_slice(first.as_bytes());
        info.extend_from_slice(second.as_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        // Cannot fail: 32 bytes is far under HKDF-SHA-256's 8,160.
        let _infallible = Hkdf::<Sha256>::new(None, shared.as_bytes()).expand(&info, key.as_mut());
        Ok(Self(key))
    }

    /// The id of `text`, written by `sender` for `recipient` at `sent`.
    pub fn id_of(
        &self,
        sender: &IdentityKey,
        recipient: &IdentityKey,
        sent: UnixMillis,
        text: &str,
    ) -> MessageId {
        let mut id = [0u8; MESSAGE_ID_LEN];
        // Any key length is accepted by HMAC.
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.0.as_ref()) {
            mac.update(ID_LABEL);
            mac.update(sender.as_bytes());
            mac.update(recipient.as_bytes());
            mac.update(&sent.0.to_be_bytes());
            mac.update(text.as_bytes());
            let tag = mac.finalize().into_bytes();
            id.copy_from_slice(&tag[..MESSAGE_ID_LEN]);
        }
        MessageId(id)
    }
}

impl fmt::Debug for TextIdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TextIdKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn both_ends_derive_the_same_ids_and_nobody_else_does() {
        let mut rng = StdRng::seed_from_u64(1);
        let (alice, bob, eve) = (
            Identity::generate(&mut rng),
            Identity::generate(&mut rng),
            Identity::generate(&mut rng),
        );
        let (a, b) = (alice.identity_key(), bob.identity_key());
        let at_alice = TextIdKey::between(&alice, &b, &bob.device_key()).unwrap();
        let at_bob = TextIdKey::between(&bob, &a, &alice.device_key()).unwrap();
        let t = UnixMillis(1_790_000_000_000);
        let id = at_alice.id_of(&a, &b, t, "ok");
        assert_eq!(at_bob.id_of(&a, &b, t, "ok"), id);
        // Another pair, time, text or direction: another id.
        let at_eve = TextIdKey::between(&eve, &b, &bob.device_key()).unwrap();
        for other in [
            at_eve.id_of(&a, &b, t, "ok"),
            at_alice.id_of(&b, &a, t, "ok"),
            at_alice.id_of(&a, &b, UnixMillis(t.0 + 1), "ok"),
            at_alice.id_of(&a, &b, t, "ok!"),
        ] {
            assert_ne!(other, id);
        }
        // A low-order device key agrees on nothing.
        assert_eq!(
            TextIdKey::between(&alice, &b, &DhPublicKey([0; 32])).unwrap_err(),
            LowOrderDeviceKey
        );
        assert_eq!(format!("{at_alice:?}"), "TextIdKey(..)");
    }
}
