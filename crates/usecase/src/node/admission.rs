//! Closed-network admission inside the node: the admission in force (one
//! writer: revocation lists applied here; many readers: the DHT's record
//! validator, the incoming calls, the network port), and the revocation
//! lists an admin issues: applied, kept in the store, published in the DHT
//! and looked up there periodically by every member.

use std::sync::Arc;

use tacnode_dht::{RecordRejection, RecordValidator};
use tacnode_domain::dht::{Record, RecordValue};
use tacnode_domain::e2e::PublishedPrekeys;
use tacnode_domain::{
    Admission, AdmissionError, IdentityKey, NodeId, PeerRecord, RevocationList, RevocationUpdate,
};
use tokio::sync::watch;

use super::{NodeError, Result, Shared};
use tacnode_domain::ports::NodeStore;

use crate::ports::Clock;

/// Store meta key prefix of the newest revocation list of each admin
/// (followed by the first 16 bytes of the admin's node id in hex: meta keys
/// are short, and a network has at most 8 admins).
const REVOCATIONS_META_PREFIX: &str = "revocations.";

fn meta_key(admin: &IdentityKey) -> String {
    let id = NodeId::from_identity(admin);
    let mut key = String::with_capacity(REVOCATIONS_META_PREFIX.len() + 32);
    key.push_str(REVOCATIONS_META_PREFIX);
    for b in id.as_bytes().iter().take(16) {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// The admission in force. Replaced whole, by [`apply_revocations`] only.
pub(crate) struct AdmissionCell {
    tx: watch::Sender<Arc<Admission>>,
}

impl AdmissionCell {
    pub(crate) fn new(admission: Admission) -> Self {
        Self {
            tx: watch::Sender::new(Arc::new(admission)),
        }
    }

    /// The admission in force now.
    pub(crate) fn current(&self) -> Arc<Admission> {
        self.tx.borrow().clone()
    }

    /// A reader that always sees the admission in force.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Admission>> {
        self.tx.subscribe()
    }

    /// Applies `list` if it is newer than the one held; the update when it was.
    fn apply(&self, list: RevocationList) -> std::result::Result<RevocationUpdate, AdmissionError> {
        let mut outcome = Err(AdmissionError::OpenNetwork);
        self.tx
            .send_if_modified(|current| match current.with_revocations(list) {
                Ok((next, update)) => {
                    *current = Arc::new(next);
                    outcome = Ok(update);
                    true
                }
                Err(e) => {
                    outcome = Err(e);
                    false
                }
            });
        outcome
    }
}

/// Applies the revocation lists kept in the store (at start, before the
/// network is used). A list that no longer verifies is skipped with a
/// warning: the admins in the configuration changed.
pub(crate) fn load_revocations(store: &dyn NodeStore, admission: &Admission) -> Result<Admission> {
    let mut current = admission.clone();
    for admin in admission.admins() {
        let Some(bytes) = store.meta(&meta_key(admin))? else {
            continue;
        };
        let applied = tacnode_messaging::decode_revocation_list(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|list| current.with_revocations(list).map_err(|e| e.to_string()));
        match applied {
            Ok((next, _)) => current = next,
            Err(e) => tracing::warn!("a stored revocation list is ignored: {e}"),
        }
    }
    Ok(current)
}

/// Verifies `list` against the network's admins and, when it is newer than
/// the one held from its admin: keeps it in the store, puts it in force
/// (the network closes connections to newly revoked members), and, when
/// `publish`, publishes it in the DHT for every member to find.
pub(crate) async fn apply_revocations(
    shared: &Arc<Shared>,
    list: RevocationList,
    publish: bool,
) -> Result<RevocationUpdate> {
    // Checked before it is kept: a list that would not apply is not stored.
    shared
        .admission
        .current()
        .with_revocations(list.clone())
        .map_err(NodeError::Admission)?;
    let bytes = tacnode_messaging::encode_revocation_list(&list);
    let key = meta_key(&list.admin);
    shared
        .with_state(move |st, _| st.store.set_meta(&key, &bytes).map_err(NodeError::from))
        .await?;
    let update = shared
        .admission
        .apply(list.clone())
        .map_err(NodeError::Admission)?;
    shared.net.set_admission(shared.admission.current());
    tracing::info!(
        sequence = list.sequence,
        revoked = list.revoked.len(),
        newly_revoked = update.newly_revoked.len(),
        "revocation list applied"
    );
    if publish {
        let expires = shared
            .clock
            .now()
            .saturating_add_millis(shared.config.dht.record_ttl_hours.saturating_mul(3_600_000));
        let stored = shared
            .dht
            .put(Record {
                value: RecordValue::Revocations(list),
                expires,
            })
            .await?;
        tracing::info!(holders = stored, "revocation list published");
    }
    Ok(update)
}

/// Looks up every admin's newest revocation list and applies the newer ones.
pub(crate) async fn fetch_revocations(shared: &Arc<Shared>) -> Result<usize> {
    let admission = shared.admission.current();
    let Admission::Closed(net) = admission.as_ref() else {
        return Ok(0);
    };
    let mut applied = 0;
    for admin in net.admins() {
        let Some(list) = shared.dht.find_revocations(admin).await? else {
            continue;
        };
        if list.sequence <= net.revocation_sequence(admin) {
            continue;
        }
        match apply_revocations(shared, list, false).await {
            Ok(_) => applied += 1,
            Err(NodeError::Admission(AdmissionError::StaleRevocations { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(applied)
}

/// The DHT's record validator: signatures as everywhere, and in a closed
/// network a peer record must carry a valid member certificate for its
/// owner and role, prekeys of revoked members and revocation lists of
/// foreign admins are refused.
#[derive(Clone)]
pub(crate) struct AdmissionValidator {
    admission: watch::Receiver<Arc<Admission>>,
    clock: Arc<dyn Clock>,
}

impl AdmissionValidator {
    pub(crate) fn new(admission: watch::Receiver<Arc<Admission>>, clock: Arc<dyn Clock>) -> Self {
        Self { admission, clock }
    }
}

impl RecordValidator for AdmissionValidator {
    fn verify_peer(&self, record: &PeerRecord) -> std::result::Result<(), RecordRejection> {
        record.verify().map_err(RecordRejection::PeerRecord)?;
        self.admission
            .borrow()
            .admit(
                record.body.member.as_ref(),
                &record.body.identity_key,
                record.body.node_type,
                self.clock.now(),
            )
            .map_err(RecordRejection::Admission)
    }

    fn verify_prekeys(
        &self,
        prekeys: &PublishedPrekeys,
    ) -> std::result::Result<(), RecordRejection> {
        tacnode_crypto::prekey::verify_published(prekeys)
            .map_err(|_| RecordRejection::PrekeySignature)?;
        if self
            .admission
            .borrow()
            .is_revoked(&NodeId::from_identity(&prekeys.identity_key))
        {
            return Err(RecordRejection::Admission(AdmissionError::Revoked));
        }
        Ok(())
    }

    fn verify_revocations(
        &self,
        list: &RevocationList,
    ) -> std::result::Result<(), RecordRejection> {
        let admission = self.admission.borrow();
        if admission.is_closed() && !admission.admins().contains(&list.admin) {
            return Err(RecordRejection::Admission(AdmissionError::UnknownAdmin));
        }
        list.verify_signature().map_err(RecordRejection::Admission)
    }
}
