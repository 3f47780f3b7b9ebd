//! The Double Ratchet (Signal specification, rev. 1) over X25519,
//! HKDF-SHA-256, HMAC-SHA-256 and ChaCha20-Poly1305.
//!
//! Decryption is transactional: every new chain key, skipped key and root key
//! is computed on the side and written to the [`Session`] only after the AEAD
//! tag verified, so a forged or replayed message never changes the state.
//!
//! The sending half of a DH ratchet step (`GENERATE_DH` and the second
//! `KDF_RK`) runs at the next [`Session::encrypt`], where randomness is at
//! hand; the keys and headers on the wire are those of the specification.

mod keys;
mod skipped;

use std::collections::VecDeque;

use rand_core::CryptoRng;
use tacnode_domain::e2e::{
    MAX_CIPHERTEXT_BYTES, MESSAGE_NONCE_LEN, RatchetHeader, RatchetMessage, SYNTHETIC_NONCE,
};
use tacnode_domain::{DhPublicKey, IdentityKey};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

pub use keys::{ChainKey, MessageKey, RootKey};
pub use skipped::{MAX_SKIPPED_KEYS, SkippedKeys};

use keys::RatchetKeyPair;
use skipped::SkippedKey;

use crate::aead::{self, TAG_LEN};
use crate::dh::dh;
use crate::pickle::{PickleError, Reader, Writer};
use crate::x3dh::{
    ASSOCIATED_DATA_LEN, AssociatedData, DhStep, InitiatorOutput, SharedKey, X3dhError,
};

/// Most message keys skipped in one chain by a single message (`MAX_SKIP`).
pub const MAX_SKIP: u32 = 1000;
/// Most earlier remote ratchet keys remembered to recognise replays into
/// finished chains.
pub const MAX_PREVIOUS_RATCHET_KEYS: usize = 64;
/// Largest plaintext [`Session::encrypt`] accepts.
pub const MAX_PLAINTEXT_BYTES: usize = MAX_CIPHERTEXT_BYTES - TAG_LEN;
/// Most received message headers remembered (with their nonces) to tell a
/// retried message from a different one under the same header.
pub const MAX_REMEMBERED_HEADERS: usize = 32;
/// Length of the canonical header encoding: ratchet key ‖ pn (u32 BE) ‖
/// n (u32 BE) ‖ nonce.
pub const HEADER_LEN: usize = 32 + 4 + 4 + MESSAGE_NONCE_LEN;

const AEAD_AD_LEN: usize = ASSOCIATED_DATA_LEN + HEADER_LEN;
const PICKLE_MAGIC: &[u8; 4] = b"TNRS";
/// Version 2 added the remembered headers; version 1 is still read.
const PICKLE_VERSION: u8 = 2;

/// Why a message could not be encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// More than [`MAX_PLAINTEXT_BYTES`].
    #[error("plaintext of {0} bytes, the limit is {MAX_PLAINTEXT_BYTES}")]
    PlaintextTooLarge(usize),
    /// A responder session that has not received a message yet.
    #[error("no sending chain yet")]
    NoSendingChain,
    /// The sending chain reached message number `u32::MAX`.
    #[error("sending chain exhausted")]
    ChainExhausted,
    /// The remote ratchet key gave a non-contributory DH result.
    #[error("remote ratchet key is a low-order point")]
    InvalidRatchetKey,
}

/// Why a message could not be decrypted. The session is unchanged in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// More than [`MAX_CIPHERTEXT_BYTES`].
    #[error("ciphertext of {0} bytes, the limit is {MAX_CIPHERTEXT_BYTES}")]
    CiphertextTooLarge(usize),
    /// The header's ratchet key gave a non-contributory DH result.
    #[error("ratchet key is a low-order point")]
    InvalidRatchetKey,
    /// Decrypting would skip more than [`MAX_SKIP`] keys in one chain.
    #[error("{skip} skipped messages, the limit is {MAX_SKIP}")]
    TooManySkipped {
        /// Keys that would have been skipped.
        skip: u64,
    },
    /// The message key was used already (a duplicate) or discarded.
    #[error("message already received or its key was discarded")]
    Replay,
    /// A different message under a header already received: the sender's
    /// state was rolled back (a restored backup) and it reused a message
    /// key. This session can no longer carry its messages; restart it.
    #[error("a different message under a header already received: the sender was rolled back")]
    Rewound,
    /// The header names the remote's initial ratchet key, which never sends.
    #[error("no receiving chain for this ratchet key")]
    NoReceivingChain,
    /// The message number `u32::MAX` cannot be followed.
    #[error("receiving chain exhausted")]
    ChainExhausted,
    /// The tag did not verify: tampered header or ciphertext, or wrong keys.
    #[error("message authentication failed")]
    Authentication,
}

#[derive(Clone, Debug)]
struct Chain {
    key: ChainKey,
    /// Number of the next message in this chain (`Ns` or `Nr`).
    next: u32,
}

/// A Double Ratchet session with one remote device.
#[derive(Clone, Debug)]
pub struct Session {
    remote_identity: IdentityKey,
    associated_data: AssociatedData,
    root: RootKey,
    /// `DHs`, public key cached.
    ours: RatchetKeyPair,
    /// A new remote ratchet key arrived; the sending half of the DH ratchet
    /// step is due at the next encrypt.
    send_ratchet_due: bool,
    /// `DHr`.
    remote: Option<DhPublicKey>,
    sending: Option<Chain>,
    receiving: Option<Chain>,
    /// `PN`.
    previous_chain_length: u32,
    skipped: SkippedKeys,
    /// Earlier `DHr` values, oldest first.
    previous_remote: VecDeque<DhPublicKey>,
    /// Fingerprints of the last [`MAX_REMEMBERED_HEADERS`] messages opened,
    /// oldest first (see [`fingerprint`]).
    received: VecDeque<RatchetHeader>,
}

/// What tells two messages under one message key apart, kept as a header:
/// the header as it is, with the nonce; for a synthetic-nonce message
/// (whose nonce is always zero) the first bytes of its tag in the nonce's
/// place, which differ when the plaintext does.
fn fingerprint(m: &RatchetMessage) -> RatchetHeader {
    let mut h = m.header;
    if h.is_synthetic()
        && let Some(tag) = m.ciphertext.last_chunk::<TAG_LEN>()
    {
        h.nonce.copy_from_slice(&tag[..MESSAGE_NONCE_LEN]);
    }
    h
}

fn encode_header(h: &RatchetHeader) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[..32].copy_from_slice(h.ratchet_key.as_bytes());
    out[32..36].copy_from_slice(&h.previous_chain_length.to_be_bytes());
    out[36..40].copy_from_slice(&h.message_number.to_be_bytes());
    out[40..].copy_from_slice(&h.nonce);
    out
}

fn decode_header(b: &[u8; HEADER_LEN]) -> RatchetHeader {
    let mut key = [0u8; 32];
    key.copy_from_slice(&b[..32]);
    let mut pn = [0u8; 4];
    pn.copy_from_slice(&b[32..36]);
    let mut n = [0u8; 4];
    n.copy_from_slice(&b[36..40]);
    let mut nonce = [0u8; MESSAGE_NONCE_LEN];
    nonce.copy_from_slice(&b[40..]);
    RatchetHeader {
        ratchet_key: DhPublicKey(key),
        previous_chain_length: u32::from_be_bytes(pn),
        message_number: u32::from_be_bytes(n),
        nonce,
    }
}

/// Walks a chain from message `from` to message `to`, returning the skipped
/// keys, the key of message `to` and the chain key after it.
fn walk(
    chain: &ChainKey,
    ratchet_key: DhPublicKey,
    from: u32,
    to: u32,
) -> Result<(Vec<SkippedKey>, MessageKey, ChainKey), DecryptError> {
    let skip = to.saturating_sub(from);
    if skip > MAX_SKIP {
        return Err(DecryptError::TooManySkipped {
            skip: u64::from(skip),
        });
    }
    let mut skipped = Vec::with_capacity(usize::try_from(skip).unwrap_or(0));
    let (mut ck, mut mk) = chain.step();
    for message_number in from..to {
        skipped.push(SkippedKey {
            ratchet_key,
            message_number,
            key: mk,
        });
        (ck, mk) = ck.step();
    }
    Ok((skipped, mk, ck))
}

impl Session {
    /// Alice's side (`RatchetInitAlice`): a fresh ratchet key pair, the
    /// responder's signed prekey as the first remote ratchet key.
    pub fn new_initiator<R: CryptoRng + ?Sized>(
        rng: &mut R,
        x3dh: &InitiatorOutput,
    ) -> Result<Self, X3dhError> {
        let ours = RatchetKeyPair::generate(rng);
        let shared = dh(&ours.secret, &x3dh.remote_signed_prekey)
            .map_err(|_| X3dhError::NonContributory(DhStep::FirstRatchet))?;
        let (root, chain) = RootKey(x3dh.shared_key.0).ratchet(shared.as_bytes());
        Ok(Self {
            remote_identity: x3dh.remote_identity,
            associated_data: x3dh.associated_data,
            root,
            ours,
            send_ratchet_due: false,
            remote: Some(x3dh.remote_signed_prekey),
            sending: Some(Chain {
                key: chain,
                next: 0,
            }),
            receiving: None,
            previous_chain_length: 0,
            skipped: SkippedKeys::default(),
            previous_remote: VecDeque::new(),
            received: VecDeque::new(),
        })
    }

    /// Bob's side (`RatchetInitBob`): the signed prekey is the first ratchet key pair.
    pub(crate) fn new_responder(
        shared_key: &SharedKey,
        associated_data: AssociatedData,
        remote_identity: IdentityKey,
        signed_prekey: StaticSecret,
        signed_prekey_public: DhPublicKey,
    ) -> Self {
        Self {
            remote_identity,
            associated_data,
            root: RootKey(shared_key.0),
            // The public key is known already: no scalar multiplication.
            ours: RatchetKeyPair {
                secret: signed_prekey,
                public: signed_prekey_public,
            },
            send_ratchet_due: false,
            remote: None,
            sending: None,
            receiving: None,
            previous_chain_length: 0,
            skipped: SkippedKeys::default(),
            previous_remote: VecDeque::new(),
            received: VecDeque::new(),
        }
    }

    /// The remote party's Ed25519 identity key.
    pub fn remote_identity(&self) -> IdentityKey {
        self.remote_identity
    }

    /// The X3DH associated data bound into every message.
    pub fn associated_data(&self) -> &AssociatedData {
        &self.associated_data
    }

    /// Our current ratchet public key.
    pub fn ratchet_key(&self) -> DhPublicKey {
        self.ours.public
    }

    /// Whether a message from the remote has been decrypted. Until then an
    /// initiator should send every message wrapped in the X3DH initial
    /// message, so the responder can start the session from whichever arrives.
    pub fn has_received(&self) -> bool {
        self.receiving.is_some()
    }

    /// Skipped message keys currently held.
    pub fn skipped_keys(&self) -> &SkippedKeys {
        &self.skipped
    }

    fn aead_ad(&self, header: &RatchetHeader) -> [u8; AEAD_AD_LEN] {
        let mut ad = [0u8; AEAD_AD_LEN];
        ad[..ASSOCIATED_DATA_LEN].copy_from_slice(self.associated_data.as_bytes());
        ad[ASSOCIATED_DATA_LEN..].copy_from_slice(&encode_header(header));
        ad
    }

    /// Encrypts `plaintext` (`RatchetEncrypt`), first completing a due DH ratchet step.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<RatchetMessage, EncryptError> {
        if plaintext.len() > MAX_PLAINTEXT_BYTES {
            return Err(EncryptError::PlaintextTooLarge(plaintext.len()));
        }
        if self.send_ratchet_due {
            let remote = self.remote.ok_or(EncryptError::NoSendingChain)?;
            let ours = RatchetKeyPair::generate(rng);
            let shared = dh(&ours.secret, &remote).map_err(|_| EncryptError::InvalidRatchetKey)?;
            let (root, chain) = self.root.ratchet(shared.as_bytes());
            self.previous_chain_length = self.sending.as_ref().map_or(0, |c| c.next);
            self.sending = Some(Chain {
                key: chain,
                next: 0,
            });
            self.root = root;
            self.ours = ours;
            self.send_ratchet_due = false;
        }
        let chain = self.sending.as_ref().ok_or(EncryptError::NoSendingChain)?;
        let next = chain
            .next
            .checked_add(1)
            .ok_or(EncryptError::ChainExhausted)?;
        // AES-256-GCM-SIV: no nonce (see `SYNTHETIC_NONCE`).
        let header = RatchetHeader {
            ratchet_key: self.ours.public,
            previous_chain_length: self.previous_chain_length,
            message_number: chain.next,
            nonce: SYNTHETIC_NONCE,
        };
        let (chain_key, message_key) = chain.key.step();
        let ciphertext = aead::seal_synthetic(&message_key.0, &self.aead_ad(&header), plaintext);
        self.sending = Some(Chain {
            key: chain_key,
            next,
        });
        Ok(RatchetMessage { header, ciphertext })
    }

    /// Decrypts `message` (`RatchetDecrypt`). On any error the session is unchanged.
    pub fn decrypt(
        &mut self,
        message: &RatchetMessage,
    ) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
        if message.ciphertext.len() > MAX_CIPHERTEXT_BYTES {
            return Err(DecryptError::CiphertextTooLarge(message.ciphertext.len()));
        }
        let header = &message.header;
        let ad = self.aead_ad(header);
        let open = |key: &MessageKey| {
            if header.is_synthetic() {
                aead::open_synthetic(&key.0, &ad, &message.ciphertext)
            } else {
                aead::open(&key.0, &header.nonce, &ad, &message.ciphertext)
            }
            .map_err(|_| DecryptError::Authentication)
        };

        let current = self.remote == Some(header.ratchet_key);
        if current {
            let chain = self
                .receiving
                .as_ref()
                .ok_or(DecryptError::NoReceivingChain)?;
            if header.message_number >= chain.next {
                let next = header
                    .message_number
                    .checked_add(1)
                    .ok_or(DecryptError::ChainExhausted)?;
                let (skipped, mk, ck) = walk(
                    &chain.key,
                    header.ratchet_key,
                    chain.next,
                    header.message_number,
                )?;
                let plaintext = open(&mk)?;
                self.receiving = Some(Chain { key: ck, next });
                self.skipped.extend(skipped);
                self.remember(message);
                return Ok(plaintext);
            }
        }
        if let Some(index) = self
            .skipped
            .position(&header.ratchet_key, header.message_number)
        {
            let plaintext = match self.skipped.get(index) {
                Some(k) => open(&k.key)?,
                None => return Err(self.replay(message)),
            };
            self.skipped.remove(index);
            self.remember(message);
            return Ok(plaintext);
        }
        if current || self.previous_remote.contains(&header.ratchet_key) {
            return Err(self.replay(message));
        }

        // A new remote ratchet key: finish the current receiving chain up to
        // `pn`, then the receiving half of the DH ratchet step.
        let next = header
            .message_number
            .checked_add(1)
            .ok_or(DecryptError::ChainExhausted)?;
        let mut skipped = Vec::new();
        if let (Some(remote), Some(chain)) = (self.remote, &self.receiving)
            && header.previous_chain_length > chain.next
        {
            let skip = header.previous_chain_length - chain.next;
            if skip > MAX_SKIP {
                return Err(DecryptError::TooManySkipped {
                    skip: u64::from(skip),
                });
            }
            let mut ck = chain.key.clone();
            skipped.reserve(usize::try_from(skip).unwrap_or(0));
            for message_number in chain.next..header.previous_chain_length {
                let (next_ck, key) = ck.step();
                skipped.push(SkippedKey {
                    ratchet_key: remote,
                    message_number,
                    key,
                });
                ck = next_ck;
            }
        }
        let shared = dh(&self.ours.secret, &header.ratchet_key)
            .map_err(|_| DecryptError::InvalidRatchetKey)?;
        let (root, chain) = self.root.ratchet(shared.as_bytes());
        let (more, mk, ck) = walk(&chain, header.ratchet_key, 0, header.message_number)?;
        let plaintext = open(&mk)?;

        skipped.extend(more);
        self.skipped.extend(skipped);
        if let Some(old) = self.remote.replace(header.ratchet_key) {
            self.previous_remote.push_back(old);
            if self.previous_remote.len() > MAX_PREVIOUS_RATCHET_KEYS {
                self.previous_remote.pop_front();
            }
        }
        self.root = root;
        self.receiving = Some(Chain { key: ck, next });
        self.send_ratchet_due = true;
        self.remember(message);
        Ok(plaintext)
    }

    /// Notes a message just opened, so a different message under its key
    /// later is recognised (see [`DecryptError::Rewound`]).
    fn remember(&mut self, message: &RatchetMessage) {
        if self.received.len() >= MAX_REMEMBERED_HEADERS {
            self.received.pop_front();
        }
        self.received.push_back(fingerprint(message));
    }

    /// The error for a message whose key is gone: [`DecryptError::Rewound`]
    /// when a remembered message has the same ratchet key and number but
    /// another fingerprint (the sender encrypted something else under that
    /// key), else [`DecryptError::Replay`] (the same message again, or too
    /// old to tell).
    fn replay(&self, message: &RatchetMessage) -> DecryptError {
        let seen = fingerprint(message);
        let rewound = self.received.iter().any(|h| {
            h.ratchet_key == seen.ratchet_key
                && h.message_number == seen.message_number
                && h.nonce != seen.nonce
        });
        if rewound {
            DecryptError::Rewound
        } else {
            DecryptError::Replay
        }
    }

    /// Encodes the whole session as a versioned pickle (`"TNRS"`, version 2).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(
            PICKLE_MAGIC,
            PICKLE_VERSION,
            304 + self.previous_remote.len() * 32
                + self.skipped.len() * 68
                + self.received.len() * HEADER_LEN,
        );
        w.bytes(self.remote_identity.as_bytes());
        w.bytes(self.associated_data.as_bytes());
        w.bytes(&self.root.0);
        w.bytes(self.ours.secret.as_bytes());
        w.bool(self.send_ratchet_due);
        w.bool(self.remote.is_some());
        if let Some(remote) = &self.remote {
            w.bytes(remote.as_bytes());
        }
        for chain in [&self.sending, &self.receiving] {
            w.bool(chain.is_some());
            if let Some(c) = chain {
                w.bytes(&c.key.0);
                w.u32(c.next);
            }
        }
        w.u32(self.previous_chain_length);
        w.u32(u32::try_from(self.previous_remote.len()).unwrap_or(u32::MAX));
        for k in &self.previous_remote {
            w.bytes(k.as_bytes());
        }
        w.u32(u32::try_from(self.skipped.len()).unwrap_or(u32::MAX));
        for k in self.skipped.iter() {
            w.bytes(k.ratchet_key.as_bytes());
            w.u32(k.message_number);
            w.bytes(&k.key.0);
        }
        w.u32(u32::try_from(self.received.len()).unwrap_or(u32::MAX));
        for h in &self.received {
            w.bytes(&encode_header(h));
        }
        w.finish()
    }

    /// Decodes [`Session::to_bytes`]; bounded, strict, never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PickleError> {
        let (mut r, version) =
            Reader::new_up_to(bytes, PICKLE_MAGIC, "ratchet session", PICKLE_VERSION)?;
        let remote_identity =
            IdentityKey::from_bytes(&r.array()?).map_err(|_| PickleError::InvalidKey)?;
        let associated_data = AssociatedData(r.array()?);
        let root = RootKey(*r.secret()?);
        let ours = RatchetKeyPair::from_secret(StaticSecret::from(*r.secret::<32>()?));
        let send_ratchet_due = r.bool()?;
        let remote = if r.bool()? {
            Some(DhPublicKey(r.array()?))
        } else {
            None
        };
        let mut chains = [None, None];
        for chain in &mut chains {
            if r.bool()? {
                let key = ChainKey(*r.secret()?);
                *chain = Some(Chain {
                    key,
                    next: r.u32()?,
                });
            }
        }
        let [sending, receiving] = chains;
        let previous_chain_length = r.u32()?;
        let n = r.count("previous ratchet keys", MAX_PREVIOUS_RATCHET_KEYS)?;
        let mut previous_remote = VecDeque::with_capacity(n);
        for _ in 0..n {
            previous_remote.push_back(DhPublicKey(r.array()?));
        }
        let n = r.count("skipped message keys", MAX_SKIPPED_KEYS)?;
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            let ratchet_key = DhPublicKey(r.array()?);
            let message_number = r.u32()?;
            let key = MessageKey(*r.secret()?);
            keys.push(SkippedKey {
                ratchet_key,
                message_number,
                key,
            });
        }
        let mut received = VecDeque::new();
        if version >= 2 {
            let n = r.count("remembered headers", MAX_REMEMBERED_HEADERS)?;
            for _ in 0..n {
                received.push_back(decode_header(&r.array()?));
            }
        }
        r.finish()?;
        if (send_ratchet_due || receiving.is_some()) && remote.is_none() {
            return Err(PickleError::Inconsistent(
                "receiving state without a remote ratchet key",
            ));
        }
        let mut skipped = SkippedKeys::default();
        skipped.extend(keys);
        Ok(Self {
            remote_identity,
            associated_data,
            root,
            ours,
            send_ratchet_due,
            remote,
            sending,
            receiving,
            previous_chain_length,
            skipped,
            previous_remote,
            received,
        })
    }
}

#[cfg(test)]
mod tests;
