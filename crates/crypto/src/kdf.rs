//! HKDF-SHA-256 and HMAC-SHA-256 as the protocols use them.

use hkdf::HkdfExtract;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HKDF-SHA-256 over the concatenation of `ikm` parts, `N` output bytes.
pub(crate) fn hkdf<const N: usize>(salt: &[u8], ikm: &[&[u8]], info: &[u8]) -> Zeroizing<[u8; N]> {
    const { assert!(N <= 255 * 32, "HKDF-SHA-256 output is at most 8160 bytes") };
    let mut extract = HkdfExtract::<Sha256>::new(Some(salt));
    for part in ikm {
        extract.input_ikm(part);
    }
    let (mut prk, hkdf) = extract.finalize();
    prk.as_mut_slice().zeroize();
    let mut out = Zeroizing::new([0u8; N]);
    // Cannot fail: N is bounded at compile time above.
    let _infallible = hkdf.expand(info, out.as_mut_slice());
    out
}

/// An HMAC-SHA-256 keyed with a 32-byte key (HMAC zero-pads keys to the
/// block size itself, so this is exactly HMAC(key, ·)).
pub(crate) fn hmac_keyed(key: &[u8; 32]) -> HmacSha256 {
    let mut block = Zeroizing::new([0u8; 64]);
    if let Some(head) = block.get_mut(..32) {
        head.copy_from_slice(key);
    }
    <HmacSha256 as KeyInit>::new(&(*block).into())
}

/// Finishes an HMAC into 32 bytes.
pub(crate) fn hmac_finish(mac: HmacSha256) -> [u8; 32] {
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_key_equals_plain_hmac() {
        let key = [0x42u8; 32];
        let mut a = hmac_keyed(&key);
        a.update(b"msg");
        let mut b = <HmacSha256 as KeyInit>::new_from_slice(&key).unwrap();
        b.update(b"msg");
        assert_eq!(hmac_finish(a), <[u8; 32]>::from(b.finalize().into_bytes()));
    }

    #[test]
    fn hkdf_matches_rfc5869_case1() {
        let ikm = [0x0bu8; 22];
        let salt: Vec<u8> = (0u8..=0x0c).collect();
        let info: Vec<u8> = (0xf0u8..=0xf9).collect();
        let okm = hkdf::<42>(&salt, &[&ikm[..11], &ikm[11..]], &info);
        assert_eq!(okm[..4], [0x3c, 0xb2, 0x5f, 0x25]);
        assert_eq!(okm[41], 0x65);
    }
}
