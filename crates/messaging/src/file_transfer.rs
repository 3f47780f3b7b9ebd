//! File offers and block requests: wire conversions and their checks.

use tacnode_domain::file_transfer::{
    FILE_BLOCK_BYTES, FILE_BLOCK_TAG_BYTES, FILE_KEY_LEN, FileChunkRequest, FileOffer,
    MAX_BLOCKS_PER_REQUEST, MAX_DECLINE_REASON_BYTES, MAX_FILE_NAME_BYTES, TRANSFER_ID_LEN,
    TransferId, check_file_name,
};
use tacnode_domain::store::SecretBytes;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::fields::{Result, at_most, bytes_at_most, fixed, required};
use crate::pb;

/// Longest sealed block: a whole block and its tag.
pub const MAX_SEALED_BLOCK_BYTES: usize = FILE_BLOCK_BYTES + FILE_BLOCK_TAG_BYTES;

fn transfer_id(bytes: &[u8], field: &str) -> Result<TransferId> {
    fixed::<TRANSFER_ID_LEN>(bytes, field).map(TransferId)
}

pub(crate) fn offer_to_wire(o: &FileOffer) -> pb::FileOffer {
    pb::FileOffer {
        transfer_id: o.transfer.as_bytes().to_vec(),
        name: o.name.clone(),
        size: o.size,
        sha256: o.sha256.to_vec(),
        key: o.key.as_slice().to_vec(),
    }
}

pub(crate) fn offer_from_wire(w: pb::FileOffer) -> Result<FileOffer> {
    bytes_at_most(w.name.as_bytes(), MAX_FILE_NAME_BYTES, "file_offer.name")?;
    check_file_name(&w.name).map_err(|_| {
        DecodeError::new(
            "file_offer.name",
            DecodeErrorKind::Invalid("not a plain file name"),
        )
    })?;
    let key = SecretBytes::from(w.key);
    if key.as_slice().len() != FILE_KEY_LEN {
        return Err(DecodeError::new(
            "file_offer.key",
            DecodeErrorKind::Length {
                expected: FILE_KEY_LEN,
                actual: key.as_slice().len(),
            },
        ));
    }
    Ok(FileOffer {
        transfer: transfer_id(&w.transfer_id, "file_offer.transfer_id")?,
        name: w.name,
        size: w.size,
        sha256: fixed(&w.sha256, "file_offer.sha256")?,
        key,
    })
}

pub(crate) fn request_to_wire(r: &FileChunkRequest) -> pb::FileChunkRequest {
    pb::FileChunkRequest {
        transfer_id: r.transfer.as_bytes().to_vec(),
        first_block: r.first_block,
        blocks: r.blocks,
    }
}

pub(crate) fn request_from_wire(w: pb::FileChunkRequest) -> Result<FileChunkRequest> {
    if w.blocks > MAX_BLOCKS_PER_REQUEST {
        return Err(DecodeError::new(
            "file_chunk_request.blocks",
            DecodeErrorKind::TooMany {
                max: MAX_BLOCKS_PER_REQUEST as usize,
                actual: w.blocks as usize,
            },
        ));
    }
    if w.blocks == 0 {
        return Err(DecodeError::new(
            "file_chunk_request.blocks",
            DecodeErrorKind::TooFew { min: 1, actual: 0 },
        ));
    }
    Ok(FileChunkRequest {
        transfer: transfer_id(&w.transfer_id, "file_chunk_request.transfer_id")?,
        first_block: w.first_block,
        blocks: w.blocks,
    })
}

pub(crate) fn blocks_from_wire(w: pb::FileChunkResponse) -> Result<Vec<Vec<u8>>> {
    at_most(
        &w.blocks,
        MAX_BLOCKS_PER_REQUEST as usize,
        "file_chunk_response.blocks",
    )?;
    for b in &w.blocks {
        bytes_at_most(b, MAX_SEALED_BLOCK_BYTES, "file_chunk_response.blocks")?;
    }
    Ok(w.blocks)
}

pub(crate) fn block_to_wire(
    offer: &FileOffer,
    index: u64,
    content: &[u8],
) -> pb::plaintext::Content {
    pb::plaintext::Content::FileBlock(pb::FileBlock {
        offer: Some(offer_to_wire(offer)),
        index,
        content: content.to_vec(),
    })
}

pub(crate) fn block_from_wire(w: pb::FileBlock) -> Result<tacnode_domain::Content> {
    bytes_at_most(&w.content, FILE_BLOCK_BYTES, "file_block.content")?;
    let offer = offer_from_wire(required(w.offer, "file_block.offer")?)
        .map_err(|e| e.within("file_block"))?;
    Ok(tacnode_domain::Content::FileBlock {
        offer,
        index: w.index,
        content: w.content,
    })
}

pub(crate) fn receipt_to_wire(
    transfer: &TransferId,
    declined: Option<&String>,
) -> pb::plaintext::Content {
    pb::plaintext::Content::FileReceipt(pb::FileReceipt {
        transfer_id: transfer.as_bytes().to_vec(),
        declined: declined.is_some(),
        reason: declined.cloned().unwrap_or_default(),
    })
}

pub(crate) fn receipt_from_wire(w: pb::FileReceipt) -> Result<tacnode_domain::Content> {
    bytes_at_most(
        w.reason.as_bytes(),
        MAX_DECLINE_REASON_BYTES,
        "file_receipt.reason",
    )?;
    Ok(tacnode_domain::Content::FileReceipt {
        transfer: transfer_id(&w.transfer_id, "file_receipt.transfer_id")?,
        declined: w.declined.then_some(w.reason),
    })
}
