//! Why a membership operation was refused.

use crate::keys::SignatureError;

use super::group_id::{GroupId, OpId};
use super::group_op::{MAX_GROUP_NAME_LEN, MAX_OP_PARENTS};
use super::membership::{MAX_GROUP_MEMBERS, MAX_GROUP_OPS, MAX_PENDING_OPS};

/// Why a membership operation was refused, or cannot be authored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// The author's signature does not verify.
    #[error("group operation signature: {0}")]
    Signature(SignatureError),
    /// The operation belongs to another group (or to none: a `Create`
    /// given to an existing group).
    #[error("operation for another group")]
    WrongGroup {
        /// The group this membership holds.
        expected: GroupId,
        /// The group the operation names (none for a `Create`).
        got: Option<GroupId>,
    },
    /// A `Create` that names a group or parents, or another kind of
    /// operation where a `Create` was required.
    #[error("a group starts with exactly one create operation, with no group and no parents")]
    NotCreate,
    /// A `Create` kind inside an existing group.
    #[error("a create operation cannot be applied inside a group")]
    UnexpectedCreate,
    /// A group name longer than [`MAX_GROUP_NAME_LEN`] bytes, or empty.
    #[error("group name of {0} bytes: 1 to {MAX_GROUP_NAME_LEN} allowed")]
    BadName(usize),
    /// More than [`MAX_OP_PARENTS`] parents.
    #[error("{0} parents, the limit is {MAX_OP_PARENTS}")]
    TooManyParents(usize),
    /// A non-create operation with no parent.
    #[error("operation without parents")]
    NoParents,
    /// A parent named twice.
    #[error("parent named twice")]
    DuplicateParent,
    /// The Lamport counter is not one above the highest parent's.
    #[error("lamport counter {lamport} is not one above the parents' {parents_max}")]
    Lamport {
        /// The operation's counter.
        lamport: u64,
        /// The highest counter among its parents.
        parents_max: u64,
    },
    /// A parent was itself refused, so the operation can never apply.
    #[error("parent {0:?} was refused")]
    RefusedParent(OpId),
    /// Already [`MAX_PENDING_OPS`] operations wait for their parents.
    #[error("{MAX_PENDING_OPS} operations already wait for missing parents")]
    TooManyPending,
    /// The group already holds [`MAX_GROUP_OPS`] operations.
    #[error("the group holds {MAX_GROUP_OPS} operations, the limit")]
    TooManyOps,
    /// Authoring: the group already has [`MAX_GROUP_MEMBERS`] members.
    #[error("the group has {MAX_GROUP_MEMBERS} members, the limit")]
    GroupFull,
    /// The author is not an admin of the group (for a received op: in the
    /// view its causal history resolves to).
    #[error("not an admin of this group")]
    NotAdmin,
    /// The author (for a leave) or the target (for a role change) is not a
    /// member of the group (for a received op: in the view its causal
    /// history resolves to).
    #[error("not a member of this group")]
    NotMember,
}
