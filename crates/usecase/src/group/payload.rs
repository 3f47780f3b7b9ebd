//! What a group broadcast carries, as bytes inside a gossip push.

use sha2::{Digest, Sha256};
use tacnode_domain::NodeId;
use tacnode_domain::gossip::{GOSSIP_ID_LEN, GossipId};

use super::error::GroupError;

/// Format of a group payload.
const PAYLOAD_VERSION: u8 = 1;

/// A group message.
const KIND_MESSAGE: u8 = 1;

/// One broadcast of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GroupPayload {
    /// A member's message: who, its place in the sender's sequence, and
    /// the encoded plaintext.
    Message {
        sender: NodeId,
        sequence: u64,
        body: Vec<u8>,
    },
}

impl GroupPayload {
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Self::Message {
                sender,
                sequence,
                body,
            } => {
                let mut out = Vec::with_capacity(2 + 32 + 8 + body.len());
                out.push(PAYLOAD_VERSION);
                out.push(KIND_MESSAGE);
                out.extend_from_slice(sender.as_bytes());
                out.extend_from_slice(&sequence.to_be_bytes());
                out.extend_from_slice(body);
                out
            }
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, GroupError> {
        let (&version, rest) = bytes.split_first().ok_or(GroupError::Malformed("empty"))?;
        if version != PAYLOAD_VERSION {
            return Err(GroupError::Malformed("unknown version"));
        }
        let (&kind, rest) = rest.split_first().ok_or(GroupError::Malformed("no kind"))?;
        match kind {
            KIND_MESSAGE => {
                let sender: [u8; 32] = rest
                    .get(..32)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(GroupError::Malformed("short sender"))?;
                let sequence: [u8; 8] = rest
                    .get(32..40)
                    .and_then(|s| s.try_into().ok())
                    .ok_or(GroupError::Malformed("short sequence"))?;
                Ok(Self::Message {
                    sender: NodeId::from_bytes(sender),
                    sequence: u64::from_be_bytes(sequence),
                    body: rest.get(40..).unwrap_or_default().to_vec(),
                })
            }
            _ => Err(GroupError::Malformed("unknown kind")),
        }
    }
}

/// The id a broadcast of `payload` goes by.
pub(crate) fn gossip_id(payload: &[u8]) -> GossipId {
    let digest: [u8; 32] = Sha256::digest(payload).into();
    let mut id = [0u8; GOSSIP_ID_LEN];
    id.copy_from_slice(&digest[..GOSSIP_ID_LEN]);
    GossipId(id)
}
