//! Group broadcasts and membership operations: wire <-> domain.

use prost::Message as _;
use tacnode_domain::gossip::MAX_GOSSIP_PAYLOAD;
use tacnode_domain::group::{
    GroupBroadcast, GroupId, GroupOp, GroupOpKind, MAX_GROUP_NAME_LEN, MAX_OP_PARENTS, OpId, Role,
    UnsignedGroupOp,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{Result, at_most, bytes_at_most, fixed, identity_key, required, signature};
use crate::pb;

/// Encodes one group broadcast (a gossip payload).
pub fn encode_group_broadcast(b: &GroupBroadcast) -> Vec<u8> {
    use pb::group_payload::Kind;
    let kind = match b {
        GroupBroadcast::Message(m) => Kind::Message(m.clone()),
        GroupBroadcast::Op(op) => Kind::Op(op_to_wire(op)),
    };
    pb::GroupPayload { kind: Some(kind) }.encode_to_vec()
}

/// Decodes one group broadcast, bounded first. A membership operation's
/// signature is checked by the membership, not here.
pub fn decode_group_broadcast(bytes: &[u8]) -> Result<GroupBroadcast> {
    bytes_at_most(bytes, MAX_GOSSIP_PAYLOAD, "group_payload")?;
    let w = pb::GroupPayload::decode(bytes)
        .map_err(|e| DecodeError::new("group_payload", DecodeErrorKind::Protobuf(e.to_string())))?;
    use pb::group_payload::Kind;
    Ok(match required(w.kind, "group_payload.kind")? {
        Kind::Message(m) => GroupBroadcast::Message(m),
        Kind::Op(op) => GroupBroadcast::Op(Box::new(
            op_from_wire(op).map_err(|e| e.within("group_payload.op"))?,
        )),
    })
}

/// Encodes one membership operation alone (an invitation carries them).
pub fn encode_group_op(op: &GroupOp) -> Vec<u8> {
    op_to_wire(op).encode_to_vec()
}

/// Decodes one membership operation.
pub fn decode_group_op(bytes: &[u8]) -> Result<GroupOp> {
    bytes_at_most(bytes, MAX_GOSSIP_PAYLOAD, "group_op")?;
    let w = pb::GroupOp::decode(bytes)
        .map_err(|e| DecodeError::new("group_op", DecodeErrorKind::Protobuf(e.to_string())))?;
    op_from_wire(w).map_err(|e| e.within("group_op"))
}

fn role_to_wire(r: Role) -> i32 {
    match r {
        Role::Member => pb::GroupRole::Member as i32,
        Role::Admin => pb::GroupRole::Admin as i32,
    }
}

fn role(value: i32, field: &str) -> Result<Role> {
    match pb::GroupRole::try_from(value) {
        Ok(pb::GroupRole::Member) => Ok(Role::Member),
        Ok(pb::GroupRole::Admin) => Ok(Role::Admin),
        _ => Err(DecodeError::new(field, DecodeErrorKind::BadEnum(value))),
    }
}

pub(crate) fn op_to_wire(op: &GroupOp) -> pb::GroupOp {
    use pb::group_op::Kind;
    let b = &op.body;
    let kind = match &b.kind {
        GroupOpKind::Create { name } => Kind::Create(pb::GroupCreate { name: name.clone() }),
        GroupOpKind::Add { member, role } => Kind::Add(pb::GroupMemberRole {
            member: member.as_bytes().to_vec(),
            role: role_to_wire(*role),
        }),
        GroupOpKind::Remove { member } => Kind::Remove(member.as_bytes().to_vec()),
        GroupOpKind::Leave => Kind::Leave(pb::GroupLeave {}),
        GroupOpKind::SetRole { member, role } => Kind::SetRole(pb::GroupMemberRole {
            member: member.as_bytes().to_vec(),
            role: role_to_wire(*role),
        }),
    };
    pb::GroupOp {
        group: b.group.map(|g| g.0.to_vec()).unwrap_or_default(),
        author: b.author.as_bytes().to_vec(),
        parents: b.parents.iter().map(|p| p.0.to_vec()).collect(),
        lamport: b.lamport,
        signature: op.signature.as_bytes().to_vec(),
        kind: Some(kind),
    }
}

pub(crate) fn op_from_wire(w: pb::GroupOp) -> Result<GroupOp> {
    use pb::group_op::Kind;
    at_most(&w.parents, MAX_OP_PARENTS, "parents")?;
    let group = if w.group.is_empty() {
        None
    } else {
        Some(GroupId(fixed(&w.group, "group")?))
    };
    let kind = match required(w.kind, "kind")? {
        Kind::Create(c) => {
            bytes_at_most(c.name.as_bytes(), MAX_GROUP_NAME_LEN, "create.name")?;
            GroupOpKind::Create { name: c.name }
        }
        Kind::Add(a) => GroupOpKind::Add {
            member: identity_key(&a.member, "add.member")?,
            role: role(a.role, "add.role")?,
        },
        Kind::Remove(m) => GroupOpKind::Remove {
            member: identity_key(&m, "remove")?,
        },
        Kind::Leave(_) => GroupOpKind::Leave,
        Kind::SetRole(a) => GroupOpKind::SetRole {
            member: identity_key(&a.member, "set_role.member")?,
            role: role(a.role, "set_role.role")?,
        },
    };
    let parents = w
        .parents
        .iter()
        .map(|p| fixed(p, "parents").map(OpId))
        .collect::<Result<Vec<_>>>()?;
    Ok(UnsignedGroupOp {
        group,
        author: identity_key(&w.author, "author")?,
        kind,
        parents,
        lamport: w.lamport,
    }
    .with_signature(signature(&w.signature, "signature")?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use tacnode_domain::{IdentityKey, Signature};

    fn key(b: u8) -> IdentityKey {
        // A valid Ed25519 point: the public key of a fixed secret.
        let sk = ed25519_dalek::SigningKey::from_bytes(&[b; 32]);
        IdentityKey::from_bytes(sk.verifying_key().as_bytes()).unwrap()
    }

    #[test]
    fn broadcasts_and_ops_survive_the_wire() {
        let ops = [
            UnsignedGroupOp {
                group: None,
                author: key(1),
                kind: GroupOpKind::Create {
                    name: "squad".into(),
                },
                parents: vec![],
                lamport: 0,
            },
            UnsignedGroupOp {
                group: Some(GroupId([2; 32])),
                author: key(1),
                kind: GroupOpKind::Add {
                    member: key(3),
                    role: Role::Admin,
                },
                parents: vec![OpId([4; 32]), OpId([5; 32])],
                lamport: 3,
            },
            UnsignedGroupOp {
                group: Some(GroupId([2; 32])),
                author: key(1),
                kind: GroupOpKind::Remove { member: key(3) },
                parents: vec![OpId([4; 32])],
                lamport: 4,
            },
            UnsignedGroupOp {
                group: Some(GroupId([2; 32])),
                author: key(3),
                kind: GroupOpKind::Leave,
                parents: vec![OpId([4; 32])],
                lamport: 4,
            },
            UnsignedGroupOp {
                group: Some(GroupId([2; 32])),
                author: key(1),
                kind: GroupOpKind::SetRole {
                    member: key(3),
                    role: Role::Member,
                },
                parents: vec![OpId([4; 32])],
                lamport: 4,
            },
        ];
        for op in ops {
            let op = op.with_signature(Signature([9; 64]));
            assert_eq!(decode_group_op(&encode_group_op(&op)).unwrap(), op);
            let b = GroupBroadcast::Op(Box::new(op));
            assert_eq!(
                decode_group_broadcast(&encode_group_broadcast(&b)).unwrap(),
                b
            );
        }
        let m = GroupBroadcast::Message(vec![1; 200]);
        assert_eq!(
            decode_group_broadcast(&encode_group_broadcast(&m)).unwrap(),
            m
        );
    }

    #[test]
    fn malformed_ops_are_refused_with_the_field_named() {
        let op = UnsignedGroupOp {
            group: Some(GroupId([2; 32])),
            author: key(1),
            kind: GroupOpKind::Leave,
            parents: vec![OpId([4; 32])],
            lamport: 1,
        }
        .with_signature(Signature([9; 64]));
        let mut w = op_to_wire(&op);
        w.parents = vec![vec![0; 32]; MAX_OP_PARENTS + 1];
        assert!(op_from_wire(w).unwrap_err().to_string().contains("parents"));
        let mut w = op_to_wire(&op);
        w.group = vec![0; 31];
        assert!(op_from_wire(w).unwrap_err().to_string().contains("group"));
        let mut w = op_to_wire(&op);
        w.kind = Some(pb::group_op::Kind::Add(pb::GroupMemberRole {
            member: key(3).as_bytes().to_vec(),
            role: 7,
        }));
        assert!(
            op_from_wire(w)
                .unwrap_err()
                .to_string()
                .contains("add.role")
        );
        let mut w = op_to_wire(&op);
        w.kind = None;
        assert!(op_from_wire(w).unwrap_err().to_string().contains("kind"));
        assert!(decode_group_broadcast(&[0xff; 3]).is_err());
    }
}
