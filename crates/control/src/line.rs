//! Bounded JSON lines, the framing of both directions.

use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Longest request or response line: a 64 KiB text of control characters
/// is ~6x longer as JSON, plus the other fields.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Why a line could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The peer closed the connection in the middle of a line.
    #[error("connection closed inside a line")]
    Truncated,
    /// The line exceeds [`MAX_LINE_BYTES`].
    #[error("line longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    /// The line is not UTF-8.
    #[error("line is not UTF-8")]
    NotUtf8,
    /// The value could not be encoded as JSON.
    #[error("cannot encode the line: {0}")]
    Encode(#[source] serde_json::Error),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one bounded line; `None` at end of stream. Not cancel-safe: a
/// line cut short by cancellation is lost.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Option<String>, LineError> {
    let mut buf = Vec::new();
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(LineError::Truncated);
        }
        if let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
            buf.extend_from_slice(&chunk[..pos]);
            reader.consume(pos + 1);
            break;
        }
        let n = chunk.len();
        buf.extend_from_slice(chunk);
        reader.consume(n);
        if buf.len() > MAX_LINE_BYTES {
            return Err(LineError::TooLong);
        }
    }
    if buf.len() > MAX_LINE_BYTES {
        return Err(LineError::TooLong);
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| LineError::NotUtf8)
}

/// Writes one JSON line and flushes it.
pub async fn write_json<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> Result<(), LineError> {
    let mut line = serde_json::to_vec(value).map_err(LineError::Encode)?;
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::BufReader;

    #[tokio::test]
    async fn overlong_line_is_refused() {
        let data = vec![b'a'; MAX_LINE_BYTES + 10];
        let mut r = BufReader::new(data.as_slice());
        assert!(matches!(read_line(&mut r).await, Err(LineError::TooLong)));
        let mut r = BufReader::new(&b"{\"cmd\":\"id\"}\nrest"[..]);
        assert_eq!(
            read_line(&mut r).await.unwrap().unwrap(),
            "{\"cmd\":\"id\"}"
        );
        assert!(matches!(read_line(&mut r).await, Err(LineError::Truncated)));
    }
}
