//! Public data of end-to-end encryption as it travels: prekeys, X3DH initial
//! messages and Double Ratchet messages. The crypto crate computes with them;
//! the messaging crate converts them to and from the wire.

use crate::keys::{DhPublicKey, IdentityKey, Signature};
use crate::time::UnixMillis;

/// Largest Double Ratchet ciphertext accepted, in bytes.
pub const MAX_CIPHERTEXT_BYTES: usize = 1024 * 1024;

/// Id of a signed or one-time prekey, chosen by its owner.
pub type PrekeyId = u32;

/// A medium-term X25519 prekey signed by the owner's identity key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SignedPrekey {
    /// Owner-chosen id.
    pub id: PrekeyId,
    /// The X25519 public key.
    pub public_key: DhPublicKey,
    /// Creation time (covered by the signature).
    pub created: UnixMillis,
    /// Identity key's signature over the canonical prekey bytes.
    pub signature: Signature,
}

/// A single-use X25519 prekey.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OneTimePrekey {
    /// Owner-chosen id.
    pub id: PrekeyId,
    /// The X25519 public key.
    pub public_key: DhPublicKey,
}

/// Everything an initiator needs to run X3DH against its owner.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PrekeyBundle {
    /// Owner's Ed25519 identity key.
    pub identity_key: IdentityKey,
    /// Owner's X25519 device key (the X3DH identity DH key).
    pub device_key: DhPublicKey,
    /// Identity key's certificate over the device key.
    pub device_key_signature: Signature,
    /// Current signed prekey.
    pub signed_prekey: SignedPrekey,
    /// An unused one-time prekey, when handed out by the owner itself.
    pub one_time_prekey: Option<OneTimePrekey>,
}

/// A prekey bundle as published in the DHT: no one-time prekey (a DHT copy
/// cannot be consumed exactly once), a sequence number and an outer signature.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublishedPrekeys {
    /// Owner's Ed25519 identity key.
    pub identity_key: IdentityKey,
    /// Owner's X25519 device key.
    pub device_key: DhPublicKey,
    /// Identity key's certificate over the device key.
    pub device_key_signature: Signature,
    /// Current signed prekey.
    pub signed_prekey: SignedPrekey,
    /// Strictly increasing per owner.
    pub sequence: u64,
    /// Identity key's signature over the canonical published bytes.
    pub signature: Signature,
}

/// Length of [`RatchetHeader::nonce`].
pub const MESSAGE_NONCE_LEN: usize = 12;
/// Random bytes at the start of a ChaCha20-Poly1305 nonce as nodes made
/// them before the synthetic nonce; the other `MESSAGE_NONCE_LEN -
/// MESSAGE_SALT_LEN` are zero, and the wire carried only the salt.
pub const MESSAGE_SALT_LEN: usize = 8;
/// The nonce of a message sealed with AES-256-GCM-SIV (RFC 8452), as this
/// node seals every message: none travels (the cipher's synthetic IV is its
/// tag), and the header holds zeros. A random nonce (ChaCha20-Poly1305,
/// from nodes before it) is all zero with probability 2^-64 at most.
pub const SYNTHETIC_NONCE: [u8; MESSAGE_NONCE_LEN] = [0; MESSAGE_NONCE_LEN];

/// Header of a Double Ratchet message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RatchetHeader {
    /// Sender's current ratchet public key.
    pub ratchet_key: DhPublicKey,
    /// Number of messages in the sender's previous sending chain.
    pub previous_chain_length: u32,
    /// Index of this message in the current sending chain.
    pub message_number: u32,
    /// [`SYNTHETIC_NONCE`] for a message sealed with AES-256-GCM-SIV (what
    /// this node writes: a key reused by a rolled-back sender reveals only
    /// whether two plaintexts were equal); else the ChaCha20-Poly1305
    /// nonce of an older node's message, random for every encryption
    /// (8 random bytes and 4 zeros, or 12 random bytes), still accepted.
    pub nonce: [u8; MESSAGE_NONCE_LEN],
}

impl RatchetHeader {
    /// Whether the message is sealed with AES-256-GCM-SIV (no nonce).
    pub fn is_synthetic(&self) -> bool {
        self.nonce == SYNTHETIC_NONCE
    }
}

/// One Double Ratchet message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RatchetMessage {
    /// Authenticated header.
    pub header: RatchetHeader,
    /// AEAD ciphertext including its tag.
    pub ciphertext: Vec<u8>,
}

/// The X3DH initial message: first message of a session.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct X3dhInitial {
    /// Initiator's Ed25519 identity key.
    pub identity_key: IdentityKey,
    /// Initiator's X25519 device key.
    pub device_key: DhPublicKey,
    /// Identity key's certificate over the device key.
    pub device_key_signature: Signature,
    /// Initiator's ephemeral X25519 key.
    pub ephemeral_key: DhPublicKey,
    /// Responder's signed prekey used.
    pub signed_prekey_id: PrekeyId,
    /// Responder's one-time prekey used, if any.
    pub one_time_prekey_id: Option<PrekeyId>,
    /// First ratchet message.
    pub message: RatchetMessage,
}

/// The ciphertext of a [`SealedMessage`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SealedBody {
    /// First message of a session.
    Initial(Box<X3dhInitial>),
    /// Any later message.
    Message(RatchetMessage),
}

/// An end-to-end encrypted message between two users, carried directly or
/// through a mailbox. Its plaintext is an encoded [`crate::Plaintext`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedMessage {
    /// The sender, so a mailbox-delivered message finds its session.
    pub sender_identity_key: IdentityKey,
    /// The ciphertext.
    pub body: SealedBody,
}

/// Length of the box's authentication tag (Poly1305).
pub const SEALED_SENDER_TAG_LEN: usize = 16;

/// What a [`SealedSender`] box holds for a later message: the sender's
/// identity key.
pub const SEALED_SENDER_PLAINTEXT_LEN_MESSAGE: usize = 32;

/// What a [`SealedSender`] box holds for a first message: the sender's
/// identity key, its device key and the device key's certificate.
pub const SEALED_SENDER_PLAINTEXT_LEN_INITIAL: usize = 32 + 32 + 64;

/// [`SealedSender::ciphertext`]'s length for a later message.
pub const SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE: usize =
    SEALED_SENDER_PLAINTEXT_LEN_MESSAGE + SEALED_SENDER_TAG_LEN;

/// [`SealedSender::ciphertext`]'s length for a first message.
pub const SEALED_SENDER_CIPHERTEXT_LEN_INITIAL: usize =
    SEALED_SENDER_PLAINTEXT_LEN_INITIAL + SEALED_SENDER_TAG_LEN;

/// The sender's identity sealed to the recipient's device key (an
/// ephemeral-static X25519 box, bound to the ratchet message it travels
/// with): how a mailbox entry says who wrote it without telling its holder.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedSender {
    /// The box's ephemeral X25519 key, fresh for every box.
    pub ephemeral_key: DhPublicKey,
    /// The sender's identity (and, for a first message, its certified
    /// device key), encrypted, with the tag:
    /// [`SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE`] or
    /// [`SEALED_SENDER_CIPHERTEXT_LEN_INITIAL`] bytes.
    pub ciphertext: Vec<u8>,
}

/// An X3DH initial message without what names its initiator (identity
/// key, device key and certificate): those travel in the [`SealedSender`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AnonymousInitial {
    /// Initiator's ephemeral X25519 key.
    pub ephemeral_key: DhPublicKey,
    /// Responder's signed prekey used.
    pub signed_prekey_id: PrekeyId,
    /// Responder's one-time prekey used, if any.
    pub one_time_prekey_id: Option<PrekeyId>,
    /// First ratchet message.
    pub message: RatchetMessage,
}

/// The ciphertext of a [`SenderSealedMessage`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum AnonymousBody {
    /// First message of a session.
    Initial(Box<AnonymousInitial>),
    /// Any later message.
    Message(RatchetMessage),
}

/// A sealed message as deposited in a mailbox: nothing in clear names its
/// sender; the recipient opens `sealed_sender` to learn who it is, then
/// decrypts `body` as a [`SealedMessage`] from that sender.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SenderSealedMessage {
    /// Who sent it, sealed to the recipient.
    pub sealed_sender: SealedSender,
    /// The ciphertext.
    pub body: AnonymousBody,
}

impl SealedMessage {
    /// The body without what names its sender.
    pub fn anonymous_body(&self) -> AnonymousBody {
        match &self.body {
            SealedBody::Initial(i) => AnonymousBody::Initial(Box::new(AnonymousInitial {
                ephemeral_key: i.ephemeral_key,
                signed_prekey_id: i.signed_prekey_id,
                one_time_prekey_id: i.one_time_prekey_id,
                message: i.message.clone(),
            })),
            SealedBody::Message(m) => AnonymousBody::Message(m.clone()),
        }
    }
}

/// A mailbox entry's payload as the recipient reads it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MailboxPayload {
    /// The sender sealed to the recipient: what every node writes now.
    SenderSealed(SenderSealedMessage),
    /// Written before sealed sender, the sender's identity key in clear:
    /// still accepted while such entries may wait in mailboxes.
    Unsealed(SealedMessage),
}
