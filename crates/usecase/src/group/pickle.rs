//! A [`GroupChannel`](super::GroupChannel) as bytes, for the node to seal
//! with its storage key and keep: the membership's operations, our sending
//! chain and the members it went to, and the chains we hold of others.
//!
//! Not kept: the overlay (its links and cached broadcasts: a restarted
//! member catches up from its neighbours' caches), messages waiting for a
//! key and keys waiting for a member (they come again: a key is resent with
//! the next rotation, a message by repair).
//!
//! Layout ("TNGC", version 1, integers big-endian): the sending time u64,
//! then length-prefixed (u32) fields: the sending chain's pickle, the
//! operation count and each encoded operation (create first), the holder
//! count and each 32-byte identity key, the owner count and per owner its
//! key, its chain count and each chain's pickle, oldest first.

use zeroize::Zeroizing;

use tacnode_crypto::PickleError;
use tacnode_domain::group::{MAX_GROUP_MEMBERS, MAX_GROUP_OPS, MembershipError};
use tacnode_domain::{IdentityKey, KEY_LEN};
use tacnode_messaging::DecodeError;

use super::channel::MAX_CHAINS_PER_MEMBER;

const MAGIC: &[u8; 4] = b"TNGC";
const VERSION: u8 = 1;

/// Why a group pickle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GroupPickleError {
    /// The input ended early, or went on after the end.
    #[error("group pickle truncated or followed by stray bytes")]
    Length,
    /// Not a group pickle.
    #[error("not a group pickle")]
    BadMagic,
    /// A version this build does not read.
    #[error("unsupported group pickle version {0}")]
    UnsupportedVersion(u8),
    /// A count above its limit.
    #[error("{what}: {count} exceeds the limit {limit}")]
    LimitExceeded {
        /// Which collection.
        what: &'static str,
        /// The count found.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A chain's pickle.
    #[error("chain: {0}")]
    Chain(#[from] PickleError),
    /// An operation's encoding.
    #[error("operation: {0}")]
    Op(#[from] DecodeError),
    /// The operations do not form the group.
    #[error("membership: {0}")]
    Membership(#[from] MembershipError),
    /// A key that is not an Ed25519 point.
    #[error("invalid identity key")]
    InvalidKey,
}

pub(crate) struct Writer(Zeroizing<Vec<u8>>);

impl Writer {
    pub(crate) fn new() -> Self {
        let mut out = Zeroizing::new(Vec::new());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        Self(out)
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn count(&mut self, n: usize) {
        self.0
            .extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.count(v.len());
        self.0.extend_from_slice(v);
    }

    pub(crate) fn key(&mut self, k: &IdentityKey) {
        self.0.extend_from_slice(k.as_bytes());
    }

    pub(crate) fn finish(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self, GroupPickleError> {
        let (magic, rest) = bytes.split_at_checked(4).ok_or(GroupPickleError::Length)?;
        if magic != MAGIC {
            return Err(GroupPickleError::BadMagic);
        }
        let (&version, rest) = rest.split_first().ok_or(GroupPickleError::Length)?;
        if version != VERSION {
            return Err(GroupPickleError::UnsupportedVersion(version));
        }
        Ok(Self(rest))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], GroupPickleError> {
        let (head, rest) = self.0.split_at_checked(n).ok_or(GroupPickleError::Length)?;
        self.0 = rest;
        Ok(head)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, GroupPickleError> {
        let b: [u8; 8] = self
            .take(8)?
            .try_into()
            .map_err(|_| GroupPickleError::Length)?;
        Ok(u64::from_be_bytes(b))
    }

    pub(crate) fn count(
        &mut self,
        what: &'static str,
        limit: usize,
    ) -> Result<usize, GroupPickleError> {
        let b: [u8; 4] = self
            .take(4)?
            .try_into()
            .map_err(|_| GroupPickleError::Length)?;
        let count = u32::from_be_bytes(b) as usize;
        if count > limit {
            return Err(GroupPickleError::LimitExceeded { what, count, limit });
        }
        Ok(count)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], GroupPickleError> {
        let n = self.count("field", self.0.len())?;
        self.take(n)
    }

    pub(crate) fn key(&mut self) -> Result<IdentityKey, GroupPickleError> {
        let b: [u8; KEY_LEN] = self
            .take(KEY_LEN)?
            .try_into()
            .map_err(|_| GroupPickleError::Length)?;
        IdentityKey::from_bytes(&b).map_err(|_| GroupPickleError::InvalidKey)
    }

    pub(crate) fn finish(self) -> Result<(), GroupPickleError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(GroupPickleError::Length)
        }
    }
}

/// Limits a pickle is read within.
pub(crate) const PICKLE_LIMITS: (usize, usize, usize) =
    (MAX_GROUP_OPS, MAX_GROUP_MEMBERS, MAX_CHAINS_PER_MEMBER);
