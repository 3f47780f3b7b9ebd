//! Store-and-forward mailboxes as data: deposits, ownership proofs, fetches
//! and acknowledgements. Holders are the `Server` nodes closest to
//! [`crate::mailbox_key`] of the recipient.

use crate::id::NodeId;
use crate::keys::{IdentityKey, Signature};
use crate::time::UnixMillis;

/// Length of a mailbox entry id.
pub const ENTRY_ID_LEN: usize = 16;
/// Length of a mailbox challenge nonce.
pub const NONCE_LEN: usize = 32;
/// Largest payload (an encoded sealed message) a holder accepts.
pub const MAX_PAYLOAD_BYTES: usize = 80 * 1024;
/// Most entries one fetch answer or one acknowledgement may carry.
pub const MAX_ENTRIES_PER_BATCH: usize = 256;

const PROOF_CONTEXT: &[u8] = b"tacnode/mailbox-proof/v1\0";

/// Random id of a mailbox entry, for deduplication and deletion.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct EntryId(pub [u8; ENTRY_ID_LEN]);

/// A sealed message waiting for its recipient.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MailboxEntry {
    /// Deduplication id.
    pub entry_id: EntryId,
    /// Encoded sealed message (opaque to holders).
    pub payload: Vec<u8>,
    /// When it was deposited (holder's clock).
    pub deposited: UnixMillis,
}

/// Ask a holder to keep a sealed message for `recipient`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MailboxDeposit {
    /// Mailbox owner.
    pub recipient: NodeId,
    /// Deduplication id.
    pub entry_id: EntryId,
    /// Encoded sealed message.
    pub payload: Vec<u8>,
    /// When the holder may drop it.
    pub expires: UnixMillis,
}

/// What a mailbox operation proves ownership for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MailboxOperation {
    /// Read entries.
    Fetch,
    /// Delete entries.
    Ack,
}

/// Proof that the requester owns a mailbox: a signature over a fresh
/// holder-issued nonce, bound to the holder, the mailbox and the operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MailboxProof {
    /// Owner's identity key; its hash must be the recipient id.
    pub identity_key: IdentityKey,
    /// The holder's challenge.
    pub nonce: [u8; NONCE_LEN],
    /// Signature over [`MailboxProof::signing_bytes`].
    pub signature: Signature,
}

impl MailboxProof {
    /// What the owner signs.
    pub fn signing_bytes(
        holder: &NodeId,
        recipient: &NodeId,
        nonce: &[u8; NONCE_LEN],
        operation: MailboxOperation,
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(PROOF_CONTEXT.len() + 32 * 3 + 1);
        m.extend_from_slice(PROOF_CONTEXT);
        m.extend_from_slice(holder.as_bytes());
        m.extend_from_slice(recipient.as_bytes());
        m.extend_from_slice(nonce);
        m.push(match operation {
            MailboxOperation::Fetch => 1,
            MailboxOperation::Ack => 2,
        });
        m
    }

    /// Checks the key binding and signature. The caller checks that the nonce
    /// is one it issued, unused and fresh.
    pub fn verify(
        &self,
        holder: &NodeId,
        recipient: &NodeId,
        operation: MailboxOperation,
    ) -> Result<(), crate::SignatureError> {
        if NodeId::from_identity(&self.identity_key) != *recipient {
            return Err(crate::SignatureError::BadSignature);
        }
        self.identity_key.verify(
            &Self::signing_bytes(holder, recipient, &self.nonce, operation),
            &self.signature,
        )
    }
}

/// Fetch held entries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MailboxFetch {
    /// Mailbox owner.
    pub recipient: NodeId,
    /// Ownership proof for [`MailboxOperation::Fetch`].
    pub proof: MailboxProof,
    /// Most entries wanted.
    pub max_entries: u32,
}

/// Delete acknowledged entries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MailboxAck {
    /// Mailbox owner.
    pub recipient: NodeId,
    /// Ownership proof for [`MailboxOperation::Ack`].
    pub proof: MailboxProof,
    /// Entries to delete.
    pub entry_ids: Vec<EntryId>,
}
