//! Looking up a key without naming it: a lookup asks for the K nodes
//! closest to a target, and every node asked reads the target. Asking for
//! someone's mailbox key tells each of them who is about to write to whom.
//! Instead a node asks for a random target in the key's *region* (the keys
//! sharing its first bits), chosen so that the region holds fewer server
//! nodes than a lookup returns: the answer then holds every node of the
//! region, the ones closest to the key among them, while the nodes asked
//! learn only the region, which holds the mailboxes of about as many other
//! nodes.
//!
//! The region's size comes from an estimate of the number of server nodes,
//! read off the routing table: in a Kademlia table the nodes closest to us
//! are all known, so the distance to our K-th closest says how densely
//! nodes sit in the key space.

use rand_core::Rng;
use tacnode_domain::{ID_LEN, NodeId};

/// Most bits a region keeps (a region of one key in 2^64 is smaller than
/// any network).
pub const MAX_REGION_BITS: u32 = 64;

/// About how many server nodes there are, from `servers` (the server nodes
/// of our routing table, not us) and `k`, the nodes a lookup returns.
pub fn network_size_estimate(own: &NodeId, servers: &[NodeId], k: usize) -> u64 {
    let k = k.max(1);
    if servers.len() < k {
        return servers.len() as u64 + 1;
    }
    let mut distances: Vec<u64> = servers.iter().map(|s| top_bits(own, s)).collect();
    distances.sort_unstable();
    let kth = distances.get(k - 1).copied().unwrap_or(u64::MAX).max(1);
    // K nodes within a fraction kth / 2^64 of the key space.
    let estimate = (k as u128).saturating_mul(1u128 << 64) / u128::from(kth);
    u64::try_from(estimate).unwrap_or(u64::MAX)
}

/// The first 64 bits of the XOR distance between `a` and `b`.
fn top_bits(a: &NodeId, b: &NodeId) -> u64 {
    let d = a.distance(b);
    let mut top = [0u8; 8];
    top.copy_from_slice(&d.as_bytes()[..8]);
    u64::from_be_bytes(top)
}

/// The bits a region keeps in a network of about `nodes` server nodes,
/// for lookups that return `k`: the fewest that leave at most k / 2 nodes
/// in a region (0 in a network that small: the region is everything).
pub fn region_bits(nodes: u64, k: usize) -> u32 {
    let half = (k as u64 / 2).max(1);
    let mut bits = 0;
    while bits < MAX_REGION_BITS && (nodes >> bits) > half {
        bits += 1;
    }
    bits
}

/// A random target in `key`'s region of `bits` bits.
pub fn region_target<R: Rng + ?Sized>(key: &NodeId, bits: u32, rng: &mut R) -> NodeId {
    let mut target = [0u8; ID_LEN];
    rng.fill_bytes(&mut target);
    let key = key.as_bytes();
    for (i, byte) in target.iter_mut().enumerate() {
        let kept = bits.saturating_sub(8 * i as u32).min(8);
        // The first `kept` bits of this byte are the key's.
        let mask = if kept == 0 { 0 } else { 0xffu8 << (8 - kept) };
        *byte = (key[i] & mask) | (*byte & !mask);
    }
    NodeId::from_bytes(target)
}

/// Of `found`, the `n` closest to `key`.
pub fn closest_to(key: &NodeId, mut found: Vec<NodeId>, n: usize) -> Vec<NodeId> {
    found.sort_by_key(|id| key.distance(id));
    found.dedup();
    found.truncate(n);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn random_ids(rng: &mut StdRng, n: usize) -> Vec<NodeId> {
        (0..n)
            .map(|_| {
                let mut b = [0u8; ID_LEN];
                rng.fill_bytes(&mut b);
                NodeId::from_bytes(b)
            })
            .collect()
    }

    #[test]
    fn the_estimate_follows_the_network_within_a_factor_of_two() {
        let mut rng = StdRng::seed_from_u64(1);
        for n in [30usize, 100, 1_000, 10_000] {
            let mut within = 0;
            for _ in 0..20 {
                let ids = random_ids(&mut rng, n);
                let est = network_size_estimate(&ids[0], &ids[1..], 20);
                if est >= n as u64 / 2 && est <= 2 * n as u64 {
                    within += 1;
                }
            }
            assert!(within >= 17, "{n}: {within}/20 within 2x");
        }
        let few = random_ids(&mut rng, 5);
        assert_eq!(network_size_estimate(&few[0], &few[1..], 20), 5);
    }

    #[test]
    fn regions_hold_at_most_half_a_lookup() {
        assert_eq!(region_bits(5, 20), 0);
        assert_eq!(region_bits(10, 20), 0);
        assert_eq!(region_bits(100, 20), 4);
        assert_eq!(region_bits(10_000, 20), 10);
        assert_eq!(region_bits(u64::MAX, 20), 61);
        assert!(region_bits(u64::MAX, 0) <= MAX_REGION_BITS);
    }

    #[test]
    fn a_region_target_keeps_the_keys_first_bits_and_no_more() {
        let mut rng = StdRng::seed_from_u64(2);
        let key = random_ids(&mut rng, 1)[0];
        for bits in [0u32, 3, 8, 13, 64] {
            let mut differs_after = false;
            for _ in 0..16 {
                let t = region_target(&key, bits, &mut rng);
                let d = key.distance(&t);
                assert!(d.leading_zeros() >= bits, "{bits}");
                differs_after |= d.leading_zeros() < bits + 8;
            }
            assert!(differs_after, "{bits}: the rest is random");
        }
    }

    /// In a simulated network, the closest servers to a region target's
    /// answer are the key's true closest nodes: with the LAN profile's k
    /// (20) and the radio's (8), five replicas each.
    #[test]
    fn a_lookup_of_the_region_finds_the_keys_closest_nodes() {
        let mut rng = StdRng::seed_from_u64(3);
        for k in [20usize, 8] {
            for n in [40usize, 100, 1_000] {
                let ids = random_ids(&mut rng, n);
                let bits = region_bits(network_size_estimate(&ids[0], &ids[1..], k), k);
                let mut right = 0;
                for _ in 0..100 {
                    let key = random_ids(&mut rng, 1)[0];
                    let target = region_target(&key, bits, &mut rng);
                    // What a lookup of `target` returns: its k closest nodes.
                    let answer = closest_to(&target, ids.clone(), k);
                    let truth = closest_to(&key, ids.clone(), 5);
                    if closest_to(&key, answer, 5) == truth {
                        right += 1;
                    }
                }
                assert!(right >= 95, "k {k}, {n} nodes: {right}/100");
            }
        }
    }
}
