//! Our sending chain in a group.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};
use rand_core::CryptoRng;
use tacnode_domain::{IdentityKey, Signature};
use zeroize::Zeroizing;

use super::ciphertext::{aead_associated_data, signed_digest};
use super::keys::MessageCipher;
use super::{
    CHAIN_ID_LEN, GroupCiphertext, GroupCryptoError, MAX_GROUP_ASSOCIATED_DATA_BYTES,
    MAX_GROUP_PLAINTEXT_BYTES, SenderKeyDistribution,
};
use crate::aead;
use crate::pickle::{PickleError, Reader, Writer};
use crate::ratchet::ChainKey;

/// Messages after which a chain should be replaced by a new one
/// ([`SenderChain::should_rotate`]). Rotating after a time as well is the
/// caller's: this crate reads no clock.
pub const ROTATE_AFTER_MESSAGES: u32 = 1000;

const PICKLE_MAGIC: &[u8; 4] = b"TNGS";
const PICKLE_VERSION: u8 = 1;
/// Chain id ‖ iteration ‖ chain key ‖ signing seed.
const PICKLE_BODY_LEN: usize = CHAIN_ID_LEN + 4 + 32 + 32;

/// Our sending chain in one group: a random chain id, the chain key of the
/// next message, its iteration, and the chain's own Ed25519 signing key.
///
/// Every [`SenderChain::encrypt`] uses the current chain key's message key
/// once and overwrites the chain key with the next one. The secrets are
/// wiped on drop and never printed. Not `Clone`: two copies of a chain
/// would encrypt under the same message keys.
pub struct SenderChain {
    chain_id: [u8; CHAIN_ID_LEN],
    iteration: u32,
    chain_key: ChainKey,
    pub(super) signing: SigningKey,
    /// Cached: deriving it costs a scalar multiplication.
    signing_public: IdentityKey,
}

impl SenderChain {
    /// A fresh chain: random chain id, chain key and signing key, iteration 0.
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut chain_id = [0u8; CHAIN_ID_LEN];
        rng.fill_bytes(&mut chain_id);
        let mut chain_key = ChainKey([0; 32]);
        rng.fill_bytes(&mut chain_key.0);
        let signing = SigningKey::generate(rng);
        Self::from_parts(chain_id, 0, chain_key, signing)
    }

    pub(super) fn from_parts(
        chain_id: [u8; CHAIN_ID_LEN],
        iteration: u32,
        chain_key: ChainKey,
        signing: SigningKey,
    ) -> Self {
        let signing_public = IdentityKey::from(signing.verifying_key());
        Self {
            chain_id,
            iteration,
            chain_key,
            signing,
            signing_public,
        }
    }

    /// The chain's id, carried by each of its messages.
    pub fn chain_id(&self) -> &[u8; CHAIN_ID_LEN] {
        &self.chain_id
    }

    /// The iteration of the next message: the number of messages this
    /// chain has encrypted.
    pub fn iteration(&self) -> u32 {
        self.iteration
    }

    /// The public key the chain's messages are signed with.
    pub fn signing_key(&self) -> IdentityKey {
        self.signing_public
    }

    /// Whether the chain has encrypted `messages_limit` messages or more
    /// (the usecase passes [`ROTATE_AFTER_MESSAGES`]) and should be
    /// replaced. Rotation after a time is the caller's to measure.
    pub fn should_rotate(&self, messages_limit: u32) -> bool {
        self.iteration >= messages_limit
    }

    /// The sender key for a member, opening this chain's messages from the
    /// current iteration on (none before: a member added now does not read
    /// what was sent before).
    pub fn distribution(&self) -> SenderKeyDistribution {
        SenderKeyDistribution {
            chain_id: self.chain_id,
            iteration: self.iteration,
            chain_key: self.chain_key.clone(),
            signing_key: self.signing_public,
        }
    }

    /// Encrypts `plaintext` under the next message key and signs the
    /// message with `associated_data` (e.g. the group id and the sender's
    /// identity, which the receiver passes again). The chain advances.
    pub fn encrypt(
        &mut self,
        associated_data: &[u8],
        plaintext: &[u8],
    ) -> Result<GroupCiphertext, GroupCryptoError> {
        if plaintext.len() > MAX_GROUP_PLAINTEXT_BYTES {
            return Err(GroupCryptoError::PlaintextTooLarge(plaintext.len()));
        }
        if associated_data.len() > MAX_GROUP_ASSOCIATED_DATA_BYTES {
            return Err(GroupCryptoError::AssociatedDataTooLarge(
                associated_data.len(),
            ));
        }
        let iteration = self.iteration;
        let next = iteration
            .checked_add(1)
            .ok_or(GroupCryptoError::ChainExhausted)?;
        let (chain_key, message_key) = self.chain_key.step();
        let cipher = MessageCipher::derive(&message_key);
        let ad = aead_associated_data(&self.chain_id, iteration, associated_data);
        let ciphertext = aead::seal(cipher.key(), cipher.nonce(), &ad, plaintext);
        let signature = Signature(
            self.signing
                .sign(&signed_digest(
                    &self.chain_id,
                    iteration,
                    associated_data,
                    &ciphertext,
                ))
                .to_bytes(),
        );
        self.chain_key = chain_key;
        self.iteration = next;
        Ok(GroupCiphertext {
            chain_id: self.chain_id,
            iteration,
            ciphertext,
            signature,
        })
    }

    /// Encodes the chain as a versioned pickle (`"TNGS"`, version 1): chain
    /// id ‖ iteration ‖ chain key ‖ signing seed. Secret: seal it at rest.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(PICKLE_MAGIC, PICKLE_VERSION, PICKLE_BODY_LEN);
        w.bytes(&self.chain_id);
        w.u32(self.iteration);
        w.bytes(&self.chain_key.0);
        w.bytes(Zeroizing::new(self.signing.to_bytes()).as_slice());
        w.finish()
    }

    /// Decodes [`SenderChain::to_bytes`]; strict, never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PickleError> {
        let mut r = Reader::new(bytes, PICKLE_MAGIC, "group sender chain", PICKLE_VERSION)?;
        let chain_id = r.array()?;
        let iteration = r.u32()?;
        let chain_key = ChainKey(*r.secret()?);
        let seed = r.secret::<32>()?;
        r.finish()?;
        Ok(Self::from_parts(
            chain_id,
            iteration,
            chain_key,
            SigningKey::from_bytes(&seed),
        ))
    }
}

impl fmt::Debug for SenderChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderChain")
            .field("chain_id", &self.chain_id)
            .field("iteration", &self.iteration)
            .field("chain_key", &"<redacted>")
            .field("signing_key", &self.signing_public)
            .finish_non_exhaustive()
    }
}
