//! Single-use reply blocks: a way back to a node that the answering node
//! cannot address or identify.
//!
//! The creator builds a header for a path that ends at itself and keeps the
//! layer keys (the [`ReplyOpener`]); the block (first hop, header, one body
//! key) travels inside a payload. The replier encrypts its answer under the
//! block's key; each hop on the way back peels its layer as for any packet;
//! the creator removes all the layers with the opener. A block is good for
//! one reply: the hops' replay caches refuse its header a second time.

use rand_core::CryptoRng;
use tacnode_domain::NodeId;
use zeroize::Zeroizing;

use super::header::Header;
use super::lioness::LionessKey;
use super::packet::{SphinxPacket, payload_of, plaintext_body};
use super::routing::{PathHop, Routing};
use super::{ADDRESS_LEN, BODY_LEN, CreateError, HEADER_LEN, MAX_PAYLOAD_LEN, ReplyError};

/// Bytes of a reply block's id.
pub(crate) const REPLY_ID_LEN: usize = 16;
/// Bytes of the key a replier encrypts under.
const REPLY_KEY_LEN: usize = 32;
/// Bytes of a reply block on the wire: first hop ‖ header ‖ key.
pub const REPLY_BLOCK_LEN: usize = ADDRESS_LEN + HEADER_LEN + REPLY_KEY_LEN;

/// Names one reply block among its creator's; only the creator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplyId(pub [u8; REPLY_ID_LEN]);

/// What a replier needs to answer: where to send, the header, the key.
#[derive(Clone)]
pub struct ReplyBlock {
    first_hop: NodeId,
    header: Header,
    key: Zeroizing<[u8; REPLY_KEY_LEN]>,
}

impl std::fmt::Debug for ReplyBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyBlock")
            .field("first_hop", &self.first_hop)
            .finish_non_exhaustive()
    }
}

/// What the creator keeps to read the one reply to its block.
pub struct ReplyOpener {
    id: ReplyId,
    layers: Vec<LionessKey>,
    key: LionessKey,
}

impl std::fmt::Debug for ReplyOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyOpener")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A reply as its creator's node took it from the network.
pub struct ReplyBody {
    pub(crate) id: ReplyId,
    pub(crate) body: [u8; BODY_LEN],
}

impl std::fmt::Debug for ReplyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyBody")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ReplyBody {
    /// The reply block this answers.
    pub fn id(&self) -> ReplyId {
        self.id
    }
}

impl ReplyBlock {
    /// A reply block for `path` (relays, then the creator itself last) and
    /// the opener its creator keeps.
    pub fn create<R: CryptoRng + ?Sized>(
        rng: &mut R,
        path: &[PathHop],
    ) -> Result<(ReplyBlock, ReplyOpener), CreateError> {
        let mut id = [0u8; REPLY_ID_LEN];
        rng.fill_bytes(&mut id);
        let id = ReplyId(id);
        let built = Header::build(rng, path, &Routing::Reply { id })?;
        let first_hop = path
            .first()
            .map(|hop| hop.node)
            .ok_or(CreateError::EmptyPath)?;
        let mut key = Zeroizing::new([0u8; REPLY_KEY_LEN]);
        rng.fill_bytes(key.as_mut_slice());
        let opener = ReplyOpener {
            id,
            layers: built.hops.into_iter().map(|hop| hop.body).collect(),
            key: LionessKey::from_seed(&key),
        };
        Ok((
            ReplyBlock {
                first_hop,
                header: built.header,
                key,
            },
            opener,
        ))
    }

    /// Where the reply goes first.
    pub fn first_hop(&self) -> NodeId {
        self.first_hop
    }

    /// The reply packet carrying `payload`; send it to
    /// [`Self::first_hop`].
    pub fn seal(&self, payload: &[u8]) -> Result<SphinxPacket, ReplyError> {
        let mut body = plaintext_body(payload).map_err(|_| ReplyError::PayloadTooLong {
            len: payload.len(),
            max: MAX_PAYLOAD_LEN,
        })?;
        LionessKey::from_seed(&self.key).encrypt(&mut body);
        Ok(SphinxPacket {
            header: self.header.clone(),
            body,
        })
    }

    /// The wire form.
    pub fn to_bytes(&self) -> [u8; REPLY_BLOCK_LEN] {
        let mut out = [0u8; REPLY_BLOCK_LEN];
        let (first_hop, rest) = out.split_at_mut(ADDRESS_LEN);
        let (header, key) = rest.split_at_mut(HEADER_LEN);
        first_hop.copy_from_slice(self.first_hop.as_bytes());
        let mut header_bytes = [0u8; HEADER_LEN];
        self.header.write(&mut header_bytes);
        header.copy_from_slice(&header_bytes);
        key.copy_from_slice(self.key.as_slice());
        out
    }

    /// Reads the wire form (exactly [`REPLY_BLOCK_LEN`] bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ReplyError> {
        let exact =
            <&[u8; REPLY_BLOCK_LEN]>::try_from(bytes).map_err(|_| ReplyError::WrongLength {
                actual: bytes.len(),
                expected: REPLY_BLOCK_LEN,
            })?;
        let (first_hop, rest) = exact.split_at(ADDRESS_LEN);
        let (header, key) = rest.split_at(HEADER_LEN);
        let mut node = [0u8; ADDRESS_LEN];
        node.copy_from_slice(first_hop);
        let mut header_bytes = [0u8; HEADER_LEN];
        header_bytes.copy_from_slice(header);
        let mut block = ReplyBlock {
            first_hop: NodeId::from_bytes(node),
            header: Header::read(&header_bytes),
            key: Zeroizing::new([0u8; REPLY_KEY_LEN]),
        };
        block.key.copy_from_slice(key);
        Ok(block)
    }
}

impl ReplyOpener {
    /// The id of the block this opens.
    pub fn id(&self) -> ReplyId {
        self.id
    }

    /// The replier's payload. The caller drops the opener once a reply
    /// opened (a block has one reply; its relays refuse a second).
    pub fn open(&self, reply: &ReplyBody) -> Result<Vec<u8>, ReplyError> {
        if reply.id != self.id {
            return Err(ReplyError::OtherReply);
        }
        let mut body = Zeroizing::new(reply.body);
        for layer in self.layers.iter().rev() {
            layer.encrypt(body.as_mut_slice());
        }
        self.key.decrypt(body.as_mut_slice());
        payload_of(&body).ok_or(ReplyError::Tampered)
    }
}
