//! Choosing the relays of an onion path, sans I/O.
//!
//! Relays are server nodes whose signed records we hold; never the sender
//! or the recipient. Each is drawn at random, weighted towards the ones
//! that answer fast (observed round-trip time), and from a /16 (IPv4) or
//! /32 (IPv6) prefix the path does not use yet while one is left, so one
//! site or provider seldom sees two hops of a path.

use std::net::{IpAddr, SocketAddr};

use rand_core::Rng;
use tacnode_domain::{DhPublicKey, NodeId};

/// Most relays a path may have: with the destination, the most nodes a
/// Sphinx header holds.
pub const MAX_RELAYS: usize = 5;
/// Longest a relay holds a packet, whatever its header asks, ms: a header
/// asking for longer would tie up one of the relay's forwarding slots for
/// up to 11 minutes. Senders draw their mixing delays below it.
pub const MAX_RELAY_HOLD_MS: u32 = 30_000;
/// The round-trip time assumed for a relay never measured, ms.
pub const UNMEASURED_RTT_MS: u64 = 200;

/// A server node that could relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCandidate {
    /// Its node id.
    pub node: NodeId,
    /// Its device key, from its signed record: the key its onion layer is
    /// made for.
    pub device_key: DhPublicKey,
    /// Where it listens (its record's endpoints).
    pub endpoints: Vec<SocketAddr>,
    /// The round-trip time of our connection to it, if one is open.
    pub rtt_ms: Option<u64>,
}

/// No path could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Fewer usable relays known than the path needs.
    #[error(
        "an onion path needs {need} relays but only {have} server nodes are known; wait for the routing table to fill, or lower privacy.relays"
    )]
    TooFewRelays {
        /// Relays known (sender and recipient left out).
        have: usize,
        /// Relays asked for.
        need: usize,
    },
    /// More relays asked for than a header holds.
    #[error("privacy.relays = {relays} is more than the {max} an onion path can have")]
    TooManyRelays {
        /// Relays asked for.
        relays: usize,
        /// [`MAX_RELAYS`].
        max: usize,
    },
}

/// The network prefix two relays should not share: /16 of IPv4, /32 of
/// IPv6 (a site or a provider's block).
fn prefix(candidate: &RelayCandidate) -> Option<Vec<u8>> {
    candidate.endpoints.first().map(|e| match e.ip() {
        IpAddr::V4(v4) => v4.octets()[..2].to_vec(),
        IpAddr::V6(v6) => v6.octets()[..4].to_vec(),
    })
}

/// How strongly a candidate is preferred: inversely to its round-trip
/// time (plus 50 ms, so the fastest cannot take every path).
fn weight(candidate: &RelayCandidate) -> u64 {
    let rtt = candidate.rtt_ms.unwrap_or(UNMEASURED_RTT_MS);
    1_000_000 / (rtt.saturating_add(50))
}

/// Draws `relays` distinct relays from `candidates`, none of them in
/// `exclude`, in path order.
pub fn choose_relays<R: Rng + ?Sized>(
    rng: &mut R,
    candidates: &[RelayCandidate],
    relays: usize,
    exclude: &[NodeId],
) -> Result<Vec<RelayCandidate>, PathError> {
    if relays > MAX_RELAYS {
        return Err(PathError::TooManyRelays {
            relays,
            max: MAX_RELAYS,
        });
    }
    let mut pool: Vec<&RelayCandidate> = Vec::new();
    for c in candidates {
        if !exclude.contains(&c.node) && !pool.iter().any(|p| p.node == c.node) {
            pool.push(c);
        }
    }
    if pool.len() < relays {
        return Err(PathError::TooFewRelays {
            have: pool.len(),
            need: relays,
        });
    }
    let mut chosen: Vec<RelayCandidate> = Vec::with_capacity(relays);
    let mut used_prefixes: Vec<Option<Vec<u8>>> = Vec::new();
    while chosen.len() < relays {
        // Prefer a prefix the path does not use yet.
        let fresh: Vec<usize> = (0..pool.len())
            .filter(|&i| {
                pool.get(i)
                    .is_some_and(|c| !used_prefixes.contains(&prefix(c)))
            })
            .collect();
        let eligible: Vec<usize> = if fresh.is_empty() {
            (0..pool.len()).collect()
        } else {
            fresh
        };
        let total: u64 = eligible
            .iter()
            .filter_map(|&i| pool.get(i))
            .map(|c| weight(c))
            .sum();
        let mut draw = if total == 0 {
            0
        } else {
            rng.next_u64() % total
        };
        let mut pick = eligible.first().copied().unwrap_or(0);
        for &i in &eligible {
            let w = pool.get(i).map_or(0, |c| weight(c));
            if draw < w {
                pick = i;
                break;
            }
            draw -= w;
        }
        if pick >= pool.len() {
            break;
        }
        let c = pool.remove(pick);
        used_prefixes.push(prefix(c));
        chosen.push(c.clone());
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn candidate(n: u8, ip: [u8; 4], rtt_ms: Option<u64>) -> RelayCandidate {
        RelayCandidate {
            node: NodeId::from_bytes([n; 32]),
            device_key: DhPublicKey([n; 32]),
            endpoints: vec![SocketAddr::from((ip, 4500))],
            rtt_ms,
        }
    }

    #[test]
    fn a_path_never_holds_the_excluded_nodes_nor_a_relay_twice() {
        let mut rng = StdRng::seed_from_u64(1);
        let pool: Vec<_> = (1..=6).map(|n| candidate(n, [10, n, 0, 1], None)).collect();
        let exclude = [pool[0].node, pool[1].node];
        for _ in 0..200 {
            let path = choose_relays(&mut rng, &pool, 3, &exclude).unwrap();
            assert_eq!(path.len(), 3);
            for (i, c) in path.iter().enumerate() {
                assert!(!exclude.contains(&c.node));
                assert!(path[i + 1..].iter().all(|o| o.node != c.node));
            }
        }
        assert_eq!(
            choose_relays(&mut rng, &pool, 5, &exclude).unwrap_err(),
            PathError::TooFewRelays { have: 4, need: 5 }
        );
        assert_eq!(
            choose_relays(&mut rng, &pool, 6, &[]).unwrap_err(),
            PathError::TooManyRelays { relays: 6, max: 5 }
        );
        assert!(choose_relays(&mut rng, &pool, 0, &[]).unwrap().is_empty());
    }

    #[test]
    fn relays_come_from_different_prefixes_while_there_are_some() {
        let mut rng = StdRng::seed_from_u64(2);
        // Four in one /16, one each in two others.
        let mut pool: Vec<_> = (1..=4).map(|n| candidate(n, [10, 1, n, 1], None)).collect();
        pool.push(candidate(5, [10, 2, 0, 1], None));
        pool.push(candidate(6, [10, 3, 0, 1], None));
        for _ in 0..200 {
            let path = choose_relays(&mut rng, &pool, 3, &[]).unwrap();
            let mut prefixes: Vec<_> = path.iter().map(|c| c.endpoints[0].ip()).collect();
            prefixes.sort();
            let seconds: std::collections::BTreeSet<_> = path
                .iter()
                .map(|c| match c.endpoints[0].ip() {
                    IpAddr::V4(v4) => v4.octets()[1],
                    IpAddr::V6(_) => 0,
                })
                .collect();
            assert_eq!(seconds.len(), 3, "{prefixes:?}");
        }
    }

    #[test]
    fn faster_relays_are_chosen_more_often_but_not_always() {
        let mut rng = StdRng::seed_from_u64(3);
        let pool = vec![
            candidate(1, [10, 1, 0, 1], Some(10)),
            candidate(2, [10, 2, 0, 1], Some(1_000)),
        ];
        let mut fast = 0;
        for _ in 0..1_000 {
            if choose_relays(&mut rng, &pool, 1, &[]).unwrap()[0].node == pool[0].node {
                fast += 1;
            }
        }
        assert!((800..1_000).contains(&fast), "{fast}");
    }
}
