//! Frame I/O over quinn streams, bounded before allocation.

use std::borrow::Borrow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use quinn::{RecvStream, SendStream, VarInt};
use tacnode_messaging::frame::{FRAME_HEADER_LEN, FrameError, body_len, frame_header};
use tokio::sync::{Notify, Semaphore};

use crate::error::RespondError;

/// Stream reset/stop code: the receiver dropped the request without answering.
pub const CODE_NO_RESPONSE: u32 = 0x10;
/// Stream stop code: the peer sent a malformed or oversize frame.
pub const CODE_BAD_FRAME: u32 = 0x11;
/// Stream stop code: the peer took too long to deliver its frame.
pub const CODE_TIMEOUT: u32 = 0x12;
/// Stream reset code: the node is not accepting inbound messages.
pub const CODE_UNAVAILABLE: u32 = 0x13;

/// Streams in progress on one connection, so a connection being taken out of
/// service can wait for them before it closes.
#[derive(Debug, Default)]
pub(crate) struct ActiveStreams {
    count: AtomicUsize,
    /// Streams started since the link was made.
    started: AtomicUsize,
    idle: Notify,
}

impl ActiveStreams {
    /// Resolves once no stream has been in progress on the link for
    /// `linger` (between `linger` and twice it after the last one ended).
    pub(crate) async fn lingered(&self, linger: std::time::Duration) {
        loop {
            self.drained().await;
            let seen = self.started.load(Ordering::Acquire);
            tokio::time::sleep(linger).await;
            if self.started.load(Ordering::Acquire) == seen
                && self.count.load(Ordering::Acquire) == 0
            {
                return;
            }
        }
    }

    /// Resolves once no stream is in progress.
    pub(crate) async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// Counts one stream in progress while it lives: borrowed for the length of
/// a call, or owned (`Arc`) by a [`Responder`] until the response is sent.
#[derive(Debug)]
pub(crate) struct ActiveGuard<A: Borrow<ActiveStreams>>(A);

impl<A: Borrow<ActiveStreams>> ActiveGuard<A> {
    pub(crate) fn new(active: A) -> Self {
        active.borrow().count.fetch_add(1, Ordering::AcqRel);
        active.borrow().started.fetch_add(1, Ordering::AcqRel);
        Self(active)
    }
}

impl<A: Borrow<ActiveStreams>> Drop for ActiveGuard<A> {
    fn drop(&mut self) {
        let active = self.0.borrow();
        if active.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            active.idle.notify_waiters();
        }
    }
}

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

/// One frame ready to send: the length prefix and the body are kept apart so
/// the body goes to QUIC without being copied. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    head: Bytes,
    body: Bytes,
}

impl Frame {
    /// Frames `body`; fails before any I/O if it is over `max`.
    pub(crate) fn new(body: Vec<u8>, max: usize) -> Result<Self, FrameError> {
        let header = frame_header(body.len(), max)?;
        Ok(Self {
            head: Bytes::copy_from_slice(&header),
            body: Bytes::from(body),
        })
    }

    /// Writes the whole frame to `send` (without finishing the stream).
    pub(crate) async fn write(&self, send: &mut SendStream) -> Result<(), quinn::WriteError> {
        send.write_all_chunks(&mut [self.head.clone(), self.body.clone()])
            .await
    }
}

/// Reads exactly one frame followed by the end of the stream. `Ok(None)` if
/// the stream finished before any byte. The announced length is checked
/// against `max` before anything is allocated, and with a `budget` the body's
/// size is reserved from it before any body byte is read; the reservation is
/// held until the frame is complete.
pub(crate) async fn read_frame(
    recv: &mut RecvStream,
    max: usize,
    budget: Option<&Semaphore>,
) -> Result<Option<Vec<u8>>, ReadFrameError> {
    let mut head = [0u8; FRAME_HEADER_LEN];
    let mut have = 0usize;
    while let Some(rest) = head.get_mut(have..).filter(|r| !r.is_empty()) {
        match recv.read_chunk(rest.len(), true).await? {
            Some(chunk) => {
                let n = chunk.bytes.len().min(rest.len());
                if let (Some(dst), Some(src)) = (rest.get_mut(..n), chunk.bytes.get(..n)) {
                    dst.copy_from_slice(src);
                }
                have += n;
            }
            None if have == 0 => return Ok(None),
            None => {
                return Err(ReadFrameError::Frame(FrameError::Truncated {
                    missing: FRAME_HEADER_LEN - have,
                }));
            }
        }
    }
    let len = body_len(head, max)?;
    let announced = u32::try_from(len).map_err(|_| {
        ReadFrameError::Frame(FrameError::TooLarge {
            announced: len,
            max,
        })
    })?;
    let _permit = match budget {
        Some(budget) => Some(
            budget
                .acquire_many(announced)
                .await
                .map_err(|_| ReadFrameError::Frame(FrameError::Truncated { missing: len }))?,
        ),
        None => None,
    };
    let mut body = Vec::with_capacity(len);
    while body.len() < len {
        match recv.read_chunk(len - body.len(), true).await? {
            Some(chunk) => body.extend_from_slice(&chunk.bytes),
            None => {
                return Err(ReadFrameError::Frame(FrameError::Truncated {
                    missing: len - body.len(),
                }));
            }
        }
    }
    // One frame per stream: the sender finishes right after it, so the end
    // usually arrives with the frame. Reading it (rather than dropping the
    // stream early) spares a STOP_SENDING round.
    match recv.read_chunk(1, true).await? {
        None => Ok(Some(body)),
        Some(_) => Err(ReadFrameError::Trailing),
    }
}

/// Answers one inbound request. Dropping it without [`Responder::send`]
/// resets the stream with [`CODE_NO_RESPONSE`], so the requester fails fast.
#[derive(Debug)]
pub struct Responder {
    send: Option<SendStream>,
    max: usize,
    // Keeps the request counted as in progress on its connection until it is
    // answered, so a connection being retired is not closed under it.
    _active: ActiveGuard<Arc<ActiveStreams>>,
}

impl Responder {
    pub(crate) fn new(send: SendStream, max: usize, active: Arc<ActiveStreams>) -> Self {
        Self {
            send: Some(send),
            max,
            _active: ActiveGuard::new(active),
        }
    }

    /// Sends `body` as the response and finishes the stream.
    pub async fn send(mut self, body: Vec<u8>) -> Result<(), RespondError> {
        let frame = Frame::new(body, self.max)?;
        let mut send = self.send.take().ok_or(RespondError::Closed)?;
        frame.write(&mut send).await?;
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
