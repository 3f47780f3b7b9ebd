use tacnode_crypto::group::GroupCryptoError;
use tacnode_domain::NodeId;
use tacnode_domain::group::MembershipError;
use tacnode_gossip::GossipError;

/// Why a group operation or a neighbour's group message was refused. A
/// refusal changes nothing; the channel keeps running.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The node is not a member of the group (as this member sees it).
    #[error("{0:?} is not a member of this group; an admin must add it first")]
    NotAMember(NodeId),
    /// A message from a member that has no link with this one (report the
    /// link with `neighbour_up` first).
    #[error("{0:?} has no link with this member in the group")]
    NotANeighbour(NodeId),
    /// This member was removed from the group (or left): it can no longer
    /// send to it.
    #[error("this node is no longer a member of the group")]
    Removed,
    /// The overlay already has as many links as a member keeps.
    #[error("this member already keeps {max} links in the group; try another member")]
    TooManyNeighbours {
        /// The limit.
        max: usize,
    },
    /// An invitation that does not start with the group's creation.
    #[error("an invitation must start with the group's create operation")]
    NoCreate,
    /// Too many sender keys or messages wait for what they need.
    #[error("{what}: {max} already waiting; the oldest was dropped")]
    Backlog {
        /// What waits.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The membership refused an operation (not an admin, not a member,
    /// bad signature, full…).
    #[error(transparent)]
    Membership(#[from] MembershipError),
    /// The sender-key layer refused.
    #[error(transparent)]
    Crypto(#[from] GroupCryptoError),
    /// The gossip layer refused the message.
    #[error(transparent)]
    Gossip(#[from] GossipError),
    /// A payload that is not a group broadcast.
    #[error("malformed group broadcast: {0}")]
    Malformed(#[from] tacnode_messaging::DecodeError),
}
