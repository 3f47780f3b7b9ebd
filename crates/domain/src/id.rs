use std::fmt;

use sha2::{Digest, Sha256};

use crate::keys::IdentityKey;

/// Length in bytes of a [`NodeId`] and of every DHT key.
pub const ID_LEN: usize = 32;

/// A byte string had the wrong length for a fixed-size key or id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("expected {expected} bytes, got {actual}")]
pub struct KeyError {
    /// Required length.
    pub expected: usize,
    /// Length received.
    pub actual: usize,
}

/// Identifier of a node: SHA-256 of its Ed25519 identity public key.
///
/// Also used as a DHT key: records are stored at the nodes whose ids are
/// closest to the key in XOR distance.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; ID_LEN]);

impl NodeId {
    /// Wraps raw bytes (e.g. a DHT key that is not a node's id).
    pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses exactly [`ID_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; ID_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyError {
                expected: ID_LEN,
                actual: bytes.len(),
            })
    }

    /// The id of the node owning `key`.
    pub fn from_identity(key: &IdentityKey) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Raw bytes.
    pub const fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// XOR distance to `other`.
    pub fn distance(&self, other: &NodeId) -> Distance {
        let mut out = [0u8; ID_LEN];
        for (o, (a, b)) in out.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *o = a ^ b;
        }
        Distance(out)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

impl fmt::Display for NodeId {
    /// Short hex prefix: enough to tell nodes apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// XOR distance between two [`NodeId`]s, ordered as a 256-bit big-endian integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Distance([u8; ID_LEN]);

impl Distance {
    /// The zero distance (a node to itself).
    pub const ZERO: Distance = Distance([0; ID_LEN]);

    /// Raw bytes, big-endian.
    pub const fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// Number of leading zero bits (256 for the zero distance).
    pub fn leading_zeros(&self) -> u32 {
        let mut n = 0;
        for b in &self.0 {
            if *b == 0 {
                n += 8;
            } else {
                return n + b.leading_zeros();
            }
        }
        n
    }

    /// Index of the k-bucket holding a node at this distance: `255 - leading_zeros`,
    /// or `None` for the zero distance (a node never stores itself).
    pub fn bucket_index(&self) -> Option<usize> {
        let lz = self.leading_zeros();
        if lz >= 256 {
            None
        } else {
            usize::try_from(255 - lz).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(b: [u8; 32]) -> NodeId {
        NodeId::from_bytes(b)
    }

    #[test]
    fn from_slice_rejects_wrong_length() {
        assert_eq!(
            NodeId::from_slice(&[0; 31]),
            Err(KeyError {
                expected: 32,
                actual: 31
            })
        );
        assert!(NodeId::from_slice(&[0; 32]).is_ok());
    }

    #[test]
    fn bucket_index_of_extremes() {
        let zero = id([0; 32]);
        let mut top = [0; 32];
        top[0] = 0x80;
        let mut bottom = [0; 32];
        bottom[31] = 1;
        assert_eq!(zero.distance(&zero).bucket_index(), None);
        assert_eq!(zero.distance(&id(top)).bucket_index(), Some(255));
        assert_eq!(zero.distance(&id(bottom)).bucket_index(), Some(0));
    }

    proptest! {
        #[test]
        fn xor_metric_axioms(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), c in any::<[u8; 32]>()) {
            let (a, b, c) = (id(a), id(b), id(c));
            prop_assert_eq!(a.distance(&a), Distance::ZERO);
            prop_assert_eq!(a.distance(&b), b.distance(&a));
            // Unidirectionality: for a fixed a and distance there is exactly one b.
            if b != c {
                prop_assert_ne!(a.distance(&b), a.distance(&c));
            }
        }
    }
}
