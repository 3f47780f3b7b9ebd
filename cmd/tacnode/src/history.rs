//! `tacnode export` / `tacnode import`: the message history as JSON Lines.
//!
//! One object per line: `time_ms`, `direction` (`in`/`out`), `sender_address`
//! (the `key_…` address of who wrote it, when known), `contact_name`,
//! `peer_node_id` (hex; the other party, always present), `message_id`
//! (hex) and `text`. Import is idempotent: messages already present (same
//! peer and message id) are skipped.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tacnode_domain::{
    Contact, Direction, MESSAGE_ID_LEN, MessageId, NodeId, PeerAddress, StoredMessage, UnixMillis,
};

/// Longest line accepted on import.
const MAX_IMPORT_LINE_BYTES: usize = 256 * 1024;

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryLine {
    pub(crate) time_ms: u64,
    pub(crate) direction: String,
    pub(crate) sender_address: Option<String>,
    pub(crate) contact_name: Option<String>,
    pub(crate) peer_node_id: String,
    pub(crate) message_id: String,
    pub(crate) text: String,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex<const N: usize>(s: &str, what: &str) -> Result<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        bail!("{what}: expected {} hex digits", 2 * N);
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
            .with_context(|| format!("{what}: not hex"))?;
    }
    Ok(out)
}

/// Turns stored messages into lines.
pub(crate) fn to_line(
    m: &StoredMessage,
    own: &PeerAddress,
    contacts: &HashMap<NodeId, Contact>,
) -> HistoryLine {
    let contact = contacts.get(&m.peer);
    let sender_address = match m.direction {
        Direction::Outbound => Some(own.to_string()),
        Direction::Inbound => contact.map(|c| PeerAddress::new(c.identity_key).to_string()),
    };
    HistoryLine {
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
    }
}

/// Parses one line back.
pub(crate) fn from_line(line: &str) -> Result<StoredMessage> {
    let l: HistoryLine = serde_json::from_str(line)?;
    let direction = match l.direction.as_str() {
        "in" => Direction::Inbound,
        "out" => Direction::Outbound,
        other => bail!("direction: expected \"in\" or \"out\", got {other:?}"),
    };
    Ok(StoredMessage {
        time: UnixMillis(l.time_ms),
        peer: NodeId::from_bytes(unhex::<32>(&l.peer_node_id, "peer_node_id")?),
        direction,
        message_id: MessageId(unhex::<MESSAGE_ID_LEN>(&l.message_id, "message_id")?),
        text: l.text,
    })
}

/// Writes every stored message as a line; returns how many.
pub(crate) fn export(
    store: &tacnode_store::Store,
    own: &PeerAddress,
    out: &mut dyn Write,
) -> Result<u64> {
    let contacts: HashMap<NodeId, Contact> = store
        .contacts()?
        .into_iter()
        .map(|c| (c.node_id, c))
        .collect();
    let mut failed = None;
    let n = store.export_history(|m| {
        if failed.is_some() {
            return;
        }
        let line = to_line(&m, own, &contacts);
        let res = serde_json::to_writer(&mut *out, &line)
            .map_err(anyhow::Error::from)
            .and_then(|()| out.write_all(b"\n").map_err(anyhow::Error::from));
        if let Err(e) = res {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e.context("cannot write the export"));
    }
    out.flush()?;
    Ok(n)
}

/// Reads lines and inserts them; returns (inserted, skipped).
pub(crate) fn import<R: BufRead>(
    store: &mut tacnode_store::Store,
    input: &mut R,
) -> Result<(u64, u64)> {
    let mut messages = Vec::new();
    let mut buf = String::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let mut limited = std::io::Read::take(&mut *input, (MAX_IMPORT_LINE_BYTES + 1) as u64);
        let n = limited.read_line(&mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.len() > MAX_IMPORT_LINE_BYTES {
            bail!("line {line_no}: longer than {MAX_IMPORT_LINE_BYTES} bytes");
        }
        let trimmed = buf.trim_end();
        if trimmed.is_empty() {
            continue;
        }
        messages.push(from_line(trimmed).with_context(|| format!("line {line_no}"))?);
    }
    let summary = store.import_history(messages)?;
    Ok((summary.inserted, summary.skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_then_import_restores_history_idempotently() {
        let key = || tacnode_store::StorageKey::from_bytes([4; 32]);
        let mut src = tacnode_store::Store::open_in_memory(key()).unwrap();
        let peer = NodeId::from_bytes([5; 32]);
        src.insert_inbound(&peer, &MessageId([1; 16]), "in one", UnixMillis(10))
            .unwrap();
        src.queue_outbound(&peer, &MessageId([2; 16]), "out two", UnixMillis(20))
            .unwrap();
        let own = PeerAddress::new(
            tacnode_domain::IdentityKey::from_bytes(&[
                0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                0x66, 0x66, 0x66, 0x66,
            ])
            .unwrap(),
        );
        let mut out = Vec::new();
        assert_eq!(export(&src, &own, &mut out).unwrap(), 2);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"direction\":\"out\""));

        let mut dst = tacnode_store::Store::open_in_memory(key()).unwrap();
        assert_eq!(import(&mut dst, &mut out.as_slice()).unwrap(), (2, 0));
        assert_eq!(import(&mut dst, &mut out.as_slice()).unwrap(), (0, 2));
        let mut again = Vec::new();
        export(&dst, &own, &mut again).unwrap();
        assert_eq!(again, out, "a restored history exports identically");

        let bad = b"{\"time_ms\":1}\n";
        let err = import(&mut dst, &mut bad.as_slice()).unwrap_err();
        assert!(format!("{err:#}").contains("line 1"), "{err:#}");
    }

    #[test]
    fn lines_round_trip() {
        let m = StoredMessage {
            time: UnixMillis(5),
            peer: NodeId::from_bytes([3; 32]),
            direction: Direction::Inbound,
            message_id: MessageId([9; 16]),
            text: "hello\nworld".into(),
        };
        let own: PeerAddress = PeerAddress::new(
            tacnode_domain::IdentityKey::from_bytes(&[
                0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                0x66, 0x66, 0x66, 0x66,
            ])
            .unwrap(),
        );
        let line = serde_json::to_string(&to_line(&m, &own, &HashMap::new())).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(from_line(&line).unwrap(), m);
        assert!(from_line(&line.replace("\"in\"", "\"sideways\"")).is_err());
    }
}
