use std::fmt;
use std::str::FromStr;

use crate::id::NodeId;
use crate::keys::{IdentityKey, KEY_LEN};

/// Prefix of every textual peer address.
pub const PEER_ADDRESS_PREFIX: &str = "key_";

/// Longest base58 text of 32 bytes; longer input is rejected before decoding.
const MAX_BASE58_LEN: usize = 44;

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
    /// The decoded key is not 32 bytes.
    #[error("peer address decodes to {0} bytes, expected {KEY_LEN}")]
    WrongLength(usize),
    /// The 32 bytes are not a valid Ed25519 key.
    #[error("peer address is not a valid Ed25519 public key")]
    InvalidKey,
}

/// The textual address operators exchange: `key_<base58 of the Ed25519 identity key>`.
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
            // Over-long text would decode to more than 32 bytes; say so without decoding.
            return Err(AddressError::WrongLength(body.len() * 3 / 4));
        }
        let bytes = bs58::decode(body)
            .into_vec()
            .map_err(|_| AddressError::WrongLength(0))?;
        let arr = <[u8; KEY_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| AddressError::WrongLength(bytes.len()))?;
        IdentityKey::from_bytes(&arr)
            .map(Self)
            .map_err(|_| AddressError::InvalidKey)
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PEER_ADDRESS_PREFIX}{}",
            bs58::encode(self.0.as_bytes()).into_string()
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
        assert_eq!(
            short.parse::<PeerAddress>(),
            Err(AddressError::WrongLength(31))
        );
        let long = format!("key_{}", bs58::encode([1u8; 33]).into_string());
        assert!(matches!(
            long.parse::<PeerAddress>(),
            Err(AddressError::WrongLength(_))
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = s.parse::<PeerAddress>();
            let _ = format!("key_{s}").parse::<PeerAddress>();
        }
    }
}
