//! `x3dh::respond` on X3DH initial messages built from genuine ones with
//! arbitrary fields swapped in, against a real prekey state (a rotated
//! signed prekey still in its grace period, one-time prekeys).
//!
//! Input layout (read with `arbitrary::Unstructured`): the genuine initial
//! to start from, the responder's clock choice, then up to
//! [`MAX_MUTATIONS`] field replacements; [`encode`] writes it for seeds.
//!
//! Invariants: `respond` never panics; a failed attempt leaves the prekey
//! state unchanged (no one-time prekey consumed); a success yields the
//! genuine plaintext and consumes exactly the named one-time prekey, after
//! which the same initial is refused.

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_crypto::prekey::{PrekeyState, SIGNED_PREKEY_GRACE_MILLIS};
use tacnode_crypto::ratchet::Session;
use tacnode_crypto::x3dh::{self, X3dhError};
use tacnode_domain::e2e::X3dhInitial;
use tacnode_domain::{DhPublicKey, IdentityKey, Signature, UnixMillis};

use crate::ratchet_decrypt::LOW_ORDER_POINTS;

/// Most field replacements per input.
pub const MAX_MUTATIONS: usize = 8;
/// When the responder's signed prekey was rotated.
pub const ROTATED_AT: UnixMillis = UnixMillis(1_000_000);

/// One field replacement.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// `identity_key` from raw bytes (skipped if not a point).
    IdentityKey([u8; 32]),
    /// `identity_key` of another genuine initial.
    IdentityFrom(u8),
    /// `device_key`.
    DeviceKey([u8; 32]),
    /// `device_key_signature`.
    DeviceSignature([u8; 64]),
    /// `ephemeral_key` from raw bytes.
    Ephemeral([u8; 32]),
    /// `ephemeral_key` of small order.
    EphemeralLowOrder(u8),
    /// `signed_prekey_id`.
    SignedPrekeyId(u32),
    /// `one_time_prekey_id`.
    OneTimePrekeyId(Option<u32>),
    /// The ratchet header's fields.
    Header([u8; 32], u32, u32),
    /// The ratchet message of another genuine initial.
    MessageFrom(u8),
    /// The ciphertext.
    Ciphertext(Vec<u8>),
}

/// A decoded input.
#[derive(Debug, Clone)]
pub struct Input {
    /// Index of the genuine initial to start from.
    pub base: u8,
    /// 0: just after rotation; 1: grace period over; 2: before creation; other: the u64.
    pub clock: (u8, u64),
    /// Replacements, in order.
    pub mutations: Vec<Mutation>,
}

fn parse(data: &[u8]) -> Result<Input> {
    let mut u = Unstructured::new(data);
    let base = u.arbitrary()?;
    let clock = (u.arbitrary::<u8>()?, 0);
    let clock = if clock.0 % 4 == 3 {
        (clock.0, u.arbitrary()?)
    } else {
        clock
    };
    let mut mutations = Vec::new();
    while !u.is_empty() && mutations.len() < MAX_MUTATIONS {
        mutations.push(match u.arbitrary::<u8>()? % 11 {
            0 => Mutation::IdentityKey(u.arbitrary()?),
            1 => Mutation::IdentityFrom(u.arbitrary()?),
            2 => Mutation::DeviceKey(u.arbitrary()?),
            3 => Mutation::DeviceSignature(u.arbitrary()?),
            4 => Mutation::Ephemeral(u.arbitrary()?),
            5 => Mutation::EphemeralLowOrder(u.arbitrary()?),
            6 => Mutation::SignedPrekeyId(u.arbitrary()?),
            7 => Mutation::OneTimePrekeyId(if u.arbitrary()? {
                Some(u.arbitrary()?)
            } else {
                None
            }),
            8 => Mutation::Header(u.arbitrary()?, u.arbitrary()?, u.arbitrary()?),
            9 => Mutation::MessageFrom(u.arbitrary()?),
            _ => {
                let len = usize::from(u.arbitrary::<u16>()?) % 4097;
                Mutation::Ciphertext(u.bytes(len.min(u.len()))?.to_vec())
            }
        });
    }
    Ok(Input {
        base,
        clock,
        mutations,
    })
}

/// The bytes [`run`] reads back as `input` (for seeds).
pub fn encode(input: &Input) -> Vec<u8> {
    let mut out = vec![input.base, input.clock.0];
    if input.clock.0 % 4 == 3 {
        out.extend_from_slice(&input.clock.1.to_le_bytes());
    }
    for m in &input.mutations {
        match m {
            Mutation::IdentityKey(k) => {
                out.push(0);
                out.extend_from_slice(k);
            }
            Mutation::IdentityFrom(i) => out.extend_from_slice(&[1, *i]),
            Mutation::DeviceKey(k) => {
                out.push(2);
                out.extend_from_slice(k);
            }
            Mutation::DeviceSignature(s) => {
                out.push(3);
                out.extend_from_slice(s);
            }
            Mutation::Ephemeral(k) => {
                out.push(4);
                out.extend_from_slice(k);
            }
            Mutation::EphemeralLowOrder(i) => out.extend_from_slice(&[5, *i]),
            Mutation::SignedPrekeyId(id) => {
                out.push(6);
                out.extend_from_slice(&id.to_le_bytes());
            }
            Mutation::OneTimePrekeyId(None) => out.extend_from_slice(&[7, 0]),
            Mutation::OneTimePrekeyId(Some(id)) => {
                out.extend_from_slice(&[7, 1]);
                out.extend_from_slice(&id.to_le_bytes());
            }
            Mutation::Header(k, pn, n) => {
                out.push(8);
                out.extend_from_slice(k);
                out.extend_from_slice(&pn.to_le_bytes());
                out.extend_from_slice(&n.to_le_bytes());
            }
            Mutation::MessageFrom(i) => out.extend_from_slice(&[9, *i]),
            Mutation::Ciphertext(c) => {
                out.push(10);
                let len = u16::try_from(c.len().min(4096)).unwrap_or(0);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&c[..usize::from(len)]);
            }
        }
    }
    out
}

/// The responder, its prekey state, and genuine initial messages against
/// it with their plaintexts. Deterministic.
pub struct Fixture {
    /// The responder.
    pub responder: Identity,
    /// Its prekeys: signed prekey 1 rotated to 2 at [`ROTATED_AT`], one-time prekeys.
    pub prekeys: PrekeyState,
    /// Genuine initial messages and their plaintexts.
    pub initials: Vec<(X3dhInitial, Vec<u8>)>,
}

/// The shared fixture (built once).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0x3d4_1417);
        let responder = Identity::generate(&mut rng);
        let initiators: Vec<Identity> = (0..2).map(|_| Identity::generate(&mut rng)).collect();
        let mut prekeys = PrekeyState::new(&mut rng, &responder, UnixMillis(0));
        let otks = prekeys
            .generate_one_time_prekeys(&mut rng, 4)
            .expect("prekeys");
        let mut initials = Vec::new();
        let mut make =
            |rng: &mut StdRng, prekeys: &PrekeyState, who: &Identity, otk: Option<u32>| {
                let bundle = prekeys.bundle(&responder, otk).expect("bundle");
                let out = x3dh::initiate(rng, who, &bundle).expect("initiate");
                let mut s = Session::new_initiator(rng, &out).expect("session");
                let plaintext = format!("initial {}", initials.len()).into_bytes();
                let m = s.encrypt(rng, &plaintext).expect("encrypt");
                initials.push((out.initial_message(m), plaintext));
            };
        // Against the old signed prekey (still in its grace period).
        make(&mut rng, &prekeys, &initiators[0], Some(otks[0].id));
        make(&mut rng, &prekeys, &initiators[1], None);
        prekeys
            .rotate_signed_prekey(&mut rng, &responder, ROTATED_AT)
            .expect("rotate");
        // Against the current one.
        make(&mut rng, &prekeys, &initiators[0], Some(otks[1].id));
        make(&mut rng, &prekeys, &initiators[1], Some(otks[2].id));
        make(&mut rng, &prekeys, &initiators[0], None);
        Fixture {
            responder,
            prekeys,
            initials,
        }
    })
}

fn apply(f: &Fixture, initial: &mut X3dhInitial, m: &Mutation) {
    let pick = |i: u8| &f.initials[usize::from(i) % f.initials.len()].0;
    match m {
        Mutation::IdentityKey(k) => {
            if let Ok(k) = IdentityKey::from_bytes(k) {
                initial.identity_key = k;
            }
        }
        Mutation::IdentityFrom(i) => initial.identity_key = pick(*i).identity_key,
        Mutation::DeviceKey(k) => initial.device_key = DhPublicKey(*k),
        Mutation::DeviceSignature(s) => initial.device_key_signature = Signature(*s),
        Mutation::Ephemeral(k) => initial.ephemeral_key = DhPublicKey(*k),
        Mutation::EphemeralLowOrder(i) => {
            initial.ephemeral_key =
                DhPublicKey(LOW_ORDER_POINTS[usize::from(*i) % LOW_ORDER_POINTS.len()]);
        }
        Mutation::SignedPrekeyId(id) => initial.signed_prekey_id = *id,
        Mutation::OneTimePrekeyId(id) => initial.one_time_prekey_id = *id,
        Mutation::Header(k, pn, n) => {
            initial.message.header.ratchet_key = DhPublicKey(*k);
            initial.message.header.previous_chain_length = *pn;
            initial.message.header.message_number = *n;
        }
        Mutation::MessageFrom(i) => initial.message = pick(*i).message.clone(),
        Mutation::Ciphertext(c) => initial.message.ciphertext.clone_from(c),
    }
}

/// Responds to the mutated initial and checks the prekey state.
pub fn run(data: &[u8]) {
    let Ok(input) = parse(data) else {
        return;
    };
    let f = fixture();
    let (base, plaintext) = &f.initials[usize::from(input.base) % f.initials.len()];
    let mut initial = base.clone();
    for m in &input.mutations {
        apply(f, &mut initial, m);
    }
    let now = match input.clock.0 % 4 {
        0 => ROTATED_AT.saturating_add_millis(1),
        1 => ROTATED_AT.saturating_add_millis(SIGNED_PREKEY_GRACE_MILLIS),
        2 => UnixMillis(0),
        _ => UnixMillis(input.clock.1),
    };
    let mut prekeys = f.prekeys.clone();
    let before = prekeys.one_time_prekeys();
    let before_bytes = prekeys.to_bytes();
    match x3dh::respond(&f.responder, &mut prekeys, &initial, now) {
        Err(_) => {
            assert_eq!(
                prekeys.one_time_prekeys(),
                before,
                "a failed X3DH consumed a one-time prekey"
            );
            assert_eq!(
                prekeys.to_bytes(),
                before_bytes,
                "a failed X3DH changed the prekey state"
            );
        }
        Ok((_, got)) => {
            assert_eq!(
                got.as_slice(),
                plaintext.as_slice(),
                "X3DH accepted a forgery"
            );
            let after = prekeys.one_time_prekeys();
            match initial.one_time_prekey_id {
                None => assert_eq!(after, before, "no one-time prekey named, yet one went"),
                Some(id) => {
                    assert_eq!(
                        after.len() + 1,
                        before.len(),
                        "not exactly one prekey consumed"
                    );
                    assert!(
                        before.iter().any(|k| k.id == id) && !after.iter().any(|k| k.id == id),
                        "the named one-time prekey was not the one consumed"
                    );
                    let again = prekeys.to_bytes();
                    assert!(
                        matches!(
                            x3dh::respond(&f.responder, &mut prekeys, &initial, now),
                            Err(X3dhError::OneTimePrekeyReused(i)) if i == id
                        ),
                        "a replayed initial reused its one-time prekey"
                    );
                    assert_eq!(
                        prekeys.to_bytes(),
                        again,
                        "a refused replay changed the state"
                    );
                }
            }
        }
    }
}
