//! The Sphinx header: built by the sender for a whole path, peeled one
//! layer per hop.

use curve25519_dalek::{MontgomeryPoint, Scalar};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq as _;
use tacnode_domain::DhPublicKey;
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, Zeroizing};

use super::hop_secrets::{HopSecrets, STREAM_LEN};
use super::routing::{PathHop, Routing};
use super::{
    ALPHA_LEN, BETA_LEN, CreateError, HEADER_LEN, HOP_LEN, MAC_LEN, MAX_HOPS, ProcessError,
    ROUTING_LEN,
};
use crate::dh;

/// Curve25519 u-coordinates of the points of order 1, 2, 4 and 8, as a
/// Montgomery ladder writes them: a hop key that is (or whose blinded
/// product is) one of them shares no secret.
const LOW_ORDER: [[u8; 32]; 4] = [
    [0; 32],
    {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
];

fn is_low_order(u: &[u8; 32]) -> bool {
    let mut any = subtle::Choice::from(0);
    for point in &LOW_ORDER {
        any |= u.ct_eq(point);
    }
    // p - 1 (order 4) is the only other low-order value a ladder outputs.
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    any |= u.ct_eq(&minus_one);
    any.into()
}

/// A packet's header: group element, MAC, routing information.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) alpha: [u8; ALPHA_LEN],
    pub(crate) gamma: [u8; MAC_LEN],
    pub(crate) beta: [u8; BETA_LEN],
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header").finish_non_exhaustive()
    }
}

/// A header and what its sender needs to wrap the body.
pub(crate) struct BuiltHeader {
    pub(crate) header: Header,
    /// One secret set per hop, in path order.
    pub(crate) hops: Vec<HopSecrets>,
}

/// One layer taken off a header by the hop it was for.
pub(crate) struct Peeled {
    pub(crate) routing: Routing,
    /// The header for the next hop (meaningless unless `routing` forwards).
    pub(crate) next: Header,
    pub(crate) secrets: HopSecrets,
}

impl Header {
    /// Wire form: alpha ‖ gamma ‖ beta.
    pub(crate) fn write(&self, out: &mut [u8; HEADER_LEN]) {
        let (alpha, rest) = out.split_at_mut(ALPHA_LEN);
        let (gamma, beta) = rest.split_at_mut(MAC_LEN);
        alpha.copy_from_slice(&self.alpha);
        gamma.copy_from_slice(&self.gamma);
        beta.copy_from_slice(&self.beta);
    }

    /// Reads the wire form.
    pub(crate) fn read(bytes: &[u8; HEADER_LEN]) -> Self {
        let mut header = Header {
            alpha: [0; ALPHA_LEN],
            gamma: [0; MAC_LEN],
            beta: [0; BETA_LEN],
        };
        let (alpha, rest) = bytes.split_at(ALPHA_LEN);
        let (gamma, beta) = rest.split_at(MAC_LEN);
        header.alpha.copy_from_slice(alpha);
        header.gamma.copy_from_slice(gamma);
        header.beta.copy_from_slice(beta);
        header
    }

    /// Builds the header that takes a packet along `path`, ending with
    /// `last` at its final node.
    pub(crate) fn build<R: CryptoRng + ?Sized>(
        rng: &mut R,
        path: &[PathHop],
        last: &Routing,
    ) -> Result<BuiltHeader, CreateError> {
        let count = path.len();
        if count == 0 {
            return Err(CreateError::EmptyPath);
        }
        if count > MAX_HOPS {
            return Err(CreateError::PathTooLong {
                hops: count,
                max: MAX_HOPS,
            });
        }
        // Every routing instruction is checked before any key work.
        let mut routings = Vec::with_capacity(count);
        for (i, hop) in path.iter().enumerate() {
            let routing = match path.get(i + 1) {
                Some(next) => Routing::Forward {
                    next: next.node,
                    delay_ms: hop.delay_ms,
                },
                None => last.clone(),
            };
            routings.push(routing.encode()?);
        }

        let mut wide = Zeroizing::new([0u8; 64]);
        rng.fill_bytes(wide.as_mut_slice());
        let mut blind = Scalar::from_bytes_mod_order_wide(&wide);
        let mut alpha = MontgomeryPoint::mul_base(&blind);
        let first_alpha = alpha.to_bytes();
        let mut hops = Vec::with_capacity(count);
        for (i, hop) in path.iter().enumerate() {
            let DhPublicKey(key) = hop.public_key;
            let mut shared = MontgomeryPoint(key) * blind;
            if is_low_order(&shared.0) {
                blind.zeroize();
                return Err(CreateError::LowOrderKey { hop: i });
            }
            let secrets = HopSecrets::derive(&alpha.0, &shared.0);
            shared.zeroize();
            blind *= *secrets.blinding;
            alpha *= &*secrets.blinding;
            hops.push(secrets);
        }
        blind.zeroize();

        // The filler: what the hops' shifting appends to the routing
        // information, precomputed so the last hops' MACs cover it.
        let mut filler: Vec<u8> = Vec::with_capacity(BETA_LEN);
        for secrets in hops.iter().take(count - 1) {
            filler.extend_from_slice(&[0u8; HOP_LEN]);
            let stream = secrets.header_stream();
            let tail = stream.get(STREAM_LEN - filler.len()..).unwrap_or(&[]);
            xor_into(&mut filler, tail);
        }

        // The last hop's routing information: its instruction, random
        // padding (so it cannot tell how long the path was), the filler.
        let mut beta = [0u8; BETA_LEN];
        let used = BETA_LEN - filler.len();
        let (own, tail) = beta.split_at_mut(used);
        rng.fill_bytes(own);
        if let (Some(slot), Some(routing)) = (own.get_mut(..ROUTING_LEN), routings.last()) {
            slot.copy_from_slice(routing);
        }
        if let Some(last_hop) = hops.last() {
            xor_into(own, last_hop.header_stream().get(..used).unwrap_or(&[]));
        }
        tail.copy_from_slice(&filler);
        let mut gamma = hops.last().map(|h| h.mac(&beta)).unwrap_or_default();

        // Then each earlier hop wraps the next one's header.
        for i in (0..count - 1).rev() {
            let (Some(secrets), Some(routing)) = (hops.get(i), routings.get(i)) else {
                continue;
            };
            let mut wrapped = [0u8; BETA_LEN];
            let (slot, rest) = wrapped.split_at_mut(HOP_LEN);
            let (instruction, mac) = slot.split_at_mut(ROUTING_LEN);
            instruction.copy_from_slice(routing);
            mac.copy_from_slice(&gamma);
            rest.copy_from_slice(beta.get(..BETA_LEN - HOP_LEN).unwrap_or(&[]));
            xor_into(
                &mut wrapped,
                secrets.header_stream().get(..BETA_LEN).unwrap_or(&[]),
            );
            beta = wrapped;
            gamma = secrets.mac(&beta);
        }
        Ok(BuiltHeader {
            header: Header {
                alpha: first_alpha,
                gamma,
                beta,
            },
            hops,
        })
    }

    /// Takes this node's layer off: checks the MAC, reads the routing
    /// instruction, and makes the next hop's header.
    pub(crate) fn peel(&self, secret: &StaticSecret) -> Result<Peeled, ProcessError> {
        let shared =
            dh::dh(secret, &DhPublicKey(self.alpha)).map_err(|_| ProcessError::LowOrderElement)?;
        let secrets = HopSecrets::derive(&self.alpha, shared.as_bytes());
        drop(shared);
        if !bool::from(secrets.mac(&self.beta).ct_eq(&self.gamma)) {
            return Err(ProcessError::BadMac);
        }
        let mut extended = Zeroizing::new([0u8; STREAM_LEN]);
        if let Some(head) = extended.get_mut(..BETA_LEN) {
            head.copy_from_slice(&self.beta);
        }
        xor_into(extended.as_mut_slice(), secrets.header_stream().as_slice());
        let (slot, rest) = extended.split_at(HOP_LEN);
        let (instruction, mac) = slot.split_at(ROUTING_LEN);
        let mut routing_bytes = [0u8; ROUTING_LEN];
        routing_bytes.copy_from_slice(instruction);
        let routing = Routing::decode(&routing_bytes)?;
        let mut next = Header {
            alpha: (MontgomeryPoint(self.alpha) * *secrets.blinding).to_bytes(),
            gamma: [0; MAC_LEN],
            beta: [0; BETA_LEN],
        };
        next.gamma.copy_from_slice(mac);
        next.beta.copy_from_slice(rest);
        Ok(Peeled {
            routing,
            next,
            secrets,
        })
    }
}

fn xor_into(target: &mut [u8], stream: &[u8]) {
    for (t, s) in target.iter_mut().zip(stream) {
        *t ^= s;
    }
}
