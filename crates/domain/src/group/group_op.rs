//! Signed membership operations: the nodes of a group's hash DAG.

use sha2::{Digest, Sha256};

use crate::id::NodeId;
use crate::keys::{IdentityKey, Signature};

use super::error::MembershipError;
use super::group_id::{GroupId, OpId};

/// Longest group name, in bytes (UTF-8).
pub const MAX_GROUP_NAME_LEN: usize = 64;
/// Most parents one operation may name (an author with more heads names
/// the newest ones; the rest stay heads until a later operation names them).
pub const MAX_OP_PARENTS: usize = 16;

const GROUP_OP_CONTEXT: &[u8] = b"tacnode/group-op/v1\0";
const GROUP_OP_ID_CONTEXT: &[u8] = b"tacnode/group-op-id/v1\0";

/// What a member may do in a group.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Role {
    /// Reads and sends.
    Member,
    /// Also adds and removes members and changes roles.
    Admin,
}

impl Role {
    pub(crate) const fn tag(self) -> u8 {
        match self {
            Self::Member => 1,
            Self::Admin => 2,
        }
    }
}

/// What a membership operation does.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum GroupOpKind {
    /// Starts a group named `name`; its author is the first admin.
    Create {
        /// 1 to [`MAX_GROUP_NAME_LEN`] bytes.
        name: String,
    },
    /// Adds `member` with `role` (on a current member: sets its role).
    Add {
        /// Who joins.
        member: IdentityKey,
        /// With which role.
        role: Role,
    },
    /// Removes `member` (an admin may remove anyone, admins included).
    Remove {
        /// Who is removed.
        member: IdentityKey,
    },
    /// The author leaves the group (any member may).
    Leave,
    /// Changes the role of a current member.
    SetRole {
        /// Whose role.
        member: IdentityKey,
        /// The new role.
        role: Role,
    },
}

/// A membership operation before its author signs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnsignedGroupOp {
    /// The group (none for [`GroupOpKind::Create`]).
    pub group: Option<GroupId>,
    /// Who signs it.
    pub author: IdentityKey,
    /// What it does.
    pub kind: GroupOpKind,
    /// The author's heads when it wrote the operation: its causal history
    /// (empty for a `Create`, 1 to [`MAX_OP_PARENTS`] otherwise).
    pub parents: Vec<OpId>,
    /// Lamport counter: exactly one above the highest parent's (0 for a
    /// `Create`), so an author cannot choose where its operation sorts.
    pub lamport: u64,
}

impl UnsignedGroupOp {
    /// Canonical, domain-separated, length-prefixed bytes the author signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(
            GROUP_OP_CONTEXT.len() + 1 + 32 + 32 + 8 + 8 + 32 * self.parents.len() + 1 + 41,
        );
        m.extend_from_slice(GROUP_OP_CONTEXT);
        match &self.group {
            None => m.push(0),
            Some(g) => {
                m.push(1);
                m.extend_from_slice(g.as_bytes());
            }
        }
        m.extend_from_slice(self.author.as_bytes());
        m.extend_from_slice(&self.lamport.to_be_bytes());
        m.extend_from_slice(&(self.parents.len() as u64).to_be_bytes());
        for p in &self.parents {
            m.extend_from_slice(p.as_bytes());
        }
        match &self.kind {
            GroupOpKind::Create { name } => {
                m.push(1);
                m.extend_from_slice(&(name.len() as u64).to_be_bytes());
                m.extend_from_slice(name.as_bytes());
            }
            GroupOpKind::Add { member, role } => {
                m.push(2);
                m.extend_from_slice(member.as_bytes());
                m.push(role.tag());
            }
            GroupOpKind::Remove { member } => {
                m.push(3);
                m.extend_from_slice(member.as_bytes());
            }
            GroupOpKind::Leave => m.push(4),
            GroupOpKind::SetRole { member, role } => {
                m.push(5);
                m.extend_from_slice(member.as_bytes());
                m.push(role.tag());
            }
        }
        m
    }

    /// Attaches the author's signature over [`UnsignedGroupOp::signing_bytes`].
    pub fn with_signature(self, signature: Signature) -> GroupOp {
        GroupOp {
            body: self,
            signature,
        }
    }
}

/// A signed membership operation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct GroupOp {
    /// The signed content.
    pub body: UnsignedGroupOp,
    /// The author's signature over `body.signing_bytes()`.
    pub signature: Signature,
}

impl GroupOp {
    /// SHA-256 of the signed encoding (signing bytes, then signature).
    /// Strict Ed25519 signatures are not malleable, so one operation has
    /// one id.
    pub fn id(&self) -> OpId {
        let mut h = Sha256::new();
        h.update(GROUP_OP_ID_CONTEXT);
        h.update(self.body.signing_bytes());
        h.update(self.signature.as_bytes());
        OpId(h.finalize().into())
    }

    /// The author's node id.
    pub fn author_id(&self) -> NodeId {
        NodeId::from_identity(&self.body.author)
    }

    /// Checks the author's signature (strict Ed25519), nothing else.
    pub fn verify_signature(&self) -> Result<(), MembershipError> {
        self.body
            .author
            .verify(&self.body.signing_bytes(), &self.signature)
            .map_err(MembershipError::Signature)
    }

    /// Checks the shape: a `Create` has no group, no parents, counter 0
    /// and a name of 1 to [`MAX_GROUP_NAME_LEN`] bytes; any other
    /// operation names a group and 1 to [`MAX_OP_PARENTS`] distinct
    /// parents.
    pub fn check_shape(&self) -> Result<(), MembershipError> {
        let b = &self.body;
        if b.parents.len() > MAX_OP_PARENTS {
            return Err(MembershipError::TooManyParents(b.parents.len()));
        }
        for (i, p) in b.parents.iter().enumerate() {
            if b.parents[i + 1..].contains(p) {
                return Err(MembershipError::DuplicateParent);
            }
        }
        match &b.kind {
            GroupOpKind::Create { name } => {
                if b.group.is_some() || !b.parents.is_empty() || b.lamport != 0 {
                    return Err(MembershipError::NotCreate);
                }
                if name.is_empty() || name.len() > MAX_GROUP_NAME_LEN {
                    return Err(MembershipError::BadName(name.len()));
                }
            }
            _ => {
                if b.parents.is_empty() {
                    return Err(MembershipError::NoParents);
                }
            }
        }
        Ok(())
    }

    /// Whether this is a `Create`.
    pub fn is_create(&self) -> bool {
        matches!(self.body.kind, GroupOpKind::Create { .. })
    }
}
