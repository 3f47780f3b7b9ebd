use crate::id::NodeId;
use crate::keys::IdentityKey;
use crate::time::UnixMillis;

/// Longest contact name, in bytes of UTF-8.
pub const MAX_CONTACT_NAME_BYTES: usize = 128;

/// Someone the user talks to: a local name bound to a node and the identity
/// key first seen for it (trust on first use).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Contact {
    /// Local, user-chosen name (at most [`MAX_CONTACT_NAME_BYTES`]).
    pub name: String,
    /// The contact's node.
    pub node_id: NodeId,
    /// The identity key currently trusted for `node_id`.
    pub identity_key: IdentityKey,
    /// When the identity key was first seen.
    pub first_seen: UnixMillis,
    /// The user compared fingerprints out of band.
    pub verified: bool,
    /// A different identity key was observed for this contact since the user
    /// last acknowledged it; the UI warns until the user acknowledges.
    pub identity_changed: bool,
}
