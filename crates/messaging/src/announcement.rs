//! Announcements: wire <-> domain.

use prost::Message as _;
use tacnode_domain::{
    Announcement, AnnouncementKind, MAX_ALERT_BYTES, MAX_SERVICE_DETAIL_BYTES,
    MAX_SERVICE_NAME_BYTES, UnixMillis, UnsignedAnnouncement,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{Result, bytes_at_most, identity_key, required, signature};
use crate::pb;

/// Largest encoded announcement, bytes.
pub const MAX_ANNOUNCEMENT_BYTES: usize = 1_024;

/// Encodes a signed announcement (a gossip payload).
pub fn encode_announcement(a: &Announcement) -> Vec<u8> {
    use pb::announcement::Kind;
    let kind = match &a.body.kind {
        AnnouncementKind::Alert { text } => Kind::Alert(text.clone()),
        AnnouncementKind::Service {
            name,
            detail,
            until,
        } => Kind::Service(pb::ServiceAdvertisement {
            name: name.clone(),
            detail: detail.clone(),
            until_ms: until.0,
        }),
    };
    pb::Announcement {
        author: a.body.author.as_bytes().to_vec(),
        sequence: a.body.sequence,
        time_ms: a.body.time.0,
        signature: a.signature.as_bytes().to_vec(),
        kind: Some(kind),
    }
    .encode_to_vec()
}

/// Decodes an announcement, bounded first; [`Announcement::verify`] checks
/// its limits and signature.
pub fn decode_announcement(bytes: &[u8]) -> Result<Announcement> {
    bytes_at_most(bytes, MAX_ANNOUNCEMENT_BYTES, "announcement")?;
    let w = pb::Announcement::decode(bytes)
        .map_err(|e| DecodeError::new("announcement", DecodeErrorKind::Protobuf(e.to_string())))?;
    use pb::announcement::Kind;
    let kind = match required(w.kind, "announcement.kind")? {
        Kind::Alert(text) => {
            bytes_at_most(text.as_bytes(), MAX_ALERT_BYTES, "announcement.alert")?;
            AnnouncementKind::Alert { text }
        }
        Kind::Service(s) => {
            bytes_at_most(
                s.name.as_bytes(),
                MAX_SERVICE_NAME_BYTES,
                "announcement.service.name",
            )?;
            bytes_at_most(
                s.detail.as_bytes(),
                MAX_SERVICE_DETAIL_BYTES,
                "announcement.service.detail",
            )?;
            AnnouncementKind::Service {
                name: s.name,
                detail: s.detail,
                until: UnixMillis(s.until_ms),
            }
        }
    };
    Ok(UnsignedAnnouncement {
        author: identity_key(&w.author, "announcement.author")?,
        sequence: w.sequence,
        time: UnixMillis(w.time_ms),
        kind,
    }
    .with_signature(signature(&w.signature, "announcement.signature")?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use tacnode_domain::{IdentityKey, Signature};

    use super::*;

    #[test]
    fn announcements_survive_the_wire_and_oversized_ones_are_refused() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let author = IdentityKey::from_bytes(sk.verifying_key().as_bytes()).unwrap();
        for kind in [
            AnnouncementKind::Alert {
                text: "bridge out at 4417".into(),
            },
            AnnouncementKind::Service {
                name: "medic".into(),
                detail: "tent 3".into(),
                until: UnixMillis(9),
            },
        ] {
            let a = UnsignedAnnouncement {
                author,
                sequence: 4,
                time: UnixMillis(7),
                kind,
            }
            .with_signature(Signature([1; 64]));
            assert_eq!(decode_announcement(&encode_announcement(&a)).unwrap(), a);
        }
        assert!(decode_announcement(&vec![0; MAX_ANNOUNCEMENT_BYTES + 1]).is_err());
        let long = pb::Announcement {
            kind: Some(pb::announcement::Kind::Alert(
                "x".repeat(MAX_ALERT_BYTES + 1),
            )),
            ..Default::default()
        }
        .encode_to_vec();
        assert!(
            decode_announcement(&long)
                .unwrap_err()
                .to_string()
                .contains("announcement.alert")
        );
    }
}
