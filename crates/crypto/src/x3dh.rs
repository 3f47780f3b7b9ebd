//! X3DH key agreement (Signal specification, rev. 1) in the dual-identity
//! model: the Ed25519 identity key signs; the certified X25519 device key is
//! the X3DH identity DH key (`IK` in the specification's DH1 and DH2).
//!
//! - `DH1 = DH(DK_A, SPK_B)`, `DH2 = DH(EK_A, DK_B)`, `DH3 = DH(EK_A, SPK_B)`,
//!   `DH4 = DH(EK_A, OPK_B)` when a one-time prekey is used; every result must
//!   be contributory.
//! - `SK = HKDF-SHA-256(salt = 32 zero bytes, ikm = 0xFF×32 ‖ DH1 ‖ DH2 ‖ DH3 [‖ DH4],
//!   info = "tacnode/x3dh/v1")`, 32 bytes.
//! - `AD = Encode(A) ‖ Encode(B)` with `Encode(X) = Ed25519 identity key ‖ X25519 device key`
//!   (128 bytes), binding both long-term keys of both parties.

use std::fmt;

use rand_core::CryptoRng;
use tacnode_domain::e2e::{PrekeyBundle, PrekeyId, RatchetMessage, X3dhInitial};
use tacnode_domain::{DhPublicKey, IdentityKey, Signature, SignatureError, UnixMillis};
use x25519_dalek::{SharedSecret, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Identity;
use crate::dh::{dh, public_of};
use crate::kdf::hkdf;
use crate::prekey::{
    BundleError, OneTimePrekeyLookup, PrekeyState, SignedPrekeyLookup, verify_bundle,
    verify_device_key,
};
use crate::ratchet::{DecryptError, Session};

/// HKDF info of the X3DH shared key.
pub const X3DH_INFO: &[u8] = b"tacnode/x3dh/v1";
/// Length of the associated data: two (identity key, device key) pairs.
pub const ASSOCIATED_DATA_LEN: usize = 128;

/// Which Diffie-Hellman of the handshake produced a non-contributory result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhStep {
    /// `DH(DK_A, SPK_B)`.
    Dh1,
    /// `DH(EK_A, DK_B)`.
    Dh2,
    /// `DH(EK_A, SPK_B)`.
    Dh3,
    /// `DH(EK_A, OPK_B)`.
    Dh4,
    /// The initiator's first ratchet step, `DH(DHs, SPK_B)`.
    FirstRatchet,
}

/// Why an X3DH handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X3dhError {
    /// The responder's bundle has a bad device key certificate or prekey signature.
    #[error("prekey bundle: {0}")]
    Bundle(#[from] BundleError),
    /// The initiator's identity key does not certify its device key.
    #[error("initiator device key certificate: {0}")]
    InitiatorDeviceKey(SignatureError),
    /// A DH output was all zero (a low-order public key).
    #[error("non-contributory X25519 result in {0:?}")]
    NonContributory(DhStep),
    /// The initial message names a signed prekey this device never had.
    #[error("unknown signed prekey {0}")]
    UnknownSignedPrekey(PrekeyId),
    /// The initial message names a signed prekey past its grace period.
    #[error("signed prekey {0} expired")]
    SignedPrekeyExpired(PrekeyId),
    /// The one-time prekey was consumed by an earlier handshake.
    #[error("one-time prekey {0} already used")]
    OneTimePrekeyReused(PrekeyId),
    /// The initial message names a one-time prekey never issued.
    #[error("unknown one-time prekey {0}")]
    UnknownOneTimePrekey(PrekeyId),
    /// The first ratchet message did not decrypt.
    #[error("initial message: {0}")]
    InitialMessage(DecryptError),
}

/// The X3DH output key `SK`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SharedKey(pub(crate) [u8; 32]);

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedKey(<redacted>)")
    }
}

/// `AD = Encode(A) ‖ Encode(B)`; public, authenticated with every message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AssociatedData(pub(crate) [u8; ASSOCIATED_DATA_LEN]);

impl AssociatedData {
    fn new(a: (&IdentityKey, &DhPublicKey), b: (&IdentityKey, &DhPublicKey)) -> Self {
        let mut ad = [0u8; ASSOCIATED_DATA_LEN];
        for (chunk, part) in ad.chunks_exact_mut(32).zip([
            a.0.as_bytes(),
            a.1.as_bytes(),
            b.0.as_bytes(),
            b.1.as_bytes(),
        ]) {
            chunk.copy_from_slice(part);
        }
        Self(ad)
    }

    /// The 128 bytes.
    pub fn as_bytes(&self) -> &[u8; ASSOCIATED_DATA_LEN] {
        &self.0
    }
}

/// What the initiator holds after X3DH: the keys for
/// [`Session::new_initiator`] and the fields of the [`X3dhInitial`].
#[derive(Debug)]
pub struct InitiatorOutput {
    pub(crate) shared_key: SharedKey,
    pub(crate) associated_data: AssociatedData,
    pub(crate) remote_identity: IdentityKey,
    pub(crate) remote_signed_prekey: DhPublicKey,
    identity_key: IdentityKey,
    device_key: DhPublicKey,
    device_key_signature: Signature,
    ephemeral_key: DhPublicKey,
    signed_prekey_id: PrekeyId,
    one_time_prekey_id: Option<PrekeyId>,
}

impl InitiatorOutput {
    /// The associated data `AD`.
    pub fn associated_data(&self) -> &AssociatedData {
        &self.associated_data
    }

    /// The responder's identity key.
    pub fn remote_identity(&self) -> IdentityKey {
        self.remote_identity
    }

    /// Wraps the session's first ratchet message into the X3DH initial message.
    pub fn initial_message(&self, message: RatchetMessage) -> X3dhInitial {
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

fn step(
    secret: &StaticSecret,
    public: &DhPublicKey,
    which: DhStep,
) -> Result<SharedSecret, X3dhError> {
    dh(secret, public).map_err(|_| X3dhError::NonContributory(which))
}

fn derive_sk(
    dh1: &SharedSecret,
    dh2: &SharedSecret,
    dh3: &SharedSecret,
    dh4: Option<&SharedSecret>,
) -> SharedKey {
    let f = [0xFFu8; 32];
    let salt = [0u8; 32];
    let okm: Zeroizing<[u8; 32]> = match dh4 {
        Some(dh4) => hkdf(
            &salt,
            &[
                &f,
                dh1.as_bytes(),
                dh2.as_bytes(),
                dh3.as_bytes(),
                dh4.as_bytes(),
            ],
            X3DH_INFO,
        ),
        None => hkdf(
            &salt,
            &[&f, dh1.as_bytes(), dh2.as_bytes(), dh3.as_bytes()],
            X3DH_INFO,
        ),
    };
    SharedKey(*okm)
}

/// Runs the initiator's side against a verified `bundle`.
pub fn initiate<R: CryptoRng + ?Sized>(
    rng: &mut R,
    identity: &Identity,
    bundle: &PrekeyBundle,
) -> Result<InitiatorOutput, X3dhError> {
    verify_bundle(bundle)?;
    let ephemeral = StaticSecret::random_from_rng(rng);
    let spk = &bundle.signed_prekey.public_key;
    let dh1 = step(identity.device_secret(), spk, DhStep::Dh1)?;
    let dh2 = step(&ephemeral, &bundle.device_key, DhStep::Dh2)?;
    let dh3 = step(&ephemeral, spk, DhStep::Dh3)?;
    let dh4 = match &bundle.one_time_prekey {
        Some(otk) => Some(step(&ephemeral, &otk.public_key, DhStep::Dh4)?),
        None => None,
    };
    let shared_key = derive_sk(&dh1, &dh2, &dh3, dh4.as_ref());
    let associated_data = AssociatedData::new(
        (&identity.identity_key(), &identity.device_key()),
        (&bundle.identity_key, &bundle.device_key),
    );
    Ok(InitiatorOutput {
        shared_key,
        associated_data,
        remote_identity: bundle.identity_key,
        remote_signed_prekey: *spk,
        identity_key: identity.identity_key(),
        device_key: identity.device_key(),
        device_key_signature: identity.device_key_signature(),
        ephemeral_key: public_of(&ephemeral),
        signed_prekey_id: bundle.signed_prekey.id,
        one_time_prekey_id: bundle.one_time_prekey.map(|k| k.id),
    })
}

/// Runs the responder's side: checks the initiator's certificate and the
/// prekey ids, derives `SK`, starts the session and decrypts the first
/// message. The one-time prekey is deleted only when all of that succeeded.
pub fn respond(
    identity: &Identity,
    prekeys: &mut PrekeyState,
    initial: &X3dhInitial,
    now: UnixMillis,
) -> Result<(Session, Zeroizing<Vec<u8>>), X3dhError> {
    verify_device_key(
        &initial.identity_key,
        &initial.device_key,
        &initial.device_key_signature,
    )
    .map_err(X3dhError::InitiatorDeviceKey)?;
    let spk = match prekeys.find_signed(initial.signed_prekey_id, now) {
        SignedPrekeyLookup::Found(k) => k,
        SignedPrekeyLookup::Expired => {
            return Err(X3dhError::SignedPrekeyExpired(initial.signed_prekey_id));
        }
        SignedPrekeyLookup::Unknown => {
            return Err(X3dhError::UnknownSignedPrekey(initial.signed_prekey_id));
        }
    };
    let otk = match initial.one_time_prekey_id {
        None => None,
        Some(id) => match prekeys.find_one_time(id) {
            OneTimePrekeyLookup::Found(k) => Some(k),
            OneTimePrekeyLookup::Consumed => return Err(X3dhError::OneTimePrekeyReused(id)),
            OneTimePrekeyLookup::Unknown => return Err(X3dhError::UnknownOneTimePrekey(id)),
        },
    };
    let dh1 = step(spk.secret(), &initial.device_key, DhStep::Dh1)?;
    let dh2 = step(
        identity.device_secret(),
        &initial.ephemeral_key,
        DhStep::Dh2,
    )?;
    let dh3 = step(spk.secret(), &initial.ephemeral_key, DhStep::Dh3)?;
    let dh4 = match otk {
        Some(otk) => Some(step(otk, &initial.ephemeral_key, DhStep::Dh4)?),
        None => None,
    };
    let shared_key = derive_sk(&dh1, &dh2, &dh3, dh4.as_ref());
    let associated_data = AssociatedData::new(
        (&initial.identity_key, &initial.device_key),
        (&identity.identity_key(), &identity.device_key()),
    );
    let mut session = Session::new_responder(
        &shared_key,
        associated_data,
        initial.identity_key,
        spk.secret().clone(),
        spk.public_key(),
    );
    let plaintext = session
        .decrypt(&initial.message)
        .map_err(X3dhError::InitialMessage)?;
    if let Some(id) = initial.one_time_prekey_id {
        prekeys.consume_one_time(id);
    }
    Ok((session, plaintext))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tacnode_domain::UnsignedPeerRecord;
    use tacnode_domain::e2e::OneTimePrekey;

    use super::*;
    use crate::dh::tests::low_order_points;
    use crate::prekey::{SIGNED_PREKEY_GRACE_MILLIS, signed_prekey_message};

    struct Setup {
        rng: StdRng,
        alice: Identity,
        bob: Identity,
        prekeys: PrekeyState,
    }

    fn setup(seed: u64) -> Setup {
        let mut rng = StdRng::seed_from_u64(seed);
        let alice = Identity::generate(&mut rng);
        let bob = Identity::generate(&mut rng);
        let mut prekeys = PrekeyState::new(&mut rng, &bob, UnixMillis(1000));
        prekeys.generate_one_time_prekeys(&mut rng, 5).unwrap();
        Setup {
            rng,
            alice,
            bob,
            prekeys,
        }
    }

    fn initial(s: &mut Setup, otk: Option<PrekeyId>) -> (InitiatorOutput, Session, X3dhInitial) {
        let bundle = s.prekeys.bundle(&s.bob, otk).unwrap();
        let out = initiate(&mut s.rng, &s.alice, &bundle).unwrap();
        let mut session = Session::new_initiator(&mut s.rng, &out).unwrap();
        let m = session.encrypt(&mut s.rng, b"hi").unwrap();
        let init = out.initial_message(m);
        (out, session, init)
    }

    #[test]
    fn both_sides_agree_with_and_without_one_time_prekey() {
        let mut s = setup(1);
        for otk in [Some(2), None] {
            let (out, mut alice_session, init) = initial(&mut s, otk);
            let (mut bob_session, pt) =
                respond(&s.bob, &mut s.prekeys, &init, UnixMillis(2000)).unwrap();
            assert_eq!(pt.as_slice(), b"hi");
            assert_eq!(bob_session.associated_data(), out.associated_data());
            assert_eq!(bob_session.remote_identity(), s.alice.identity_key());
            let reply = bob_session.encrypt(&mut s.rng, b"yo").unwrap();
            assert_eq!(alice_session.decrypt(&reply).unwrap().as_slice(), b"yo");
        }
        assert_eq!(
            s.prekeys.one_time_prekeys().len(),
            4,
            "exactly one OTK consumed"
        );
        assert!(format!("{:?}", s.prekeys).contains("redacted"));
    }

    #[test]
    fn one_time_prekeys_are_used_once_and_ids_checked() {
        let mut s = setup(2);
        let (_, _, init) = initial(&mut s, Some(3));
        respond(&s.bob, &mut s.prekeys, &init, UnixMillis(2000)).unwrap();
        assert_eq!(
            respond(&s.bob, &mut s.prekeys, &init, UnixMillis(2000)).unwrap_err(),
            X3dhError::OneTimePrekeyReused(3)
        );
        let mut unknown = init.clone();
        unknown.one_time_prekey_id = Some(999);
        assert_eq!(
            respond(&s.bob, &mut s.prekeys, &unknown, UnixMillis(2000)).unwrap_err(),
            X3dhError::UnknownOneTimePrekey(999)
        );
        let mut unknown = init.clone();
        unknown.signed_prekey_id = 77;
        assert_eq!(
            respond(&s.bob, &mut s.prekeys, &unknown, UnixMillis(2000)).unwrap_err(),
            X3dhError::UnknownSignedPrekey(77)
        );
    }

    #[test]
    fn a_bad_initial_message_does_not_burn_the_one_time_prekey() {
        let mut s = setup(3);
        let (_, _, init) = initial(&mut s, Some(1));
        let mut bad = init.clone();
        bad.message.ciphertext[0] ^= 1;
        assert_eq!(
            respond(&s.bob, &mut s.prekeys, &bad, UnixMillis(2000)).unwrap_err(),
            X3dhError::InitialMessage(DecryptError::Authentication)
        );
        let mut wrong_ephemeral = init.clone();
        wrong_ephemeral.ephemeral_key = s.bob.device_key();
        assert!(matches!(
            respond(&s.bob, &mut s.prekeys, &wrong_ephemeral, UnixMillis(2000)),
            Err(X3dhError::InitialMessage(_))
        ));
        assert_eq!(s.prekeys.one_time_prekeys().len(), 5);
        respond(&s.bob, &mut s.prekeys, &init, UnixMillis(2000)).unwrap();
        assert_eq!(s.prekeys.one_time_prekeys().len(), 4);
    }

    #[test]
    fn bad_signatures_are_rejected() {
        let mut s = setup(4);
        let good = s.prekeys.bundle(&s.bob, Some(1)).unwrap();
        let mut bad = good;
        bad.device_key_signature.0[0] ^= 1;
        assert!(matches!(
            initiate(&mut s.rng, &s.alice, &bad),
            Err(X3dhError::Bundle(BundleError::DeviceKeyCertificate(_)))
        ));
        let mut bad = good;
        bad.signed_prekey.signature.0[5] ^= 1;
        assert!(matches!(
            initiate(&mut s.rng, &s.alice, &bad),
            Err(X3dhError::Bundle(BundleError::SignedPrekeySignature(_)))
        ));
        let mut bad = good;
        bad.signed_prekey.created = UnixMillis(5);
        assert!(matches!(
            initiate(&mut s.rng, &s.alice, &bad),
            Err(X3dhError::Bundle(BundleError::SignedPrekeySignature(_)))
        ));
        let mut bad = good;
        bad.identity_key = s.alice.identity_key();
        assert!(matches!(
            initiate(&mut s.rng, &s.alice, &bad),
            Err(X3dhError::Bundle(_))
        ));

        let (_, _, init) = initial(&mut s, Some(1));
        let mut bad = init.clone();
        bad.device_key_signature.0[9] ^= 1;
        assert!(matches!(
            respond(&s.bob, &mut s.prekeys, &bad, UnixMillis(2000)),
            Err(X3dhError::InitiatorDeviceKey(_))
        ));
        let mut bad = init.clone();
        bad.identity_key = s.bob.identity_key();
        assert!(matches!(
            respond(&s.bob, &mut s.prekeys, &bad, UnixMillis(2000)),
            Err(X3dhError::InitiatorDeviceKey(_))
        ));
        assert_eq!(s.prekeys.one_time_prekeys().len(), 5);
    }

    /// A bundle whose keys are replaced by `point` but correctly signed, so
    /// only the contributory check can catch it.
    fn signed_bundle_with(s: &Setup, point: [u8; 32], which: DhStep) -> PrekeyBundle {
        let mut b = s.prekeys.bundle(&s.bob, Some(1)).unwrap();
        let p = DhPublicKey(point);
        match which {
            DhStep::Dh2 => {
                b.device_key = p;
                b.device_key_signature = s.bob.sign(&UnsignedPeerRecord::device_key_message(&p));
            }
            DhStep::Dh1 => {
                b.signed_prekey.public_key = p;
                b.signed_prekey.signature = s.bob.sign(&signed_prekey_message(
                    b.signed_prekey.id,
                    b.signed_prekey.created,
                    &p,
                ));
            }
            _ => {
                b.one_time_prekey = Some(OneTimePrekey {
                    id: 1,
                    public_key: p,
                })
            }
        }
        b
    }

    #[test]
    fn low_order_points_are_rejected_on_both_sides() {
        let mut s = setup(5);
        for point in low_order_points() {
            for which in [DhStep::Dh1, DhStep::Dh2, DhStep::Dh4] {
                let bundle = signed_bundle_with(&s, point, which);
                assert_eq!(
                    initiate(&mut s.rng, &s.alice, &bundle).unwrap_err(),
                    X3dhError::NonContributory(which)
                );
            }
            let (_, _, init) = initial(&mut s, Some(1));
            let mut bad = init.clone();
            bad.ephemeral_key = DhPublicKey(point);
            assert_eq!(
                respond(&s.bob, &mut s.prekeys, &bad, UnixMillis(2000)).unwrap_err(),
                X3dhError::NonContributory(DhStep::Dh2)
            );
            let mut bad = init.clone();
            bad.device_key = DhPublicKey(point);
            bad.device_key_signature = s
                .alice
                .sign(&UnsignedPeerRecord::device_key_message(&bad.device_key));
            assert_eq!(
                respond(&s.bob, &mut s.prekeys, &bad, UnixMillis(2000)).unwrap_err(),
                X3dhError::NonContributory(DhStep::Dh1)
            );
        }
        assert_eq!(s.prekeys.one_time_prekeys().len(), 5);
    }

    #[test]
    fn rotated_signed_prekey_answers_during_grace_only() {
        let mut s = setup(6);
        let (_, _, old_init) = initial(&mut s, None);
        let new = s
            .prekeys
            .rotate_signed_prekey(&mut s.rng, &s.bob, UnixMillis(10_000))
            .unwrap();
        assert_eq!(new.id, 2);
        let within = UnixMillis(10_000 + SIGNED_PREKEY_GRACE_MILLIS - 1);
        respond(&s.bob, &mut s.prekeys, &old_init, within).unwrap();
        let after = UnixMillis(10_000 + SIGNED_PREKEY_GRACE_MILLIS);
        assert_eq!(
            respond(&s.bob, &mut s.prekeys, &old_init, after).unwrap_err(),
            X3dhError::SignedPrekeyExpired(1)
        );
        s.prekeys.expire(after);
        assert_eq!(
            respond(&s.bob, &mut s.prekeys, &old_init, within).unwrap_err(),
            X3dhError::SignedPrekeyExpired(1)
        );
        let (_, _, new_init) = initial(&mut s, None);
        assert_eq!(new_init.signed_prekey_id, 2);
        respond(&s.bob, &mut s.prekeys, &new_init, after).unwrap();
    }

    #[test]
    fn prekey_state_pickle_round_trips() {
        let mut s = setup(7);
        s.prekeys
            .rotate_signed_prekey(&mut s.rng, &s.bob, UnixMillis(5000))
            .unwrap();
        let (_, _, init) = initial(&mut s, Some(4));
        let bytes = s.prekeys.to_bytes();
        let mut restored = PrekeyState::from_bytes(&bytes).unwrap();
        assert_eq!(restored.to_bytes(), bytes);
        assert_eq!(restored.signed_prekey(), s.prekeys.signed_prekey());
        assert_eq!(restored.one_time_prekeys(), s.prekeys.one_time_prekeys());
        respond(&s.bob, &mut restored, &init, UnixMillis(6000)).unwrap();
        let after = restored.to_bytes();
        assert_eq!(
            respond(
                &s.bob,
                &mut PrekeyState::from_bytes(&after).unwrap(),
                &init,
                UnixMillis(6000)
            )
            .unwrap_err(),
            X3dhError::OneTimePrekeyReused(4)
        );
        for len in 0..bytes.len() {
            assert!(PrekeyState::from_bytes(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn one_time_prekey_limit() {
        let mut s = setup(8);
        assert!(matches!(
            s.prekeys
                .generate_one_time_prekeys(&mut s.rng, crate::prekey::MAX_ONE_TIME_PREKEYS),
            Err(crate::prekey::PrekeyError::TooManyOneTimePrekeys { .. })
        ));
        let ids: Vec<_> = s
            .prekeys
            .generate_one_time_prekeys(&mut s.rng, 3)
            .unwrap()
            .iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(ids, [6, 7, 8]);
    }

    #[test]
    fn published_prekeys_sign_and_verify() {
        let s = setup(9);
        let p = s.prekeys.published(&s.bob, 42);
        crate::prekey::verify_published(&p).unwrap();
        let mut bad = p;
        bad.sequence = 43;
        assert!(matches!(
            crate::prekey::verify_published(&bad),
            Err(BundleError::PublishedSignature(_))
        ));
        let mut bad = p;
        bad.signed_prekey.id = 9;
        assert!(matches!(
            crate::prekey::verify_published(&bad),
            Err(BundleError::SignedPrekeySignature(_))
        ));
        let mut bad = p;
        bad.device_key_signature.0[0] ^= 1;
        assert!(matches!(
            crate::prekey::verify_published(&bad),
            Err(BundleError::DeviceKeyCertificate(_))
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn forged_initial_messages_burn_nothing(
            ephemeral in any::<[u8; 32]>(),
            otk in prop_oneof![Just(None), (0u32..8).prop_map(Some)],
            spk in 0u32..3,
            ciphertext in proptest::collection::vec(any::<u8>(), 0..48),
        ) {
            let mut s = setup(11);
            let (_, _, mut init) = initial(&mut s, Some(1));
            init.ephemeral_key = DhPublicKey(ephemeral);
            init.one_time_prekey_id = otk;
            init.signed_prekey_id = spk;
            init.message.ciphertext = ciphertext;
            prop_assert!(respond(&s.bob, &mut s.prekeys, &init, UnixMillis(2000)).is_err());
            prop_assert_eq!(s.prekeys.one_time_prekeys().len(), 5);
        }

        #[test]
        fn corrupted_prekey_pickles_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = PrekeyState::from_bytes(&bytes);
            let mut with_magic = b"TNPK\x01".to_vec();
            with_magic.extend_from_slice(&bytes);
            if let Ok(state) = PrekeyState::from_bytes(&with_magic) {
                prop_assert_eq!(state.to_bytes().to_vec(), with_magic);
            }
        }
    }
}
