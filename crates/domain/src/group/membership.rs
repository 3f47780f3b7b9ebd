//! One replica of a group's membership: the operation DAG, the operations
//! waiting for their parents, and the view resolved from them.

use std::collections::{BTreeMap, BTreeSet};

use crate::keys::IdentityKey;

use super::dag::{self, Node};
use super::error::MembershipError;
use super::group_id::{GroupId, OpId};
use super::group_op::{GroupOp, GroupOpKind, MAX_OP_PARENTS, Role, UnsignedGroupOp};
use super::resolve::Resolution;
use super::view::MembershipView;

/// Most members one group may have; grants beyond it do not take effect.
pub const MAX_GROUP_MEMBERS: usize = 256;
/// Most operations one group may hold (the DAG keeps every operation: a
/// group that reaches this must be recreated).
pub const MAX_GROUP_OPS: usize = 4_096;
/// Most operations one replica holds while their parents are missing.
pub const MAX_PENDING_OPS: usize = 256;

/// What [`Membership::apply`] did with an operation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Applied {
    /// Already held (integrated or waiting): nothing changed.
    Duplicate,
    /// Held until its parents arrive; `missing` are the parents to ask for.
    Buffered {
        /// Parents neither integrated nor waiting.
        missing: Vec<OpId>,
    },
    /// Integrated, with every waiting operation it unblocked.
    Integrated {
        /// The operations integrated, in order (this one first).
        ops: Vec<OpId>,
        /// Whether the resolved view changed.
        view_changed: bool,
    },
}

/// One replica of a group's membership: a CRDT over signed operations.
///
/// Apply every operation received, in any order; two replicas holding the
/// same operations resolve the same [`MembershipView`]. See the module
/// docs of [`group`](super) for the rules.
#[derive(Clone, Debug)]
pub struct Membership {
    group: GroupId,
    name: String,
    creator: IdentityKey,
    nodes: Vec<Node>,
    index: BTreeMap<OpId, usize>,
    /// Every integrated index, sorted by (Lamport counter, op id): a
    /// topological order, since counters grow along every edge.
    order: Vec<usize>,
    heads: BTreeSet<OpId>,
    pending: BTreeMap<OpId, GroupOp>,
    /// Operations refused once integrable (bad counter, no authority), and
    /// those naming them as parents: never integrable, refused on sight.
    refused: BTreeSet<OpId>,
    view: MembershipView,
    /// The resolution `view` comes from.
    resolution: Resolution,
    /// Whether `view` and `resolution` cover every integrated op (false between an
    /// integration and the end of the `apply` that made it).
    view_fresh: bool,
}

impl Membership {
    /// A replica of the group `create` starts. Its id is `create`'s.
    pub fn new(create: GroupOp) -> Result<Self, MembershipError> {
        create.verify_signature()?;
        create.check_shape()?;
        let GroupOpKind::Create { name } = &create.body.kind else {
            return Err(MembershipError::NotCreate);
        };
        let name = name.clone();
        let id = create.id();
        let group = GroupId::from(id);
        let author = create.body.author;
        let nodes = vec![Node {
            op: create,
            id,
            ancestors: Vec::new(),
        }];
        let resolution = Resolution::run(&nodes, &[0], None);
        let view = MembershipView::new(group, resolution.roles(&nodes));
        Ok(Self {
            group,
            name,
            creator: author,
            nodes,
            index: [(id, 0)].into(),
            order: vec![0],
            heads: [id].into(),
            pending: BTreeMap::new(),
            refused: BTreeSet::new(),
            view,
            resolution,
            view_fresh: true,
        })
    }

    /// The group.
    pub fn group_id(&self) -> GroupId {
        self.group
    }

    /// The group's name, as its creator chose it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who created the group (its first admin).
    pub fn creator(&self) -> IdentityKey {
        self.creator
    }

    /// Verifies `op`'s signature first, then that it belongs to this group
    /// and its shape; when every parent is held, checks its counter and
    /// its author's authority in the view its causal history resolves to,
    /// and integrates it (then every waiting operation it unblocks); else
    /// holds it until the parents arrive. An operation refused then, and
    /// everything naming it as parent, is refused for good.
    pub fn apply(&mut self, op: GroupOp) -> Result<Applied, MembershipError> {
        op.verify_signature()?;
        let id = op.id();
        if op.body.group != Some(self.group) {
            if self.nodes.first().is_some_and(|n| n.id == id) {
                return Ok(Applied::Duplicate);
            }
            return Err(MembershipError::WrongGroup {
                expected: self.group,
                got: op.body.group,
            });
        }
        if op.is_create() {
            return Err(MembershipError::UnexpectedCreate);
        }
        op.check_shape()?;
        if self.index.contains_key(&id) || self.pending.contains_key(&id) {
            return Ok(Applied::Duplicate);
        }
        if let Some(p) = op.body.parents.iter().find(|p| self.refused.contains(p)) {
            let p = *p;
            self.refuse(id);
            return Err(MembershipError::RefusedParent(p));
        }
        let missing: Vec<OpId> = op
            .body
            .parents
            .iter()
            .filter(|p| !self.index.contains_key(p))
            .copied()
            .collect();
        if !missing.is_empty() {
            if self.pending.len() >= MAX_PENDING_OPS {
                return Err(MembershipError::TooManyPending);
            }
            self.pending.insert(id, op);
            let missing = missing
                .into_iter()
                .filter(|p| !self.pending.contains_key(p))
                .collect();
            return Ok(Applied::Buffered { missing });
        }
        let before = self.view.hash();
        if let Err(e) = self.integrate(id, op) {
            if matches!(
                e,
                MembershipError::Lamport { .. }
                    | MembershipError::NotAdmin
                    | MembershipError::NotMember
            ) {
                self.refuse(id);
                // Drops what waited on it: it can never integrate.
                self.drain_pending(&mut Vec::new());
            }
            return Err(e);
        }
        let mut ops = vec![id];
        self.drain_pending(&mut ops);
        if !self.view_fresh {
            self.resolution = Resolution::run(&self.nodes, &self.order, None);
            self.view = MembershipView::new(self.group, self.resolution.roles(&self.nodes));
            self.view_fresh = true;
        }
        Ok(Applied::Integrated {
            ops,
            view_changed: self.view.hash() != before,
        })
    }

    /// Records `id` as never integrable (bounded: past [`MAX_GROUP_OPS`]
    /// entries, operations naming it just wait, within [`MAX_PENDING_OPS`]).
    fn refuse(&mut self, id: OpId) {
        if self.refused.len() < MAX_GROUP_OPS {
            self.refused.insert(id);
        }
    }

    /// Integrates waiting operations whose parents are all held, until
    /// none is left; refuses those that never can.
    fn drain_pending(&mut self, integrated: &mut Vec<OpId>) {
        loop {
            let mut progressed = false;
            let ready: Vec<OpId> = self
                .pending
                .iter()
                .filter(|(_, op)| {
                    op.body
                        .parents
                        .iter()
                        .all(|p| self.index.contains_key(p) || self.refused.contains(p))
                })
                .map(|(id, _)| *id)
                .collect();
            for id in ready {
                let Some(op) = self.pending.remove(&id) else {
                    continue;
                };
                if op.body.parents.iter().any(|p| self.refused.contains(p)) {
                    self.refuse(id);
                    progressed = true;
                    continue;
                }
                match self.integrate(id, op.clone()) {
                    Ok(()) => {
                        integrated.push(id);
                        progressed = true;
                    }
                    Err(MembershipError::TooManyOps) => {
                        self.pending.insert(id, op);
                    }
                    Err(_) => {
                        self.refuse(id);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Judges `op` (every parent held): its counter, then its author's
    /// authority in the view its causal history resolves to; adds it to
    /// the DAG when both hold.
    fn integrate(&mut self, id: OpId, op: GroupOp) -> Result<(), MembershipError> {
        let mut parents_max = 0u64;
        let mut ancestors = Vec::new();
        for p in &op.body.parents {
            let Some(&j) = self.index.get(p) else {
                return Err(MembershipError::NoParents);
            };
            let Some(parent) = self.nodes.get(j) else {
                return Err(MembershipError::NoParents);
            };
            parents_max = parents_max.max(parent.op.body.lamport);
            dag::set(&mut ancestors, j);
            dag::union(&mut ancestors, &parent.ancestors);
        }
        if parents_max.checked_add(1) != Some(op.body.lamport) {
            return Err(MembershipError::Lamport {
                lamport: op.body.lamport,
                parents_max,
            });
        }
        if self.nodes.len() >= MAX_GROUP_OPS {
            return Err(MembershipError::TooManyOps);
        }
        // Written on an up-to-date replica (the usual case), the history
        // is everything held: its view is the one already resolved, and
        // the op extends that resolution without changing what came
        // before.
        let incremental = self.view_fresh
            && ancestors
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>()
                == self.nodes.len();
        let resolved_history = if incremental {
            None
        } else {
            let r = Resolution::run(&self.nodes, &self.order, Some(&ancestors));
            Some(r.roles(&self.nodes))
        };
        let history = resolved_history.as_ref().unwrap_or(self.view.roles());
        let author = op.body.author;
        let author_role = history.get(&author).copied();
        let is_admin = author_role == Some(Role::Admin);
        match &op.body.kind {
            GroupOpKind::Create { .. } => return Err(MembershipError::UnexpectedCreate),
            GroupOpKind::Leave if author_role.is_none() => {
                return Err(MembershipError::NotMember);
            }
            GroupOpKind::Add { .. } | GroupOpKind::Remove { .. } | GroupOpKind::SetRole { .. }
                if !is_admin =>
            {
                return Err(MembershipError::NotAdmin);
            }
            GroupOpKind::SetRole { member, .. } if !history.contains_key(member) => {
                return Err(MembershipError::NotMember);
            }
            _ => {}
        }
        let i = self.nodes.len();
        let key = (op.body.lamport, id);
        let pos = self.order.partition_point(|&j| {
            self.nodes
                .get(j)
                .is_some_and(|n| (n.op.body.lamport, n.id) < key)
        });
        for p in &op.body.parents {
            self.heads.remove(p);
        }
        self.heads.insert(id);
        self.index.insert(id, i);
        self.nodes.push(Node { op, id, ancestors });
        self.order.insert(pos, i);
        if incremental {
            self.resolution.push_last(&self.nodes, i);
            self.view = MembershipView::new(self.group, self.resolution.roles(&self.nodes));
        } else {
            self.view_fresh = false;
        }
        Ok(())
    }

    /// The operations no held operation names as parent: what a new
    /// operation of this replica names, and what it tells peers it has.
    pub fn heads(&self) -> Vec<OpId> {
        self.heads.iter().copied().collect()
    }

    /// Parents named by waiting operations and held nowhere here: what to
    /// ask peers for.
    pub fn missing(&self) -> BTreeSet<OpId> {
        self.pending
            .values()
            .flat_map(|op| op.body.parents.iter())
            .filter(|p| !self.index.contains_key(p) && !self.pending.contains_key(p))
            .copied()
            .collect()
    }

    /// Every held operation that is not in the causal history of
    /// `peer_heads` (heads this replica does not know are ignored), in an
    /// order a peer can apply without waiting: what to send a peer that
    /// reported those heads. With no heads, the whole group, `Create` first.
    pub fn ops_since(&self, peer_heads: &[OpId]) -> Vec<GroupOp> {
        let mut known = Vec::new();
        for h in peer_heads {
            if let Some(&j) = self.index.get(h) {
                dag::set(&mut known, j);
                if let Some(n) = self.nodes.get(j) {
                    dag::union(&mut known, &n.ancestors);
                }
            }
        }
        self.nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !dag::has(&known, *i))
            .map(|(_, n)| n.op.clone())
            .collect()
    }

    /// Whether the operation `id` is integrated here.
    pub fn contains(&self, id: &OpId) -> bool {
        self.index.contains_key(id)
    }

    /// How many operations are integrated.
    pub fn op_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many operations wait for parents.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The resolved view.
    pub fn view(&self) -> &MembershipView {
        &self.view
    }

    /// Every member, admins included.
    pub fn members(&self) -> BTreeSet<IdentityKey> {
        self.view.members()
    }

    /// The admins.
    pub fn admins(&self) -> BTreeSet<IdentityKey> {
        self.view.admins()
    }

    /// The role of `key`, none when it is not a member.
    pub fn role(&self, key: &IdentityKey) -> Option<Role> {
        self.view.role(key)
    }

    /// Whether `key` is a member (admins are members).
    pub fn is_member(&self, key: &IdentityKey) -> bool {
        self.view.is_member(key)
    }

    /// Whether `key` is an admin.
    pub fn is_admin(&self, key: &IdentityKey) -> bool {
        self.view.is_admin(key)
    }

    /// Hash of the resolved view ([`MembershipView::hash`]): replicas
    /// compare it to know whether they agree.
    pub fn view_hash(&self) -> [u8; 32] {
        self.view.hash()
    }

    /// Members of `previous` (a view this replica held, e.g. the one its
    /// sending chain was distributed under) that are no longer members:
    /// when not empty, the sender-key layer rotates before the next
    /// message.
    pub fn removed_since(&self, previous: &MembershipView) -> BTreeSet<IdentityKey> {
        self.view.removed_since(previous)
    }

    /// The operation `author` would sign to do `kind` now: names the
    /// newest heads (at most [`MAX_OP_PARENTS`]) as parents and the
    /// counter one above theirs. Refuses what the current view does not
    /// allow: a non-admin adding, removing or changing roles, a
    /// non-member leaving, a role change of a non-member, an add to a
    /// full group, a `Create`.
    pub fn next_op(
        &self,
        author: IdentityKey,
        kind: GroupOpKind,
    ) -> Result<UnsignedGroupOp, MembershipError> {
        match &kind {
            GroupOpKind::Create { .. } => return Err(MembershipError::UnexpectedCreate),
            GroupOpKind::Leave => {
                if !self.is_member(&author) {
                    return Err(MembershipError::NotMember);
                }
            }
            GroupOpKind::Add { member, .. } => {
                if !self.is_admin(&author) {
                    return Err(MembershipError::NotAdmin);
                }
                if !self.is_member(member) && self.view.len() >= MAX_GROUP_MEMBERS {
                    return Err(MembershipError::GroupFull);
                }
            }
            GroupOpKind::Remove { .. } => {
                if !self.is_admin(&author) {
                    return Err(MembershipError::NotAdmin);
                }
            }
            GroupOpKind::SetRole { member, .. } => {
                if !self.is_admin(&author) {
                    return Err(MembershipError::NotAdmin);
                }
                if !self.is_member(member) {
                    return Err(MembershipError::NotMember);
                }
            }
        }
        Ok(self.unchecked_next_op(author, kind))
    }

    /// [`Membership::next_op`] without the authority checks (the op may
    /// then resolve to no effect); for tests and tools.
    pub fn unchecked_next_op(&self, author: IdentityKey, kind: GroupOpKind) -> UnsignedGroupOp {
        let mut heads: Vec<(u64, OpId)> = self
            .heads
            .iter()
            .filter_map(|h| {
                let n = self.nodes.get(*self.index.get(h)?)?;
                Some((n.op.body.lamport, n.id))
            })
            .collect();
        heads.sort_unstable();
        let skip = heads.len().saturating_sub(MAX_OP_PARENTS);
        let parents = heads.iter().skip(skip).map(|(_, id)| *id).collect();
        // The newest op has no child, so it is among the heads kept.
        let lamport = heads
            .iter()
            .skip(skip)
            .map(|(l, _)| *l)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        UnsignedGroupOp {
            group: Some(self.group),
            author,
            kind,
            parents,
            lamport,
        }
    }
}
