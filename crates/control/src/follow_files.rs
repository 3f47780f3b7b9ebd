//! `tacnode send-file` and `tacnode files --watch`: the daemon asked for its
//! file transfers every [`FOLLOW_INTERVAL`], each answer handed to the
//! caller (which draws progress bars), until the transfers followed ended.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use crate::client::{ClientError, ConnectError, ControlClient};
use crate::request::Request;
use crate::response::Response;
use crate::views::FileView;

/// Time between two looks at the transfers.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(250);

/// Why following stopped other than by the transfers ending or the stop
/// signal.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The daemon could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The daemon refused or failed the request, or stopped.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The daemon answered with something else than transfers.
    #[error("unexpected answer {0:?}")]
    Unexpected(Box<Response>),
    /// The transfer followed is not (or no longer) listed.
    #[error("file transfer {0} is not listed by the daemon")]
    Gone(String),
}

/// Which transfers to follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Follow {
    /// The one with this id (hex), until it ended.
    One(String),
    /// Every transfer under way at each look, until none is.
    Active,
}

/// Follows `which` on the daemon in `data_dir`: `update` gets the
/// transfers followed at each look. Returns them as last seen: ended, or
/// as they were when `stop` completed.
pub async fn follow_files<S>(
    data_dir: &Path,
    which: Follow,
    mut update: impl FnMut(&[FileView]),
    stop: S,
) -> Result<Vec<FileView>, FollowError>
where
    S: Future,
{
    let mut client = ControlClient::connect(data_dir).await?;
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(FOLLOW_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Vec::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => return Ok(last),
            _ = ticker.tick() => {}
        }
        let transfers = match client.call(&Request::Files).await? {
            Response::Files { transfers } => transfers,
            other => return Err(FollowError::Unexpected(Box::new(other))),
        };
        let followed: Vec<FileView> = match &which {
            Follow::One(id) => {
                let one: Vec<FileView> = transfers.into_iter().filter(|t| &t.id == id).collect();
                if one.is_empty() {
                    return Err(FollowError::Gone(id.clone()));
                }
                one
            }
            Follow::Active => transfers.into_iter().filter(|t| !t.ended()).collect(),
        };
        update(&followed);
        let ended = match &which {
            Follow::One(_) => followed.iter().all(FileView::ended),
            Follow::Active => followed.is_empty(),
        };
        last = followed;
        if ended {
            return Ok(last);
        }
    }
}
