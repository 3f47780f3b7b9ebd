//! A resolved membership: who is in a group, with which role.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::keys::IdentityKey;

use super::group_id::GroupId;
use super::group_op::Role;

const VIEW_HASH_CONTEXT: &[u8] = b"tacnode/group-view/v1\0";

/// The members of a group and their roles, as resolved from a set of
/// operations. Two replicas holding the same operations hold equal views.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MembershipView {
    group: GroupId,
    roles: BTreeMap<IdentityKey, Role>,
}

impl MembershipView {
    pub(crate) fn new(group: GroupId, roles: BTreeMap<IdentityKey, Role>) -> Self {
        Self { group, roles }
    }

    /// The group.
    pub fn group_id(&self) -> GroupId {
        self.group
    }

    /// Every member (admins included) and its role.
    pub fn roles(&self) -> &BTreeMap<IdentityKey, Role> {
        &self.roles
    }

    /// Every member, admins included.
    pub fn members(&self) -> BTreeSet<IdentityKey> {
        self.roles.keys().copied().collect()
    }

    /// The admins.
    pub fn admins(&self) -> BTreeSet<IdentityKey> {
        self.roles
            .iter()
            .filter(|(_, r)| **r == Role::Admin)
            .map(|(k, _)| *k)
            .collect()
    }

    /// The role of `key`, none when it is not a member.
    pub fn role(&self, key: &IdentityKey) -> Option<Role> {
        self.roles.get(key).copied()
    }

    /// Whether `key` is a member (admins are members).
    pub fn is_member(&self, key: &IdentityKey) -> bool {
        self.roles.contains_key(key)
    }

    /// Whether `key` is an admin.
    pub fn is_admin(&self, key: &IdentityKey) -> bool {
        self.role(key) == Some(Role::Admin)
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.roles.len()
    }

    /// Whether nobody is left.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// SHA-256 over the group id and the sorted (member, role) pairs:
    /// equal hashes mean equal views.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(VIEW_HASH_CONTEXT);
        h.update(self.group.as_bytes());
        h.update((self.roles.len() as u64).to_be_bytes());
        for (k, r) in &self.roles {
            h.update(k.as_bytes());
            h.update([r.tag()]);
        }
        h.finalize().into()
    }

    /// Members of `previous` that are not members of this view: when it is
    /// not empty, every remaining member's sending chain must rotate
    /// before its next message.
    pub fn removed_since(&self, previous: &MembershipView) -> BTreeSet<IdentityKey> {
        previous
            .roles
            .keys()
            .filter(|k| !self.roles.contains_key(k))
            .copied()
            .collect()
    }
}
