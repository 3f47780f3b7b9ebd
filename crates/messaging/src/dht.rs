//! DHT RPCs: wire <-> domain.

use tacnode_domain::UnixMillis;
use tacnode_domain::dht::{
    Contact, DhtRequest, DhtResponse, MAX_CONTACTS_PER_RESPONSE, Record, RecordKind, RecordValue,
    RefusalCode, SenderInfo,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{
    Result, at_most, endpoint_to_wire, endpoints, node_id, node_type, node_type_to_wire, required,
};
use crate::pb;

pub(crate) fn sender(w: Option<pb::SenderInfo>) -> Result<SenderInfo> {
    let w = required(w, "sender")?;
    Ok(SenderInfo {
        node_type: node_type(w.node_type, "sender.node_type")?,
        endpoints: endpoints(&w.endpoints, "sender.endpoints")?,
        time: (w.time_ms != 0).then_some(UnixMillis(w.time_ms)),
    })
}

fn sender_to_wire(s: &SenderInfo) -> Option<pb::SenderInfo> {
    Some(pb::SenderInfo {
        node_type: node_type_to_wire(s.node_type),
        endpoints: s.endpoints.iter().map(endpoint_to_wire).collect(),
        time_ms: s.time.map_or(0, |t| t.0),
    })
}

pub(crate) fn contacts(list: Vec<pb::Contact>, field: &str) -> Result<Vec<Contact>> {
    at_most(&list, MAX_CONTACTS_PER_RESPONSE, field)?;
    list.into_iter()
        .map(|c| {
            Ok(Contact {
                node_id: node_id(&c.node_id, &format!("{field}.node_id"))?,
                endpoints: endpoints(&c.endpoints, &format!("{field}.endpoints"))?,
            })
        })
        .collect()
}

fn contacts_to_wire(list: &[Contact]) -> Vec<pb::Contact> {
    list.iter()
        .map(|c| pb::Contact {
            node_id: c.node_id.as_bytes().to_vec(),
            endpoints: c.endpoints.iter().map(endpoint_to_wire).collect(),
        })
        .collect()
}

fn record_kind(v: i32, field: &str) -> Result<RecordKind> {
    match pb::RecordKind::try_from(v) {
        Ok(pb::RecordKind::Peer) => Ok(RecordKind::Peer),
        Ok(pb::RecordKind::Prekeys) => Ok(RecordKind::Prekeys),
        Ok(pb::RecordKind::Revocations) => Ok(RecordKind::Revocations),
        _ => Err(DecodeError::new(field, DecodeErrorKind::BadEnum(v))),
    }
}

fn record_kind_to_wire(k: RecordKind) -> i32 {
    match k {
        RecordKind::Peer => pb::RecordKind::Peer as i32,
        RecordKind::Prekeys => pb::RecordKind::Prekeys as i32,
        RecordKind::Revocations => pb::RecordKind::Revocations as i32,
    }
}

impl TryFrom<pb::Record> for Record {
    type Error = DecodeError;

    fn try_from(w: pb::Record) -> Result<Self> {
        let value = match required(w.value, "value")? {
            pb::record::Value::Peer(p) => {
                RecordValue::Peer(p.try_into().map_err(|e: DecodeError| e.within("peer"))?)
            }
            pb::record::Value::Prekeys(p) => {
                RecordValue::Prekeys(p.try_into().map_err(|e: DecodeError| e.within("prekeys"))?)
            }
            pb::record::Value::Revocations(l) => RecordValue::Revocations(
                l.try_into()
                    .map_err(|e: DecodeError| e.within("revocations"))?,
            ),
        };
        Ok(Self {
            value,
            expires: UnixMillis(w.expires_ms),
        })
    }
}

impl From<&Record> for pb::Record {
    fn from(r: &Record) -> Self {
        Self {
            value: Some(match &r.value {
                RecordValue::Peer(p) => pb::record::Value::Peer(p.into()),
                RecordValue::Prekeys(p) => pb::record::Value::Prekeys(p.into()),
                RecordValue::Revocations(l) => pb::record::Value::Revocations(l.into()),
            }),
            expires_ms: r.expires.0,
        }
    }
}

pub(crate) fn refusal_to_wire(c: RefusalCode) -> i32 {
    (match c {
        RefusalCode::Malformed => pb::ErrorCode::Malformed,
        RefusalCode::Unsupported => pb::ErrorCode::Unsupported,
        RefusalCode::Quota => pb::ErrorCode::Quota,
        RefusalCode::Unauthorized => pb::ErrorCode::Unauthorized,
        RefusalCode::Stale => pb::ErrorCode::Stale,
        RefusalCode::Internal => pb::ErrorCode::Internal,
    }) as i32
}

pub(crate) fn refusal(v: i32, field: &str) -> Result<RefusalCode> {
    match pb::ErrorCode::try_from(v) {
        Ok(pb::ErrorCode::Malformed) => Ok(RefusalCode::Malformed),
        Ok(pb::ErrorCode::Unsupported) => Ok(RefusalCode::Unsupported),
        Ok(pb::ErrorCode::Quota) => Ok(RefusalCode::Quota),
        Ok(pb::ErrorCode::Unauthorized) => Ok(RefusalCode::Unauthorized),
        Ok(pb::ErrorCode::Stale) => Ok(RefusalCode::Stale),
        Ok(pb::ErrorCode::Internal) => Ok(RefusalCode::Internal),
        _ => Err(DecodeError::new(field, DecodeErrorKind::BadEnum(v))),
    }
}

pub(crate) fn request_to_wire(r: &DhtRequest) -> pb::envelope::Body {
    use pb::envelope::Body;
    match r {
        DhtRequest::Ping { sender } => Body::Ping(pb::PingRequest {
            sender: sender_to_wire(sender),
        }),
        DhtRequest::FindNode { sender, target } => Body::FindNode(pb::FindNodeRequest {
            sender: sender_to_wire(sender),
            target: target.as_bytes().to_vec(),
        }),
        DhtRequest::FindValue { sender, key, kind } => Body::FindValue(pb::FindValueRequest {
            sender: sender_to_wire(sender),
            key: key.as_bytes().to_vec(),
            kind: record_kind_to_wire(*kind),
        }),
        DhtRequest::Store {
            sender,
            key,
            record,
        } => Body::Store(pb::StoreRequest {
            sender: sender_to_wire(sender),
            key: key.as_bytes().to_vec(),
            record: Some(record.as_ref().into()),
        }),
    }
}

pub(crate) fn response_to_wire(r: &DhtResponse) -> pb::envelope::Body {
    use pb::envelope::Body;
    match r {
        DhtResponse::Pong => Body::PingResponse(pb::PingResponse {}),
        DhtResponse::Nodes(c) => Body::FindNodeResponse(pb::FindNodeResponse {
            closer: contacts_to_wire(c),
        }),
        DhtResponse::Value { record, closer } => Body::FindValueResponse(pb::FindValueResponse {
            record: record.as_deref().map(Into::into),
            closer: contacts_to_wire(closer),
        }),
        DhtResponse::Stored(result) => Body::StoreResponse(pb::StoreResponse {
            stored: result.is_ok(),
            reason: match result {
                Ok(()) => pb::ErrorCode::Unspecified as i32,
                Err(c) => refusal_to_wire(*c),
            },
        }),
        DhtResponse::Refused(code) => Body::Error(pb::ErrorResponse {
            code: refusal_to_wire(*code),
            detail: String::new(),
        }),
    }
}

pub(crate) fn find_node(w: pb::FindNodeRequest) -> Result<DhtRequest> {
    Ok(DhtRequest::FindNode {
        sender: sender(w.sender)?,
        target: node_id(&w.target, "target")?,
    })
}

pub(crate) fn find_value(w: pb::FindValueRequest) -> Result<DhtRequest> {
    Ok(DhtRequest::FindValue {
        sender: sender(w.sender)?,
        key: node_id(&w.key, "key")?,
        kind: record_kind(w.kind, "kind")?,
    })
}

pub(crate) fn store(w: pb::StoreRequest) -> Result<DhtRequest> {
    Ok(DhtRequest::Store {
        sender: sender(w.sender)?,
        key: node_id(&w.key, "key")?,
        record: Box::new(
            required(w.record, "record")?
                .try_into()
                .map_err(|e: DecodeError| e.within("record"))?,
        ),
    })
}

pub(crate) fn find_value_response(w: pb::FindValueResponse) -> Result<DhtResponse> {
    let record = match w.record {
        None => None,
        Some(r) => Some(Box::new(
            Record::try_from(r).map_err(|e: DecodeError| e.within("record"))?,
        )),
    };
    Ok(DhtResponse::Value {
        record,
        closer: contacts(w.closer, "closer")?,
    })
}

pub(crate) fn store_response(w: pb::StoreResponse) -> Result<DhtResponse> {
    Ok(DhtResponse::Stored(if w.stored {
        Ok(())
    } else {
        Err(refusal(w.reason, "reason")?)
    }))
}
