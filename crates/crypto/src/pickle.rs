//! Bounded binary encoding of secret state ("pickles").
//!
//! Fixed-width big-endian integers, fixed-length keys, one-byte option tags,
//! counts checked against named limits before anything is allocated, and no
//! trailing bytes. Decoding never panics.

use zeroize::Zeroizing;

/// Why a pickle could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The input ended early.
    #[error("pickle truncated")]
    Truncated,
    /// The magic bytes do not name this kind of pickle.
    #[error("not a {0} pickle")]
    BadMagic(&'static str),
    /// A version this build does not read.
    #[error("unsupported pickle version {0}")]
    UnsupportedVersion(u8),
    /// An option or enum tag outside its range.
    #[error("invalid tag {0}")]
    InvalidTag(u8),
    /// A count above its named limit.
    #[error("{what}: {count} exceeds the limit {limit}")]
    LimitExceeded {
        /// Which collection.
        what: &'static str,
        /// The count found.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// A key that does not parse (e.g. an invalid Ed25519 point).
    #[error("invalid key in pickle")]
    InvalidKey,
    /// A value inconsistent with the rest of the state.
    #[error("inconsistent pickle: {0}")]
    Inconsistent(&'static str),
    /// Bytes left over after the last field.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
}

/// Appends fields to a zeroizing buffer.
pub(crate) struct Writer {
    buf: Zeroizing<Vec<u8>>,
}

impl Writer {
    pub(crate) fn new(magic: &[u8; 4], version: u8, capacity: usize) -> Self {
        let mut buf = Zeroizing::new(Vec::with_capacity(capacity + 5));
        buf.extend_from_slice(magic);
        buf.push(version);
        Self { buf }
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    pub(crate) fn finish(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }
}

/// Reads fields from a pickle, checking every length.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks magic and version; returns a reader positioned after them.
    pub(crate) fn new(
        input: &'a [u8],
        magic: &[u8; 4],
        name: &'static str,
        version: u8,
    ) -> Result<Self, PickleError> {
        let (r, v) = Self::read_header(input, magic, name)?;
        if v != version {
            return Err(PickleError::UnsupportedVersion(v));
        }
        Ok(r)
    }

    /// [`Reader::new`] for a format read back to version 1: accepts versions
    /// `1..=latest` and returns the one found.
    pub(crate) fn new_up_to(
        input: &'a [u8],
        magic: &[u8; 4],
        name: &'static str,
        latest: u8,
    ) -> Result<(Self, u8), PickleError> {
        let (r, v) = Self::read_header(input, magic, name)?;
        if v == 0 || v > latest {
            return Err(PickleError::UnsupportedVersion(v));
        }
        Ok((r, v))
    }

    /// Checks the magic; returns the reader after the version byte, and it.
    fn read_header(
        input: &'a [u8],
        magic: &[u8; 4],
        name: &'static str,
    ) -> Result<(Self, u8), PickleError> {
        let mut r = Self { rest: input };
        let m: [u8; 4] = r.array()?;
        if &m != magic {
            return Err(PickleError::BadMagic(name));
        }
        let v = r.u8()?;
        Ok((r, v))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(PickleError::Truncated)?;
        self.rest = tail;
        Ok(*head)
    }

    /// A secret array, zeroized when dropped.
    pub(crate) fn secret<const N: usize>(&mut self) -> Result<Zeroizing<[u8; N]>, PickleError> {
        self.array().map(Zeroizing::new)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, PickleError> {
        self.array::<1>().map(|[b]| b)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, PickleError> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, PickleError> {
        self.array().map(u64::from_be_bytes)
    }

    pub(crate) fn bool(&mut self) -> Result<bool, PickleError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(PickleError::InvalidTag(t)),
        }
    }

    /// A u32 count, rejected above `limit` before the caller allocates.
    pub(crate) fn count(&mut self, what: &'static str, limit: usize) -> Result<usize, PickleError> {
        let n = self.u32()?;
        let n_usize = usize::try_from(n).unwrap_or(usize::MAX);
        if n_usize > limit {
            return Err(PickleError::LimitExceeded {
                what,
                count: u64::from(n),
                limit: u64::try_from(limit).unwrap_or(u64::MAX),
            });
        }
        Ok(n_usize)
    }

    pub(crate) fn finish(self) -> Result<(), PickleError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(PickleError::TrailingBytes(self.rest.len()))
        }
    }
}
