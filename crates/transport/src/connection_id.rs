//! Short QUIC connection ids: every datagram a peer sends us carries the id
//! we issued, so its length is paid on every packet of the radio link.
//! quinn's checksummed generator makes 8-byte ids; ours are 4 bytes: a 3-byte
//! random nonce and a 1-byte keyed checksum, which still lets the endpoint
//! drop 255 of 256 stray packets (noise, scans, ids of a previous run)
//! without answering them with a stateless reset.

use std::time::Duration;

use quinn_proto::{ConnectionId, ConnectionIdGenerator, InvalidCid};
use rand::RngExt;

/// Bytes of a connection id we issue.
pub(crate) const CONNECTION_ID_LEN: usize = 4;
/// Random bytes of an id: room for 16 million ids, far more than a node's
/// connections ever hold (quinn draws again on a collision).
const NONCE_LEN: usize = 3;

/// Issues [`CONNECTION_ID_LEN`]-byte connection ids whose last byte is a
/// keyed checksum of the others.
#[derive(Clone)]
pub(crate) struct ShortConnectionIds {
    key: ring::hmac::Key,
}

impl ShortConnectionIds {
    /// Ids checksummed under `key` (derived from the node's identity, so
    /// ids issued before a restart are recognised, as quinn's own
    /// generator does it).
    pub(crate) fn new(key: &[u8]) -> Self {
        ShortConnectionIds {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        }
    }

    fn checksum(&self, nonce: &[u8]) -> u8 {
        ring::hmac::sign(&self.key, nonce)
            .as_ref()
            .first()
            .copied()
            .unwrap_or(0)
    }
}

impl ConnectionIdGenerator for ShortConnectionIds {
    fn generate_cid(&mut self) -> ConnectionId {
        let mut id = [0u8; CONNECTION_ID_LEN];
        let nonce: [u8; NONCE_LEN] = rand::rng().random();
        id[..NONCE_LEN].copy_from_slice(&nonce);
        id[NONCE_LEN] = self.checksum(&nonce);
        ConnectionId::new(&id)
    }

    fn validate(&self, cid: &ConnectionId) -> Result<(), InvalidCid> {
        match cid.split_at_checked(NONCE_LEN) {
            Some((nonce, [sum])) if *sum == self.checksum(nonce) => Ok(()),
            _ => Err(InvalidCid),
        }
    }

    fn cid_len(&self) -> usize {
        CONNECTION_ID_LEN
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_and_only_ours_validate() {
        let mut ours = ShortConnectionIds::new(b"one key");
        let theirs = ShortConnectionIds::new(b"another key");
        let mut rejected_by_theirs = 0;
        for _ in 0..1000 {
            let id = ours.generate_cid();
            assert_eq!(id.len(), CONNECTION_ID_LEN);
            assert!(ours.validate(&id).is_ok());
            if theirs.validate(&id).is_err() {
                rejected_by_theirs += 1;
            }
        }
        // A checksum byte: about 1 in 256 foreign ids passes.
        assert!(rejected_by_theirs > 950, "{rejected_by_theirs}");
        assert!(ours.validate(&ConnectionId::new(&[1, 2, 3])).is_err());
        assert!(ours.validate(&ConnectionId::new(&[0; 8])).is_err());
    }
}
