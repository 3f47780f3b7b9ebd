//! Wire format of tacnode: the protobuf messages generated from
//! `proto/tacnode/v1`, strict wire → domain conversions, and a sans-IO
//! length-prefixed frame codec.
//!
//! - [`Message`]: every request, response and push. [`Message::encode`] makes
//!   one `Envelope`; [`Message::decode`] parses and validates one, returning a
//!   [`DecodeError`] that names the offending field (`store.record.peer.signature`).
//! - [`encode_plaintext`] / [`decode_plaintext`]: what a ratchet message encrypts.
//! - [`encode_mailbox_payload`] / [`decode_mailbox_payload`]: a mailbox
//!   payload (the sender sealed to the recipient); [`encode_sealed`] /
//!   [`decode_sealed`]: the form written before sealed sender.
//! - [`frame`]: feed bytes with [`frame::FrameDecoder::feed`], take whole frames
//!   with [`frame::FrameDecoder::next_frame`]; [`frame::encode_frame`] prefixes one.
//! - [`encode_group_broadcast`] / [`decode_group_broadcast`]: what a group
//!   broadcast carries (a sender-key ciphertext or a membership operation);
//!   [`encode_group_op`] / [`decode_group_op`]: one operation alone.
//! - [`encode_announcement`] / [`decode_announcement`]: a signed alert or
//!   service advertisement for the whole network.
//! - [`encode_beacon`] / [`decode_beacon`]: a LAN beacon, alone in one datagram.
//! - [`pb`]: the generated protobuf types, for code that needs the raw schema.
//!
//! Every decoder is bounded: input over [`frame::MAX_FRAME_LEN`] is refused
//! before parsing, fixed-size fields must have their exact length, and every
//! repeated field and string has a named limit.

mod announcement;
mod answer;
mod beacon;
mod dht;
mod error;
mod fields;
mod file_transfer;
pub mod frame;
mod gossip;
mod group;
mod mailbox;
mod message;
mod records;
mod sealed;

/// Protobuf types generated from `proto/tacnode/v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/tacnode.v1.rs"));
}

pub use announcement::{MAX_ANNOUNCEMENT_BYTES, decode_announcement, encode_announcement};
pub use answer::{Answer, OBSERVED_V4_LEN, OBSERVED_V6_LEN};
pub use beacon::{BEACON_VERSION, decode_beacon, encode_beacon};
pub use error::{DecodeError, DecodeErrorKind};
pub use file_transfer::MAX_SEALED_BLOCK_BYTES;
pub use group::{decode_group_broadcast, decode_group_op, encode_group_broadcast, encode_group_op};
pub use mailbox::{decode_mailbox_deposit, encode_mailbox_deposit};
pub use message::{
    MAX_ERROR_DETAIL_BYTES, Message, PLAINTEXT_BLOCK, PROTOCOL_VERSION, decode_mailbox_payload,
    decode_plaintext, decode_plaintext_with, decode_sealed, encode_mailbox_payload,
    encode_plaintext, encode_plaintext_with, encode_sealed, padded_plaintext_len,
};
pub use records::{
    MAX_ADMISSION_FILE_BYTES, MEMBER_CERTIFICATE_LABEL, REVOCATION_LIST_LABEL,
    decode_member_certificate, decode_published_prekeys, decode_revocation_list,
    encode_member_certificate, encode_published_prekeys, encode_revocation_list,
    from_admission_text, to_admission_text,
};
