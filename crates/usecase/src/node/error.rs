//! What can go wrong in the node: one typed error for the node's
//! operations (its handle's API, and the internal steps that report through
//! it), each case with what to do where an operator can act.
//!
//! Decisions are made on the types that carry them: [`super::send`]'s
//! `AttemptError` (the recipient refused, or anything else) and
//! [`super::receive`]'s `ReceiveError` (which refusal a sender gets) wrap
//! this one for the rest.

use tacnode_crypto::pickle::PickleError;
use tacnode_crypto::prekey::{BundleError, PrekeyError};
use tacnode_crypto::x3dh::X3dhError;
use tacnode_domain::{AddressError, AdmissionError, ContentError, NodeId, StoreError};

use crate::conversation::{ConversationPickleError, RestartError};
use crate::ports::CallError;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Our own storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// A stored value does not parse: the database is damaged.
    #[error("stored {what} does not parse ({source}); restore the database from a backup")]
    Corrupt {
        /// What was read.
        what: &'static str,
        /// Why it does not parse.
        #[source]
        source: PickleError,
    },
    /// A stored session does not parse.
    #[error("stored session does not parse ({0}); the session will start anew")]
    CorruptSession(#[from] ConversationPickleError),
    /// No free id for a text: its queue time was moved on
    /// `MAX_ID_TRIES` times (the clock is stuck at its end).
    #[error("no free message id for this text; check the system clock")]
    NoFreeMessageId,
    /// A stored group channel does not parse: the group is left out, the
    /// others run on.
    #[error(
        "the stored state of group {group:?} cannot be read ({source}); an admin of the group running `tacnode group add` for this node again replaces it, or restore the database from a backup"
    )]
    CorruptGroup {
        /// Which group.
        group: tacnode_domain::group::GroupId,
        /// Why.
        #[source]
        source: std::sync::Arc<crate::group::GroupPickleError>,
    },
    /// A group operation or message was refused.
    #[error("group: {0}")]
    Group(#[from] crate::group::GroupError),
    /// No group has this name.
    #[error("unknown group {0:?}: `tacnode group list` shows the groups this node is in")]
    UnknownGroup(String),
    /// Two groups have this name.
    #[error(
        "two groups are named {0:?}: give the group's id (hex, from `tacnode group list`) instead"
    )]
    AmbiguousGroup(String),
    /// This node already has a group of that name.
    #[error("a group named {0:?} exists already; choose another name")]
    GroupNameTaken(String),
    /// This node is in as many groups as it may be.
    #[error("this node is in {max} groups, the most it keeps")]
    TooManyGroups {
        /// The limit.
        max: usize,
    },
    /// This node is no longer a member of the group.
    #[error("this node is no longer a member of {0:?}")]
    NotInGroup(String),
    /// Only an admin changes a group's members.
    #[error(
        "this node is not an admin of {0:?}: ask one of its admins (`tacnode group members {0}`)"
    )]
    NotGroupAdmin(String),
    /// The member to remove is not in the group.
    #[error("{member:?} is not a member of {group:?}")]
    NotAGroupMember {
        /// As given.
        member: String,
        /// The group.
        group: String,
    },
    /// An announcement was refused (rate, clock, shape).
    #[error("announcement: {0}")]
    Announcement(crate::announcements::AnnouncementRefusal),
    /// A network call failed.
    #[error(transparent)]
    Network(#[from] CallError),
    /// A peer answered with a message that does not answer the request.
    #[error("unexpected answer from {peer}: {answer}")]
    UnexpectedAnswer {
        /// Who answered.
        peer: NodeId,
        /// What it answered (its kind).
        answer: String,
    },
    /// A closed network's admission refused something (a revocation list).
    #[error("admission: {0}")]
    Admission(AdmissionError),
    /// This node cannot take part in its closed network.
    #[error(
        "this node is not admitted to its closed network: {0}; import a member \
         certificate for this identity (`tacnode member import FILE`)"
    )]
    OwnAdmission(AdmissionError),
    /// The node is stopping: the owner of its state runs no more jobs.
    #[error("the node is stopping; try again once it runs")]
    Stopping,
    /// The DHT task has stopped (the node is shutting down).
    #[error("the DHT has stopped")]
    DhtStopped,
    /// The DHT configuration is invalid.
    #[error("DHT configuration: {0}")]
    DhtConfig(#[from] tacnode_dht::ConfigError),
    /// No contact has this name or address.
    #[error("unknown contact {0:?}: add it with `tacnode contacts add NAME key_…`")]
    UnknownContact(String),
    /// A textual address did not parse.
    #[error("bad address {address:?}: {source}")]
    BadAddress {
        /// The text given.
        address: String,
        /// Why.
        #[source]
        source: AddressError,
    },
    /// A contact name that cannot be used.
    #[error("contact name must be non-empty and must not start with key_ or @ (@NAME is a group)")]
    BadContactName,
    /// This node's own address, given as a contact or recipient.
    #[error("that is this node's own address")]
    OwnAddress,
    /// The name belongs to another contact.
    #[error("another contact is already named {0:?}")]
    NameTaken(String),
    /// The address already is a named contact.
    #[error(
        "that address is already the contact {0:?}; to rename it, remove it \
         (tacnode contacts remove {0}) and add it again"
    )]
    AddressTaken(String),
    /// Too many texts for one transaction.
    #[error("{0} messages at once; at most {max}", max = super::MAX_SEND_BATCH)]
    TooManyAtOnce(usize),
    /// An empty text.
    #[error("an empty message; write some text")]
    EmptyText,
    /// A text over the limit.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// The contact's keys changed and await verification.
    #[error(
        "the keys of {0:?} changed: compare safety numbers, then \
         `tacnode contacts verify {0} --confirm`"
    )]
    KeysChanged(String),
    /// The contact's device key changed (seen in a bundle).
    #[error("the contact's device key changed; verify it again")]
    DeviceKeyChanged,
    /// The recipient's identity is not known (no contact, no record).
    #[error("unknown identity for {0}")]
    UnknownIdentity(NodeId),
    /// A delivery to the peer went unanswered, and so did a ping to it
    /// (see `probe`): the peer is gone, for now.
    #[error("{0} did not answer a probe: gone, for now")]
    PeerSilent(NodeId),
    /// No peer record for the peer in the DHT.
    #[error("no peer record for {0} in the DHT")]
    NoPeerRecord(NodeId),
    /// No published prekeys for the peer in the DHT.
    #[error("no published prekeys for {0}")]
    NoPublishedPrekeys(NodeId),
    /// A prekey bundle or published prekeys failed verification.
    #[error("prekeys do not verify: {0}")]
    Bundle(#[from] BundleError),
    /// The bundle belongs to another identity than the one asked for.
    #[error("prekey bundle is for another identity")]
    BundleIdentity,
    /// Our prekeys could not make a bundle.
    #[error("prekeys: {0}")]
    Prekeys(#[from] PrekeyError),
    /// X3DH failed.
    #[error("X3DH: {0}")]
    X3dh(#[from] X3dhError),
    /// Sealing a message failed.
    #[error("sealing: {0}")]
    Seal(#[from] crate::conversation::SealError),
    /// The sender of a mailbox deposit could not be sealed to the
    /// recipient's device key.
    #[error("sealed sender: {0}")]
    SealedSender(#[from] tacnode_crypto::sealed_sender::SealedSenderError),
    /// Restarting a session failed.
    #[error("session restart: {0}")]
    Restart(#[from] RestartError),
    /// No session with the peer (yet).
    #[error("no session with {0}")]
    NoSession(NodeId),
    /// A message is no longer in the outbox.
    #[error("message not in the outbox")]
    NotInOutbox,
    /// No mailbox holders were found for the recipient.
    #[error("no mailbox holders found")]
    NoMailboxHolders,
    /// No onion path could be chosen.
    #[error("onion routing: {0}")]
    OnionPath(#[from] crate::onion_path::PathError),
    /// The onion packet could not be made.
    #[error("onion packet: {0}")]
    OnionPacket(#[from] tacnode_crypto::sphinx::CreateError),
    /// Too many onion packets wait for a cover slot.
    #[error(
        "{max} onion packets already wait for a cover slot; raise privacy.cover_bps or send less"
    )]
    OnionOutboxFull {
        /// [`super::onion::MAX_ONION_OUTBOX`].
        max: usize,
    },
    /// Too many requests through relays wait for their replies.
    #[error("{max} requests through relays already wait for their replies; try again shortly")]
    ReplyWaitsFull {
        /// [`super::onion::MAX_REPLY_WAITS`].
        max: usize,
    },
    /// A reply through relays could not be read.
    #[error("a reply through relays was unreadable: {0}")]
    UnreadableReply(String),
    /// No relay took the onion packet.
    #[error("no relay took the onion packet (tried {tries} paths)")]
    OnionRefused {
        /// Paths tried.
        tries: usize,
    },
    /// Every mailbox holder refused or failed the deposit.
    #[error("no mailbox holder accepted the deposit")]
    DepositRefused,
    /// None of our own mailbox holders could be reached.
    #[error("no mailbox holders reachable")]
    NoHoldersReachable,
    /// One failure reported for several messages of a delivery round.
    #[error(transparent)]
    Shared(std::sync::Arc<NodeError>),
    /// A peer refused a delivery with this code.
    #[error("refused ({code:?}): {detail}")]
    Refused {
        /// Its code.
        code: tacnode_domain::dht::RefusalCode,
        /// Its detail.
        detail: String,
    },
    /// An id prefix matching several waiting messages.
    #[error("{0:?} matches several waiting messages; give more of the id")]
    AmbiguousId(String),
    /// A message with an attempt on the wire cannot be cancelled.
    #[error("message {0} is being sent right now; it cannot be cancelled")]
    BeingSent(String),
    /// The delivery queue is full.
    #[error("the outbox is full ({0} messages waiting); try again later")]
    OutboxFull(usize),
    /// A file to send given by a relative path (the daemon's working
    /// directory is not the operator's).
    #[error("{0}: give the file's absolute path")]
    RelativePath(std::path::PathBuf),
    /// A file to send whose path is longer than a transfer record keeps.
    #[error("the file's path is longer than {0} bytes; move it somewhere shorter")]
    PathTooLong(usize),
    /// A file whose name cannot travel.
    #[error(transparent)]
    FileName(#[from] tacnode_domain::file_transfer::FileNameError),
    /// The file port failed.
    #[error(transparent)]
    File(#[from] tacnode_domain::ports::FileError),
    /// A file over `[files] max_bytes`.
    #[error("the file is {size} bytes, over this node's [files] max_bytes of {max}")]
    FileTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// As many transfers as kept are under way.
    #[error("{0} file transfers are under way, the most kept; cancel one or wait")]
    TooManyTransfers(usize),
    /// No transfer has this id.
    #[error("no file transfer {0:?}: `tacnode files` lists them")]
    UnknownTransfer(String),
    /// The transfer has ended already.
    #[error("file transfer {0} has ended already")]
    TransferEnded(String),
    /// The delivery schedule refused a message.
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
}

impl NodeError {
    /// `answer` from `peer` does not answer what was asked; names only the
    /// kind of message (its variant), not its content.
    pub(crate) fn unexpected(peer: NodeId, answer: &tacnode_messaging::Message) -> Self {
        let debug = format!("{answer:?}");
        let kind: String = debug
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        NodeError::UnexpectedAnswer { peer, answer: kind }
    }
}

/// The node's results.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
