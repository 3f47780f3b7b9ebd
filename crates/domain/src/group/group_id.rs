//! The ids of groups and of their membership operations.

use std::fmt;

/// Length in bytes of a [`GroupId`] and of an [`OpId`].
pub const GROUP_ID_LEN: usize = 32;

/// Identifier of a membership operation: SHA-256 of its signed encoding
/// (see [`GroupOp::id`](super::GroupOp::id)).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub [u8; GROUP_ID_LEN]);

impl OpId {
    /// Raw bytes.
    pub const fn as_bytes(&self) -> &[u8; GROUP_ID_LEN] {
        &self.0
    }
}

/// Identifier of a group: the [`OpId`] of its signed `Create` operation,
/// so nobody can choose it, and it names the creator, the name and the
/// creator's signature at once.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub [u8; GROUP_ID_LEN]);

impl GroupId {
    /// Raw bytes.
    pub const fn as_bytes(&self) -> &[u8; GROUP_ID_LEN] {
        &self.0
    }
}

impl From<OpId> for GroupId {
    /// The group created by the operation `id`.
    fn from(id: OpId) -> Self {
        Self(id.0)
    }
}

fn short_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8; GROUP_ID_LEN]) -> fmt::Result {
    for b in &bytes[..8] {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId(")?;
        short_hex(f, &self.0)?;
        write!(f, ")")
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId(")?;
        short_hex(f, &self.0)?;
        write!(f, ")")
    }
}

impl fmt::Display for GroupId {
    /// Short hex prefix: enough to tell groups apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        short_hex(f, &self.0)
    }
}
