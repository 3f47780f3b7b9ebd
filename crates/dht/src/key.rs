//! Keys and the XOR distance: which bucket a key falls in, random keys in a bucket.

use rand_core::CryptoRng;
use tacnode_domain::{ID_LEN, NodeId};

/// Number of k-buckets: one per bit of a [`NodeId`].
pub const BUCKET_COUNT: usize = ID_LEN * 8;

/// The XOR distance from `a` to `b` as a pair of big-endian integers:
/// ordered like [`tacnode_domain::Distance`], compared without a `memcmp` call.
pub(crate) fn distance_key(a: &NodeId, b: &NodeId) -> (u128, u128) {
    let halves = |id: &NodeId| {
        let (hi, lo) = id.as_bytes().split_at(16);
        (
            u128::from_be_bytes(hi.try_into().unwrap_or([0; 16])),
            u128::from_be_bytes(lo.try_into().unwrap_or([0; 16])),
        )
    };
    let ((ah, al), (bh, bl)) = (halves(a), halves(b));
    (ah ^ bh, al ^ bl)
}

/// Bucket of `other` in `local`'s table, `None` for `local` itself.
pub fn bucket_of(local: &NodeId, other: &NodeId) -> Option<usize> {
    local.distance(other).bucket_index()
}

/// A uniformly random key whose distance to `local` falls in bucket `index`
/// (bit `index` is the highest set bit of the distance).
pub fn random_key_in_bucket<R: CryptoRng + ?Sized>(
    local: &NodeId,
    index: usize,
    rng: &mut R,
) -> NodeId {
    let mut distance = [0u8; ID_LEN];
    rng.fill_bytes(&mut distance);
    let index = index.min(BUCKET_COUNT - 1);
    // Byte 0 holds bits 255..248 (big-endian).
    let top_byte = ID_LEN - 1 - index / 8;
    let bit = index % 8;
    for (i, b) in distance.iter_mut().enumerate() {
        if i < top_byte {
            *b = 0;
        } else if i == top_byte {
            let low_mask = (1u16 << bit) as u8;
            *b = (*b & low_mask.wrapping_sub(1)) | low_mask;
        }
    }
    let mut out = *local.as_bytes();
    for (o, d) in out.iter_mut().zip(distance) {
        *o ^= d;
    }
    NodeId::from_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    proptest! {
        #[test]
        fn distance_key_orders_like_distance(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), t in any::<[u8; 32]>()) {
            let (a, b, t) = (NodeId::from_bytes(a), NodeId::from_bytes(b), NodeId::from_bytes(t));
            prop_assert_eq!(
                distance_key(&a, &t).cmp(&distance_key(&b, &t)),
                a.distance(&t).cmp(&b.distance(&t))
            );
        }

        #[test]
        fn random_key_lands_in_its_bucket(local in any::<[u8; 32]>(), index in 0usize..256, seed in any::<u64>()) {
            let local = NodeId::from_bytes(local);
            let mut rng = StdRng::seed_from_u64(seed);
            let key = random_key_in_bucket(&local, index, &mut rng);
            prop_assert_eq!(bucket_of(&local, &key), Some(index));
        }
    }
}
