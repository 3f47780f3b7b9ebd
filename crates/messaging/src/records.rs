//! Peer records and prekeys: wire <-> domain.

use std::collections::BTreeMap;

use tacnode_domain::e2e::{OneTimePrekey, PrekeyBundle, PublishedPrekeys, SignedPrekey};
use tacnode_domain::{
    MAX_METADATA_ENTRIES, MAX_METADATA_KEY_BYTES, MAX_METADATA_VALUE_BYTES, PeerRecord, UnixMillis,
    UnsignedPeerRecord,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{
    Result, dh_key, endpoint_to_wire, endpoints, identity_key, node_type, node_type_to_wire,
    required, signature,
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
