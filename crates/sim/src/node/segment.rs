//! Simulated network segments: the [`LanBeacon`] port of the whole-node
//! simulator. A beacon a node sends reaches every other running node placed
//! on the same segment ([`SimSegments::place`]) after the link's one-way
//! latency (with jitter), unless the link's loss drops it: a datagram, not
//! a QUIC stream, so a lost beacon is not retransmitted. Nodes on no segment
//! hear nothing. Partitions are not modelled here (a segment is one
//! broadcast domain). Bytes are counted once per beacon sent (one multicast
//! datagram on the wire), with [`BEACON_HEADER_BYTES`] of UDP and IPv4
//! header.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::RngExt;
use rand::rngs::StdRng;
use tacnode_domain::MAX_BEACON_BYTES;
use tacnode_usecase::ports::{BeaconSendError, BoxFuture, HeardDatagram, LanBeacon};
use tokio::sync::mpsc;

use crate::LinkModel;

/// UDP and IPv4 headers of one beacon datagram.
pub const BEACON_HEADER_BYTES: u64 = 28;

/// One node's place on a segment.
struct Member {
    segment: u8,
    /// Where its beacons come from.
    addr: SocketAddr,
    /// Its current incarnation's inbox; `None` while it is down.
    inbox: Option<mpsc::UnboundedSender<HeardDatagram>>,
}

struct Segments {
    link: LinkModel,
    loss: f64,
    rng: StdRng,
    members: BTreeMap<u32, Member>,
    bytes: u64,
    beacons: u64,
}

/// Every segment of a simulated network; shared by the harness and the
/// nodes' beacon ports.
#[derive(Clone)]
pub struct SimSegments {
    inner: Arc<Mutex<Segments>>,
}

impl SimSegments {
    /// No node on any segment yet. `loss` is the probability that one
    /// beacon datagram is lost on its way to one node.
    pub fn new(link: LinkModel, loss: f64, rng: StdRng) -> SimSegments {
        SimSegments {
            inner: Arc::new(Mutex::new(Segments {
                link,
                loss: loss.clamp(0.0, 1.0),
                rng,
                members: BTreeMap::new(),
                bytes: 0,
                beacons: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Segments> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts node `index` on `segment`; its beacons come from `addr`.
    pub fn place(&self, index: u32, segment: u8, addr: SocketAddr) {
        self.lock().members.insert(
            index,
            Member {
                segment,
                addr,
                inbox: None,
            },
        );
    }

    /// Whether node `index` is on a segment.
    pub fn is_placed(&self, index: u32) -> bool {
        self.lock().members.contains_key(&index)
    }

    /// The beacon port of node `index`'s next incarnation (the previous
    /// one's stops hearing).
    pub fn attach(&self, index: u32) -> Box<dyn LanBeacon> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(m) = self.lock().members.get_mut(&index) {
            m.inbox = Some(tx);
        }
        Box::new(SimBeacon {
            segments: self.clone(),
            index,
            inbox: rx,
        })
    }

    /// Node `index` is down: it hears nothing more.
    pub fn detach(&self, index: u32) {
        if let Some(m) = self.lock().members.get_mut(&index) {
            m.inbox = None;
        }
    }

    /// Bytes of beacons sent on every segment, headers included.
    pub fn bytes_sent(&self) -> u64 {
        self.lock().bytes
    }

    /// Beacons sent on every segment.
    pub fn beacons_sent(&self) -> u64 {
        self.lock().beacons
    }
}

/// A node's beacon port on its segment.
struct SimBeacon {
    segments: SimSegments,
    index: u32,
    inbox: mpsc::UnboundedReceiver<HeardDatagram>,
}

impl LanBeacon for SimBeacon {
    fn send(&self, datagram: Vec<u8>) -> BoxFuture<'_, Result<(), BeaconSendError>> {
        let mut s = self.segments.lock();
        let Some((segment, from)) = s.members.get(&self.index).map(|m| (m.segment, m.addr)) else {
            return Box::pin(async { Err(BeaconSendError::Closed) });
        };
        s.beacons += 1;
        s.bytes = s.bytes.saturating_add(
            u64::try_from(datagram.len())
                .unwrap_or(u64::MAX)
                .saturating_add(BEACON_HEADER_BYTES),
        );
        let receivers: Vec<(u32, mpsc::UnboundedSender<HeardDatagram>)> = s
            .members
            .iter()
            .filter(|(i, m)| **i != self.index && m.segment == segment)
            .filter_map(|(i, m)| m.inbox.clone().map(|tx| (*i, tx)))
            .collect();
        for (to, tx) in receivers {
            let loss = s.loss;
            if loss > 0.0 && s.rng.random_bool(loss) {
                continue;
            }
            let base = s.link.base_latency(self.index, to);
            // Truncation to whole milliseconds is intended.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let jitter = (base as f64 * s.link.jitter * s.rng.random::<f64>()) as u64;
            let heard = HeardDatagram {
                from,
                bytes: datagram.clone(),
            };
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
                let _ = tx.send(heard);
            });
        }
        Box::pin(async { Ok(()) })
    }

    fn recv(&mut self) -> BoxFuture<'_, Option<HeardDatagram>> {
        Box::pin(async move {
            let mut heard = self.inbox.recv().await?;
            heard.bytes.truncate(MAX_BEACON_BYTES + 1);
            Some(heard)
        })
    }
}
