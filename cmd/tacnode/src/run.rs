//! Runs one parsed command.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tacnode_crypto::keystore::KdfParams;

use crate::cli::{Cli, Command, ContactsCommand, LogFormatArg, NodeTypeArg, OutboxAction};
use crate::config::{Config, LogFormat, NodeTypeConfig, default_data_dir};
use crate::control::{ControlClient, Request, Response};
use crate::node::{Node, NodeSettings};

fn load_config(explicit: Option<&Path>, data_dir: &Path) -> Result<Config> {
    match explicit {
        Some(p) => Config::load(p),
        None => {
            let p = data_dir.join("tacnode.toml");
            if p.exists() {
                Config::load(&p)
            } else {
                Ok(Config::default())
            }
        }
    }
}

/// Logging to stderr: `RUST_LOG` when set, else `log.level` (validated when
/// the config was loaded); colours only on a terminal.
fn init_logging(config: &Config) -> Result<()> {
    use std::io::IsTerminal as _;
    let filter = match std::env::var("RUST_LOG") {
        Ok(f) if !f.is_empty() => tracing_subscriber::EnvFilter::try_new(&f)
            .with_context(|| format!("RUST_LOG={f:?} is not a valid log filter"))?,
        _ => tracing_subscriber::EnvFilter::try_new(&config.log.level).with_context(|| {
            format!("log.level {:?} is not a valid log filter", config.log.level)
        })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}

/// Runs `cli`.
/// A failed command: exit code 3 when the daemon is not running, 1 else.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The daemon is not running.
    DaemonNotRunning(crate::control::ConnectError),
    /// Anything else.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Other(e)
    }
}

macro_rules! other_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError::Other(e.into())
            }
        }
    )*};
}
other_from!(
    std::io::Error,
    serde_json::Error,
    tacnode_store::HistoryFileError
);

impl From<crate::control::ConnectError> for CliError {
    fn from(e: crate::control::ConnectError) -> Self {
        match e {
            e @ crate::control::ConnectError::NotRunning { .. } => CliError::DaemonNotRunning(e),
            other => CliError::Other(other.into()),
        }
    }
}

/// Runs the command; errors carry the exit code they map to.
pub(crate) async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let data_dir: PathBuf = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    let json = cli.json;
    // With --json, a daemon's answer is printed as it came.
    let emit = |r: &Response| -> Result<(), CliError> {
        println!("{}", serde_json::to_string(r)?);
        Ok(())
    };
    match cli.command {
        Command::Init { passphrase } => {
            let pass = crate::keys::passphrase(&passphrase, true)?;
            let secrets = crate::keys::init(&data_dir, &pass, &KdfParams::DEFAULT)?;
            println!("created identity in {}", data_dir.display());
            println!("address: {}", secrets.identity().address());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            passphrase,
            listen,
            node_type,
            bootstrap,
            log_format,
            new_database,
        } => {
            // Validate everything before touching the disk.
            let mut config = load_config(cli.config.as_deref(), &data_dir)?;
            if let Some(l) = listen {
                config.node.listen = l;
            }
            if let Some(t) = node_type {
                config.node.node_type = match t {
                    NodeTypeArg::Server => NodeTypeConfig::Server,
                    NodeTypeArg::Client => NodeTypeConfig::Client,
                };
            }
            for b in bootstrap {
                b.parse::<tacnode_usecase::node::BootstrapPeer>()
                    .with_context(|| format!("--bootstrap {b:?}"))?;
                config.bootstrap.peers.push(b);
            }
            match (cli.verbose, cli.quiet) {
                (0, 0) => {}
                (1, _) => config.log.level = "info,tacnode=debug".into(),
                (v, _) if v > 1 => config.log.level = "info,tacnode=trace".into(),
                (_, 1) => config.log.level = "warn".into(),
                (_, _) => config.log.level = "error".into(),
            }
            if let Some(f) = log_format {
                config.log.format = match f {
                    LogFormatArg::Text => LogFormat::Text,
                    LogFormatArg::Json => LogFormat::Json,
                };
            }
            let pass = crate::keys::passphrase(&passphrase, false)?;
            let secrets = crate::keys::unlock(&data_dir, &pass)?;
            drop(pass);
            init_logging(&config)?;
            daemon(data_dir, config, secrets, new_database).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Id { qr } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let r = c.call(&Request::Id).await?;
            if json {
                emit(&r)?;
            } else if let Response::Id { address, node_id } = r {
                println!("{address}");
                println!("node id: {node_id}");
                if qr {
                    println!("{}", crate::qr::render(address.as_bytes())?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Contacts { command } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            match command {
                ContactsCommand::Add { name, address } => {
                    c.call(&Request::ContactsAdd {
                        name: name.clone(),
                        address,
                    })
                    .await?;
                    println!(
                        "added {name}; compare safety numbers with `tacnode contacts verify {name}`"
                    );
                }
                ContactsCommand::List => {
                    let r = c.call(&Request::ContactsList).await?;
                    if json {
                        emit(&r)?;
                    } else if let Response::Contacts { contacts } = r {
                        for ct in contacts {
                            let flag = if ct.identity_changed {
                                "KEYS CHANGED - verify before sending"
                            } else if ct.verified {
                                "verified"
                            } else {
                                "unverified"
                            };
                            println!("{:<20} {} [{flag}]", ct.name, ct.address);
                        }
                    }
                }
                ContactsCommand::Remove { name } => {
                    c.call(&Request::ContactsRemove { name: name.clone() })
                        .await?;
                    println!("removed {name}");
                }
                ContactsCommand::Verify { name, confirm, qr } => {
                    let r = c.call(&Request::ContactsVerify { name, confirm }).await?;
                    if json {
                        emit(&r)?;
                    } else if let Response::SafetyNumber {
                        name,
                        digits,
                        device_code,
                        qr_payload_hex,
                        verified,
                    } = r
                    {
                        println!("safety number with {name}:");
                        println!("  {digits}");
                        match device_code {
                            Some(code) => println!(
                                "device code (compare it too after a key change):\n  {code}"
                            ),
                            None => {
                                println!("device code: not yet known (no session with {name} yet)")
                            }
                        }
                        if qr {
                            let bytes: Vec<u8> = (0..qr_payload_hex.len() / 2)
                                .filter_map(|i| {
                                    u8::from_str_radix(&qr_payload_hex[2 * i..2 * i + 2], 16).ok()
                                })
                                .collect();
                            println!("{}", crate::qr::render(&bytes)?);
                        }
                        if verified {
                            println!("{name} is verified.");
                        } else {
                            println!(
                                "compare it with {name} in person or over a trusted channel, then run"
                            );
                            println!("  tacnode contacts verify {name} --confirm");
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Send {
            to,
            text: Some(text),
            ..
        } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let r = c.call(&Request::Send { to, text }).await?;
            if json {
                emit(&r)?;
            } else if let Response::Queued { message_id } = r {
                println!("queued {message_id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Send { to, text: None, .. } => {
            let lines = read_stdin_messages()?;
            let mut c = ControlClient::connect(&data_dir).await?;
            let mut queued = 0usize;
            for group in send_groups(&lines) {
                let texts = group.to_vec();
                match c
                    .call(&Request::SendMany {
                        to: to.clone(),
                        texts,
                    })
                    .await
                {
                    Ok(Response::QueuedMany { message_ids }) => {
                        for id in &message_ids {
                            println!("queued {id}");
                        }
                        queued += message_ids.len();
                    }
                    Ok(other) => {
                        return Err(CliError::Other(anyhow::anyhow!(
                            "unexpected answer {other:?}"
                        )));
                    }
                    Err(e) => {
                        // The daemon may have committed the group in flight
                        // and failed before answering: say what is known.
                        let (first, last) = (queued + 1, queued + group.len());
                        return Err(CliError::Other(e.context(format!(
                            "lines 1-{queued} of {} are queued for sure; lines {first}-{last} were \
                             being queued when this failed and may or may not be (check `tacnode \
                             inbox` before sending them again); the rest were not sent",
                            lines.len()
                        ))));
                    }
                }
            }
            eprintln!("queued {queued} messages");
            Ok(ExitCode::SUCCESS)
        }
        Command::Inbox { follow, limit } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            c.send(&Request::Inbox { follow, limit }).await?;
            let mut out = std::io::stdout();
            while let Some(r) = c.next().await? {
                if json && matches!(r, Response::Message(_) | Response::StatusChange { .. }) {
                    // One object per line; a closed reader ends it quietly.
                    let line = serde_json::to_string(&r)?;
                    match writeln!(out, "{line}").and_then(|()| out.flush()) {
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                            return Ok(ExitCode::SUCCESS);
                        }
                        other => other?,
                    }
                    continue;
                }
                match r {
                    Response::Message(m) => {
                        let who = m.peer_name.unwrap_or(m.peer_address);
                        let arrow = if m.direction == "in" { "<-" } else { "->" };
                        // Remote text never reaches the terminal raw: no escape sequences.
                        let text: String = m
                            .text
                            .chars()
                            .flat_map(|c| {
                                if c.is_control() && c != '\n' {
                                    c.escape_default().collect::<Vec<_>>()
                                } else {
                                    vec![c]
                                }
                            })
                            .collect();
                        let who: String = who.chars().filter(|c| !c.is_control()).collect();
                        let written =
                            writeln!(out, "{} {arrow} {who} [{}] {text}", m.time_ms, m.status)
                                .and_then(|()| out.flush());
                        match written {
                            // The reader went away (`tacnode inbox | head`): done.
                            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                                return Ok(ExitCode::SUCCESS);
                            }
                            other => other?,
                        }
                    }
                    Response::StatusChange {
                        message_id,
                        status,
                        reason,
                    } => {
                        let short = message_id.get(..8).unwrap_or(&message_id);
                        let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
                        let line = format!(
                            "{} -> [{status}] message {short}{why}",
                            crate::node::now().0
                        );
                        match writeln!(out, "{line}").and_then(|()| out.flush()) {
                            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                                return Ok(ExitCode::SUCCESS);
                            }
                            other => other?,
                        }
                    }
                    Response::End if !follow => return Ok(ExitCode::SUCCESS),
                    Response::End => {}
                    Response::Error { message } => {
                        return Err(CliError::Other(anyhow::anyhow!("{message}")));
                    }
                    _ => {}
                }
            }
            // The stream ended without its end marker, or while following.
            Err(CliError::Other(anyhow::anyhow!(
                "the daemon closed the connection (it stopped?)"
            )))
        }
        Command::Peers => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let r = c.call(&Request::Peers).await?;
            if json {
                emit(&r)?;
            } else if let Response::Peers {
                connected,
                routing_table_size,
            } = r
            {
                println!("routing table: {routing_table_size} contacts");
                println!("connected: {}", connected.len());
                for p in connected {
                    let short = p.node_id.get(..16).unwrap_or(&p.node_id);
                    match p.name {
                        Some(name) => println!("  {name:<20} {short}"),
                        None => println!("  {:<20} {short}", "-"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox {
            action: Some(action),
        } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let (req, done) = match action {
                OutboxAction::Cancel { id } => (Request::OutboxCancel { id }, "cancelled"),
                OutboxAction::Retry { id } => (Request::OutboxRetry { id }, "retrying now"),
            };
            let r = c.call(&req).await?;
            if json {
                emit(&r)?;
            } else {
                println!("{done}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox { action: None } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let r = c.call(&Request::Outbox).await?;
            if json {
                emit(&r)?;
            } else if let Response::Outbox { entries } = r {
                let now = crate::node::now().0;
                println!("{} messages waiting", entries.len());
                for e in entries {
                    let short = e.message_id.get(..8).unwrap_or(&e.message_id);
                    let age = now.saturating_sub(e.queued_ms) / 1000;
                    let next = match (e.state.as_str(), e.next_attempt_ms) {
                        ("sending", _) => "sending now".to_owned(),
                        (_, Some(t)) => format!("next try in {} s", t.saturating_sub(now) / 1000),
                        (_, None) => "not scheduled".to_owned(),
                    };
                    println!(
                        "  {short}  to {:<16} queued {age} s ago, {} failed attempts, {next}",
                        e.to, e.attempts
                    );
                    if let Some(r) = e.reason {
                        println!("            {r}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let r = c.call(&Request::Status).await?;
            if json {
                emit(&r)?;
            } else {
                print_status(&r);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { passphrase, file } => {
            let pass = crate::keys::passphrase(&passphrase, false)?;
            let secrets = crate::keys::unlock(&data_dir, &pass)?;
            let store = open_store(&data_dir, &secrets)?;
            let own = secrets.identity().address();
            let summary = if file.as_os_str() == "-" {
                store.export_history_file(&own, &mut std::io::stdout().lock())?
            } else {
                // The history is decrypted: owner-only, and never over an
                // existing file.
                let created = {
                    use std::os::unix::fs::OpenOptionsExt as _;
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(&file)
                };
                let created = match created {
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Err(CliError::Other(anyhow::anyhow!(
                            "{} already exists; choose another file or remove it first",
                            file.display()
                        )));
                    }
                    other => other.with_context(|| format!("cannot create {}", file.display()))?,
                };
                let mut f = std::io::BufWriter::new(created);
                store.export_history_file(&own, &mut f)?
            };
            eprintln!("exported {} messages", summary.exported);
            if summary.unreadable > 0 {
                eprintln!(
                    "{} damaged messages could not be read and are missing from the export; \
                     the database needs repair (restore it from a backup)",
                    summary.unreadable
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { passphrase, file } => {
            let pass = crate::keys::passphrase(&passphrase, false)?;
            let secrets = crate::keys::unlock(&data_dir, &pass)?;
            let mut store = open_store(&data_dir, &secrets)?;
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let own = secrets.identity().address();
            let summary = store.import_history_file(&own, &mut std::io::BufReader::new(f))?;
            println!(
                "imported {} messages, skipped {} already present",
                summary.inserted, summary.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "tacnode", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { nodes } => Ok(crate::demo::run(nodes).await?),
    }
}

fn open_store(
    data_dir: &Path,
    secrets: &tacnode_crypto::keystore::KeystoreSecrets,
) -> Result<tacnode_store::Store> {
    let path = data_dir.join("tacnode.db");
    if !path.exists() {
        bail!(
            "no database in {}: run the daemon once first",
            data_dir.display()
        );
    }
    let key = secrets.storage_key().clone();
    tacnode_store::Store::open(&path, key).context("cannot open the database")
}

/// Takes `<data-dir>/daemon.lock` (an exclusive advisory lock holding our
/// pid) for as long as the returned file lives, before anything else
/// touches the data dir or the network: a second daemon on the same data
/// dir stops here, saying which process holds it.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
    use std::io::{Read as _, Write as _};
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join("daemon.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            writeln!(file, "{}", std::process::id())?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            bail!(
                "another tacnode daemon is running on {} (pid {}); stop it first",
                data_dir.display(),
                pid.trim()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// The daemon: node, control socket, until SIGINT or SIGTERM.
async fn daemon(
    data_dir: PathBuf,
    config: Config,
    secrets: tacnode_crypto::keystore::KeystoreSecrets,
    new_database: bool,
) -> Result<()> {
    let _lock = lock_data_dir(&data_dir)?;
    // The database belongs with the keystore: once a data dir has had one,
    // a missing file is an accident (or a deletion), never a fresh start,
    // unless the operator says so.
    let db = data_dir.join("tacnode.db");
    let marker = data_dir.join("tacnode.db.created");
    if !db.exists() && marker.exists() && !new_database {
        bail!(
            "the database {} is missing, but this data dir had one (contacts, sessions, \
             history): restore it from a backup, or start with an empty one with \
             `tacnode run --new-database`",
            db.display()
        );
    }
    let node = Node::start(NodeSettings {
        data_dir: data_dir.clone(),
        config,
        secrets,
    })
    .await?;
    if !marker.exists() {
        std::fs::write(&marker, b"")
            .with_context(|| format!("cannot create {}", marker.display()))?;
    }
    let handle = node.handle();
    tracing::info!(address = %handle.address(), listen = %handle.local_addr(), "tacnode running");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let control = {
        let data_dir = data_dir.clone();
        let handle = handle.clone();
        tokio::spawn(async move { crate::control_server::serve(&data_dir, handle, stop_rx).await })
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        r = control => {
            // The control socket could not start (e.g. another daemon runs).
            node.shutdown().await;
            return r.map_err(anyhow::Error::from)?;
        }
    }
    let _ = stop_tx.send(true);
    node.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Most lines `send --stdin` reads: beyond it, split the input.
const MAX_STDIN_MESSAGES: usize = 100_000;

/// The non-empty lines of standard input, each checked as a message text
/// before anything is sent (an error names the line).
fn read_stdin_messages() -> Result<Vec<String>> {
    use std::io::BufRead;
    let mut lines = Vec::new();
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        // Bounded read: a line longer than a message is refused without
        // reading the rest of it into memory.
        let limit = u64::try_from(tacnode_domain::MAX_TEXT_BYTES + 2).unwrap_or(u64::MAX);
        let n = std::io::Read::take(&mut reader, limit)
            .read_until(b'\n', &mut buf)
            .context("cannot read standard input")?;
        if n == 0 {
            break;
        }
        number += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if n as u64 == limit {
            bail!(
                "line {number} is longer than a message may be ({} bytes)",
                tacnode_domain::MAX_TEXT_BYTES
            );
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if buf.is_empty() {
            continue;
        }
        let text = String::from_utf8(buf.clone())
            .map_err(|_| anyhow::anyhow!("line {number} is not UTF-8"))?;
        tacnode_domain::Content::text(text.as_str())
            .map_err(|e| anyhow::anyhow!("line {number}: {e}"))?;
        if lines.len() == MAX_STDIN_MESSAGES {
            bail!("more than {MAX_STDIN_MESSAGES} messages on standard input; split it");
        }
        lines.push(text);
    }
    Ok(lines)
}

/// Splits texts into groups that one control request carries: at most
/// [`crate::node::MAX_SEND_BATCH`] texts, and a JSON line within the
/// control socket's limit.
fn send_groups(texts: &[String]) -> Vec<&[String]> {
    // Room for the request's other fields.
    let budget = crate::control::MAX_LINE_BYTES - 4096;
    let mut groups = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, t) in texts.iter().enumerate() {
        // A text's exact size as a JSON string, plus the comma.
        let cost = serde_json::to_string(t).map_or(usize::MAX, |j| j.len() + 1);
        if i > start && (i - start == crate::node::MAX_SEND_BATCH || bytes + cost > budget) {
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

/// The status as an operator reads it.
fn print_status(r: &Response) {
    let Response::Status {
        address,
        node_type,
        listen,
        uptime_secs,
        routing_table_size,
        connected_peers,
        outbox_pending,
        mailbox_entries_held,
        clock_offset_ms,
        clock_warning,
        storage_failure,
    } = r
    else {
        return;
    };
    let (h, m) = (uptime_secs / 3600, uptime_secs % 3600 / 60);
    println!("address:   {address}");
    println!("node:      {node_type}, listening on {listen}, up {h}h {m:02}m");
    if *routing_table_size == 0 {
        println!(
            "network:   NOT JOINED: no peer answers yet; check bootstrap.peers and the network"
        );
    } else {
        println!(
            "network:   joined: {routing_table_size} peers in the routing table, {connected_peers} connected"
        );
    }
    println!("outbox:    {outbox_pending} messages waiting to go");
    println!("mailboxes: {mailbox_entries_held} entries held for others");
    match (clock_warning, clock_offset_ms) {
        (Some(w), _) => println!("clock:     WARNING: {w}"),
        (None, Some(ms)) => println!("clock:     in step with peers (median offset {ms:+} ms)"),
        (None, None) => println!("clock:     not compared yet (too few peers heard)"),
    }
    match storage_failure {
        Some(f) => println!("storage:   FAILED ({f}); incoming mail was refused"),
        None => println!("storage:   ok"),
    }
}

#[cfg(test)]
mod send_group_tests {
    use super::*;

    #[test]
    fn groups_respect_the_count_and_the_line_limit() {
        let small: Vec<String> = (0..2500).map(|i| i.to_string()).collect();
        let g = send_groups(&small);
        assert_eq!(
            g.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [1000, 1000, 500]
        );
        // 64 KiB of control characters is 6x longer as JSON: two per group.
        let big = vec!["\u{1}".repeat(tacnode_domain::MAX_TEXT_BYTES); 3];
        let g = send_groups(&big);
        assert_eq!(g.iter().map(|g| g.len()).collect::<Vec<_>>(), [2, 1]);
        for group in &g {
            let line = serde_json::to_string(&Request::SendMany {
                to: "x".into(),
                texts: group.to_vec(),
            })
            .unwrap();
            assert!(line.len() < crate::control::MAX_LINE_BYTES);
        }
        // Order and content kept.
        let joined: Vec<&String> = g.iter().flat_map(|g| g.iter()).collect();
        assert_eq!(joined.len(), 3);
        assert!(send_groups(&[]).is_empty());
    }
}
