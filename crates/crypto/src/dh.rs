//! X25519 with the contributory check every DH of this crate goes through.

use tacnode_domain::DhPublicKey;
use x25519_dalek::{PublicKey, SharedSecret, StaticSecret};

/// The peer's public key is a low-order point: the shared secret is all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NonContributory;

/// `DH(secret, public)`, rejecting a non-contributory (all-zero) result.
pub(crate) fn dh(
    secret: &StaticSecret,
    public: &DhPublicKey,
) -> Result<SharedSecret, NonContributory> {
    let shared = secret.diffie_hellman(&PublicKey::from(public.0));
    if shared.was_contributory() {
        Ok(shared)
    } else {
        Err(NonContributory)
    }
}

/// The public key of `secret`.
pub(crate) fn public_of(secret: &StaticSecret) -> DhPublicKey {
    DhPublicKey(PublicKey::from(secret).to_bytes())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Low-order Curve25519 u-coordinates (Wycheproof's x25519 "low order"
    /// public keys): 0, 1, the two order-8 points, p-1, and the
    /// non-canonical p (= 0) and p+1 (= 1). Encodings that differ only in the
    /// top bit are not listed: RFC 7748 masks that bit, which turns them into
    /// other, ordinary points.
    pub(crate) fn low_order_points() -> Vec<[u8; 32]> {
        let hex = [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        hex.iter()
            .map(|h| {
                let mut out = [0u8; 32];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
                }
                out
            })
            .collect()
    }

    #[test]
    fn every_low_order_point_is_rejected() {
        let secret = StaticSecret::from([7u8; 32]);
        for p in low_order_points() {
            assert_eq!(
                dh(&secret, &DhPublicKey(p)).err(),
                Some(NonContributory),
                "{p:02x?}"
            );
        }
        let other = public_of(&StaticSecret::from([9u8; 32]));
        assert!(dh(&secret, &other).is_ok());
    }
}
