//! End-to-end encrypted payloads: ratchet messages, X3DH initial messages,
//! sealed messages and their plaintext.

use tacnode_domain::e2e::{
    MAX_CIPHERTEXT_BYTES, RatchetHeader, RatchetMessage, SealedBody, SealedMessage, X3dhInitial,
};
use tacnode_domain::{
    Content, IdentityKey, MAX_RECEIPT_IDS, MAX_TEXT_BYTES, Plaintext, UnixMillis,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{
    Result, at_most, bytes_at_most, dh_key, fixed, identity_key, message_id, required, signature,
};
use crate::message::PLAINTEXT_BLOCK;
use crate::pb;

impl TryFrom<pb::RatchetMessage> for RatchetMessage {
    type Error = DecodeError;

    fn try_from(w: pb::RatchetMessage) -> Result<Self> {
        let h = required(w.header, "header")?;
        bytes_at_most(&w.ciphertext, MAX_CIPHERTEXT_BYTES, "ciphertext")?;
        Ok(Self {
            header: RatchetHeader {
                ratchet_key: dh_key(&h.ratchet_key, "header.ratchet_key")?,
                previous_chain_length: h.previous_chain_length,
                message_number: h.message_number,
                nonce: fixed(&h.nonce, "header.nonce")?,
            },
            ciphertext: w.ciphertext,
        })
    }
}

impl From<&RatchetMessage> for pb::RatchetMessage {
    fn from(m: &RatchetMessage) -> Self {
        Self {
            header: Some(pb::RatchetHeader {
                ratchet_key: m.header.ratchet_key.as_bytes().to_vec(),
                previous_chain_length: m.header.previous_chain_length,
                message_number: m.header.message_number,
                nonce: m.header.nonce.to_vec(),
            }),
            ciphertext: m.ciphertext.clone(),
        }
    }
}

impl TryFrom<pb::X3dhInitial> for X3dhInitial {
    type Error = DecodeError;

    fn try_from(w: pb::X3dhInitial) -> Result<Self> {
        Ok(Self {
            identity_key: identity_key(&w.identity_key, "identity_key")?,
            device_key: dh_key(&w.device_key, "device_key")?,
            device_key_signature: signature(&w.device_key_signature, "device_key_signature")?,
            ephemeral_key: dh_key(&w.ephemeral_key, "ephemeral_key")?,
            signed_prekey_id: w.signed_prekey_id,
            one_time_prekey_id: w.one_time_prekey_id,
            message: required(w.message, "message")?
                .try_into()
                .map_err(|e: DecodeError| e.within("message"))?,
        })
    }
}

impl From<&X3dhInitial> for pb::X3dhInitial {
    fn from(m: &X3dhInitial) -> Self {
        Self {
            identity_key: m.identity_key.as_bytes().to_vec(),
            device_key: m.device_key.as_bytes().to_vec(),
            device_key_signature: m.device_key_signature.as_bytes().to_vec(),
            ephemeral_key: m.ephemeral_key.as_bytes().to_vec(),
            signed_prekey_id: m.signed_prekey_id,
            one_time_prekey_id: m.one_time_prekey_id,
            message: Some((&m.message).into()),
        }
    }
}

impl TryFrom<pb::SealedMessage> for SealedMessage {
    type Error = DecodeError;

    fn try_from(w: pb::SealedMessage) -> Result<Self> {
        sealed_from_wire(w, None)
    }
}

/// A sealed message from the wire; one sent directly leaves its sender's
/// identity key out (the connection authenticated the sender), and
/// `sender` (the connection's peer) stands in for it.
pub(crate) fn sealed_from_wire(
    w: pb::SealedMessage,
    sender: Option<&IdentityKey>,
) -> Result<SealedMessage> {
    {
        let body = match required(w.body, "body")? {
            pb::sealed_message::Body::Initial(i) => SealedBody::Initial(Box::new(
                i.try_into().map_err(|e: DecodeError| e.within("initial"))?,
            )),
            pb::sealed_message::Body::Message(m) => {
                SealedBody::Message(m.try_into().map_err(|e: DecodeError| e.within("message"))?)
            }
        };
        let sender_identity_key = match sender {
            Some(key) if w.sender_identity_key.is_empty() => *key,
            _ => identity_key(&w.sender_identity_key, "sender_identity_key")?,
        };
        Ok(SealedMessage {
            sender_identity_key,
            body,
        })
    }
}

/// The wire form of a sealed message sent directly: without its sender's
/// identity key (the recipient takes it from the connection).
pub(crate) fn direct_to_wire(m: &SealedMessage) -> pb::SealedMessage {
    let mut w = pb::SealedMessage::from(m);
    w.sender_identity_key = Vec::new();
    w
}

impl From<&SealedMessage> for pb::SealedMessage {
    fn from(m: &SealedMessage) -> Self {
        Self {
            sender_identity_key: m.sender_identity_key.as_bytes().to_vec(),
            body: Some(match &m.body {
                SealedBody::Initial(i) => pb::sealed_message::Body::Initial(i.as_ref().into()),
                SealedBody::Message(r) => pb::sealed_message::Body::Message(r.into()),
            }),
        }
    }
}

impl TryFrom<pb::Plaintext> for Plaintext {
    type Error = DecodeError;

    fn try_from(w: pb::Plaintext) -> Result<Self> {
        bytes_at_most(&w.padding, PLAINTEXT_BLOCK, "padding")?;
        let content = match required(w.content, "content")? {
            pb::plaintext::Content::Text(t) => {
                bytes_at_most(t.as_bytes(), MAX_TEXT_BYTES, "text")?;
                Content::Text(t)
            }
            pb::plaintext::Content::Receipt(r) => {
                at_most(&r.message_ids, MAX_RECEIPT_IDS, "receipt.message_ids")?;
                if r.message_ids.is_empty() {
                    return Err(DecodeError::new(
                        "receipt.message_ids",
                        DecodeErrorKind::TooFew { min: 1, actual: 0 },
                    ));
                }
                let ids = r
                    .message_ids
                    .iter()
                    .map(|b| message_id(b, "receipt.message_ids"))
                    .collect::<Result<Vec<_>>>()?;
                Content::Receipt(ids)
            }
            pb::plaintext::Content::Rewound(pb::Rewound {}) => Content::Rewound,
        };
        Ok(Self {
            message_id: message_id(&w.message_id, "message_id")?,
            sent: UnixMillis(w.sent_ms),
            content,
        })
    }
}

impl From<&Plaintext> for pb::Plaintext {
    fn from(p: &Plaintext) -> Self {
        let content = match &p.content {
            Content::Text(t) => pb::plaintext::Content::Text(t.clone()),
            Content::Receipt(ids) => pb::plaintext::Content::Receipt(pb::Receipt {
                message_ids: ids.iter().map(|i| i.as_bytes().to_vec()).collect(),
            }),
            Content::Rewound => pb::plaintext::Content::Rewound(pb::Rewound {}),
        };
        Self {
            message_id: p.message_id.as_bytes().to_vec(),
            sent_ms: p.sent.0,
            content: Some(content),
            padding: Vec::new(),
        }
    }
}
