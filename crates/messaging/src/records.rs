//! Peer records and prekeys: wire <-> domain.

use std::collections::BTreeMap;

use tacnode_domain::e2e::{OneTimePrekey, PrekeyBundle, PublishedPrekeys, SignedPrekey};
use tacnode_domain::{
    Endpoint, MAX_MEMBER_NAME_BYTES, MAX_METADATA_ENTRIES, MAX_METADATA_KEY_BYTES,
    MAX_METADATA_VALUE_BYTES, MAX_REVOKED, MemberCertificate, PeerRecord, RelayHint,
    RevocationList, UnixMillis, UnsignedPeerRecord,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{
    Result, at_most, bytes_at_most, dh_key, endpoint, endpoint_to_wire, endpoints, identity_key,
    node_id, node_type, node_type_to_wire, reachability, reachability_to_wire, required, signature,
};
use crate::pb;

impl TryFrom<pb::PeerRecord> for PeerRecord {
    type Error = DecodeError;

    /// Checks shapes and limits only; call [`PeerRecord::verify`] for signatures.
    fn try_from(w: pb::PeerRecord) -> Result<Self> {
        if w.metadata.len() > MAX_METADATA_ENTRIES {
            return Err(DecodeError::new(
                "metadata",
                DecodeErrorKind::TooMany {
                    max: MAX_METADATA_ENTRIES,
                    actual: w.metadata.len(),
                },
            ));
        }
        for (k, v) in &w.metadata {
            if k.len() > MAX_METADATA_KEY_BYTES || v.len() > MAX_METADATA_VALUE_BYTES {
                return Err(DecodeError::new(
                    "metadata",
                    DecodeErrorKind::Invalid("metadata key or value too long"),
                ));
            }
        }
        let body = UnsignedPeerRecord {
            identity_key: identity_key(&w.identity_key, "identity_key")?,
            device_key: dh_key(&w.device_key, "device_key")?,
            device_key_signature: signature(&w.device_key_signature, "device_key_signature")?,
            endpoints: endpoints(&w.endpoints, "endpoints")?,
            node_type: node_type(w.node_type, "node_type")?,
            last_seen: UnixMillis(w.last_seen_ms),
            metadata: w.metadata.into_iter().collect::<BTreeMap<_, _>>(),
            sequence: w.sequence,
            member: w
                .member
                .map(MemberCertificate::try_from)
                .transpose()
                .map_err(|e| e.within("member"))?,
            reachability: reachability(w.reachability, "reachability")?,
            relay: w
                .relay
                .map(|r| relay_hint(&r))
                .transpose()
                .map_err(|e| e.within("relay"))?,
        };
        let sig = signature(&w.signature, "signature")?;
        Ok(body.with_signature(sig))
    }
}

impl From<&PeerRecord> for pb::PeerRecord {
    fn from(r: &PeerRecord) -> Self {
        let b = &r.body;
        Self {
            identity_key: b.identity_key.as_bytes().to_vec(),
            device_key: b.device_key.as_bytes().to_vec(),
            device_key_signature: b.device_key_signature.as_bytes().to_vec(),
            endpoints: b.endpoints.iter().map(endpoint_to_wire).collect(),
            node_type: node_type_to_wire(b.node_type),
            last_seen_ms: b.last_seen.0,
            metadata: b.metadata.clone(),
            sequence: b.sequence,
            signature: r.signature.as_bytes().to_vec(),
            member: b.member.as_ref().map(pb::MemberCertificate::from),
            reachability: reachability_to_wire(b.reachability),
            relay: b.relay.as_ref().map(relay_hint_to_wire),
        }
    }
}

fn relay_hint(w: &pb::RelayHint) -> Result<RelayHint> {
    Ok(RelayHint {
        node_id: node_id(&w.node_id, "node_id")?,
        endpoint: endpoint(required(w.endpoint.as_ref(), "endpoint")?, "endpoint")?.0,
    })
}

fn relay_hint_to_wire(r: &RelayHint) -> pb::RelayHint {
    pb::RelayHint {
        node_id: r.node_id.as_bytes().to_vec(),
        endpoint: Some(endpoint_to_wire(&Endpoint(r.endpoint))),
    }
}

impl TryFrom<pb::MemberCertificate> for MemberCertificate {
    type Error = DecodeError;

    /// Checks shapes and limits only; admission checks the signature.
    fn try_from(w: pb::MemberCertificate) -> Result<Self> {
        bytes_at_most(w.name.as_bytes(), MAX_MEMBER_NAME_BYTES, "name")?;
        Ok(Self {
            admin: identity_key(&w.admin, "admin")?,
            member: identity_key(&w.member, "member")?,
            role: node_type(w.role, "role")?,
            not_after: UnixMillis(w.not_after_ms),
            name: w.name,
            signature: signature(&w.signature, "signature")?,
        })
    }
}

impl From<&MemberCertificate> for pb::MemberCertificate {
    fn from(c: &MemberCertificate) -> Self {
        Self {
            admin: c.admin.as_bytes().to_vec(),
            member: c.member.as_bytes().to_vec(),
            role: node_type_to_wire(c.role),
            not_after_ms: c.not_after.0,
            name: c.name.clone(),
            signature: c.signature.as_bytes().to_vec(),
        }
    }
}

impl TryFrom<pb::RevocationList> for RevocationList {
    type Error = DecodeError;

    /// Checks shapes and limits only; admission checks the signature.
    fn try_from(w: pb::RevocationList) -> Result<Self> {
        at_most(&w.revoked, MAX_REVOKED, "revoked")?;
        Ok(Self {
            admin: identity_key(&w.admin, "admin")?,
            sequence: w.sequence,
            issued_at: UnixMillis(w.issued_at_ms),
            revoked: w
                .revoked
                .iter()
                .map(|id| node_id(id, "revoked"))
                .collect::<Result<_>>()?,
            signature: signature(&w.signature, "signature")?,
        })
    }
}

impl From<&RevocationList> for pb::RevocationList {
    fn from(l: &RevocationList) -> Self {
        Self {
            admin: l.admin.as_bytes().to_vec(),
            sequence: l.sequence,
            issued_at_ms: l.issued_at.0,
            revoked: l.revoked.iter().map(|id| id.as_bytes().to_vec()).collect(),
            signature: l.signature.as_bytes().to_vec(),
        }
    }
}

impl TryFrom<pb::SignedPrekey> for SignedPrekey {
    type Error = DecodeError;

    fn try_from(w: pb::SignedPrekey) -> Result<Self> {
        Ok(Self {
            id: w.id,
            public_key: dh_key(&w.public_key, "public_key")?,
            created: UnixMillis(w.created_ms),
            signature: signature(&w.signature, "signature")?,
        })
    }
}

impl From<&SignedPrekey> for pb::SignedPrekey {
    fn from(p: &SignedPrekey) -> Self {
        Self {
            id: p.id,
            public_key: p.public_key.as_bytes().to_vec(),
            created_ms: p.created.0,
            signature: p.signature.as_bytes().to_vec(),
        }
    }
}

impl TryFrom<pb::PrekeyBundle> for PrekeyBundle {
    type Error = DecodeError;

    fn try_from(w: pb::PrekeyBundle) -> Result<Self> {
        let one_time_prekey = match w.one_time_prekey {
            None => None,
            Some(o) => Some(OneTimePrekey {
                id: o.id,
                public_key: dh_key(&o.public_key, "one_time_prekey.public_key")?,
            }),
        };
        Ok(Self {
            identity_key: identity_key(&w.identity_key, "identity_key")?,
            device_key: dh_key(&w.device_key, "device_key")?,
            device_key_signature: signature(&w.device_key_signature, "device_key_signature")?,
            signed_prekey: required(w.signed_prekey, "signed_prekey")?
                .try_into()
                .map_err(|e: DecodeError| e.within("signed_prekey"))?,
            one_time_prekey,
        })
    }
}

impl From<&PrekeyBundle> for pb::PrekeyBundle {
    fn from(b: &PrekeyBundle) -> Self {
        Self {
            identity_key: b.identity_key.as_bytes().to_vec(),
            device_key: b.device_key.as_bytes().to_vec(),
            device_key_signature: b.device_key_signature.as_bytes().to_vec(),
            signed_prekey: Some((&b.signed_prekey).into()),
            one_time_prekey: b.one_time_prekey.map(|o| pb::OneTimePrekey {
                id: o.id,
                public_key: o.public_key.as_bytes().to_vec(),
            }),
        }
    }
}

impl TryFrom<pb::PublishedPrekeys> for PublishedPrekeys {
    type Error = DecodeError;

    fn try_from(w: pb::PublishedPrekeys) -> Result<Self> {
        Ok(Self {
            identity_key: identity_key(&w.identity_key, "identity_key")?,
            device_key: dh_key(&w.device_key, "device_key")?,
            device_key_signature: signature(&w.device_key_signature, "device_key_signature")?,
            signed_prekey: required(w.signed_prekey, "signed_prekey")?
                .try_into()
                .map_err(|e: DecodeError| e.within("signed_prekey"))?,
            sequence: w.sequence,
            signature: signature(&w.signature, "signature")?,
        })
    }
}

impl From<&PublishedPrekeys> for pb::PublishedPrekeys {
    fn from(p: &PublishedPrekeys) -> Self {
        Self {
            identity_key: p.identity_key.as_bytes().to_vec(),
            device_key: p.device_key.as_bytes().to_vec(),
            device_key_signature: p.device_key_signature.as_bytes().to_vec(),
            signed_prekey: Some((&p.signed_prekey).into()),
            sequence: p.sequence,
            signature: p.signature.as_bytes().to_vec(),
        }
    }
}

/// Encodes published prekeys on their own (the answer to a prekey request
/// through relays).
pub fn encode_published_prekeys(p: &PublishedPrekeys) -> Vec<u8> {
    use prost::Message as _;
    pb::PublishedPrekeys::from(p).encode_to_vec()
}

/// Decodes published prekeys encoded by [`encode_published_prekeys`] (not
/// verified: see the crypto crate's `verify_published`).
pub fn decode_published_prekeys(bytes: &[u8]) -> Result<PublishedPrekeys> {
    use prost::Message as _;
    pb::PublishedPrekeys::decode(bytes)
        .map_err(|e| DecodeError::new("prekeys", DecodeErrorKind::Protobuf(e.to_string())))?
        .try_into()
}

/// Encodes a member certificate (the TLS extension's and the certificate
/// file's content).
pub fn encode_member_certificate(c: &MemberCertificate) -> Vec<u8> {
    use prost::Message as _;
    pb::MemberCertificate::from(c).encode_to_vec()
}

/// Decodes a member certificate; shapes and limits only (admission checks
/// the signature).
pub fn decode_member_certificate(bytes: &[u8]) -> Result<MemberCertificate> {
    use prost::Message as _;
    bytes_at_most(bytes, crate::frame::MAX_FRAME_LEN, "member_certificate")?;
    pb::MemberCertificate::decode(bytes)
        .map_err(|e| {
            DecodeError::new(
                "member_certificate",
                DecodeErrorKind::Protobuf(e.to_string()),
            )
        })?
        .try_into()
}

/// Encodes a revocation list (the revocation file's content).
pub fn encode_revocation_list(l: &RevocationList) -> Vec<u8> {
    use prost::Message as _;
    pb::RevocationList::from(l).encode_to_vec()
}

/// Decodes a revocation list; shapes and limits only.
pub fn decode_revocation_list(bytes: &[u8]) -> Result<RevocationList> {
    use prost::Message as _;
    bytes_at_most(bytes, crate::frame::MAX_FRAME_LEN, "revocation_list")?;
    pb::RevocationList::decode(bytes)
        .map_err(|e| DecodeError::new("revocation_list", DecodeErrorKind::Protobuf(e.to_string())))?
        .try_into()
}

/// First word of a member certificate file.
pub const MEMBER_CERTIFICATE_LABEL: &str = "tacnode-member-certificate-v1";
/// First word of a revocation list file.
pub const REVOCATION_LIST_LABEL: &str = "tacnode-revocations-v1";
/// Largest admission file read, in bytes (a full revocation list in hex).
pub const MAX_ADMISSION_FILE_BYTES: usize = 2 * MAX_REVOKED_WIRE_BYTES + 1024;
/// Encoded size of a revocation list of [`MAX_REVOKED`] nodes, about.
const MAX_REVOKED_WIRE_BYTES: usize = MAX_REVOKED * 34 + 256;

/// The text form of an admission object (what an admin hands over): its
/// label, a space, its protobuf encoding in hex, a newline.
pub fn to_admission_text(label: &str, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(label.len() + 2 + 2 * bytes.len());
    out.push_str(label);
    out.push(' ');
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out.push('\n');
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The bytes of [`to_admission_text`]'s output with `label`; surrounding
/// whitespace is ignored.
pub fn from_admission_text(label: &str, text: &str) -> Result<Vec<u8>> {
    bytes_at_most(text.as_bytes(), MAX_ADMISSION_FILE_BYTES, label)?;
    let body = text
        .trim()
        .strip_prefix(label)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| DecodeError::new(label, DecodeErrorKind::Invalid("wrong kind of file")))?;
    let digits = body.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(DecodeError::new(
            label,
            DecodeErrorKind::Invalid("odd hex length"),
        ));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    digits
        .chunks_exact(2)
        .map(|p| {
            match (
                p.first().and_then(|c| nibble(*c)),
                p.get(1).and_then(|c| nibble(*c)),
            ) {
                (Some(h), Some(l)) => Ok(h << 4 | l),
                _ => Err(DecodeError::new(label, DecodeErrorKind::Invalid("not hex"))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use tacnode_domain::{IdentityKey, NodeId, NodeType, Signature};

    use super::*;

    fn key() -> IdentityKey {
        // The Ed25519 base point: a valid key.
        let mut b = [0u8; 32];
        b[0] = 0x58;
        b[1..].fill(0x66);
        IdentityKey::from_slice(&b).unwrap()
    }

    #[test]
    fn admission_files_round_trip_and_refuse_the_wrong_kind_or_an_edit() {
        let cert = MemberCertificate {
            admin: key(),
            member: key(),
            role: NodeType::Client,
            not_after: UnixMillis(7),
            name: "alpha".into(),
            signature: Signature([3; 64]),
        };
        let text = to_admission_text(MEMBER_CERTIFICATE_LABEL, &encode_member_certificate(&cert));
        let back = from_admission_text(MEMBER_CERTIFICATE_LABEL, &text).unwrap();
        assert_eq!(decode_member_certificate(&back).unwrap(), cert);
        assert!(from_admission_text(REVOCATION_LIST_LABEL, &text).is_err());
        assert!(from_admission_text(MEMBER_CERTIFICATE_LABEL, &text.replace('a', "x")).is_err());
        let list = RevocationList {
            admin: key(),
            sequence: 4,
            issued_at: UnixMillis(9),
            revoked: vec![NodeId::from_bytes([1; 32])],
            signature: Signature([5; 64]),
        };
        let bytes = encode_revocation_list(&list);
        assert_eq!(decode_revocation_list(&bytes).unwrap(), list);
        let long = MemberCertificate {
            name: "x".repeat(MAX_MEMBER_NAME_BYTES + 1),
            ..cert
        };
        assert!(decode_member_certificate(&encode_member_certificate(&long)).is_err());
    }
}
