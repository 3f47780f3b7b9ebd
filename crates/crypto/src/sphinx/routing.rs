//! A hop's routing instruction: where the packet goes next, and when.

use tacnode_domain::{DhPublicKey, NodeId};

use super::reply_block::{REPLY_ID_LEN, ReplyId};
use super::{ADDRESS_LEN, CreateError, DELAY_UNIT_MS, MAX_DELAY_MS, ProcessError, ROUTING_LEN};

/// One node of a path as the sender sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathHop {
    /// The node's id: where the previous hop sends the packet.
    pub node: NodeId,
    /// The node's X25519 key (its device key, from its signed record).
    pub public_key: DhPublicKey,
    /// How long the node holds the packet before passing it on (a mix
    /// delay); ignored for the destination. Rounded up to
    /// [`DELAY_UNIT_MS`].
    pub delay_ms: u32,
}

const KIND_FORWARD: u8 = 1;
const KIND_DELIVER: u8 = 2;
const KIND_REPLY: u8 = 3;

/// What a hop is told to do with a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Routing {
    /// Pass it to `next` after `delay_ms`.
    Forward { next: NodeId, delay_ms: u32 },
    /// This node is the destination: the body is a payload for it.
    Deliver,
    /// This node is the destination of a reply to its reply block `id`.
    Reply { id: ReplyId },
}

impl Routing {
    /// The wire form: kind ‖ address ‖ delay in [`DELAY_UNIT_MS`] units
    /// (big-endian u16).
    pub(crate) fn encode(&self) -> Result<[u8; ROUTING_LEN], CreateError> {
        let mut out = [0u8; ROUTING_LEN];
        let (kind, rest) = out.split_at_mut(1);
        let (address, delay) = rest.split_at_mut(ADDRESS_LEN);
        match self {
            Routing::Forward { next, delay_ms } => {
                kind[0] = KIND_FORWARD;
                address.copy_from_slice(next.as_bytes());
                if *delay_ms > MAX_DELAY_MS {
                    return Err(CreateError::DelayTooLong {
                        delay_ms: *delay_ms,
                        max: MAX_DELAY_MS,
                    });
                }
                let units = u16::try_from(delay_ms.div_ceil(DELAY_UNIT_MS)).unwrap_or(u16::MAX);
                delay.copy_from_slice(&units.to_be_bytes());
            }
            Routing::Deliver => kind[0] = KIND_DELIVER,
            Routing::Reply { id } => {
                kind[0] = KIND_REPLY;
                if let Some(head) = address.get_mut(..REPLY_ID_LEN) {
                    head.copy_from_slice(&id.0);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn decode(bytes: &[u8; ROUTING_LEN]) -> Result<Self, ProcessError> {
        let (kind, rest) = bytes.split_at(1);
        let (address, delay) = rest.split_at(ADDRESS_LEN);
        match kind.first().copied().unwrap_or(0) {
            KIND_FORWARD => {
                let mut next = [0u8; ADDRESS_LEN];
                next.copy_from_slice(address);
                let mut units = [0u8; 2];
                units.copy_from_slice(delay);
                Ok(Routing::Forward {
                    next: NodeId::from_bytes(next),
                    delay_ms: u32::from(u16::from_be_bytes(units)) * DELAY_UNIT_MS,
                })
            }
            KIND_DELIVER => Ok(Routing::Deliver),
            KIND_REPLY => {
                let mut id = [0u8; REPLY_ID_LEN];
                id.copy_from_slice(address.get(..REPLY_ID_LEN).unwrap_or(&[0u8; REPLY_ID_LEN]));
                Ok(Routing::Reply { id: ReplyId(id) })
            }
            kind => Err(ProcessError::UnknownRouting { kind }),
        }
    }
}
