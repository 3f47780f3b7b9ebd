use std::fmt;

/// What was wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Not valid protobuf.
    Protobuf(String),
    /// A protocol version this node does not speak.
    UnsupportedVersion(u32),
    /// A required field is absent.
    Missing,
    /// Fixed-size bytes of the wrong length.
    Length {
        /// Required length.
        expected: usize,
        /// Length received.
        actual: usize,
    },
    /// A repeated field or a string over its limit.
    TooMany {
        /// The limit.
        max: usize,
        /// What was received.
        actual: usize,
    },
    /// Fewer elements than required.
    TooFew {
        /// The minimum.
        min: usize,
        /// What was received.
        actual: usize,
    },
    /// Bytes that are not a valid public key.
    InvalidKey,
    /// An enum value that is unknown or not allowed here.
    BadEnum(i32),
    /// Any other violated rule.
    Invalid(&'static str),
}

/// A wire message failed validation. Names the offending field by its path
/// from the envelope, e.g. `store.record.peer.identity_key`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    field: String,
    kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn new(field: &str, kind: DecodeErrorKind) -> Self {
        Self {
            field: field.to_owned(),
            kind,
        }
    }

    /// Prefixes the field path with the enclosing field's name.
    pub(crate) fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }

    /// Path of the offending field.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What was wrong with it.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: ", self.field)?;
        match &self.kind {
            DecodeErrorKind::Protobuf(e) => write!(f, "not valid protobuf: {e}"),
            DecodeErrorKind::UnsupportedVersion(v) => write!(f, "unsupported protocol version {v}"),
            DecodeErrorKind::Missing => write!(f, "required but missing"),
            DecodeErrorKind::Length { expected, actual } => {
                write!(f, "expected {expected} bytes, got {actual}")
            }
            DecodeErrorKind::TooMany { max, actual } => {
                write!(f, "{actual} exceeds the limit of {max}")
            }
            DecodeErrorKind::TooFew { min, actual } => {
                write!(f, "{actual} is below the minimum of {min}")
            }
            DecodeErrorKind::InvalidKey => write!(f, "not a valid public key"),
            DecodeErrorKind::BadEnum(v) => write!(f, "enum value {v} not allowed"),
            DecodeErrorKind::Invalid(why) => write!(f, "{why}"),
        }
    }
}
