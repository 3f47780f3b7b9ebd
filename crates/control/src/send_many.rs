//! Many texts to one contact (`tacnode send` reading standard input): split
//! into the groups one [`Request::SendMany`] carries, sent in order, and on
//! a failure, which texts are queued for sure.

use crate::client::{ClientError, ControlClient};
use crate::line::MAX_LINE_BYTES;
use crate::request::Request;
use crate::response::Response;

/// Room left in a request line for its other fields.
const REQUEST_OVERHEAD_BYTES: usize = 4096;

/// Why sending the texts stopped.
#[derive(Debug, thiserror::Error)]
pub enum SendManyError {
    /// The daemon answered with something else than the queued ids.
    #[error("unexpected answer {0:?}")]
    Unexpected(Box<Response>),
    /// A group failed: the texts before it are queued, those of the group
    /// may be, the rest are not.
    #[error(
        "lines 1-{queued} of {total} are queued for sure; lines {first}-{last} were \
         being queued when this failed and may or may not be (check `tacnode \
         inbox` before sending them again); the rest were not sent",
        first = .queued + 1,
        last = .queued + .in_flight
    )]
    Interrupted {
        /// Texts queued for sure.
        queued: usize,
        /// Texts of the group that failed.
        in_flight: usize,
        /// All the texts.
        total: usize,
        /// Why the group failed.
        source: ClientError,
    },
}

/// Splits texts into groups that one control request carries: at most
/// `max_texts` texts, and a JSON line within [`MAX_LINE_BYTES`].
pub fn send_groups(texts: &[String], max_texts: usize) -> Vec<&[String]> {
    let budget = MAX_LINE_BYTES - REQUEST_OVERHEAD_BYTES;
    let mut groups = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, t) in texts.iter().enumerate() {
        // A text's exact size as a JSON string, plus the comma.
        let cost = serde_json::to_string(t).map_or(usize::MAX, |j| j.len() + 1);
        if i > start && (i - start == max_texts || bytes + cost > budget) {
            groups.push(&texts[start..i]);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(cost);
    }
    if start < texts.len() {
        groups.push(&texts[start..]);
    }
    groups
}

/// Sends `texts` to `to` in [`send_groups`] of at most `max_texts`, in
/// order, calling `queued` with each message id as its group is queued.
/// Returns how many were queued.
pub async fn send_many(
    client: &mut ControlClient,
    to: &str,
    texts: &[String],
    max_texts: usize,
    queued: &mut dyn FnMut(&str),
) -> Result<usize, SendManyError> {
    let mut count = 0usize;
    for group in send_groups(texts, max_texts) {
        let req = Request::SendMany {
            to: to.to_owned(),
            texts: group.to_vec(),
        };
        match client.call(&req).await {
            Ok(Response::QueuedMany { message_ids }) => {
                for id in &message_ids {
                    queued(id);
                }
                count += message_ids.len();
            }
            Ok(other) => return Err(SendManyError::Unexpected(Box::new(other))),
            // The daemon may have committed the group in flight and failed
            // before answering: say what is known.
            Err(source) => {
                return Err(SendManyError::Interrupted {
                    queued: count,
                    in_flight: group.len(),
                    total: texts.len(),
                    source,
                });
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn groups_respect_the_count_and_the_line_limit() {
        let small: Vec<String> = (0..2500).map(|i| i.to_string()).collect();
        let g = send_groups(&small, 1000);
        assert_eq!(
            g.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        // 64 KiB of control characters is 6x longer as JSON: two per group.
        let big = vec!["\u{1}".repeat(64 * 1024); 3];
        let g = send_groups(&big, 1000);
        assert_eq!(g.iter().map(|g| g.len()).collect::<Vec<_>>(), [2, 1]);
        for group in &g {
            let line = serde_json::to_string(&Request::SendMany {
                to: "x".into(),
                texts: group.to_vec(),
            })
            .unwrap();
            assert!(line.len() < MAX_LINE_BYTES);
        }
        // Order and content kept.
        let joined: Vec<&String> = g.iter().flat_map(|g| g.iter()).collect();
        assert_eq!(joined.len(), 3);
        assert!(send_groups(&[], 1000).is_empty());
    }

    #[test]
    fn an_interrupted_send_says_which_lines_are_queued() {
        let e = SendManyError::Interrupted {
            queued: 1000,
            in_flight: 500,
            total: 2500,
            source: ClientError::Closed,
        };
        assert!(
            e.to_string()
                .starts_with("lines 1-1000 of 2500 are queued for sure; lines 1001-1500 were"),
            "{e}"
        );
    }
}
