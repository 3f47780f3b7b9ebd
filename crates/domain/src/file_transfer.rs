//! File transfer as data: the offer a sender seals in its session with the
//! recipient, the block requests the recipient sends back, and the limits.
//!
//! A file travels in blocks of [`FILE_BLOCK_BYTES`], each sealed with the
//! offer's key. The recipient pulls them from the sender directly, a few
//! requests in flight, and writes them in order; so what it holds is always
//! a prefix of the file, which is where it resumes after a disconnect or a
//! restart.

use std::fmt;

use crate::id::KeyError;
use crate::store::SecretBytes;

/// Length in bytes of a [`TransferId`].
pub const TRANSFER_ID_LEN: usize = 16;
/// Bytes of file content in one block (the last block may be shorter).
pub const FILE_BLOCK_BYTES: usize = 64 * 1024;
/// Bytes a sealed block adds to its content (the AEAD tag).
pub const FILE_BLOCK_TAG_BYTES: usize = 16;
/// Most blocks one request asks for: 512 KiB of content, well within a
/// frame.
pub const MAX_BLOCKS_PER_REQUEST: u32 = 8;
/// Longest file name an offer carries, in bytes of UTF-8.
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Largest file whose blocks also travel through the recipient's
/// mailboxes (one block per mailbox entry) when the offer went there.
pub const MAILBOX_FILE_BYTES: u64 = 1024 * 1024;
/// Longest reason a recipient gives for declining a file, in bytes.
pub const MAX_DECLINE_REASON_BYTES: usize = 256;
/// Length of a file key in bytes (AES-256-GCM).
pub const FILE_KEY_LEN: usize = 32;

/// Random identifier of one transfer, chosen by the sender.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub [u8; TRANSFER_ID_LEN]);

impl TransferId {
    /// Parses exactly [`TRANSFER_ID_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        <[u8; TRANSFER_ID_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyError {
                expected: TRANSFER_ID_LEN,
                actual: bytes.len(),
            })
    }

    /// Raw bytes.
    pub const fn as_bytes(&self) -> &[u8; TRANSFER_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransferId({self})")
    }
}

/// Why a file name cannot travel in an offer (or be written on receipt).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    /// Empty.
    #[error("the file name is empty")]
    Empty,
    /// Longer than [`MAX_FILE_NAME_BYTES`].
    #[error("the file name is {0} bytes, the limit is {MAX_FILE_NAME_BYTES}: rename the file")]
    TooLong(usize),
    /// A directory separator, `.` or `..`, or a control character: a name
    /// that could write outside the downloads directory or mislead on a
    /// terminal.
    #[error("the file name {0:?} is not a plain file name: rename the file")]
    NotPlain(String),
}

/// Checks that `name` is a plain file name: no directory part, not `.` or
/// `..`, no control character, at most [`MAX_FILE_NAME_BYTES`].
pub fn check_file_name(name: &str) -> Result<(), FileNameError> {
    if name.is_empty() {
        return Err(FileNameError::Empty);
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(FileNameError::TooLong(name.len()));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(|c| c.is_control() || is_format(c))
    {
        return Err(FileNameError::NotPlain(name.to_owned()));
    }
    Ok(())
}

/// Unicode format characters that reorder or hide text (bidirectional
/// overrides and isolates, marks, zero-width joiners): a name with one can
/// show another extension than it has.
fn is_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// How many blocks a file of `size` bytes has.
pub const fn block_count(size: u64) -> u64 {
    size.div_ceil(FILE_BLOCK_BYTES as u64)
}

/// The content length of block `index` of a file of `size` bytes (0 past
/// the end).
pub fn block_len(size: u64, index: u64) -> usize {
    let start = index.saturating_mul(FILE_BLOCK_BYTES as u64);
    // At most FILE_BLOCK_BYTES, so the conversion cannot fail.
    usize::try_from(size.saturating_sub(start).min(FILE_BLOCK_BYTES as u64)).unwrap_or(0)
}

/// A file offered to the recipient of the message that carries it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileOffer {
    /// This transfer.
    pub transfer: TransferId,
    /// The file's name, without any directory ([`check_file_name`]).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its content.
    pub sha256: [u8; 32],
    /// The key its blocks are sealed with ([`FILE_KEY_LEN`] bytes).
    pub key: SecretBytes,
}

/// What a recipient asks the sender of a file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileChunkRequest {
    /// The transfer.
    pub transfer: TransferId,
    /// The first block wanted.
    pub first_block: u64,
    /// How many, 1..=[`MAX_BLOCKS_PER_REQUEST`].
    pub blocks: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_pass() {
        assert!(check_file_name("report 2026.pdf").is_ok());
        assert!(check_file_name("карта.png").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "..\\x",
            "a\nb",
            "a\u{1b}[2Jb",
            "invoice\u{202E}fdp.exe",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_file_name(&"x".repeat(256)),
            Err(FileNameError::TooLong(256))
        );
    }

    #[test]
    fn blocks_cover_the_file_exactly() {
        let b = FILE_BLOCK_BYTES as u64;
        assert_eq!(block_count(0), 0);
        assert_eq!(block_count(1), 1);
        assert_eq!(block_count(b), 1);
        assert_eq!(block_count(b + 1), 2);
        assert_eq!(block_len(b + 1, 0), FILE_BLOCK_BYTES);
        assert_eq!(block_len(b + 1, 1), 1);
        assert_eq!(block_len(b + 1, 2), 0);
    }
}
