//! LIONESS (Anderson and Biham, 1996): a wide-block cipher over the whole
//! body, built from a stream cipher (ChaCha20) and a keyed hash
//! (HMAC-SHA-256) in four unbalanced Feistel rounds. Changing any bit of a
//! ciphertext changes all of its decryption unpredictably.

use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hmac::Mac as _;
use zeroize::Zeroizing;

use crate::kdf::{hkdf, hmac_finish, hmac_keyed};

/// Bytes of the left part (the key-sized part) of a block.
const LEFT_LEN: usize = 32;
const INFO: &[u8] = b"tacnode/sphinx/v1 lioness";

/// The four round keys of one LIONESS layer.
pub(crate) struct LionessKey {
    rounds: Zeroizing<[u8; 4 * LEFT_LEN]>,
}

impl std::fmt::Debug for LionessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LionessKey(<redacted>)")
    }
}

/// XORs the ChaCha20 keystream under `key` (zero nonce) into `data`.
pub(crate) fn chacha20_xor(key: &[u8; 32], data: &mut [u8]) {
    let mut cipher = ChaCha20::new(key.into(), &[0u8; 12].into());
    cipher.apply_keystream(data);
}

impl LionessKey {
    /// The round keys expanded from a 32-byte seed.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            rounds: hkdf::<{ 4 * LEFT_LEN }>(&[], &[seed], INFO),
        }
    }

    fn round_key(&self, round: usize) -> [u8; LEFT_LEN] {
        let mut key = [0u8; LEFT_LEN];
        if let Some(bytes) = self.rounds.get(round * LEFT_LEN..(round + 1) * LEFT_LEN) {
            key.copy_from_slice(bytes);
        }
        key
    }

    /// `R ^= ChaCha20(L ^ K)`.
    fn stream_round(&self, round: usize, left: &[u8], right: &mut [u8]) {
        let mut key = Zeroizing::new(self.round_key(round));
        for (k, l) in key.iter_mut().zip(left) {
            *k ^= l;
        }
        chacha20_xor(&key, right);
    }

    /// `L ^= HMAC(K, R)`.
    fn hash_round(&self, round: usize, left: &mut [u8], right: &[u8]) {
        let key = Zeroizing::new(self.round_key(round));
        let mut mac = hmac_keyed(&key);
        mac.update(right);
        let digest = Zeroizing::new(hmac_finish(mac));
        for (l, d) in left.iter_mut().zip(digest.iter()) {
            *l ^= d;
        }
    }

    /// Encrypts `block` (longer than 32 bytes) in place.
    pub(crate) fn encrypt(&self, block: &mut [u8]) {
        let (left, right) = block.split_at_mut(LEFT_LEN.min(block.len()));
        self.stream_round(0, left, right);
        self.hash_round(1, left, right);
        self.stream_round(2, left, right);
        self.hash_round(3, left, right);
    }

    /// Decrypts `block` in place.
    pub(crate) fn decrypt(&self, block: &mut [u8]) {
        let (left, right) = block.split_at_mut(LEFT_LEN.min(block.len()));
        self.hash_round(3, left, right);
        self.stream_round(2, left, right);
        self.hash_round(1, left, right);
        self.stream_round(0, left, right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypt_inverts_encrypt_and_a_flipped_bit_spreads() {
        let key = LionessKey::from_seed(&[7u8; 32]);
        let plain: Vec<u8> = (0..600u32).map(|i| (i % 251) as u8).collect();
        let mut block = plain.clone();
        key.encrypt(&mut block);
        assert_ne!(block, plain);
        let mut copy = block.clone();
        key.decrypt(&mut block);
        assert_eq!(block, plain);

        // One flipped bit anywhere garbles the whole decryption, the left
        // part included.
        for position in [0, 31, 32, 599] {
            let mut tampered = copy.clone();
            tampered[position] ^= 1;
            key.decrypt(&mut tampered);
            let same = tampered.iter().zip(&plain).filter(|(a, b)| a == b).count();
            assert!(same < 20, "bit at {position}: {same} bytes unchanged");
            assert_ne!(tampered[..16], plain[..16]);
        }
        copy.clear();
    }
}
