//! `prekey::verify_bundle` and `verify_published` on prekey bundles from
//! arbitrary wire bytes (prost, then `TryFrom`), and on genuine bundles
//! with arbitrary fields swapped in.
//!
//! An input starting with [`STRUCTURED`] (never the start of a protobuf
//! message: field number 0 does not exist) is read with
//! `arbitrary::Unstructured` as a genuine base and up to [`MAX_MUTATIONS`]
//! replacements ([`encode`] writes it); any other input is decoded as both
//! wire messages.
//!
//! Invariants: nothing panics; the wire round trip keeps the value and the
//! verdict; signatures are unforgeable, so an accepted value carries exactly
//! the signed fields of a genuine one; an accepted published copy is also an
//! accepted bundle.

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use prost::Message as _;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tacnode_crypto::Identity;
use tacnode_crypto::prekey::{PrekeyState, verify_bundle, verify_published};
use tacnode_domain::e2e::{OneTimePrekey, PrekeyBundle, PublishedPrekeys};
use tacnode_domain::{DhPublicKey, IdentityKey, Signature, UnixMillis};
use tacnode_messaging::pb;

/// First byte selecting the structured mode.
pub const STRUCTURED: u8 = 0;
/// Most replacements per structured input.
pub const MAX_MUTATIONS: usize = 8;

/// Genuine published copies (several owners and sequences).
pub fn genuine() -> &'static [PublishedPrekeys] {
    static GENUINE: OnceLock<Vec<PublishedPrekeys>> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(0xb0_0d1e);
        let mut out = Vec::new();
        for _ in 0..2 {
            let id = Identity::generate(&mut rng);
            let mut state = PrekeyState::new(&mut rng, &id, UnixMillis(1_700_000_000_000));
            out.push(state.published(&id, 1));
            state
                .rotate_signed_prekey(&mut rng, &id, UnixMillis(1_700_000_100_000))
                .expect("rotate");
            out.push(state.published(&id, 2));
        }
        out
    })
}

fn bundle_of(p: &PublishedPrekeys, otk: Option<OneTimePrekey>) -> PrekeyBundle {
    PrekeyBundle {
        identity_key: p.identity_key,
        device_key: p.device_key,
        device_key_signature: p.device_key_signature,
        signed_prekey: p.signed_prekey,
        one_time_prekey: otk,
    }
}

/// The bundle is accepted only if its signed fields are a genuine owner's.
fn check_bundle(b: &PrekeyBundle) {
    let verdict = verify_bundle(b);
    if verdict.is_ok() {
        assert!(
            genuine().iter().any(|g| bundle_of(g, None)
                == PrekeyBundle {
                    one_time_prekey: None,
                    ..*b
                }),
            "a bundle that was never signed verified: {b:?}"
        );
    }
    let bytes = pb::PrekeyBundle::from(b).encode_to_vec();
    let again = PrekeyBundle::try_from(
        pb::PrekeyBundle::decode(bytes.as_slice()).expect("re-encoded bundle must parse"),
    )
    .expect("re-encoded bundle must convert");
    assert_eq!(&again, b, "bundle changed across a round trip");
    assert_eq!(
        verify_bundle(&again),
        verdict,
        "verdict changed across a round trip"
    );
}

fn check_published(p: &PublishedPrekeys) {
    let verdict = verify_published(p);
    if verdict.is_ok() {
        assert!(
            genuine().contains(p),
            "a published copy that was never signed verified: {p:?}"
        );
        assert!(
            verify_bundle(&bundle_of(p, None)).is_ok(),
            "an accepted published copy is a refused bundle"
        );
    }
    let bytes = pb::PublishedPrekeys::from(p).encode_to_vec();
    let again = PublishedPrekeys::try_from(
        pb::PublishedPrekeys::decode(bytes.as_slice()).expect("re-encoded copy must parse"),
    )
    .expect("re-encoded copy must convert");
    assert_eq!(&again, p, "published copy changed across a round trip");
    assert_eq!(
        verify_published(&again),
        verdict,
        "verdict changed across a round trip"
    );
    check_bundle(&bundle_of(p, None));
}

/// One field replacement of the structured mode.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// `identity_key` (skipped if not a point).
    IdentityKey([u8; 32]),
    /// A field group taken from another genuine copy: 0 identity, 1 device
    /// key, 2 device signature, 3 signed prekey, 4 sequence, 5 signature.
    From(u8, u8),
    /// `device_key`.
    DeviceKey([u8; 32]),
    /// `device_key_signature`.
    DeviceSignature([u8; 64]),
    /// The signed prekey's id, creation time and key.
    SignedPrekey(u32, u64, [u8; 32]),
    /// The signed prekey's signature.
    SignedPrekeySignature([u8; 64]),
    /// `sequence`.
    Sequence(u64),
    /// The outer signature.
    Signature([u8; 64]),
    /// The one-time prekey of the bundle form.
    OneTime(Option<(u32, [u8; 32])>),
}

/// A structured input: a genuine base and replacements.
#[derive(Debug, Clone)]
pub struct Input {
    /// Index of the genuine copy.
    pub base: u8,
    /// Replacements, in order.
    pub mutations: Vec<Mutation>,
}

fn parse(data: &[u8]) -> Result<Input> {
    let mut u = Unstructured::new(data);
    let base = u.arbitrary()?;
    let mut mutations = Vec::new();
    while !u.is_empty() && mutations.len() < MAX_MUTATIONS {
        mutations.push(match u.arbitrary::<u8>()? % 9 {
            0 => Mutation::IdentityKey(u.arbitrary()?),
            1 => Mutation::From(u.arbitrary()?, u.arbitrary()?),
            2 => Mutation::DeviceKey(u.arbitrary()?),
            3 => Mutation::DeviceSignature(u.arbitrary()?),
            4 => Mutation::SignedPrekey(u.arbitrary()?, u.arbitrary()?, u.arbitrary()?),
            5 => Mutation::SignedPrekeySignature(u.arbitrary()?),
            6 => Mutation::Sequence(u.arbitrary()?),
            7 => Mutation::Signature(u.arbitrary()?),
            _ => Mutation::OneTime(if u.arbitrary()? {
                Some((u.arbitrary()?, u.arbitrary()?))
            } else {
                None
            }),
        });
    }
    Ok(Input { base, mutations })
}

/// The bytes [`run`] reads back as `input`, [`STRUCTURED`] first (for seeds).
pub fn encode(input: &Input) -> Vec<u8> {
    let mut out = vec![STRUCTURED, input.base];
    for m in &input.mutations {
        match m {
            Mutation::IdentityKey(k) => {
                out.push(0);
                out.extend_from_slice(k);
            }
            Mutation::From(i, what) => out.extend_from_slice(&[1, *i, *what]),
            Mutation::DeviceKey(k) => {
                out.push(2);
                out.extend_from_slice(k);
            }
            Mutation::DeviceSignature(s) => {
                out.push(3);
                out.extend_from_slice(s);
            }
            Mutation::SignedPrekey(id, created, k) => {
                out.push(4);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&created.to_le_bytes());
                out.extend_from_slice(k);
            }
            Mutation::SignedPrekeySignature(s) => {
                out.push(5);
                out.extend_from_slice(s);
            }
            Mutation::Sequence(s) => {
                out.push(6);
                out.extend_from_slice(&s.to_le_bytes());
            }
            Mutation::Signature(s) => {
                out.push(7);
                out.extend_from_slice(s);
            }
            Mutation::OneTime(None) => out.extend_from_slice(&[8, 0]),
            Mutation::OneTime(Some((id, k))) => {
                out.extend_from_slice(&[8, 1]);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(k);
            }
        }
    }
    out
}

fn structured(data: &[u8]) {
    let Ok(input) = parse(data) else {
        return;
    };
    let g = genuine();
    let mut p = g[usize::from(input.base) % g.len()];
    let mut otk = None;
    for m in &input.mutations {
        match m {
            Mutation::IdentityKey(k) => {
                if let Ok(k) = IdentityKey::from_bytes(k) {
                    p.identity_key = k;
                }
            }
            Mutation::From(i, what) => {
                let o = &g[usize::from(*i) % g.len()];
                match what % 6 {
                    0 => p.identity_key = o.identity_key,
                    1 => p.device_key = o.device_key,
                    2 => p.device_key_signature = o.device_key_signature,
                    3 => p.signed_prekey = o.signed_prekey,
                    4 => p.sequence = o.sequence,
                    _ => p.signature = o.signature,
                }
            }
            Mutation::DeviceKey(k) => p.device_key = DhPublicKey(*k),
            Mutation::DeviceSignature(s) => p.device_key_signature = Signature(*s),
            Mutation::SignedPrekey(id, created, k) => {
                p.signed_prekey.id = *id;
                p.signed_prekey.created = UnixMillis(*created);
                p.signed_prekey.public_key = DhPublicKey(*k);
            }
            Mutation::SignedPrekeySignature(s) => p.signed_prekey.signature = Signature(*s),
            Mutation::Sequence(s) => p.sequence = *s,
            Mutation::Signature(s) => p.signature = Signature(*s),
            Mutation::OneTime(o) => {
                otk = o.map(|(id, k)| OneTimePrekey {
                    id,
                    public_key: DhPublicKey(k),
                });
            }
        }
    }
    check_published(&p);
    check_bundle(&bundle_of(&p, otk));
}

/// Structured mode behind [`STRUCTURED`], else both wire decoders.
pub fn run(data: &[u8]) {
    if let Some((&STRUCTURED, rest)) = data.split_first() {
        structured(rest);
        return;
    }
    if let Ok(w) = pb::PrekeyBundle::decode(data)
        && let Ok(b) = PrekeyBundle::try_from(w)
    {
        check_bundle(&b);
    }
    if let Ok(w) = pb::PublishedPrekeys::decode(data)
        && let Ok(p) = PublishedPrekeys::try_from(w)
    {
        check_published(&p);
    }
}
