//! A member's receiving copy of another member's sending chain.

use std::collections::BTreeMap;
use std::fmt;

use tacnode_domain::IdentityKey;
use zeroize::Zeroizing;

use super::ciphertext::{aead_associated_data, signed_digest};
use super::distribution::parse_signing_key;
use super::keys::{MessageCipher, walk};
use super::{
    CHAIN_ID_LEN, GroupCiphertext, GroupCryptoError, MAX_GROUP_ASSOCIATED_DATA_BYTES,
    MAX_GROUP_PLAINTEXT_BYTES, SenderKeyDistribution,
};
use crate::aead::{self, TAG_LEN};
use crate::pickle::{PickleError, Reader, Writer};
use crate::ratchet::{ChainKey, MessageKey};

/// Most iterations one message may be ahead of the next one expected: the
/// keys in between are derived and kept for messages still on their way.
pub const MAX_GROUP_SKIP: u32 = 1000;
/// Most skipped message keys kept per receiving chain; the oldest
/// (lowest iteration) are dropped first.
pub const MAX_SKIPPED_GROUP_KEYS: usize = 2000;

const PICKLE_MAGIC: &[u8; 4] = b"TNGR";
const PICKLE_VERSION: u8 = 1;

/// Another member's chain as we hold it: built from its
/// [`SenderKeyDistribution`], it opens the messages from the
/// distribution's iteration on, each once.
///
/// Secrets (the chain key and skipped message keys) are wiped on drop and
/// never printed.
#[derive(Clone)]
pub struct ReceiverChain {
    chain_id: [u8; CHAIN_ID_LEN],
    /// The distribution's iteration: nothing before it was ever ours.
    first: u32,
    /// The iteration `chain_key` derives the message key of.
    next: u32,
    chain_key: ChainKey,
    signing_key: IdentityKey,
    /// Keys of messages skipped over and not received yet, by iteration.
    skipped: BTreeMap<u32, MessageKey>,
}

/// What a verified message changes once its ciphertext opened.
enum Commit {
    /// A skipped key used: delete it.
    Skipped(u32),
    /// The chain moved past the message: new skipped keys, chain key, next.
    Advance(Vec<(u32, MessageKey)>, ChainKey, u32),
}

impl ReceiverChain {
    /// The receiving chain a member builds from the owner's distribution.
    pub fn new(distribution: &SenderKeyDistribution) -> Self {
        Self {
            chain_id: distribution.chain_id,
            first: distribution.iteration,
            next: distribution.iteration,
            chain_key: distribution.chain_key.clone(),
            signing_key: distribution.signing_key,
            skipped: BTreeMap::new(),
        }
    }

    /// The chain's id.
    pub fn chain_id(&self) -> &[u8; CHAIN_ID_LEN] {
        &self.chain_id
    }

    /// The first iteration this chain opens (the distribution's).
    pub fn first_iteration(&self) -> u32 {
        self.first
    }

    /// One past the highest iteration received (the distribution's
    /// iteration while none has been).
    pub fn next_iteration(&self) -> u32 {
        self.next
    }

    /// The public key the owner signs the chain's messages with.
    pub fn signing_key(&self) -> IdentityKey {
        self.signing_key
    }

    /// Number of skipped message keys held.
    pub fn skipped_keys(&self) -> usize {
        self.skipped.len()
    }

    /// Opens `message` with the same `associated_data` the sender passed.
    ///
    /// Checks the chain id, then the signature over the message and the
    /// associated data, and only then derives keys: a message not signed by
    /// the chain's owner costs no key derivation. On any error the chain is
    /// unchanged.
    pub fn decrypt(
        &mut self,
        associated_data: &[u8],
        message: &GroupCiphertext,
    ) -> Result<Zeroizing<Vec<u8>>, GroupCryptoError> {
        if message.ciphertext.len() > MAX_GROUP_PLAINTEXT_BYTES + TAG_LEN {
            return Err(GroupCryptoError::CiphertextTooLarge(
                message.ciphertext.len(),
            ));
        }
        if associated_data.len() > MAX_GROUP_ASSOCIATED_DATA_BYTES {
            return Err(GroupCryptoError::AssociatedDataTooLarge(
                associated_data.len(),
            ));
        }
        if message.chain_id != self.chain_id {
            return Err(GroupCryptoError::WrongChain);
        }
        let iteration = message.iteration;
        self.signing_key
            .verify(
                &signed_digest(
                    &self.chain_id,
                    iteration,
                    associated_data,
                    &message.ciphertext,
                ),
                &message.signature,
            )
            .map_err(|_| GroupCryptoError::BadSignature)?;

        let (message_key, commit) = if iteration < self.first {
            return Err(GroupCryptoError::BeforeChain {
                iteration,
                first: self.first,
            });
        } else if iteration < self.next {
            let key = self
                .skipped
                .get(&iteration)
                .ok_or(GroupCryptoError::Duplicate(iteration))?;
            (key.clone(), Commit::Skipped(iteration))
        } else {
            let ahead = iteration - self.next;
            if ahead > MAX_GROUP_SKIP {
                return Err(GroupCryptoError::TooFarAhead { iteration, ahead });
            }
            let next = iteration
                .checked_add(1)
                .ok_or(GroupCryptoError::ChainExhausted)?;
            let (skipped, key, chain_key) = walk(&self.chain_key, self.next, iteration);
            (key, Commit::Advance(skipped, chain_key, next))
        };
        let cipher = MessageCipher::derive(&message_key);
        let ad = aead_associated_data(&self.chain_id, iteration, associated_data);
        let plaintext = aead::open(cipher.key(), cipher.nonce(), &ad, &message.ciphertext)
            .map_err(|_| GroupCryptoError::Authentication)?;

        match commit {
            Commit::Skipped(iteration) => {
                self.skipped.remove(&iteration);
            }
            Commit::Advance(skipped, chain_key, next) => {
                self.skipped.extend(skipped);
                while self.skipped.len() > MAX_SKIPPED_GROUP_KEYS {
                    self.skipped.pop_first();
                }
                self.chain_key = chain_key;
                self.next = next;
            }
        }
        Ok(plaintext)
    }

    /// Encodes the chain as a versioned pickle (`"TNGR"`, version 1): chain
    /// id ‖ first ‖ next ‖ chain key ‖ signing key ‖ count (u32) ‖ count ×
    /// (iteration ‖ message key). Secret: seal it at rest.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(
            PICKLE_MAGIC,
            PICKLE_VERSION,
            CHAIN_ID_LEN + 4 + 4 + 32 + 32 + 4 + self.skipped.len() * 36,
        );
        w.bytes(&self.chain_id);
        w.u32(self.first);
        w.u32(self.next);
        w.bytes(&self.chain_key.0);
        w.bytes(self.signing_key.as_bytes());
        w.u32(u32::try_from(self.skipped.len()).unwrap_or(u32::MAX));
        for (iteration, key) in &self.skipped {
            w.u32(*iteration);
            w.bytes(&key.0);
        }
        w.finish()
    }

    /// Decodes [`ReceiverChain::to_bytes`]; bounded, strict, never panics.
    /// Skipped keys must be of iterations between the first and the next,
    /// in increasing order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PickleError> {
        let mut r = Reader::new(bytes, PICKLE_MAGIC, "group receiver chain", PICKLE_VERSION)?;
        let chain_id = r.array()?;
        let first = r.u32()?;
        let next = r.u32()?;
        let chain_key = ChainKey(*r.secret()?);
        let signing_key = parse_signing_key(&r.array()?).map_err(|_| PickleError::InvalidKey)?;
        if first > next {
            return Err(PickleError::Inconsistent("first iteration after the next"));
        }
        let n = r.count("skipped group message keys", MAX_SKIPPED_GROUP_KEYS)?;
        let mut skipped = BTreeMap::new();
        let mut previous = None;
        for _ in 0..n {
            let iteration = r.u32()?;
            let key = MessageKey(*r.secret()?);
            if iteration < first || iteration >= next || previous.is_some_and(|p| iteration <= p) {
                return Err(PickleError::Inconsistent(
                    "skipped key out of order or outside the chain",
                ));
            }
            previous = Some(iteration);
            skipped.insert(iteration, key);
        }
        r.finish()?;
        Ok(Self {
            chain_id,
            first,
            next,
            chain_key,
            signing_key,
            skipped,
        })
    }
}

impl fmt::Debug for ReceiverChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverChain")
            .field("chain_id", &self.chain_id)
            .field("first", &self.first)
            .field("next", &self.next)
            .field("chain_key", &"<redacted>")
            .field("signing_key", &self.signing_key)
            .field("skipped_keys", &self.skipped.len())
            .finish()
    }
}
