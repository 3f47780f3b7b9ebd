//! Sans-IO length-prefixed framing.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes. The
//! length is checked against the decoder's maximum before any byte of the
//! body is buffered, so a hostile prefix cannot make us allocate.

/// Default largest frame body: 1 MiB.
pub const MAX_FRAME_LEN: usize = 1024 * 1024;
/// Bytes of the length prefix.
pub const FRAME_HEADER_LEN: usize = 4;

/// Why the frame stream is unusable. After an error the decoder stays failed:
/// framing cannot be resynchronised, so the stream must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The length prefix announces more than the maximum.
    #[error("frame of {announced} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced body length.
        announced: usize,
        /// The decoder's maximum.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended {missing} bytes short of a whole frame")]
    Truncated {
        /// Bytes still expected.
        missing: usize,
    },
}

/// The length prefix of a `len`-byte body (big-endian u32). Fails if `len`
/// is over `max`. Senders that keep the body apart (no copy) use this.
pub fn frame_header(len: usize, max: usize) -> Result<[u8; FRAME_HEADER_LEN], FrameError> {
    let too_large = FrameError::TooLarge {
        announced: len,
        max,
    };
    if len > max {
        return Err(too_large);
    }
    let len = u32::try_from(len).map_err(|_| too_large)?;
    Ok(len.to_be_bytes())
}

/// The body length a prefix announces. Fails if it is over `max`, so a
/// reader checks it before allocating anything for the body.
pub fn body_len(header: [u8; FRAME_HEADER_LEN], max: usize) -> Result<usize, FrameError> {
    let len = usize::try_from(u32::from_be_bytes(header)).unwrap_or(usize::MAX);
    if len > max {
        return Err(FrameError::TooLarge {
            announced: len,
            max,
        });
    }
    Ok(len)
}

/// Prefixes `body` with its length. Fails if `body` is over `max`.
pub fn encode_frame(body: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let header = frame_header(body.len(), max)?;
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    Ok(out)
}

/// Incremental frame decoder: feed bytes as they arrive, take whole frames.
#[derive(Debug)]
pub struct FrameDecoder {
    max: usize,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already handed over. Frames are taken by
    /// moving this offset, not by shifting the buffer, so many small frames
    /// in one read cost linear time.
    taken: usize,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            buf: Vec::new(),
            taken: 0,
            failed: None,
        }
    }

    /// Appends received bytes. Never allocates more than one maximum frame
    /// (plus header) beyond what callers have already taken: an oversize
    /// prefix fails the decoder as soon as its 4 bytes are in.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        // Reclaim handed-over bytes once they are at least half the buffer:
        // each byte is moved a bounded number of times.
        if self.taken > 0 && self.taken >= self.buf.len() / 2 {
            self.buf.drain(..self.taken);
            self.taken = 0;
        }
        self.buf.extend_from_slice(bytes);
        self.check_prefix()
    }

    /// Received bytes not yet handed over.
    fn pending(&self) -> &[u8] {
        self.buf.get(self.taken..).unwrap_or_default()
    }

    fn check_prefix(&mut self) -> Result<(), FrameError> {
        if let Some(len) = self.announced()
            && len > self.max
        {
            let e = FrameError::TooLarge {
                announced: len,
                max: self.max,
            };
            self.buf = Vec::new();
            self.taken = 0;
            self.failed = Some(e.clone());
            return Err(e);
        }
        Ok(())
    }

    fn announced(&self) -> Option<usize> {
        announced(self.pending())
    }

    /// Takes the next whole frame body, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let Some(len) = self.announced() else {
            return Ok(None);
        };
        let end = FRAME_HEADER_LEN + len;
        let Some(body) = self.pending().get(FRAME_HEADER_LEN..end) else {
            return Ok(None);
        };
        let body = body.to_vec();
        self.taken += end;
        if self.taken == self.buf.len() {
            self.buf.clear();
            self.taken = 0;
        }
        // Check the next prefix now so `wanted()` stays bounded. If it is
        // oversize the decoder fails, but this whole frame is still handed
        // over: the error comes with the next call.
        let _ = self.check_prefix();
        Ok(Some(body))
    }

    /// How many more bytes the current frame needs (header first), so a
    /// reader can ask for exactly that much.
    pub fn wanted(&self) -> usize {
        let pending = self.pending().len();
        match self.announced() {
            None => FRAME_HEADER_LEN - pending,
            Some(len) => (FRAME_HEADER_LEN + len).saturating_sub(pending).max(1),
        }
    }

    /// Call at end of stream: fails if a partial frame is buffered. Whole
    /// frames not yet taken are skipped over, so the answer is the one that
    /// taking every frame first and then finishing would give.
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut rest = self.pending();
        while !rest.is_empty() {
            let Some(len) = announced(rest) else {
                return Err(FrameError::Truncated {
                    missing: FRAME_HEADER_LEN.saturating_sub(rest.len()),
                });
            };
            if len > self.max {
                return Err(FrameError::TooLarge {
                    announced: len,
                    max: self.max,
                });
            }
            let end = FRAME_HEADER_LEN.saturating_add(len);
            rest = rest.get(end..).ok_or(FrameError::Truncated {
                missing: end.saturating_sub(rest.len()),
            })?;
        }
        Ok(())
    }
}

/// The body length announced by the prefix at the start of `buf`, once whole.
fn announced(buf: &[u8]) -> Option<usize> {
    let prefix: [u8; FRAME_HEADER_LEN] = buf.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(prefix)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn headers_round_trip_and_refuse_oversize() {
        assert_eq!(frame_header(5, 5).unwrap(), [0, 0, 0, 5]);
        assert_eq!(body_len([0, 0, 0, 5], 5).unwrap(), 5);
        assert!(matches!(
            frame_header(6, 5),
            Err(FrameError::TooLarge {
                announced: 6,
                max: 5
            })
        ));
        assert!(matches!(
            body_len([0xff; 4], MAX_FRAME_LEN),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn oversize_prefix_fails_before_body_arrives() {
        let mut d = FrameDecoder::new(16);
        let err = d.feed(&17u32.to_be_bytes()).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLarge {
                announced: 17,
                max: 16
            }
        );
        assert!(d.buf.capacity() == 0);
        assert!(d.feed(b"more").is_err());
    }

    #[test]
    fn truncated_stream_is_reported() {
        let mut d = FrameDecoder::new(16);
        d.feed(&[0, 0, 0, 5, 1, 2]).unwrap();
        assert_eq!(d.next_frame().unwrap(), None);
        assert_eq!(d.finish(), Err(FrameError::Truncated { missing: 3 }));
    }

    /// Found by the `frame_codec` fuzz target: `finish()` with a whole frame
    /// still buffered subtracted past zero (a panic with overflow checks on).
    #[test]
    fn finish_skips_whole_frames_not_yet_taken() {
        let mut d = FrameDecoder::new(16);
        d.feed(&[0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(d.finish(), Ok(()));
        d.feed(&[0, 0, 0, 2, 9]).unwrap();
        assert_eq!(d.finish(), Err(FrameError::Truncated { missing: 1 }));
        d.feed(&[9, 0, 0]).unwrap();
        assert_eq!(d.finish(), Err(FrameError::Truncated { missing: 2 }));
        d.feed(&[0, 17]).unwrap();
        assert_eq!(
            d.finish(),
            Err(FrameError::TooLarge {
                announced: 17,
                max: 16
            })
        );
    }

    /// Found by the `frame_codec` fuzz target: a whole frame followed, in
    /// the same read, by an oversize prefix was dropped, so whether it was
    /// delivered depended on where the reads split the stream.
    #[test]
    fn whole_frame_before_an_oversize_prefix_is_delivered() {
        let mut d = FrameDecoder::new(MAX_FRAME_LEN);
        d.feed(&[0, 0, 0, 0, 1, 0x65, 0x65, 0x65]).unwrap();
        assert_eq!(d.next_frame(), Ok(Some(vec![])));
        let too_large = FrameError::TooLarge {
            announced: 0x0165_6565,
            max: MAX_FRAME_LEN,
        };
        assert_eq!(d.next_frame(), Err(too_large.clone()));
        assert_eq!(d.feed(b"x"), Err(too_large.clone()));
        assert_eq!(d.finish(), Err(too_large));
    }

    /// Taking a frame used to shift the whole rest of the buffer, so one
    /// read full of empty frames cost time quadratic in its length. Frames
    /// are now handed over by offset; under the old code this test moved
    /// about 10^11 bytes (seconds of CPU for one 1 MiB read).
    #[test]
    fn many_small_frames_in_one_read_are_taken_in_linear_time() {
        let mut d = FrameDecoder::default();
        d.feed(&vec![0u8; MAX_FRAME_LEN]).unwrap();
        let mut n = 0;
        while let Some(f) = d.next_frame().unwrap() {
            assert!(f.is_empty());
            n += 1;
        }
        assert_eq!(n, MAX_FRAME_LEN / FRAME_HEADER_LEN);
        assert_eq!(d.finish(), Ok(()));
        assert_eq!(d.wanted(), FRAME_HEADER_LEN);
    }

    proptest! {
        #[test]
        fn frames_survive_arbitrary_splits(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            cuts in proptest::collection::vec(1usize..64, 1..50),
        ) {
            let mut wire = Vec::new();
            for b in &bodies {
                wire.extend(encode_frame(b, MAX_FRAME_LEN).unwrap());
            }
            let mut d = FrameDecoder::default();
            let mut got = Vec::new();
            let mut rest = wire.as_slice();
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                d.feed(&rest[..n]).unwrap();
                rest = &rest[n..];
                i += 1;
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            d.finish().unwrap();
            prop_assert_eq!(got, bodies);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), max in 0usize..512) {
            let mut d = FrameDecoder::new(max);
            if d.feed(&bytes).is_ok() {
                while let Ok(Some(f)) = d.next_frame() {
                    prop_assert!(f.len() <= max);
                }
            }
            let _ = d.finish();
        }
    }
}
