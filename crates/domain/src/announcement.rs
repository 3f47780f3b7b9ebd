//! Announcements: a signed broadcast to every node of the network (an
//! alert, or a service a node offers, such as "medic" or "map tiles"),
//! spread over the network-wide gossip overlay ([`ANNOUNCEMENT_TOPIC`]).
//!
//! An announcement is signed by its author's identity over canonical,
//! domain-separated bytes ([`UnsignedAnnouncement::signing_bytes`]), never
//! over its encoding; every node verifies it before it forwards it.

use crate::gossip::Topic;
use crate::keys::{IdentityKey, Signature, SignatureError};
use crate::time::UnixMillis;

/// The overlay every node of the network joins for announcements.
pub const ANNOUNCEMENT_TOPIC: Topic = Topic(*b"announce");

/// Longest alert text, bytes (a radio's worth).
pub const MAX_ALERT_BYTES: usize = 280;

/// Longest service name, bytes.
pub const MAX_SERVICE_NAME_BYTES: usize = 32;

/// Longest service detail, bytes.
pub const MAX_SERVICE_DETAIL_BYTES: usize = 160;

/// Longest a service advertisement may stay listed: a node re-announces.
pub const MAX_SERVICE_LIFETIME_MS: u64 = 24 * 3_600_000;

const ANNOUNCEMENT_CONTEXT: &[u8] = b"tacnode/announcement/v1\0";

/// Why an announcement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnnouncementError {
    /// An alert, service name or detail over its limit, or empty.
    #[error("{what} of {len} bytes: 1 to {max} allowed")]
    Length {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A service listed for longer than [`MAX_SERVICE_LIFETIME_MS`], or
    /// until before it was announced.
    #[error("a service is listed for 1 ms to 24 hours after it is announced")]
    Lifetime,
    /// The signature does not verify under the author's key.
    #[error("announcement signature: {0}")]
    Signature(SignatureError),
}

/// What an announcement says.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum AnnouncementKind {
    /// A text for every operator.
    Alert {
        /// 1 to [`MAX_ALERT_BYTES`] bytes.
        text: String,
    },
    /// A service the author offers, listed until `until`.
    Service {
        /// 1 to [`MAX_SERVICE_NAME_BYTES`] bytes ("medic", "map tiles").
        name: String,
        /// Up to [`MAX_SERVICE_DETAIL_BYTES`] bytes.
        detail: String,
        /// When the listing lapses (at most [`MAX_SERVICE_LIFETIME_MS`]
        /// after the announcement's time).
        until: UnixMillis,
    },
}

/// An announcement before its author signs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnsignedAnnouncement {
    /// The author's identity key.
    pub author: IdentityKey,
    /// Strictly increasing per author (a replay is refused).
    pub sequence: u64,
    /// The author's clock when it announced.
    pub time: UnixMillis,
    /// What it says.
    pub kind: AnnouncementKind,
}

fn push_str(m: &mut Vec<u8>, s: &str) {
    m.extend_from_slice(&(s.len() as u64).to_be_bytes());
    m.extend_from_slice(s.as_bytes());
}

impl UnsignedAnnouncement {
    /// Canonical, domain-separated, length-prefixed bytes the author signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(ANNOUNCEMENT_CONTEXT.len() + 32 + 16 + 1 + 8 + 300);
        m.extend_from_slice(ANNOUNCEMENT_CONTEXT);
        m.extend_from_slice(self.author.as_bytes());
        m.extend_from_slice(&self.sequence.to_be_bytes());
        m.extend_from_slice(&self.time.0.to_be_bytes());
        match &self.kind {
            AnnouncementKind::Alert { text } => {
                m.push(1);
                push_str(&mut m, text);
            }
            AnnouncementKind::Service {
                name,
                detail,
                until,
            } => {
                m.push(2);
                push_str(&mut m, name);
                push_str(&mut m, detail);
                m.extend_from_slice(&until.0.to_be_bytes());
            }
        }
        m
    }

    /// The lengths and lifetime are within their limits.
    pub fn check_shape(&self) -> Result<(), AnnouncementError> {
        let within = |what, len: usize, min, max| {
            if len < min || len > max {
                Err(AnnouncementError::Length { what, len, max })
            } else {
                Ok(())
            }
        };
        match &self.kind {
            AnnouncementKind::Alert { text } => within("alert", text.len(), 1, MAX_ALERT_BYTES),
            AnnouncementKind::Service {
                name,
                detail,
                until,
            } => {
                within("service name", name.len(), 1, MAX_SERVICE_NAME_BYTES)?;
                within("service detail", detail.len(), 0, MAX_SERVICE_DETAIL_BYTES)?;
                if *until <= self.time || until.millis_since(self.time) > MAX_SERVICE_LIFETIME_MS {
                    return Err(AnnouncementError::Lifetime);
                }
                Ok(())
            }
        }
    }

    /// Attaches the author's signature.
    pub fn with_signature(self, signature: Signature) -> Announcement {
        Announcement {
            body: self,
            signature,
        }
    }
}

/// A signed announcement.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Announcement {
    /// What is signed.
    pub body: UnsignedAnnouncement,
    /// The author's signature over [`UnsignedAnnouncement::signing_bytes`].
    pub signature: Signature,
}

impl Announcement {
    /// Checks the shape, then the signature.
    pub fn verify(&self) -> Result<(), AnnouncementError> {
        self.body.check_shape()?;
        self.body
            .author
            .verify(&self.body.signing_bytes(), &self.signature)
            .map_err(AnnouncementError::Signature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    fn signed(kind: AnnouncementKind) -> Announcement {
        let sk = SigningKey::from_bytes(&[3; 32]);
        let body = UnsignedAnnouncement {
            author: IdentityKey::from_bytes(sk.verifying_key().as_bytes()).unwrap(),
            sequence: 1,
            time: UnixMillis(1_000),
            kind,
        };
        let sig = Signature(sk.sign(&body.signing_bytes()).to_bytes());
        body.with_signature(sig)
    }

    #[test]
    fn a_signed_announcement_verifies_and_an_edited_one_does_not() {
        let mut a = signed(AnnouncementKind::Service {
            name: "medic".into(),
            detail: "grid 4417".into(),
            until: UnixMillis(3_600_000),
        });
        a.verify().unwrap();
        a.body.kind = AnnouncementKind::Service {
            name: "medic".into(),
            detail: "grid 4418".into(),
            until: UnixMillis(3_600_000),
        };
        assert!(matches!(a.verify(), Err(AnnouncementError::Signature(_))));
    }

    #[test]
    fn limits_are_checked_before_the_signature() {
        let long = signed(AnnouncementKind::Alert {
            text: "x".repeat(MAX_ALERT_BYTES + 1),
        });
        assert!(matches!(
            long.verify(),
            Err(AnnouncementError::Length { .. })
        ));
        let forever = signed(AnnouncementKind::Service {
            name: "maps".into(),
            detail: String::new(),
            until: UnixMillis(1_000 + MAX_SERVICE_LIFETIME_MS + 1),
        });
        assert_eq!(forever.verify(), Err(AnnouncementError::Lifetime));
    }
}
