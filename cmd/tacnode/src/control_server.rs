//! The daemon's side of the control socket (protocol in `tacnode_control`).

use std::path::Path;

use anyhow::{Context, Result};
use tokio::io::BufReader;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::node::{NodeEvent, NodeHandle};
use tacnode_control::{
    ContactView, GroupMemberView, GroupView, MessageView, OutboxView, PeerView, Request, Response,
    ServiceView, read_line, socket_path, write_json,
};
use tacnode_domain::{Contact, Direction, MessageStatus, NodeId, PeerAddress, StoredMessage};
use tacnode_usecase::node::AdmissionStatus;

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
        // Idle or half-written for too long: free the slot.
        let Ok(read) = read else { return Ok(()) };
        let parsed = match read {
            Ok(Some(line)) => {
                serde_json::from_str::<Request>(&line).map_err(|e| format!("bad request: {e}"))
            }
            Ok(None) => return Ok(()),
            Err(e) => Err(e.to_string()),
        };
        let req = match parsed {
            Ok(req) => req,
            Err(message) => {
                return write_json(&mut w, &Response::Error { message })
                    .await
                    .map_err(Into::into);
            }
        };
        if let Request::Inbox { follow, limit } = req {
            // Subscribed before the history is read: nothing that happens
            // in between is missed (at worst it shows twice).
            let events = follow.then(|| node.subscribe());
            for m in inbox(&node, limit).await? {
                write_json(&mut w, &Response::Message(m)).await?;
            }
            write_json(&mut w, &Response::End).await?;
            if let Some(events) = events {
                return follow_events(&node, events, &mut w).await;
            }
            continue;
        }
        let resp = handle(&node, req)
            .await
            .unwrap_or_else(|e| Response::Error {
                message: format!("{e:#}"),
            });
        write_json(&mut w, &resp).await?;
    }
}

/// `inbox --follow`: each new message and each status change of ours, until
/// the node stops or the client goes away.
async fn follow_events<W: tokio::io::AsyncWrite + Unpin>(
    node: &NodeHandle,
    mut events: tokio::sync::broadcast::Receiver<NodeEvent>,
    w: &mut W,
) -> Result<()> {
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return Ok(()),
        };
        let (id, status, reason) = match event {
            NodeEvent::Received {
                from,
                message_id,
                text,
                ..
            } => {
                let (peer_address, peer_name) = peer_view(&node.contacts().await?, &from);
                let view = MessageView {
                    time_ms: crate::node::now().0,
                    direction: "in".into(),
                    peer_address,
                    peer_name,
                    message_id: message_id.to_string(),
                    text,
                    status: "received".into(),
                    group: None,
                };
                write_json(w, &Response::Message(view)).await?;
                continue;
            }
            NodeEvent::GroupMessage {
                group_name,
                from,
                message_id,
                text,
                time,
                outbound,
                ..
            } => {
                let (peer_address, peer_name) = peer_view(&node.contacts().await?, &from);
                let view = MessageView {
                    time_ms: time.0,
                    direction: if outbound { "out" } else { "in" }.into(),
                    peer_address,
                    peer_name,
                    message_id: message_id.to_string(),
                    text,
                    status: if outbound { "sent" } else { "received" }.into(),
                    group: Some(group_name),
                };
                write_json(w, &Response::Message(view)).await?;
                continue;
            }
            NodeEvent::Queued {
                to,
                message_id,
                text,
                time,
            } => {
                // Sent from another front end: the chat and `inbox --follow`
                // show it at once.
                let (peer_address, peer_name) = peer_view(&node.contacts().await?, &to);
                let view = MessageView {
                    time_ms: time.0,
                    direction: "out".into(),
                    peer_address,
                    peer_name,
                    message_id: message_id.to_string(),
                    text,
                    status: "queued".into(),
                    group: None,
                };
                write_json(w, &Response::Message(view)).await?;
                continue;
            }
            NodeEvent::Alert { from, text, time } => {
                let (from_address, from_name) = peer_view(&node.contacts().await?, &from);
                let alert = Response::Alert {
                    from_address,
                    from_name,
                    text,
                    time_ms: time.0,
                };
                write_json(w, &alert).await?;
                continue;
            }
            NodeEvent::Sent {
                message_id,
                via_mailbox,
            } => (
                message_id,
                if via_mailbox { "in mailbox" } else { "sent" },
                None,
            ),
            NodeEvent::Delivered { message_id } => (message_id, "delivered", None),
            NodeEvent::Failed { message_id, reason } => (message_id, "failed", Some(reason)),
            _ => continue,
        };
        let change = Response::StatusChange {
            message_id: id.to_string(),
            status: status.into(),
            reason,
        };
        write_json(w, &change).await?;
    }
}

/// How the operator sees `peer`: a contact's address and name, else the
/// node id.
fn peer_view(contacts: &[Contact], peer: &NodeId) -> (String, Option<String>) {
    match contacts.iter().find(|c| c.node_id == *peer) {
        Some(c) => (
            PeerAddress::new(c.identity_key).to_string(),
            Some(c.name.clone()),
        ),
        None => (hex(peer.as_bytes()), None),
    }
}

/// Messages an inbox listing shows when the client names no limit (the
/// whole history is what `tacnode export` is for).
const DEFAULT_INBOX_LIMIT: usize = 1000;

async fn inbox(node: &NodeHandle, limit: Option<u32>) -> Result<Vec<MessageView>> {
    let contacts = node.contacts().await?;
    let groups: std::collections::HashMap<_, _> = node
        .groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let limit = limit.map_or(DEFAULT_INBOX_LIMIT, |l| {
        usize::try_from(l).unwrap_or(usize::MAX)
    });
    let view = |(m, status): (StoredMessage, Option<MessageStatus>)| {
        let (peer_address, peer_name) = peer_view(&contacts, &m.peer);
        let (direction, status) = match (m.direction, status, m.group) {
            (Direction::Inbound, _, _) => ("in", "received".to_owned()),
            (Direction::Outbound, _, Some(_)) => ("out", "sent".to_owned()),
            (Direction::Outbound, s, None) => {
                ("out", s.map_or("unknown".to_owned(), |s| s.to_string()))
            }
        };
        let group = m
            .group
            .map(|g| groups.get(&g).cloned().unwrap_or_else(|| hex(g.as_bytes())));
        MessageView {
            time_ms: m.time.0,
            direction: direction.into(),
            peer_address,
            peer_name,
            message_id: m.message_id.to_string(),
            status,
            text: m.text,
            group,
        }
    };
    Ok(node.inbox(limit).await?.into_iter().map(view).collect())
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
            let id = match to.strip_prefix('@') {
                Some(group) => node.send_group(group, &text).await?,
                None => node.send(&to, &text).await?,
            };
            Response::Queued {
                message_id: id.to_string(),
            }
        }
        Request::SendMany { to, texts } => {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let ids = match to.strip_prefix('@') {
                // One after the other, each sent at once: a group has no
                // outbox to commit them to together.
                Some(group) => {
                    let mut ids = Vec::with_capacity(texts.len());
                    for text in texts {
                        ids.push(node.send_group(group, text).await?);
                    }
                    ids
                }
                None => node.send_many(&to, &texts).await?,
            };
            let message_ids = ids.iter().map(ToString::to_string).collect();
            Response::QueuedMany { message_ids }
        }
        // Served as a stream by `client`.
        Request::Inbox { .. } => Response::End,
        Request::OutboxCancel { id } => Response::Queued {
            message_id: node.cancel(&id).await?.to_string(),
        },
        Request::OutboxRetry { id } => {
            node.retry(id.as_deref()).await?;
            Response::Ok
        }
        Request::SendFile { to, path } => Response::File(file_view(
            node.send_file(&to, std::path::Path::new(&path)).await?,
        )),
        Request::Files => Response::Files {
            transfers: node.files().await?.into_iter().map(file_view).collect(),
        },
        Request::FilesCancel { id } => Response::File(file_view(node.cancel_file(&id).await?)),
        Request::Outbox => Response::Outbox {
            entries: node
                .outbox()
                .await?
                .into_iter()
                .map(|o| OutboxView {
                    message_id: o.message_id.to_string(),
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
            let peers = node.peers().await?;
            Response::Peers {
                routing_table_size: peers.iter().filter(|p| p.in_routing_table).count(),
                peers: peers.into_iter().map(peer_info_view).collect(),
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
                admission: match &s.admission {
                    AdmissionStatus::Open => "open".to_owned(),
                    AdmissionStatus::Closed { .. } => "closed".to_owned(),
                },
                revoked_members: match &s.admission {
                    AdmissionStatus::Open => 0,
                    AdmissionStatus::Closed { revoked, .. } => *revoked,
                },
                certificate_expires_ms: match &s.admission {
                    AdmissionStatus::Open => None,
                    AdmissionStatus::Closed {
                        certificate_expires,
                        ..
                    } => certificate_expires.map(|t| t.0),
                },
                observed_address: s.observed_address.map(|a| a.to_string()),
                reachability: s.reachability.map(|r| {
                    match r {
                        tacnode_domain::Reachability::Public => "public",
                        tacnode_domain::Reachability::Private => "private",
                    }
                    .to_owned()
                }),
                relay: s.relay.map(|r| format!("{} at {}", r.node_id, r.endpoint)),
            }
        }
        Request::GroupCreate { name } => Response::Groups {
            groups: vec![group_view(node.create_group(&name).await?)],
        },
        Request::GroupAdd { group, member } => {
            node.group_add(&group, &member).await?;
            Response::Ok
        }
        Request::GroupRemove { group, member } => {
            node.group_remove(&group, &member).await?;
            Response::Ok
        }
        Request::Announce { text } => {
            node.announce(&text).await?;
            Response::Ok
        }
        Request::Advertise {
            name,
            detail,
            hours,
        } => {
            node.advertise(&name, &detail, hours).await?;
            Response::Ok
        }
        Request::Services => {
            let contacts = node.contacts().await?;
            Response::Services {
                services: node
                    .services()
                    .await?
                    .into_iter()
                    .map(|s| {
                        let name = contacts
                            .iter()
                            .find(|c| c.identity_key == s.author)
                            .map(|c| c.name.clone());
                        ServiceView {
                            name: s.name,
                            detail: s.detail,
                            address: PeerAddress::new(s.author).to_string(),
                            author_name: name,
                            until_ms: s.until.0,
                        }
                    })
                    .collect(),
            }
        }
        Request::GroupList => Response::Groups {
            groups: node.groups().await?.into_iter().map(group_view).collect(),
        },
        Request::GroupMembers { group } => Response::GroupMembers {
            members: node
                .group_members(&group)
                .await?
                .into_iter()
                .map(|m| GroupMemberView {
                    address: PeerAddress::new(m.identity_key).to_string(),
                    name: m.name,
                    role: if m.admin { "admin" } else { "member" }.to_owned(),
                    me: m.me,
                    linked: m.linked,
                })
                .collect(),
            group,
        },
        Request::Revocations { text } => {
            let list = tacnode_messaging::from_admission_text(
                tacnode_messaging::REVOCATION_LIST_LABEL,
                &text,
            )
            .and_then(|b| tacnode_messaging::decode_revocation_list(&b))
            .map_err(|e| anyhow::anyhow!("not a revocation list: {e}"))?;
            let sequence = list.sequence;
            let update = node.import_revocations(list).await?;
            Response::Revocations {
                sequence,
                newly_revoked: update.newly_revoked.len(),
            }
        }
    })
}

/// One group as the control protocol carries it.
fn group_view(g: tacnode_usecase::node::GroupInfo) -> GroupView {
    GroupView {
        id: hex(g.id.as_bytes()),
        name: g.name,
        members: g.members,
        admin: g.admin,
        member: g.member,
        links: g.links,
        unreadable: g.unreadable,
    }
}

/// One peer as the control protocol carries it.
fn peer_info_view(p: tacnode_usecase::node::PeerInfo) -> PeerView {
    let c = p.connection.as_ref();
    PeerView {
        node_id: hex(p.node_id.as_bytes()),
        address: p.address.map(|a| a.to_string()),
        name: p.name,
        node_type: p.node_type.map(|t| format!("{t:?}").to_lowercase()),
        endpoints: p.endpoints.iter().map(|e| e.0.to_string()).collect(),
        in_routing_table: p.in_routing_table,
        connected: c.is_some(),
        remote: c.map(|c| c.remote.to_string()),
        rtt_us: c.map(|c| u64::try_from(c.rtt.as_micros()).unwrap_or(u64::MAX)),
        path: c.map(|c| c.path.as_str().to_owned()),
        last_seen_ms: p.last_seen.map(|t| t.0),
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file transfer as the control socket shows it.
fn file_view(f: tacnode_usecase::node::FileTransferInfo) -> tacnode_control::FileView {
    use tacnode_usecase::file_transfer::TransferState;
    let (state, reason) = match f.state {
        TransferState::Offering => ("offering", f.last_error),
        TransferState::Offered => ("offered", f.last_error),
        TransferState::Receiving => ("receiving", f.last_error),
        TransferState::Done => ("done", None),
        TransferState::Failed(r) => ("failed", Some(r)),
        TransferState::Cancelled => ("cancelled", None),
    };
    tacnode_control::FileView {
        id: f.id.to_string(),
        peer: f.peer_name.unwrap_or_else(|| hex(f.peer.as_bytes())),
        direction: if f.outbound { "out" } else { "in" }.to_owned(),
        name: f.name,
        size: f.size,
        done: f.done,
        state: state.to_owned(),
        reason,
        path: f.path.map(|p| p.display().to_string()),
        created_ms: f.created.0,
        next_try_ms: f.next_try.map(|t| t.0),
    }
}
