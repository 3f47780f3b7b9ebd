//! Resolution: from a causally closed set of operations to the members and
//! their roles. A pure function of the set: the order operations arrived
//! in plays no part. The rules are stated in the module docs of
//! [`group`](super).

use std::collections::BTreeMap;

use crate::keys::IdentityKey;

use super::dag::{Node, concurrent, has, is_ancestor};
use super::group_op::{GroupOpKind, Role};
use super::membership::MAX_GROUP_MEMBERS;

/// What an operation says about its target.
enum Effect {
    /// The target is a member with this role.
    Assign(Role),
    /// The target is out.
    Out,
}

/// The identity an operation is about, and what it says about it.
fn target_effect(node: &Node) -> (IdentityKey, Effect) {
    let b = &node.op.body;
    match &b.kind {
        GroupOpKind::Create { .. } => (b.author, Effect::Assign(Role::Admin)),
        GroupOpKind::Add { member, role } | GroupOpKind::SetRole { member, role } => {
            (*member, Effect::Assign(*role))
        }
        GroupOpKind::Remove { member } => (*member, Effect::Out),
        GroupOpKind::Leave => (b.author, Effect::Out),
    }
}

/// The identity whose standing an operation lowers (removes it, makes it
/// leave, or sets or adds it as a plain member), if any.
fn lowered(node: &Node) -> Option<IdentityKey> {
    let b = &node.op.body;
    match &b.kind {
        GroupOpKind::Remove { member }
        | GroupOpKind::SetRole {
            member,
            role: Role::Member,
        }
        | GroupOpKind::Add {
            member,
            role: Role::Member,
        } => Some(*member),
        GroupOpKind::Leave => Some(b.author),
        _ => None,
    }
}

/// Whether an operation grants: adds someone or makes someone an admin.
/// Grants need an unbroken chain of authority; lowerings only need the
/// author's authority in their own causal history.
fn is_grant(node: &Node) -> bool {
    matches!(
        node.op.body.kind,
        GroupOpKind::Add { .. }
            | GroupOpKind::SetRole {
                role: Role::Admin,
                ..
            }
    )
}

/// The standing given by the latest concurrent operations about one
/// identity: out if any of them removes it (remove-wins), else the lowest
/// role any of them assigns.
fn role_of(nodes: &[Node], frontier: Option<&Vec<usize>>) -> Option<Role> {
    let mut role: Option<Role> = None;
    for &j in frontier?.iter() {
        let node = nodes.get(j)?;
        match target_effect(node).1 {
            Effect::Out => return None,
            Effect::Assign(r) => role = Some(role.map_or(r, |held| held.min(r))),
        }
    }
    role
}

/// A resolution in progress: per identity, the effective operations about
/// it that no later effective operation about it follows causally.
#[derive(Clone, Debug, Default)]
pub(super) struct Resolution {
    frontier: BTreeMap<IdentityKey, Vec<usize>>,
    /// How many identities are members.
    count: usize,
}

impl Resolution {
    /// Resolves the operations of `order` (every integrated index, sorted
    /// by (Lamport counter, op id)) that are in `subset` (all when none).
    pub(super) fn run(nodes: &[Node], order: &[usize], subset: Option<&[u64]>) -> Self {
        let in_subset = |i: usize| subset.is_none_or(|s| has(s, i));

        // Every lowering in the set, by whom it lowers: a grant
        // concurrent with a lowering of its author does not take effect.
        let mut lowerings: BTreeMap<IdentityKey, Vec<usize>> = BTreeMap::new();
        for &i in order.iter().filter(|&&i| in_subset(i)) {
            if let Some(who) = nodes.get(i).and_then(lowered) {
                lowerings.entry(who).or_default().push(i);
            }
        }

        let mut r = Self::default();
        for &i in order.iter().filter(|&&i| in_subset(i)) {
            r.step(nodes, i, &lowerings);
        }
        r
    }

    /// Adds operation `i`, which every operation already resolved
    /// precedes causally (it was written on a replica holding them all):
    /// it sorts last and nothing is concurrent with it, so nothing
    /// resolved before changes.
    pub(super) fn push_last(&mut self, nodes: &[Node], i: usize) {
        self.step(nodes, i, &BTreeMap::new());
    }

    /// Evaluates operation `i` on the state the operations
    /// before it in the order formed.
    fn step(&mut self, nodes: &[Node], i: usize, lowerings: &BTreeMap<IdentityKey, Vec<usize>>) {
        let Some(node) = nodes.get(i) else { return };
        let (target, _) = target_effect(node);
        let before = role_of(nodes, self.frontier.get(&target)).is_some();
        if is_grant(node) {
            let author = node.op.body.author;
            let authorised = role_of(nodes, self.frontier.get(&author)) == Some(Role::Admin);
            let undercut = lowerings
                .get(&author)
                .is_some_and(|l| l.iter().any(|&j| concurrent(nodes, i, j)));
            let room = before || self.count < MAX_GROUP_MEMBERS;
            if !authorised || undercut || !room {
                return;
            }
        }
        let f = self.frontier.entry(target).or_default();
        f.retain(|&j| !is_ancestor(nodes, j, i));
        f.push(i);
        let after = role_of(nodes, self.frontier.get(&target)).is_some();
        match (before, after) {
            (false, true) => self.count += 1,
            (true, false) => self.count = self.count.saturating_sub(1),
            _ => {}
        }
    }

    /// The members and their roles.
    pub(super) fn roles(&self, nodes: &[Node]) -> BTreeMap<IdentityKey, Role> {
        self.frontier
            .iter()
            .filter_map(|(k, f)| role_of(nodes, Some(f)).map(|r| (*k, r)))
            .collect()
    }
}
