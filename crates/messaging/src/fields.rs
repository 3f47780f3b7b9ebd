//! Field-level validation shared by every conversion.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tacnode_domain::{
    DhPublicKey, Endpoint, IdentityKey, KEY_LEN, MAX_ENDPOINTS, MESSAGE_ID_LEN, MessageId, NodeId,
    NodeType, Reachability, SIGNATURE_LEN, Signature,
};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::pb;

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

pub(crate) fn fixed<const N: usize>(bytes: &[u8], field: &str) -> Result<[u8; N]> {
    <[u8; N]>::try_from(bytes).map_err(|_| {
        DecodeError::new(
            field,
            DecodeErrorKind::Length {
                expected: N,
                actual: bytes.len(),
            },
        )
    })
}

pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| DecodeError::new(field, DecodeErrorKind::Missing))
}

pub(crate) fn at_most<T>(items: &[T], max: usize, field: &str) -> Result<()> {
    if items.len() > max {
        return Err(DecodeError::new(
            field,
            DecodeErrorKind::TooMany {
                max,
                actual: items.len(),
            },
        ));
    }
    Ok(())
}

pub(crate) fn bytes_at_most(bytes: &[u8], max: usize, field: &str) -> Result<()> {
    at_most(bytes, max, field)
}

pub(crate) fn node_id(bytes: &[u8], field: &str) -> Result<NodeId> {
    fixed::<32>(bytes, field).map(NodeId::from_bytes)
}

pub(crate) fn identity_key(bytes: &[u8], field: &str) -> Result<IdentityKey> {
    let arr = fixed::<KEY_LEN>(bytes, field)?;
    IdentityKey::from_bytes(&arr).map_err(|_| DecodeError::new(field, DecodeErrorKind::InvalidKey))
}

pub(crate) fn dh_key(bytes: &[u8], field: &str) -> Result<DhPublicKey> {
    fixed::<KEY_LEN>(bytes, field).map(DhPublicKey)
}

pub(crate) fn signature(bytes: &[u8], field: &str) -> Result<Signature> {
    fixed::<SIGNATURE_LEN>(bytes, field).map(Signature)
}

pub(crate) fn message_id(bytes: &[u8], field: &str) -> Result<MessageId> {
    fixed::<MESSAGE_ID_LEN>(bytes, field).map(MessageId)
}

pub(crate) fn endpoint(e: &pb::Endpoint, field: &str) -> Result<Endpoint> {
    let ip = match e.ip.len() {
        4 => IpAddr::V4(Ipv4Addr::from(fixed::<4>(&e.ip, field)?)),
        16 => IpAddr::V6(Ipv6Addr::from(fixed::<16>(&e.ip, field)?)),
        _ => {
            return Err(DecodeError::new(
                &format!("{field}.ip"),
                DecodeErrorKind::Invalid("IP address must be 4 or 16 bytes"),
            ));
        }
    };
    let port = u16::try_from(e.port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            DecodeError::new(
                &format!("{field}.port"),
                DecodeErrorKind::Invalid("port must be 1..=65535"),
            )
        })?;
    Ok(Endpoint(SocketAddr::new(ip, port)))
}

pub(crate) fn endpoints(list: &[pb::Endpoint], field: &str) -> Result<Vec<Endpoint>> {
    at_most(list, MAX_ENDPOINTS, field)?;
    list.iter().map(|e| endpoint(e, field)).collect()
}

pub(crate) fn endpoint_to_wire(e: &Endpoint) -> pb::Endpoint {
    let ip = match e.0.ip() {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    pb::Endpoint {
        ip,
        port: u32::from(e.0.port()),
    }
}

pub(crate) fn node_type(value: i32, field: &str) -> Result<NodeType> {
    match pb::NodeType::try_from(value) {
        Ok(pb::NodeType::Server) => Ok(NodeType::Server),
        Ok(pb::NodeType::Client) => Ok(NodeType::Client),
        _ => Err(DecodeError::new(field, DecodeErrorKind::BadEnum(value))),
    }
}

pub(crate) fn reachability(value: i32, field: &str) -> Result<Option<Reachability>> {
    match pb::Reachability::try_from(value) {
        Ok(pb::Reachability::Unspecified) => Ok(None),
        Ok(pb::Reachability::Public) => Ok(Some(Reachability::Public)),
        Ok(pb::Reachability::Private) => Ok(Some(Reachability::Private)),
        Err(_) => Err(DecodeError::new(field, DecodeErrorKind::BadEnum(value))),
    }
}

pub(crate) fn reachability_to_wire(r: Option<Reachability>) -> i32 {
    match r {
        None => pb::Reachability::Unspecified as i32,
        Some(Reachability::Public) => pb::Reachability::Public as i32,
        Some(Reachability::Private) => pb::Reachability::Private as i32,
    }
}

pub(crate) fn node_type_to_wire(t: NodeType) -> i32 {
    match t {
        NodeType::Server => pb::NodeType::Server as i32,
        NodeType::Client => pb::NodeType::Client as i32,
    }
}
