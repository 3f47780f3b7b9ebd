//! Frame I/O over quinn streams, bounded before allocation.

use bytes::Bytes;
use quinn::{RecvStream, SendStream, VarInt};
use tacnode_messaging::frame::{FRAME_HEADER_LEN, FrameDecoder, FrameError, encode_frame};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::RespondError;

/// Stream reset/stop code: the receiver dropped the request without answering.
pub const CODE_NO_RESPONSE: u32 = 0x10;
/// Stream stop code: the peer sent a malformed or oversize frame.
pub const CODE_BAD_FRAME: u32 = 0x11;
/// Stream stop code: the peer took too long to deliver its frame.
pub const CODE_TIMEOUT: u32 = 0x12;
/// Stream reset code: the node is not accepting inbound messages.
pub const CODE_UNAVAILABLE: u32 = 0x13;

/// Why reading a frame failed.
#[derive(Debug)]
pub(crate) enum ReadFrameError {
    Frame(FrameError),
    /// Bytes after the single frame a stream may carry.
    Trailing,
    Read(quinn::ReadError),
}

impl From<FrameError> for ReadFrameError {
    fn from(e: FrameError) -> Self {
        Self::Frame(e)
    }
}

impl From<quinn::ReadError> for ReadFrameError {
    fn from(e: quinn::ReadError) -> Self {
        Self::Read(e)
    }
}

/// Reads exactly one frame followed by the end of the stream. `Ok(None)` if
/// the stream finished before any byte. With a `budget`, the body's size is reserved from it as soon as the
/// length prefix is known; the permit is returned alongside the body.
pub(crate) async fn read_frame(
    recv: &mut RecvStream,
    max: usize,
    budget: Option<&std::sync::Arc<Semaphore>>,
) -> Result<Option<(Vec<u8>, Option<OwnedSemaphorePermit>)>, ReadFrameError> {
    let mut decoder = FrameDecoder::new(max);
    let mut fed = 0usize;
    let mut permit = None;
    loop {
        if let Some(body) = decoder.next_frame()? {
            // One frame per stream: the sender finishes right after it, so
            // the end usually arrives with the frame. Reading it (rather than
            // dropping the stream early) spares a STOP_SENDING round.
            return match recv.read_chunk(1, true).await? {
                None => Ok(Some((body, permit))),
                Some(_) => Err(ReadFrameError::Trailing),
            };
        }
        let wanted = decoder.wanted();
        if fed >= FRAME_HEADER_LEN
            && permit.is_none()
            && let Some(budget) = budget
        {
            let n = u32::try_from(wanted).map_err(|_| {
                ReadFrameError::Frame(FrameError::TooLarge {
                    announced: wanted,
                    max,
                })
            })?;
            permit =
                Some(budget.clone().acquire_many_owned(n).await.map_err(|_| {
                    ReadFrameError::Frame(FrameError::Truncated { missing: wanted })
                })?);
        }
        match recv.read_chunk(wanted, true).await? {
            Some(chunk) => {
                fed = fed.saturating_add(chunk.bytes.len());
                decoder.feed(&chunk.bytes)?;
            }
            None => {
                decoder.finish()?;
                return Ok(None);
            }
        }
    }
}

/// Answers one inbound request. Dropping it without [`Responder::send`]
/// resets the stream with [`CODE_NO_RESPONSE`], so the requester fails fast.
#[derive(Debug)]
pub struct Responder {
    send: Option<SendStream>,
    max: usize,
}

impl Responder {
    pub(crate) fn new(send: SendStream, max: usize) -> Self {
        Self {
            send: Some(send),
            max,
        }
    }

    /// Sends `body` as the response and finishes the stream.
    pub async fn send(mut self, body: Vec<u8>) -> Result<(), RespondError> {
        let max = self.max;
        let frame = encode_frame(&body, max)?;
        let mut send = self.send.take().ok_or(RespondError::Closed)?;
        send.write_chunk(Bytes::from(frame)).await?;
        send.finish().map_err(|_| RespondError::Closed)?;
        Ok(())
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(mut send) = self.send.take() {
            let _ = send.reset(VarInt::from_u32(CODE_NO_RESPONSE));
        }
    }
}
