//! The message history as a file an auditor can trust: JSON Lines bound to
//! the node's identity, every line authenticated.
//!
//! Layout (version 2), one JSON object per line:
//! - a header `{"tacnode_history":2,"identity":"key_…","mac":"…"}`;
//! - one line per message: `time_ms`, `direction` (`in`/`out`),
//!   `sender_address` (who wrote it, when known), `contact_name`,
//!   `peer_node_id` (hex; the other party), `message_id` (hex), `text`, and
//!   `mac`;
//! - a trailer `{"end":N,"mac":"…"}` with the number of message lines.
//!
//! Each `mac` is HMAC-SHA-256, under a key derived from the storage key, over
//! the line's number (u64 big-endian, the header being 0) and the line's
//! JSON without its `mac` field. An edited, reordered, inserted or deleted
//! line, a truncated file, or a file of another node (another identity or
//! storage key) is refused on import, with the line number. Import is
//! idempotent and all-or-nothing: messages already present are skipped, and
//! nothing is written unless every line verified.
//!
//! Export goes on past rows it cannot read (a damaged page), counting them,
//! so one bad row does not cost the rest of the history.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tacnode_domain::{
    Contact, Direction, MESSAGE_ID_LEN, MessageId, NodeId, PeerAddress, StoredMessage, UnixMillis,
};
use zeroize::Zeroizing;

use crate::{ImportSummary, SqliteError, Store};

/// Version written in the header.
pub const HISTORY_FILE_VERSION: u32 = 2;
/// Longest line accepted on import.
pub const MAX_HISTORY_LINE_BYTES: usize = 256 * 1024;
/// Domain separator of the MAC key derived from the storage key.
const MAC_KEY_CONTEXT: &[u8] = b"tacnode-history-file/v2 mac key";

type HmacSha256 = Hmac<Sha256>;

/// Why an export or an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryFileError {
    /// Writing the export failed.
    #[error("cannot write the export: {0}")]
    Write(#[source] io::Error),
    /// Reading the import failed.
    #[error("cannot read the file: {0}")]
    Read(#[source] io::Error),
    /// The first line is not a history header.
    #[error(
        "line 1: not a tacnode history export (version {HISTORY_FILE_VERSION} header expected)"
    )]
    NoHeader,
    /// The file was exported by another identity.
    #[error(
        "the export belongs to {found}, not to this node ({own}); refusing another identity's history"
    )]
    OtherIdentity {
        /// The identity the header names.
        found: String,
        /// Ours.
        own: String,
    },
    /// A line failed its MAC: edited, moved, or made with another storage key.
    #[error("line {line}: edited, out of place, or not exported by this node (MAC mismatch)")]
    Tampered {
        /// 1-based line number.
        line: usize,
    },
    /// A line does not parse.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The trailer is missing or counts another number of lines.
    #[error("the file ends after {lines} lines without its end line: truncated")]
    Truncated {
        /// Lines read.
        lines: usize,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] SqliteError),
    /// The export's file exists already.
    #[error("{} already exists; choose another file or remove it first", .0.display())]
    Exists(PathBuf),
    /// The export's file cannot be created.
    #[error("cannot create {}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Creates the file an export is written to: new (never over an existing
/// file) and readable by its owner only, as the history in it is
/// decrypted.
pub fn create_history_file(path: &Path) -> Result<std::fs::File, HistoryFileError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => HistoryFileError::Exists(path.to_path_buf()),
            _ => HistoryFileError::Create {
                path: path.to_path_buf(),
                source,
            },
        })
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Messages written.
    pub exported: u64,
    /// Rows that could not be read (damaged) and were left out.
    pub unreadable: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    tacnode_history: u32,
    identity: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Line {
    time_ms: u64,
    direction: String,
    sender_address: Option<String>,
    contact_name: Option<String>,
    peer_node_id: String,
    message_id: String,
    text: String,
    /// A group message's group id (hex); absent for a pairwise one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    end: u64,
}

/// A line as read: the body fields and the MAC.
#[derive(Deserialize)]
struct Signed<T> {
    #[serde(flatten)]
    body: T,
    mac: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

struct LineMac(Zeroizing<[u8; 32]>);

impl LineMac {
    fn new(storage_key: &[u8; 32]) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        if let Ok(mut m) = HmacSha256::new_from_slice(storage_key) {
            m.update(MAC_KEY_CONTEXT);
            key.copy_from_slice(&m.finalize().into_bytes());
        }
        Self(key)
    }

    fn tag(&self, index: u64, body: &str) -> HmacSha256 {
        // An HMAC key of 32 bytes is always accepted.
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        m.update(&index.to_be_bytes());
        m.update(body.as_bytes());
        m
    }

    /// `body` (a JSON object) with its `mac` field added.
    fn sign(&self, index: u64, body: &str) -> String {
        let mac = hex(&self.tag(index, body).finalize().into_bytes());
        let open = body.strip_suffix('}').unwrap_or(body);
        format!("{open},\"mac\":\"{mac}\"}}")
    }

    fn verify(&self, index: u64, body: &str, mac: &str) -> bool {
        unhex::<32>(mac).is_some_and(|m| self.tag(index, body).verify_slice(&m).is_ok())
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    // Serialising these plain structs cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

impl Store {
    /// Writes the whole history to `out` (format in the module docs), for
    /// the node `own`; rows that cannot be read are left out and counted.
    pub fn export_history_file(
        &self,
        own: &PeerAddress,
        out: &mut dyn Write,
    ) -> Result<ExportSummary, HistoryFileError> {
        let mac = LineMac::new(self.storage_key.as_bytes());
        let contacts: HashMap<NodeId, Contact> = self
            .contacts()?
            .into_iter()
            .map(|c| (c.node_id, c))
            .collect();
        let write = |out: &mut dyn Write, line: String| {
            out.write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(HistoryFileError::Write)
        };
        let header = to_json(&Header {
            tacnode_history: HISTORY_FILE_VERSION,
            identity: own.to_string(),
        });
        write(out, mac.sign(0, &header))?;
        let mut summary = ExportSummary::default();
        let mut failed = None;
        self.export_history_rows(|row| {
            if failed.is_some() {
                return;
            }
            let Ok(m) = row else {
                summary.unreadable += 1;
                return;
            };
            let index = summary.exported + 1;
            let body = to_json(&to_line(&m, own, &contacts));
            match write(out, mac.sign(index, &body)) {
                Ok(()) => summary.exported = index,
                Err(e) => failed = Some(e),
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let end = summary.exported;
        write(out, mac.sign(end + 1, &to_json(&Trailer { end })))?;
        out.flush().map_err(HistoryFileError::Write)?;
        Ok(summary)
    }

    /// Reads a history file of this node (`own`, and this storage key),
    /// verifying every line before anything is written, then inserts what
    /// is not already present.
    pub fn import_history_file(
        &mut self,
        own: &PeerAddress,
        input: &mut dyn BufRead,
    ) -> Result<ImportSummary, HistoryFileError> {
        let mac = LineMac::new(self.storage_key.as_bytes());
        let mut messages = Vec::new();
        let mut buf = String::new();
        let mut line_no = 0usize;
        let mut ended = false;
        loop {
            buf.clear();
            let cap = u64::try_from(MAX_HISTORY_LINE_BYTES).unwrap_or(u64::MAX) + 1;
            let n = io::Read::take(&mut *input, cap)
                .read_line(&mut buf)
                .map_err(HistoryFileError::Read)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let malformed = |reason: String| HistoryFileError::Malformed {
                line: line_no,
                reason,
            };
            if buf.len() > MAX_HISTORY_LINE_BYTES {
                return Err(malformed(format!(
                    "longer than {MAX_HISTORY_LINE_BYTES} bytes"
                )));
            }
            if ended {
                return Err(malformed("data after the end line".into()));
            }
            let text = buf.trim_end_matches(['\n', '\r']);
            let index = u64::try_from(line_no - 1).unwrap_or(u64::MAX);
            if line_no == 1 {
                let h: Signed<Header> =
                    serde_json::from_str(text).map_err(|_| HistoryFileError::NoHeader)?;
                if h.body.tacnode_history != HISTORY_FILE_VERSION {
                    return Err(HistoryFileError::NoHeader);
                }
                if h.body.identity != own.to_string() {
                    return Err(HistoryFileError::OtherIdentity {
                        found: h.body.identity,
                        own: own.to_string(),
                    });
                }
                if !mac.verify(index, &to_json(&h.body), &h.mac) {
                    return Err(HistoryFileError::Tampered { line: line_no });
                }
                continue;
            }
            if let Ok(t) = serde_json::from_str::<Signed<Trailer>>(text) {
                if !mac.verify(index, &to_json(&t.body), &t.mac) {
                    return Err(HistoryFileError::Tampered { line: line_no });
                }
                if t.body.end != index.saturating_sub(1) {
                    return Err(malformed("the end line counts other lines".into()));
                }
                ended = true;
                continue;
            }
            let l: Signed<Line> =
                serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
            if !mac.verify(index, &to_json(&l.body), &l.mac) {
                return Err(HistoryFileError::Tampered { line: line_no });
            }
            messages.push(from_line(l.body).map_err(malformed)?);
        }
        if line_no == 0 {
            return Err(HistoryFileError::NoHeader);
        }
        if !ended {
            return Err(HistoryFileError::Truncated { lines: line_no });
        }
        Ok(self.import_history(messages)?)
    }
}

fn to_line(m: &StoredMessage, own: &PeerAddress, contacts: &HashMap<NodeId, Contact>) -> Line {
    let contact = contacts.get(&m.peer);
    let sender_address = match m.direction {
        Direction::Outbound => Some(own.to_string()),
        Direction::Inbound => contact.map(|c| PeerAddress::new(c.identity_key).to_string()),
    };
    Line {
        time_ms: m.time.0,
        direction: match m.direction {
            Direction::Inbound => "in".into(),
            Direction::Outbound => "out".into(),
        },
        sender_address,
        contact_name: contact.map(|c| c.name.clone()),
        peer_node_id: hex(m.peer.as_bytes()),
        message_id: hex(m.message_id.as_bytes()),
        text: m.text.clone(),
        group_id: m.group.map(|g| hex(g.as_bytes())),
    }
}

fn from_line(l: Line) -> Result<StoredMessage, String> {
    let direction = match l.direction.as_str() {
        "in" => Direction::Inbound,
        "out" => Direction::Outbound,
        other => {
            return Err(format!(
                "direction: expected \"in\" or \"out\", got {other:?}"
            ));
        }
    };
    Ok(StoredMessage {
        time: UnixMillis(l.time_ms),
        peer: NodeId::from_bytes(
            unhex::<32>(&l.peer_node_id)
                .ok_or_else(|| "peer_node_id: not 64 hex digits".to_string())?,
        ),
        direction,
        message_id: MessageId(
            unhex::<MESSAGE_ID_LEN>(&l.message_id)
                .ok_or_else(|| "message_id: not 32 hex digits".to_string())?,
        ),
        text: l.text,
        group: l
            .group_id
            .map(|g| {
                unhex::<32>(&g)
                    .map(tacnode_domain::group::GroupId)
                    .ok_or_else(|| "group_id: not 64 hex digits".to_string())
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageKey;

    fn own(seed: u8) -> PeerAddress {
        let sk = ed25519_dalek_key(seed);
        PeerAddress::new(sk)
    }

    fn ed25519_dalek_key(seed: u8) -> tacnode_domain::IdentityKey {
        // Valid Ed25519 points: the base point, and a known other key.
        const BASE: [u8; 32] = [
            0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
            0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
            0x66, 0x66, 0x66, 0x66,
        ];
        const OTHER: [u8; 32] = [
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ];
        tacnode_domain::IdentityKey::from_bytes(if seed == 0 { &BASE } else { &OTHER }).unwrap()
    }

    fn store(key: u8) -> Store {
        Store::open_in_memory(StorageKey::from_bytes([key; 32])).unwrap()
    }

    fn filled() -> Store {
        let mut s = store(4);
        let peer = NodeId::from_bytes([5; 32]);
        for i in 0..3u8 {
            s.insert_inbound(
                &peer,
                &MessageId([i; 16]),
                &format!("in {i}"),
                UnixMillis(10 + u64::from(i)),
            )
            .unwrap();
            s.queue_outbound(
                &peer,
                &MessageId([100 + i; 16]),
                &format!("out {i}"),
                UnixMillis(20 + u64::from(i)),
            )
            .unwrap();
        }
        s
    }

    fn export(s: &Store, who: &PeerAddress) -> String {
        let mut out = Vec::new();
        let summary = s.export_history_file(who, &mut out).unwrap();
        assert_eq!(summary.unreadable, 0);
        String::from_utf8(out).unwrap()
    }

    fn import(
        s: &mut Store,
        who: &PeerAddress,
        text: &str,
    ) -> Result<ImportSummary, HistoryFileError> {
        s.import_history_file(who, &mut text.as_bytes())
    }

    #[test]
    fn export_then_import_restores_history_idempotently() {
        let src = filled();
        let me = own(0);
        let text = export(&src, &me);
        assert_eq!(text.lines().count(), 1 + 6 + 1);
        let mut dst = store(4);
        let s = import(&mut dst, &me, &text).unwrap();
        assert_eq!((s.inserted, s.skipped), (6, 0));
        let s = import(&mut dst, &me, &text).unwrap();
        assert_eq!((s.inserted, s.skipped), (0, 6));
        assert_eq!(
            export(&dst, &me),
            text,
            "a restored history exports identically"
        );
    }

    /// `import` used to accept another node's export and edited lines as
    /// normal messages (issue #13): every edit is refused with its line.
    #[test]
    fn edits_truncation_and_foreign_files_are_refused_with_the_line() {
        let src = filled();
        let me = own(0);
        let text = export(&src, &me);
        let lines: Vec<&str> = text.lines().collect();
        let join = |v: &[&str]| v.join("\n") + "\n";
        let mut dst = store(4);

        let edited = text.replacen("\"in 1\"", "\"in X\"", 1);
        let line = lines.iter().position(|l| l.contains("\"in 1\"")).unwrap() + 1;
        assert!(
            matches!(import(&mut dst, &me, &edited), Err(HistoryFileError::Tampered { line: l }) if l == line)
        );

        let mut swapped = lines.clone();
        swapped.swap(2, 3);
        assert!(matches!(
            import(&mut dst, &me, &join(&swapped)),
            Err(HistoryFileError::Tampered { line: 3 })
        ));

        let mut dropped = lines.clone();
        dropped.remove(4);
        assert!(matches!(
            import(&mut dst, &me, &join(&dropped)),
            Err(HistoryFileError::Tampered { line: 5 })
        ));

        let truncated = join(&lines[..lines.len() - 1]);
        assert!(matches!(
            import(&mut dst, &me, &truncated),
            Err(HistoryFileError::Truncated { .. })
        ));

        assert!(matches!(
            import(&mut dst, &own(1), &text),
            Err(HistoryFileError::OtherIdentity { .. })
        ));
        // Same identity in the header, another storage key: not this node's.
        let mut stranger = store(9);
        assert!(matches!(
            import(&mut stranger, &me, &text),
            Err(HistoryFileError::Tampered { line: 1 })
        ));
        assert!(matches!(
            import(&mut dst, &me, "{\"time_ms\":1}\n"),
            Err(HistoryFileError::NoHeader)
        ));
        // Nothing was written by any refused import.
        assert_eq!(export(&dst, &me).lines().count(), 2);
    }

    /// A damaged row no longer stops the export half-way (issue #13).
    #[test]
    fn export_goes_on_past_a_damaged_row() {
        let src = filled();
        src.conn
            .execute(
                "UPDATE inbox SET sealed = x'00' WHERE message_id = ?1",
                [[1u8; 16].as_slice()],
            )
            .unwrap();
        let mut out = Vec::new();
        let summary = src.export_history_file(&own(0), &mut out).unwrap();
        assert_eq!(
            summary,
            ExportSummary {
                exported: 5,
                unreadable: 1
            }
        );
        let mut dst = store(4);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(import(&mut dst, &own(0), &text).unwrap().inserted, 5);
    }

    #[test]
    fn the_export_file_is_new_and_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = crate::testutil::TempDir::new();
        let path = dir.path().join("history.jsonl");
        drop(create_history_file(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = create_history_file(&path).unwrap_err();
        assert!(matches!(again, HistoryFileError::Exists(_)), "{again}");
        assert!(
            again
                .to_string()
                .ends_with("already exists; choose another file or remove it first")
        );
        let missing = dir.path().join("no/such/dir");
        let e = create_history_file(&missing).unwrap_err();
        assert!(matches!(e, HistoryFileError::Create { .. }), "{e}");
    }
}
