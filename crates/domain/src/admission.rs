//! Closed-network admission: member certificates signed by the network's
//! admins, and the revocation lists that withdraw them.
//!
//! A closed network is defined by one or more admin Ed25519 keys. An admin
//! certifies a member's identity key, role and expiry; peers refuse anyone
//! without such a certificate (in the TLS handshake, in peer records). An
//! admin withdraws certificates with a signed, sequence-numbered list of
//! revoked nodes; a newer list from the same admin replaces the older one.
//! Everything here is pure: the caller supplies the time.

use sha2::{Digest, Sha256};

use crate::id::NodeId;
use crate::keys::{IdentityKey, Signature, SignatureError};
use crate::record::NodeType;
use crate::time::{MAX_CLOCK_SKEW_MS, UnixMillis};

/// Most admin keys one network may name.
pub const MAX_ADMINS: usize = 8;
/// Longest optional member name, in bytes.
pub const MAX_MEMBER_NAME_BYTES: usize = 64;
/// Most nodes one revocation list may name (about 128 KiB of ids).
pub const MAX_REVOKED: usize = 4_096;

const MEMBER_CERTIFICATE_CONTEXT: &[u8] = b"tacnode/member-certificate/v1\0";
const REVOCATION_LIST_CONTEXT: &[u8] = b"tacnode/revocation-list/v1\0";
const REVOCATIONS_KEY_CONTEXT: &[u8] = b"tacnode/revocations/v1";

/// Why a peer was not admitted, or an admission object was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdmissionError {
    /// The peer presented no member certificate.
    #[error("no member certificate: this is a closed network; ask an admin for one")]
    NoCertificate,
    /// The certificate certifies another identity than the peer's.
    #[error("member certificate is for another identity")]
    WrongMember,
    /// The certificate or list is signed by a key that is not one of the
    /// network's admins.
    #[error("signed by a key that is not an admin of this network")]
    UnknownAdmin,
    /// The admin signature does not verify.
    #[error("admin signature: {0}")]
    Signature(SignatureError),
    /// The certificate's expiry has passed (beyond the tolerated clock skew).
    #[error("member certificate expired; ask an admin for a new one")]
    Expired,
    /// An admin revoked the member.
    #[error("member was revoked by an admin")]
    Revoked,
    /// The role certified does not allow what the peer claims to be.
    #[error("certified as a client, acting as a server")]
    RoleExceeded,
    /// A name longer than [`MAX_MEMBER_NAME_BYTES`].
    #[error("member name of {0} bytes, the limit is {MAX_MEMBER_NAME_BYTES}")]
    NameTooLong(usize),
    /// More than [`MAX_REVOKED`] nodes in one list.
    #[error("{0} revoked nodes, the limit is {MAX_REVOKED}")]
    TooManyRevoked(usize),
    /// No admin, more than [`MAX_ADMINS`], or one named twice.
    #[error("a closed network needs 1 to {MAX_ADMINS} distinct admin keys")]
    Admins,
    /// A revocation list given to a node of an open network.
    #[error("this node is in an open network: revocation lists apply to closed networks only")]
    OpenNetwork,
    /// A revocation list not newer than the one held.
    #[error("revocation list {got} is not newer than {held}")]
    StaleRevocations {
        /// Sequence number of the list received.
        got: u64,
        /// Sequence number of the list already applied.
        held: u64,
    },
}

/// What an admin certifies about a member.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MemberCertificate {
    /// The admin that signed it.
    pub admin: IdentityKey,
    /// The member's identity key.
    pub member: IdentityKey,
    /// What the member may run as: a client certificate does not admit a
    /// server (servers hold records and mailboxes for others).
    pub role: NodeType,
    /// Last moment the certificate is valid.
    pub not_after: UnixMillis,
    /// Optional human name (empty when none), at most [`MAX_MEMBER_NAME_BYTES`].
    pub name: String,
    /// The admin's signature over [`MemberCertificate::signing_bytes`].
    pub signature: Signature,
}

impl MemberCertificate {
    /// Canonical bytes the admin signs.
    pub fn signing_bytes(
        admin: &IdentityKey,
        member: &IdentityKey,
        role: NodeType,
        not_after: UnixMillis,
        name: &str,
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(MEMBER_CERTIFICATE_CONTEXT.len() + 80 + name.len());
        m.extend_from_slice(MEMBER_CERTIFICATE_CONTEXT);
        m.extend_from_slice(admin.as_bytes());
        m.extend_from_slice(member.as_bytes());
        m.push(match role {
            NodeType::Server => 1,
            NodeType::Client => 2,
        });
        m.extend_from_slice(&not_after.0.to_be_bytes());
        m.extend_from_slice(&(name.len() as u64).to_be_bytes());
        m.extend_from_slice(name.as_bytes());
        m
    }

    /// The member's node id.
    pub fn member_id(&self) -> NodeId {
        NodeId::from_identity(&self.member)
    }

    /// Checks the limits and the admin's signature (not who the admin is,
    /// nor the time: see [`ClosedNetwork::admit`]).
    pub fn verify_signature(&self) -> Result<(), AdmissionError> {
        if self.name.len() > MAX_MEMBER_NAME_BYTES {
            return Err(AdmissionError::NameTooLong(self.name.len()));
        }
        let bytes = Self::signing_bytes(
            &self.admin,
            &self.member,
            self.role,
            self.not_after,
            &self.name,
        );
        self.admin
            .verify(&bytes, &self.signature)
            .map_err(AdmissionError::Signature)
    }
}

/// An admin's signed list of revoked nodes. A list with a higher sequence
/// from the same admin replaces the previous one whole.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RevocationList {
    /// The admin that signed it.
    pub admin: IdentityKey,
    /// Strictly increasing per admin.
    pub sequence: u64,
    /// When the admin signed it (informational).
    pub issued_at: UnixMillis,
    /// Revoked nodes, sorted and without duplicates.
    pub revoked: Vec<NodeId>,
    /// The admin's signature over [`RevocationList::signing_bytes`].
    pub signature: Signature,
}

impl RevocationList {
    /// Canonical bytes the admin signs.
    pub fn signing_bytes(
        admin: &IdentityKey,
        sequence: u64,
        issued_at: UnixMillis,
        revoked: &[NodeId],
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(REVOCATION_LIST_CONTEXT.len() + 56 + revoked.len() * 32);
        m.extend_from_slice(REVOCATION_LIST_CONTEXT);
        m.extend_from_slice(admin.as_bytes());
        m.extend_from_slice(&sequence.to_be_bytes());
        m.extend_from_slice(&issued_at.0.to_be_bytes());
        m.extend_from_slice(&(revoked.len() as u64).to_be_bytes());
        for id in revoked {
            m.extend_from_slice(id.as_bytes());
        }
        m
    }

    /// Checks the limits and the admin's signature (not who the admin is).
    pub fn verify_signature(&self) -> Result<(), AdmissionError> {
        if self.revoked.len() > MAX_REVOKED {
            return Err(AdmissionError::TooManyRevoked(self.revoked.len()));
        }
        let bytes = Self::signing_bytes(&self.admin, self.sequence, self.issued_at, &self.revoked);
        self.admin
            .verify(&bytes, &self.signature)
            .map_err(AdmissionError::Signature)
    }

    /// The DHT key the lists of `admin` are published under.
    pub fn key(admin: &IdentityKey) -> NodeId {
        let mut h = Sha256::new();
        h.update(REVOCATIONS_KEY_CONTEXT);
        h.update(admin.as_bytes());
        NodeId::from_bytes(h.finalize().into())
    }
}

/// Who may take part: everyone, or the members of a closed network.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum Admission {
    /// Anyone with an identity (the public case).
    #[default]
    Open,
    /// Only holders of a valid member certificate.
    Closed(ClosedNetwork),
}

impl Admission {
    /// Admits or refuses a peer with `identity` presenting `certificate` at
    /// `now`, acting as `acting_as`. The open network admits everyone.
    pub fn admit(
        &self,
        certificate: Option<&MemberCertificate>,
        identity: &IdentityKey,
        acting_as: NodeType,
        now: UnixMillis,
    ) -> Result<(), AdmissionError> {
        match self {
            Self::Open => Ok(()),
            Self::Closed(net) => net.admit(certificate, identity, acting_as, now),
        }
    }

    /// Whether `node` is revoked (never in the open network).
    pub fn is_revoked(&self, node: &NodeId) -> bool {
        match self {
            Self::Open => false,
            Self::Closed(net) => net.is_revoked(node),
        }
    }

    /// Whether the network is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }

    /// The admins of a closed network (none when open).
    pub fn admins(&self) -> &[IdentityKey] {
        match self {
            Self::Open => &[],
            Self::Closed(net) => net.admins(),
        }
    }

    /// The network with `list` applied (see [`ClosedNetwork::apply`]).
    pub fn with_revocations(
        &self,
        list: RevocationList,
    ) -> Result<(Admission, RevocationUpdate), AdmissionError> {
        match self {
            Self::Open => Err(AdmissionError::OpenNetwork),
            Self::Closed(net) => {
                let mut next = net.clone();
                let update = next.apply(list)?;
                Ok((Self::Closed(next), update))
            }
        }
    }
}

/// A closed network: its admins and the newest revocation list of each.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClosedNetwork {
    admins: Vec<IdentityKey>,
    revocations: Vec<RevocationList>,
}

/// What applying a revocation list changed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RevocationUpdate {
    /// Nodes revoked by this list that were not revoked before.
    pub newly_revoked: Vec<NodeId>,
}

impl ClosedNetwork {
    /// A network of `admins` (1 to [`MAX_ADMINS`], distinct) with no revocation.
    pub fn new(admins: Vec<IdentityKey>) -> Result<Self, AdmissionError> {
        if admins.is_empty() || admins.len() > MAX_ADMINS {
            return Err(AdmissionError::Admins);
        }
        for (i, a) in admins.iter().enumerate() {
            if admins.iter().skip(i + 1).any(|b| b == a) {
                return Err(AdmissionError::Admins);
            }
        }
        Ok(Self {
            admins,
            revocations: Vec::new(),
        })
    }

    /// The admins' keys.
    pub fn admins(&self) -> &[IdentityKey] {
        &self.admins
    }

    /// The newest list applied from each admin.
    pub fn revocations(&self) -> &[RevocationList] {
        &self.revocations
    }

    /// The sequence of the newest list applied from `admin` (0: none).
    pub fn revocation_sequence(&self, admin: &IdentityKey) -> u64 {
        self.revocations
            .iter()
            .find(|l| l.admin == *admin)
            .map_or(0, |l| l.sequence)
    }

    /// Whether any admin's list revokes `node`.
    pub fn is_revoked(&self, node: &NodeId) -> bool {
        self.revocations
            .iter()
            .any(|l| l.revoked.binary_search(node).is_ok())
    }

    /// Checks a certificate for `identity` acting as `acting_as` at `now`:
    /// an admin of this network signed it, for this identity, it has not
    /// expired (beyond [`MAX_CLOCK_SKEW_MS`]), its role allows the node
    /// type, and no admin revoked the member.
    pub fn admit(
        &self,
        certificate: Option<&MemberCertificate>,
        identity: &IdentityKey,
        acting_as: NodeType,
        now: UnixMillis,
    ) -> Result<(), AdmissionError> {
        let cert = certificate.ok_or(AdmissionError::NoCertificate)?;
        if cert.member != *identity {
            return Err(AdmissionError::WrongMember);
        }
        if !self.admins.contains(&cert.admin) {
            return Err(AdmissionError::UnknownAdmin);
        }
        cert.verify_signature()?;
        if cert.not_after.0.saturating_add(MAX_CLOCK_SKEW_MS) < now.0 {
            return Err(AdmissionError::Expired);
        }
        if cert.role == NodeType::Client && acting_as == NodeType::Server {
            return Err(AdmissionError::RoleExceeded);
        }
        if self.is_revoked(&cert.member_id()) {
            return Err(AdmissionError::Revoked);
        }
        Ok(())
    }

    /// Verifies `list` and, when it is newer than the one held from its
    /// admin, applies it. The list is sorted and deduplicated first.
    pub fn apply(&mut self, mut list: RevocationList) -> Result<RevocationUpdate, AdmissionError> {
        if !self.admins.contains(&list.admin) {
            return Err(AdmissionError::UnknownAdmin);
        }
        list.verify_signature()?;
        let held = self.revocation_sequence(&list.admin);
        if list.sequence <= held {
            return Err(AdmissionError::StaleRevocations {
                got: list.sequence,
                held,
            });
        }
        list.revoked.sort();
        list.revoked.dedup();
        let newly_revoked = list
            .revoked
            .iter()
            .filter(|id| !self.is_revoked(id))
            .copied()
            .collect();
        self.revocations.retain(|l| l.admin != list.admin);
        self.revocations.push(list);
        Ok(RevocationUpdate { newly_revoked })
    }
}
