//! Runs one parsed command.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tacnode_crypto::keystore::KdfParams;

use crate::cli::{Cli, Command, ContactsCommand, LogFormatArg, NodeTypeArg};
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

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs `cli`.
pub(crate) async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let data_dir: PathBuf = cli.data_dir.clone().unwrap_or_else(default_data_dir);
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
                b.parse::<crate::config::BootstrapPeer>()
                    .with_context(|| format!("--bootstrap {b:?}"))?;
                config.bootstrap.peers.push(b);
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
            init_logging(&config);
            daemon(data_dir, config, secrets).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Id { qr } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            if let Response::Id { address, node_id } = c.call(&Request::Id).await? {
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
                    if let Response::Contacts { contacts } = c.call(&Request::ContactsList).await? {
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
                ContactsCommand::Verify { name, confirm, qr } => {
                    if let Response::SafetyNumber {
                        name,
                        digits,
                        qr_payload_hex,
                        verified,
                    } = c.call(&Request::ContactsVerify { name, confirm }).await?
                    {
                        println!("safety number with {name}:");
                        println!("  {digits}");
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
        Command::Send { to, text } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            if let Response::Queued { message_id } = c.call(&Request::Send { to, text }).await? {
                println!("queued {message_id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Inbox { follow, limit } => {
            let mut c = ControlClient::connect(&data_dir).await?;
            c.send(&Request::Inbox { follow, limit }).await?;
            let mut out = std::io::stdout();
            while let Some(r) = c.next().await? {
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
                        writeln!(out, "{} {arrow} {who} [{}] {text}", m.time_ms, m.status)?;
                        out.flush()?;
                    }
                    Response::End if !follow => break,
                    Response::End => {}
                    Response::Error { message } => bail!("{message}"),
                    _ => {}
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Peers => {
            let mut c = ControlClient::connect(&data_dir).await?;
            if let Response::Peers {
                connected,
                routing_table_size,
            } = c.call(&Request::Peers).await?
            {
                println!("routing table: {routing_table_size} contacts");
                println!("connected: {}", connected.len());
                for p in connected {
                    println!("  {p}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => {
            let mut c = ControlClient::connect(&data_dir).await?;
            let r = c.call(&Request::Status).await?;
            println!("{}", serde_json::to_string_pretty(&r)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { passphrase, file } => {
            let pass = crate::keys::passphrase(&passphrase, false)?;
            let secrets = crate::keys::unlock(&data_dir, &pass)?;
            let store = open_store(&data_dir, &secrets)?;
            let own = secrets.identity().address();
            let n = if file.as_os_str() == "-" {
                crate::history::export(&store, &own, &mut std::io::stdout().lock())?
            } else {
                let mut f = std::io::BufWriter::new(
                    std::fs::File::create(&file)
                        .with_context(|| format!("cannot create {}", file.display()))?,
                );
                crate::history::export(&store, &own, &mut f)?
            };
            eprintln!("exported {n} messages");
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { passphrase, file } => {
            let pass = crate::keys::passphrase(&passphrase, false)?;
            let secrets = crate::keys::unlock(&data_dir, &pass)?;
            let mut store = open_store(&data_dir, &secrets)?;
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let (inserted, skipped) =
                crate::history::import(&mut store, &mut std::io::BufReader::new(f))?;
            println!("imported {inserted} messages, skipped {skipped} already present");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { nodes } => crate::demo::run(nodes).await,
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
    let key = tacnode_store::StorageKey::from_bytes(*secrets.storage_key().as_bytes());
    tacnode_store::Store::open(&path, key).context("cannot open the database")
}

/// The daemon: node, control socket, until SIGINT or SIGTERM.
async fn daemon(
    data_dir: PathBuf,
    config: Config,
    secrets: tacnode_crypto::keystore::KeystoreSecrets,
) -> Result<()> {
    let node = Node::start(NodeSettings {
        data_dir: data_dir.clone(),
        config,
        secrets,
    })
    .await?;
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
