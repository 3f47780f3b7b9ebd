use super::group_op::GroupOp;

/// What one group broadcast carries, as the members' overlay forwards it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum GroupBroadcast {
    /// A member's message: a sender-key ciphertext, opaque here (it names
    /// no sender; members find the chain by its id).
    Message(Vec<u8>),
    /// A membership operation.
    Op(Box<GroupOp>),
}
