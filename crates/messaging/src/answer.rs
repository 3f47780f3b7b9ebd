//! What an answer carries besides its message: the answering node's clock
//! and the address the request came from, as the answering node saw it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tacnode_domain::UnixMillis;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{Result, fixed};
use crate::message::Message;

/// Bytes of an observed IPv4 address on the wire: address and port.
pub const OBSERVED_V4_LEN: usize = 4 + 2;
/// Bytes of an observed IPv6 address on the wire: address and port.
pub const OBSERVED_V6_LEN: usize = 16 + 2;

/// A decoded answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Answer {
    /// The message answered.
    pub message: Message,
    /// The answering node's clock when it answered, if said.
    pub time: Option<UnixMillis>,
    /// Where the answering node saw the request come from, if said ("you
    /// came from IP:port"). One peer's word: see the node's rule for when
    /// to believe it.
    pub observed: Option<SocketAddr>,
}

/// `address` as the envelope's `observed` field: the IP address (4 or 16
/// bytes) then the big-endian port.
pub(crate) fn observed_to_wire(address: Option<SocketAddr>) -> Vec<u8> {
    let Some(a) = address else {
        return Vec::new();
    };
    let mut out = match a.ip() {
        IpAddr::V4(ip) => {
            let mut v = Vec::with_capacity(OBSERVED_V4_LEN);
            v.extend_from_slice(&ip.octets());
            v
        }
        IpAddr::V6(ip) => {
            let mut v = Vec::with_capacity(OBSERVED_V6_LEN);
            v.extend_from_slice(&ip.octets());
            v
        }
    };
    out.extend_from_slice(&a.port().to_be_bytes());
    out
}

/// The envelope's `observed` field: empty, or exactly
/// [`OBSERVED_V4_LEN`] or [`OBSERVED_V6_LEN`] bytes with a port other
/// than 0.
pub(crate) fn observed(bytes: &[u8]) -> Result<Option<SocketAddr>> {
    const FIELD: &str = "observed";
    let (ip, port) = match bytes.len() {
        0 => return Ok(None),
        OBSERVED_V4_LEN => {
            let (ip, port) = bytes.split_at(4);
            (IpAddr::V4(Ipv4Addr::from(fixed::<4>(ip, FIELD)?)), port)
        }
        OBSERVED_V6_LEN => {
            let (ip, port) = bytes.split_at(16);
            (IpAddr::V6(Ipv6Addr::from(fixed::<16>(ip, FIELD)?)), port)
        }
        _ => {
            return Err(DecodeError::new(
                FIELD,
                DecodeErrorKind::Invalid("observed address must be 6 or 18 bytes"),
            ));
        }
    };
    let port = u16::from_be_bytes(fixed::<2>(port, FIELD)?);
    if port == 0 {
        return Err(DecodeError::new(
            FIELD,
            DecodeErrorKind::Invalid("port must be 1..=65535"),
        ));
    }
    Ok(Some(SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn observed_addresses_round_trip_in_6_or_18_bytes() {
        for a in ["203.0.113.7:40000", "[2001:db8::1]:4433"] {
            let a: SocketAddr = a.parse().unwrap();
            let wire = observed_to_wire(Some(a));
            assert_eq!(
                wire.len(),
                if a.is_ipv4() {
                    OBSERVED_V4_LEN
                } else {
                    OBSERVED_V6_LEN
                }
            );
            assert_eq!(observed(&wire).unwrap(), Some(a));
        }
        assert!(observed_to_wire(None).is_empty());
        assert_eq!(observed(&[]).unwrap(), None);
    }

    #[test]
    fn a_bad_observed_address_is_refused() {
        assert!(observed(&[1, 2, 3]).is_err());
        assert!(observed(&[10, 0, 0, 1, 0, 0]).is_err());
    }
}
