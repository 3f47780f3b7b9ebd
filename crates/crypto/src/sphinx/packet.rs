//! A whole onion packet: creation by the sender, processing by each hop.

use rand_core::CryptoRng;
use subtle::ConstantTimeEq as _;
use tacnode_domain::{NodeId, UnixMillis};
use x25519_dalek::StaticSecret;

use super::header::Header;
use super::replay_cache::ReplayCache;
use super::reply_block::ReplyBody;
use super::routing::{PathHop, Routing};
use super::{
    BODY_CHECK_LEN, BODY_LEN, CreateError, HEADER_LEN, MAX_PAYLOAD_LEN, PACKET_LEN, ProcessError,
};

/// An onion packet: [`PACKET_LEN`] bytes, header then body.
#[derive(Clone, PartialEq, Eq)]
pub struct SphinxPacket {
    pub(crate) header: Header,
    pub(crate) body: [u8; BODY_LEN],
}

impl std::fmt::Debug for SphinxPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SphinxPacket").finish_non_exhaustive()
    }
}

/// What a node does with a packet it processed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Processed {
    /// Hold it `delay_ms`, then send `packet` to `next`.
    Forward {
        /// The next node.
        next: NodeId,
        /// The mix delay the sender chose for this hop.
        delay_ms: u32,
        /// The packet for `next`.
        packet: Box<SphinxPacket>,
    },
    /// This node is the destination: here is the payload.
    Deliver {
        /// The sender's payload.
        payload: Vec<u8>,
    },
    /// A reply to one of this node's reply blocks: open it with the
    /// [`super::ReplyOpener`] kept for [`ReplyBody::id`].
    Reply {
        /// The reply, still under the reply path's layers.
        body: Box<ReplyBody>,
    },
}

/// The plaintext body: zero check ‖ big-endian u16 length ‖ payload ‖ zero
/// padding.
pub(crate) fn plaintext_body(payload: &[u8]) -> Result<[u8; BODY_LEN], CreateError> {
    let too_long = CreateError::PayloadTooLong {
        len: payload.len(),
        max: MAX_PAYLOAD_LEN,
    };
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(too_long);
    }
    let length = u16::try_from(payload.len()).map_err(|_| too_long)?;
    let mut body = [0u8; BODY_LEN];
    let (_check, rest) = body.split_at_mut(BODY_CHECK_LEN);
    let (len, data) = rest.split_at_mut(2);
    len.copy_from_slice(&length.to_be_bytes());
    if let Some(slot) = data.get_mut(..payload.len()) {
        slot.copy_from_slice(payload);
    }
    Ok(body)
}

/// The payload of a decrypted body, if its zero check holds.
pub(crate) fn payload_of(body: &[u8; BODY_LEN]) -> Option<Vec<u8>> {
    let (check, rest) = body.split_at(BODY_CHECK_LEN);
    if !bool::from(check.ct_eq(&[0u8; BODY_CHECK_LEN])) {
        return None;
    }
    let (len, data) = rest.split_at(2);
    let length = usize::from(u16::from_be_bytes([*len.first()?, *len.get(1)?]));
    if length > MAX_PAYLOAD_LEN {
        return None;
    }
    data.get(..length).map(<[u8]>::to_vec)
}

/// Wraps `payload` for `path`: relays first, the destination last. Send the
/// packet to `path[0].node`.
pub fn create_packet<R: CryptoRng + ?Sized>(
    rng: &mut R,
    path: &[PathHop],
    payload: &[u8],
) -> Result<SphinxPacket, CreateError> {
    let mut body = plaintext_body(payload)?;
    let built = Header::build(rng, path, &Routing::Deliver)?;
    for hop in built.hops.iter().rev() {
        hop.body.encrypt(&mut body);
    }
    Ok(SphinxPacket {
        header: built.header,
        body,
    })
}

impl SphinxPacket {
    /// The wire form.
    pub fn to_bytes(&self) -> [u8; PACKET_LEN] {
        let mut out = [0u8; PACKET_LEN];
        let (header, body) = out.split_at_mut(HEADER_LEN);
        let mut header_bytes = [0u8; HEADER_LEN];
        self.header.write(&mut header_bytes);
        header.copy_from_slice(&header_bytes);
        body.copy_from_slice(&self.body);
        out
    }

    /// Reads the wire form (exactly [`PACKET_LEN`] bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProcessError> {
        let exact =
            <&[u8; PACKET_LEN]>::try_from(bytes).map_err(|_| ProcessError::WrongLength {
                actual: bytes.len(),
                expected: PACKET_LEN,
            })?;
        let (header, body) = exact.split_at(HEADER_LEN);
        let mut header_bytes = [0u8; HEADER_LEN];
        header_bytes.copy_from_slice(header);
        let mut packet = SphinxPacket {
            header: Header::read(&header_bytes),
            body: [0; BODY_LEN],
        };
        packet.body.copy_from_slice(body);
        Ok(packet)
    }

    /// Processes the packet with this node's onion secret: checks the
    /// header MAC, then that the packet is not a replay (recording it in
    /// `replays`), then peels one layer.
    pub fn process(
        &self,
        secret: &StaticSecret,
        replays: &mut ReplayCache,
        now: UnixMillis,
    ) -> Result<Processed, ProcessError> {
        let peeled = self.header.peel(secret)?;
        replays.insert(now, peeled.secrets.replay_tag)?;
        let mut body = self.body;
        peeled.secrets.body.decrypt(&mut body);
        match peeled.routing {
            Routing::Forward { next, delay_ms } => Ok(Processed::Forward {
                next,
                delay_ms,
                packet: Box::new(SphinxPacket {
                    header: peeled.next,
                    body,
                }),
            }),
            Routing::Deliver => payload_of(&body)
                .map(|payload| Processed::Deliver { payload })
                .ok_or(ProcessError::Tampered),
            Routing::Reply { id } => Ok(Processed::Reply {
                body: Box::new(ReplyBody { id, body }),
            }),
        }
    }
}
