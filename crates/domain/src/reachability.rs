//! Whether a node can be dialled from outside, as a server that dialled it
//! back found.

/// What a dial-back found: can a node that never heard from this one open a
/// connection to it?
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Reachability {
    /// A server dialled the address it saw us at, over a new connection,
    /// and the handshake succeeded.
    Public,
    /// The dial-back failed: we sit behind a NAT or a firewall, and are
    /// reached only over connections we open.
    Private,
}

impl Reachability {
    /// The byte [`crate::UnsignedPeerRecord::signing_bytes`] signs.
    pub(crate) fn tag(self) -> u8 {
        match self {
            Self::Public => 1,
            Self::Private => 2,
        }
    }
}
