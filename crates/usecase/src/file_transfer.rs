//! A file transfer as the node keeps it ([`Transfer`]): what was offered,
//! which way, how far it got and how it ended; its pickle for the store
//! (sealed there: it holds the file's key); and the pace a receiver asks
//! for blocks at ([`FetchPace`]).
//!
//! Pickle layout ("TNFT", version 1, integers big-endian): transfer id
//! (16), peer (32), direction (1: 1 in, 2 out), size u64, SHA-256 (32),
//! key (32), created u64, done u64, stamp size u64, stamp modified u128,
//! then length-prefixed (u16) name, path and state: a tag byte (1
//! offering, 2 offered, 3 receiving, 4 done, 5 failed, 6 cancelled) and,
//! for a failure, its reason; then the blocks held (u16 count, each its
//! index u64, length u32 and content).

use std::path::PathBuf;

use tacnode_domain::file_transfer::{FileOffer, MAX_BLOCKS_PER_REQUEST, TransferId};
use tacnode_domain::ports::FileStamp;
use tacnode_domain::store::SecretBytes;
use tacnode_domain::{Direction, NodeId, UnixMillis};

const MAGIC: &[u8; 4] = b"TNFT";
const VERSION: u8 = 1;
/// Longest path or reason kept in a record, in bytes.
pub const MAX_TRANSFER_TEXT_BYTES: usize = 2048;

/// Where a transfer is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TransferState {
    /// Ours: the offer is not handed over yet.
    Offering,
    /// Ours: the offer was handed over (directly or to mailboxes); the
    /// recipient fetches the blocks.
    Offered,
    /// Theirs: blocks are being fetched.
    Receiving,
    /// Complete: received and checked, or (ours) the recipient said so.
    Done,
    /// Given up, and why in words.
    Failed(String),
    /// Cancelled by the operator.
    Cancelled,
}

impl TransferState {
    /// Still under way.
    pub fn active(&self) -> bool {
        matches!(self, Self::Offering | Self::Offered | Self::Receiving)
    }
}

/// One file transfer, either way.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transfer {
    /// Its id.
    pub id: TransferId,
    /// The other end.
    pub peer: NodeId,
    /// Ours (outbound) or theirs (inbound).
    pub direction: Direction,
    /// The file's name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// SHA-256 of its content.
    pub sha256: [u8; 32],
    /// The key of its blocks (secret).
    pub key: SecretBytes,
    /// When it was offered (ours) or the offer arrived (theirs).
    pub created: UnixMillis,
    /// Bytes done: received and durable (theirs), or the furthest block
    /// end served (ours).
    pub done: u64,
    /// Ours: the file being sent and how it looked when offered.
    pub stamp: FileStamp,
    /// Ours: the file being sent; theirs: where it was saved once done.
    pub path: Option<PathBuf>,
    /// Where it is.
    pub state: TransferState,
    /// Theirs: blocks that came through the mailboxes and are not written
    /// yet, by index (a small file's, at most
    /// [`tacnode_domain::file_transfer::MAILBOX_FILE_BYTES`] in all).
    pub held: Vec<(u64, Vec<u8>)>,
}

impl Transfer {
    /// The offer that tells the recipient about an outbound transfer.
    pub fn offer(&self) -> FileOffer {
        FileOffer {
            transfer: self.id,
            name: self.name.clone(),
            size: self.size,
            sha256: self.sha256,
            key: self.key.clone(),
        }
    }
}

/// Why a transfer record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferPickleError {
    /// Truncated, followed by stray bytes, or not UTF-8 where text is.
    #[error("file transfer record truncated or malformed")]
    Malformed,
    /// Not a transfer record.
    #[error("not a file transfer record")]
    BadMagic,
    /// A version this build does not read.
    #[error("unsupported file transfer record version {0}")]
    UnsupportedVersion(u8),
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    let mut end = text.len().min(MAX_TRANSFER_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = text.as_bytes().get(..end).unwrap_or_default();
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The record as bytes, for the store to seal (a path or reason over
/// [`MAX_TRANSFER_TEXT_BYTES`] is cut).
pub fn pickle(t: &Transfer) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(256));
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(t.id.as_bytes());
    out.extend_from_slice(t.peer.as_bytes());
    out.push(match t.direction {
        Direction::Inbound => 1,
        Direction::Outbound => 2,
    });
    out.extend_from_slice(&t.size.to_be_bytes());
    out.extend_from_slice(&t.sha256);
    let mut key = [0u8; 32];
    let k = t.key.as_slice();
    if let Some(dst) = key.get_mut(..k.len().min(32)) {
        dst.copy_from_slice(k.get(..dst.len()).unwrap_or_default());
    }
    out.extend_from_slice(&key);
    zeroize::Zeroize::zeroize(&mut key);
    out.extend_from_slice(&t.created.0.to_be_bytes());
    out.extend_from_slice(&t.done.to_be_bytes());
    out.extend_from_slice(&t.stamp.size.to_be_bytes());
    out.extend_from_slice(&t.stamp.modified_ns.to_be_bytes());
    put_text(&mut out, &t.name);
    put_text(
        &mut out,
        &t.path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let (tag, reason) = match &t.state {
        TransferState::Offering => (1, ""),
        TransferState::Offered => (2, ""),
        TransferState::Receiving => (3, ""),
        TransferState::Done => (4, ""),
        TransferState::Failed(r) => (5, r.as_str()),
        TransferState::Cancelled => (6, ""),
    };
    out.push(tag);
    put_text(&mut out, reason);
    out.extend_from_slice(&(t.held.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    for (index, content) in t.held.iter().take(usize::from(u16::MAX)) {
        out.extend_from_slice(&index.to_be_bytes());
        out.extend_from_slice(&(content.len() as u32).to_be_bytes());
        out.extend_from_slice(content);
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TransferPickleError> {
        if self.0.len() < n {
            return Err(TransferPickleError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], TransferPickleError> {
        self.take(N)?
            .try_into()
            .map_err(|_| TransferPickleError::Malformed)
    }
    fn u64(&mut self) -> Result<u64, TransferPickleError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn text(&mut self) -> Result<String, TransferPickleError> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| TransferPickleError::Malformed)
    }
}

/// Reads a record [`pickle`] wrote.
pub fn unpickle(bytes: &[u8]) -> Result<Transfer, TransferPickleError> {
    let mut r = Reader(bytes);
    if r.take(4)? != MAGIC {
        return Err(TransferPickleError::BadMagic);
    }
    let version = r.array::<1>()?[0];
    if version != VERSION {
        return Err(TransferPickleError::UnsupportedVersion(version));
    }
    let id = TransferId(r.array()?);
    let peer = NodeId::from_bytes(r.array()?);
    let direction = match r.array::<1>()?[0] {
        1 => Direction::Inbound,
        2 => Direction::Outbound,
        _ => return Err(TransferPickleError::Malformed),
    };
    let size = r.u64()?;
    let sha256 = r.array()?;
    let key = SecretBytes::from(r.take(32)?);
    let created = UnixMillis(r.u64()?);
    let done = r.u64()?;
    let stamp = FileStamp {
        size: r.u64()?,
        modified_ns: u128::from_be_bytes(r.array()?),
    };
    let name = r.text()?;
    let path = r.text()?;
    let state = match r.array::<1>()?[0] {
        1 => TransferState::Offering,
        2 => TransferState::Offered,
        3 => TransferState::Receiving,
        4 => TransferState::Done,
        5 => TransferState::Failed(r.text()?),
        6 => TransferState::Cancelled,
        _ => return Err(TransferPickleError::Malformed),
    };
    if !matches!(state, TransferState::Failed(_)) {
        r.text()?;
    }
    let count = u16::from_be_bytes(r.array()?);
    let mut held = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let index = r.u64()?;
        let len = u32::from_be_bytes(r.array()?) as usize;
        if len > tacnode_domain::file_transfer::FILE_BLOCK_BYTES {
            return Err(TransferPickleError::Malformed);
        }
        held.push((index, r.take(len)?.to_vec()));
    }
    if !r.0.is_empty() {
        return Err(TransferPickleError::Malformed);
    }
    Ok(Transfer {
        id,
        peer,
        direction,
        name,
        size,
        sha256,
        key,
        created,
        done,
        stamp,
        path: (!path.is_empty()).then(|| PathBuf::from(path)),
        state,
        held,
    })
}

/// Most requests a receiver keeps in flight to one sender.
pub const MAX_FETCH_WINDOW: usize = 4;
/// An answer this fast (in ms) lets the receiver ask for more at once.
pub const FAST_ANSWER_MS: u64 = 1_000;

/// How much a receiver asks for at once: one block and one request to
/// start with (a 64 KiB block takes 8 s on a 64 kbit/s radio); each fast
/// answer doubles the blocks per request up to
/// [`MAX_BLOCKS_PER_REQUEST`], then adds a request in flight up to
/// [`MAX_FETCH_WINDOW`]; any failure starts over from one and one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FetchPace {
    /// Blocks per request.
    pub blocks: u32,
    /// Requests in flight.
    pub window: usize,
}

impl Default for FetchPace {
    fn default() -> Self {
        Self {
            blocks: 1,
            window: 1,
        }
    }
}

impl FetchPace {
    /// An answer came after `elapsed_ms`.
    pub fn answered(&mut self, elapsed_ms: u64) {
        if elapsed_ms > FAST_ANSWER_MS {
            return;
        }
        if self.blocks < MAX_BLOCKS_PER_REQUEST {
            self.blocks = (self.blocks * 2).min(MAX_BLOCKS_PER_REQUEST);
        } else if self.window < MAX_FETCH_WINDOW {
            self.window += 1;
        }
    }

    /// A request failed.
    pub fn failed(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(state: TransferState) -> Transfer {
        Transfer {
            id: TransferId([1; 16]),
            peer: NodeId::from_bytes([2; 32]),
            direction: Direction::Outbound,
            name: "map.png".into(),
            size: 123_456,
            sha256: [3; 32],
            key: SecretBytes::from(vec![4; 32]),
            created: UnixMillis(5),
            done: 65_536,
            stamp: FileStamp {
                size: 123_456,
                modified_ns: 1_700_000_000_123_456_789,
            },
            path: Some(PathBuf::from("/home/op/map.png")),
            state,
            held: vec![(3, vec![9; 100]), (5, Vec::new())],
        }
    }

    #[test]
    fn records_round_trip_in_every_state() {
        for state in [
            TransferState::Offering,
            TransferState::Offered,
            TransferState::Receiving,
            TransferState::Done,
            TransferState::Failed("the disk is full".into()),
            TransferState::Cancelled,
        ] {
            let t = sample(state);
            assert_eq!(unpickle(&pickle(&t)), Ok(t));
        }
        let mut long = sample(TransferState::Failed("é".repeat(MAX_TRANSFER_TEXT_BYTES)));
        long.path = Some(PathBuf::from("ж".repeat(MAX_TRANSFER_TEXT_BYTES)));
        let back = unpickle(&pickle(&long)).expect("cut at a character boundary");
        assert!(
            back.path
                .is_some_and(|p| p.as_os_str().len() <= MAX_TRANSFER_TEXT_BYTES)
        );
        let mut none = sample(TransferState::Receiving);
        none.path = None;
        assert_eq!(unpickle(&pickle(&none)), Ok(none));
        let bytes = pickle(&sample(TransferState::Done));
        assert_eq!(
            unpickle(bytes.get(..bytes.len() - 1).unwrap_or_default()),
            Err(TransferPickleError::Malformed)
        );
        let mut extra = bytes.to_vec();
        extra.push(0);
        assert_eq!(unpickle(&extra), Err(TransferPickleError::Malformed));
    }

    #[test]
    fn the_pace_grows_on_fast_answers_and_starts_over_on_a_failure() {
        let mut p = FetchPace::default();
        p.answered(FAST_ANSWER_MS + 1);
        assert_eq!(p, FetchPace::default());
        for _ in 0..10 {
            p.answered(10);
        }
        assert_eq!(
            p,
            FetchPace {
                blocks: MAX_BLOCKS_PER_REQUEST,
                window: MAX_FETCH_WINDOW
            }
        );
        p.failed();
        assert_eq!(p, FetchPace::default());
    }
}
