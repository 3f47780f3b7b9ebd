//! The sans-IO frame decoder fed an arbitrary byte stream split at arbitrary
//! points, checked step by step against a one-shot reference parser.
//!
//! Input layout (read with `arbitrary`, front to back): a max-size choice,
//! a step count, the steps (chunk length and flags), then the stream itself,
//! so seeds can carry real framed messages after a short prefix.

use arbitrary::{Result, Unstructured};
use tacnode_messaging::frame::{FRAME_HEADER_LEN, FrameDecoder, FrameError, MAX_FRAME_LEN};

/// Most steps read from one input; steps are reused cyclically.
pub const MAX_STEPS: usize = 32;

/// Take every whole frame after feeding.
pub const STEP_DRAIN: u8 = 1;
/// Call `finish()` before draining and compare with the drained outcome.
pub const STEP_PROBE_FINISH: u8 = 2;
/// Call `wanted()` and check it against the size bound.
pub const STEP_WANTED: u8 = 4;

/// One feed: how many bytes, and what to do after it.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Chunk length (at least one byte is fed per step).
    pub len: u16,
    /// `STEP_*` bits.
    pub flags: u8,
}

/// A decoded fuzz input.
#[derive(Debug)]
pub struct Input<'a> {
    /// The decoder's maximum frame body.
    pub max: usize,
    /// Split points and actions.
    pub steps: Vec<Step>,
    /// The byte stream.
    pub stream: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads an input; the stream is whatever follows the steps.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let mut u = Unstructured::new(data);
        let max = match u.arbitrary::<u8>()? % 4 {
            0 => MAX_FRAME_LEN,
            1 => u.int_in_range(0..=16)?,
            2 => u.int_in_range(0..=1024)?,
            _ => usize::try_from(u.arbitrary::<u32>()?).unwrap_or(usize::MAX),
        };
        let n = u.int_in_range(0..=MAX_STEPS)?;
        let mut steps = Vec::with_capacity(n);
        for _ in 0..n {
            steps.push(Step {
                len: u.arbitrary()?,
                flags: u.arbitrary()?,
            });
        }
        Ok(Self {
            max,
            steps,
            stream: u.take_rest(),
        })
    }

    /// The bytes [`Input::parse`] reads back as this input (for seeds).
    /// Only the `MAX_FRAME_LEN` choice is encoded exactly.
    pub fn to_bytes(steps: &[Step], stream: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8, u8::try_from(steps.len().min(MAX_STEPS)).unwrap_or(0)];
        for s in steps.iter().take(MAX_STEPS) {
            out.extend_from_slice(&s.len.to_le_bytes());
            out.push(s.flags);
        }
        out.extend_from_slice(stream);
        out
    }
}

/// What a whole stream holds: its frames, then how it ends.
fn reference(stream: &[u8], max: usize) -> (Vec<&[u8]>, Result<(), FrameError>) {
    let mut frames = Vec::new();
    let mut rest = stream;
    loop {
        if rest.is_empty() {
            return (frames, Ok(()));
        }
        let Some(prefix) = rest.get(..FRAME_HEADER_LEN) else {
            let missing = FRAME_HEADER_LEN - rest.len();
            return (frames, Err(FrameError::Truncated { missing }));
        };
        let len = u32::from_be_bytes(prefix.try_into().expect("4 bytes")) as usize;
        if len > max {
            return (
                frames,
                Err(FrameError::TooLarge {
                    announced: len,
                    max,
                }),
            );
        }
        let end = FRAME_HEADER_LEN + len;
        let Some(body) = rest.get(FRAME_HEADER_LEN..end) else {
            let missing = end - rest.len();
            return (frames, Err(FrameError::Truncated { missing }));
        };
        frames.push(body);
        rest = &rest[end..];
    }
}

struct Harness {
    d: FrameDecoder,
    max: usize,
    fed: usize,
    consumed: usize,
    frames: Vec<Vec<u8>>,
    failed: Option<FrameError>,
}

impl Harness {
    fn note_failure(&mut self, e: FrameError) {
        assert!(
            matches!(e, FrameError::TooLarge { announced, max } if announced > max && max == self.max),
            "unexpected error while frames remain: {e:?}"
        );
        if let Some(prev) = &self.failed {
            assert_eq!(prev, &e, "a failed decoder changed its error");
        }
        self.failed = Some(e);
    }

    /// Takes every whole frame; checks sizes and the buffer bound.
    fn drain(&mut self) {
        loop {
            match self.d.next_frame() {
                Ok(Some(f)) => {
                    assert!(self.failed.is_none(), "frame after failure");
                    assert!(
                        f.len() <= self.max,
                        "frame of {} over max {}",
                        f.len(),
                        self.max
                    );
                    self.consumed += FRAME_HEADER_LEN + f.len();
                    assert!(self.consumed <= self.fed, "took more than was fed");
                    self.frames.push(f);
                }
                Ok(None) => {
                    assert!(self.failed.is_none(), "failed decoder said no frame");
                    let buffered = self.fed - self.consumed;
                    assert!(
                        buffered <= self.max.saturating_add(FRAME_HEADER_LEN),
                        "{buffered} bytes buffered with max {}",
                        self.max
                    );
                    return;
                }
                Err(e) => {
                    self.note_failure(e);
                    return;
                }
            }
        }
    }

    fn check_wanted(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let wanted = self.d.wanted();
        assert!(wanted >= 1, "wanted() is zero");
        assert!(
            wanted <= self.max.saturating_add(FRAME_HEADER_LEN),
            "wanted() {wanted} over max {} plus header",
            self.max
        );
    }

    /// `finish()` must report what draining and then finishing reports.
    fn probe_finish(&mut self) {
        let early = self.d.finish();
        self.drain();
        let late = match &self.failed {
            Some(e) => Err(e.clone()),
            None => self.d.finish(),
        };
        assert_eq!(early, late, "finish() before draining disagrees with after");
    }
}

/// Feeds the stream chunk by chunk as the steps say, then drains and
/// finishes, and compares everything with [`reference`].
pub fn run(data: &[u8]) {
    let Ok(input) = Input::parse(data) else {
        return;
    };
    let mut h = Harness {
        d: FrameDecoder::new(input.max),
        max: input.max,
        fed: 0,
        consumed: 0,
        frames: Vec::new(),
        failed: None,
    };
    let default = [Step {
        len: u16::MAX,
        flags: STEP_DRAIN,
    }];
    let steps = if input.steps.is_empty() {
        &default[..]
    } else {
        &input.steps[..]
    };
    let mut rest = input.stream;
    let mut i = 0;
    while !rest.is_empty() {
        let step = steps[i % steps.len()];
        i += 1;
        let n = usize::from(step.len).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        match h.d.feed(chunk) {
            Ok(()) => {
                assert!(h.failed.is_none(), "a failed decoder accepted bytes");
                h.fed += n;
            }
            Err(e) => {
                h.note_failure(e);
                break;
            }
        }
        if step.flags & STEP_PROBE_FINISH != 0 {
            h.probe_finish();
        }
        if step.flags & STEP_DRAIN != 0 {
            h.drain();
        }
        if step.flags & STEP_WANTED != 0 {
            h.check_wanted();
        }
    }
    h.drain();
    h.check_wanted();
    if h.failed.is_none() {
        assert!(h.d.feed(&[]).is_ok(), "empty feed failed");
    }
    let end = match &h.failed {
        Some(e) => {
            assert_eq!(
                h.d.feed(b"x").as_ref(),
                Err(e),
                "failed decoder accepted bytes"
            );
            assert_eq!(h.d.next_frame().as_ref(), Err(e));
            Err(e.clone())
        }
        None => h.d.finish(),
    };
    let (want_frames, want_end) = reference(input.stream, input.max);
    assert_eq!(
        h.frames.len(),
        want_frames.len(),
        "frame count differs from reference"
    );
    for (got, want) in h.frames.iter().zip(&want_frames) {
        assert_eq!(got.as_slice(), *want, "frame differs from reference");
    }
    assert_eq!(end, want_end, "end of stream differs from reference");
}
