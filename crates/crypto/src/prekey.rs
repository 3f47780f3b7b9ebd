//! Signed and one-time prekeys: their secrets ([`PrekeyState`]), the canonical
//! bytes the identity key signs, and verification of bundles as received.

use std::collections::BTreeMap;
use std::fmt;

use rand_core::CryptoRng;
use tacnode_domain::e2e::{OneTimePrekey, PrekeyBundle, PrekeyId, PublishedPrekeys, SignedPrekey};
use tacnode_domain::{
    DhPublicKey, IdentityKey, Signature, SignatureError, UnixMillis, UnsignedPeerRecord,
};
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Identity;
use crate::dh::public_of;
use crate::pickle::{PickleError, Reader, Writer};

/// How long a replaced signed prekey still answers X3DH initial messages
/// (initiators may hold the old bundle): 7 days.
pub const SIGNED_PREKEY_GRACE_MILLIS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Most unused one-time prekeys a [`PrekeyState`] holds.
pub const MAX_ONE_TIME_PREKEYS: usize = 1000;

const SIGNED_PREKEY_CONTEXT: &[u8] = b"tacnode/signed-prekey/v1\0";
const PUBLISHED_PREKEYS_CONTEXT: &[u8] = b"tacnode/published-prekeys/v1\0";
const PICKLE_MAGIC: &[u8; 4] = b"TNPK";
const PICKLE_VERSION: u8 = 1;

/// What the identity key signs for a signed prekey:
/// `"tacnode/signed-prekey/v1\0" ‖ id (u32 BE) ‖ created (u64 BE ms) ‖ public key`.
pub fn signed_prekey_message(
    id: PrekeyId,
    created: UnixMillis,
    public_key: &DhPublicKey,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_PREKEY_CONTEXT.len() + 4 + 8 + 32);
    m.extend_from_slice(SIGNED_PREKEY_CONTEXT);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&created.0.to_be_bytes());
    m.extend_from_slice(public_key.as_bytes());
    m
}

/// What the identity key signs for the DHT copy of its prekeys:
/// `"tacnode/published-prekeys/v1\0" ‖ identity key ‖ device key ‖ device key
/// signature ‖ signed prekey id (u32 BE) ‖ created (u64 BE) ‖ public key ‖
/// signature ‖ sequence (u64 BE)`.
pub fn published_prekeys_message(
    identity_key: &IdentityKey,
    device_key: &DhPublicKey,
    device_key_signature: &Signature,
    signed_prekey: &SignedPrekey,
    sequence: u64,
) -> Vec<u8> {
    let mut m =
        Vec::with_capacity(PUBLISHED_PREKEYS_CONTEXT.len() + 32 + 32 + 64 + 4 + 8 + 32 + 64 + 8);
    m.extend_from_slice(PUBLISHED_PREKEYS_CONTEXT);
    m.extend_from_slice(identity_key.as_bytes());
    m.extend_from_slice(device_key.as_bytes());
    m.extend_from_slice(device_key_signature.as_bytes());
    m.extend_from_slice(&signed_prekey.id.to_be_bytes());
    m.extend_from_slice(&signed_prekey.created.0.to_be_bytes());
    m.extend_from_slice(signed_prekey.public_key.as_bytes());
    m.extend_from_slice(signed_prekey.signature.as_bytes());
    m.extend_from_slice(&sequence.to_be_bytes());
    m
}

/// Why a prekey bundle (or its DHT copy) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The identity key does not certify the device key.
    #[error("device key certificate: {0}")]
    DeviceKeyCertificate(SignatureError),
    /// The signed prekey's signature is invalid.
    #[error("signed prekey signature: {0}")]
    SignedPrekeySignature(SignatureError),
    /// The outer signature of the published copy is invalid.
    #[error("published prekeys signature: {0}")]
    PublishedSignature(SignatureError),
}

/// Checks that `identity_key` certifies `device_key`.
pub(crate) fn verify_device_key(
    identity_key: &IdentityKey,
    device_key: &DhPublicKey,
    signature: &Signature,
) -> Result<(), SignatureError> {
    identity_key.verify(
        &UnsignedPeerRecord::device_key_message(device_key),
        signature,
    )
}

fn verify_signed_prekey(
    identity_key: &IdentityKey,
    spk: &SignedPrekey,
) -> Result<(), SignatureError> {
    identity_key.verify(
        &signed_prekey_message(spk.id, spk.created, &spk.public_key),
        &spk.signature,
    )
}

/// Verifies the device key certificate and the signed prekey signature of a bundle.
pub fn verify_bundle(bundle: &PrekeyBundle) -> Result<(), BundleError> {
    verify_device_key(
        &bundle.identity_key,
        &bundle.device_key,
        &bundle.device_key_signature,
    )
    .map_err(BundleError::DeviceKeyCertificate)?;
    verify_signed_prekey(&bundle.identity_key, &bundle.signed_prekey)
        .map_err(BundleError::SignedPrekeySignature)
}

/// Verifies all three signatures of a DHT prekey copy.
pub fn verify_published(published: &PublishedPrekeys) -> Result<(), BundleError> {
    verify_device_key(
        &published.identity_key,
        &published.device_key,
        &published.device_key_signature,
    )
    .map_err(BundleError::DeviceKeyCertificate)?;
    verify_signed_prekey(&published.identity_key, &published.signed_prekey)
        .map_err(BundleError::SignedPrekeySignature)?;
    let m = published_prekeys_message(
        &published.identity_key,
        &published.device_key,
        &published.device_key_signature,
        &published.signed_prekey,
        published.sequence,
    );
    published
        .identity_key
        .verify(&m, &published.signature)
        .map_err(BundleError::PublishedSignature)
}

/// Why a prekey operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrekeyError {
    /// Generating would hold more than [`MAX_ONE_TIME_PREKEYS`] unused one-time prekeys.
    #[error("{requested} more one-time prekeys would exceed the limit {MAX_ONE_TIME_PREKEYS}")]
    TooManyOneTimePrekeys {
        /// How many were asked for.
        requested: usize,
    },
    /// The prekey id space (u32) is exhausted.
    #[error("prekey ids exhausted")]
    IdsExhausted,
    /// No unused one-time prekey has this id.
    #[error("no unused one-time prekey {0}")]
    UnknownOneTimePrekey(PrekeyId),
}

/// A signed prekey with its secret.
#[derive(Clone, ZeroizeOnDrop)]
pub(crate) struct SignedPrekeySecret {
    secret: StaticSecret,
    #[zeroize(skip)]
    public: SignedPrekey,
}

impl SignedPrekeySecret {
    pub(crate) fn secret(&self) -> &StaticSecret {
        &self.secret
    }

    pub(crate) fn public_key(&self) -> DhPublicKey {
        self.public.public_key
    }
}

#[derive(Clone, ZeroizeOnDrop)]
struct OneTimePrekeySecret {
    secret: StaticSecret,
    #[zeroize(skip)]
    public: DhPublicKey,
}

/// A signed prekey lookup outcome for X3DH.
pub(crate) enum SignedPrekeyLookup<'a> {
    Found(&'a SignedPrekeySecret),
    Expired,
    Unknown,
}

/// A one-time prekey lookup outcome for X3DH.
pub(crate) enum OneTimePrekeyLookup<'a> {
    Found(&'a StaticSecret),
    /// The id was issued and has been consumed (deleted) already.
    Consumed,
    /// The id was never issued.
    Unknown,
}

/// The owner of a device's prekey secrets: the current signed prekey, the
/// previous one during [`SIGNED_PREKEY_GRACE_MILLIS`], and unused one-time
/// prekeys. Ids are handed out in increasing order, so a missing id below the
/// next one is known to be consumed.
///
/// Secrets are zeroized on drop; [`PrekeyState::to_bytes`] gives a versioned
/// pickle for encrypted persistence.
#[derive(Clone)]
pub struct PrekeyState {
    current: SignedPrekeySecret,
    /// The replaced signed prekey and when it was replaced.
    previous: Option<(SignedPrekeySecret, UnixMillis)>,
    one_time: BTreeMap<PrekeyId, OneTimePrekeySecret>,
    next_signed_id: PrekeyId,
    next_one_time_id: PrekeyId,
}

impl fmt::Debug for PrekeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrekeyState")
            .field("signed_prekey", &self.current.public.id)
            .field("one_time_prekeys", &self.one_time.len())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

fn new_signed_prekey<R: CryptoRng + ?Sized>(
    rng: &mut R,
    identity: &Identity,
    id: PrekeyId,
    now: UnixMillis,
) -> SignedPrekeySecret {
    let secret = StaticSecret::random_from_rng(rng);
    let public_key = public_of(&secret);
    let signature = identity.sign(&signed_prekey_message(id, now, &public_key));
    SignedPrekeySecret {
        secret,
        public: SignedPrekey {
            id,
            public_key,
            created: now,
            signature,
        },
    }
}

impl PrekeyState {
    /// A fresh state with signed prekey id 1 created at `now` and no one-time prekeys.
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R, identity: &Identity, now: UnixMillis) -> Self {
        Self {
            current: new_signed_prekey(rng, identity, 1, now),
            previous: None,
            one_time: BTreeMap::new(),
            next_signed_id: 2,
            next_one_time_id: 1,
        }
    }

    /// The current signed prekey (public part).
    pub fn signed_prekey(&self) -> SignedPrekey {
        self.current.public
    }

    /// Replaces the signed prekey; the old one keeps answering until
    /// `now + SIGNED_PREKEY_GRACE_MILLIS`. Returns the new public prekey.
    pub fn rotate_signed_prekey<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &Identity,
        now: UnixMillis,
    ) -> Result<SignedPrekey, PrekeyError> {
        let id = self.next_signed_id;
        self.next_signed_id = id.checked_add(1).ok_or(PrekeyError::IdsExhausted)?;
        let old = std::mem::replace(&mut self.current, new_signed_prekey(rng, identity, id, now));
        self.previous = Some((old, now));
        Ok(self.current.public)
    }

    /// Drops the previous signed prekey once its grace period is over.
    pub fn expire(&mut self, now: UnixMillis) {
        if let Some((_, replaced)) = &self.previous
            && now.millis_since(*replaced) >= SIGNED_PREKEY_GRACE_MILLIS
        {
            self.previous = None;
        }
    }

    /// Generates `count` new one-time prekeys and returns their public parts.
    pub fn generate_one_time_prekeys<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        count: usize,
    ) -> Result<Vec<OneTimePrekey>, PrekeyError> {
        if self.one_time.len().saturating_add(count) > MAX_ONE_TIME_PREKEYS {
            return Err(PrekeyError::TooManyOneTimePrekeys { requested: count });
        }
        let last = u32::try_from(count)
            .ok()
            .and_then(|c| self.next_one_time_id.checked_add(c))
            .ok_or(PrekeyError::IdsExhausted)?;
        let mut out = Vec::with_capacity(count);
        for id in self.next_one_time_id..last {
            let secret = StaticSecret::random_from_rng(rng);
            let public = public_of(&secret);
            self.one_time
                .insert(id, OneTimePrekeySecret { secret, public });
            out.push(OneTimePrekey {
                id,
                public_key: public,
            });
        }
        self.next_one_time_id = last;
        Ok(out)
    }

    /// Unused one-time prekeys (public parts), lowest id first.
    pub fn one_time_prekeys(&self) -> Vec<OneTimePrekey> {
        self.one_time
            .iter()
            .map(|(&id, k)| OneTimePrekey {
                id,
                public_key: k.public,
            })
            .collect()
    }

    /// A bundle for direct hand-out, with the given unused one-time prekey.
    pub fn bundle(
        &self,
        identity: &Identity,
        one_time_prekey: Option<PrekeyId>,
    ) -> Result<PrekeyBundle, PrekeyError> {
        let one_time_prekey = match one_time_prekey {
            None => None,
            Some(id) => {
                let k = self
                    .one_time
                    .get(&id)
                    .ok_or(PrekeyError::UnknownOneTimePrekey(id))?;
                Some(OneTimePrekey {
                    id,
                    public_key: k.public,
                })
            }
        };
        Ok(PrekeyBundle {
            identity_key: identity.identity_key(),
            device_key: identity.device_key(),
            device_key_signature: identity.device_key_signature(),
            signed_prekey: self.current.public,
            one_time_prekey,
        })
    }

    /// The signed DHT copy (never with a one-time prekey).
    pub fn published(&self, identity: &Identity, sequence: u64) -> PublishedPrekeys {
        let identity_key = identity.identity_key();
        let device_key = identity.device_key();
        let device_key_signature = identity.device_key_signature();
        let signed_prekey = self.current.public;
        let signature = identity.sign(&published_prekeys_message(
            &identity_key,
            &device_key,
            &device_key_signature,
            &signed_prekey,
            sequence,
        ));
        PublishedPrekeys {
            identity_key,
            device_key,
            device_key_signature,
            signed_prekey,
            sequence,
            signature,
        }
    }

    pub(crate) fn find_signed(&self, id: PrekeyId, now: UnixMillis) -> SignedPrekeyLookup<'_> {
        if self.current.public.id == id {
            return SignedPrekeyLookup::Found(&self.current);
        }
        match &self.previous {
            Some((old, replaced)) if old.public.id == id => {
                if now.millis_since(*replaced) < SIGNED_PREKEY_GRACE_MILLIS {
                    SignedPrekeyLookup::Found(old)
                } else {
                    SignedPrekeyLookup::Expired
                }
            }
            _ if id != 0 && id < self.next_signed_id => SignedPrekeyLookup::Expired,
            _ => SignedPrekeyLookup::Unknown,
        }
    }

    pub(crate) fn find_one_time(&self, id: PrekeyId) -> OneTimePrekeyLookup<'_> {
        match self.one_time.get(&id) {
            Some(k) => OneTimePrekeyLookup::Found(&k.secret),
            None if id != 0 && id < self.next_one_time_id => OneTimePrekeyLookup::Consumed,
            None => OneTimePrekeyLookup::Unknown,
        }
    }

    /// Deletes a one-time prekey after a successful X3DH.
    pub(crate) fn consume_one_time(&mut self, id: PrekeyId) {
        self.one_time.remove(&id);
    }

    /// Encodes the state as a versioned pickle (`"TNPK"`, version 1).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(
            PICKLE_MAGIC,
            PICKLE_VERSION,
            64 + 200 * 2 + self.one_time.len() * 68,
        );
        w.u32(self.next_signed_id);
        w.u32(self.next_one_time_id);
        write_signed(&mut w, &self.current);
        w.bool(self.previous.is_some());
        if let Some((old, replaced)) = &self.previous {
            write_signed(&mut w, old);
            w.u64(replaced.0);
        }
        w.u32(u32::try_from(self.one_time.len()).unwrap_or(u32::MAX));
        for (id, k) in &self.one_time {
            w.u32(*id);
            w.bytes(k.secret.as_bytes());
        }
        w.finish()
    }

    /// Decodes [`PrekeyState::to_bytes`]; bounded, strict, never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PickleError> {
        let mut r = Reader::new(bytes, PICKLE_MAGIC, "prekey state", PICKLE_VERSION)?;
        let next_signed_id = r.u32()?;
        let next_one_time_id = r.u32()?;
        let current = read_signed(&mut r)?;
        let previous = if r.bool()? {
            let old = read_signed(&mut r)?;
            Some((old, UnixMillis(r.u64()?)))
        } else {
            None
        };
        let n = r.count("one-time prekeys", MAX_ONE_TIME_PREKEYS)?;
        let mut one_time = BTreeMap::new();
        let mut last = 0;
        for _ in 0..n {
            let id = r.u32()?;
            if id <= last || id >= next_one_time_id {
                return Err(PickleError::Inconsistent("one-time prekey ids"));
            }
            last = id;
            let secret = StaticSecret::from(*r.secret::<32>()?);
            let public = public_of(&secret);
            one_time.insert(id, OneTimePrekeySecret { secret, public });
        }
        r.finish()?;
        if current.public.id >= next_signed_id
            || previous
                .as_ref()
                .is_some_and(|(p, _)| p.public.id >= current.public.id)
        {
            return Err(PickleError::Inconsistent("signed prekey ids"));
        }
        Ok(Self {
            current,
            previous,
            one_time,
            next_signed_id,
            next_one_time_id,
        })
    }
}

fn write_signed(w: &mut Writer, k: &SignedPrekeySecret) {
    w.u32(k.public.id);
    w.u64(k.public.created.0);
    w.bytes(k.secret.as_bytes());
    w.bytes(k.public.signature.as_bytes());
}

fn read_signed(r: &mut Reader<'_>) -> Result<SignedPrekeySecret, PickleError> {
    let id = r.u32()?;
    let created = UnixMillis(r.u64()?);
    let secret = StaticSecret::from(*r.secret::<32>()?);
    let signature = Signature(r.array()?);
    let public_key = public_of(&secret);
    Ok(SignedPrekeySecret {
        secret,
        public: SignedPrekey {
            id,
            public_key,
            created,
            signature,
        },
    })
}

impl Zeroize for PrekeyState {
    fn zeroize(&mut self) {
        self.one_time.clear();
        self.previous = None;
        self.current.secret = StaticSecret::from([0u8; 32]);
    }
}

// Every secret member zeroizes itself on drop.
impl ZeroizeOnDrop for PrekeyState {}
