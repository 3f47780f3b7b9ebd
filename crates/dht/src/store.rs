//! Records held for others: validation on STORE and on FIND_VALUE answers,
//! strictly increasing sequences, expiry and per-sender quotas.

use std::collections::HashMap;

use tacnode_domain::dht::{Record, RecordKind, RecordValue, RefusalCode};
use tacnode_domain::e2e::PublishedPrekeys;
use tacnode_domain::{
    AdmissionError, NodeId, PeerRecord, RecordError, RevocationList, UnixMillis, prekey_record_key,
};

use crate::config::{MAX_RECORD_TTL_MS, MAX_RECORDS_PER_SENDER, MAX_STORED_RECORDS};

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordRejection {
    /// The key is not the one the record belongs under.
    #[error("record does not belong under this key")]
    KeyMismatch,
    /// The peer record failed validation (signatures, id binding, size caps).
    #[error("invalid peer record: {0}")]
    PeerRecord(RecordError),
    /// The prekey bundle's signatures did not verify.
    #[error("prekey bundle signature does not verify")]
    PrekeySignature,
    /// This validator cannot verify prekey bundles.
    #[error("prekey bundles are not accepted by this node")]
    PrekeysUnsupported,
    /// Its expiry has passed.
    #[error("record expired")]
    Expired,
    /// A record with this or a higher sequence is already held.
    #[error("sequence {offered} is not above the held {held}")]
    StaleSequence {
        /// Sequence offered.
        offered: u64,
        /// Sequence held.
        held: u64,
    },
    /// The sender already has [`MAX_RECORDS_PER_SENDER`] records here.
    #[error("sender quota of {MAX_RECORDS_PER_SENDER} records reached")]
    SenderQuota,
    /// This node already holds [`MAX_STORED_RECORDS`] records.
    #[error("store full ({MAX_STORED_RECORDS} records)")]
    StoreFull,
    /// Client nodes store nothing for others.
    #[error("client nodes do not store records")]
    NotStoring,
    /// Not admitted to this closed network (no or a bad member certificate,
    /// a revoked member), or a revocation list that does not verify.
    #[error("not admitted: {0}")]
    Admission(AdmissionError),
}

impl RecordRejection {
    /// The refusal code sent back to the requester.
    pub fn code(&self) -> RefusalCode {
        match self {
            Self::KeyMismatch => RefusalCode::Malformed,
            Self::PeerRecord(
                RecordError::TooManyEndpoints(_)
                | RecordError::TooManyMetadataEntries(_)
                | RecordError::MetadataKeyTooLong(_)
                | RecordError::MetadataValueTooLong(_),
            ) => RefusalCode::Malformed,
            Self::PeerRecord(_) | Self::PrekeySignature | Self::Admission(_) => {
                RefusalCode::Unauthorized
            }
            Self::PrekeysUnsupported | Self::NotStoring => RefusalCode::Unsupported,
            Self::Expired | Self::StaleSequence { .. } => RefusalCode::Stale,
            Self::SenderQuota | Self::StoreFull => RefusalCode::Quota,
        }
    }
}

/// Verifies the owner signatures of records before they are stored, served
/// or accepted from a FIND_VALUE answer.
///
/// Two implementations: [`PeerRecordValidator`] (peer records only, until
/// the crypto crate verifies prekey bundles) and any
/// `Fn(&PublishedPrekeys) -> bool` closure, which verifies peer records the
/// same way and delegates prekey bundles to the closure.
pub trait RecordValidator {
    /// Verifies a peer record (id binding, device certificate, limits, signature).
    fn verify_peer(&self, record: &PeerRecord) -> Result<(), RecordRejection> {
        record.verify().map_err(RecordRejection::PeerRecord)
    }

    /// Verifies a published prekey bundle's signatures.
    fn verify_prekeys(&self, prekeys: &PublishedPrekeys) -> Result<(), RecordRejection>;

    /// Verifies a revocation list (limits and the admin's signature; a
    /// closed network's validator also checks that the admin is one of its own).
    fn verify_revocations(&self, list: &RevocationList) -> Result<(), RecordRejection> {
        list.verify_signature().map_err(RecordRejection::Admission)
    }
}

/// Verifies peer records with [`PeerRecord::verify`] and refuses prekey
/// bundles, which it cannot verify.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerRecordValidator;

impl RecordValidator for PeerRecordValidator {
    fn verify_prekeys(&self, _: &PublishedPrekeys) -> Result<(), RecordRejection> {
        Err(RecordRejection::PrekeysUnsupported)
    }
}

impl<F: Fn(&PublishedPrekeys) -> bool> RecordValidator for F {
    fn verify_prekeys(&self, prekeys: &PublishedPrekeys) -> Result<(), RecordRejection> {
        if self(prekeys) {
            Ok(())
        } else {
            Err(RecordRejection::PrekeySignature)
        }
    }
}

/// The key a record value belongs under.
pub fn record_key(value: &RecordValue) -> NodeId {
    match value {
        RecordValue::Peer(p) => p.node_id,
        RecordValue::Prekeys(p) => prekey_record_key(&NodeId::from_identity(&p.identity_key)),
        RecordValue::Revocations(l) => RevocationList::key(&l.admin),
    }
}

/// The owner's sequence number of a record value.
pub fn record_sequence(value: &RecordValue) -> u64 {
    match value {
        RecordValue::Peer(p) => p.body.sequence,
        RecordValue::Prekeys(p) => p.sequence,
        RecordValue::Revocations(l) => l.sequence,
    }
}

/// Checks everything but freshness against held copies: key binding,
/// expiry and owner signatures.
pub fn validate_record<V: RecordValidator + ?Sized>(
    validator: &V,
    key: &NodeId,
    record: &Record,
    now: UnixMillis,
) -> Result<(), RecordRejection> {
    if record_key(&record.value) != *key {
        return Err(RecordRejection::KeyMismatch);
    }
    if record.expires <= now {
        return Err(RecordRejection::Expired);
    }
    match &record.value {
        RecordValue::Peer(p) => validator.verify_peer(p),
        RecordValue::Prekeys(p) => validator.verify_prekeys(p),
        RecordValue::Revocations(l) => validator.verify_revocations(l),
    }
}

#[derive(Clone, Debug)]
struct Held {
    record: Record,
    sender: NodeId,
}

/// Records this node holds, by key and kind.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordStore {
    records: HashMap<(NodeId, RecordKind), Held>,
    per_sender: HashMap<NodeId, usize>,
}

impl RecordStore {
    /// Validates and stores `record` under `key` for `sender`. An identical
    /// copy of the held record only refreshes its expiry (owner republish).
    pub(crate) fn put<V: RecordValidator + ?Sized>(
        &mut self,
        validator: &V,
        sender: NodeId,
        key: NodeId,
        mut record: Record,
        now: UnixMillis,
    ) -> Result<(), RecordRejection> {
        validate_record(validator, &key, &record, now)?;
        record.expires = record
            .expires
            .min(now.saturating_add_millis(MAX_RECORD_TTL_MS));
        let slot = (key, record.value.kind());
        let offered = record_sequence(&record.value);
        if let Some(held) = self.records.get_mut(&slot)
            && held.record.expires > now
        {
            {
                let held_seq = record_sequence(&held.record.value);
                if offered == held_seq && held.record.value == record.value {
                    held.record.expires = held.record.expires.max(record.expires);
                    return Ok(());
                }
                if offered <= held_seq {
                    return Err(RecordRejection::StaleSequence {
                        offered,
                        held: held_seq,
                    });
                }
            }
        }
        let previous_sender = self.records.get(&slot).map(|h| h.sender);
        if previous_sender != Some(sender) {
            if self.per_sender.get(&sender).copied().unwrap_or(0) >= MAX_RECORDS_PER_SENDER {
                return Err(RecordRejection::SenderQuota);
            }
            if previous_sender.is_none() && self.records.len() >= MAX_STORED_RECORDS {
                return Err(RecordRejection::StoreFull);
            }
            if let Some(prev) = previous_sender {
                self.release(&prev);
            }
            *self.per_sender.entry(sender).or_insert(0) += 1;
        }
        self.records.insert(slot, Held { record, sender });
        Ok(())
    }

    fn release(&mut self, sender: &NodeId) {
        if let Some(n) = self.per_sender.get_mut(sender) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_sender.remove(sender);
            }
        }
    }

    /// The unexpired record of `kind` under `key`.
    pub(crate) fn get(&self, key: &NodeId, kind: RecordKind, now: UnixMillis) -> Option<&Record> {
        self.records
            .get(&(*key, kind))
            .map(|h| &h.record)
            .filter(|r| r.expires > now)
    }

    /// Drops expired records.
    pub(crate) fn purge(&mut self, now: UnixMillis) {
        let expired: Vec<(NodeId, RecordKind)> = self
            .records
            .iter()
            .filter(|(_, h)| h.record.expires <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(h) = self.records.remove(&k) {
                self.release(&h.sender);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}
