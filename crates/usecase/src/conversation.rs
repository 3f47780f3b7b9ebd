//! End-to-end state with one peer: the active Double Ratchet session, a few
//! older ones kept for decryption, and the X3DH header that wraps our
//! messages until the peer has answered.
//!
//! Why more than one session: two peers may start X3DH with each other at
//! the same time, or a peer may restart X3DH after losing its state. The
//! newest session is used for sending; messages still in flight under an
//! older one keep decrypting. Why the retained header: until the responder
//! has seen our initial message, any of our messages may be the first to
//! arrive (retries, mailboxes), so each carries what it needs to start the
//! session (as Signal does with its prekey messages).

use rand_core::CryptoRng;
use tacnode_crypto::prekey::PrekeyState;
use tacnode_crypto::ratchet::{DecryptError, EncryptError, Session};
use tacnode_crypto::x3dh::{self, X3dhError};
use tacnode_crypto::{Identity, PickleError};

use tacnode_domain::e2e::{
    PrekeyBundle, PrekeyId, RatchetMessage, SealedBody, SealedMessage, X3dhInitial,
};
use tacnode_domain::{DhPublicKey, IdentityKey, Signature, UnixMillis};
use zeroize::Zeroizing;

/// Older sessions kept for decrypting in-flight messages.
pub const MAX_PREVIOUS_SESSIONS: usize = 3;
/// X3DH ephemeral keys remembered per peer, so that an initial message
/// replayed after its session was dropped (e.g. by a mailbox holder) cannot
/// start a dead session.
pub const MAX_SEEN_EPHEMERALS: usize = 64;
/// Largest pickle accepted by [`Conversation::from_bytes`].
pub const MAX_CONVERSATION_PICKLE_BYTES: usize = 1024 * 1024;

const PICKLE_VERSION: u8 = 1;

/// Opening an incoming sealed message failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A ratchet message from a peer we have no session with.
    #[error("no session with this peer")]
    NoSession,
    /// X3DH failed.
    #[error("X3DH: {0}")]
    X3dh(#[from] X3dhError),
    /// No session could decrypt it.
    #[error("decrypt: {0}")]
    Decrypt(#[from] DecryptError),
    /// An X3DH initial message whose session is gone: a replay.
    #[error("replayed X3DH initial message")]
    ReplayedInitial,
    /// The sealed sender differs from the initial message's identity key.
    #[error("sender identity does not match the X3DH identity")]
    SenderMismatch,
    /// A repeat of an initial message we answered, but with other keys than
    /// the session was made with: edited in transit (by a mailbox holder,
    /// say). Its certificate was never verified, so it must not touch pins.
    #[error("repeated X3DH initial message with altered keys")]
    AlteredInitial,
}

/// Starting a new session with the same peer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestartError {
    /// The bundle belongs to another identity than the conversation's.
    #[error("the prekey bundle is for another identity")]
    OtherIdentity,
    /// X3DH failed.
    #[error("X3DH: {0}")]
    X3dh(#[from] X3dhError),
}

/// A conversation pickle could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConversationPickleError {
    /// Over [`MAX_CONVERSATION_PICKLE_BYTES`].
    #[error("conversation pickle over {MAX_CONVERSATION_PICKLE_BYTES} bytes")]
    TooLarge,
    /// Ended early.
    #[error("conversation pickle truncated")]
    Truncated,
    /// Unknown version.
    #[error("unsupported conversation pickle version {0}")]
    UnsupportedVersion(u8),
    /// A tag outside its range.
    #[error("invalid tag {0}")]
    InvalidTag(u8),
    /// An invalid identity key.
    #[error("invalid identity key")]
    InvalidKey,
    /// No session, or more than 1 + [`MAX_PREVIOUS_SESSIONS`].
    #[error("{0} sessions, allowed 1..={max}", max = 1 + MAX_PREVIOUS_SESSIONS)]
    SessionCount(usize),
    /// More remembered ephemeral keys than [`MAX_SEEN_EPHEMERALS`].
    #[error("{0} remembered ephemeral keys, the limit is {MAX_SEEN_EPHEMERALS}")]
    SeenCount(usize),
    /// Bytes after the last field.
    #[error("trailing bytes")]
    TrailingBytes,
    /// A session inside did not parse.
    #[error("session: {0}")]
    Session(#[from] PickleError),
}

/// Sealing an outgoing message failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Ratchet encryption failed.
    #[error("encrypt: {0}")]
    Encrypt(#[from] EncryptError),
}

/// The public fields of the X3DH initial message we sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InitialHeader {
    identity_key: IdentityKey,
    device_key: DhPublicKey,
    device_key_signature: Signature,
    ephemeral_key: DhPublicKey,
    signed_prekey_id: PrekeyId,
    one_time_prekey_id: Option<PrekeyId>,
}

impl InitialHeader {
    fn from_initial(i: &X3dhInitial) -> Self {
        Self {
            identity_key: i.identity_key,
            device_key: i.device_key,
            device_key_signature: i.device_key_signature,
            ephemeral_key: i.ephemeral_key,
            signed_prekey_id: i.signed_prekey_id,
            one_time_prekey_id: i.one_time_prekey_id,
        }
    }

    fn wrap(&self, message: RatchetMessage) -> X3dhInitial {
        X3dhInitial {
            identity_key: self.identity_key,
            device_key: self.device_key,
            device_key_signature: self.device_key_signature,
            ephemeral_key: self.ephemeral_key,
            signed_prekey_id: self.signed_prekey_id,
            one_time_prekey_id: self.one_time_prekey_id,
            message,
        }
    }
}

/// One session and how it began.
struct Thread {
    session: Session,
    /// Set while we initiated it and have not yet decrypted a reply.
    pending_initial: Option<InitialHeader>,
    /// The X3DH ephemeral key that created it (ours or the peer's).
    ephemeral: DhPublicKey,
}

/// End-to-end state with one peer.
pub struct Conversation {
    remote_identity: IdentityKey,
    active: Thread,
    previous: Vec<Thread>,
    /// Ephemeral keys of X3DH handshakes answered, newest last.
    seen: std::collections::VecDeque<DhPublicKey>,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversation")
            .field("remote_identity", &self.remote_identity)
            .field("previous", &self.previous.len())
            .finish_non_exhaustive()
    }
}

/// What [`Conversation::open`] produced.
#[derive(Debug)]
pub struct Opened {
    /// The decrypted plaintext bytes.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// True when this message started a new session (X3DH as responder).
    pub new_session: bool,
    /// The sender's device key as the session that opened the message has
    /// it (an older session may open mail sealed before the current one).
    pub remote_device_key: DhPublicKey,
}

/// The peer's device key as X3DH bound it into `session` (`AD = IK_A ‖
/// DK_A ‖ IK_B ‖ DK_B`, the initiator first), the peer being `remote`.
fn device_key_in(session: &Session, remote: &IdentityKey) -> DhPublicKey {
    let ad = session.associated_data().as_bytes();
    let (initiator, responder) = ad.split_at(ad.len() / 2);
    let half = if initiator.starts_with(remote.as_bytes()) {
        initiator
    } else {
        responder
    };
    let mut key = [0u8; 32];
    if let Some(device) = half.get(32..64) {
        key.copy_from_slice(device);
    }
    DhPublicKey(key)
}

impl Conversation {
    /// Starts a session as initiator against a verified or to-be-verified
    /// bundle (X3DH checks every signature itself).
    pub fn initiate<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &Identity,
        bundle: &PrekeyBundle,
    ) -> Result<Self, X3dhError> {
        let out = x3dh::initiate(rng, identity, bundle)?;
        let session = Session::new_initiator(rng, &out)?;
        // The header fields without a message: wrap() fills one in per send.
        let header = out.initial_message(RatchetMessage {
            header: tacnode_domain::e2e::RatchetHeader {
                ratchet_key: DhPublicKey([0; 32]),
                previous_chain_length: 0,
                message_number: 0,
                nonce: [0; tacnode_domain::e2e::MESSAGE_NONCE_LEN],
            },
            ciphertext: Vec::new(),
        });
        Ok(Self {
            remote_identity: bundle.identity_key,
            active: Thread {
                session,
                pending_initial: Some(InitialHeader::from_initial(&header)),
                ephemeral: header.ephemeral_key,
            },
            previous: Vec::new(),
            seen: std::collections::VecDeque::new(),
        })
    }

    /// Starts a new session with the same peer, as initiator, when the peer
    /// lost its side (it answers our messages with "cannot open"). The
    /// current sessions stay, as older ones, for decrypting what the peer
    /// already sent under them; messages sealed from now on carry the new
    /// X3DH header until the peer replies.
    pub fn restart<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &Identity,
        bundle: &PrekeyBundle,
    ) -> Result<(), RestartError> {
        if bundle.identity_key != self.remote_identity {
            return Err(RestartError::OtherIdentity);
        }
        let fresh = Conversation::initiate(rng, identity, bundle)?;
        self.push_active(fresh.active);
        Ok(())
    }

    /// The peer's identity key.
    pub fn remote_identity(&self) -> IdentityKey {
        self.remote_identity
    }

    /// The peer's device key, as X3DH bound it into the active session
    /// (`AD = IK_A ‖ DK_A ‖ IK_B ‖ DK_B`, the initiator first): what a
    /// sealed sender for the peer is sealed to.
    pub fn remote_device_key(&self) -> DhPublicKey {
        device_key_in(&self.active.session, &self.remote_identity)
    }

    /// True while our X3DH initial message is unanswered.
    pub fn awaiting_reply(&self) -> bool {
        self.active.pending_initial.is_some()
    }

    /// Encrypts `plaintext` for the peer.
    pub fn seal<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        own_identity: IdentityKey,
        plaintext: &[u8],
    ) -> Result<SealedMessage, SealError> {
        let message = self.active.session.encrypt(rng, plaintext)?;
        let body = match &self.active.pending_initial {
            Some(h) => SealedBody::Initial(Box::new(h.wrap(message))),
            None => SealedBody::Message(message),
        };
        Ok(SealedMessage {
            sender_identity_key: own_identity,
            body,
        })
    }

    /// Opens a sealed message from a peer. `existing` is the conversation
    /// with its sender, if any; a new one is returned when X3DH started it.
    /// On error nothing changed (sessions are only replaced on success).
    pub fn open(
        existing: Option<&mut Conversation>,
        identity: &Identity,
        prekeys: &mut PrekeyState,
        sealed: &SealedMessage,
        now: UnixMillis,
    ) -> Result<(Opened, Option<Conversation>), OpenError> {
        match &sealed.body {
            SealedBody::Message(m) => {
                let c = existing.ok_or(OpenError::NoSession)?;
                let (plaintext, remote_device_key) = c.decrypt(m)?;
                Ok((
                    Opened {
                        plaintext,
                        new_session: false,
                        remote_device_key,
                    },
                    None,
                ))
            }
            SealedBody::Initial(initial) => {
                if initial.identity_key != sealed.sender_identity_key {
                    return Err(OpenError::SenderMismatch);
                }
                if let Some(c) = existing {
                    // A repeat of an initial header we already answered.
                    if let Some(t) = c.thread_by_ephemeral(&initial.ephemeral_key) {
                        // Only the ephemeral key matched: the rest of the
                        // header must be what X3DH verified when the session
                        // was made (the initiator's keys are the first half
                        // of the session's associated data).
                        let ad = t.session.associated_data().as_bytes();
                        if ad[..32] != *initial.identity_key.as_bytes()
                            || ad[32..64] != *initial.device_key.as_bytes()
                        {
                            return Err(OpenError::AlteredInitial);
                        }
                        let plaintext = t.session.decrypt(&initial.message)?;
                        t.pending_initial = None;
                        return Ok((
                            Opened {
                                plaintext,
                                new_session: false,
                                remote_device_key: initial.device_key,
                            },
                            None,
                        ));
                    }
                    if c.seen.contains(&initial.ephemeral_key) {
                        return Err(OpenError::ReplayedInitial);
                    }
                    let (session, plaintext) = x3dh::respond(identity, prekeys, initial, now)?;
                    c.remember(initial.ephemeral_key);
                    c.push_active(Thread {
                        session,
                        pending_initial: None,
                        ephemeral: initial.ephemeral_key,
                    });
                    return Ok((
                        Opened {
                            plaintext,
                            new_session: true,
                            remote_device_key: initial.device_key,
                        },
                        None,
                    ));
                }
                let (session, plaintext) = x3dh::respond(identity, prekeys, initial, now)?;
                Ok((
                    Opened {
                        plaintext,
                        new_session: true,
                        remote_device_key: initial.device_key,
                    },
                    Some(Conversation {
                        remote_identity: initial.identity_key,
                        active: Thread {
                            session,
                            pending_initial: None,
                            ephemeral: initial.ephemeral_key,
                        },
                        previous: Vec::new(),
                        seen: std::collections::VecDeque::from([initial.ephemeral_key]),
                    }),
                ))
            }
        }
    }

    fn thread_by_ephemeral(&mut self, eph: &DhPublicKey) -> Option<&mut Thread> {
        if self.active.ephemeral == *eph {
            return Some(&mut self.active);
        }
        self.previous.iter_mut().find(|t| t.ephemeral == *eph)
    }

    fn remember(&mut self, ephemeral: DhPublicKey) {
        if self.seen.len() >= MAX_SEEN_EPHEMERALS {
            self.seen.pop_front();
        }
        self.seen.push_back(ephemeral);
    }

    fn push_active(&mut self, thread: Thread) {
        let old = std::mem::replace(&mut self.active, thread);
        self.previous.insert(0, old);
        self.previous.truncate(MAX_PREVIOUS_SESSIONS);
    }

    fn decrypt(
        &mut self,
        m: &RatchetMessage,
    ) -> Result<(Zeroizing<Vec<u8>>, DhPublicKey), DecryptError> {
        let first = match self.active.session.decrypt(m) {
            Ok(p) => {
                self.active.pending_initial = None;
                return Ok((
                    p,
                    device_key_in(&self.active.session, &self.remote_identity),
                ));
            }
            Err(e) => e,
        };
        let mut rewound = matches!(first, DecryptError::Rewound);
        let mut replay = matches!(first, DecryptError::Replay);
        for t in &mut self.previous {
            match t.session.decrypt(m) {
                Ok(p) => {
                    t.pending_initial = None;
                    return Ok((p, device_key_in(&t.session, &self.remote_identity)));
                }
                Err(DecryptError::Rewound) => rewound = true,
                Err(DecryptError::Replay) => replay = true,
                Err(_) => {}
            }
        }
        // A different message under a header some session opened means the
        // sender was rolled back: it must restart, whatever else matched.
        if rewound {
            return Err(DecryptError::Rewound);
        }
        // A message that some session already opened is a replay, whichever
        // session it belonged to: the caller must not take it for unreadable.
        if replay {
            return Err(DecryptError::Replay);
        }
        Err(first)
    }

    /// Versioned bytes for the store (which encrypts them at rest).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(4096));
        out.push(PICKLE_VERSION);
        out.extend_from_slice(self.remote_identity.as_bytes());
        let threads = std::iter::once(&self.active).chain(self.previous.iter());
        out.push(u8::try_from(1 + self.previous.len()).unwrap_or(u8::MAX));
        for t in threads {
            let s = t.session.to_bytes();
            out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(&s);
            out.extend_from_slice(t.ephemeral.as_bytes());
            match &t.pending_initial {
                None => out.push(0),
                Some(h) => {
                    out.push(1);
                    out.extend_from_slice(h.identity_key.as_bytes());
                    out.extend_from_slice(h.device_key.as_bytes());
                    out.extend_from_slice(h.device_key_signature.as_bytes());
                    out.extend_from_slice(h.ephemeral_key.as_bytes());
                    out.extend_from_slice(&h.signed_prekey_id.to_be_bytes());
                    match h.one_time_prekey_id {
                        None => out.push(0),
                        Some(id) => {
                            out.push(1);
                            out.extend_from_slice(&id.to_be_bytes());
                        }
                    }
                }
            }
        }
        out.push(u8::try_from(self.seen.len()).unwrap_or(u8::MAX));
        for e in self.seen.iter().take(usize::from(u8::MAX)) {
            out.extend_from_slice(e.as_bytes());
        }
        out
    }

    /// Parses [`Conversation::to_bytes`]; bounded, never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConversationPickleError> {
        if bytes.len() > MAX_CONVERSATION_PICKLE_BYTES {
            return Err(ConversationPickleError::TooLarge);
        }
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != PICKLE_VERSION {
            return Err(ConversationPickleError::UnsupportedVersion(version));
        }
        let remote_identity = IdentityKey::from_bytes(&r.array::<32>()?)
            .map_err(|_| ConversationPickleError::InvalidKey)?;
        let n = usize::from(r.u8()?);
        if n == 0 || n > 1 + MAX_PREVIOUS_SESSIONS {
            return Err(ConversationPickleError::SessionCount(n));
        }
        let mut threads = Vec::with_capacity(n);
        for _ in 0..n {
            let len = usize::try_from(u32::from_be_bytes(r.array::<4>()?))
                .map_err(|_| ConversationPickleError::TooLarge)?;
            let session = Session::from_bytes(r.take(len)?)?;
            let ephemeral = DhPublicKey(r.array::<32>()?);
            let pending_initial = match r.u8()? {
                0 => None,
                1 => Some(InitialHeader {
                    identity_key: IdentityKey::from_bytes(&r.array::<32>()?)
                        .map_err(|_| ConversationPickleError::InvalidKey)?,
                    device_key: DhPublicKey(r.array::<32>()?),
                    device_key_signature: Signature(r.array::<64>()?),
                    ephemeral_key: DhPublicKey(r.array::<32>()?),
                    signed_prekey_id: u32::from_be_bytes(r.array::<4>()?),
                    one_time_prekey_id: match r.u8()? {
                        0 => None,
                        1 => Some(u32::from_be_bytes(r.array::<4>()?)),
                        t => return Err(ConversationPickleError::InvalidTag(t)),
                    },
                }),
                t => return Err(ConversationPickleError::InvalidTag(t)),
            };
            threads.push(Thread {
                session,
                pending_initial,
                ephemeral,
            });
        }
        let n_seen = usize::from(r.u8()?);
        if n_seen > MAX_SEEN_EPHEMERALS {
            return Err(ConversationPickleError::SeenCount(n_seen));
        }
        let mut seen = std::collections::VecDeque::with_capacity(n_seen);
        for _ in 0..n_seen {
            seen.push_back(DhPublicKey(r.array::<32>()?));
        }
        if !r.0.is_empty() {
            return Err(ConversationPickleError::TrailingBytes);
        }
        let mut threads = threads.into_iter();
        let active = threads
            .next()
            .ok_or(ConversationPickleError::SessionCount(0))?;
        Ok(Self {
            remote_identity,
            active,
            previous: threads.collect(),
            seen,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ConversationPickleError> {
        if self.0.len() < n {
            return Err(ConversationPickleError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ConversationPickleError> {
        self.take(N)?
            .try_into()
            .map_err(|_| ConversationPickleError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, ConversationPickleError> {
        Ok(self.array::<1>()?[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    struct Party {
        id: Identity,
        prekeys: PrekeyState,
    }

    fn party(rng: &mut StdRng) -> Party {
        let id = Identity::generate(rng);
        let mut prekeys = PrekeyState::new(rng, &id, UnixMillis(0));
        prekeys.generate_one_time_prekeys(rng, 5).unwrap();
        Party { id, prekeys }
    }

    fn bundle(p: &Party) -> PrekeyBundle {
        let otk = p.prekeys.one_time_prekeys().first().map(|k| k.id);
        p.prekeys.bundle(&p.id, otk).unwrap()
    }

    fn seal(
        rng: &mut StdRng,
        me: &Party,
        conv: &mut Option<Conversation>,
        text: &[u8],
    ) -> SealedMessage {
        conv.as_mut()
            .unwrap()
            .seal(rng, me.id.identity_key(), text)
            .unwrap()
    }

    fn open(
        me: &mut Party,
        conv: &mut Option<Conversation>,
        sealed: &SealedMessage,
    ) -> Result<Vec<u8>, OpenError> {
        let (opened, new) = Conversation::open(
            conv.as_mut(),
            &me.id,
            &mut me.prekeys,
            sealed,
            UnixMillis(1),
        )?;
        if let Some(n) = new {
            *conv = Some(n);
        }
        Ok(opened.plaintext.to_vec())
    }

    #[test]
    fn initial_headers_repeat_until_answered_and_any_arrives_first() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let mut a = Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap();
        let m1 = a.seal(&mut rng, alice.id.identity_key(), b"one").unwrap();
        let m2 = a.seal(&mut rng, alice.id.identity_key(), b"two").unwrap();
        assert!(matches!(m2.body, SealedBody::Initial(_)));

        // The second arrives first, then the first (a repeat of the same X3DH).
        let mut b: Option<Conversation> = None;
        assert_eq!(open(&mut bob, &mut b, &m2).unwrap(), b"two");
        assert_eq!(open(&mut bob, &mut b, &m1).unwrap(), b"one");
        // A replay is refused and changes nothing.
        assert!(open(&mut bob, &mut b, &m1).is_err());

        let r = b
            .as_mut()
            .unwrap()
            .seal(&mut rng, bob.id.identity_key(), b"reply")
            .unwrap();
        assert!(matches!(r.body, SealedBody::Message(_)));
        let mut a_opt = Some(a);
        assert_eq!(open(&mut alice, &mut a_opt, &r).unwrap(), b"reply");
        let mut a = a_opt.unwrap();
        assert!(!a.awaiting_reply());
        let m3 = a.seal(&mut rng, alice.id.identity_key(), b"three").unwrap();
        assert!(matches!(m3.body, SealedBody::Message(_)));
        assert_eq!(open(&mut bob, &mut b, &m3).unwrap(), b"three");
    }

    /// Each side seals the sender to the other's device key; a box that
    /// opens but names someone the ratchet message does not come from is
    /// refused when the message is opened as from that someone.
    #[test]
    fn sealed_senders_go_to_the_peers_device_key_and_must_name_the_real_sender() {
        use tacnode_crypto::sealed_sender;
        let mut rng = StdRng::seed_from_u64(41);
        let mut alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let eve = party(&mut rng);
        let mut a = Some(Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap());
        assert_eq!(a.as_ref().unwrap().remote_device_key(), bob.id.device_key());

        // A first message through a mailbox: the box carries Alice's
        // certified device key, Bob opens it with his device key.
        let first = seal(&mut rng, &alice, &mut a, b"one");
        let to = a.as_ref().unwrap().remote_device_key();
        let deposit = sealed_sender::seal(&mut rng, &to, &first).unwrap();
        assert!(sealed_sender::open(&eve.id, &deposit).is_err());
        let opened = sealed_sender::open(&bob.id, &deposit).unwrap();
        assert_eq!(opened, first);
        let mut b = None;
        assert_eq!(open(&mut bob, &mut b, &opened).unwrap(), b"one");
        assert_eq!(
            b.as_ref().unwrap().remote_device_key(),
            alice.id.device_key()
        );

        // Bob has a session with Eve too.
        let mut e = Some(Conversation::initiate(&mut rng, &eve.id, &bundle(&bob)).unwrap());
        let hello = seal(&mut rng, &eve, &mut e, b"hello");
        let mut be = None;
        assert_eq!(open(&mut bob, &mut be, &hello).unwrap(), b"hello");

        // A box naming Eve around Alice's later message (anyone can seal
        // any name): it opens, and Eve's session refuses the message.
        let reply = seal(&mut rng, &bob, &mut b, b"reply");
        assert_eq!(open(&mut alice, &mut a, &reply).unwrap(), b"reply");
        let mut later = seal(&mut rng, &alice, &mut a, b"two");
        later.sender_identity_key = eve.id.identity_key();
        let forged = sealed_sender::seal(&mut rng, &bob.id.device_key(), &later).unwrap();
        let named = sealed_sender::open(&bob.id, &forged).unwrap();
        assert_eq!(named.sender_identity_key, eve.id.identity_key());
        assert!(open(&mut bob, &mut be, &named).is_err());

        // A first message whose box names Eve with her certified device
        // key: X3DH with Eve's key does not open Alice's message.
        let mut a2 = Some(Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap());
        let mut first = seal(&mut rng, &alice, &mut a2, b"again");
        let SealedBody::Initial(i) = &mut first.body else {
            panic!("a first message")
        };
        i.identity_key = eve.id.identity_key();
        i.device_key = eve.id.device_key();
        i.device_key_signature = eve.id.device_key_signature();
        first.sender_identity_key = eve.id.identity_key();
        let forged = sealed_sender::seal(&mut rng, &bob.id.device_key(), &first).unwrap();
        let named = sealed_sender::open(&bob.id, &forged).unwrap();
        assert!(open(&mut bob, &mut be, &named).is_err());
        assert!(open(&mut bob, &mut None, &named).is_err());
    }

    /// A mailbox holder edits the device key in message 2 of a conversation
    /// still awaiting its first reply. The repeat is matched by its
    /// ephemeral key, so X3DH does not run again: the edit must be refused,
    /// not opened and handed to the pin check (issue #13, finding 1).
    #[test]
    fn a_repeated_initial_with_an_edited_device_key_is_refused() {
        let mut rng = StdRng::seed_from_u64(31);
        let alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let mallory = party(&mut rng);
        let mut a = Some(Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap());
        let m1 = seal(&mut rng, &alice, &mut a, b"one");
        let m2 = seal(&mut rng, &alice, &mut a, b"two");
        let mut b = None;
        assert_eq!(open(&mut bob, &mut b, &m1).unwrap(), b"one");
        for edit in 0..2 {
            let mut forged = m2.clone();
            let SealedBody::Initial(i) = &mut forged.body else {
                panic!("message 2 repeats the initial header")
            };
            if edit == 0 {
                i.device_key = mallory.id.device_key();
            } else {
                i.device_key_signature = mallory.id.sign(b"anything");
                i.device_key = mallory.id.device_key();
            }
            assert!(matches!(
                open(&mut bob, &mut b, &forged),
                Err(OpenError::AlteredInitial)
            ));
        }
        // The genuine message 2 still opens.
        assert_eq!(open(&mut bob, &mut b, &m2).unwrap(), b"two");
    }

    #[test]
    fn restart_reaches_a_peer_that_lost_its_session_and_keeps_the_old_one_for_decrypting() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let mut a = Some(Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap());
        let m = a
            .as_mut()
            .unwrap()
            .seal(&mut rng, alice.id.identity_key(), b"hi")
            .unwrap();
        let mut b = None;
        open(&mut bob, &mut b, &m).unwrap();
        let r = b
            .as_mut()
            .unwrap()
            .seal(&mut rng, bob.id.identity_key(), b"ok")
            .unwrap();
        open(&mut alice, &mut a, &r).unwrap();
        // Bob sent this under the old session before anything went wrong.
        let in_flight = b
            .as_mut()
            .unwrap()
            .seal(&mut rng, bob.id.identity_key(), b"in flight")
            .unwrap();

        // Bob loses his side: Alice's messages cannot be opened.
        let mut lost: Option<Conversation> = None;
        let m = a
            .as_mut()
            .unwrap()
            .seal(&mut rng, alice.id.identity_key(), b"x")
            .unwrap();
        assert!(matches!(
            open(&mut bob, &mut lost, &m),
            Err(OpenError::NoSession)
        ));
        // Another identity's bundle is refused.
        let carol = party(&mut rng);
        assert!(matches!(
            a.as_mut()
                .unwrap()
                .restart(&mut rng, &alice.id, &bundle(&carol)),
            Err(RestartError::OtherIdentity)
        ));
        a.as_mut()
            .unwrap()
            .restart(&mut rng, &alice.id, &bundle(&bob))
            .unwrap();
        assert!(a.as_ref().unwrap().awaiting_reply());
        let m = a
            .as_mut()
            .unwrap()
            .seal(&mut rng, alice.id.identity_key(), b"again")
            .unwrap();
        assert!(matches!(m.body, SealedBody::Initial(_)));
        assert_eq!(open(&mut bob, &mut lost, &m).unwrap(), b"again");
        // The old session still opens what was in flight under it.
        assert_eq!(open(&mut alice, &mut a, &in_flight).unwrap(), b"in flight");
        // And the new one works both ways.
        let r = lost
            .as_mut()
            .unwrap()
            .seal(&mut rng, bob.id.identity_key(), b"back")
            .unwrap();
        assert_eq!(open(&mut alice, &mut a, &r).unwrap(), b"back");
        assert!(!a.as_ref().unwrap().awaiting_reply());
        // The old session's message again: a replay, not unreadable.
        assert!(matches!(
            open(&mut alice, &mut a, &in_flight),
            Err(OpenError::Decrypt(DecryptError::Replay))
        ));
    }

    /// Mail sealed under an older session (the sender has a new device key
    /// since) is opened by that session, and says so: the device key a
    /// text's id was derived with is the opening session's, not the
    /// current one's.
    #[test]
    fn the_session_that_opened_a_message_names_the_device_key() {
        let mut rng = StdRng::seed_from_u64(21);
        let alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let mut a = Some(Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap());
        let mut b = None;
        let first = seal(&mut rng, &alice, &mut a, b"first");
        let (opened, new) =
            Conversation::open(None, &bob.id, &mut bob.prekeys, &first, UnixMillis(1)).unwrap();
        b = new.or(b);
        assert_eq!(opened.remote_device_key, alice.id.device_key());
        let r = seal(&mut rng, &bob, &mut b, b"ok");
        Conversation::open(
            a.as_mut(),
            &alice.id,
            &mut party(&mut rng).prekeys,
            &r,
            UnixMillis(1),
        )
        .unwrap();
        // Mail under the old session, still on its way.
        let old_mail = seal(&mut rng, &alice, &mut a, b"old");
        // Alice reinstalls: same identity, another device key; her new
        // session reaches Bob first.
        let again = Identity::from_secret_bytes(
            &alice.id.signing_secret_bytes(),
            &party(&mut rng).id.device_secret_bytes(),
        );
        assert_ne!(again.device_key(), alice.id.device_key());
        let alice2 = Party {
            prekeys: PrekeyState::new(&mut rng, &again, UnixMillis(0)),
            id: again,
        };
        let mut a2 = Some(Conversation::initiate(&mut rng, &alice2.id, &bundle(&bob)).unwrap());
        let fresh = seal(&mut rng, &alice2, &mut a2, b"new");
        let (opened, _) =
            Conversation::open(b.as_mut(), &bob.id, &mut bob.prekeys, &fresh, UnixMillis(2))
                .unwrap();
        assert_eq!(opened.remote_device_key, alice2.id.device_key());
        assert_eq!(
            b.as_ref().unwrap().remote_device_key(),
            alice2.id.device_key()
        );
        let (opened, _) = Conversation::open(
            b.as_mut(),
            &bob.id,
            &mut bob.prekeys,
            &old_mail,
            UnixMillis(3),
        )
        .unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"old");
        assert_eq!(opened.remote_device_key, alice.id.device_key());
    }

    /// A sender restored from a backup re-sends under message keys it used
    /// already: the recipient tells that from a retry of the same message
    /// (issue #13, finding 3) so the sender restarts instead of being told
    /// "already received" forever.
    #[test]
    fn a_rolled_back_sender_is_told_apart_from_a_retry() {
        let mut rng = StdRng::seed_from_u64(13);
        let mut alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let mut a = Some(Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap());
        let mut b = None;
        let m = seal(&mut rng, &alice, &mut a, b"hi");
        open(&mut bob, &mut b, &m).unwrap();
        let r = seal(&mut rng, &bob, &mut b, b"ok");
        open(&mut alice, &mut a, &r).unwrap();
        // Alice's next message takes the DH ratchet step; the backup is made
        // after it, in the middle of her sending chain.
        let step = seal(&mut rng, &alice, &mut a, b"step");
        open(&mut bob, &mut b, &step).unwrap();

        let backup = a.as_ref().unwrap().to_bytes();
        let sent = seal(&mut rng, &alice, &mut a, b"sent before the restore");
        assert_eq!(
            open(&mut bob, &mut b, &sent).unwrap(),
            b"sent before the restore"
        );
        let mut restored = Some(Conversation::from_bytes(&backup).unwrap());
        let reused = seal(
            &mut rng,
            &alice,
            &mut restored,
            b"written after the restore",
        );
        assert!(matches!(
            open(&mut bob, &mut b, &sent),
            Err(OpenError::Decrypt(DecryptError::Replay))
        ));
        assert!(matches!(
            open(&mut bob, &mut b, &reused),
            Err(OpenError::Decrypt(DecryptError::Rewound))
        ));
    }

    #[test]
    fn simultaneous_initiation_keeps_both_directions_working() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let mut a = Some(Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap());
        let mut b = Some(Conversation::initiate(&mut rng, &bob.id, &bundle(&alice)).unwrap());
        let from_a = a
            .as_mut()
            .unwrap()
            .seal(&mut rng, alice.id.identity_key(), b"a1")
            .unwrap();
        let from_b = b
            .as_mut()
            .unwrap()
            .seal(&mut rng, bob.id.identity_key(), b"b1")
            .unwrap();
        assert_eq!(open(&mut bob, &mut b, &from_a).unwrap(), b"a1");
        assert_eq!(open(&mut alice, &mut a, &from_b).unwrap(), b"b1");
        for round in 0..3u8 {
            let x = a
                .as_mut()
                .unwrap()
                .seal(&mut rng, alice.id.identity_key(), &[round])
                .unwrap();
            assert_eq!(open(&mut bob, &mut b, &x).unwrap(), [round]);
            let y = b
                .as_mut()
                .unwrap()
                .seal(&mut rng, bob.id.identity_key(), &[round + 10])
                .unwrap();
            assert_eq!(open(&mut alice, &mut a, &y).unwrap(), [round + 10]);
        }
    }

    #[test]
    fn an_initial_message_replayed_after_its_session_was_dropped_is_refused() {
        let mut rng = StdRng::seed_from_u64(5);
        let alice = party(&mut rng);
        let mut bob = party(&mut rng);
        // No one-time prekey: X3DH itself would accept the replay.
        let no_otk = bob.prekeys.bundle(&bob.id, None).unwrap();
        let mut a = Conversation::initiate(&mut rng, &alice.id, &no_otk).unwrap();
        let first = a.seal(&mut rng, alice.id.identity_key(), b"first").unwrap();
        let mut b = None;
        assert_eq!(open(&mut bob, &mut b, &first).unwrap(), b"first");
        // Alice restarts X3DH more times than sessions are kept.
        for i in 0..=MAX_PREVIOUS_SESSIONS {
            let mut again = Conversation::initiate(&mut rng, &alice.id, &no_otk).unwrap();
            let m = again
                .seal(&mut rng, alice.id.identity_key(), &[i as u8])
                .unwrap();
            assert_eq!(open(&mut bob, &mut b, &m).unwrap(), [i as u8]);
        }
        let before = b.as_ref().unwrap().to_bytes();
        assert!(matches!(
            open(&mut bob, &mut b, &first),
            Err(OpenError::ReplayedInitial)
        ));
        // Refused without a trace, and remembered across a pickle.
        assert_eq!(*b.as_ref().unwrap().to_bytes(), *before);
        let mut b = Some(Conversation::from_bytes(&before).unwrap());
        assert!(matches!(
            open(&mut bob, &mut b, &first),
            Err(OpenError::ReplayedInitial)
        ));
    }

    #[test]
    fn message_without_session_and_forged_sender_are_refused() {
        let mut rng = StdRng::seed_from_u64(3);
        let alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let eve = party(&mut rng);
        let mut a = Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap();
        let mut m = a.seal(&mut rng, alice.id.identity_key(), b"x").unwrap();
        m.sender_identity_key = eve.id.identity_key();
        let mut b = None;
        assert!(matches!(
            open(&mut bob, &mut b, &m),
            Err(OpenError::SenderMismatch)
        ));
        let _ = a.seal(&mut rng, alice.id.identity_key(), b"y").unwrap();
        assert!(b.is_none());
    }

    #[test]
    fn pickle_round_trips_and_keeps_working() {
        let mut rng = StdRng::seed_from_u64(4);
        let alice = party(&mut rng);
        let mut bob = party(&mut rng);
        let mut a = Conversation::initiate(&mut rng, &alice.id, &bundle(&bob)).unwrap();
        let m1 = a.seal(&mut rng, alice.id.identity_key(), b"1").unwrap();
        let mut a = Conversation::from_bytes(&a.to_bytes()).unwrap();
        assert!(a.awaiting_reply());
        let m2 = a.seal(&mut rng, alice.id.identity_key(), b"2").unwrap();
        let mut b = None;
        assert_eq!(open(&mut bob, &mut b, &m1).unwrap(), b"1");
        let mut b = Some(Conversation::from_bytes(&b.unwrap().to_bytes()).unwrap());
        assert_eq!(open(&mut bob, &mut b, &m2).unwrap(), b"2");
    }

    proptest! {
        #[test]
        fn arbitrary_pickles_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Conversation::from_bytes(&bytes);
            let mut v = bytes.clone();
            v.insert(0, PICKLE_VERSION);
            let _ = Conversation::from_bytes(&v);
        }
    }
}
