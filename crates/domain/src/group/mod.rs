//! Group membership that converges after partitions: a CRDT over signed
//! operations linked into a hash DAG.
//!
//! A group starts with a signed `Create` operation; its [`GroupId`] is that
//! operation's [`OpId`] (SHA-256 of the signed encoding), so nobody chooses
//! it. Every later change is a [`GroupOp`] signed by its author's identity
//! key: `Add { member, role }`, `Remove { member }`, `Leave`, `SetRole`.
//! Each names as `parents` the author's heads when it wrote it (its causal
//! history) and carries a Lamport counter exactly one above its parents'
//! highest. A replica ([`Membership`]) verifies the signature first, then
//! the group and the shape; it holds an operation whose parents it lacks
//! (at most [`MAX_PENDING_OPS`]) and integrates it once they arrive.
//! Replicas repair each other by exchanging [`Membership::heads`] and
//! sending [`Membership::ops_since`] those heads.
//!
//! # Resolution
//!
//! The view (who is a member, who is an admin) is a function of the set of
//! operations held, never of the order they arrived in, so replicas that
//! hold the same operations agree:
//!
//! 1. **Creator.** The author of `Create` is the first admin.
//! 2. **Authority from history.** An operation is accepted only when its
//!    author had the authority it needs in the view resolved from its own
//!    causal history (its ancestors): admin for `Add`, `Remove`, `SetRole`
//!    (whose target must be a member there), member for `Leave`. This
//!    depends on the operation alone, so every replica judges it the same;
//!    a refused operation, and everything descending from it, is never
//!    integrated (so junk from outsiders takes no room in the DAG).
//! 3. **Order.** Accepted operations are evaluated in one deterministic
//!    topological order: by (Lamport counter, op id).
//! 4. **Lowerings always count.** `Remove`, `Leave` and a demotion
//!    (`SetRole` to member) take effect once accepted, even if their
//!    author is concurrently removed: when in doubt, remove.
//! 5. **Grants need an unbroken chain.** An `Add` or a promotion takes
//!    effect only if, at its place in the order, its author is an admin in
//!    the view formed by the effective operations before it (so an add by
//!    someone whose own admission did not take effect has none), and no
//!    operation concurrent with it lowers its author (removes it,
//!    makes it leave, demotes it, or re-adds it as a plain member). A
//!    removed admin's concurrent grants are void, including grants it
//!    backdates onto old parents after learning of its removal; its
//!    removals and demotions, being lowerings, still count (rule 4).
//! 6. **Remove-wins.** For each identity, take the effective operations
//!    about it that no other effective operation about it follows
//!    causally (the concurrent latest ones). If any removes it (`Remove`,
//!    its own `Leave`) it is out; else it is a member with the lowest role
//!    they assign (demotion wins over a concurrent promotion). A
//!    concurrent add and remove therefore resolve to removed; a re-add
//!    takes effect only when the remove is in its causal history.
//! 7. **Size.** A grant that would bring in a member beyond
//!    [`MAX_GROUP_MEMBERS`] at its place in the order has no effect.
//!
//! A group whose admins have all left or been removed can no longer
//! change, except by members leaving.
//!
//! The sender-key layer keeps the [`MembershipView`] its sending chain was
//! distributed under; when [`Membership::removed_since`] that view is not
//! empty (a removal, or an admission voided by rule 5 after a heal), it
//! rotates before its next message.

mod broadcast;
mod dag;
mod error;
mod group_id;
mod group_op;
mod membership;
mod resolve;
mod view;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use broadcast::GroupBroadcast;
pub use error::MembershipError;
pub use group_id::{GROUP_ID_LEN, GroupId, OpId};
pub use group_op::{
    GroupOp, GroupOpKind, MAX_GROUP_NAME_LEN, MAX_OP_PARENTS, Role, UnsignedGroupOp,
};
pub use membership::{Applied, MAX_GROUP_MEMBERS, MAX_GROUP_OPS, MAX_PENDING_OPS, Membership};
pub use view::MembershipView;
