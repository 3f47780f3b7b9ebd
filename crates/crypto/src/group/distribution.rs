//! The sender key a chain's owner hands every member.

use std::fmt;

use tacnode_domain::{IdentityKey, KEY_LEN};
use zeroize::{Zeroize as _, Zeroizing};

use super::{CHAIN_ID_LEN, GroupCryptoError};
use crate::ratchet::ChainKey;

/// Version byte of the encoding.
const DISTRIBUTION_VERSION: u8 = 1;
/// Length of [`SenderKeyDistribution::to_bytes`]: version (1) ‖ chain id
/// (16) ‖ iteration (4, u32 BE) ‖ chain key (32) ‖ signing public key (32).
pub const SENDER_KEY_DISTRIBUTION_LEN: usize = 1 + CHAIN_ID_LEN + 4 + 32 + KEY_LEN;

/// What the owner of a [`super::SenderChain`] sends each member over their
/// pairwise Double Ratchet session (which authenticates and encrypts it):
/// the chain id, the current iteration, the chain key at that iteration and
/// the chain's signing public key. Whoever holds it opens the owner's
/// messages from that iteration on, and none before.
///
/// The chain key is secret: wiped on drop, never printed.
#[derive(Clone)]
pub struct SenderKeyDistribution {
    pub(super) chain_id: [u8; CHAIN_ID_LEN],
    pub(super) iteration: u32,
    pub(super) chain_key: ChainKey,
    pub(super) signing_key: IdentityKey,
}

impl SenderKeyDistribution {
    /// The chain this distribution opens.
    pub fn chain_id(&self) -> &[u8; CHAIN_ID_LEN] {
        &self.chain_id
    }

    /// The first iteration it opens.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The public key the chain's messages are signed with.
    pub fn signing_key(&self) -> IdentityKey {
        self.signing_key
    }

    /// The [`SENDER_KEY_DISTRIBUTION_LEN`]-byte encoding, wiped on drop.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(SENDER_KEY_DISTRIBUTION_LEN));
        out.push(DISTRIBUTION_VERSION);
        out.extend_from_slice(&self.chain_id);
        out.extend_from_slice(&self.iteration.to_be_bytes());
        out.extend_from_slice(&self.chain_key.0);
        out.extend_from_slice(self.signing_key.as_bytes());
        out
    }

    /// Decodes [`SenderKeyDistribution::to_bytes`]: exactly
    /// [`SENDER_KEY_DISTRIBUTION_LEN`] bytes, a known version, a signing key
    /// that is a valid point of large order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GroupCryptoError> {
        const WHAT: &str = "sender key distribution";
        let wrong_length = GroupCryptoError::WrongLength {
            what: WHAT,
            expected: SENDER_KEY_DISTRIBUTION_LEN,
            actual: bytes.len(),
        };
        let (&version, rest) = bytes.split_first().ok_or(wrong_length.clone())?;
        if version != DISTRIBUTION_VERSION {
            return Err(GroupCryptoError::UnsupportedVersion {
                what: WHAT,
                version,
            });
        }
        let rest: &[u8; SENDER_KEY_DISTRIBUTION_LEN - 1] =
            rest.try_into().map_err(|_| wrong_length)?;
        let (chain_id, rest) = split::<CHAIN_ID_LEN>(rest);
        let (iteration, rest) = split::<4>(rest);
        let (mut chain_key, rest) = split::<32>(rest);
        let (signing_key, _) = split::<KEY_LEN>(rest);
        let distribution = parse_signing_key(&signing_key).map(|signing_key| Self {
            chain_id,
            iteration: u32::from_be_bytes(iteration),
            chain_key: ChainKey(chain_key),
            signing_key,
        });
        chain_key.zeroize();
        distribution
    }
}

/// The first `N` bytes of `bytes` and the rest (all zeros past its end,
/// which the callers' fixed lengths rule out).
fn split<const N: usize>(bytes: &[u8]) -> ([u8; N], &[u8]) {
    match bytes.split_first_chunk::<N>() {
        Some((head, tail)) => (*head, tail),
        None => ([0; N], &[]),
    }
}

/// A signing public key that parses and is not of small order (such a key
/// would let anyone sign).
pub(super) fn parse_signing_key(bytes: &[u8; KEY_LEN]) -> Result<IdentityKey, GroupCryptoError> {
    let key = IdentityKey::from_bytes(bytes).map_err(|_| GroupCryptoError::InvalidSigningKey)?;
    if key.verifying_key().is_weak() {
        return Err(GroupCryptoError::InvalidSigningKey);
    }
    Ok(key)
}

impl fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .field("chain_key", &"<redacted>")
            .field("signing_key", &self.signing_key)
            .finish()
    }
}
