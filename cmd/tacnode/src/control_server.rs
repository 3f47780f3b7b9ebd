//! The daemon's side of the control socket (protocol in [`crate::control`]).

use std::path::Path;

use anyhow::{Context, Result};
use tokio::io::BufReader;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::control::{
    ContactView, MessageView, OutboxView, PeerView, Request, Response, read_line, socket_path,
    write_json,
};
use crate::node::{NodeEvent, NodeHandle};
use tacnode_domain::{Direction, MessageStatus, PeerAddress, StoredMessage};

/// Most control clients served at once; more wait in the kernel backlog.
const MAX_CLIENTS: usize = 32;
/// How long a client may take to send a request line (the first, or the
/// next one on a kept connection); a connection idle or half-written for
/// longer is closed, so stuck clients cannot hold every slot.
const CLIENT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Binds the socket (owner-only) and serves clients until `shutdown`.
pub(crate) async fn serve(
    data_dir: &Path,
    node: NodeHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let path = socket_path(data_dir);
    if path.exists() {
        // A socket left by a daemon that died; refuse if one still answers.
        if UnixStream::connect(&path).await.is_ok() {
            anyhow::bail!(
                "another tacnode daemon is already running on {}",
                data_dir.display()
            );
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove stale {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(&path).with_context(|| format!("cannot bind {}", path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Never wait for a slot here: the accept loop must stay free
                // to tell a new client that the daemon is busy.
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    tokio::spawn(async move {
                        let (_, mut w) = stream.into_split();
                        let busy = Response::Error {
                            message: format!(
                                "the daemon already serves {MAX_CLIENTS} control clients; try again"
                            ),
                        };
                        let _ = write_json(&mut w, &busy).await;
                    });
                    continue;
                };
                let node = node.clone();
                tokio::spawn(async move {
                    if let Err(e) = client(stream, node).await {
                        tracing::debug!("control client: {e:#}");
                    }
                    drop(permit);
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn client(stream: UnixStream, node: NodeHandle) -> Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    loop {
        let read = tokio::time::timeout(CLIENT_READ_TIMEOUT, read_line(&mut r)).await;
        let Ok(read) = read else {
            // Idle or half-written for too long: free the slot.
            return Ok(());
        };
        let line = match read {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(e) => {
                write_json(
                    &mut w,
                    &Response::Error {
                        message: e.to_string(),
                    },
                )
                .await?;
                return Ok(());
            }
        };
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                write_json(
                    &mut w,
                    &Response::Error {
                        message: format!("bad request: {e}"),
                    },
                )
                .await?;
                return Ok(());
            }
        };
        if let Request::Inbox { follow, limit } = req {
            for m in inbox(&node, limit).await? {
                write_json(&mut w, &Response::Message(m)).await?;
            }
            write_json(&mut w, &Response::End).await?;
            if !follow {
                continue;
            }
            let mut events = node.subscribe();
            loop {
                match events.recv().await {
                    Ok(NodeEvent::Received {
                        from,
                        message_id,
                        text,
                        ..
                    }) => {
                        let contact = node
                            .contacts()
                            .await?
                            .into_iter()
                            .find(|c| c.node_id == from);
                        let view = MessageView {
                            time_ms: crate::node::now().0,
                            direction: "in".into(),
                            peer_address: contact
                                .as_ref()
                                .map(|c| PeerAddress::new(c.identity_key).to_string())
                                .unwrap_or_else(|| hex(from.as_bytes())),
                            peer_name: contact.map(|c| c.name),
                            message_id: hex(message_id.as_bytes()),
                            text,
                            status: "received".into(),
                        };
                        write_json(&mut w, &Response::Message(view)).await?;
                    }
                    Ok(
                        e @ (NodeEvent::Sent { .. }
                        | NodeEvent::Delivered { .. }
                        | NodeEvent::Failed { .. }),
                    ) => {
                        let (id, status, reason) = match e {
                            NodeEvent::Sent {
                                message_id,
                                via_mailbox,
                            } => (
                                message_id,
                                if via_mailbox { "in mailbox" } else { "sent" },
                                None,
                            ),
                            NodeEvent::Delivered { message_id } => (message_id, "delivered", None),
                            NodeEvent::Failed { message_id, reason } => {
                                (message_id, "failed", Some(reason))
                            }
                            _ => continue,
                        };
                        let change = Response::StatusChange {
                            message_id: hex(id.as_bytes()),
                            status: status.into(),
                            reason,
                        };
                        write_json(&mut w, &change).await?;
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return Ok(()),
                }
            }
        }
        let resp = match handle(&node, req).await {
            Ok(r) => r,
            Err(e) => Response::Error {
                message: format!("{e:#}"),
            },
        };
        write_json(&mut w, &resp).await?;
    }
}

fn status_name(s: Option<MessageStatus>, d: Direction) -> String {
    match (d, s) {
        (Direction::Inbound, _) => "received",
        (_, Some(MessageStatus::Queued)) => "queued",
        (_, Some(MessageStatus::Sent)) => "sent",
        (_, Some(MessageStatus::Delivered)) => "delivered",
        (_, Some(MessageStatus::Failed)) => "failed",
        (_, None) => "unknown",
    }
    .into()
}

/// Messages an inbox listing shows when the client names no limit (the
/// whole history is what `tacnode export` is for).
const DEFAULT_INBOX_LIMIT: usize = 1000;

async fn inbox(node: &NodeHandle, limit: Option<u32>) -> Result<Vec<MessageView>> {
    let contacts = node.contacts().await?;
    let limit = limit.map_or(DEFAULT_INBOX_LIMIT, |l| {
        usize::try_from(l).unwrap_or(usize::MAX)
    });
    Ok(node
        .inbox(limit)
        .await?
        .into_iter()
        .map(|(m, s): (StoredMessage, _)| {
            let contact = contacts.iter().find(|c| c.node_id == m.peer);
            MessageView {
                time_ms: m.time.0,
                direction: match m.direction {
                    Direction::Inbound => "in".into(),
                    Direction::Outbound => "out".into(),
                },
                peer_address: contact
                    .map(|c| PeerAddress::new(c.identity_key).to_string())
                    .unwrap_or_else(|| hex(m.peer.as_bytes())),
                peer_name: contact.map(|c| c.name.clone()),
                message_id: hex(m.message_id.as_bytes()),
                status: status_name(s, m.direction),
                text: m.text,
            }
        })
        .collect())
}

async fn handle(node: &NodeHandle, req: Request) -> Result<Response> {
    Ok(match req {
        Request::Id => Response::Id {
            address: node.address().to_string(),
            node_id: hex(node.node_id().as_bytes()),
        },
        Request::ContactsAdd { name, address } => {
            node.add_contact(&name, &address).await?;
            Response::Ok
        }
        Request::ContactsRemove { name } => {
            node.remove_contact(&name).await?;
            Response::Ok
        }
        Request::ContactsList => Response::Contacts {
            contacts: node
                .contacts()
                .await?
                .into_iter()
                .map(|c| ContactView {
                    address: PeerAddress::new(c.identity_key).to_string(),
                    name: c.name,
                    verified: c.verified,
                    identity_changed: c.identity_changed,
                })
                .collect(),
        },
        Request::ContactsVerify { name, confirm } => {
            let (contact, number, device_code) = node.verify_contact(&name, confirm).await?;
            Response::SafetyNumber {
                name: contact.name,
                digits: number.to_string(),
                device_code: device_code.map(|c| c.to_string()),
                qr_payload_hex: hex(number.scannable()),
                verified: contact.verified,
            }
        }
        Request::Send { to, text } => {
            let id = node.send(&to, &text).await?;
            Response::Queued {
                message_id: hex(id.as_bytes()),
            }
        }
        Request::SendMany { to, texts } => {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let ids = node.send_many(&to, &texts).await?;
            Response::QueuedMany {
                message_ids: ids.iter().map(|id| hex(id.as_bytes())).collect(),
            }
        }
        // Served as a stream by `client`.
        Request::Inbox { .. } => Response::End,
        Request::OutboxCancel { id } => {
            let id = node.cancel(&id).await?;
            Response::Queued {
                message_id: hex(id.as_bytes()),
            }
        }
        Request::OutboxRetry { id } => {
            node.retry(id.as_deref()).await?;
            Response::Ok
        }
        Request::Outbox => Response::Outbox {
            entries: node
                .outbox()
                .await?
                .into_iter()
                .map(|o| OutboxView {
                    message_id: hex(o.message_id.as_bytes()),
                    to: o
                        .recipient_name
                        .unwrap_or_else(|| hex(o.recipient.as_bytes())),
                    queued_ms: o.queued.0,
                    attempts: o.attempts,
                    state: if o.in_flight { "sending" } else { "waiting" }.to_owned(),
                    next_attempt_ms: o.next_attempt.map(|t| t.0),
                    reason: o.reason,
                })
                .collect(),
        },
        Request::Peers => {
            let names: std::collections::HashMap<_, _> = node
                .contacts()
                .await?
                .into_iter()
                .map(|c| (c.node_id, c.name))
                .collect();
            Response::Peers {
                connected: node
                    .connected_peers()
                    .iter()
                    .map(|p| PeerView {
                        node_id: hex(p.as_bytes()),
                        name: names.get(p).cloned(),
                    })
                    .collect(),
                routing_table_size: node.status().await?.routing_table_size,
            }
        }
        Request::Status => {
            let s = node.status().await?;
            Response::Status {
                address: s.address.to_string(),
                node_type: format!("{:?}", s.node_type).to_lowercase(),
                listen: s.listen.to_string(),
                uptime_secs: s.uptime_secs,
                routing_table_size: s.routing_table_size,
                connected_peers: s.connected_peers,
                outbox_pending: s.outbox_pending,
                mailbox_entries_held: s.mailbox_entries_held,
                clock_offset_ms: s.clock.median_offset_ms,
                clock_warning: s.clock.warning,
                storage_failure: s
                    .storage_failure
                    .map(|(t, what)| format!("{}: {what}", t.0)),
            }
        }
    })
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
