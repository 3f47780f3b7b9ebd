//! End-to-end encrypted payloads: ratchet messages, X3DH initial messages,
//! sealed messages and their plaintext.

use tacnode_domain::e2e::{
    AnonymousBody, AnonymousInitial, MAX_CIPHERTEXT_BYTES, MESSAGE_NONCE_LEN, MESSAGE_SALT_LEN,
    MailboxPayload, RatchetHeader, RatchetMessage, SEALED_SENDER_CIPHERTEXT_LEN_INITIAL,
    SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE, SYNTHETIC_NONCE, SealedBody, SealedMessage, SealedSender,
    SenderSealedMessage, X3dhInitial,
};
use tacnode_domain::{
    Content, IdentityKey, KEY_LEN, MAX_DISTRIBUTION_BYTES, MAX_INVITATION_OPS, MAX_RECEIPT_IDS,
    MAX_TEXT_BYTES, Plaintext, UnixMillis,
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
                nonce: message_nonce(&h.nonce, "header.nonce")?,
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
                nonce: if m.header.is_synthetic() {
                    Vec::new()
                } else {
                    match salt_of(&m.header.nonce) {
                        Some(salt) => salt.to_vec(),
                        None => m.header.nonce.to_vec(),
                    }
                },
            }),
            ciphertext: m.ciphertext.clone(),
        }
    }
}

/// A nonce from the wire: none (AES-256-GCM-SIV), 12 bytes, or an 8-byte
/// salt followed by 4 zeros. A written nonce of zeros is refused: it would
/// read as the synthetic form, which has one encoding only (none).
fn message_nonce(bytes: &[u8], field: &str) -> Result<[u8; MESSAGE_NONCE_LEN]> {
    if bytes.is_empty() {
        return Ok(SYNTHETIC_NONCE);
    }
    let nonce = if bytes.len() == MESSAGE_SALT_LEN {
        let mut nonce = [0u8; MESSAGE_NONCE_LEN];
        nonce[..MESSAGE_SALT_LEN].copy_from_slice(bytes);
        nonce
    } else {
        fixed(bytes, field)?
    };
    if nonce == SYNTHETIC_NONCE {
        return Err(DecodeError::new(
            field,
            DecodeErrorKind::Invalid("a written nonce of zeros"),
        ));
    }
    Ok(nonce)
}

/// The salt of a nonce whose last bytes are zero (as this node makes
/// them), or `None` for 12 random bytes.
fn salt_of(nonce: &[u8; MESSAGE_NONCE_LEN]) -> Option<&[u8]> {
    let (salt, rest) = nonce.split_at(MESSAGE_SALT_LEN);
    rest.iter().all(|b| *b == 0).then_some(salt)
}

/// A ratchet message's wire body: `siv` for a message sealed with
/// AES-256-GCM-SIV (all this node seals), else, for a stored message sealed
/// before it, `compact` with its salt, or the older `message` form for a
/// nonce of 12 random bytes.
fn message_body(m: &RatchetMessage) -> pb::sealed_message::Body {
    if m.header.is_synthetic() {
        return pb::sealed_message::Body::Siv(compact_bytes(m, &[]));
    }
    match salt_of(&m.header.nonce) {
        Some(salt) => pb::sealed_message::Body::Compact(compact_bytes(m, salt)),
        None => pb::sealed_message::Body::Message(m.into()),
    }
}

/// Ratchet key ‖ previous chain length (varint) ‖ message number (varint)
/// ‖ `salt` ‖ ciphertext.
pub(crate) fn compact_bytes(m: &RatchetMessage, salt: &[u8]) -> Vec<u8> {
    let h = &m.header;
    let mut out = Vec::with_capacity(KEY_LEN + 10 + salt.len() + m.ciphertext.len());
    out.extend_from_slice(h.ratchet_key.as_bytes());
    prost::encoding::encode_varint(u64::from(h.previous_chain_length), &mut out);
    prost::encoding::encode_varint(u64::from(h.message_number), &mut out);
    out.extend_from_slice(salt);
    out.extend_from_slice(&m.ciphertext);
    out
}

/// Which compact form: with the ChaCha20-Poly1305 salt (`compact`), or
/// without a nonce (`siv`).
#[derive(Clone, Copy)]
pub(crate) enum CompactForm {
    /// `SealedMessage.compact`.
    Salted,
    /// `SealedMessage.siv` and `Envelope.direct_siv`.
    Synthetic,
}

/// Decodes [`message_body`]'s compact forms, strictly: canonical varints
/// that fit 32 bits, a ciphertext no longer than [`MAX_CIPHERTEXT_BYTES`].
pub(crate) fn compact_message(bytes: &[u8], form: CompactForm) -> Result<RatchetMessage> {
    let name = match form {
        CompactForm::Salted => "compact",
        CompactForm::Synthetic => "siv",
    };
    let short = || {
        DecodeError::new(
            name,
            DecodeErrorKind::Invalid("shorter than a ratchet header"),
        )
    };
    let (key, mut rest) = bytes.split_at_checked(KEY_LEN).ok_or_else(short)?;
    let mut counter = |field: &str| -> Result<u32> {
        let before = rest.len();
        let bad = || {
            DecodeError::new(
                field,
                DecodeErrorKind::Invalid("not a canonical u32 varint"),
            )
        };
        let v = prost::encoding::decode_varint(&mut rest).map_err(|_| bad())?;
        let used = before.saturating_sub(rest.len());
        if prost::encoding::encoded_len_varint(v) != used {
            return Err(bad());
        }
        u32::try_from(v).map_err(|_| bad())
    };
    let previous_chain_length = counter(&format!("{name}.previous_chain_length"))?;
    let message_number = counter(&format!("{name}.message_number"))?;
    let (nonce, ciphertext) = match form {
        CompactForm::Salted => {
            let (salt, ciphertext) = rest.split_at_checked(MESSAGE_SALT_LEN).ok_or_else(short)?;
            (message_nonce(salt, "compact.nonce")?, ciphertext)
        }
        CompactForm::Synthetic => (SYNTHETIC_NONCE, rest),
    };
    bytes_at_most(
        ciphertext,
        MAX_CIPHERTEXT_BYTES,
        &format!("{name}.ciphertext"),
    )?;
    Ok(RatchetMessage {
        header: RatchetHeader {
            ratchet_key: dh_key(key, &format!("{name}.ratchet_key"))?,
            previous_chain_length,
            message_number,
            nonce,
        },
        ciphertext: ciphertext.to_vec(),
    })
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
        if !w.sealed_sender.is_empty() {
            return Err(DecodeError::new(
                "sealed_sender",
                DecodeErrorKind::Invalid("a sealed sender outside a mailbox payload"),
            ));
        }
        let body = match required(w.body, "body")? {
            pb::sealed_message::Body::Initial(i) => SealedBody::Initial(Box::new(
                i.try_into().map_err(|e: DecodeError| e.within("initial"))?,
            )),
            pb::sealed_message::Body::Message(m) => {
                SealedBody::Message(m.try_into().map_err(|e: DecodeError| e.within("message"))?)
            }
            pb::sealed_message::Body::Compact(b) => {
                SealedBody::Message(compact_message(&b, CompactForm::Salted)?)
            }
            pb::sealed_message::Body::Siv(b) => {
                SealedBody::Message(compact_message(&b, CompactForm::Synthetic)?)
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
                SealedBody::Message(r) => message_body(r),
            }),
            sealed_sender: Vec::new(),
        }
    }
}

/// A mailbox payload from the wire: with a sealed sender (nothing in clear
/// names the sender), or in the form written before sealed sender.
pub(crate) fn mailbox_payload_from_wire(w: pb::SealedMessage) -> Result<MailboxPayload> {
    if w.sealed_sender.is_empty() {
        return sealed_from_wire(w, None).map(MailboxPayload::Unsealed);
    }
    if !w.sender_identity_key.is_empty() {
        return Err(DecodeError::new(
            "sender_identity_key",
            DecodeErrorKind::Invalid("in clear beside a sealed sender"),
        ));
    }
    let body = match required(w.body, "body")? {
        pb::sealed_message::Body::Initial(i) => AnonymousBody::Initial(Box::new(
            anonymous_initial(i).map_err(|e| e.within("initial"))?,
        )),
        pb::sealed_message::Body::Message(m) => {
            AnonymousBody::Message(m.try_into().map_err(|e: DecodeError| e.within("message"))?)
        }
        pb::sealed_message::Body::Compact(b) => {
            AnonymousBody::Message(compact_message(&b, CompactForm::Salted)?)
        }
        pb::sealed_message::Body::Siv(b) => {
            AnonymousBody::Message(compact_message(&b, CompactForm::Synthetic)?)
        }
    };
    let box_len = match body {
        AnonymousBody::Initial(_) => SEALED_SENDER_CIPHERTEXT_LEN_INITIAL,
        AnonymousBody::Message(_) => SEALED_SENDER_CIPHERTEXT_LEN_MESSAGE,
    };
    if w.sealed_sender.len() != KEY_LEN + box_len {
        return Err(DecodeError::new(
            "sealed_sender",
            DecodeErrorKind::Length {
                expected: KEY_LEN + box_len,
                actual: w.sealed_sender.len(),
            },
        ));
    }
    let (ephemeral, ciphertext) = w.sealed_sender.split_at(KEY_LEN);
    Ok(MailboxPayload::SenderSealed(SenderSealedMessage {
        sealed_sender: SealedSender {
            ephemeral_key: dh_key(ephemeral, "sealed_sender")?,
            ciphertext: ciphertext.to_vec(),
        },
        body,
    }))
}

/// An initial message of a sealed-sender payload: what names the initiator
/// must be absent (it is in the sealed sender).
fn anonymous_initial(w: pb::X3dhInitial) -> Result<AnonymousInitial> {
    for (field, value) in [
        ("identity_key", &w.identity_key),
        ("device_key", &w.device_key),
        ("device_key_signature", &w.device_key_signature),
    ] {
        if !value.is_empty() {
            return Err(DecodeError::new(
                field,
                DecodeErrorKind::Invalid("in clear beside a sealed sender"),
            ));
        }
    }
    Ok(AnonymousInitial {
        ephemeral_key: dh_key(&w.ephemeral_key, "ephemeral_key")?,
        signed_prekey_id: w.signed_prekey_id,
        one_time_prekey_id: w.one_time_prekey_id,
        message: required(w.message, "message")?
            .try_into()
            .map_err(|e: DecodeError| e.within("message"))?,
    })
}

impl From<&SenderSealedMessage> for pb::SealedMessage {
    fn from(m: &SenderSealedMessage) -> Self {
        let mut sealed_sender = Vec::with_capacity(KEY_LEN + m.sealed_sender.ciphertext.len());
        sealed_sender.extend_from_slice(m.sealed_sender.ephemeral_key.as_bytes());
        sealed_sender.extend_from_slice(&m.sealed_sender.ciphertext);
        Self {
            sender_identity_key: Vec::new(),
            body: Some(match &m.body {
                AnonymousBody::Initial(i) => pb::sealed_message::Body::Initial(pb::X3dhInitial {
                    identity_key: Vec::new(),
                    device_key: Vec::new(),
                    device_key_signature: Vec::new(),
                    ephemeral_key: i.ephemeral_key.as_bytes().to_vec(),
                    signed_prekey_id: i.signed_prekey_id,
                    one_time_prekey_id: i.one_time_prekey_id,
                    message: Some((&i.message).into()),
                }),
                AnonymousBody::Message(r) => message_body(r),
            }),
            sealed_sender,
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
            pb::plaintext::Content::GroupKey(k) => {
                bytes_at_most(
                    &k.distribution,
                    MAX_DISTRIBUTION_BYTES,
                    "group_key.distribution",
                )?;
                Content::GroupKey {
                    group: tacnode_domain::group::GroupId(fixed(&k.group, "group_key.group")?),
                    distribution: tacnode_domain::store::SecretBytes::from(k.distribution),
                }
            }
            pb::plaintext::Content::GroupInvite(i) => {
                at_most(&i.ops, MAX_INVITATION_OPS, "group_invite.ops")?;
                if i.ops.is_empty() {
                    return Err(DecodeError::new(
                        "group_invite.ops",
                        DecodeErrorKind::TooFew { min: 1, actual: 0 },
                    ));
                }
                let ops = i
                    .ops
                    .into_iter()
                    .map(|op| {
                        crate::group::op_from_wire(op).map_err(|e| e.within("group_invite.ops"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Content::GroupInvite(ops)
            }
            pb::plaintext::Content::FileOffer(o) => {
                Content::FileOffer(crate::file_transfer::offer_from_wire(o)?)
            }
            pb::plaintext::Content::FileBlock(b) => crate::file_transfer::block_from_wire(b)?,
            pb::plaintext::Content::FileReceipt(r) => crate::file_transfer::receipt_from_wire(r)?,
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
            Content::GroupKey {
                group,
                distribution,
            } => pb::plaintext::Content::GroupKey(pb::GroupKey {
                group: group.as_bytes().to_vec(),
                distribution: distribution.as_slice().to_vec(),
            }),
            Content::GroupInvite(ops) => pb::plaintext::Content::GroupInvite(pb::GroupInvite {
                ops: ops.iter().map(crate::group::op_to_wire).collect(),
            }),
            Content::FileOffer(o) => {
                pb::plaintext::Content::FileOffer(crate::file_transfer::offer_to_wire(o))
            }
            Content::FileBlock {
                offer,
                index,
                content,
            } => crate::file_transfer::block_to_wire(offer, *index, content),
            Content::FileReceipt { transfer, declined } => {
                crate::file_transfer::receipt_to_wire(transfer, declined.as_ref())
            }
        };
        Self {
            message_id: p.message_id.as_bytes().to_vec(),
            sent_ms: p.sent.0,
            content: Some(content),
            padding: Vec::new(),
        }
    }
}
