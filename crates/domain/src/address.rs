use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::id::NodeId;
use crate::keys::{IdentityKey, KEY_LEN};

/// Prefix of every textual peer address.
pub const PEER_ADDRESS_PREFIX: &str = "key_";

/// First byte of the encoded payload: "an Ed25519 identity key, form 1".
pub const PEER_ADDRESS_VERSION: u8 = 1;

/// Length of the checksum: the first bytes of SHA-256(SHA-256(version ‖ key)).
pub const PEER_ADDRESS_CHECKSUM_LEN: usize = 4;

/// Bytes behind the base58 text: version ‖ key ‖ checksum.
const PAYLOAD_LEN: usize = 1 + KEY_LEN + PEER_ADDRESS_CHECKSUM_LEN;

/// Longest base58 text accepted; longer input is rejected before decoding
/// (37 bytes need at most 51 characters).
const MAX_BASE58_LEN: usize = 52;

/// Why a textual peer address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The text does not start with `key_`.
    #[error("peer address must start with \"{PEER_ADDRESS_PREFIX}\"")]
    MissingPrefix,
    /// A character outside the base58 (Bitcoin) alphabet.
    #[error("peer address contains a character that is not base58: {0:?}")]
    BadAlphabet(char),
    /// The checksum does not match: a character is wrong, missing, extra or
    /// swapped with its neighbour.
    #[error(
        "peer address checksum mismatch: a character is wrong, missing or extra; \
         copy the address again"
    )]
    Checksum,
    /// The address has the old form, a bare key without version and
    /// checksum, which is no longer accepted: a typo in it went unnoticed.
    #[error(
        "peer address has the old form without a checksum; ask the peer for its \
         current address (`tacnode id`)"
    )]
    NoChecksum,
    /// An unknown version byte.
    #[error("peer address version {0} is not supported by this build")]
    UnknownVersion(u8),
    /// The 32 bytes are not a valid Ed25519 key.
    #[error("peer address is not a valid Ed25519 public key")]
    InvalidKey,
}

/// The textual address operators exchange and read aloud:
/// `key_` ‖ base58(version ‖ Ed25519 identity key ‖ checksum), the checksum
/// being the first 4 bytes of SHA-256(SHA-256(version ‖ key)) (base58check).
/// A wrong, missing, extra or transposed character is refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PeerAddress(IdentityKey);

impl PeerAddress {
    /// The address of `key`.
    pub const fn new(key: IdentityKey) -> Self {
        Self(key)
    }

    /// The identity key it names.
    pub const fn identity_key(&self) -> &IdentityKey {
        &self.0
    }

    /// The node id it names.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_identity(&self.0)
    }
}

fn checksum(version: u8, key: &[u8]) -> [u8; PEER_ADDRESS_CHECKSUM_LEN] {
    let mut h = Sha256::new();
    h.update([version]);
    h.update(key);
    let twice = Sha256::digest(h.finalize());
    let mut out = [0u8; PEER_ADDRESS_CHECKSUM_LEN];
    out.copy_from_slice(&twice[..PEER_ADDRESS_CHECKSUM_LEN]);
    out
}

impl FromStr for PeerAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s
            .strip_prefix(PEER_ADDRESS_PREFIX)
            .ok_or(AddressError::MissingPrefix)?;
        if let Some(c) = body.chars().find(|c| !is_base58(*c)) {
            return Err(AddressError::BadAlphabet(c));
        }
        if body.len() > MAX_BASE58_LEN {
            return Err(AddressError::Checksum);
        }
        let bytes = bs58::decode(body)
            .into_vec()
            .map_err(|_| AddressError::Checksum)?;
        if bytes.len() == KEY_LEN && body.len() <= 44 {
            return Err(AddressError::NoChecksum);
        }
        let payload =
            <[u8; PAYLOAD_LEN]>::try_from(bytes.as_slice()).map_err(|_| AddressError::Checksum)?;
        let (version, rest) = (payload[0], &payload[1..]);
        let (key, sum) = rest.split_at(KEY_LEN);
        if checksum(version, key) != sum {
            return Err(AddressError::Checksum);
        }
        if version != PEER_ADDRESS_VERSION {
            return Err(AddressError::UnknownVersion(version));
        }
        let arr = <[u8; KEY_LEN]>::try_from(key).map_err(|_| AddressError::Checksum)?;
        IdentityKey::from_bytes(&arr)
            .map(Self)
            .map_err(|_| AddressError::InvalidKey)
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = PEER_ADDRESS_VERSION;
        payload[1..=KEY_LEN].copy_from_slice(self.0.as_bytes());
        let sum = checksum(PEER_ADDRESS_VERSION, self.0.as_bytes());
        payload[1 + KEY_LEN..].copy_from_slice(&sum);
        write!(
            f,
            "{PEER_ADDRESS_PREFIX}{}",
            bs58::encode(payload).into_string()
        )
    }
}

fn is_base58(c: char) -> bool {
    c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Ed25519 base point: a valid key.
    const BASEPOINT: [u8; 32] = [
        0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66,
    ];

    fn addr() -> PeerAddress {
        PeerAddress::new(IdentityKey::from_bytes(&BASEPOINT).unwrap())
    }

    fn other() -> PeerAddress {
        // Another valid key: the identity key of a fixed signing seed.
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        PeerAddress::new(IdentityKey::from_bytes(sk.verifying_key().as_bytes()).unwrap())
    }

    #[test]
    fn round_trips_through_text() {
        let a = addr();
        let text = a.to_string();
        assert!(text.starts_with("key_"));
        assert_eq!(text.parse::<PeerAddress>().unwrap(), a);
    }

    #[test]
    fn rejects_wrong_prefix() {
        let text = addr().to_string().replacen("key_", "kex_", 1);
        assert_eq!(
            text.parse::<PeerAddress>(),
            Err(AddressError::MissingPrefix)
        );
    }

    #[test]
    fn rejects_bad_alphabet() {
        let mut text = addr().to_string();
        text.push('0');
        assert_eq!(
            text.parse::<PeerAddress>(),
            Err(AddressError::BadAlphabet('0'))
        );
    }

    #[test]
    fn rejects_wrong_length() {
        let short = format!("key_{}", bs58::encode([1u8; 31]).into_string());
        assert_eq!(short.parse::<PeerAddress>(), Err(AddressError::Checksum));
        let long = format!("key_{}", bs58::encode([1u8; 40]).into_string());
        assert_eq!(long.parse::<PeerAddress>(), Err(AddressError::Checksum));
    }

    /// The old form (a bare key) is refused with what to do.
    #[test]
    fn rejects_the_old_form_without_checksum() {
        let old = format!("key_{}", bs58::encode(BASEPOINT).into_string());
        assert_eq!(old.parse::<PeerAddress>(), Err(AddressError::NoChecksum));
    }

    /// Every single-character substitution, deletion, insertion and
    /// adjacent transposition of an address is refused (issue #13: an
    /// address read aloud with one character wrong used to become a valid
    /// but wrong contact).
    #[test]
    fn every_one_character_mistake_is_refused() {
        const ALPHABET: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        for key in [addr(), other()] {
            let text = key.to_string();
            let body: Vec<char> = text["key_".len()..].chars().collect();
            let mut variants = Vec::new();
            for i in 0..body.len() {
                for c in ALPHABET.chars().filter(|c| *c != body[i]) {
                    let mut v = body.clone();
                    v[i] = c;
                    variants.push(v);
                }
                let mut v = body.clone();
                v.remove(i);
                variants.push(v);
                for c in ALPHABET.chars() {
                    let mut v = body.clone();
                    v.insert(i, c);
                    variants.push(v);
                }
                if i + 1 < body.len() && body[i] != body[i + 1] {
                    let mut v = body.clone();
                    v.swap(i, i + 1);
                    variants.push(v);
                }
            }
            for v in variants {
                let t = format!("key_{}", v.into_iter().collect::<String>());
                assert!(t.parse::<PeerAddress>().is_err(), "{t} accepted for {text}");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<PeerAddress>();
            let _ = format!("key_{s}").parse::<PeerAddress>();
        }
    }
}
