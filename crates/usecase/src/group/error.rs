use tacnode_domain::NodeId;
use tacnode_gossip::GossipError;

/// Why a group operation or a neighbour's group message was refused. A
/// refusal changes nothing; the channel keeps running.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The peer is not a member of the group (as this member sees it).
    #[error("{0:?} is not a member of this group")]
    NotAMember(NodeId),
    /// The overlay already has as many links as a member keeps.
    #[error("this member already keeps {max} links in the group; try another member")]
    TooManyNeighbours {
        /// The limit.
        max: usize,
    },
    /// The gossip layer refused the message.
    #[error(transparent)]
    Gossip(#[from] GossipError),
    /// A payload that is not a group message.
    #[error("malformed group payload: {0}")]
    Malformed(&'static str),
}
