//! Runs one parsed command.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tacnode_crypto::keystore::KdfParams;

use crate::cli::{
    Cli, Command, ContactsCommand, FilesAction, GroupAction, LogFormatArg, MemberAction,
    NodeTypeArg, OutboxAction,
};
use crate::config::{LogFormat, NodeTypeConfig, default_data_dir};
use crate::stdin_messages::read_stdin_messages;
use tacnode_control::{ControlClient, PeerView, Request, Response, WatchOutput, text};

/// A failed command: exit code 3 when the daemon is not running, 1 else.
#[derive(Debug)]
pub(crate) enum CliError {
    /// The daemon is not running.
    DaemonNotRunning(tacnode_control::ConnectError),
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
    tacnode_store::HistoryFileError,
    tacnode_control::ClientError,
    tacnode_control::text::QrCodeError,
    tacnode_admin::AdminError,
    tacnode_control::InboxError,
    tacnode_control::SendManyError
);

impl From<tacnode_control::FollowError> for CliError {
    fn from(e: tacnode_control::FollowError) -> Self {
        match e {
            tacnode_control::FollowError::Connect(e) => e.into(),
            other => CliError::Other(other.into()),
        }
    }
}

impl From<tacnode_control::WatchError> for CliError {
    fn from(e: tacnode_control::WatchError) -> Self {
        match e {
            tacnode_control::WatchError::Connect(e) => e.into(),
            other => CliError::Other(other.into()),
        }
    }
}

impl From<tacnode_control::ConnectError> for CliError {
    fn from(e: tacnode_control::ConnectError) -> Self {
        match e {
            e @ tacnode_control::ConnectError::NotRunning { .. } => CliError::DaemonNotRunning(e),
            other => CliError::Other(other.into()),
        }
    }
}

/// Sends `req` to the daemon and returns its answer to show as text, or
/// `None` once it was printed as JSON (`--json`).
pub(crate) async fn ask(
    data_dir: &Path,
    json: bool,
    req: &Request,
) -> Result<Option<Response>, CliError> {
    let r = ControlClient::connect(data_dir).await?.call(req).await?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(None);
    }
    Ok(Some(r))
}

/// `tacnode group …`.
async fn group(data_dir: &Path, json: bool, action: GroupAction) -> Result<(), CliError> {
    let (req, done) = match action {
        GroupAction::Create { name } => (Request::GroupCreate { name }, None),
        GroupAction::Add { group, contact } => {
            let done =
                format!("added {contact} to @{group}; it joins once it has this node as a contact");
            let req = Request::GroupAdd {
                group,
                member: contact,
            };
            (req, Some(done))
        }
        GroupAction::Remove { group, contact } => {
            let done = format!("removed {contact} from @{group}; the group's keys are replaced");
            let req = Request::GroupRemove {
                group,
                member: contact,
            };
            (req, Some(done))
        }
        GroupAction::List => (Request::GroupList, None),
        GroupAction::Members { group } => (Request::GroupMembers { group }, None),
    };
    match (ask(data_dir, json, &req).await?, done) {
        (Some(_), Some(done)) => println!("{done}"),
        (Some(Response::Groups { groups }), None) => print!("{}", text::groups(&groups)),
        (Some(Response::GroupMembers { group, members }), None) => {
            print!("{}", text::group_members(&group, &members));
        }
        _ => {}
    }
    Ok(())
}

/// Runs the command; errors carry the exit code they map to.
pub(crate) async fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let data_dir: PathBuf = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    let json = cli.json;
    match cli.command {
        Command::Init { passphrase } => {
            let pass = crate::keys::passphrase(&passphrase, true)?;
            let secrets = crate::keys::init(&data_dir, &pass, &KdfParams::DEFAULT)?;
            println!("created identity in {}", data_dir.display());
            println!("address: {}", secrets.identity().address());
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
            let mut config = crate::daemon::load_config(cli.config.as_deref(), &data_dir)?;
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
            crate::daemon::run(data_dir, config, secrets, new_database).await?;
        }
        Command::Id { qr } => {
            if let Some(Response::Id { address, node_id }) =
                ask(&data_dir, json, &Request::Id).await?
            {
                println!("{address}");
                println!("node id: {node_id}");
                if qr {
                    println!("{}", text::qr_code(address.as_bytes())?);
                }
            }
        }
        Command::Contacts { command } => match command {
            ContactsCommand::Add { name, address } => {
                let req = Request::ContactsAdd {
                    name: name.clone(),
                    address,
                };
                ask(&data_dir, false, &req).await?;
                println!(
                    "added {name}; compare safety numbers with `tacnode contacts verify {name}`"
                );
            }
            ContactsCommand::List => {
                if let Some(Response::Contacts { contacts }) =
                    ask(&data_dir, json, &Request::ContactsList).await?
                {
                    print!("{}", text::contacts(&contacts));
                }
            }
            ContactsCommand::Remove { name } => {
                let req = Request::ContactsRemove { name: name.clone() };
                ask(&data_dir, false, &req).await?;
                println!("removed {name}");
            }
            ContactsCommand::Verify { name, confirm, qr } => {
                let req = Request::ContactsVerify { name, confirm };
                if let Some(r) = ask(&data_dir, json, &req).await? {
                    print!("{}", text::safety_number(&r, qr)?);
                }
            }
        },
        Command::Send {
            to,
            text: Some(text),
            ..
        } => {
            if let Some(Response::Queued { message_id }) =
                ask(&data_dir, json, &Request::Send { to, text }).await?
            {
                println!("queued {message_id}");
            }
        }
        Command::Send { to, text: None, .. } => {
            let lines = read_stdin_messages()?;
            let mut c = ControlClient::connect(&data_dir).await?;
            let mut print = |id: &str| println!("queued {id}");
            let max = crate::node::MAX_SEND_BATCH;
            let queued = tacnode_control::send_many(&mut c, &to, &lines, max, &mut print).await?;
            eprintln!("queued {queued} messages");
        }
        Command::Inbox { follow, limit } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let (out, now) = (&mut std::io::stdout(), || crate::node::now().0);
            tacnode_control::write_inbox(&mut c, follow, limit, json, out, &now).await?;
        }
        Command::Chat { contact } => match tacnode_chat::run(&data_dir, contact).await {
            Err(tacnode_chat::ChatError::Connect(e)) => return Err(e.into()),
            other => other.map_err(anyhow::Error::from)?,
        },
        Command::Peers { watch: false } => {
            if let Some(Response::Peers {
                peers,
                routing_table_size,
            }) = ask(&data_dir, json, &Request::Peers).await?
            {
                let table = peers_table(&peers, routing_table_size);
                tacnode_control::write_line(&mut std::io::stdout(), table.trim_end_matches('\n'))?;
            }
        }
        Command::Peers { watch: true } => {
            let output = match (json, std::io::stdout().is_terminal()) {
                (true, _) => WatchOutput::Json,
                (false, true) => WatchOutput::Terminal,
                (false, false) => WatchOutput::Pipe,
            };
            let (out, stop) = (&mut std::io::stdout(), tokio::signal::ctrl_c());
            tacnode_control::watch_peers(&data_dir, output, out, &peers_table, stop).await?;
        }
        Command::Outbox {
            action: Some(action),
        } => {
            let (req, done) = match action {
                OutboxAction::Cancel { id } => (Request::OutboxCancel { id }, "cancelled"),
                OutboxAction::Retry { id } => (Request::OutboxRetry { id }, "retrying now"),
            };
            if ask(&data_dir, json, &req).await?.is_some() {
                println!("{done}");
            }
        }
        Command::SendFile {
            contact,
            path,
            no_wait,
        } => return crate::files::send_file(&data_dir, json, &contact, &path, no_wait).await,
        Command::Files {
            action: Some(FilesAction::Cancel { id }),
            ..
        } => {
            if let Some(Response::File(f)) =
                ask(&data_dir, json, &Request::FilesCancel { id }).await?
            {
                println!(
                    "cancelled {}",
                    text::file_line(&f, crate::node::now().0).trim_start()
                );
            }
        }
        Command::Files {
            action: None,
            watch: true,
        } => crate::files::watch(&data_dir, json).await?,
        Command::Files {
            action: None,
            watch: false,
        } => {
            if let Some(Response::Files { transfers }) =
                ask(&data_dir, json, &Request::Files).await?
            {
                print!("{}", text::files(&transfers, crate::node::now().0));
            }
        }
        Command::Outbox { action: None } => {
            if let Some(Response::Outbox { entries }) =
                ask(&data_dir, json, &Request::Outbox).await?
            {
                print!("{}", text::outbox(&entries, crate::node::now().0));
            }
        }
        Command::Admin { action } => crate::admin::run(action, &data_dir)?,
        Command::Member {
            action: MemberAction::Import { file },
        } => crate::admin::import_certificate(&data_dir, &file)?,
        Command::Member {
            action: MemberAction::Revocations { file },
        } => {
            // Read here: a bad file is named before the daemon is asked.
            tacnode_admin::read_revocation_list(&file)?;
            let text = std::fs::read_to_string(&file)?;
            if let Some(Response::Revocations {
                sequence,
                newly_revoked,
            }) = ask(&data_dir, json, &Request::Revocations { text }).await?
            {
                println!(
                    "revocation list {sequence} applied and published: {newly_revoked} members newly revoked"
                );
            }
        }
        Command::Group { action } => group(&data_dir, json, action).await?,
        Command::Announce {
            text,
            service,
            detail,
            hours,
        } => {
            let (req, done) = match (text, service) {
                (_, Some(name)) => (
                    Request::Advertise {
                        name,
                        detail,
                        hours,
                    },
                    "service advertised to every node",
                ),
                (text, None) => (
                    Request::Announce {
                        text: text.unwrap_or_default(),
                    },
                    "alert announced to every node",
                ),
            };
            if ask(&data_dir, json, &req).await?.is_some() {
                println!("{done}");
            }
        }
        Command::Services => {
            if let Some(Response::Services { services }) =
                ask(&data_dir, json, &Request::Services).await?
            {
                print!("{}", text::services(&services, crate::node::now().0));
            }
        }
        Command::Status => {
            if let Some(r) = ask(&data_dir, json, &Request::Status).await? {
                print!("{}", text::status(&r, crate::node::now().0));
            }
        }
        Command::Export { passphrase, file } => {
            let pass = crate::keys::passphrase(&passphrase, false)?;
            let secrets = crate::keys::unlock(&data_dir, &pass)?;
            let store = open_store(&data_dir, &secrets)?;
            let own = secrets.identity().address();
            let summary = if file.as_os_str() == "-" {
                store.export_history_file(&own, &mut std::io::stdout().lock())?
            } else {
                let created = tacnode_store::create_history_file(&file)?;
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
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "tacnode", &mut std::io::stdout());
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
        }
        Command::Demo { nodes } => return Ok(crate::demo::run(nodes).await?),
    }
    Ok(ExitCode::SUCCESS)
}

/// `tacnode peers`: the table, times in the local time zone.
fn peers_table(peers: &[PeerView], routing_table_size: usize) -> String {
    let now = crate::node::now().0;
    let local = |t| tacnode_chat::system_local_time(t, now);
    text::peers_table(peers, routing_table_size, now, &local)
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
