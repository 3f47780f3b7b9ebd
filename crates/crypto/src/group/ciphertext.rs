//! A group message on the wire and the bytes its signature covers.

use sha2::{Digest as _, Sha256};
use tacnode_domain::Signature;

use super::{GroupCryptoError, MAX_GROUP_PLAINTEXT_BYTES};
use crate::aead::TAG_LEN;

/// Length of a sender chain id.
pub const CHAIN_ID_LEN: usize = 16;
const SIGNATURE_LEN: usize = 64;
/// Version byte of the encoding.
const WIRE_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + CHAIN_ID_LEN + 4;
/// Bytes a group message adds to its plaintext on the wire: version (1) ‖
/// chain id (16) ‖ iteration (4, u32 BE) ‖ Poly1305 tag (16) ‖ Ed25519
/// signature (64) = 101 bytes.
pub const GROUP_CIPHERTEXT_OVERHEAD: usize = HEADER_LEN + TAG_LEN + SIGNATURE_LEN;
/// Domain separation of the signed bytes.
const SIGNATURE_LABEL: &[u8] = b"tacnode/group/signature/v1\0";

/// One message of a sender chain: who (chain id), where in the chain
/// (iteration), the ChaCha20-Poly1305 ciphertext with its tag, and the
/// chain's Ed25519 signature over a SHA-256 digest of the version, chain
/// id, iteration, ciphertext and the caller's associated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupCiphertext {
    pub(super) chain_id: [u8; CHAIN_ID_LEN],
    pub(super) iteration: u32,
    pub(super) ciphertext: Vec<u8>,
    pub(super) signature: Signature,
}

impl GroupCiphertext {
    /// The sender chain this message belongs to.
    pub fn chain_id(&self) -> &[u8; CHAIN_ID_LEN] {
        &self.chain_id
    }

    /// The message's position in its chain.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// Version ‖ chain id ‖ iteration (u32 BE) ‖ ciphertext ‖ tag ‖
    /// signature: [`GROUP_CIPHERTEXT_OVERHEAD`] bytes more than the plaintext.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.ciphertext.len() + SIGNATURE_LEN);
        out.extend_from_slice(&header(&self.chain_id, self.iteration));
        out.extend_from_slice(&self.ciphertext);
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// Decodes [`GroupCiphertext::to_bytes`]. Checks lengths and the version
    /// only: the signature is checked by [`super::ReceiverChain::decrypt`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GroupCryptoError> {
        const WHAT: &str = "group ciphertext";
        let min = GROUP_CIPHERTEXT_OVERHEAD;
        let short = GroupCryptoError::WrongLength {
            what: WHAT,
            expected: min,
            actual: bytes.len(),
        };
        let (&version, rest) = bytes.split_first().ok_or(short.clone())?;
        if version != WIRE_VERSION {
            return Err(GroupCryptoError::UnsupportedVersion {
                what: WHAT,
                version,
            });
        }
        if bytes.len() < min {
            return Err(short);
        }
        if bytes.len() - min > MAX_GROUP_PLAINTEXT_BYTES {
            return Err(GroupCryptoError::CiphertextTooLarge(
                bytes.len() - HEADER_LEN - SIGNATURE_LEN,
            ));
        }
        let (chain_id, rest) = rest
            .split_first_chunk::<CHAIN_ID_LEN>()
            .ok_or(short.clone())?;
        let (iteration, rest) = rest.split_first_chunk::<4>().ok_or(short.clone())?;
        let (ciphertext, signature) = rest.split_last_chunk::<SIGNATURE_LEN>().ok_or(short)?;
        Ok(Self {
            chain_id: *chain_id,
            iteration: u32::from_be_bytes(*iteration),
            ciphertext: ciphertext.to_vec(),
            signature: Signature(*signature),
        })
    }
}

/// Version ‖ chain id ‖ iteration: the header on the wire, and the
/// ChaCha20-Poly1305 associated data before the caller's.
pub(super) fn header(chain_id: &[u8; CHAIN_ID_LEN], iteration: u32) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[0] = WIRE_VERSION;
    out[1..1 + CHAIN_ID_LEN].copy_from_slice(chain_id);
    out[1 + CHAIN_ID_LEN..].copy_from_slice(&iteration.to_be_bytes());
    out
}

/// The AEAD associated data: header ‖ the caller's associated data.
pub(super) fn aead_associated_data(
    chain_id: &[u8; CHAIN_ID_LEN],
    iteration: u32,
    associated_data: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + associated_data.len());
    out.extend_from_slice(&header(chain_id, iteration));
    out.extend_from_slice(associated_data);
    out
}

/// What the chain's key signs: SHA-256(`"tacnode/group/signature/v1\0"` ‖
/// header ‖ length of the associated data (u32 BE) ‖ associated data ‖
/// ciphertext ‖ tag). Every field is fixed-length or length-prefixed but
/// the last, so two different messages never hash the same bytes. Ed25519
/// over the 32-byte digest hashes one SHA-512 block where the whole message
/// would take several on each side.
pub(super) fn signed_digest(
    chain_id: &[u8; CHAIN_ID_LEN],
    iteration: u32,
    associated_data: &[u8],
    ciphertext: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SIGNATURE_LABEL);
    h.update(header(chain_id, iteration));
    // Bounded by MAX_GROUP_ASSOCIATED_DATA_BYTES before any call.
    h.update(
        u32::try_from(associated_data.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    h.update(associated_data);
    h.update(ciphertext);
    h.finalize().into()
}
