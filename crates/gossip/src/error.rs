use tacnode_domain::gossip::{MAX_GOSSIP_IDS, MAX_GOSSIP_PAYLOAD, MAX_GOSSIP_ROUND, Topic};

/// Why a broadcast or a neighbour's message was refused. A refused message
/// changes nothing; the overlay keeps running.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GossipError {
    /// The payload is larger than one broadcast may be.
    #[error("payload of {len} bytes is over the {MAX_GOSSIP_PAYLOAD}-byte limit; split it")]
    PayloadTooLarge {
        /// Its length.
        len: usize,
    },
    /// A push that travelled more hops than any tree has.
    #[error("push at round {round} is past the {MAX_GOSSIP_ROUND}-hop limit")]
    RoundTooLarge {
        /// Its round.
        round: u32,
    },
    /// The message belongs to another overlay.
    #[error("message for topic {got:?} reached the overlay of {expected:?}")]
    WrongTopic {
        /// This overlay.
        expected: Topic,
        /// The message's.
        got: Topic,
    },
    /// An announcement or request naming too many ids.
    #[error("{count} ids in one message, over the limit of {MAX_GOSSIP_IDS}")]
    TooManyIds {
        /// How many it named.
        count: usize,
    },
    /// Our own broadcast with an id already seen in this overlay.
    #[error("a broadcast with this id was already sent or received")]
    AlreadyKnown,
}
