//! The keys one hop shares with the sender of a packet, all derived from
//! their X25519 secret and the packet's group element at that hop.

use curve25519_dalek::Scalar;
use zeroize::Zeroizing;

use super::lioness::LionessKey;
use super::replay_cache::ReplayTag;
use super::{BETA_LEN, HOP_LEN, MAC_LEN};
use crate::kdf::{hkdf, hmac_finish, hmac_keyed};
use hmac::Mac as _;

const SALT: &[u8] = b"tacnode/sphinx/v1";
const INFO: &[u8] = b"hop secrets";
const STREAM_KEY: usize = 32;
const MAC_KEY: usize = 32;
const BODY_SEED: usize = 32;
const TAG: usize = 16;
const BLINDING: usize = 64;
const OKM_LEN: usize = STREAM_KEY + MAC_KEY + BODY_SEED + TAG + BLINDING;

/// Bytes of the header keystream: the routing information and one more
/// slot, which becomes the next hop's padding.
pub(crate) const STREAM_LEN: usize = BETA_LEN + HOP_LEN;

/// What a hop and the sender derive from their shared secret.
pub(crate) struct HopSecrets {
    stream_key: Zeroizing<[u8; STREAM_KEY]>,
    mac_key: Zeroizing<[u8; MAC_KEY]>,
    pub(crate) body: LionessKey,
    pub(crate) replay_tag: ReplayTag,
    /// The factor that blinds the group element for the next hop.
    pub(crate) blinding: Zeroizing<Scalar>,
}

impl HopSecrets {
    /// Keys for the hop that sees group element `alpha` and shares `shared`
    /// with the sender.
    pub(crate) fn derive(alpha: &[u8; 32], shared: &[u8; 32]) -> Self {
        let okm = hkdf::<OKM_LEN>(SALT, &[alpha, shared], INFO);
        let mut stream_key = Zeroizing::new([0u8; STREAM_KEY]);
        let mut mac_key = Zeroizing::new([0u8; MAC_KEY]);
        let mut body_seed = Zeroizing::new([0u8; BODY_SEED]);
        let mut tag = [0u8; TAG];
        let mut wide = Zeroizing::new([0u8; BLINDING]);
        let (a, rest) = okm.split_at(STREAM_KEY);
        let (b, rest) = rest.split_at(MAC_KEY);
        let (c, rest) = rest.split_at(BODY_SEED);
        let (d, e) = rest.split_at(TAG);
        stream_key.copy_from_slice(a);
        mac_key.copy_from_slice(b);
        body_seed.copy_from_slice(c);
        tag.copy_from_slice(d);
        wide.copy_from_slice(e);
        Self {
            stream_key,
            mac_key,
            body: LionessKey::from_seed(&body_seed),
            replay_tag: ReplayTag(tag),
            blinding: Zeroizing::new(Scalar::from_bytes_mod_order_wide(&wide)),
        }
    }

    /// The header keystream (ChaCha20 under the hop's stream key; the key is
    /// used for this one packet only, so the nonce is zero).
    pub(crate) fn header_stream(&self) -> Zeroizing<[u8; STREAM_LEN]> {
        let mut stream = Zeroizing::new([0u8; STREAM_LEN]);
        super::lioness::chacha20_xor(&self.stream_key, stream.as_mut_slice());
        stream
    }

    /// The header MAC over `beta`.
    pub(crate) fn mac(&self, beta: &[u8; BETA_LEN]) -> [u8; MAC_LEN] {
        let mut mac = hmac_keyed(&self.mac_key);
        mac.update(beta);
        let full = hmac_finish(mac);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(full.get(..MAC_LEN).unwrap_or(&[0u8; MAC_LEN]));
        out
    }
}
