//! `tacnode inbox [--follow]`: the daemon's inbox lines written one per
//! line, as text or as JSON, until the listing ends, or while following
//! until the reader goes away.

use std::io::Write;

use crate::client::{ClientError, ControlClient};
use crate::output_line::write_line;
use crate::request::Request;
use crate::response::Response;
use crate::text;

/// Why the inbox could not be written to its end.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// The request or an answer failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The daemon refused the request, saying why.
    #[error("{0}")]
    Refused(String),
    /// The daemon closed the connection before the end of the listing, or
    /// while following.
    #[error("the daemon closed the connection (it stopped?)")]
    Closed,
    /// Writing a line failed.
    #[error(transparent)]
    Write(#[from] std::io::Error),
    /// An answer could not be written as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Asks the daemon for its inbox (the last `limit` messages; then every new
/// message and status change when `follow`) and writes each to `out`: as
/// the daemon's JSON when `json`, else as [`text::message`] and
/// [`text::status_change`] lines, the latter stamped with `now_ms()`.
pub async fn write_inbox<W: Write>(
    client: &mut ControlClient,
    follow: bool,
    limit: Option<u32>,
    json: bool,
    out: &mut W,
    now_ms: &dyn Fn() -> u64,
) -> Result<(), InboxError> {
    client.send(&Request::Inbox { follow, limit }).await?;
    while let Some(r) = client.next().await? {
        let line = match r {
            // One object per line.
            Response::Message(_) | Response::StatusChange { .. } | Response::Alert { .. }
                if json =>
            {
                serde_json::to_string(&r)?
            }
            Response::Message(m) => text::message(m),
            Response::StatusChange {
                message_id,
                status,
                reason,
            } => text::status_change(&message_id, &status, reason, now_ms()),
            Response::Alert {
                from_address,
                from_name,
                text,
                time_ms,
            } => text::alert(&from_name.unwrap_or(from_address), &text, time_ms),
            Response::End if !follow => return Ok(()),
            Response::Error { message } => return Err(InboxError::Refused(message)),
            _ => continue,
        };
        // A closed reader ends it quietly.
        if !write_line(out, &line)? {
            return Ok(());
        }
    }
    // The stream ended without its end marker, or while following.
    Err(InboxError::Closed)
}
