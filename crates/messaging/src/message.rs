//! The top-level [`Message`]: every request, response and push, decoded from
//! and encoded to one protobuf `Envelope`.

use std::net::SocketAddr;

use prost::Message as _;
use tacnode_domain::dht::{DhtRequest, DhtResponse, RefusalCode};
use tacnode_domain::e2e::{
    MailboxPayload, PrekeyBundle, SealedBody, SealedMessage, SenderSealedMessage,
};
use tacnode_domain::gossip::GossipMessage;
use tacnode_domain::mailbox::{MailboxAck, MailboxDeposit, MailboxEntry, MailboxFetch, NONCE_LEN};
use tacnode_domain::onion::ONION_PACKET_LEN;
use tacnode_domain::{Content, MessageId, Plaintext};
use tacnode_domain::{
    IdentityKey, MAX_DIRECT_BATCH, NodeId, RelayedAnswer, RelayedCall, UnixMillis,
};

use crate::answer::Answer;
use crate::dht;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{Result, at_most, bytes_at_most, identity_key, node_id, required, signature};
use crate::frame::MAX_FRAME_LEN;
use crate::mailbox;
use crate::pb;

/// The protocol version this node speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The smallest padded plaintext and the largest padding step (see
/// [`padded_plaintext_len`]); also the most padding a received plaintext
/// may carry.
pub const PLAINTEXT_BLOCK: usize = 64;
/// Longest human-readable detail in an error answer, in bytes.
pub const MAX_ERROR_DETAIL_BYTES: usize = 256;

/// Any message of the protocol, in domain types.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Message {
    /// A request failed.
    Error {
        /// Why.
        code: RefusalCode,
        /// Human-readable detail (no secrets).
        detail: String,
    },
    /// A Kademlia request.
    DhtRequest(DhtRequest),
    /// A Kademlia response (a `Refused` one is sent as [`Message::Error`]).
    DhtResponse(DhtResponse),
    /// Ask a peer for its prekey bundle.
    PrekeyBundleRequest,
    /// A peer's prekey bundle.
    PrekeyBundle(PrekeyBundle),
    /// Direct delivery of a sealed message.
    Direct(SealedMessage),
    /// The direct message was accepted.
    DirectAck,
    /// Direct delivery of 1..=[`MAX_DIRECT_BATCH`] sealed messages, in order.
    DirectBatch(Vec<SealedMessage>),
    /// Answer to a batch: every message not listed was accepted.
    DirectBatchAck {
        /// Zero-based indices of the refused messages.
        refused: Vec<u32>,
    },
    /// Hold a sealed message for its recipient.
    MailboxDeposit(MailboxDeposit),
    /// Answer to a deposit.
    MailboxDeposited {
        /// True when held.
        accepted: bool,
    },
    /// Ask for an ownership challenge.
    MailboxChallengeRequest {
        /// Mailbox owner.
        recipient: NodeId,
    },
    /// A fresh challenge.
    MailboxChallenge {
        /// Random nonce.
        nonce: [u8; NONCE_LEN],
        /// Said to the owner itself only: nothing is held, no need to fetch.
        nothing_held: bool,
    },
    /// Fetch held entries.
    MailboxFetch(MailboxFetch),
    /// Held entries.
    MailboxEntries {
        /// Oldest first.
        entries: Vec<MailboxEntry>,
        /// More remain.
        more: bool,
    },
    /// Delete entries.
    MailboxAck(MailboxAck),
    /// Entries deleted.
    MailboxAcked {
        /// How many.
        deleted: u32,
    },
    /// Ask a server to dial us back at the address it sees this request
    /// come from.
    DialBackRequest,
    /// What the dial-back found.
    DialedBack {
        /// The handshake over a new connection succeeded.
        reachable: bool,
    },
    /// One message of a gossip overlay (group channels, announcements),
    /// answered by [`Message::GossipAck`].
    Gossip(GossipMessage),
    /// The overlay message was taken.
    GossipAck,
    /// Blocks of a file wanted from its sender (or: it arrived whole).
    FileChunkRequest(tacnode_domain::file_transfer::FileChunkRequest),
    /// The blocks asked for, sealed, in order.
    FileChunks(Vec<Vec<u8>>),
    /// An onion packet for this hop ([`ONION_PACKET_LEN`] bytes).
    Onion(Vec<u8>),
    /// The onion packet was taken.
    OnionAccepted,
    /// Keep a relay reservation for calls to us (see
    /// [`tacnode_domain::relay`]).
    RelayReserve,
    /// The reservation holds for this long unless renewed.
    RelayReservation {
        /// Milliseconds from the answer.
        ttl_ms: u64,
    },
    /// A call through this relay, or (at the node called) through ours.
    RelayedCall(Box<RelayedCall>),
    /// The called node's signed answer to a relayed call.
    RelayedAnswer(RelayedAnswer),
    /// Let us open a direct connection: dial me at my observed address.
    HolePunch {
        /// The caller's observed address.
        observed: SocketAddr,
    },
    /// Dialling you now; dial me at mine.
    HolePunchAnswer {
        /// The node's observed address.
        observed: SocketAddr,
    },
}

impl Message {
    /// Encodes into an `Envelope` of the current [`PROTOCOL_VERSION`].
    pub fn encode(&self) -> Vec<u8> {
        pb::Envelope {
            version: PROTOCOL_VERSION,
            body: Some(self.to_wire()),
            time_ms: 0,
            observed: Vec::new(),
        }
        .encode_to_vec()
    }

    /// Encodes an answer stamped with the answering node's clock and, when
    /// given, the address the request came from as this node saw it.
    pub fn encode_answer(&self, time: UnixMillis, observed: Option<SocketAddr>) -> Vec<u8> {
        pb::Envelope {
            version: PROTOCOL_VERSION,
            body: Some(self.to_wire()),
            time_ms: time.0,
            observed: crate::answer::observed_to_wire(observed),
        }
        .encode_to_vec()
    }

    /// Decodes an answer with the clock and the observed address it is
    /// stamped with, if any.
    pub fn decode_answer(bytes: &[u8]) -> Result<Answer> {
        let env = Self::envelope(bytes)?;
        let time = (env.time_ms != 0).then_some(UnixMillis(env.time_ms));
        let observed = crate::answer::observed(&env.observed)?;
        let message = Self::from_wire(required(env.body, "body")?, None)?;
        if matches!(message, Self::Direct(_) | Self::DirectBatch(_)) {
            // Its sender would be whoever answered: only a request names it.
            return Err(DecodeError::new(
                "body",
                DecodeErrorKind::Invalid("a direct delivery is a request, never an answer"),
            ));
        }
        Ok(Answer {
            message,
            time,
            observed,
        })
    }

    /// Decodes and validates an `Envelope`. Input over [`MAX_FRAME_LEN`] is
    /// refused before parsing.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_wire(required(Self::envelope(bytes)?.body, "body")?, None)
    }

    /// Decodes a request from the authenticated peer whose identity key is
    /// `sender`: a direct delivery leaves the key out of its sealed
    /// messages (the connection authenticated it), and this puts it back.
    pub fn decode_request(bytes: &[u8], sender: &IdentityKey) -> Result<Self> {
        Self::from_wire(required(Self::envelope(bytes)?.body, "body")?, Some(sender))
    }

    fn envelope(bytes: &[u8]) -> Result<pb::Envelope> {
        bytes_at_most(bytes, MAX_FRAME_LEN, "envelope")?;
        let env = pb::Envelope::decode(bytes)
            .map_err(|e| DecodeError::new("envelope", DecodeErrorKind::Protobuf(e.to_string())))?;
        if env.version != PROTOCOL_VERSION {
            return Err(DecodeError::new(
                "version",
                DecodeErrorKind::UnsupportedVersion(env.version),
            ));
        }
        Ok(env)
    }

    fn to_wire(&self) -> pb::envelope::Body {
        use pb::envelope::Body;
        match self {
            Self::Error { code, detail } => Body::Error(pb::ErrorResponse {
                code: dht::refusal_to_wire(*code),
                detail: truncate(detail, MAX_ERROR_DETAIL_BYTES).to_owned(),
            }),
            Self::DhtRequest(r) => dht::request_to_wire(r),
            Self::DhtResponse(r) => dht::response_to_wire(r),
            Self::PrekeyBundleRequest => Body::PrekeyBundle(pb::PrekeyBundleRequest {}),
            Self::PrekeyBundle(b) => Body::PrekeyBundleResponse(pb::PrekeyBundleResponse {
                bundle: Some(b.into()),
            }),
            Self::Direct(SealedMessage {
                body: SealedBody::Message(m),
                ..
            }) if m.header.is_synthetic() => Body::DirectSiv(crate::sealed::compact_bytes(m, &[])),
            Self::Direct(s) => Body::DirectSealed(crate::sealed::direct_to_wire(s)),
            Self::DirectAck => Body::DirectAck(pb::DirectMessageAck {}),
            Self::Onion(packet) => Body::Onion(pb::OnionPacket {
                packet: packet.clone(),
            }),
            Self::OnionAccepted => Body::OnionAccepted(pb::OnionAccepted {}),
            Self::RelayReserve => Body::RelayReserve(pb::RelayReserve {}),
            Self::RelayReservation { ttl_ms } => {
                Body::RelayReservation(pb::RelayReservation { ttl_ms: *ttl_ms })
            }
            Self::RelayedCall(c) => Body::RelayedCall(pb::RelayedCall {
                caller: c.caller.as_bytes().to_vec(),
                relay: c.relay.as_bytes().to_vec(),
                to: c.to.as_bytes().to_vec(),
                body: c.body.clone(),
                signature: c.signature.as_bytes().to_vec(),
                nonce: c.nonce.to_vec(),
                member: c.member.as_ref().map(pb::MemberCertificate::from),
            }),
            Self::HolePunch { observed } => Body::HolePunch(pb::HolePunch {
                observed: Some(crate::fields::endpoint_to_wire(&tacnode_domain::Endpoint(
                    *observed,
                ))),
            }),
            Self::HolePunchAnswer { observed } => Body::HolePunchAnswer(pb::HolePunchAnswer {
                observed: Some(crate::fields::endpoint_to_wire(&tacnode_domain::Endpoint(
                    *observed,
                ))),
            }),
            Self::RelayedAnswer(a) => Body::RelayedAnswer(pb::RelayedAnswer {
                body: a.body.clone(),
                signature: a.signature.as_bytes().to_vec(),
            }),
            Self::DirectBatch(list) => Body::DirectBatch(pb::DirectBatch {
                sealed: list.iter().map(crate::sealed::direct_to_wire).collect(),
            }),
            Self::DirectBatchAck { refused } => Body::DirectBatchAck(pb::DirectBatchAck {
                refused: refused.clone(),
            }),
            Self::MailboxDeposit(d) => Body::MailboxDeposit(d.into()),
            Self::MailboxDeposited { accepted } => {
                Body::MailboxDepositResponse(pb::MailboxDepositResponse {
                    accepted: *accepted,
                })
            }
            Self::MailboxChallengeRequest { recipient } => {
                Body::MailboxChallengeRequest(pb::MailboxChallengeRequest {
                    recipient: recipient.as_bytes().to_vec(),
                })
            }
            Self::MailboxChallenge {
                nonce,
                nothing_held,
            } => Body::MailboxChallenge(pb::MailboxChallenge {
                nonce: nonce.to_vec(),
                nothing_held: *nothing_held,
            }),
            Self::MailboxFetch(f) => Body::MailboxFetch(f.into()),
            Self::MailboxEntries { entries, more } => {
                Body::MailboxFetchResponse(pb::MailboxFetchResponse {
                    entries: mailbox::entries_to_wire(entries),
                    more: *more,
                })
            }
            Self::MailboxAck(a) => Body::MailboxAck(a.into()),
            Self::MailboxAcked { deleted } => {
                Body::MailboxAckResponse(pb::MailboxAckResponse { deleted: *deleted })
            }
            Self::DialBackRequest => Body::DialBack(pb::DialBackRequest {}),
            Self::DialedBack { reachable } => Body::DialBackResponse(pb::DialBackResponse {
                reachable: *reachable,
            }),
            Self::Gossip(g) => Body::Gossip(crate::gossip::to_wire(g)),
            Self::GossipAck => Body::GossipAck(pb::GossipAck {}),
            Self::FileChunkRequest(r) => {
                Body::FileChunkRequest(crate::file_transfer::request_to_wire(r))
            }
            Self::FileChunks(blocks) => Body::FileChunkResponse(pb::FileChunkResponse {
                blocks: blocks.clone(),
            }),
        }
    }

    /// `sender`: the authenticated peer a request came from, whose identity
    /// key a direct delivery leaves out.
    fn from_wire(body: pb::envelope::Body, sender: Option<&IdentityKey>) -> Result<Self> {
        use pb::envelope::Body;
        let within = |name: &'static str| move |e: DecodeError| e.within(name);
        Ok(match body {
            Body::Error(e) => {
                bytes_at_most(e.detail.as_bytes(), MAX_ERROR_DETAIL_BYTES, "error.detail")?;
                Self::Error {
                    code: dht::refusal(e.code, "error.code")?,
                    detail: e.detail,
                }
            }
            Body::Ping(p) => Self::DhtRequest(DhtRequest::Ping {
                sender: dht::sender(p.sender).map_err(within("ping"))?,
            }),
            Body::PingResponse(_) => Self::DhtResponse(DhtResponse::Pong),
            Body::FindNode(r) => Self::DhtRequest(dht::find_node(r).map_err(within("find_node"))?),
            Body::FindNodeResponse(r) => Self::DhtResponse(DhtResponse::Nodes(
                dht::contacts(r.closer, "closer").map_err(within("find_node_response"))?,
            )),
            Body::FindValue(r) => {
                Self::DhtRequest(dht::find_value(r).map_err(within("find_value"))?)
            }
            Body::FindValueResponse(r) => Self::DhtResponse(
                dht::find_value_response(r).map_err(within("find_value_response"))?,
            ),
            Body::Store(r) => Self::DhtRequest(dht::store(r).map_err(within("store"))?),
            Body::StoreResponse(r) => {
                Self::DhtResponse(dht::store_response(r).map_err(within("store_response"))?)
            }
            Body::PrekeyBundle(_) => Self::PrekeyBundleRequest,
            Body::PrekeyBundleResponse(r) => Self::PrekeyBundle(
                required(r.bundle, "bundle")
                    .and_then(PrekeyBundle::try_from)
                    .map_err(within("prekey_bundle_response"))?,
            ),
            Body::Direct(d) => Self::Direct(
                required(d.sealed, "sealed")
                    .and_then(|w| crate::sealed::sealed_from_wire(w, sender))
                    .map_err(within("direct"))?,
            ),
            Body::DirectSealed(w) => Self::Direct(
                crate::sealed::sealed_from_wire(w, sender).map_err(within("direct_sealed"))?,
            ),
            Body::DirectSiv(b) => Self::Direct(SealedMessage {
                // Only the connection says who sent it.
                sender_identity_key: match sender {
                    Some(key) => *key,
                    None => {
                        return Err(DecodeError::new(
                            "direct_siv",
                            DecodeErrorKind::Invalid("not from an authenticated peer"),
                        ));
                    }
                },
                body: SealedBody::Message(
                    crate::sealed::compact_message(&b, crate::sealed::CompactForm::Synthetic)
                        .map_err(within("direct_siv"))?,
                ),
            }),
            Body::DirectAck(_) => Self::DirectAck,
            Body::Onion(o) => {
                if o.packet.len() != ONION_PACKET_LEN {
                    return Err(DecodeError::new(
                        "onion.packet",
                        DecodeErrorKind::Length {
                            expected: ONION_PACKET_LEN,
                            actual: o.packet.len(),
                        },
                    ));
                }
                Self::Onion(o.packet)
            }
            Body::OnionAccepted(_) => Self::OnionAccepted,
            Body::RelayReserve(_) => Self::RelayReserve,
            Body::RelayReservation(r) => Self::RelayReservation { ttl_ms: r.ttl_ms },
            Body::RelayedCall(c) => Self::RelayedCall(Box::new(RelayedCall {
                caller: identity_key(&c.caller, "relayed_call.caller")?,
                relay: node_id(&c.relay, "relayed_call.relay")?,
                to: node_id(&c.to, "relayed_call.to")?,
                nonce: crate::fields::fixed(&c.nonce, "relayed_call.nonce")?,
                member: c
                    .member
                    .map(tacnode_domain::MemberCertificate::try_from)
                    .transpose()
                    .map_err(|e| e.within("relayed_call.member"))?,
                body: c.body,
                signature: signature(&c.signature, "relayed_call.signature")?,
            })),
            Body::HolePunch(h) => Self::HolePunch {
                observed: crate::fields::endpoint(
                    required(h.observed.as_ref(), "hole_punch.observed")?,
                    "hole_punch.observed",
                )?
                .0,
            },
            Body::HolePunchAnswer(h) => Self::HolePunchAnswer {
                observed: crate::fields::endpoint(
                    required(h.observed.as_ref(), "hole_punch_answer.observed")?,
                    "hole_punch_answer.observed",
                )?
                .0,
            },
            Body::RelayedAnswer(a) => Self::RelayedAnswer(RelayedAnswer {
                body: a.body,
                signature: signature(&a.signature, "relayed_answer.signature")?,
            }),
            Body::DirectBatch(b) => {
                at_most(&b.sealed, MAX_DIRECT_BATCH, "direct_batch.sealed")?;
                if b.sealed.is_empty() {
                    return Err(DecodeError::new(
                        "direct_batch.sealed",
                        DecodeErrorKind::TooFew { min: 1, actual: 0 },
                    ));
                }
                Self::DirectBatch(
                    b.sealed
                        .into_iter()
                        .map(|w| crate::sealed::sealed_from_wire(w, sender))
                        .collect::<Result<_>>()
                        .map_err(within("direct_batch.sealed"))?,
                )
            }
            Body::DirectBatchAck(a) => {
                at_most(&a.refused, MAX_DIRECT_BATCH, "direct_batch_ack.refused")?;
                Self::DirectBatchAck { refused: a.refused }
            }
            Body::MailboxDeposit(d) => {
                Self::MailboxDeposit(d.try_into().map_err(within("mailbox_deposit"))?)
            }
            Body::MailboxDepositResponse(r) => Self::MailboxDeposited {
                accepted: r.accepted,
            },
            Body::MailboxChallengeRequest(r) => Self::MailboxChallengeRequest {
                recipient: node_id(&r.recipient, "mailbox_challenge_request.recipient")?,
            },
            Body::MailboxChallenge(c) => Self::MailboxChallenge {
                nonce: mailbox::nonce(&c.nonce).map_err(within("mailbox_challenge"))?,
                nothing_held: c.nothing_held,
            },
            Body::MailboxFetch(f) => {
                Self::MailboxFetch(f.try_into().map_err(within("mailbox_fetch"))?)
            }
            Body::MailboxFetchResponse(r) => Self::MailboxEntries {
                entries: mailbox::entries(r.entries).map_err(within("mailbox_fetch_response"))?,
                more: r.more,
            },
            Body::MailboxAck(a) => Self::MailboxAck(a.try_into().map_err(within("mailbox_ack"))?),
            Body::MailboxAckResponse(r) => Self::MailboxAcked { deleted: r.deleted },
            Body::DialBack(_) => Self::DialBackRequest,
            Body::DialBackResponse(r) => Self::DialedBack {
                reachable: r.reachable,
            },
            Body::Gossip(g) => Self::Gossip(crate::gossip::from_wire(g).map_err(within("gossip"))?),
            Body::GossipAck(_) => Self::GossipAck,
            Body::FileChunkRequest(r) => {
                Self::FileChunkRequest(crate::file_transfer::request_from_wire(r)?)
            }
            Body::FileChunkResponse(r) => {
                Self::FileChunks(crate::file_transfer::blocks_from_wire(r)?)
            }
        })
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// The length an encoded plaintext of `len` bytes is padded to: at least
/// [`PLAINTEXT_BLOCK`] bytes, then a multiple of Padmé's step for its
/// length (8 bytes below 128, 16 below 512, 32 below 1024), at most
/// [`PLAINTEXT_BLOCK`]: so a ciphertext tells nothing of a plaintext under
/// 64 bytes, and of a longer one its length to within 8 to 64 bytes (at
/// most 1/8 of it; Padmé leaks O(log log L) bits).
pub fn padded_plaintext_len(len: usize) -> usize {
    if len <= PLAINTEXT_BLOCK {
        return PLAINTEXT_BLOCK;
    }
    // Padmé (Nikitin et al., 2019): E = ⌊log2 L⌋, S = ⌊log2 E⌋ + 1, step
    // 2^(E - S).
    let e = len.ilog2();
    let s = e.ilog2() + 1;
    let step = (1usize << e.saturating_sub(s)).min(PLAINTEXT_BLOCK);
    len.next_multiple_of(step)
}

/// Encodes the plaintext of a Double Ratchet message.
///
/// The encoding is padded to [`padded_plaintext_len`] with a `padding`
/// field of zeros (written even when empty: its tag and length are two of
/// the bytes to add).
pub fn encode_plaintext(p: &Plaintext) -> Vec<u8> {
    padded(&pb::Plaintext::from(p))
}

/// Encodes a plaintext like [`encode_plaintext`], but without the id of a
/// text whose id is `id_of(sent, text)` (18 bytes fewer): the receiver
/// derives it with the same function ([`decode_plaintext_with`]), e.g.
/// [`MessageId::of_text`] for the two ends of a session or
/// [`MessageId::of_group_text`] in a group. Any other id is written.
pub fn encode_plaintext_with(
    p: &Plaintext,
    id_of: impl FnOnce(UnixMillis, &str) -> MessageId,
) -> Vec<u8> {
    let mut w = pb::Plaintext::from(p);
    if let Content::Text(text) = &p.content
        && id_of(p.sent, text) == p.message_id
    {
        w.message_id.clear();
    }
    padded(&w)
}

/// `w` encoded and padded to its bucket.
fn padded(w: &pb::Plaintext) -> Vec<u8> {
    let mut out = w.encode_to_vec();
    let base = out.len();
    if padded_plaintext_len(base) != base {
        // The padding field costs a tag byte and a one-byte length (it is
        // 0..PLAINTEXT_BLOCK < 128 bytes long), hence the +2. The target is
        // a fixed point of `padded_plaintext_len`: a multiple of the step
        // that rounding reached never needs rounding again.
        let total = padded_plaintext_len(base.saturating_add(2));
        let zeros = vec![0u8; total.saturating_sub(base).saturating_sub(2)];
        prost::encoding::bytes::encode(PADDING_FIELD, &zeros, &mut out);
    }
    out
}

/// Field number of `Plaintext.padding`.
const PADDING_FIELD: u32 = 15;

/// Decodes and validates the plaintext of a Double Ratchet message; its
/// id must be written (see [`decode_plaintext_with`]).
pub fn decode_plaintext(bytes: &[u8]) -> Result<Plaintext> {
    bytes_at_most(bytes, MAX_FRAME_LEN, "plaintext")?;
    pb::Plaintext::decode(bytes)
        .map_err(|e| DecodeError::new("plaintext", DecodeErrorKind::Protobuf(e.to_string())))?
        .try_into()
}

/// Decodes and validates a plaintext that [`encode_plaintext_with`]
/// wrote: a text without an id gets `id_of(sent, text)`; anything else
/// without one is refused.
pub fn decode_plaintext_with(
    bytes: &[u8],
    id_of: impl FnOnce(UnixMillis, &str) -> MessageId,
) -> Result<Plaintext> {
    bytes_at_most(bytes, MAX_FRAME_LEN, "plaintext")?;
    let mut w = pb::Plaintext::decode(bytes)
        .map_err(|e| DecodeError::new("plaintext", DecodeErrorKind::Protobuf(e.to_string())))?;
    if w.message_id.is_empty()
        && let Some(pb::plaintext::Content::Text(text)) = &w.content
    {
        w.message_id = id_of(UnixMillis(w.sent_ms), text).as_bytes().to_vec();
    }
    w.try_into()
}

/// Encodes a sealed message with its sender's identity key in clear: the
/// mailbox payload written before sealed sender (nodes now deposit
/// [`encode_mailbox_payload`]'s form).
pub fn encode_sealed(s: &SealedMessage) -> Vec<u8> {
    pb::SealedMessage::from(s).encode_to_vec()
}

/// Decodes and validates [`encode_sealed`]'s form.
pub fn decode_sealed(bytes: &[u8]) -> Result<SealedMessage> {
    bytes_at_most(bytes, MAX_FRAME_LEN, "sealed")?;
    pb::SealedMessage::decode(bytes)
        .map_err(|e| DecodeError::new("sealed", DecodeErrorKind::Protobuf(e.to_string())))?
        .try_into()
}

/// Encodes a mailbox payload: the sender sealed to the recipient, nothing
/// in clear naming it.
pub fn encode_mailbox_payload(s: &SenderSealedMessage) -> Vec<u8> {
    pb::SealedMessage::from(s).encode_to_vec()
}

/// Decodes and validates a mailbox payload, sealed sender or (written
/// before it) with the sender's identity key in clear.
pub fn decode_mailbox_payload(bytes: &[u8]) -> Result<MailboxPayload> {
    bytes_at_most(bytes, MAX_FRAME_LEN, "sealed")?;
    let w = pb::SealedMessage::decode(bytes)
        .map_err(|e| DecodeError::new("sealed", DecodeErrorKind::Protobuf(e.to_string())))?;
    crate::sealed::mailbox_payload_from_wire(w)
}
