//! The Double Ratchet's secrets and its two KDFs.

use std::fmt;

use hmac::Mac;
use rand_core::CryptoRng;
use tacnode_domain::DhPublicKey;
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::dh::public_of;
use crate::kdf::{hkdf, hmac_finish, hmac_keyed};

/// HKDF info of `KDF_RK`.
const ROOT_INFO: &[u8] = b"tacnode/ratchet/root/v1";
/// HMAC input deriving a message key from a chain key.
const MESSAGE_KEY_INPUT: [u8; 1] = [0x01];
/// HMAC input deriving the next chain key.
const CHAIN_KEY_INPUT: [u8; 1] = [0x02];

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name(pub(crate) [u8; 32]);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_key!(
    /// The root key `RK`, advanced by every DH ratchet step.
    RootKey
);
secret_key!(
    /// A sending or receiving chain key `CK`.
    ChainKey
);
secret_key!(
    /// A one-use message key `mk`.
    MessageKey
);

impl RootKey {
    /// `KDF_RK(rk, dh_out)`: HKDF-SHA-256 with the root key as salt, the DH
    /// output as input key material; 64 bytes split into a new root key and a
    /// chain key.
    pub(crate) fn ratchet(&self, dh_out: &[u8; 32]) -> (RootKey, ChainKey) {
        let okm = hkdf::<64>(&self.0, &[dh_out], ROOT_INFO);
        let mut rk = RootKey([0; 32]);
        let mut ck = ChainKey([0; 32]);
        rk.0.copy_from_slice(&okm[..32]);
        ck.0.copy_from_slice(&okm[32..]);
        (rk, ck)
    }
}

impl ChainKey {
    /// `KDF_CK(ck)`: `mk = HMAC(ck, 0x01)`, `ck' = HMAC(ck, 0x02)`. The keyed
    /// HMAC state is computed once and cloned for the two inputs.
    pub(crate) fn step(&self) -> (ChainKey, MessageKey) {
        let keyed = hmac_keyed(&self.0);
        let mut for_message = keyed.clone();
        for_message.update(&MESSAGE_KEY_INPUT);
        let mut for_chain = keyed;
        for_chain.update(&CHAIN_KEY_INPUT);
        (
            ChainKey(hmac_finish(for_chain)),
            MessageKey(hmac_finish(for_message)),
        )
    }
}

/// Our current ratchet key pair; the public key is cached. The secret
/// zeroizes itself on drop.
#[derive(Clone)]
pub(crate) struct RatchetKeyPair {
    pub(crate) secret: StaticSecret,
    pub(crate) public: DhPublicKey,
}

impl RatchetKeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_secret(StaticSecret::random_from_rng(rng))
    }

    pub(crate) fn from_secret(secret: StaticSecret) -> Self {
        let public = public_of(&secret);
        Self { secret, public }
    }
}

impl Zeroize for RatchetKeyPair {
    fn zeroize(&mut self) {
        self.secret = StaticSecret::from([0u8; 32]);
    }
}

impl ZeroizeOnDrop for RatchetKeyPair {}

impl fmt::Debug for RatchetKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RatchetKeyPair")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_ck_separates_message_and_chain_keys_and_debug_is_redacted() {
        let ck = ChainKey([5; 32]);
        let (next, mk) = ck.step();
        assert_ne!(next.0, mk.0);
        assert_ne!(next.0, ck.0);
        let (next2, mk2) = ck.step();
        assert_eq!((next.0, mk.0), (next2.0, mk2.0));
        assert_eq!(format!("{mk:?}"), "MessageKey(<redacted>)");
        let (rk, ck) = RootKey([1; 32]).ratchet(&[2; 32]);
        assert_ne!(rk.0, ck.0);
        assert!(format!("{rk:?}{ck:?}").contains("redacted"));
    }
}
