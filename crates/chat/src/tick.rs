//! Where one of our messages is on its way, as a tick beside it.

/// The delivery state of a message in the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// Handed to the daemon, waiting for its answer.
    Sending,
    /// In the daemon's outbox.
    Queued,
    /// Sent directly to the recipient's node.
    Sent,
    /// Deposited in the recipient's DHT mailboxes.
    InMailbox,
    /// The recipient's receipt came back.
    Delivered,
    /// It will not arrive; the reason in words when known.
    Failed(Option<String>),
    /// A message from the peer.
    Received,
    /// A status this chat does not know (shown as the daemon said it).
    Other(String),
}

impl Tick {
    /// The tick for a status as the control protocol spells it.
    pub fn from_status(status: &str, reason: Option<String>) -> Self {
        match status {
            "queued" => Tick::Queued,
            "sent" => Tick::Sent,
            "in mailbox" => Tick::InMailbox,
            "delivered" => Tick::Delivered,
            "failed" => Tick::Failed(reason),
            "received" => Tick::Received,
            other => Tick::Other(other.to_owned()),
        }
    }

    /// How far along it is: a later status never goes back to an earlier
    /// one (a late `sent` after `delivered` changes nothing).
    fn rank(&self) -> u8 {
        match self {
            Tick::Sending => 0,
            Tick::Queued | Tick::Other(_) => 1,
            Tick::Sent | Tick::InMailbox => 2,
            Tick::Received | Tick::Delivered | Tick::Failed(_) => 3,
        }
    }

    /// `next` if it is news, else `self`.
    pub fn advance(self, next: Tick) -> Tick {
        if next.rank() >= self.rank() {
            next
        } else {
            self
        }
    }

    /// The label shown beside the message; `None` for received ones.
    pub fn label(&self) -> Option<String> {
        Some(match self {
            Tick::Sending => "sending".to_owned(),
            Tick::Queued => "queued".to_owned(),
            Tick::Sent => "sent".to_owned(),
            Tick::InMailbox => "in mailbox".to_owned(),
            Tick::Delivered => "delivered".to_owned(),
            Tick::Failed(None) => "failed".to_owned(),
            Tick::Failed(Some(reason)) => format!("failed: {reason}"),
            Tick::Other(s) => s.clone(),
            Tick::Received => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_ticks_and_never_go_back() {
        assert_eq!(Tick::from_status("in mailbox", None), Tick::InMailbox);
        assert_eq!(
            Tick::from_status("failed", Some("no prekeys".into())).label(),
            Some("failed: no prekeys".into())
        );
        assert_eq!(Tick::Delivered.advance(Tick::Sent), Tick::Delivered);
        assert_eq!(Tick::Queued.advance(Tick::InMailbox), Tick::InMailbox);
        assert_eq!(Tick::InMailbox.advance(Tick::Delivered), Tick::Delivered);
        assert_eq!(Tick::Received.label(), None);
    }
}
