//! The per-message cipher key and nonce derived from a group message key.
//!
//! The chain ratchet itself is the Double Ratchet's `KDF_CK`
//! ([`ChainKey::step`]): message key `HMAC(CK, 0x01)`, next chain key
//! `HMAC(CK, 0x02)`.

use hkdf::Hkdf;
use sha2::Sha256;
use tacnode_domain::e2e::MESSAGE_NONCE_LEN;
use zeroize::Zeroizing;

use crate::ratchet::{ChainKey, MessageKey};

/// HKDF info of a group message's AEAD key and nonce.
const MESSAGE_INFO: &[u8] = b"tacnode/group/message/v1";

const CIPHER_LEN: usize = 32 + MESSAGE_NONCE_LEN;

/// ChaCha20-Poly1305 key and nonce of one message, wiped on drop.
pub(super) struct MessageCipher(Zeroizing<[u8; CIPHER_LEN]>);

impl MessageCipher {
    /// HKDF-Expand-SHA-256 (RFC 5869 §2.3) with the message key as the
    /// pseudorandom key and info `"tacnode/group/message/v1"` → key (32) ‖
    /// nonce (12). The message key is an HMAC-SHA-256 output, uniformly
    /// random already, so the extract step is left out (RFC 5869 §3.3).
    pub(super) fn derive(message_key: &MessageKey) -> Self {
        let mut out = Zeroizing::new([0u8; CIPHER_LEN]);
        // Neither can fail: the key is the hash length, the output under
        // 255 blocks.
        if let Ok(hkdf) = Hkdf::<Sha256>::from_prk(&message_key.0) {
            let _infallible = hkdf.expand(MESSAGE_INFO, out.as_mut_slice());
        }
        Self(out)
    }

    pub(super) fn key(&self) -> &[u8; 32] {
        let (key, _) = self.0.split_first_chunk::<32>().unwrap_or((&[0; 32], &[]));
        key
    }

    pub(super) fn nonce(&self) -> &[u8; MESSAGE_NONCE_LEN] {
        let (_, nonce) = self
            .0
            .split_last_chunk::<MESSAGE_NONCE_LEN>()
            .unwrap_or((&[], &[0; MESSAGE_NONCE_LEN]));
        nonce
    }
}

/// Steps `chain` from iteration `from` to `to` (`from <= to`): the message
/// keys of `from..to` (to keep as skipped), the message key of `to` and the
/// chain key after it. The caller bounds `to - from`.
pub(super) fn walk(
    chain: &ChainKey,
    from: u32,
    to: u32,
) -> (Vec<(u32, MessageKey)>, MessageKey, ChainKey) {
    let mut skipped = Vec::with_capacity(usize::try_from(to.saturating_sub(from)).unwrap_or(0));
    let (mut ck, mut mk) = chain.step();
    for iteration in from..to {
        skipped.push((iteration, mk));
        (ck, mk) = ck.step();
    }
    (skipped, mk, ck)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_nonce_are_distinct_parts_and_walk_matches_steps() {
        let mk = MessageKey([9; 32]);
        let c = MessageCipher::derive(&mk);
        assert_ne!(&c.key()[..12], c.nonce());
        assert_ne!(c.key(), &mk.0);
        // HKDF-Expand's first block is HMAC(PRK, info ‖ 0x01).
        let mut first = crate::kdf::hmac_keyed(&mk.0);
        hmac::Mac::update(&mut first, MESSAGE_INFO);
        hmac::Mac::update(&mut first, &[1]);
        assert_eq!(c.key(), &crate::kdf::hmac_finish(first));
        let ck = ChainKey([1; 32]);
        let (skipped, mk3, ck4) = walk(&ck, 5, 8);
        assert_eq!(skipped.iter().map(|s| s.0).collect::<Vec<_>>(), [5, 6, 7]);
        let (c1, m5) = ck.step();
        let (c2, _) = c1.step();
        let (c3, _) = c2.step();
        let (c4, m8) = c3.step();
        assert_eq!(skipped[0].1.0, m5.0);
        assert_eq!((mk3.0, ck4.0), (m8.0, c4.0));
    }
}
