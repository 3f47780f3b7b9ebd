//! File transfer: `send_file` offers a file in the pairwise session, the
//! recipient pulls its blocks from the sender directly and writes them in
//! order, resuming after a disconnect or a restart from what it made
//! durable.
//!
//! - **Sender.** The file is read where it lies (nothing is copied): its
//!   size and modification time are recorded with the offer, and a block is
//!   served only while they still match (else the transfer fails: "the
//!   file changed"). The offer (a [`Content::FileOffer`] with a random key)
//!   is sealed once and retried as the same ciphertext under the node's one
//!   retry policy ([`crate::delivery::DeliveryConfig::backoff_ms`]): directly
//!   at first, into the recipient's mailboxes too once `deposit_after_ms`
//!   passed, so a recipient that is offline learns of the file at its next
//!   mailbox fetch. The transfer is done when the recipient says it has the
//!   whole file and its hash matched.
//! - **Recipient.** An offer from a contact (a stranger's is refused like
//!   any non-text from a stranger) up to `[files] max_bytes` is taken and
//!   recorded; a larger one is recorded as refused. The file task fetches it
//!   from the sender (at most [`MAX_ACTIVE_FETCHES`] at once) at the pace of
//!   [`FetchPace`], opens every block ([`FileCipher`]), writes it to the
//!   partial file, hashes it, and makes progress durable every
//!   [`PROGRESS_SYNC_BYTES`] (the partial file synced, then the record
//!   saved). At the end the SHA-256 must match the offer's; the file is
//!   then moved into the downloads directory and the sender told.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tacnode_crypto::file_block::{FileBlockError, FileCipher};
use tacnode_domain::dht::RefusalCode;
use tacnode_domain::e2e::SealedMessage;
use tacnode_domain::file_transfer::{
    FILE_BLOCK_BYTES, FILE_KEY_LEN, FileChunkRequest, FileNameError, FileOffer, MAILBOX_FILE_BYTES,
    MAX_DECLINE_REASON_BYTES, TransferId, block_count, block_len, check_file_name,
};
use tacnode_domain::ports::{FileError, NodeStore};
use tacnode_domain::{Content, Direction, NodeId, UnixMillis};
use tacnode_messaging::Message;

use super::send::AttemptError;
use super::{NodeError, NodeEvent, Result, Shared, State};
use crate::file_transfer::{FetchPace, Transfer, TransferState, pickle, unpickle};
use crate::ports::CallError;

/// Received bytes before the partial file and its record are synced, once
/// `[files] sync_interval_ms` passed since the last sync: a crash costs a
/// transfer at most this or that interval's worth, whichever is more, and
/// a fast link pays one fsync per interval, not one per few MiB.
pub const PROGRESS_SYNC_BYTES: u64 = 4 * 1024 * 1024;
/// Longest time received bytes stay unsynced, however few (a slow radio
/// link, where a few MiB take minutes).
pub const PROGRESS_SYNC_MAX_WAIT_MS: u64 = 30_000;
/// Default `[files] sync_interval_ms`.
pub const DEFAULT_SYNC_INTERVAL_MS: u64 = 1_000;
/// What the sender of a refused offer is told.
const REFUSED_REMOTELY: &str = "refused by the recipient";
/// What the sender of a transfer cancelled by its recipient is told.
const CANCELLED_REMOTELY: &str = "cancelled by the recipient";
/// Most bytes of blocks held from the mailboxes, in all transfers, before
/// they are written; blocks past it are dropped (fetched from the sender
/// instead).
pub const MAX_HELD_BYTES: usize = 4 * MAILBOX_FILE_BYTES as usize;
/// Times a recipient tries to tell the sender a file arrived.
pub const FINISHED_NOTICE_TRIES: u32 = 5;
/// Longest part of an unexpected answer named in a transfer's reason.
const MAX_UNEXPECTED_SHOWN: usize = 80;
/// Files fetched at once; more wait their turn.
pub const MAX_ACTIVE_FETCHES: usize = 2;
/// Requests in a row that may fail within one fetch (each one starts the
/// pace over) before it waits for the retry policy.
pub const MAX_FETCH_FAILURES: u32 = 3;
/// Files one sender may have arriving at once; a further offer is
/// refused (so one contact cannot take every fetch slot and the disk).
pub const MAX_RECEIVING_PER_PEER: usize = 4;
/// How long a transfer may stay under way (offered and not fetched, or
/// fetched and not complete) before it is given up.
pub const TRANSFER_TTL_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Default bytes of all files still arriving at once
/// (`[files] max_receiving_bytes`).
pub const DEFAULT_MAX_RECEIVING_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Transfers remembered; beyond it the oldest finished ones are forgotten
/// (an active one never is).
pub const MAX_TRANSFERS: usize = 1024;
/// Bytes read at once when hashing a file to offer or a partial file to
/// resume.
const HASH_READ_BYTES: usize = 1024 * 1024;
/// Largest file on the radio profile: a file fills the shared channel
/// while it crosses, and 1 MiB is about two minutes of 64 kbit/s.
pub const RADIO_MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Largest file whose blocks go through the mailboxes on the radio
/// profile: two blocks (each is deposited with every holder, so a 1 MiB
/// file would cost about 14 minutes of a 64 kbit/s channel).
pub const RADIO_MAILBOX_MAX_BYTES: u64 = 2 * FILE_BLOCK_BYTES as u64;
/// Most bytes still to arrive at once on the radio profile: four such
/// files.
pub const RADIO_MAX_RECEIVING_BYTES: u64 = 4 * RADIO_MAX_FILE_BYTES;
/// Default largest file taken (`[files] max_bytes`).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// File transfer (`[files]` of the daemon's TOML file).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    /// Largest file this node sends or takes, in bytes; a larger offer is
    /// refused.
    pub max_bytes: u64,
    /// Most bytes of all the files still arriving at once; an offer past
    /// it is refused.
    pub max_receiving_bytes: u64,
    /// Least time between two syncs of a file arriving (see
    /// [`PROGRESS_SYNC_BYTES`]), ms; 0 syncs every [`PROGRESS_SYNC_BYTES`].
    pub sync_interval_ms: u64,
    /// Largest file whose blocks follow its offer into the recipient's
    /// mailboxes when it cannot be reached (each block is deposited with
    /// every mailbox holder), at most [`MAILBOX_FILE_BYTES`] (a larger
    /// value counts as that); 0: never.
    pub mailbox_max_bytes: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_FILE_BYTES,
            max_receiving_bytes: DEFAULT_MAX_RECEIVING_BYTES,
            sync_interval_ms: DEFAULT_SYNC_INTERVAL_MS,
            mailbox_max_bytes: MAILBOX_FILE_BYTES,
        }
    }
}

/// A transfer and what the node knows of it in this run.
#[derive(Clone, Debug)]
pub(crate) struct TransferEntry {
    pub(crate) record: Transfer,
    /// Attempts that failed in a row.
    failures: u32,
    /// When the next attempt is due.
    next_try: UnixMillis,
    /// Why the last attempt failed.
    last_error: Option<String>,
    /// An attempt runs now.
    running: bool,
    /// Ours: the offer as sealed, sent again as is.
    sealed_offer: Option<SealedMessage>,
    /// Theirs: bytes received and written in this run, durable or not
    /// (`record.done` counts only what was synced).
    received: u64,
    /// Theirs: to tell the sender (the file task sends it, best effort).
    notice: Option<Content>,
    /// Theirs: blocks came from the mailboxes while an attempt ran (the
    /// next one goes at once).
    held_grew: bool,
}

impl TransferEntry {
    fn new(record: Transfer, now: UnixMillis) -> Self {
        Self {
            record,
            failures: 0,
            next_try: now,
            last_error: None,
            running: false,
            sealed_offer: None,
            received: 0,
            notice: None,
            held_grew: false,
        }
    }

    fn due_kind(&self) -> Option<Direction> {
        match self.record.state {
            TransferState::Offering => Some(Direction::Outbound),
            TransferState::Receiving => Some(Direction::Inbound),
            _ => None,
        }
    }
}

/// A transfer as `tacnode files` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTransferInfo {
    /// Its id.
    pub id: TransferId,
    /// The other end.
    pub peer: NodeId,
    /// Its contact name, if it is one.
    pub peer_name: Option<String>,
    /// Ours (true) or theirs.
    pub outbound: bool,
    /// The file's name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Bytes done (received and durable, or served).
    pub done: u64,
    /// Where it is.
    pub state: TransferState,
    /// Ours: the file sent; theirs: where it was saved.
    pub path: Option<PathBuf>,
    /// When it was offered.
    pub created: UnixMillis,
    /// Why the last attempt failed, while it is retried.
    pub last_error: Option<String>,
    /// When the next attempt is due, while one waits.
    pub next_try: Option<UnixMillis>,
}

/// What changed in a transfer, for [`NodeEvent::FileTransfer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    /// Offered to us (theirs) or handed over (ours).
    Offered {
        /// The file's size.
        size: u64,
    },
    /// Complete: saved at `path` (theirs), or the recipient has it (ours).
    Completed {
        /// Where it was saved (theirs).
        path: Option<PathBuf>,
    },
    /// Given up, and why.
    Failed {
        /// In words.
        reason: String,
    },
}

/// Reads every kept transfer. A record that does not open or parse is
/// skipped with an error in the log (one damaged record must not stop the
/// others); the store failing as a whole fails the start.
pub(crate) fn load(
    store: &dyn NodeStore,
    now: UnixMillis,
) -> Result<BTreeMap<TransferId, TransferEntry>> {
    let mut out = BTreeMap::new();
    for (id, bytes) in store.transfers()? {
        match unpickle(bytes.as_slice()) {
            Ok(mut record) if record.id == id => {
                if record.state != TransferState::Receiving {
                    record.held.clear();
                }
                out.insert(id, TransferEntry::new(record, now));
            }
            Ok(_) => {
                tracing::error!("file transfer {id}: its record names another transfer; skipped")
            }
            Err(e) => {
                tracing::error!("file transfer {id}: its record does not parse ({e}); skipped")
            }
        }
    }
    Ok(out)
}

fn save(st: &mut State, record: &Transfer, now: UnixMillis) -> Result<()> {
    st.store.save_transfer(&record.id, &pickle(record), now)?;
    Ok(())
}

/// Makes room for one more transfer: forgets the oldest finished one at
/// [`MAX_TRANSFERS`].
fn make_room(st: &mut State) -> Result<()> {
    if st.transfers.len() < MAX_TRANSFERS {
        return Ok(());
    }
    let oldest = st
        .transfers
        .values()
        .filter(|e| !e.record.state.active())
        .min_by_key(|e| (e.record.created, e.record.id))
        .map(|e| e.record.id)
        .ok_or(NodeError::TooManyTransfers(MAX_TRANSFERS))?;
    st.store.delete_transfer(&oldest)?;
    st.transfers.remove(&oldest);
    Ok(())
}

pub(crate) fn info(st: &State, e: &TransferEntry) -> FileTransferInfo {
    let r = &e.record;
    FileTransferInfo {
        id: r.id,
        peer: r.peer,
        peer_name: st.store.contact(&r.peer).ok().flatten().map(|c| c.name),
        outbound: r.direction == Direction::Outbound,
        name: r.name.clone(),
        size: r.size,
        done: r.done.max(e.received),
        state: r.state.clone(),
        path: r.path.clone(),
        created: r.created,
        last_error: e.last_error.clone().filter(|_| r.state.active()),
        next_try: (e.due_kind().is_some() && !e.running && e.failures > 0).then_some(e.next_try),
    }
}

/// Every transfer, newest first.
pub(crate) fn list(st: &State) -> Vec<FileTransferInfo> {
    let mut all: Vec<_> = st.transfers.values().map(|e| info(st, e)).collect();
    all.sort_by_key(|t| std::cmp::Reverse((t.created, t.id)));
    all
}

/// The SHA-256 of the file at `path`, read as it looked at `stamp`.
async fn hash_file(
    files: &dyn crate::ports::TransferFiles,
    path: &Path,
    stamp: tacnode_domain::ports::FileStamp,
) -> std::result::Result<[u8; 32], FileError> {
    let mut hasher = Sha256::new();
    let mut offset = 0u64;
    while offset < stamp.size {
        let piece = files
            .read(path.to_owned(), stamp, offset, HASH_READ_BYTES)
            .await?;
        if piece.is_empty() {
            return Err(FileError::Changed(path.to_owned()));
        }
        hasher.update(&piece);
        offset += piece.len() as u64;
    }
    Ok(hasher.finalize().into())
}

/// Offers the file at `path` (absolute) to `to` (a contact's name or
/// address): recorded before this returns, handed over by the file task.
pub(crate) async fn send_file(
    shared: &Arc<Shared>,
    to: &str,
    path: &Path,
) -> Result<FileTransferInfo> {
    if !path.is_absolute() {
        return Err(NodeError::RelativePath(path.to_owned()));
    }
    if path.as_os_str().len() > crate::file_transfer::MAX_TRANSFER_TEXT_BYTES {
        return Err(NodeError::PathTooLong(
            crate::file_transfer::MAX_TRANSFER_TEXT_BYTES,
        ));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or(NodeError::FileName(FileNameError::Empty))?
        .to_owned();
    check_file_name(&name)?;
    let stamp = shared.files.stat(path.to_owned()).await?;
    let max = shared.config.files.max_bytes;
    if stamp.size > max {
        return Err(NodeError::FileTooLarge {
            size: stamp.size,
            max,
        });
    }
    let sha256 = hash_file(shared.files.as_ref(), path, stamp).await?;
    let to = to.to_owned();
    let path = path.to_owned();
    let info = shared
        .with_state(move |st, shared| {
            let (peer, contact) = super::resolve_target(st, &to)?;
            let contact = contact.ok_or_else(|| NodeError::UnknownContact(to.clone()))?;
            if peer == shared.node_id() {
                return Err(NodeError::OwnAddress);
            }
            if contact.identity_changed {
                return Err(NodeError::KeysChanged(contact.name));
            }
            make_room(st)?;
            let now = shared.now();
            let mut id = [0u8; 16];
            rand_core::Rng::fill_bytes(&mut st.rng, &mut id);
            let mut key = zeroize::Zeroizing::new(vec![0u8; FILE_KEY_LEN]);
            rand_core::Rng::fill_bytes(&mut st.rng, &mut key);
            let record = Transfer {
                id: TransferId(id),
                peer,
                direction: Direction::Outbound,
                name,
                size: stamp.size,
                sha256,
                key: tacnode_domain::store::SecretBytes::from(key),
                created: now,
                done: 0,
                stamp,
                path: Some(path),
                state: TransferState::Offering,
                held: Vec::new(),
            };
            save(st, &record, now)?;
            let entry = TransferEntry::new(record, now);
            let info = info(st, &entry);
            st.transfers.insert(entry.record.id, entry);
            Ok(info)
        })
        .await?;
    shared.wake_files.notify_one();
    Ok(info)
}

/// Cancels a transfer (its id or an unambiguous hex prefix of it): ours is
/// served no more, theirs is fetched no more and its partial file goes.
pub(crate) async fn cancel(shared: &Arc<Shared>, prefix: &str) -> Result<FileTransferInfo> {
    let prefix = prefix.to_ascii_lowercase();
    let (info, inbound) = shared
        .with_state(move |st, shared| {
            let matches: Vec<TransferId> = st
                .transfers
                .keys()
                .filter(|id| id.to_string().starts_with(&prefix))
                .copied()
                .collect();
            let id = match matches.as_slice() {
                [] => return Err(NodeError::UnknownTransfer(prefix)),
                [one] => *one,
                _ => return Err(NodeError::AmbiguousId(prefix)),
            };
            let now = shared.now();
            let mut record = st
                .transfers
                .get(&id)
                .map(|e| e.record.clone())
                .ok_or_else(|| NodeError::UnknownTransfer(id.to_string()))?;
            if !record.state.active() {
                return Err(NodeError::TransferEnded(id.to_string()));
            }
            record.state = TransferState::Cancelled;
            record.held.clear();
            save(st, &record, now)?;
            let inbound = record.direction == Direction::Inbound;
            let entry = st
                .transfers
                .get_mut(&id)
                .ok_or_else(|| NodeError::UnknownTransfer(id.to_string()))?;
            entry.record = record;
            if inbound {
                entry.notice = Some(notice(id, Some(CANCELLED_REMOTELY.to_owned())));
            }
            let entry = entry.clone();
            Ok((info(st, &entry), inbound.then_some(id)))
        })
        .await?;
    shared.wake_files.notify_one();
    if let Some(id) = inbound
        && let Err(e) = shared.files.remove_part(id).await
    {
        tracing::warn!("file transfer {id} cancelled, its partial file stays: {e}");
    }
    Ok(info)
}

/// Takes an offer from `sender` inside the receiving batch: the record is
/// written in the batch, the entry added (and the file task woken) once it
/// committed ([`offers_committed`]).
pub(crate) fn offered(
    st: &mut State,
    shared: &Shared,
    sender: NodeId,
    offer: FileOffer,
    now: UnixMillis,
    taken: &mut Vec<Transfer>,
) -> Result<()> {
    if st.transfers.contains_key(&offer.transfer) || taken.iter().any(|t| t.id == offer.transfer) {
        // Offered again (the first answer or receipt was lost).
        return Ok(());
    }
    // Nothing is evicted here, inside the receiving batch (a rollback
    // would bring the row back, not the entry): only offers beyond the
    // active transfers' cap are dropped; finished ones make room once the
    // batch committed.
    let active = st
        .transfers
        .values()
        .filter(|e| e.record.state.active())
        .count();
    if active.saturating_add(taken.len()) >= MAX_TRANSFERS {
        tracing::warn!(
            "a file offer from {sender} was dropped: {MAX_TRANSFERS} transfers are under way, the most kept"
        );
        return Ok(());
    }
    let refusal = refusal(st, shared, sender, &offer, taken)?;
    let record = Transfer {
        id: offer.transfer,
        peer: sender,
        direction: Direction::Inbound,
        name: offer.name,
        size: offer.size,
        sha256: offer.sha256,
        key: offer.key,
        created: now,
        done: 0,
        stamp: tacnode_domain::ports::FileStamp {
            size: offer.size,
            modified_ns: 0,
        },
        path: None,
        state: refusal.map_or(TransferState::Receiving, TransferState::Failed),
        held: Vec::new(),
    };
    save(st, &record, now)?;
    taken.push(record);
    Ok(())
}

/// Keeps a block of a small file that came through the mailboxes (inside
/// the receiving batch: the record, with the block, is written there),
/// to be written when the file task next runs the transfer (at once:
/// its wait is cut short). A block of an unknown, finished or large
/// transfer, from another peer than its sender, out of range, of the
/// wrong length, or already written or held, is dropped.
pub(crate) fn block_arrived(
    st: &mut State,
    shared: &Shared,
    sender: NodeId,
    (offer, index, content): (FileOffer, u64, Vec<u8>),
    now: UnixMillis,
    taken: &mut Vec<Transfer>,
) -> Result<()> {
    let transfer = offer.transfer;
    // Any block makes its transfer known (a mailbox may hand blocks over
    // before the offer), under the same rules as the offer.
    if !st.transfers.contains_key(&transfer) && !taken.iter().any(|t| t.id == transfer) {
        offered(st, shared, sender, offer, now, taken)?;
    }
    let wanted = |r: &Transfer| {
        r.direction == Direction::Inbound
            && r.peer == sender
            && r.state == TransferState::Receiving
            && r.size <= MAILBOX_FILE_BYTES
            && index < block_count(r.size)
            && content.len() == block_len(r.size, index)
            && index.saturating_mul(FILE_BLOCK_BYTES as u64) >= r.done
    };
    let held_now = |r: &Transfer| r.held.iter().map(|(_, c)| c.len()).sum::<usize>();
    let held_total = st
        .transfers
        .values()
        .map(|e| held_now(&e.record))
        .chain(taken.iter().map(held_now))
        .sum::<usize>();
    let room = held_total.saturating_add(content.len()) <= MAX_HELD_BYTES;
    if let Some(r) = taken.iter_mut().find(|r| r.id == transfer) {
        if wanted(r) {
            if !r.held.iter().any(|(i, _)| *i == index) && room {
                r.held.push((index, content));
                r.held.sort_by_key(|(i, _)| *i);
            }
            let record = r.clone();
            save(st, &record, now)?;
        }
        return Ok(());
    }
    let Some(e) = st.transfers.get_mut(&transfer) else {
        return Ok(());
    };
    if !wanted(&e.record) {
        return Ok(());
    }
    if !e.record.held.iter().any(|(i, _)| *i == index) && room {
        e.record.held.push((index, content));
        e.record.held.sort_by_key(|(i, _)| *i);
        // Written now rather than after the retry policy's wait for a
        // sender that did not answer (or as soon as a running attempt
        // ends).
        if e.running {
            e.held_grew = true;
        } else {
            e.next_try = now;
        }
    }
    // Saved even when it was held already: a rolled-back batch may have
    // left it in memory only.
    let record = e.record.clone();
    save(st, &record, now)
}

/// How our file `transfer` ended at `sender`, its recipient (a receipt
/// sealed in our session: only the recipient makes one that opens).
pub(crate) fn receipt_arrived(
    st: &mut State,
    shared: &Shared,
    sender: NodeId,
    transfer: TransferId,
    declined: Option<String>,
) {
    let ours = st
        .transfers
        .get(&transfer)
        .is_some_and(|e| e.record.direction == Direction::Outbound && e.record.peer == sender);
    if !ours {
        return;
    }
    let state = match declined {
        None => TransferState::Done,
        Some(reason) => {
            // The recipient's words: no control characters kept.
            let reason: String = reason.chars().flat_map(char::escape_default).collect();
            TransferState::Failed(format!("the recipient declined it: {reason}"))
        }
    };
    conclude(st, shared, transfer, state);
}
/// Why an offer from `sender` is not taken, if it is not: it must come
/// from a contact whose keys did not change, fit `[files] max_bytes`, keep
/// the sender within [`MAX_RECEIVING_PER_PEER`] transfers under way and
/// every transfer under way within `[files] max_receiving_bytes`.
fn refusal(
    st: &State,
    shared: &Shared,
    sender: NodeId,
    offer: &FileOffer,
    taken: &[Transfer],
) -> Result<Option<String>> {
    match st.store.contact(&sender)? {
        None => return Ok(Some("refused: the sender is not a contact".to_owned())),
        Some(c) if c.identity_changed => {
            return Ok(Some(format!(
                "refused: {}'s keys changed; verify them first (`tacnode contacts verify`)",
                c.name
            )));
        }
        Some(_) => {}
    }
    let files = &shared.config.files;
    if offer.size > files.max_bytes {
        return Ok(Some(format!(
            "refused: {} bytes is over this node's [files] max_bytes of {}",
            offer.size, files.max_bytes
        )));
    }
    let receiving = st
        .transfers
        .values()
        .map(|e| &e.record)
        .chain(taken)
        .filter(|r| r.direction == Direction::Inbound && r.state == TransferState::Receiving);
    let (mut from_sender, mut bytes) = (0usize, 0u64);
    for r in receiving {
        bytes = bytes.saturating_add(r.size.saturating_sub(r.done));
        from_sender += usize::from(r.peer == sender);
    }
    if from_sender >= MAX_RECEIVING_PER_PEER {
        return Ok(Some(format!(
            "refused: {from_sender} files from this sender are arriving already, the most at once"
        )));
    }
    if bytes.saturating_add(offer.size) > files.max_receiving_bytes {
        return Ok(Some(format!(
            "refused: {bytes} bytes are still to arrive, and this file would pass this node's [files] max_receiving_bytes of {}",
            files.max_receiving_bytes
        )));
    }
    Ok(None)
}

/// After the receiving batch committed: the offers taken become entries,
/// with their events.
pub(crate) fn offers_committed(
    st: &mut State,
    shared: &Shared,
    taken: Vec<Transfer>,
    events: &mut Vec<NodeEvent>,
) {
    if taken.is_empty() {
        return;
    }
    let now = shared.now();
    for record in taken {
        events.push(file_event(
            &record,
            match &record.state {
                TransferState::Failed(reason) => FileChange::Failed {
                    reason: reason.clone(),
                },
                _ => FileChange::Offered { size: record.size },
            },
        ));
        if let Err(e) = make_room(st) {
            tracing::debug!("no finished file transfer to forget: {e}");
        }
        let mut entry = TransferEntry::new(record, now);
        if matches!(entry.record.state, TransferState::Failed(_)) {
            // The sender learns that, not why (our contacts and limits
            // are ours): the record keeps the details.
            entry.notice = Some(notice(entry.record.id, Some(REFUSED_REMOTELY.to_owned())));
        }
        st.transfers.insert(entry.record.id, entry);
    }
    shared.wake_files.notify_one();
}

fn file_event(record: &Transfer, change: FileChange) -> NodeEvent {
    NodeEvent::FileTransfer {
        transfer: record.id,
        peer: record.peer,
        name: record.name.clone(),
        outbound: record.direction == Direction::Outbound,
        change,
    }
}

fn refuse(code: RefusalCode, detail: &str) -> Message {
    Message::Error {
        code,
        detail: detail.to_owned(),
    }
}

/// Ends a transfer as `state` (recorded), with its event.
fn conclude(st: &mut State, shared: &Shared, id: TransferId, state: TransferState) {
    let now = shared.now();
    let Some(entry) = st.transfers.get_mut(&id) else {
        return;
    };
    if !entry.record.state.active() {
        return;
    }
    entry.record.state = state;
    entry.record.held.clear();
    if entry.record.state == TransferState::Done {
        entry.record.done = entry.record.size;
    }
    let record = entry.record.clone();
    if let Err(e) = save(st, &record, now) {
        tracing::warn!("file transfer {id}: its end is not recorded ({e})");
    }
    if record.direction == Direction::Inbound && record.state != TransferState::Done {
        let removal = shared.files.remove_part(id);
        shared.spawn(async move {
            if let Err(e) = removal.await {
                tracing::warn!("file transfer {id}: its partial file stays ({e})");
            }
        });
    }
    let change = match &record.state {
        TransferState::Failed(reason) => FileChange::Failed {
            reason: reason.clone(),
        },
        _ => FileChange::Completed { path: None },
    };
    shared.emit(file_event(&record, change));
}

/// Answers a recipient's request for blocks of a file we offered.
pub(crate) async fn serve(shared: &Arc<Shared>, peer: NodeId, req: FileChunkRequest) -> Message {
    let found = shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(
                st.transfers
                    .get(&req.transfer)
                    .map(|e| &e.record)
                    .filter(|r| r.direction == Direction::Outbound && r.peer == peer)
                    .cloned(),
            )
        })
        .await;
    let record = match found {
        Ok(Some(r)) => r,
        // A transfer of someone else's is as unknown as none.
        Ok(None) => return refuse(RefusalCode::Stale, "no such file transfer"),
        Err(_) => return refuse(RefusalCode::Internal, "shutting down"),
    };
    if !record.state.active() {
        return refuse(
            RefusalCode::Stale,
            "the file transfer was cancelled or has ended",
        );
    }
    let total = block_count(record.size);
    let end = req.first_block.saturating_add(u64::from(req.blocks));
    if end > total {
        return refuse(RefusalCode::Malformed, "blocks past the end of the file");
    }
    let Some(path) = record.path.clone() else {
        return refuse(RefusalCode::Internal, "the file's path is not recorded");
    };
    let offset = req.first_block.saturating_mul(FILE_BLOCK_BYTES as u64);
    let len = (req.first_block..end)
        .map(|i| block_len(record.size, i))
        .sum::<usize>();
    let content = match shared
        .files
        .read(path.clone(), record.stamp, offset, len)
        .await
    {
        Ok(c) if c.len() == len => c,
        Ok(_) | Err(FileError::Changed(_) | FileError::NotFound(_)) => {
            let id = record.id;
            let reason = format!(
                "{} changed or went away since it was offered",
                path.display()
            );
            tracing::warn!("file transfer {id}: {reason}");
            shared.post_state(move |st, shared| {
                conclude(st, shared, id, TransferState::Failed(reason));
            });
            return refuse(RefusalCode::Stale, "the file changed since it was offered");
        }
        Err(e) => {
            tracing::warn!(
                "file transfer {}: reading {}: {e}",
                record.id,
                path.display()
            );
            return refuse(RefusalCode::Internal, "the file cannot be read now");
        }
    };
    let cipher = match FileCipher::new(record.key.as_slice(), record.id, record.size) {
        Ok(c) => c,
        Err(_) => return refuse(RefusalCode::Internal, "the transfer's key is damaged"),
    };
    let mut sealed = Vec::with_capacity(req.blocks as usize);
    let mut rest = content.as_slice();
    for index in req.first_block..end {
        let (block, tail) = rest.split_at(block_len(record.size, index).min(rest.len()));
        rest = tail;
        match cipher.seal(index, block) {
            Ok(s) => sealed.push(s),
            Err(_) => return refuse(RefusalCode::Internal, "a block could not be sealed"),
        }
    }
    let id = record.id;
    let served = end.saturating_mul(FILE_BLOCK_BYTES as u64).min(record.size);
    shared.post_state(move |st, _| {
        if let Some(e) = st.transfers.get_mut(&id)
            && e.record.state.active()
        {
            e.record.state = TransferState::Offered;
            e.record.done = e.record.done.max(served);
        }
    });
    Message::FileChunks(sealed)
}

/// Runs the transfers due: offers to hand over, files to fetch.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let now = shared.now();
        let due = shared
            .with_state(move |st, shared| Ok::<_, NodeError>(take_due(st, shared, now)))
            .await;
        let Ok((due, next, notices)) = due else {
            return;
        };
        for (peer, n) in notices {
            let task_shared = shared.clone();
            shared.spawn(async move { tell_sender(&task_shared, peer, n).await });
        }
        for (id, kind) in due {
            let task_shared = shared.clone();
            shared.spawn(async move {
                let shared = task_shared;
                match kind {
                    Direction::Outbound => offer_once(&shared, id).await,
                    Direction::Inbound => fetch_once(&shared, id).await,
                }
                shared.wake_files.notify_one();
            });
        }
        let wait = next.map_or(Duration::from_secs(3600), |t| {
            Duration::from_millis(t.millis_since(shared.now()).max(1))
        });
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stop| *stop) => return,
            () = shared.wake_files.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

type Due = (
    Vec<(TransferId, Direction)>,
    Option<UnixMillis>,
    Vec<(NodeId, Content)>,
);

/// The transfers whose attempt is due now (marked running), and when the
/// next one waiting is due.
fn take_due(st: &mut State, shared: &Shared, now: UnixMillis) -> Due {
    let expired: Vec<TransferId> = st
        .transfers
        .values()
        .filter(|e| {
            !e.running
                && e.record.state.active()
                && now.millis_since(e.record.created) >= TRANSFER_TTL_MS
        })
        .map(|e| e.record.id)
        .collect();
    for id in expired {
        let reason = format!(
            "not complete within {} days; given up",
            TRANSFER_TTL_MS / (24 * 60 * 60 * 1000)
        );
        conclude(st, shared, id, TransferState::Failed(reason));
    }
    let mut fetching = st
        .transfers
        .values()
        .filter(|e| e.running && e.record.direction == Direction::Inbound)
        .count();
    let mut due = Vec::new();
    let mut next: Option<UnixMillis> = None;
    let mut notices = Vec::new();
    for e in st.transfers.values_mut() {
        if let Some(n) = e.notice.take() {
            notices.push((e.record.peer, n));
        }
        if e.record.state.active() {
            let expiry = e.record.created.saturating_add_millis(TRANSFER_TTL_MS);
            next = Some(next.map_or(expiry, |n| n.min(expiry)));
        }
        let Some(kind) = e.due_kind() else { continue };
        if e.running {
            continue;
        }
        if e.next_try > now {
            next = Some(next.map_or(e.next_try, |n| n.min(e.next_try)));
            continue;
        }
        if kind == Direction::Inbound {
            if fetching >= MAX_ACTIVE_FETCHES {
                continue;
            }
            fetching += 1;
        }
        e.running = true;
        due.push((e.record.id, kind));
    }
    (due, next, notices)
}

/// An attempt ended: `Ok` clears the failures, an error schedules the next
/// try under the retry policy (`None`: stop retrying, the state says why).
fn attempt_ended(st: &mut State, shared: &Shared, id: TransferId, error: Option<String>) {
    let now = shared.now();
    let Some(e) = st.transfers.get_mut(&id) else {
        return;
    };
    e.running = false;
    let held_grew = std::mem::take(&mut e.held_grew);
    match error {
        None => {
            e.failures = 0;
            e.last_error = None;
            e.next_try = now;
        }
        Some(reason) => {
            e.failures = e.failures.saturating_add(1);
            let failures = e.failures;
            e.last_error = Some(reason);
            let delay = if held_grew {
                0
            } else {
                shared.config.delivery.backoff_ms(failures, &mut st.rng)
            };
            if let Some(e) = st.transfers.get_mut(&id) {
                e.next_try = now.saturating_add_millis(delay);
            }
        }
    }
}

/// Hands our offer over once (directly; into mailboxes too once
/// `deposit_after_ms` passed since it was made).
async fn offer_once(shared: &Arc<Shared>, id: TransferId) {
    let outcome = offer_attempt(shared, id).await;
    let task_shared = shared.clone();
    shared.post_state(move |st, shared| {
        let error = match outcome {
            Ok(via_mailbox) => {
                let now = shared.now();
                if let Some(e) = st.transfers.get_mut(&id)
                    && e.record.state == TransferState::Offering
                {
                    e.record.state = TransferState::Offered;
                    let record = e.record.clone();
                    if let Err(err) = save(st, &record, now) {
                        tracing::warn!("file transfer {id}: handed over, not recorded ({err})");
                    }
                    if via_mailbox {
                        // The recipient could not be reached: a small file
                        // follows the offer into its mailboxes (started
                        // once the transfer is recorded as offered).
                        shared.spawn(async move { deposit_blocks(&task_shared, id).await });
                    }
                    tracing::info!(
                        "file {} offered to {}{}",
                        record.name,
                        record.peer,
                        if via_mailbox {
                            " through its mailboxes"
                        } else {
                            ""
                        }
                    );
                    shared.emit(file_event(
                        &record,
                        FileChange::Offered { size: record.size },
                    ));
                }
                None
            }
            Err(e) => {
                if matches!(e, AttemptError::Refused { .. }) {
                    // The recipient opened that copy and refused it (or
                    // could not open it): sealed anew next time.
                    if let Some(entry) = st.transfers.get_mut(&id) {
                        entry.sealed_offer = None;
                    }
                }
                Some(e.to_string())
            }
        };
        attempt_ended(st, shared, id, error);
    });
}

/// Deposits every block of our transfer `id` in the recipient's mailboxes,
/// each sealed in the session, if the file is at most `[files]
/// mailbox_max_bytes`; stops at the first failure (the recipient can
/// still fetch what it lacks from us) and once the transfer is no longer
/// waiting (a receipt, a cancel, or a block served directly).
async fn deposit_blocks(shared: &Arc<Shared>, id: TransferId) {
    // Never past what a recipient holds.
    let limit = shared
        .config
        .files
        .mailbox_max_bytes
        .min(MAILBOX_FILE_BYTES);
    let record = shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(st.transfers.get(&id).map(|e| e.record.clone()))
        })
        .await;
    let Ok(Some(record)) = record else { return };
    let Some(path) = record.path.clone().filter(|_| record.size <= limit) else {
        return;
    };
    let offer = record.offer();
    let total = block_count(record.size);
    for index in 0..total {
        // Stopped by a cancel, a receipt, or the recipient fetching it
        // directly meanwhile.
        let going = shared
            .with_state(move |st, _| {
                Ok::<_, NodeError>(st.transfers.get(&id).is_some_and(|e| {
                    e.record.state == TransferState::Offered && e.record.done == 0
                }))
            })
            .await;
        if !matches!(going, Ok(true)) {
            return;
        }
        let at = index * FILE_BLOCK_BYTES as u64;
        let len = block_len(record.size, index);
        let content = match shared.files.read(path.clone(), record.stamp, at, len).await {
            Ok(c) if c.len() == len => c,
            Ok(_) | Err(_) => {
                tracing::debug!(
                    "file transfer {id}: blocks not deposited, the file cannot be read as offered"
                );
                return;
            }
        };
        let content = Content::FileBlock {
            offer: offer.clone(),
            index,
            content,
        };
        let deposited = async {
            let sealed = super::receive::seal_content(shared, record.peer, content).await?;
            super::send::deposit_sealed(shared, record.peer, &sealed, None).await
        };
        if let Err(e) = deposited.await {
            tracing::debug!(
                "file transfer {id}: block {index} not deposited ({e}); the recipient can fetch it"
            );
            return;
        }
    }
    tracing::info!(
        "file {} ({} blocks) deposited in the recipient's mailboxes",
        record.name,
        total
    );
}

async fn offer_attempt(
    shared: &Arc<Shared>,
    id: TransferId,
) -> std::result::Result<bool, AttemptError> {
    let (peer, offer, sealed, created) = shared
        .with_state(move |st, _| {
            let e = st
                .transfers
                .get(&id)
                .ok_or_else(|| NodeError::UnknownTransfer(id.to_string()))?;
            Ok::<_, NodeError>((
                e.record.peer,
                e.record.offer(),
                e.sealed_offer.clone(),
                e.record.created,
            ))
        })
        .await?;
    let sealed = match sealed {
        Some(s) => s,
        None => {
            super::send::ensure_session(shared, peer, !super::send::onion(shared)).await?;
            let s = super::receive::seal_content(shared, peer, Content::FileOffer(offer)).await?;
            let kept = s.clone();
            shared.post_state(move |st, _| {
                if let Some(e) = st.transfers.get_mut(&id) {
                    e.sealed_offer = Some(kept);
                }
            });
            s
        }
    };
    // Through relays an offer is also deposited at once: it has no receipt
    // of its own, and a packet to a recipient that is away dies unseen.
    let fallback = super::send::onion(shared)
        || shared.now().millis_since(created) >= shared.config.delivery.deposit_after_ms;
    super::send::deliver_sealed(shared, peer, &sealed, fallback, None, None).await
}

/// Why one fetch stopped.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("{0}")]
    Call(#[from] CallError),
    #[error("{0}")]
    File(#[from] FileError),
    /// The sender said the transfer is over (cancelled, file changed).
    #[error("the sender ended the transfer: {0}")]
    Ended(String),
    #[error("block {index}: {source}")]
    Block {
        index: u64,
        #[source]
        source: FileBlockError,
    },
    #[error("the sender answered with {0}")]
    Unexpected(String),
    /// Every block arrived but the content is not what was offered.
    #[error("the content does not match the offer's SHA-256 (the sender's file changed?)")]
    Mismatch,
}

impl FetchError {
    /// Retrying cannot help.
    fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Ended(_) | Self::Block { .. } | Self::Mismatch | Self::Unexpected(_)
        )
    }
}

async fn fetch_once(shared: &Arc<Shared>, id: TransferId) {
    let outcome = fetch(shared, id).await;
    if let Err(e) = &outcome
        && e.is_final()
        && let Err(rm) = shared.files.remove_part(id).await
    {
        tracing::warn!("file transfer {id}: its partial file stays ({rm})");
    }
    shared.post_state(move |st, shared| {
        let now = shared.now();
        let error = match outcome {
            // Recorded by `fetch` as soon as the file was moved.
            Ok(_) => None,
            Err(e) if e.is_final() => {
                if let Some(entry) = st.transfers.get_mut(&id)
                    && entry.record.state == TransferState::Receiving
                {
                    entry.record.state = TransferState::Failed(e.to_string());
                    entry.record.held.clear();
                    let record = entry.record.clone();
                    if let Err(err) = save(st, &record, now) {
                        tracing::warn!("file transfer {id}: failed, not recorded ({err})");
                    }
                    shared.emit(file_event(
                        &record,
                        FileChange::Failed {
                            reason: e.to_string(),
                        },
                    ));
                }
                None
            }
            Err(e) => {
                tracing::debug!("file transfer {id}: {e}");
                Some(e.to_string())
            }
        };
        attempt_ended(st, shared, id, error);
    });
}

/// One call for `blocks` blocks from `first`, and when it was made.
type Pending = tokio::task::JoinHandle<(
    u64,
    u32,
    UnixMillis,
    std::result::Result<Message, CallError>,
)>;

/// The calls of one fetch in flight, oldest first; aborted when the fetch
/// stops (an error, the node's shutdown), so none outlives it.
#[derive(Default)]
struct InFlight(std::collections::VecDeque<Pending>);

impl Drop for InFlight {
    fn drop(&mut self) {
        for p in self.0.drain(..) {
            p.abort();
        }
    }
}

/// Fetches what is missing of an inbound transfer; where it was saved.
async fn fetch(shared: &Arc<Shared>, id: TransferId) -> std::result::Result<PathBuf, FetchError> {
    let record = shared
        .with_state(move |st, _| {
            st.transfers
                .get(&id)
                .map(|e| e.record.clone())
                .ok_or_else(|| NodeError::UnknownTransfer(id.to_string()))
        })
        .await?;
    let cipher = FileCipher::new(record.key.as_slice(), id, record.size)
        .map_err(|source| FetchError::Block { index: 0, source })?;
    let total = block_count(record.size);
    // What is durable of the file: its hash is taken again from the
    // partial file (the hash state is not kept across restarts). All of
    // it (a failure after the last block, before the file was moved) is
    // checked as it is; else the fetch goes on from a block boundary.
    let mut have = record.done.min(record.size);
    if have < record.size {
        have -= have % FILE_BLOCK_BYTES as u64;
    }
    let mut hasher = Sha256::new();
    let mut offset = 0;
    while offset < have {
        let want = HASH_READ_BYTES.min(usize::try_from(have - offset).unwrap_or(HASH_READ_BYTES));
        let piece = shared.files.read_part(id, offset, want).await?;
        if piece.is_empty() {
            break;
        }
        hasher.update(&piece);
        offset += piece.len() as u64;
    }
    if offset < have {
        // The partial file is shorter than its record says (lost with a
        // disk): start over.
        tracing::warn!(
            "file transfer {id}: the partial file lost what was recorded; fetching it again"
        );
        have = 0;
        hasher = Sha256::new();
        shared.post_state(move |st, _| {
            if let Some(e) = st.transfers.get_mut(&id) {
                e.record.done = 0;
                e.received = 0;
            }
        });
    }
    let mut next_block = if have == record.size {
        total
    } else {
        have / FILE_BLOCK_BYTES as u64
    };
    // Blocks that came through the mailboxes, from where the file stands:
    // a small file whose sender cannot be reached arrives this way.
    let mut from_mailboxes = false;
    while let Some((_, content)) = record.held.iter().find(|(i, _)| *i == next_block) {
        let at = next_block * FILE_BLOCK_BYTES as u64;
        shared.files.write_part(id, at, content.clone()).await?;
        hasher.update(content);
        have = at + content.len() as u64;
        next_block += 1;
        from_mailboxes = true;
    }
    if from_mailboxes && next_block < total {
        progress(shared, id, have).await?;
    }
    let mut written_block = next_block;
    let peer = record.peer;
    // Only to fetch what is missing (and to tell the sender at the end).
    let addrs: Option<Arc<[std::net::SocketAddr]>> = if next_block < total {
        Some(super::send::endpoints_of(shared, peer).await?.into())
    } else {
        None
    };
    let mut pace = FetchPace::default();
    let mut failures = 0u32;
    let mut in_flight = InFlight::default();
    let mut unsynced = 0u64;
    let mut last_sync = shared.now();
    while written_block < total {
        while in_flight.0.len() < pace.window && next_block < total {
            let blocks = u32::try_from(u64::from(pace.blocks).min(total - next_block)).unwrap_or(1);
            let req = Message::FileChunkRequest(FileChunkRequest {
                transfer: id,
                first_block: next_block,
                blocks,
            });
            let (call_shared, call_addrs) = (shared.clone(), addrs.clone().unwrap_or_default());
            let first = next_block;
            let started = shared.now();
            in_flight.0.push_back(tokio::spawn(async move {
                let r = super::relay::call(&call_shared, peer, &call_addrs, &req).await;
                (first, blocks, started, r)
            }));
            next_block += u64::from(blocks);
        }
        let Some(pending) = in_flight.0.pop_front() else {
            break;
        };
        let (first, blocks, started, result) = match pending.await {
            Ok(r) => r,
            Err(_) => {
                return Err(NodeError::Stopping.into());
            }
        };
        match result {
            Ok(Message::FileChunks(sealed)) if sealed.len() == blocks as usize => {
                pace.answered(shared.now().millis_since(started));
                failures = 0;
                // Opened and checked whole, then written with one call.
                let at = first * FILE_BLOCK_BYTES as u64;
                let mut contents = Vec::with_capacity(sealed.len() * FILE_BLOCK_BYTES);
                for (index, s) in (first..).zip(sealed) {
                    let content = cipher
                        .open(index, &s)
                        .map_err(|source| FetchError::Block { index, source })?;
                    if content.len() != block_len(record.size, index) {
                        return Err(FetchError::Block {
                            index,
                            source: FileBlockError::Authentication,
                        });
                    }
                    hasher.update(&content);
                    contents.extend_from_slice(&content);
                    written_block = index + 1;
                }
                let written = contents.len() as u64;
                shared.files.write_part(id, at, contents).await?;
                unsynced += written;
                have = at + written;
                let since_sync = shared.now().millis_since(last_sync);
                let due = (unsynced >= PROGRESS_SYNC_BYTES
                    && since_sync >= shared.config.files.sync_interval_ms)
                    || since_sync >= PROGRESS_SYNC_MAX_WAIT_MS;
                if due && written_block < total {
                    unsynced = 0;
                    last_sync = shared.now();
                    progress(shared, id, have).await?;
                } else {
                    let done = have;
                    let receiving = shared
                        .with_state(move |st, _| {
                            Ok::<_, NodeError>(st.transfers.get_mut(&id).is_some_and(|e| {
                                e.received = done;
                                e.record.state == TransferState::Receiving
                            }))
                        })
                        .await?;
                    if !receiving {
                        return Err(FetchError::Ended("cancelled here".into()));
                    }
                }
            }
            Ok(other) => {
                return Err(FetchError::Unexpected(
                    format!("{other:?}")
                        .chars()
                        .take(MAX_UNEXPECTED_SHOWN)
                        .collect(),
                ));
            }
            Err(CallError::Refused {
                code: RefusalCode::Stale,
                detail,
            }) => {
                // The sender's words: no control characters kept.
                return Err(FetchError::Ended(
                    detail.chars().flat_map(char::escape_default).collect(),
                ));
            }
            Err(e) => {
                super::send::unanswered_call(shared, peer, &e);
                failures += 1;
                if failures >= MAX_FETCH_FAILURES {
                    // What arrived so far is kept for the next attempt.
                    let _ = progress(shared, id, have).await;
                    return Err(e.into());
                }
                pace.failed();
                next_block = written_block;
                for p in in_flight.0.drain(..) {
                    p.abort();
                }
            }
        }
    }
    if total > 0 {
        shared.files.sync_part(id).await?;
    } else {
        // An empty file: nothing was written, so the partial file is made.
        shared.files.write_part(id, 0, Vec::new()).await?;
    }
    let digest: [u8; 32] = hasher.finalize().into();
    // Not secret: a plain comparison.
    if digest != record.sha256 {
        return Err(FetchError::Mismatch);
    }
    // Cancelled meanwhile: not published.
    let receiving = shared
        .with_state(move |st, _| {
            Ok::<_, NodeError>(
                st.transfers
                    .get(&id)
                    .is_some_and(|e| e.record.state == TransferState::Receiving),
            )
        })
        .await?;
    if !receiving {
        return Err(FetchError::Ended("cancelled here".into()));
    }
    let path = shared
        .files
        .finish_part(id, record.size, record.name.clone())
        .await?;
    // Recorded at once: from here on the file is in the downloads
    // directory, and a stop must not make the node fetch it again.
    let saved = path.clone();
    shared
        .with_state(move |st, shared| {
            completed(st, shared, id, saved);
            Ok::<_, NodeError>(())
        })
        .await?;
    tracing::info!(
        "file {} ({} bytes) received from {peer}, saved as {}",
        record.name,
        record.size,
        path.display()
    );
    let task_shared = shared.clone();
    shared.spawn(async move { tell_sender(&task_shared, peer, notice(id, None)).await });
    Ok(path)
}

/// Records an inbound transfer as complete, its file at `path`.
fn completed(st: &mut State, shared: &Shared, id: TransferId, path: PathBuf) {
    let now = shared.now();
    let Some(e) = st.transfers.get_mut(&id) else {
        return;
    };
    // Complete even if cancelled meanwhile: the file is there.
    e.record.state = TransferState::Done;
    e.record.done = e.record.size;
    e.received = e.record.size;
    e.record.held.clear();
    e.record.path = Some(path.clone());
    let record = e.record.clone();
    if let Err(err) = save(st, &record, now) {
        tracing::warn!("file transfer {id}: received, not recorded ({err})");
    }
    shared.emit(file_event(
        &record,
        FileChange::Completed { path: Some(path) },
    ));
}

/// Tells the sender its file arrived whole (so it stops serving it and
/// its `send-file` ends), trying [`FINISHED_NOTICE_TRIES`] times under the
/// retry policy; if none gets through, the sender gives the transfer up
/// after [`TRANSFER_TTL_MS`].
async fn tell_sender(shared: &Arc<Shared>, peer: NodeId, receipt: Content) {
    for attempt in 1..=FINISHED_NOTICE_TRIES {
        match super::receive::send_sealed_content(shared, peer, receipt.clone()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::debug!("a file receipt for {peer} was not delivered ({e})");
                let wait = shared
                    .with_state(move |st, shared| {
                        Ok::<_, NodeError>(shared.config.delivery.backoff_ms(attempt, &mut st.rng))
                    })
                    .await;
                let Ok(wait) = wait else { return };
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
        }
    }
}
/// What a recipient tells the sender, sealed in the session (directly, else
/// through the sender's mailboxes): the file arrived whole, or it will not
/// take it (`declined`, and why).
fn notice(transfer: TransferId, declined: Option<String>) -> Content {
    Content::FileReceipt {
        transfer,
        declined: declined.map(|r| {
            let mut end = r.len().min(MAX_DECLINE_REASON_BYTES);
            while !r.is_char_boundary(end) {
                end -= 1;
            }
            r.get(..end).unwrap_or_default().to_owned()
        }),
    }
}
/// Makes `have` bytes of the partial file durable, then its record.
async fn progress(
    shared: &Arc<Shared>,
    id: TransferId,
    have: u64,
) -> std::result::Result<(), FetchError> {
    shared.files.sync_part(id).await?;
    let receiving = shared
        .with_state(move |st, shared| {
            let now = shared.now();
            let Some(e) = st.transfers.get_mut(&id) else {
                return Ok::<_, NodeError>(false);
            };
            if e.record.state != TransferState::Receiving {
                return Ok(false);
            }
            e.record.done = e.record.done.max(have);
            // Blocks held from the mailboxes that are now on disk.
            e.record.held.retain(|(i, c)| {
                i.saturating_mul(FILE_BLOCK_BYTES as u64)
                    .saturating_add(c.len() as u64)
                    > have
            });
            let record = e.record.clone();
            save(st, &record, now)?;
            Ok(true)
        })
        .await?;
    if !receiving {
        return Err(FetchError::Ended("cancelled here".into()));
    }
    Ok(())
}
