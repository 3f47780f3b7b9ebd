//! Safety numbers: what two users compare out of band (read aloud, or scan as
//! a QR code) to confirm they hold each other's real identity keys.
//!
//! The number depends on both Ed25519 identity keys and not on who computes
//! it, so both parties see the same digits.
//!
//! # Construction (version 1)
//!
//! In the spirit of Signal's numeric fingerprint:
//!
//! 1. For each identity key `K` (32 bytes), with `id = SHA-256(K)` (its
//!    [`NodeId`]) as the stable identifier:
//!    `h₀ = u16_be(1) ‖ K ‖ id`, then `hᵢ₊₁ = SHA-512(hᵢ ‖ K)` for
//!    [`FINGERPRINT_ITERATIONS`] (5200) rounds; the fingerprint is the final
//!    64-byte hash `F`.
//! 2. Each party's 30 digits: the first 30 bytes of `F` as six 5-byte
//!    big-endian integers, each taken mod 100000 and written as 5 decimal
//!    digits with leading zeros.
//! 3. The two 30-digit strings are sorted (ASCII order, which is numeric order
//!    here) and concatenated: 60 digits, shown as 12 groups of 5.
//! 4. The QR payload ([`SCANNABLE_LEN`] = 65 bytes) is the version byte
//!    [`SAFETY_NUMBER_VERSION`] (1) followed by the first 32 bytes of each
//!    party's `F`, the lexicographically smaller first.
//!
//! Both orders are canonical, so the digits and the payload are identical on
//! both sides; [`SafetyNumber::matches_scanned`] compares a scanned payload in
//! constant time.

use std::fmt;

use sha2::{Digest as _, Sha512};
use subtle::ConstantTimeEq as _;
use tacnode_domain::{DhPublicKey, IdentityKey, NodeId};

/// Version of the construction, first byte of the QR payload (and, as a
/// big-endian `u16`, first bytes hashed into each fingerprint).
pub const SAFETY_NUMBER_VERSION: u8 = 1;
/// SHA-512 rounds per fingerprint: slows down searching for a key whose
/// digits collide with a victim's.
pub const FINGERPRINT_ITERATIONS: u32 = 5200;
/// Bytes of each fingerprint carried in the QR payload.
pub const SCANNABLE_FINGERPRINT_LEN: usize = 32;
/// Length of the QR payload: version byte and two fingerprints.
pub const SCANNABLE_LEN: usize = 1 + 2 * SCANNABLE_FINGERPRINT_LEN;
/// Decimal digits in a safety number.
pub const SAFETY_NUMBER_DIGITS: usize = 60;
/// Digits per displayed group.
pub const SAFETY_NUMBER_GROUP_LEN: usize = 5;
/// Displayed groups.
pub const SAFETY_NUMBER_GROUPS: usize = SAFETY_NUMBER_DIGITS / SAFETY_NUMBER_GROUP_LEN;

/// A scanned QR payload could not be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The payload is not [`SCANNABLE_LEN`] bytes.
    #[error("safety number payload has {actual} bytes, expected {expected}")]
    Length {
        /// [`SCANNABLE_LEN`].
        expected: usize,
        /// Length scanned.
        actual: usize,
    },
    /// The payload was made by another version of the construction.
    #[error("safety number payload version {0} is not supported")]
    UnsupportedVersion(u8),
}

/// The safety number of a pair of identity keys. Public data.
#[derive(Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    digits: String,
    scannable: [u8; SCANNABLE_LEN],
}

impl SafetyNumber {
    /// Computes the safety number of `local` and `remote`; swapping them gives
    /// the same result.
    pub fn new(local: &IdentityKey, remote: &IdentityKey) -> Self {
        let a = fingerprint(local);
        let b = fingerprint(remote);
        let (da, db) = (digits_of(&a), digits_of(&b));
        let digits = if da <= db { da + &db } else { db + &da };

        let (fa, fb) = (prefix(&a), prefix(&b));
        let (lo, hi) = if fa <= fb { (fa, fb) } else { (fb, fa) };
        let mut scannable = [0u8; SCANNABLE_LEN];
        let (version, rest) = scannable.split_at_mut(1);
        let (first, second) = rest.split_at_mut(SCANNABLE_FINGERPRINT_LEN);
        version.copy_from_slice(&[SAFETY_NUMBER_VERSION]);
        first.copy_from_slice(&lo);
        second.copy_from_slice(&hi);
        Self { digits, scannable }
    }

    /// The [`SAFETY_NUMBER_DIGITS`] decimal digits, without separators.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The digits as [`SAFETY_NUMBER_GROUPS`] groups of
    /// [`SAFETY_NUMBER_GROUP_LEN`], for display.
    pub fn groups(&self) -> [&str; SAFETY_NUMBER_GROUPS] {
        std::array::from_fn(|i| {
            let start = i * SAFETY_NUMBER_GROUP_LEN;
            self.digits
                .get(start..start + SAFETY_NUMBER_GROUP_LEN)
                .unwrap_or_default()
        })
    }

    /// The payload to render as a QR code.
    pub fn scannable(&self) -> &[u8; SCANNABLE_LEN] {
        &self.scannable
    }

    /// Compares a payload scanned from the other party's screen with ours in
    /// constant time: `Ok(true)` when both parties hold the same pair of keys.
    pub fn matches_scanned(&self, payload: &[u8]) -> Result<bool, ScanError> {
        if payload.len() != SCANNABLE_LEN {
            return Err(ScanError::Length {
                expected: SCANNABLE_LEN,
                actual: payload.len(),
            });
        }
        match payload.first() {
            Some(&SAFETY_NUMBER_VERSION) => {}
            Some(&other) => return Err(ScanError::UnsupportedVersion(other)),
            None => {
                return Err(ScanError::Length {
                    expected: SCANNABLE_LEN,
                    actual: 0,
                });
            }
        }
        Ok(bool::from(self.scannable.as_slice().ct_eq(payload)))
    }
}

impl fmt::Display for SafetyNumber {
    /// The 12 groups separated by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.groups().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(group)?;
        }
        Ok(())
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafetyNumber({self})")
    }
}

/// Decimal digits of a [`DeviceCode`].
pub const DEVICE_CODE_DIGITS: usize = 10;

/// A short code over both parties' identity *and* device keys, compared
/// after a device-key change (the safety number covers identity keys only,
/// so it cannot differ when only a device key changed).
///
/// Construction: each party's `SHA-512("tacnode-device-code/v1" ‖ IK ‖ DK)`,
/// the two hashes sorted and hashed together with SHA-512; the first 8 bytes
/// as a big-endian integer mod 10¹⁰, as 10 digits in two groups of 5. Both
/// parties see the same code when each holds the other's real device key.
/// A forger needs a device key whose code collides: 2⁻³³ per try, each try
/// a fresh certified device key, which only the identity key can sign.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeviceCode(String);

impl DeviceCode {
    /// The code of `local` and `remote` (identity key, device key); swapping
    /// them gives the same result.
    pub fn new(local: (&IdentityKey, &DhPublicKey), remote: (&IdentityKey, &DhPublicKey)) -> Self {
        let one = |(ik, dk): (&IdentityKey, &DhPublicKey)| -> [u8; 64] {
            let mut h = Sha512::new();
            h.update(b"tacnode-device-code/v1");
            h.update(ik.as_bytes());
            h.update(dk.as_bytes());
            h.finalize().into()
        };
        let (a, b) = (one(local), one(remote));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut h = Sha512::new();
        h.update(lo);
        h.update(hi);
        let out = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        let n = u64::from_be_bytes(first) % 10_000_000_000;
        Self(format!("{n:010}"))
    }

    /// The [`DEVICE_CODE_DIGITS`] digits, without separators.
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = self.0.split_at(DEVICE_CODE_DIGITS / 2);
        write!(f, "{a} {b}")
    }
}

fn fingerprint(key: &IdentityKey) -> [u8; 64] {
    let id = NodeId::from_identity(key);
    let mut hasher = Sha512::new();
    hasher.update(u16::from(SAFETY_NUMBER_VERSION).to_be_bytes());
    hasher.update(key.as_bytes());
    hasher.update(id.as_bytes());
    hasher.update(key.as_bytes());
    let mut hash: [u8; 64] = hasher.finalize().into();
    for _ in 1..FINGERPRINT_ITERATIONS {
        let mut hasher = Sha512::new();
        hasher.update(hash);
        hasher.update(key.as_bytes());
        hash = hasher.finalize().into();
    }
    hash
}

fn digits_of(fingerprint: &[u8; 64]) -> String {
    let mut out = String::with_capacity(SAFETY_NUMBER_DIGITS / 2);
    for chunk in fingerprint.chunks_exact(5).take(6) {
        let value = chunk
            .iter()
            .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
        out.push_str(&format!("{:05}", value % 100_000));
    }
    out
}

fn prefix(fingerprint: &[u8; 64]) -> [u8; SCANNABLE_FINGERPRINT_LEN] {
    let mut out = [0u8; SCANNABLE_FINGERPRINT_LEN];
    out.copy_from_slice(
        fingerprint
            .get(..SCANNABLE_FINGERPRINT_LEN)
            .unwrap_or(&[0; 32]),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    fn key(seed: [u8; 32]) -> IdentityKey {
        IdentityKey::from(SigningKey::from_bytes(&seed).verifying_key())
    }

    #[test]
    fn symmetric_and_formatted_as_twelve_groups_of_five() {
        let (a, b) = (key([1; 32]), key([2; 32]));
        let ab = SafetyNumber::new(&a, &b);
        let ba = SafetyNumber::new(&b, &a);
        assert_eq!(ab, ba);
        assert_eq!(ab.digits().len(), SAFETY_NUMBER_DIGITS);
        assert!(ab.digits().bytes().all(|c| c.is_ascii_digit()));
        let shown = ab.to_string();
        let groups: Vec<&str> = shown.split(' ').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 5));
        assert_eq!(groups.concat(), ab.digits());
        assert_eq!(ab.groups().to_vec(), groups);
        assert_eq!(ab.scannable()[0], SAFETY_NUMBER_VERSION);
        assert_eq!(ab.matches_scanned(ba.scannable()), Ok(true));
    }

    #[test]
    fn scanned_payload_checks() {
        let (a, b, c) = (key([1; 32]), key([2; 32]), key([3; 32]));
        let ab = SafetyNumber::new(&a, &b);
        let ac = SafetyNumber::new(&a, &c);
        assert_eq!(ab.matches_scanned(ac.scannable()), Ok(false));
        assert_eq!(
            ab.matches_scanned(&ab.scannable()[..64]),
            Err(ScanError::Length {
                expected: 65,
                actual: 64
            })
        );
        assert_eq!(
            ab.matches_scanned(&[]),
            Err(ScanError::Length {
                expected: 65,
                actual: 0
            })
        );
        let mut other_version = *ab.scannable();
        other_version[0] = 2;
        assert_eq!(
            ab.matches_scanned(&other_version),
            Err(ScanError::UnsupportedVersion(2))
        );
        for i in 1..SCANNABLE_LEN {
            let mut flipped = *ab.scannable();
            flipped[i] ^= 1;
            assert_eq!(ab.matches_scanned(&flipped), Ok(false), "byte {i}");
        }
    }

    fn hex32(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// Pins the construction documented above, computed independently of
    /// this code, for the two RFC 8032 test keys.
    #[test]
    fn known_answer() {
        let a = IdentityKey::from_bytes(&hex32(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        ))
        .unwrap();
        let b = IdentityKey::from_bytes(&hex32(
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        ))
        .unwrap();
        let sn = SafetyNumber::new(&a, &b);
        assert_eq!(
            sn.digits(),
            "006020443760630357559773362219135807580968090643661470520768"
        );
        assert_eq!(
            sn.to_string(),
            "00602 04437 60630 35755 97733 62219 13580 75809 68090 64366 14705 20768"
        );
        let expected: String = sn.scannable().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            expected,
            "01\
             1f3f99591af1fa22d275a2a1e9deb663e7bab70bcf05db71454f867d1aeb26ee\
             40a919492cbb828283a18a525ac85af46d946e6eb099503571c915d227c0b743"
        );
    }

    #[test]
    fn digit_extraction_is_big_endian_mod_100000() {
        let mut fp = [0u8; 64];
        // 0x0000_0186_A1 = 100001 -> "00001"; 0xFF..FF (2^40-1) mod 1e5 = 27775.
        fp[..5].copy_from_slice(&[0, 0, 0x01, 0x86, 0xA1]);
        fp[5..10].copy_from_slice(&[0xFF; 5]);
        let d = digits_of(&fp);
        assert_eq!(d.len(), 30);
        assert_eq!(&d[..10], "0000127775");
        assert_eq!(&d[10..], "00000000000000000000");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn differs_for_any_other_pair(
            a in any::<[u8; 32]>(),
            b in any::<[u8; 32]>(),
            c in any::<[u8; 32]>(),
        ) {
            prop_assume!(c != a && c != b);
            let (ka, kb, kc) = (key(a), key(b), key(c));
            let ab = SafetyNumber::new(&ka, &kb);
            prop_assert_eq!(&ab, &SafetyNumber::new(&kb, &ka));
            for other in [SafetyNumber::new(&ka, &kc), SafetyNumber::new(&kc, &kb)] {
                prop_assert_ne!(ab.digits(), other.digits());
                prop_assert_eq!(ab.matches_scanned(other.scannable()), Ok(false));
            }
        }
    }

    /// The safety number cannot tell a device-key change; the device code
    /// does, and both parties compute the same one.
    #[test]
    fn device_code_changes_with_a_device_key_and_is_symmetric() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(77);
        let alice = crate::Identity::generate(&mut rng);
        let bob = crate::Identity::generate(&mut rng);
        let bob2 = crate::Identity::generate(&mut rng);
        let (ai, ad) = (alice.identity_key(), alice.device_key());
        let (bi, bd) = (bob.identity_key(), bob.device_key());
        let code = DeviceCode::new((&ai, &ad), (&bi, &bd));
        assert_eq!(code, DeviceCode::new((&bi, &bd), (&ai, &ad)));
        assert_eq!(code.digits().len(), DEVICE_CODE_DIGITS);
        assert!(code.digits().chars().all(|c| c.is_ascii_digit()));
        assert_eq!(code.to_string().len(), DEVICE_CODE_DIGITS + 1);
        // Bob's identity with another device key: same safety number, other code.
        let other_device = bob2.device_key();
        assert_eq!(SafetyNumber::new(&ai, &bi), SafetyNumber::new(&ai, &bi));
        assert_ne!(code, DeviceCode::new((&ai, &ad), (&bi, &other_device)));
    }
}
