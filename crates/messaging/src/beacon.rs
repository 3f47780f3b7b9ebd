//! LAN beacons: wire <-> domain. A beacon travels alone in one datagram, so
//! it carries its own version and is bounded before it is parsed.

use prost::Message as _;
use tacnode_domain::{Beacon, MAX_BEACON_BYTES, MAX_BEACON_ENDPOINTS, UnixMillis, UnsignedBeacon};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{
    Result, at_most, bytes_at_most, endpoint_to_wire, endpoints, identity_key, node_type,
    node_type_to_wire, signature,
};
use crate::pb;

/// The only beacon format.
pub const BEACON_VERSION: u32 = 1;

/// Encodes a signed beacon as one datagram.
pub fn encode_beacon(b: &Beacon) -> Vec<u8> {
    pb::LanBeacon {
        version: BEACON_VERSION,
        identity_key: b.body.identity_key.as_bytes().to_vec(),
        node_type: node_type_to_wire(b.body.node_type),
        port: u32::from(b.body.port),
        endpoints: b.body.endpoints.iter().map(endpoint_to_wire).collect(),
        sequence: b.body.sequence,
        time_ms: b.body.time.0,
        signature: b.signature.as_bytes().to_vec(),
    }
    .encode_to_vec()
}

/// Decodes one datagram as a beacon: its size (at most
/// [`MAX_BEACON_BYTES`], checked first), version, shapes and limits. The
/// signature is checked by [`Beacon::verify`].
pub fn decode_beacon(bytes: &[u8]) -> Result<Beacon> {
    bytes_at_most(bytes, MAX_BEACON_BYTES, "lan_beacon")?;
    let w = pb::LanBeacon::decode(bytes)
        .map_err(|e| DecodeError::new("lan_beacon", DecodeErrorKind::Protobuf(e.to_string())))?;
    if w.version != BEACON_VERSION {
        return Err(DecodeError::new(
            "lan_beacon.version",
            DecodeErrorKind::UnsupportedVersion(w.version),
        ));
    }
    at_most(&w.endpoints, MAX_BEACON_ENDPOINTS, "lan_beacon.endpoints")?;
    let port = u16::try_from(w.port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            DecodeError::new(
                "lan_beacon.port",
                DecodeErrorKind::Invalid("port must be 1..=65535"),
            )
        })?;
    let body = UnsignedBeacon {
        identity_key: identity_key(&w.identity_key, "lan_beacon.identity_key")?,
        node_type: node_type(w.node_type, "lan_beacon.node_type")?,
        port,
        endpoints: endpoints(&w.endpoints, "lan_beacon.endpoints")?,
        sequence: w.sequence,
        time: UnixMillis(w.time_ms),
    };
    Ok(body.with_signature(signature(&w.signature, "lan_beacon.signature")?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use tacnode_domain::{Endpoint, IdentityKey, NodeType, Signature};

    fn beacon(endpoints: usize) -> Beacon {
        UnsignedBeacon {
            identity_key: IdentityKey::from_bytes(&[
                0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
                0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
                0xf7, 0x07, 0x51, 0x1a,
            ])
            .unwrap(),
            node_type: NodeType::Client,
            port: 4500,
            endpoints: vec![Endpoint("[fd00::7]:4500".parse().unwrap()); endpoints],
            sequence: u64::MAX,
            time: UnixMillis(1_700_000_000_000),
        }
        .with_signature(Signature([7; 64]))
    }

    #[test]
    fn a_beacon_survives_the_wire_and_fits_a_small_datagram() {
        let b = beacon(MAX_BEACON_ENDPOINTS);
        let bytes = encode_beacon(&b);
        assert!(bytes.len() <= MAX_BEACON_BYTES, "{}", bytes.len());
        assert_eq!(decode_beacon(&bytes).unwrap(), b);
    }

    #[test]
    fn decoding_is_strict() {
        let mut w = pb::LanBeacon::decode(encode_beacon(&beacon(1)).as_slice()).unwrap();
        w.version = 2;
        let err = decode_beacon(&w.encode_to_vec()).unwrap_err();
        assert_eq!(err.field(), "lan_beacon.version");

        let mut w = pb::LanBeacon::decode(encode_beacon(&beacon(1)).as_slice()).unwrap();
        w.port = 70_000;
        assert_eq!(
            decode_beacon(&w.encode_to_vec()).unwrap_err().field(),
            "lan_beacon.port"
        );

        let mut w = pb::LanBeacon::decode(encode_beacon(&beacon(1)).as_slice()).unwrap();
        w.signature.pop();
        assert_eq!(
            decode_beacon(&w.encode_to_vec()).unwrap_err().field(),
            "lan_beacon.signature"
        );

        let mut w = pb::LanBeacon::decode(encode_beacon(&beacon(1)).as_slice()).unwrap();
        w.endpoints = vec![w.endpoints[0].clone(); MAX_BEACON_ENDPOINTS + 1];
        assert_eq!(
            decode_beacon(&w.encode_to_vec()).unwrap_err().field(),
            "lan_beacon.endpoints"
        );

        let err = decode_beacon(&vec![0; MAX_BEACON_BYTES + 1]).unwrap_err();
        assert!(matches!(err.kind(), DecodeErrorKind::TooMany { .. }));
        assert!(decode_beacon(b"not a beacon at all").is_err());
    }
}
