use std::fmt;

use crate::id::KeyError;

/// Length in bytes of a [`MessageId`]: 128 random bits, collision-free in practice
/// and half the wire cost of a 32-byte id on slow radio links.
pub const MESSAGE_ID_LEN: usize = 16;
/// Largest text body, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most message ids one delivery receipt may acknowledge.
pub const MAX_RECEIPT_IDS: usize = 256;
/// Most sealed messages one direct batch carries: as many as one receipt
/// acknowledges, so the recipient answers a batch with one receipt.
pub const MAX_DIRECT_BATCH: usize = MAX_RECEIPT_IDS;
/// Most membership operations one invitation carries (about 53 KiB of
/// single-parent operations, within a mailbox payload): a group with a
/// longer history cannot invite until it is recreated.
pub const MAX_INVITATION_OPS: usize = 256;
/// Longest sender-key distribution carried in a message, in bytes.
pub const MAX_DISTRIBUTION_BYTES: usize = 256;

/// Identifier of a user message, chosen by the sender; used to deduplicate
/// everywhere (inbox, mailboxes, receipts). A pairwise text's id is derived
/// by both ends under a key only they hold (`tacnode_crypto::TextIdKey`),
/// a group text's from its broadcast ([`MessageId::of_group_broadcast`]),
/// so neither need travel; other content has a random id that does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; MESSAGE_ID_LEN]);

impl MessageId {
    /// The id of a group text: its broadcast's id (itself derived from the encrypted payload), so it need not travel
    /// and, stored, tells nothing about the text to whoever lacks the
    /// group's keys.
    pub fn of_group_broadcast(broadcast: &crate::gossip::GossipId) -> Self {
        Self(broadcast.0)
    }

    /// Parses exactly [`MESSAGE_ID_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; MESSAGE_ID_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyError {
                expected: MESSAGE_ID_LEN,
                actual: bytes.len(),
            })
    }

    /// Raw bytes.
    pub const fn as_bytes(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// Content violated a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// Text longer than [`MAX_TEXT_BYTES`].
    #[error("text is {0} bytes, the limit is {MAX_TEXT_BYTES}")]
    TextTooLong(usize),
    /// Receipt with more than [`MAX_RECEIPT_IDS`] ids, or none.
    #[error("receipt acknowledges {0} messages, allowed 1..={MAX_RECEIPT_IDS}")]
    ReceiptSize(usize),
    /// Invitation with more than [`MAX_INVITATION_OPS`] operations, or none.
    #[error(
        "the group's history has {0} operations, an invitation carries 1..={MAX_INVITATION_OPS}: create the group anew to invite more members"
    )]
    InvitationSize(usize),
    /// Sender-key distribution longer than [`MAX_DISTRIBUTION_BYTES`].
    #[error("sender key is {0} bytes, the limit is {MAX_DISTRIBUTION_BYTES}")]
    DistributionTooLong(usize),
    /// A file offer whose name is not a plain file name.
    #[error("file offer: {0}")]
    FileName(#[from] crate::file_transfer::FileNameError),
    /// A file block longer than [`crate::file_transfer::FILE_BLOCK_BYTES`].
    #[error("file block of {0} bytes, the limit is {len}", len = crate::file_transfer::FILE_BLOCK_BYTES)]
    FileBlockTooLong(usize),
    /// A file offer whose key is not [`crate::file_transfer::FILE_KEY_LEN`] bytes.
    #[error("file offer: the key is {0} bytes, expected {len}", len = crate::file_transfer::FILE_KEY_LEN)]
    FileKey(usize),
}

/// What travels inside an end-to-end encrypted message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Content {
    /// A user's text message.
    Text(String),
    /// End-to-end encrypted delivery receipt for earlier messages.
    Receipt(Vec<MessageId>),
    /// Mail of the receiver's, fetched from a mailbox, reused ratchet keys
    /// the sender of this notice had already used (the receiver's state
    /// was rolled back) and could not be opened: send again, in the
    /// session this notice came in, whatever is not acknowledged yet.
    Rewound,
    /// A group member's sender key for one group (a
    /// `SenderKeyDistribution`'s bytes), sealed in our pairwise session.
    GroupKey {
        /// The group.
        group: crate::group::GroupId,
        /// The distribution's bytes, secret.
        distribution: crate::store::SecretBytes,
    },
    /// An invitation: every operation of a group, the create first (at
    /// most [`MAX_INVITATION_OPS`]).
    GroupInvite(Vec<crate::group::GroupOp>),
    /// A file the sender offers; the recipient fetches its blocks.
    FileOffer(crate::file_transfer::FileOffer),
    /// One block of a file offered, through the recipient's mailboxes.
    FileBlock {
        /// The offer it belongs to (any block makes the transfer known).
        offer: crate::file_transfer::FileOffer,
        /// The block's index.
        index: u64,
        /// Its content (at most [`crate::file_transfer::FILE_BLOCK_BYTES`]).
        content: Vec<u8>,
    },
    /// How a file of ours ended at its recipient.
    FileReceipt {
        /// The transfer.
        transfer: crate::file_transfer::TransferId,
        /// `None`: it arrived whole; else declined, and why (at most
        /// [`crate::file_transfer::MAX_DECLINE_REASON_BYTES`]).
        declined: Option<String>,
    },
}

impl Content {
    /// A text message, checked against [`MAX_TEXT_BYTES`].
    pub fn text(text: impl Into<String>) -> Result<Self, ContentError> {
        let text = text.into();
        if text.len() > MAX_TEXT_BYTES {
            return Err(ContentError::TextTooLong(text.len()));
        }
        Ok(Self::Text(text))
    }

    /// A receipt, checked against [`MAX_RECEIPT_IDS`].
    pub fn receipt(ids: Vec<MessageId>) -> Result<Self, ContentError> {
        if ids.is_empty() || ids.len() > MAX_RECEIPT_IDS {
            return Err(ContentError::ReceiptSize(ids.len()));
        }
        Ok(Self::Receipt(ids))
    }

    /// Checks the limits of content built directly from its variants.
    pub fn validate(&self) -> Result<(), ContentError> {
        match self {
            Self::Text(t) if t.len() > MAX_TEXT_BYTES => Err(ContentError::TextTooLong(t.len())),
            Self::Receipt(ids) if ids.is_empty() || ids.len() > MAX_RECEIPT_IDS => {
                Err(ContentError::ReceiptSize(ids.len()))
            }
            Self::GroupInvite(ops) if ops.is_empty() || ops.len() > MAX_INVITATION_OPS => {
                Err(ContentError::InvitationSize(ops.len()))
            }
            Self::GroupKey { distribution, .. }
                if distribution.as_slice().len() > MAX_DISTRIBUTION_BYTES =>
            {
                Err(ContentError::DistributionTooLong(
                    distribution.as_slice().len(),
                ))
            }
            Self::FileBlock { content, .. }
                if content.len() > crate::file_transfer::FILE_BLOCK_BYTES =>
            {
                Err(ContentError::FileBlockTooLong(content.len()))
            }
            Self::FileOffer(offer) | Self::FileBlock { offer, .. } => {
                crate::file_transfer::check_file_name(&offer.name)?;
                let key = offer.key.as_slice().len();
                if key != crate::file_transfer::FILE_KEY_LEN {
                    return Err(ContentError::FileKey(key));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// What a Double Ratchet message decrypts to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Plaintext {
    /// Sender-chosen id; duplicates are dropped by it.
    pub message_id: MessageId,
    /// Sender's clock when written.
    pub sent: crate::UnixMillis,
    /// The content.
    pub content: Content,
}
