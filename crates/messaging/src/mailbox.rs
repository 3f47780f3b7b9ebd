//! Mailbox RPCs: wire <-> domain.

use tacnode_domain::UnixMillis;
use tacnode_domain::mailbox::{
    ENTRY_ID_LEN, EntryId, MAX_ENTRIES_PER_BATCH, MAX_PAYLOAD_BYTES, MailboxAck, MailboxDeposit,
    MailboxEntry, MailboxFetch, MailboxProof, NONCE_LEN,
};

use prost::Message as _;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{
    Result, at_most, bytes_at_most, fixed, identity_key, node_id, required, signature,
};
use crate::pb;

fn entry_id(bytes: &[u8], field: &str) -> Result<EntryId> {
    fixed::<ENTRY_ID_LEN>(bytes, field).map(EntryId)
}

fn proof(w: Option<pb::MailboxProof>) -> Result<MailboxProof> {
    let w = required(w, "proof")?;
    Ok(MailboxProof {
        identity_key: identity_key(&w.identity_key, "proof.identity_key")?,
        nonce: fixed::<NONCE_LEN>(&w.nonce, "proof.nonce")?,
        signature: signature(&w.signature, "proof.signature")?,
    })
}

fn proof_to_wire(p: &MailboxProof) -> Option<pb::MailboxProof> {
    Some(pb::MailboxProof {
        identity_key: p.identity_key.as_bytes().to_vec(),
        nonce: p.nonce.to_vec(),
        signature: p.signature.as_bytes().to_vec(),
    })
}

impl TryFrom<pb::MailboxDeposit> for MailboxDeposit {
    type Error = DecodeError;

    fn try_from(w: pb::MailboxDeposit) -> Result<Self> {
        bytes_at_most(&w.payload, MAX_PAYLOAD_BYTES, "payload")?;
        Ok(Self {
            recipient: node_id(&w.recipient, "recipient")?,
            entry_id: entry_id(&w.entry_id, "entry_id")?,
            payload: w.payload,
            expires: UnixMillis(w.expires_ms),
        })
    }
}

impl From<&MailboxDeposit> for pb::MailboxDeposit {
    fn from(d: &MailboxDeposit) -> Self {
        Self {
            recipient: d.recipient.as_bytes().to_vec(),
            entry_id: d.entry_id.0.to_vec(),
            payload: d.payload.clone(),
            expires_ms: d.expires.0,
        }
    }
}

/// Encodes a deposit on its own (the payload of an onion packet whose
/// destination is a mailbox holder).
pub fn encode_mailbox_deposit(d: &MailboxDeposit) -> Vec<u8> {
    pb::MailboxDeposit::from(d).encode_to_vec()
}

/// Decodes and validates a deposit encoded by [`encode_mailbox_deposit`].
pub fn decode_mailbox_deposit(bytes: &[u8]) -> Result<MailboxDeposit> {
    pb::MailboxDeposit::decode(bytes)
        .map_err(|e| DecodeError::new("deposit", DecodeErrorKind::Protobuf(e.to_string())))?
        .try_into()
}

impl TryFrom<pb::MailboxFetch> for MailboxFetch {
    type Error = DecodeError;

    fn try_from(w: pb::MailboxFetch) -> Result<Self> {
        Ok(Self {
            recipient: node_id(&w.recipient, "recipient")?,
            proof: proof(w.proof)?,
            max_entries: w.max_entries,
        })
    }
}

impl From<&MailboxFetch> for pb::MailboxFetch {
    fn from(f: &MailboxFetch) -> Self {
        Self {
            recipient: f.recipient.as_bytes().to_vec(),
            proof: proof_to_wire(&f.proof),
            max_entries: f.max_entries,
        }
    }
}

impl TryFrom<pb::MailboxAck> for MailboxAck {
    type Error = DecodeError;

    fn try_from(w: pb::MailboxAck) -> Result<Self> {
        at_most(&w.entry_ids, MAX_ENTRIES_PER_BATCH, "entry_ids")?;
        Ok(Self {
            recipient: node_id(&w.recipient, "recipient")?,
            proof: proof(w.proof)?,
            entry_ids: w
                .entry_ids
                .iter()
                .map(|b| entry_id(b, "entry_ids"))
                .collect::<Result<_>>()?,
        })
    }
}

impl From<&MailboxAck> for pb::MailboxAck {
    fn from(a: &MailboxAck) -> Self {
        Self {
            recipient: a.recipient.as_bytes().to_vec(),
            proof: proof_to_wire(&a.proof),
            entry_ids: a.entry_ids.iter().map(|e| e.0.to_vec()).collect(),
        }
    }
}

pub(crate) fn entries(w: Vec<pb::MailboxEntry>) -> Result<Vec<MailboxEntry>> {
    at_most(&w, MAX_ENTRIES_PER_BATCH, "entries")?;
    w.into_iter()
        .map(|e| {
            bytes_at_most(&e.payload, MAX_PAYLOAD_BYTES, "entries.payload")?;
            Ok(MailboxEntry {
                entry_id: entry_id(&e.entry_id, "entries.entry_id")?,
                payload: e.payload,
                deposited: UnixMillis(e.deposited_ms),
            })
        })
        .collect()
}

pub(crate) fn entries_to_wire(list: &[MailboxEntry]) -> Vec<pb::MailboxEntry> {
    list.iter()
        .map(|e| pb::MailboxEntry {
            entry_id: e.entry_id.0.to_vec(),
            payload: e.payload.clone(),
            deposited_ms: e.deposited.0,
        })
        .collect()
}

pub(crate) fn nonce(bytes: &[u8]) -> Result<[u8; NONCE_LEN]> {
    fixed::<NONCE_LEN>(bytes, "nonce")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tacnode_domain::NodeId;

    #[test]
    fn a_deposit_encoded_on_its_own_decodes_to_itself_and_a_bad_one_is_refused() {
        let d = MailboxDeposit {
            recipient: NodeId::from_bytes([7; 32]),
            entry_id: EntryId([3; ENTRY_ID_LEN]),
            payload: vec![1, 2, 3],
            expires: UnixMillis(42),
        };
        let bytes = encode_mailbox_deposit(&d);
        assert_eq!(decode_mailbox_deposit(&bytes), Ok(d));
        assert!(decode_mailbox_deposit(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_mailbox_deposit(&[0xff; 8]).is_err());
    }
}
