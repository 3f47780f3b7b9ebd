//! The LAN beacon sockets over real UDP multicast on the loopback
//! interface (no root needed): two nodes on one host hear each other's
//! datagrams, from the sending interface's address.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::time::Duration;

use tacnode_domain::ports::LanBeacon;
use tacnode_transport::{LanBeaconError, UdpLanBeacon};

/// A group and port of their own, so parallel test runs do not mix.
const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 77, 201);

#[tokio::test]
async fn two_beacon_sockets_on_one_host_hear_each_other_over_loopback_multicast() {
    let lo = [Ipv4Addr::LOCALHOST];
    let port = 47_000 + (std::process::id() % 1_000) as u16;
    let a = UdpLanBeacon::bind_group(GROUP, port, &lo).unwrap();
    let mut b = UdpLanBeacon::bind_group(GROUP, port, &lo).unwrap();
    a.send(b"hello from a".to_vec()).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(2), b.recv())
        .await
        .expect("multicast over loopback did not arrive within 2 s")
        .unwrap();
    assert_eq!(heard.bytes, b"hello from a");
    assert_eq!(heard.from.ip(), Ipv4Addr::LOCALHOST);
}

#[tokio::test]
async fn an_oversized_datagram_is_cut_to_one_byte_over_the_limit() {
    let lo = [Ipv4Addr::LOCALHOST];
    let port = 48_000 + (std::process::id() % 1_000) as u16;
    let a = UdpLanBeacon::bind_group(GROUP, port, &lo).unwrap();
    let mut b = UdpLanBeacon::bind_group(GROUP, port, &lo).unwrap();
    a.send(vec![7; 4_000]).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(2), b.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard.bytes.len(), tacnode_domain::MAX_BEACON_BYTES + 1);
}

#[tokio::test]
async fn discovery_needs_a_named_interface() {
    assert!(matches!(
        UdpLanBeacon::bind(4501, &[]),
        Err(LanBeaconError::NoInterface)
    ));
}
