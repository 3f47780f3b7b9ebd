//! The LAN beacon port over UDP: IPv4 multicast to [`LAN_BEACON_GROUP`] on
//! the interfaces the configuration names, and nowhere else.
//!
//! One socket per named interface sends (bound to that interface's
//! address, which picks the interface; multicast TTL 1, so a beacon never
//! leaves the segment; loopback on, so other nodes on the same host hear
//! it); one socket bound to the group and the beacon port hears, joined to
//! the group on each named interface only. Several nodes on one host share
//! the port (`SO_REUSEADDR`). Datagrams longer than
//! [`tacnode_domain::MAX_BEACON_BYTES`] are cut to one byte more, so the
//! decoder refuses them without holding them. IPv6 multicast is not built.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tacnode_domain::MAX_BEACON_BYTES;
use tacnode_domain::ports::{BeaconSendError, BoxFuture, HeardDatagram, LanBeacon};
use tokio::net::UdpSocket;

/// The multicast group of tacnode beacons (organisation-local scope,
/// RFC 2365).
pub const LAN_BEACON_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 77, 77);
/// Interfaces one socket set may serve, at most.
pub const MAX_LAN_INTERFACES: usize = 8;
/// Receive errors in a row (ICMP errors, cut datagrams) after which the
/// socket counts as closed.
const MAX_RECV_ERRORS_IN_A_ROW: u32 = 64;

/// Why the beacon sockets could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LanBeaconError {
    /// Discovery needs at least one named interface.
    #[error(
        "no interface named: set discovery.interfaces to the IPv4 addresses of the LAN interfaces"
    )]
    NoInterface,
    /// More than [`MAX_LAN_INTERFACES`].
    #[error("{0} interfaces, the limit is {MAX_LAN_INTERFACES}")]
    TooManyInterfaces(usize),
    /// A socket could not be made, bound or set up.
    #[error("beacon socket on {addr}: {source}")]
    Socket {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The group could not be joined on an interface.
    #[error("joining {LAN_BEACON_GROUP} on {interface}: {source}")]
    Join {
        /// Which interface.
        interface: Ipv4Addr,
        /// Why.
        source: io::Error,
    },
}

/// The LAN beacon port over UDP multicast.
#[derive(Debug)]
pub struct UdpLanBeacon {
    senders: Vec<UdpSocket>,
    receiver: UdpSocket,
    group: SocketAddrV4,
    buf: Vec<u8>,
}

impl UdpLanBeacon {
    /// Binds the beacon sockets on `port` for `interfaces` (their IPv4
    /// addresses), on the group [`LAN_BEACON_GROUP`]. Inside a Tokio runtime.
    pub fn bind(port: u16, interfaces: &[Ipv4Addr]) -> Result<UdpLanBeacon, LanBeaconError> {
        Self::bind_group(LAN_BEACON_GROUP, port, interfaces)
    }

    /// As [`UdpLanBeacon::bind`], on another group (tests keep apart).
    pub fn bind_group(
        group: Ipv4Addr,
        port: u16,
        interfaces: &[Ipv4Addr],
    ) -> Result<UdpLanBeacon, LanBeaconError> {
        if interfaces.is_empty() {
            return Err(LanBeaconError::NoInterface);
        }
        if interfaces.len() > MAX_LAN_INTERFACES {
            return Err(LanBeaconError::TooManyInterfaces(interfaces.len()));
        }
        let group_addr = SocketAddrV4::new(group, port);
        let at = |addr: SocketAddrV4| {
            move |source| LanBeaconError::Socket {
                addr: SocketAddr::V4(addr),
                source,
            }
        };
        let receiver = udp_socket().map_err(at(group_addr))?;
        receiver
            .set_reuse_address(true)
            .and_then(|()| receiver.bind(&SockAddr::from(group_addr)))
            .map_err(at(group_addr))?;
        for interface in interfaces {
            receiver
                .join_multicast_v4(&group, interface)
                .map_err(|source| LanBeaconError::Join {
                    interface: *interface,
                    source,
                })?;
        }
        let receiver = into_tokio(receiver).map_err(at(group_addr))?;
        let mut senders = Vec::with_capacity(interfaces.len());
        for interface in interfaces {
            let local = SocketAddrV4::new(*interface, 0);
            let s = udp_socket().map_err(at(local))?;
            s.bind(&SockAddr::from(local))
                .and_then(|()| s.set_multicast_if_v4(interface))
                .and_then(|()| s.set_multicast_ttl_v4(1))
                .and_then(|()| s.set_multicast_loop_v4(true))
                .map_err(at(local))?;
            senders.push(into_tokio(s).map_err(at(local))?);
        }
        Ok(UdpLanBeacon {
            senders,
            receiver,
            group: group_addr,
            buf: vec![0; MAX_BEACON_BYTES + 1],
        })
    }
}

fn udp_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
}

fn into_tokio(s: Socket) -> io::Result<UdpSocket> {
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

impl LanBeacon for UdpLanBeacon {
    fn send(&self, datagram: Vec<u8>) -> BoxFuture<'_, Result<(), BeaconSendError>> {
        Box::pin(async move {
            // Every interface gets it; it failed only if none took it.
            let mut error = None;
            let mut sent = false;
            for s in &self.senders {
                match s.send_to(&datagram, self.group).await {
                    Ok(_) => sent = true,
                    Err(e) => error = Some(e),
                }
            }
            match error {
                Some(e) if !sent => Err(BeaconSendError::Io(e.to_string())),
                _ => Ok(()),
            }
        })
    }

    fn recv(&mut self) -> BoxFuture<'_, Option<HeardDatagram>> {
        Box::pin(async move {
            for _ in 0..MAX_RECV_ERRORS_IN_A_ROW {
                match self.receiver.recv_from(&mut self.buf).await {
                    Ok((n, from)) => {
                        return Some(HeardDatagram {
                            from,
                            bytes: self.buf.get(..n).unwrap_or_default().to_vec(),
                        });
                    }
                    // An ICMP error or a datagram cut short: the next one.
                    Err(e) => tracing::debug!("beacon socket: {e}"),
                }
            }
            tracing::warn!("the beacon socket keeps failing: LAN discovery stops");
            None
        })
    }
}
