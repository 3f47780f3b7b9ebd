#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ed25519_dalek::{Signer, SigningKey};

use super::*;
use crate::keys::{IdentityKey, Signature};

pub(super) fn sk(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub(super) fn key(n: u8) -> IdentityKey {
    IdentityKey::from(sk(n).verifying_key())
}

pub(super) fn sign(n: u8, body: UnsignedGroupOp) -> GroupOp {
    let sig = sk(n).sign(&body.signing_bytes());
    body.with_signature(Signature(sig.to_bytes()))
}

pub(super) fn create(n: u8, name: &str) -> GroupOp {
    sign(
        n,
        UnsignedGroupOp {
            group: None,
            author: key(n),
            kind: GroupOpKind::Create { name: name.into() },
            parents: Vec::new(),
            lamport: 0,
        },
    )
}

/// The op `author` would write on `m` now (authorised or not), signed.
pub(super) fn op(m: &Membership, author: u8, kind: GroupOpKind) -> GroupOp {
    sign(author, m.unchecked_next_op(key(author), kind))
}

/// Writes and applies an op on `m`; returns it.
pub(super) fn act(m: &mut Membership, author: u8, kind: GroupOpKind) -> GroupOp {
    let o = op(m, author, kind);
    m.apply(o.clone()).unwrap();
    o
}

pub(super) fn add(n: u8, role: Role) -> GroupOpKind {
    GroupOpKind::Add {
        member: key(n),
        role,
    }
}

pub(super) fn remove(n: u8) -> GroupOpKind {
    GroupOpKind::Remove { member: key(n) }
}

pub(super) fn set_role(n: u8, role: Role) -> GroupOpKind {
    GroupOpKind::SetRole {
        member: key(n),
        role,
    }
}

/// Applies every op `from` holds that `to` lacks, both ways.
pub(super) fn sync(a: &mut Membership, b: &mut Membership) {
    for o in b.ops_since(&a.heads()) {
        a.apply(o).unwrap();
    }
    for o in a.ops_since(&b.heads()) {
        b.apply(o).unwrap();
    }
}

/// A group created by 1, with 2 an admin and 3 a member.
fn team() -> Membership {
    let mut m = Membership::new(create(1, "squad")).unwrap();
    act(&mut m, 1, add(2, Role::Admin));
    act(&mut m, 1, add(3, Role::Member));
    m
}

#[test]
fn the_creator_is_the_first_admin_and_the_id_is_the_create_op_id() {
    let c = create(1, "squad");
    let m = Membership::new(c.clone()).unwrap();
    assert_eq!(m.group_id(), GroupId::from(c.id()));
    assert_eq!(m.name(), "squad");
    assert_eq!(m.creator(), key(1));
    assert_eq!(m.members(), [key(1)].into());
    assert_eq!(m.admins(), [key(1)].into());
    assert_eq!(m.heads(), vec![c.id()]);
    // Another name, another group.
    assert_ne!(create(1, "command").id(), c.id());
}

#[test]
fn adds_and_roles_resolve() {
    let m = team();
    assert_eq!(m.members(), [key(1), key(2), key(3)].into());
    assert_eq!(m.admins(), [key(1), key(2)].into());
    assert!(m.is_member(&key(3)) && !m.is_admin(&key(3)));
    assert_eq!(m.role(&key(2)), Some(Role::Admin));
    assert_eq!(m.role(&key(9)), None);
}

#[test]
fn a_non_admin_cannot_add_remove_or_promote() {
    let mut m = team();
    assert_eq!(
        m.next_op(key(3), add(4, Role::Member)),
        Err(MembershipError::NotAdmin)
    );
    assert_eq!(m.next_op(key(9), remove(2)), Err(MembershipError::NotAdmin));
    // Signed and sent anyway: refused, and so is what descends from it.
    let before = m.view().clone();
    for kind in [add(4, Role::Admin), remove(2), set_role(3, Role::Admin)] {
        let o = op(&m, 3, kind);
        assert_eq!(m.apply(o), Err(MembershipError::NotAdmin));
    }
    let junk = op(&m, 9, GroupOpKind::Leave);
    assert_eq!(m.apply(junk.clone()), Err(MembershipError::NotMember));
    let child = sign(
        1,
        UnsignedGroupOp {
            group: Some(m.group_id()),
            author: key(1),
            kind: add(4, Role::Member),
            parents: vec![junk.id()],
            lamport: junk.body.lamport + 1,
        },
    );
    assert_eq!(
        m.apply(child),
        Err(MembershipError::RefusedParent(junk.id()))
    );
    // A role change of a non-member, by an admin.
    let o = op(&m, 1, set_role(5, Role::Admin));
    assert_eq!(m.apply(o), Err(MembershipError::NotMember));
    assert_eq!(m.view(), &before);
    assert_eq!(m.op_count(), 3);
    act(&mut m, 1, add(4, Role::Member));
    assert!(m.is_member(&key(4)));
}

#[test]
fn a_forged_signature_is_refused() {
    let mut m = team();
    let mut o = op(&m, 1, add(4, Role::Member));
    o.signature.0[0] ^= 1;
    assert!(matches!(m.apply(o), Err(MembershipError::Signature(_))));
    // A body changed after signing.
    let mut o = op(&m, 1, add(4, Role::Member));
    o.body.kind = add(5, Role::Admin);
    assert!(matches!(m.apply(o), Err(MembershipError::Signature(_))));
    // Signed by someone else than the author it names.
    let body = m.unchecked_next_op(key(1), add(4, Role::Admin));
    let sig = sk(3).sign(&body.signing_bytes());
    let o = body.with_signature(Signature(sig.to_bytes()));
    assert!(matches!(m.apply(o), Err(MembershipError::Signature(_))));
    assert!(!m.is_member(&key(4)));
    assert_eq!(m.op_count(), 3);
}

#[test]
fn an_op_of_another_group_is_refused() {
    let mut m = team();
    let other = Membership::new(create(1, "other")).unwrap();
    let o = op(&other, 1, add(4, Role::Member));
    assert_eq!(
        m.apply(o),
        Err(MembershipError::WrongGroup {
            expected: m.group_id(),
            got: Some(other.group_id()),
        })
    );
    // Another group's create, too.
    assert!(matches!(
        m.apply(create(2, "x")),
        Err(MembershipError::WrongGroup { got: None, .. })
    ));
    // Its own create is a duplicate.
    let root = m.ops_since(&[]).remove(0);
    assert_eq!(m.apply(root), Ok(Applied::Duplicate));
}

#[test]
fn missing_parents_are_buffered_then_applied() {
    let mut a = team();
    let mut b = Membership::new(a.ops_since(&[]).remove(0)).unwrap();
    let o4 = act(&mut a, 1, add(4, Role::Member));
    let o5 = act(&mut a, 2, add(5, Role::Member));
    let early = a.ops_since(&[]);
    // The newest op first: its parent chain is missing.
    assert_eq!(
        b.apply(o5.clone()),
        Ok(Applied::Buffered {
            missing: vec![o4.id()]
        })
    );
    assert_eq!(b.missing(), [o4.id()].into());
    assert_eq!(b.apply(o5.clone()), Ok(Applied::Duplicate));
    assert_eq!(
        b.apply(o4.clone()),
        Ok(Applied::Buffered {
            missing: vec![early[2].id()]
        })
    );
    assert_eq!(b.pending_count(), 2);
    assert!(!b.is_member(&key(5)));
    // The rest arrives: everything integrates, in causal order.
    assert_eq!(
        b.apply(early[1].clone()),
        Ok(Applied::Integrated {
            ops: vec![early[1].id()],
            view_changed: true
        })
    );
    let got = b.apply(early[2].clone()).unwrap();
    let Applied::Integrated { ops, view_changed } = got else {
        panic!("expected integration, got {got:?}");
    };
    assert!(view_changed);
    assert_eq!(ops, vec![early[2].id(), o4.id(), o5.id()]);
    assert_eq!(b.pending_count(), 0);
    assert!(b.missing().is_empty());
    assert_eq!(b.view(), a.view());
    assert_eq!(b.heads(), a.heads());
}

#[test]
fn pending_ops_are_bounded() {
    let mut a = team();
    let mut b = Membership::new(a.ops_since(&[]).remove(0)).unwrap();
    let mut ops = Vec::new();
    for i in 0..=MAX_PENDING_OPS {
        let kind = if i % 2 == 0 {
            add(4, Role::Member)
        } else {
            remove(4)
        };
        ops.push(act(&mut a, 1, kind));
    }
    for o in &ops[..MAX_PENDING_OPS] {
        assert!(matches!(b.apply(o.clone()), Ok(Applied::Buffered { .. })));
    }
    assert_eq!(
        b.apply(ops[MAX_PENDING_OPS].clone()),
        Err(MembershipError::TooManyPending)
    );
}

#[test]
fn a_concurrent_add_and_remove_resolve_to_removed() {
    let mut a = team();
    let mut b = a.clone();
    act(&mut a, 1, remove(3));
    act(&mut b, 2, set_role(3, Role::Admin));
    act(&mut b, 2, add(3, Role::Admin));
    assert!(b.is_admin(&key(3)));
    sync(&mut a, &mut b);
    assert!(!a.is_member(&key(3)));
    assert_eq!(a.view(), b.view());
}

#[test]
fn a_re_add_after_the_remove_takes_effect() {
    let mut a = team();
    act(&mut a, 1, remove(3));
    assert!(!a.is_member(&key(3)));
    let mut b = a.clone();
    act(&mut a, 2, add(3, Role::Member));
    assert!(a.is_member(&key(3)));
    // Another replica learns it later: same result.
    sync(&mut a, &mut b);
    assert!(b.is_member(&key(3)));
}

#[test]
fn a_member_can_always_leave() {
    let mut m = team();
    act(&mut m, 3, GroupOpKind::Leave);
    assert!(!m.is_member(&key(3)));
    assert_eq!(
        m.next_op(key(3), GroupOpKind::Leave),
        Err(MembershipError::NotMember)
    );
    // An admin, the creator included.
    act(&mut m, 1, GroupOpKind::Leave);
    assert_eq!(m.members(), [key(2)].into());
    // A leave concurrent with a promotion: the leave wins.
    let mut a = m.clone();
    act(&mut a, 2, add(4, Role::Member));
    let mut b = a.clone();
    act(&mut a, 4, GroupOpKind::Leave);
    act(&mut b, 2, set_role(4, Role::Admin));
    sync(&mut a, &mut b);
    assert!(!a.is_member(&key(4)) && !b.is_member(&key(4)));
}

#[test]
fn grants_of_a_concurrently_removed_admin_are_void_with_what_follows_them() {
    let mut a = team();
    let mut b = a.clone();
    act(&mut a, 1, remove(2));
    // Partitioned away, 2 still sees itself as admin.
    act(&mut b, 2, add(4, Role::Admin));
    act(&mut b, 4, add(5, Role::Member));
    assert!(b.is_member(&key(5)));
    let before = b.view().clone();
    sync(&mut a, &mut b);
    assert_eq!(a.view(), b.view());
    assert_eq!(a.members(), [key(1), key(3)].into());
    assert_eq!(b.removed_since(&before), [key(2), key(4), key(5)].into());
}

#[test]
fn a_removed_admin_cannot_backdate_an_add() {
    let mut m = team();
    let old_heads = m.heads();
    act(&mut m, 1, remove(2));
    // 2 signs an add on the heads it had before its removal.
    let lamport = m.ops_since(&[]).len() as u64 - 1;
    let o = sign(
        2,
        UnsignedGroupOp {
            group: Some(m.group_id()),
            author: key(2),
            kind: add(6, Role::Admin),
            parents: old_heads,
            lamport,
        },
    );
    m.apply(o).unwrap();
    assert!(!m.is_member(&key(6)));
    // Its removals still count (when in doubt, remove).
}

#[test]
fn a_mutual_removal_removes_both() {
    let mut a = team();
    let mut b = a.clone();
    act(&mut a, 1, remove(2));
    act(&mut b, 2, remove(1));
    sync(&mut a, &mut b);
    assert_eq!(a.members(), [key(3)].into());
    assert!(a.admins().is_empty());
    assert_eq!(
        a.next_op(key(3), add(4, Role::Member)),
        Err(MembershipError::NotAdmin)
    );
}

#[test]
fn a_demotion_wins_over_a_concurrent_promotion() {
    let mut a = team();
    act(&mut a, 1, add(4, Role::Admin));
    let mut b = a.clone();
    act(&mut a, 1, set_role(4, Role::Member));
    act(&mut b, 2, set_role(4, Role::Admin));
    sync(&mut a, &mut b);
    assert_eq!(a.role(&key(4)), Some(Role::Member));
    assert_eq!(a.view(), b.view());
}

#[test]
fn malformed_ops_are_refused() {
    let mut m = team();
    // Counter not one above the parents'.
    let mut body = m.unchecked_next_op(key(1), add(4, Role::Member));
    body.lamport += 1;
    let bad = sign(1, body);
    assert!(matches!(
        m.apply(bad.clone()),
        Err(MembershipError::Lamport { .. })
    ));
    // Its children can never integrate: refused on sight, dropped when
    // they were waiting for it.
    let mut waiting = Membership::new(m.ops_since(&[]).remove(0)).unwrap();
    for o in m.ops_since(&[]).into_iter().skip(1) {
        waiting.apply(o).unwrap();
    }
    let child = sign(
        1,
        UnsignedGroupOp {
            group: Some(m.group_id()),
            author: key(1),
            kind: add(5, Role::Member),
            parents: vec![bad.id()],
            lamport: bad.body.lamport + 1,
        },
    );
    assert!(matches!(
        waiting.apply(child.clone()),
        Ok(Applied::Buffered { .. })
    ));
    assert!(matches!(
        waiting.apply(bad.clone()),
        Err(MembershipError::Lamport { .. })
    ));
    assert_eq!(waiting.pending_count(), 0);
    assert!(waiting.missing().is_empty());
    assert_eq!(
        m.apply(child),
        Err(MembershipError::RefusedParent(bad.id()))
    );
    // No parents, too many, twice the same.
    let mut body = m.unchecked_next_op(key(1), add(4, Role::Member));
    body.parents.clear();
    assert_eq!(m.apply(sign(1, body)), Err(MembershipError::NoParents));
    let mut body = m.unchecked_next_op(key(1), add(4, Role::Member));
    body.parents = (0..=MAX_OP_PARENTS as u8).map(|i| OpId([i; 32])).collect();
    assert_eq!(
        m.apply(sign(1, body)),
        Err(MembershipError::TooManyParents(MAX_OP_PARENTS + 1))
    );
    let mut body = m.unchecked_next_op(key(1), add(4, Role::Member));
    body.parents.push(body.parents[0]);
    assert_eq!(
        m.apply(sign(1, body)),
        Err(MembershipError::DuplicateParent)
    );
    // A create inside the group.
    let body = m.unchecked_next_op(key(1), GroupOpKind::Create { name: "x".into() });
    assert_eq!(
        m.apply(sign(1, body)),
        Err(MembershipError::UnexpectedCreate)
    );
    assert_eq!(
        m.next_op(key(1), GroupOpKind::Create { name: "x".into() }),
        Err(MembershipError::UnexpectedCreate)
    );
    // Names: empty, too long; a create with parents.
    assert_eq!(
        Membership::new(create(1, "")).err(),
        Some(MembershipError::BadName(0))
    );
    let long = "x".repeat(MAX_GROUP_NAME_LEN + 1);
    assert_eq!(
        Membership::new(create(1, &long)).err(),
        Some(MembershipError::BadName(MAX_GROUP_NAME_LEN + 1))
    );
    let body = m.unchecked_next_op(key(1), GroupOpKind::Create { name: "x".into() });
    assert_eq!(
        Membership::new(sign(
            1,
            UnsignedGroupOp {
                group: None,
                ..body
            }
        ))
        .err(),
        Some(MembershipError::NotCreate)
    );
    let body = m.unchecked_next_op(key(1), add(4, Role::Member));
    assert_eq!(
        Membership::new(sign(1, body)).err(),
        Some(MembershipError::NotCreate)
    );
    assert_eq!(m.members(), [key(1), key(2), key(3)].into());
}

#[test]
fn the_group_size_is_bounded() {
    let mut m = Membership::new(create(1, "big")).unwrap();
    // Members need not be real keys for the count: any valid point will do.
    let keys: Vec<IdentityKey> = (0u32..)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            seed[4] = 0xaa;
            IdentityKey::from(SigningKey::from_bytes(&seed).verifying_key())
        })
        .take(MAX_GROUP_MEMBERS)
        .collect();
    for k in &keys[..MAX_GROUP_MEMBERS - 1] {
        act(
            &mut m,
            1,
            GroupOpKind::Add {
                member: *k,
                role: Role::Member,
            },
        );
    }
    assert_eq!(m.members().len(), MAX_GROUP_MEMBERS);
    let extra = GroupOpKind::Add {
        member: keys[MAX_GROUP_MEMBERS - 1],
        role: Role::Member,
    };
    assert_eq!(
        m.next_op(key(1), extra.clone()),
        Err(MembershipError::GroupFull)
    );
    act(&mut m, 1, extra);
    assert_eq!(m.members().len(), MAX_GROUP_MEMBERS);
    // A role change of a member is no growth.
    act(&mut m, 1, set_role(1, Role::Admin));
    act(
        &mut m,
        1,
        GroupOpKind::SetRole {
            member: keys[0],
            role: Role::Admin,
        },
    );
    assert!(m.is_admin(&keys[0]));
}

#[test]
fn views_and_hashes_agree_across_replicas() {
    let a = team();
    let mut b = Membership::new(a.ops_since(&[]).remove(0)).unwrap();
    assert_ne!(a.view_hash(), b.view_hash());
    for o in a.ops_since(&b.heads()) {
        b.apply(o).unwrap();
    }
    assert_eq!(a.view_hash(), b.view_hash());
    assert_eq!(a.ops_since(&b.heads()), vec![]);
    // Same members, other roles: other hash.
    let mut c = b.clone();
    act(&mut c, 1, set_role(2, Role::Member));
    assert_eq!(c.members(), b.members());
    assert_ne!(c.view_hash(), b.view_hash());
    assert!(c.removed_since(b.view()).is_empty());
    act(&mut c, 1, remove(3));
    assert_eq!(c.removed_since(b.view()), [key(3)].into());
}

#[test]
fn the_number_of_ops_is_bounded() {
    let mut m = Membership::new(create(1, "long")).unwrap();
    for i in 1..MAX_GROUP_OPS {
        let kind = if i % 2 == 1 {
            add(2, Role::Member)
        } else {
            remove(2)
        };
        act(&mut m, 1, kind);
    }
    assert_eq!(m.op_count(), MAX_GROUP_OPS);
    let o = op(&m, 1, add(3, Role::Member));
    assert_eq!(m.apply(o), Err(MembershipError::TooManyOps));
    assert!(m.is_member(&key(2)) && !m.is_member(&key(3)));
}

#[test]
fn an_op_names_at_most_max_op_parents_heads() {
    let base = team();
    let mut m = base.clone();
    for i in 0..=MAX_OP_PARENTS as u8 {
        let mut branch = base.clone();
        act(&mut branch, 1 + i % 2, add(10 + i, Role::Member));
        for o in branch.ops_since(&m.heads()) {
            m.apply(o).unwrap();
        }
    }
    assert_eq!(m.heads().len(), MAX_OP_PARENTS + 1);
    assert_eq!(m.members().len(), 3 + MAX_OP_PARENTS + 1);
    let body = m.next_op(key(2), add(40, Role::Member)).unwrap();
    assert_eq!(body.parents.len(), MAX_OP_PARENTS);
    // Its history is not everything held: authority comes from the part
    // it names.
    let o = sign(2, body);
    assert!(matches!(m.apply(o), Ok(Applied::Integrated { .. })));
    assert!(m.is_member(&key(40)));
    assert_eq!(m.heads().len(), 2);
    let o = op(&m, 1, remove(40));
    m.apply(o).unwrap();
    assert_eq!(m.heads().len(), 1);
    assert!(!m.is_member(&key(40)));
}
